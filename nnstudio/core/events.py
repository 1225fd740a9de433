"""A tiny observer: the model emits, views subscribe."""

from __future__ import annotations

from typing import Any, Callable


class Event:
    """A list of callbacks called in connection order by :meth:`emit`."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._handlers: list[Callable[..., Any]] = []

    def connect(self, handler: Callable[..., Any]) -> None:
        if handler not in self._handlers:
            self._handlers.append(handler)

    def disconnect(self, handler: Callable[..., Any]) -> None:
        try:
            self._handlers.remove(handler)
        except ValueError:
            pass

    def emit(self, *args: Any) -> None:
        for handler in list(self._handlers):
            handler(*args)

    def __len__(self) -> int:
        return len(self._handlers)
