"""Starting the desktop app: ``run_app(argv)`` is what ``nnstudio [FILE]`` calls.

A fast start. Importing torch and the editor takes seconds, so the app first shows a window that needs neither:
the start page (``start_page.py``: Qt and a few torch-free helpers only) in a :class:`FirstWindow`. Once that
has painted, :class:`EditorLoader` imports torch and the editor in a background thread while the GUI thread
keeps running its event loop. The thread runs nothing but imports and one shape inference of each example
(torch's first meta-device operations import half of torch): no Qt object is made there (the editor's modules
make none at import; a test checks it), the GUI thread imports nothing meanwhile, and the biggest library is
first mapped with ``dlopen`` through ctypes, which lets go of the GIL (Python's own dlopen holds it, for a
third of a second). When the thread is done, :class:`Launcher` builds the MainWindow on the GUI thread,
hands it the start page, the first window's geometry and whatever was clicked meanwhile (the last click counts:
its card says "Loading…" with a busy cursor until then), shows it and retires the first window.

``NNSTUDIO_REPORT_FIRST_PAINT=FILE`` (for ``benchmarks/startup.py``): when the first window has painted, write
``{"time": <time.time()>, "torch_imported": bool}`` to FILE and exit at once.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QWidget

from nnstudio import __version__
from nnstudio.ui.error_report import ErrorReporter
from nnstudio.ui.safe_text import message_box, one_line
from nnstudio.ui.recent import RecentFiles
from nnstudio.ui.start_page import EMPTY, OPEN, StartPage
from nnstudio.ui.theme import app_icon, apply_theme

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow

ORGANIZATION = "NNStudio"
APPLICATION = "nnstudio"
APP_NAME = "NN Studio"
FIRST_PAINT_VARIABLE = "NNSTUDIO_REPORT_FIRST_PAINT"
POLL_MS = 25  # how often the GUI thread looks whether the editor has loaded


def make_app(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication (created once), with the names QSettings and QStandardPaths use, the icon and theme."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "nnstudio", *argv])
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    QApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(APPLICATION)  # Wayland/X11 match the window to nnstudio.desktop
    app.setWindowIcon(app_icon())
    apply_theme(app)
    return app


def start(window: MainWindow, files: Sequence[str] = (), page: StartPage | None = None) -> None:
    """Show the window, open the first file given (a bad one is reported and the start page shows) and offer
    the autosaved copy a crashed session left behind. Without a file the window shows the start page
    (``page``: the one the first window showed, taken over)."""
    from nnstudio.core import tempfiles

    tempfiles.sweep([*window.recent.paths(), window.autosaver.folder])  # what interrupted saves left
    if not files:
        window.show_start_page(page)
    window.show()
    if files and not window.load_file(files[0]):
        window.show_start_page(page)
    window.offer_recovery()


def _fit_to_screen(window: QWidget, settings: QSettings) -> None:
    """A first run's size and place: most of the screen, centred (later runs restore the saved geometry)."""
    if settings.value("window/geometry") is not None:
        return
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    width, height = min(1400, int(area.width() * 0.92)), min(900, int(area.height() * 0.9))
    window.resize(width, height)
    window.move(area.center().x() - width // 2, area.center().y() - height // 2)


class FileOpenFilter(QObject):
    """Opens the files macOS hands over as QFileOpenEvents (double-click in Finder, drop on the Dock icon),
    which never arrive in argv."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen:
            path = event.file()
            if path:
                self.window.open_file(path)
            return True
        return False


# -- the first window and the loader -----------------------------------------------------------------------
def preload_torch_library() -> bool:
    """Map torch's largest library (libtorch_cpu) with the C library's ``dlopen`` called through ctypes, which
    releases the GIL while it runs, so that the GUI thread keeps running; the import of torch then finds it
    loaded. Linux and macOS; a place or platform where it cannot be done is skipped (torch loads it itself)."""
    if sys.platform not in ("linux", "darwin"):
        return False
    try:
        import ctypes
        import importlib.util

        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.origin:
            return False
        name = "libtorch_cpu.dylib" if sys.platform == "darwin" else "libtorch_cpu.so"
        path = Path(spec.origin).parent / "lib" / name
        if not path.is_file():
            return False
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        return bool(libc.dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL))
    except Exception:  # noqa: BLE001 - only a head start: torch's import does the real work
        return False


def import_editor(cancelled: threading.Event | None = None) -> None:
    """Everything the editor needs, heaviest first, then :func:`warm_up` (what the loader thread runs). Stops
    between steps once ``cancelled`` is set (the window was closed while loading)."""
    cancelled = cancelled or threading.Event()
    preload_torch_library()
    import torch  # noqa: F401

    if cancelled.is_set():
        return
    import nnstudio.ui.main_window  # noqa: F401
    import nnstudio.ui.training_controller  # noqa: F401  (MainWindow imports it when it is built)

    warm_up(cancelled)


def warm_up(cancelled: threading.Event | None = None) -> None:
    """Infer the shapes of each bundled example once. Torch's first operations on the meta device import and
    register much of torch (2-3 s on a small machine): done here, not on the GUI thread when the first project
    opens or the first layer is added. Qt-free; an example that fails is skipped."""
    from nnstudio.core.paths import EXAMPLES
    from nnstudio.core.project import load_project
    from nnstudio.core.shapes import infer_shapes

    for path in sorted(EXAMPLES.glob("*.nnstudio")):
        if cancelled is not None and cancelled.is_set():
            return
        try:
            infer_shapes(load_project(path, weights=False, history=False).graph)
        except Exception:  # noqa: BLE001 - a head start only
            continue


class EditorLoader:
    """Runs :func:`import_editor` in a daemon thread; ``done`` and ``error`` say how it went."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.seconds: float | None = None
        self.cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nnstudio-import", daemon=True)

    def _run(self) -> None:
        began = time.perf_counter()
        try:
            import_editor(self.cancelled)
        except BaseException as exc:  # noqa: BLE001 - told on the GUI thread, in a dialog
            self.error = exc
        self.seconds = time.perf_counter() - began

    def start(self) -> None:
        if not self._thread.is_alive() and self.seconds is None:
            self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    @property
    def done(self) -> bool:
        return self.started and not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self.started:
            self._thread.join(timeout)


class _PaintWatcher(QObject):
    """Calls back once after ``widget``'s first paint event (an event filter that goes when it has fired)."""

    def __init__(self, widget: QWidget, callback, fallback_ms: int) -> None:
        super().__init__(widget)
        self.callback = callback
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self, self._fire)
        return False

    def _fire(self) -> None:
        callback, self.callback = self.callback, None
        if callback is not None:
            self.parent().removeEventFilter(self)
            callback()


