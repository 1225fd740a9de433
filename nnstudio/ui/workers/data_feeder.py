"""Feeding the session its data: whenever ``session.data_state`` is "needed", the :class:`DataFeeder` loads
``session.dataset`` (relative paths from ``session.base_dir``) off the GUI thread with a :class:`DataLoader`
and tells the session how it went, with the key it loaded for (the session ignores an answer for a key that
is no longer current). Nobody else in the window loads the project's dataset.

The start waits for the event loop (a 0-ms timer), so a burst of edits loads once; a new "needed" cancels the
load before it. ``cancel()`` stops the load at once (the session hears ``data_cancelled`` before it returns),
``reload()`` asks the session for the data again, and ``shutdown()`` cancels and stops listening without
waiting for a read, even one stuck in the operating system.
"""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from nnstudio.core.session_state import DataKey
from nnstudio.ui.workers.data_loader import DataLoader

_WATCHED = ("project_replaced", "data_changed")


class DataFeeder(QObject):
    """Loads the session's data when it needs them; ``progress(done, total, what)`` while a load reads (total
    0: not known), ``busy_changed(bool)`` when a load starts or ends."""

    progress = Signal(int, int, str)
    busy_changed = Signal(bool)

    def __init__(self, session: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loader = DataLoader(self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.cancelled.connect(self._cancelled)
        self.loader.progress.connect(self._progress)
        self._number = 0  # the loader's request being awaited (0: none)
        self._key: DataKey | None = None  # what that request loads
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._start)
        self._handlers = {name: self._changed for name in _WATCHED}
        for name, handler in self._handlers.items():
            getattr(session, name).connect(handler)
        # Deleted before the session: it must not call a feeder that is gone.
        self.destroyed.connect(functools.partial(_disconnect, session, self._handlers))
        self._changed()

    @property
    def busy(self) -> bool:
        """A load is reading and its answer is still to come."""
        return self._number != 0

    def cancel(self) -> None:
        """Stop the load now (or the one about to start): the session hears ``data_cancelled``."""
        if self.timer.isActive():
            self.timer.stop()
            if self.session.data_key is not None and self.session.data_state == "needed":
                self.session.data_cancelled(self.session.data_key)
        if self._number:
            number = self._number
            self.loader.cancel()  # answers through _cancelled before it returns
            self._cancelled(number)  # (in case the loader had nothing left to answer)

    def reload(self) -> None:
        """Read the data again (after a cancel, or a file changed on disk)."""
        self.session.reload_data()
        self._changed()

    def shutdown(self) -> None:
        """Cancel what reads and stop listening to the session (the window closes); never waits."""
        self.timer.stop()
        _disconnect(self.session, self._handlers)
        self.loader.shutdown()
        self._finish()

    # -- inside ----------------------------------------------------------------------------------------------
    def _changed(self, _value: Any = None) -> None:
        state = self.session.data_state
        if state == "needed":
            self.timer.start()  # once the burst of edits is over
        elif state != "loading" and self._number:
            self.timer.stop()
            self.loader.shutdown()  # nothing to load any more (no dataset, a bad config): no answer is wanted
            self._finish()

    def _start(self) -> None:
        key = self.session.data_key
        if key is None or self.session.data_state != "needed":
            return
        was_busy = self._number != 0
        self._number = self.loader.load(self.session.dataset, self.session.base_dir)  # cancels the one before
        self._key = key
        if not was_busy:
            self.busy_changed.emit(True)
        self.session.data_loading(key)

    def _finish(self) -> DataKey | None:
        key, was_busy = self._key, self._number != 0
        self._number, self._key = 0, None
        if was_busy:
            self.busy_changed.emit(False)
        return key

    def _answer(self, number: int) -> DataKey | None:
        """The key an answer of the loader is for, or None when it is not the one awaited."""
        return self._finish() if number and number == self._number else None

    def _loaded(self, number: int, data: Any) -> None:
        key = self._answer(number)
        if key is not None:
            self.session.data_loaded(key, data)

    def _failed(self, number: int, message: str) -> None:
        key = self._answer(number)
        if key is not None:
            self.session.data_failed(key, message)

    def _cancelled(self, number: int) -> None:
        key = self._answer(number)
        if key is not None:
            self.session.data_cancelled(key)

    def _progress(self, number: int, done: int, total: int, what: str) -> None:
        if number == self._number:
            self.progress.emit(done, total, what)


def _disconnect(session: Any, handlers: dict[str, Any], *_args: Any) -> None:
    for name, handler in handlers.items():
        getattr(session, name).disconnect(handler)
