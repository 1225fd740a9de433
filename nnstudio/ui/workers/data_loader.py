"""Loading a dataset off the GUI thread, for the dataset panel's preview.

A large imported CSV or image folder can take seconds to read; the window must not freeze meanwhile.
``DataLoader.load(config, base_dir)`` returns a request number at once and later emits ``loaded(number,
Dataset)`` or ``failed(number, message)`` on the GUI thread. Requests run one at a time on one thread of the
loader's own pool; a request superseded by a newer one before it starts is skipped, and the receiver ignores a
result whose number is not its latest request.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from nnstudio.core.data.registry import load_dataset
from nnstudio.core.errors import NNStudioError

log = logging.getLogger(__name__)


def load_message(exc: BaseException) -> str:
    """The plain words shown when the data cannot be loaded."""
    if isinstance(exc, NNStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory reading the data"
    return f"the data could not be read ({type(exc).__name__}: {exc})"


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from the pool thread reach its receivers there (queued)."""

    loaded = Signal(int, object)
    failed = Signal(int, str)


class _LoadTask(QRunnable):
    def __init__(self, loader: "DataLoader", number: int, config: dict[str, Any], base_dir: Path | None) -> None:
        super().__init__()
        self.loader, self.number, self.config, self.base_dir = loader, number, config, base_dir

    def run(self) -> None:  # on the pool's thread
        if self.number != self.loader.latest:
            return  # a newer request came before this one started
        try:
            data = load_dataset(self.config, base_dir=self.base_dir)
        except BaseException as exc:  # noqa: BLE001 - a broken file must not break the panel (or the thread)
            if not isinstance(exc, NNStudioError):
                log.warning("loading the dataset failed", exc_info=True)
            self._send("failed", load_message(exc))
            return
        self._send("loaded", data)

    def _send(self, signal: str, value: Any) -> None:
        try:
            getattr(self.loader.relay, signal).emit(self.number, value)
        except RuntimeError:  # the panel (and its loader) closed meanwhile: nobody to tell
            pass


class DataLoader(QObject):
    """``load`` a dataset configuration in the background; ``loaded`` / ``failed`` say how it went."""

    loaded = Signal(int, object)  # request number, Dataset
    failed = Signal(int, str)  # request number, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest = 0
        # The pool first: Qt deletes children in the order they were made, so on closing the pool waits for a
        # running load before the relay it reports to is gone.
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.relay = _Relay(self)
        self.relay.loaded.connect(self.loaded)
        self.relay.failed.connect(self.failed)

    def load(self, config: dict[str, Any], base_dir: str | Path | None = None) -> int:
        """Start loading a copy of ``config``; the request number that ``loaded`` / ``failed`` will carry."""
        self.latest += 1
        task = _LoadTask(self, self.latest, dict(config), Path(base_dir) if base_dir is not None else None)
        task.setAutoDelete(True)
        self.pool.start(task)
        return self.latest

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until no load runs (closing, tests); True when done in time."""
        return self.pool.waitForDone(timeout_ms)
