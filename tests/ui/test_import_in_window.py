"""File > Import Model… in the window: the dialog says a Python file will run, the model becomes a new unsaved
project with its weights and frames, and a model that cannot be imported is one message with the project kept."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox

from nnstudio.ui.import_dialog import ImportDialog, import_interactively

NET = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return x + torch.relu(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(), Block(), Block())
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.blocks(x))


class Bad(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv3d(1, 1, 1)

    def forward(self, x):
        return self.c(x)
"""


class Answered(ImportDialog):
    def exec(self):
        return QDialog.DialogCode.Accepted


def _dialog(qtbot, source, name="", shape=""):
    d = Answered()
    qtbot.addWidget(d)
    d.source.setText(source)
    d.model_name.setText(name)
    d.shape.setText(shape)
    return d


def test_the_dialog_says_a_python_file_runs_and_waits_for_its_shape(qtbot, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET, encoding="utf-8")
    d = _dialog(qtbot, str(path), "Net")
    ok = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert "runs the Python code in net.py" in d.warning.text() and not ok.isEnabled()
    d.shape.setText("6")
    assert ok.isEnabled() and d.source_text() == f"{path}:Net"
    d.model_name.setText("")
    assert "read as data" in d.warning.text()  # a script without a name: an exported one, never run


def test_an_imported_model_becomes_a_new_unsaved_project(window, qtbot, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET, encoding="utf-8")
    assert import_interactively(window, _dialog(qtbot, str(path), "Net", "6"))
    graph = window.document.graph
    assert window.document.path is None and window.document.modified
    assert len(graph.frames) == 3 and all(f.collapsed for f in graph.frames.values())
    assert window.session.project.weights is not None and window.session.weights_status == "current"
    assert "Imported Net" in window.statusBar().currentMessage()
    assert not window.document.undo_stack.canUndo()


def test_a_model_that_cannot_be_imported_is_one_message_and_the_project_stays(window, qtbot, tmp_path):
    errors = []
    window.show_error = lambda title, message: errors.append((title, message))
    before = window.document.project
    path = tmp_path / "net.py"
    path.write_text(NET, encoding="utf-8")
    assert not import_interactively(window, _dialog(qtbot, str(path), "Bad", "1,4,4"))
    assert errors and errors[0][0] == "Cannot import the model" and "Conv3d has no NN Studio layer" in errors[0][1]
    assert window.document.project is before
