"""No traceback on the terminal: an exception nobody caught becomes one plain line in a dialog, and its traceback
goes to the log file.

PySide6 hands an exception raised in a slot or an event handler to ``sys.excepthook`` and carries on; Python
hands one that ends a thread to ``threading.excepthook``. :class:`ErrorReporter` takes both (and the warnings and
records of the ``nnstudio`` loggers, which Python would otherwise print), writes the traceback to
``<app data>/log/nnstudio.log`` and shows a non-modal message box -- "Something went wrong: ValueError: ..." with
the traceback under Details -- so the window stays usable. The same failure repeated (a paint handler that fails
at every repaint) shows one box, and at most :data:`MAX_DIALOGS` are open at a time; every one is logged.

    reporter = ErrorReporter(); reporter.install()   # run_app does this; tests install their own and uninstall

A limit of the binding: for an exception in a Python override of a Qt virtual function (``paintEvent``,
``mousePressEvent``) called from the event loop, shiboken itself writes one line of context ("Error calling Python
override of ...") to the C-level stderr before the hook runs; the traceback still goes only to the log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QStandardPaths, Qt, QThread, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from nnstudio.ui.safe_text import message_box, one_line

LOG_NAME = "nnstudio.log"
MAX_LOG_BYTES = 2_000_000  # then the log is renamed to nnstudio.log.1 (one old copy is kept)
MAX_DIALOGS = 3
LOGGERS = ("nnstudio", "py.warnings")  # records that go to the log file instead of the terminal


def log_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "log"


def reason(exc: BaseException | None, exc_type: type | None = None) -> str:
    """One plain line for an exception: its type and the first line of its message."""
    kind = (exc_type or type(exc)).__name__
    if isinstance(exc, MemoryError) or kind == "MemoryError":
        return "the computer ran out of memory (MemoryError)"
    try:
        text = str(exc).strip() if exc is not None else ""
    except Exception:  # noqa: BLE001 - an exception whose str() fails
        text = ""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return f"{kind}: {one_line(first, 240)}" if first else kind


class _LogHandler(logging.Handler):
    """Log records (with their tracebacks) appended to the reporter's log file."""

    def __init__(self, reporter: "ErrorReporter") -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter
        self.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.write_log(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


class ErrorReporter(QObject):
    """Signals: ``reported(line, details)`` on the GUI thread for every uncaught exception."""

    reported = Signal(str, str)
    _relay = Signal(str, str)  # from another thread to the GUI thread (queued)

    def __init__(self, folder: str | Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder) if folder is not None else log_folder()
        self.dialogs: list[QMessageBox] = []
        self.count = 0  # exceptions reported
        self._lock = threading.Lock()
        self._showing = False
        self._installed = False
        self._previous: tuple[Any, Any] | None = None
        self._handler = _LogHandler(self)
        self._loggers: list[logging.Logger] = []
        self._captured_warnings = False
        self._relay.connect(self._show, Qt.ConnectionType.QueuedConnection)

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    # -- installing ----------------------------------------------------------------------------------------
    def install(self) -> "ErrorReporter":
        if self._installed:
            return self
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self._handler)
            self._loggers.append(logger)
        self._captured_warnings = True
        logging.captureWarnings(True)
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        if sys.excepthook == self.excepthook and self._previous is not None:
            sys.excepthook = self._previous[0]
        if threading.excepthook == self.thread_excepthook and self._previous is not None:
            threading.excepthook = self._previous[1]
        for logger in self._loggers:
            logger.removeHandler(self._handler)
        self._loggers = []
        if self._captured_warnings:
            logging.captureWarnings(False)
            self._captured_warnings = False
        self._installed = False

    # -- the hooks -----------------------------------------------------------------------------------------
    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt) and self._previous is not None:
            self._previous[0](exc_type, exc, tb)  # the person's own Ctrl+C
            return
        self.report(exc_type, exc, tb)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = getattr(args.thread, "name", "") if args.thread is not None else ""
        self.report(args.exc_type, args.exc_value, args.exc_traceback, where=f"thread {name}")

    def report(self, exc_type: type[BaseException], exc: BaseException | None, tb: Any, where: str = "") -> str:
        """Log the traceback and show the line (from any thread; the dialog always opens on the GUI thread).
        Never raises: a failure while reporting a failure is dropped."""
        try:
            line = reason(exc, exc_type)
            try:
                details = "".join(traceback.format_exception(exc_type, exc, tb))
            except Exception:  # noqa: BLE001
                details = line
            self.write_log(f"uncaught exception{' in ' + where if where else ''}\n{details}")
            app = QApplication.instance()
            if app is not None and QThread.currentThread() is app.thread():
                self._show(line, details)
            else:
                self._relay.emit(line, details)
            return line
        except BaseException:  # noqa: BLE001 - never let the hook itself print a traceback
            return ""

    def write_log(self, text: str) -> None:
        """Append ``text`` with a time stamp to the log file (never raises)."""
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.log_path
                with contextlib.suppress(OSError):
                    if path.stat().st_size > MAX_LOG_BYTES:
                        path.replace(path.with_name(LOG_NAME + ".1"))
                with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
                    f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n{text.rstrip()}\n")
            except (OSError, ValueError):
                pass

    # -- the dialog ----------------------------------------------------------------------------------------
    def _show(self, line: str, details: str) -> None:
        self.count += 1
        if self._showing:  # an exception while the dialog is being built: logged, not shown
            return
        self._showing = True
        try:
            self.reported.emit(line, details)
            self.dialogs = [d for d in self.dialogs if shiboken6.isValid(d)]  # a parent closed may have taken some
            if len(self.dialogs) >= MAX_DIALOGS or any(d.property("line") == line for d in self.dialogs):
                return
            box = message_box(_parent_window(), QMessageBox.Icon.Critical, "NN Studio",
                              f"Something went wrong: {line}",
                              f"NN Studio is still running; save your work to be safe. "
                              f"The details were written to {self.log_path}.", details)
            box.setObjectName("errorReport")
            box.setProperty("line", line)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.finished.connect(lambda _result, box=box: self._forget(box))
            self.dialogs.append(box)
            box.show()
        except Exception:  # noqa: BLE001 - showing the report must not become a second failure
            pass
        finally:
            self._showing = False

    def _forget(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)

    def close_dialogs(self) -> None:
        for box in list(self.dialogs):
            if shiboken6.isValid(box):
                box.close()
        self.dialogs = []


def _parent_window() -> QWidget | None:
    """The main window (never another report: closing that one would take this one with it)."""
    windows = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.objectName() == "MainWindow"]
    active = QApplication.activeWindow()
    if active is not None and active in windows:
        return active
    return windows[0] if windows else None


__all__ = ["ErrorReporter", "log_folder", "reason"]
