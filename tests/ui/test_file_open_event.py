"""macOS delivers a double-clicked .nnstudio file as a QFileOpenEvent: the app opens it."""

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFileOpenEvent

from nnstudio.core.paths import EXAMPLES
from nnstudio.ui.app import FileOpenFilter
from nnstudio.ui.main_window import MainWindow


def test_a_file_open_event_opens_the_project(qapp, qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), autosave_folder=tmp_path / "a")
    qtbot.addWidget(w)
    handler = FileOpenFilter(w)
    path = str(EXAMPLES / "residual_mlp.nnstudio")
    assert handler.eventFilter(qapp, QFileOpenEvent(path))
    assert w.document.path is not None and w.document.path.name == "residual_mlp.nnstudio"
    assert "add_1" in w.document.graph.nodes
