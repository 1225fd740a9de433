"""How the caller steers a running training (pause, resume, stop) and hears from it (callbacks).

The engine knows nothing of threads or Qt: a GUI worker thread holds the same ``ControlToken`` and calls
``pause`` / ``stop`` from the GUI thread; the engine checks it before every step.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnstudio.core.training.reports import (
        ActivationReport,
        BoundaryReport,
        EpochReport,
        LayerReport,
        StepReport,
        TrainResult,
    )


class ControlToken:
    """Thread-safe pause / resume / stop flags. Each takes effect before the next training step."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused training must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; True when running (or stopped), False if ``timeout`` ran out while paused."""
        return self._running.wait(timeout)


class Callback:
    """Receives what training reports. Override what you need; every method is called on the training thread,
    so a GUI copies what it needs and returns at once (the reports already hold copies, never live tensors)."""

    def on_start(self, info: dict[str, Any]) -> None: ...

    def on_step(self, report: "StepReport") -> None: ...

    def on_epoch(self, report: "EpochReport") -> None: ...

    def on_layers(self, report: "LayerReport") -> None: ...

    def on_activations(self, report: "ActivationReport") -> None: ...

    def on_boundary(self, report: "BoundaryReport") -> None: ...

    def on_end(self, result: "TrainResult") -> None: ...


def emit(callbacks: list[Callback], event: str, *args: Any) -> None:
    """Call method ``event`` (e.g. "on_step") of every callback, in order."""
    for cb in callbacks:
        getattr(cb, event)(*args)
