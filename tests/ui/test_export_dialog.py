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

    def failing(project, path, fmt=None, base_dir=None):
        raise ExportError("the layer Foo has no PyTorch equivalent")

    monkeypatch.setattr(export_dialog, "export", failing)
    assert export_project_interactively(parent, spiral, "spiral") is None
    icon, title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Critical and title == "Export failed"
    assert "net.py" in text and details == "the layer Foo has no PyTorch equivalent"
    assert not (tmp_path / "net.py").exists()


def test_a_network_with_problems_is_listed_before_any_file_is_asked_for(parent, spiral, tmp_path, monkeypatch):
    """One message, one line per problem, on the layer's name; no file dialog, nothing written."""
    dialogs = Dialogs(monkeypatch, str(tmp_path / "net.py"))
    graph = spiral.graph
    dense = next(n for n in graph.nodes.values() if n.type_id == "dense")
    graph.set_label(dense.id, "hidden")
    dense.params["units"] = 0  # a bad value as a file may hold it
    output = next(n for n in graph.nodes.values() if n.type_id == "output")
    graph.disconnect(graph.inputs_of(output.id)[0])
    assert export_project_interactively(parent, spiral, "spiral", start_dir=tmp_path) is None
    assert dialogs.asked == [] and list(tmp_path.iterdir()) == []
    assert len(dialogs.messages) == 1
    icon, title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Warning and title == "Export" and details == ""
    head, _, listing = text.partition("\n\n")
    lines = listing.splitlines()
    assert head == f"The network cannot be exported yet. Fix these {len(lines)} problems first:"
    assert len(lines) >= 2 and all(line.startswith("• ") for line in lines)
    assert any(line.startswith("• hidden: Units must be at least 1") for line in lines), lines
    assert any("Output" in line or output.id in line for line in lines), lines


def test_an_empty_network_says_what_it_lacks_without_a_file_dialog(parent, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "empty.py"))
    assert export_project_interactively(parent, Project(), "") is None
    assert dialogs.asked == []
    icon, _title, text, _details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Warning and "Fix these 2 problems first" in text
    assert text.endswith("• the network has no Input node: add one from the Input/Output group\n"
                         "• the network has no Output node: add one after the last layer")
    assert not (tmp_path / "empty.py").exists()


def test_a_long_list_of_problems_is_cut(parent, monkeypatch):
    from nnstudio.core.graph import Graph

    dialogs = Dialogs(monkeypatch, "never asked")
    graph = Graph()
    for _ in range(20):
        graph.add_node("dense")  # unconnected layers: each has a problem
    assert export_project_interactively(parent, Project(graph=graph), "x") is None
    lines = dialogs.messages[0][2].split("\n\n", 1)[1].splitlines()
    assert len(lines) == export_dialog.MAX_LISTED + 1 and lines[-1].endswith("more: see the Problems panel")


def test_a_network_without_problems_is_not_held_up(spiral):
    assert export_dialog.export_problems(spiral) == []


def test_a_network_this_computer_cannot_hold_is_refused_before_the_file_dialog(parent, spiral, monkeypatch):
    from nnstudio.core import memory

    dialogs = Dialogs(monkeypatch, "never asked")

    def too_big(*_args, **_kwargs):
        raise memory.NotEnoughMemoryError("exporting needs 9 GB but this computer has 1 GB available")

    monkeypatch.setattr(memory, "check_fits", too_big)
    assert export_project_interactively(parent, spiral, "spiral") is None
    assert dialogs.asked == [] and "needs 9 GB" in dialogs.messages[0][2]


def test_an_unwritable_folder_is_shown(parent, spiral, tmp_path, monkeypatch):
    dialogs = Dialogs(monkeypatch, str(tmp_path / "missing" / "net.safetensors"))
    assert export_project_interactively(parent, spiral, "spiral") is None
    icon, _title, text, details = dialogs.messages[0]
    assert icon == QMessageBox.Icon.Critical and "missing" in text and details
