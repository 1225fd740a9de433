"""Two layers never share a name in the window: the inspector refuses a taken name with one line (there and in
the status bar), the rename command never reaches the undo stack, and pasted or duplicated layers get new
names."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from nnstudio.core.errors import GraphError  # noqa: E402
from nnstudio.core.graph import Graph  # noqa: E402
from nnstudio.ui.commands import SetLabelCommand, copy_nodes, paste_nodes  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402
from nnstudio.ui.panels.inspector import InspectorPanel  # noqa: E402


def named_graph() -> Graph:
    g = Graph()
    g.add_node("input_vector", node_id="input_vector_1")
    g.add_node("dense", node_id="dense_1", label="encoder")
    g.add_node("dense", node_id="dense_2")
    g.connect("input_vector_1", "dense_1")
    g.connect("dense_1", "dense_2")
    return g


def test_the_rename_command_refuses_a_taken_name(stack):
    g = named_graph()
    with pytest.raises(GraphError, match="another layer \\(dense_1\\) is already called “Encoder”"):
        SetLabelCommand(g, "dense_2", "Encoder")
    assert stack.count() == 0 and g.nodes["dense_2"].label == ""
    stack.push(SetLabelCommand(g, "dense_2", "decoder"))
    stack.undo()
    assert g.nodes["dense_2"].label == ""


def test_the_inspector_refuses_a_taken_name_in_one_line(qtbot, stack):
    g = named_graph()
    panel = InspectorPanel()
    panel.set_graph(g, stack)
    qtbot.addWidget(panel)
    panel.show()
    said: list[str] = []
    panel.status_message.connect(said.append)
    panel.show_node("dense_2")
    panel.label_edit.setText("  encoder ")
    panel.label_edit.editingFinished.emit()
    expected = "Another layer (dense_1) is already called “encoder”: choose another name"
    assert panel.error.isVisible() and panel.error.text() == expected
    assert said == [expected] and "\n" not in expected
    assert panel.label_edit.text() == "" and g.nodes["dense_2"].label == "" and stack.count() == 0
    panel.label_edit.setText("decoder")
    panel.label_edit.editingFinished.emit()
    assert not panel.error.isVisible() and g.nodes["dense_2"].label == "decoder" and stack.count() == 1


def test_paste_gives_labelled_layers_new_names(stack):
    g = named_graph()
    clip = copy_nodes(g, ["dense_1", "dense_2"])
    new = paste_nodes(stack, g, clip)
    assert [g.nodes[n].label for n in new] == ["encoder 2", ""]
    paste_nodes(stack, g, clip)
    labels = [n.label for n in g.nodes.values() if n.label]
    assert labels == ["encoder", "encoder 2", "encoder 3"]
    stack.undo()
    stack.undo()
    stack.redo()  # the pasted layer comes back with the name it was given
    assert [n.label for n in g.nodes.values() if n.label] == ["encoder", "encoder 2"]


def test_duplicate_in_the_window_gives_a_new_name(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), tmp_path / "autosave")
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    node_id = w.add_layer("dense")
    w.inspector.show_node(node_id)
    w.inspector.label_edit.setText("hidden")
    w.inspector.label_edit.editingFinished.emit()
    w.scene.select_nodes([node_id])
    copies = w.scene.duplicate_selection()
    assert len(copies) == 1
    graph = w.document.graph
    assert graph.nodes[copies[0]].label == "hidden 2"
    w.inspector.show_node(copies[0])
    w.inspector.label_edit.setText("HIDDEN")
    w.inspector.label_edit.editingFinished.emit()
    assert graph.nodes[copies[0]].label == "hidden 2"
    assert "already called “HIDDEN”" in w.statusBar().currentMessage()
