"""Subscribing a view to the window's session (``core.session.Session``)."""

from __future__ import annotations

from typing import Any, Callable, Iterable


def rebind(old: Any, new: Any, handlers: Iterable[tuple[str, Callable[..., Any]]]) -> None:
    """Move ``handlers`` ((event name, handler) pairs) from session ``old`` (None: none yet) to ``new``."""
    for name, handler in handlers:
        if old is not None:
            getattr(old, name).disconnect(handler)
        getattr(new, name).connect(handler)