def after_first_paint(widget: QWidget, callback, fallback_ms: int = 1000) -> None:
    """Call ``callback`` once, when ``widget`` has painted (or after ``fallback_ms`` if it never does)."""
    _PaintWatcher(widget, callback, fallback_ms)


class FirstWindow(QMainWindow):
    """The window the app shows at once: the start page, and a status bar saying that the rest is loading.
    ``painted`` once it has painted for the first time; ``closed_by_user`` when the person closes it."""

    painted = Signal()
    closed_by_user = Signal()

    def __init__(self, page: StartPage, settings: QSettings) -> None:
        super().__init__()
        self.setObjectName("FirstWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setCentralWidget(page)
        self.page = page
        self.retiring = False
        file_menu = self.menuBar().addMenu("&File")
        for text, keys, slot in (("&New", QKeySequence.StandardKey.New, page.empty_chosen.emit),
                                 ("&Open…", QKeySequence.StandardKey.Open, page.open_chosen.emit),
                                 ("&Quit", QKeySequence("Ctrl+Q"), self.close)):  # as the editor's File menu
            if text == "&Quit":
                file_menu.addSeparator()
            action = file_menu.addAction(text)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
        self.statusBar().showMessage("Loading the editor…")
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            _fit_to_screen(self, settings)
        after_first_paint(self, self.painted.emit, fallback_ms=3000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.retiring:
            self.closed_by_user.emit()
        event.accept()


def report_first_paint(path: str) -> None:
    """Write when the first window painted (and whether torch was imported by then), and end the process."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"time": time.time(), "torch_imported": "torch" in sys.modules}, out)
    os._exit(0)


class Launcher(QObject):
    """Shows the first window, loads the editor behind it, then builds the MainWindow and hands over.

    ``pending`` is the last thing chosen on the start page before the editor was there (kind, argument), done
    as soon as it is; ``window`` is the MainWindow once built; ``ready`` says so."""

    ready = Signal(object)

    def __init__(self, files: Sequence[str] = (), settings: QSettings | None = None,
                 autosave_folder: Path | None = None) -> None:
        super().__init__()
        self.files = [str(Path(f)) for f in files]
        self.settings = settings if settings is not None else QSettings()
        self.autosave_folder = autosave_folder
        self.page = StartPage(RecentFiles(self.settings))
        self.first = FirstWindow(self.page, self.settings)
        self.loader = EditorLoader()
        self.window: MainWindow | None = None
        self.pending: tuple[str, str] | None = None
        self.quitting = False
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check)
        page = self.page
        page.example_chosen.connect(lambda path: self.request("example", path))
        page.recent_chosen.connect(lambda path: self.request("recent", path))
        page.empty_chosen.connect(lambda: self.request(EMPTY))
        page.open_chosen.connect(lambda: self.request(OPEN))
        page.guide_chosen.connect(lambda: self.request("guide"))
        self.first.painted.connect(self._first_painted)
        self.first.closed_by_user.connect(self._closed)
        if self.files:
            page.set_message(f"Opening {one_line(Path(self.files[0]).name)}…")

    def show(self) -> None:
        self.first.show()

    def request(self, kind: str, argument: str = "") -> None:
        """A choice made on the start page before the editor is there: kept (the last one wins) and shown."""
        if self.window is not None:
            self.window.start_page_choice(kind, argument)
            return
        self.pending = (kind, argument)
        self.page.set_busy(argument if kind in ("example", "recent") else kind if kind in (EMPTY, OPEN) else None)
        if kind == "guide":
            self.page.set_message("The guide opens as soon as NN Studio has loaded…")

    def _first_painted(self) -> None:
        path = os.environ.get(FIRST_PAINT_VARIABLE)
        if path:
            report_first_paint(path)
        self.loader.start()
        self._poll.start()

    def _closed(self) -> None:
        self.quitting = True
        self.loader.cancelled.set()
        self._poll.stop()

    def _check(self) -> None:
        if not self.loader.done or self.quitting:
            return
        self._poll.stop()
        if self.loader.error is not None:
            self._failed(self.loader.error)
            return
        self.build()

    def _failed(self, exc: BaseException) -> None:
        import logging

        logging.getLogger(__name__).error("The editor cannot be loaded", exc_info=exc)
        line = f"{type(exc).__name__}: {one_line(exc, 400)}"
        print(f"nnstudio: error: the desktop window cannot start ({line})", file=sys.stderr)
        message_box(self.first, QMessageBox.Icon.Critical, "NN Studio cannot start",
                    "Part of NN Studio could not be loaded, so the editor cannot open.",
                    f"{line}\n\nReinstalling NN Studio usually fixes this; the log has the details.").exec()
        self.first.retiring = True
        self.first.close()

    def build(self) -> MainWindow:
        """Build the MainWindow where the first window is, hand it the page and what was chosen, show it."""
        from nnstudio.ui.main_window import MainWindow

        for signal in (self.page.example_chosen, self.page.recent_chosen, self.page.empty_chosen,
                       self.page.open_chosen, self.page.guide_chosen):
            signal.disconnect()
        self.page.set_message("")
        window = MainWindow(self.settings, autosave_folder=self.autosave_folder)
        self.window = window
        QApplication.instance().installEventFilter(FileOpenFilter(window))
        self._take_place(window)
        start(window, self.files, self.page)
        after_first_paint(window, self._retire_first)  # no moment without a window on the screen
        if self.pending is not None:
            kind, argument = self.pending
            self.pending = None
            QTimer.singleShot(0, lambda: self._do(kind, argument))
        self.ready.emit(window)
        return window

    def _take_place(self, window: QWidget) -> None:
        """Put ``window`` exactly where the first window is now (moved, resized or maximised meanwhile)."""
        state = self.first.windowState()
        window.setWindowState(state)
        if not state & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            window.setGeometry(self.first.geometry())

    def _do(self, kind: str, argument: str) -> None:
        window = self.window
        if window is not None and window.isVisible():
            window.start_page_choice(kind, argument)
            if window.start_page is not None:
                window.start_page.set_busy(None)

    def _retire_first(self) -> None:
        if self.first.retiring:
            return
        self.first.retiring = True
        self.first.close()
        self.first.deleteLater()


class _QueueFileOpens(QObject):
    """Until the MainWindow exists: a macOS file-open event becomes the pending choice."""

    def __init__(self, launcher: Launcher) -> None:
        super().__init__(launcher)
        self.launcher = launcher

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and self.launcher.window is None:
            if event.file():
                self.launcher.request("recent", event.file())
            return True
        return False


def run_app(argv: Sequence[str]) -> int:
    """Run the app until its window closes; returns the exit code."""
    created = QApplication.instance() is None
    app = make_app(argv)
    reporter = ErrorReporter(parent=app).install()  # an uncaught exception: a dialog and the log, no traceback
    args = app.arguments()[1:] if created else list(argv)  # Qt has removed its own options (-style ...)
    files = [a for a in args if not a.startswith("-")]
    launcher = Launcher(files)
    queue = _QueueFileOpens(launcher)
    app.installEventFilter(queue)
    launcher.ready.connect(lambda _window: app.removeEventFilter(queue))
    launcher.show()
    code = int(app.exec())
    if launcher.loader.error is not None and launcher.window is None:
        code = 2
    launcher.loader.wait(60)  # closed while loading: let the imports finish before the interpreter ends
    reporter.uninstall()
    return code


