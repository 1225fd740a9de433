"""Starting the desktop app: ``run_app(argv)`` is what ``nnstudio [FILE]`` calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from nnstudio import __version__
from nnstudio.core import tempfiles
from nnstudio.ui.error_report import ErrorReporter
from nnstudio.ui.main_window import MainWindow
from nnstudio.ui.theme import app_icon, apply_theme

ORGANIZATION = "NNStudio"
APPLICATION = "nnstudio"


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


def start(window: MainWindow, files: Sequence[str] = ()) -> None:
    """Show the window, open the first file given (a bad one is reported and the app stays empty) and offer
    the autosaved copy a crashed session left behind."""
    tempfiles.sweep([*window.recent.paths(), window.autosaver.folder])  # what interrupted saves left
    window.show()
    if files:
        window.load_file(files[0])
    window.offer_recovery()


def _fit_to_screen(window: MainWindow) -> None:
    if window.settings.value("window/geometry") is not None:
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


def run_app(argv: Sequence[str]) -> int:
    """Run the app until its window closes; returns the exit code."""
    created = QApplication.instance() is None
    app = make_app(argv)
    reporter = ErrorReporter(parent=app).install()  # an uncaught exception: a dialog and the log, no traceback
    args = app.arguments()[1:] if created else list(argv)  # Qt has removed its own options (-style ...)
    files = [a for a in args if not a.startswith("-")]
    window = MainWindow(QSettings())
    app.installEventFilter(FileOpenFilter(window))
    _fit_to_screen(window)
    start(window, [str(Path(f)) for f in files])
    code = int(app.exec())
    reporter.uninstall()
    return code
