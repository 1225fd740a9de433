"""File > Export...: the helper asks through a patched dialog, writes each format and reports problems."""

from __future__ import annotations

import importlib.util

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget
from safetensors.torch import load_file

from nnstudio.core.errors import ExportError
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.model import Project
from nnstudio.ui import export_dialog
from nnstudio.ui.export_dialog import FILTERS, export_project_interactively, resolve_target

HAVE_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))


class Dialogs:
    """Stands in for the save dialog and the message boxes; records what was asked and shown."""

    def __init__(self, monkeypatch, answer: str, chosen_filter: str | None = None) -> None:
        self.answer, self.chosen_filter = answer, chosen_filter
        self.asked: list[tuple[str, str, str]] = []
        self.messages: list[tuple[QMessageBox.Icon, str, str, str]] = []
        monkeypatch.setattr(export_dialog, "ask_export_path", self.ask)
        monkeypatch.setattr(export_dialog, "show_message", self.show)

    def ask(self, parent, suggested, filters, selected):
        self.asked.append((suggested, filters, selected))
        return self.answer, (self.chosen_filter or selected) if self.answer else ""

    def show(self, parent, icon, title, text, details=""):
        self.messages.append((icon, title, text, details))


@pytest.fixture
def parent(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def spiral() -> Project:
    return EXAMPLES["spiral_mlp"]()


def test_writes_a_python_script(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.py"))
    result = export_project_interactively(parent, spiral, "Spiral MLP", start_dir=tmp_path)
    assert result is not None and result.format == "py" and result.path == tmp_path / "net.py"
    text = (tmp_path / "net.py").read_text(encoding="utf-8")
    compile(text, "net.py", "exec")
    assert "import nnstudio" not in text
    suggested, filters, selected = dialogs.asked[0]
    assert suggested == str(tmp_path / "spiral_mlp.py")
    assert filters.split(";;") == list(FILTERS.values()) and selected == FILTERS["py"]
    assert dialogs.messages == []  # nothing to warn about


def test_writes_weights_and_warns_that_they_are_untrained(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.safetensors"))
    result = export_project_interactively(parent, spiral, "spiral")
    assert result is not None and result.format == "safetensors"
    tensors = load_file(str(tmp_path / "net.safetensors"))
    assert {"dense_1.weight", "dense_3.bias"} <= set(tensors)
    assert len(dialogs.messages) == 1
    icon, _title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Warning and "net.safetensors" in text and "not trained" in details


def test_weights_trained_on_an_earlier_network_are_exported_with_a_warning(parent, spiral, tmp_path, monkeypatch):
    from nnstudio.core.weights_status import EXPORT_OUT_OF_DATE

    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.safetensors"))
    assert export_project_interactively(parent, spiral, "spiral", weights_status="out_of_date") is not None
    assert EXPORT_OUT_OF_DATE in dialogs.messages[-1][3]
    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.py"))  # the script carries no weights: nothing to say
    assert export_project_interactively(parent, spiral, "spiral", weights_status="out_of_date") is not None
    assert dialogs.messages == []


@pytest.mark.skipif(not HAVE_ONNX, reason="ONNX export needs the onnx extra (pip install nnstudio[onnx])")
def test_writes_onnx(parent, spiral, tmp_path, monkeypatch):
    Dialogs(monkeypatch, str(tmp_path / "net.onnx"))
    result = export_project_interactively(parent, spiral, "spiral")
    assert result is not None and result.format == "onnx"
    assert (tmp_path / "net.onnx").stat().st_size > 0


def test_the_chosen_file_type_adds_its_extension(parent, spiral, tmp_path, monkeypatch):
    Dialogs(monkeypatch, str(tmp_path / "weights"), chosen_filter=FILTERS["safetensors"])
    result = export_project_interactively(parent, spiral, "spiral")
    assert result is not None and result.path == tmp_path / "weights.safetensors"
    assert result.path.is_file()


def test_resolve_target_extension_wins_over_the_file_type(tmp_path):
    assert resolve_target(tmp_path / "a.PY", FILTERS["onnx"]) == (tmp_path / "a.PY", "py")
    assert resolve_target(tmp_path / "a.txt", FILTERS["py"]) == (tmp_path / "a.txt.py", "py")
    assert resolve_target(tmp_path / "a", "something else") == (tmp_path / "a.py", "py")


def test_cancel_writes_nothing_and_says_nothing(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, "")
    assert export_project_interactively(parent, spiral, "spiral", start_dir=tmp_path) is None
    assert dialogs.messages == [] and list(tmp_path.iterdir()) == []


def test_an_export_error_is_shown(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.py"))

    def failing(project, path, fmt=None):
        raise ExportError("the layer Foo has no PyTorch equivalent")

    monkeypatch.setattr(export_dialog, "export", failing)
    assert export_project_interactively(parent, spiral, "spiral") is None
    icon, title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Critical and title == "Export failed"
    assert "net.py" in text and details == "the layer Foo has no PyTorch equivalent"
    assert not (tmp_path / "net.py").exists()


def test_a_network_that_cannot_be_built_is_shown(parent, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "empty.py"))
    assert export_project_interactively(parent, Project(), "") is None
    icon, _title, _text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Critical and "no Input node" in details
    assert dialogs.asked[0][0] == "model.py"  # no name: a usable default
    assert not (tmp_path / "empty.py").exists()


def test_an_unwritable_folder_is_shown(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "missing" / "net.safetensors"))
    assert export_project_interactively(parent, spiral, "spiral") is None
    icon, _title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Critical and "missing" in text and details
