"""The panels: palette (search, drag payload, double-click add), inspector (one undoable command per edit, refused
values with a message, follows undo), activation plot, summary and problems (follow the graph, select nodes) and
the examples gallery."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QTextDocumentFragment  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nnstudio.core.graph import Graph  # noqa: E402
from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.core.layers.registry import SPECS  # noqa: E402
from nnstudio.ui.commands import DisconnectCommand  # noqa: E402
from nnstudio.ui.mime import LAYER_MIME  # noqa: E402
from nnstudio.ui.panels.activation_plot import activation_curves  # noqa: E402
from nnstudio.ui.panels.examples_dialog import ExamplesDialog  # noqa: E402
from nnstudio.ui.panels.inspector import InspectorPanel  # noqa: E402
from nnstudio.ui.panels.palette import PalettePanel  # noqa: E402


@pytest.fixture
def inspector(qtbot, stack):
    graph = Graph()
    graph.add_node("input_image", node_id="input_image_1")
    graph.add_node("conv2d", node_id="conv2d_1")
    graph.add_node("batchnorm", node_id="batchnorm_1")
    graph.add_node("reshape", node_id="reshape_1")
    graph.add_node("dropout", node_id="dropout_1")
    graph.add_node("flatten", node_id="flatten_1")
    graph.add_node("activation", {"function": "tanh"}, node_id="activation_1")
    graph.connect("input_image_1", "conv2d_1")
    panel = InspectorPanel()
    panel.set_graph(graph, stack)
    qtbot.addWidget(panel)
    panel.resize(340, 700)
    panel.show()
    return panel


# -- palette --------------------------------------------------------------------------------------------------
def test_palette_lists_every_layer_by_category(qtbot):
    palette = PalettePanel()
    qtbot.addWidget(palette)
    assert sorted(palette.visible_type_ids()) == sorted(SPECS)
    groups = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    assert groups[:3] == ["Input/Output", "Core", "Convolution"]
    conv = palette.item_for("conv2d")
    assert conv.parent().text(0) == "Convolution"
    assert not conv.icon(0).isNull()
    assert "Slides learned" in conv.toolTip(0) and "y[f, i, j]" in conv.toolTip(0)


def test_palette_search_filters_as_you_type(qtbot):
    palette = PalettePanel()
    qtbot.addWidget(palette)
    palette.show()
    qtbot.keyClicks(palette.search, "conv")
    assert palette.visible_type_ids() == ["conv2d", "conv1d", "conv_transpose2d"]  # the convolutions
    assert palette.tree.topLevelItem(1).isHidden()  # "Core" has no match
    palette.search.clear()
    palette.search.setText("fully connected")  # matches the description
    assert palette.visible_type_ids() == ["dense"]
    palette.search.setText("maxpool2d")  # the type id
    assert palette.visible_type_ids() == ["maxpool2d", "adaptive_max_pool2d"]
    palette.search.setText("no such layer")
    assert palette.visible_type_ids() == []
    palette.search.clear()
    assert len(palette.visible_type_ids()) == len(SPECS)


def test_palette_drag_payload_and_drop_on_the_view(window, qtbot):
    item = window.palette_panel.item_for("dense")
    mime = window.palette_panel.tree.mimeData([item])
    assert bytes(mime.data(LAYER_MIME)).decode() == "dense"
    viewport = window.view.viewport()
    at = QPointF(viewport.width() / 2, viewport.height() / 2)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:  # PySide6 offers the QPointF constructor or only the older QPoint one, depending on the build
        enter = QDragEnterEvent(at, *args)
    except TypeError:
        enter = QDragEnterEvent(at.toPoint(), *args)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(viewport.width() / 2, viewport.height() / 2), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, drop)
    assert [n.type_id for n in window.document.graph.nodes.values()] == ["dense"]


def test_palette_double_click_adds_after_the_selected_node(window, qtbot):
    palette = window.palette_panel
    first = window.add_layer("input_vector")
    window.scene.select_nodes([first])
    item = palette.item_for("dense")
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    graph = window.document.graph
    assert len(graph.nodes) == 2
    new = next(n for n in graph.nodes.values() if n.type_id == "dense")
    assert [(e.src, e.dst) for e in graph.edges] == [(first, new.id)]
    assert new.position[0] > graph.nodes[first].position[0]
    assert window.scene.selected_node_ids() == [new.id]  # the next layer chains after it
    window.document.undo_stack.undo()  # add + wire are one step
    assert list(graph.nodes) == [first] and graph.edges == []


def test_palette_double_click_without_selection_adds_at_the_view_centre(window):
    node_id = window.add_layer("flatten")
    item = window.scene.node_item(node_id)
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert item.sceneBoundingRect().adjusted(-30, -30, 30, 30).contains(centre)
    assert window.scene.selected_node_ids() == [node_id]
    window.scene.clearSelection()
    second = window.add_layer("flatten")  # nothing selected: not wired, and never stacked on the first
    a, b = window.scene.node_item(node_id), window.scene.node_item(second)
    assert not a.sceneBoundingRect().intersects(b.sceneBoundingRect())
    assert window.document.graph.edges == []


# -- inspector ------------------------------------------------------------------------------------------------
def test_inspector_shows_a_widget_per_parameter_kind(inspector):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

    inspector.show_node("conv2d_1")
    e = inspector.editors
    assert isinstance(e["filters"], QSpinBox) and e["filters"].value() == 32
    assert isinstance(e["bias"], QCheckBox) and e["bias"].isChecked()
    assert isinstance(e["activation"], QComboBox) and e["activation"].currentText() == "ReLU"
    assert isinstance(e["padding"], QComboBox) and e["padding"].isEditable() and e["padding"].currentText() == "valid"
    assert "Slides learned" in inspector.description.text()
    assert "f = ReLU: f(x) = max(0, x)" in inspector.formula.text()
    inspector.show_node("batchnorm_1")
    assert isinstance(inspector.editors["eps"], QDoubleSpinBox)
    assert inspector.editors["eps"].text() == "1e-05"
    assert inspector.editors["momentum"].text() == "0.1"
    inspector.show_node("reshape_1")
    assert isinstance(inspector.editors["shape"], QLineEdit) and inspector.editors["shape"].text() == "-1"
    inspector.show_node(None, selected=3)
    assert inspector.content.isHidden() and "3 layers" in inspector.placeholder.text()


def test_inspector_edits_are_undoable_commands_and_follow_undo(inspector, stack):
    graph = inspector.graph
    inspector.show_node("conv2d_1")
    inspector.editors["filters"].setValue(16)
    assert graph.nodes["conv2d_1"].params["filters"] == 16
    assert stack.count() == 1 and "filters" in stack.undoText()
    inspector.editors["activation"].setCurrentIndex(inspector.editors["activation"].findData("tanh"))
    inspector.editors["bias"].setChecked(False)
    assert graph.nodes["conv2d_1"].params["activation"] == "tanh"
    assert graph.nodes["conv2d_1"].params["bias"] is False
    assert inspector.plot.name == "tanh"
    assert stack.count() == 3
    stack.undo()
    stack.undo()
    assert inspector.editors["activation"].currentData() == "relu"  # the widgets follow undo
    assert inspector.plot.name == "relu"
    stack.undo()
    assert inspector.editors["filters"].value() == 32
    stack.redo()
    assert inspector.editors["filters"].value() == 16
    assert not inspector.error.isVisible()


def test_inspector_refuses_an_invalid_value_with_a_message(inspector, stack):
    graph = inspector.graph
    inspector.show_node("conv2d_1")
    inspector.editors["filters"].setValue(0)
    assert inspector.error.isVisible()
    assert "Filters must be at least 1, not 0" in inspector.error.text()
    assert graph.nodes["conv2d_1"].params["filters"] == 32
    assert inspector.editors["filters"].value() == 32  # shows what the layer holds
    assert stack.count() == 0
    inspector.editors["filters"].setValue(70_000)  # above the maximum: refused, not clamped
    assert "at most 65536" in inspector.error.text() and stack.count() == 0
    inspector.editors["filters"].setValue(8)
    assert not inspector.error.isVisible() and stack.count() == 1


def test_inspector_padding_ints_and_float_editors(inspector, qtbot, stack):
    graph = inspector.graph
    inspector.show_node("conv2d_1")
    pad = inspector.editors["padding"]
    for text, expected in (("same", "same"), ("2", 2)):
        pad.setEditText(text)
        pad.lineEdit().editingFinished.emit()
        assert graph.nodes["conv2d_1"].params["padding"] == expected
    pad.setEditText("bogus")
    pad.lineEdit().editingFinished.emit()
    assert "Padding must be 'valid', 'same' or a whole number" in inspector.error.text()
    assert graph.nodes["conv2d_1"].params["padding"] == 2 and pad.currentText() == "2"

    inspector.show_node("reshape_1")
    shape = inspector.editors["shape"]
    shape.setText("1, 28, 28")
    shape.editingFinished.emit()
    assert graph.nodes["reshape_1"].params["shape"] == [1, 28, 28]
    shape.setText("1, x")
    shape.editingFinished.emit()
    assert "Shape must be a list of positive whole numbers" in inspector.error.text()
    assert shape.text() == "1, 28, 28"

    inspector.show_node("batchnorm_1")
    eps = inspector.editors["eps"]
    eps.lineEdit().selectAll()
    qtbot.keyClicks(eps, "1e-3")
    qtbot.keyClick(eps, Qt.Key.Key_Return)
    assert graph.nodes["batchnorm_1"].params["eps"] == pytest.approx(1e-3)
    assert eps.text() == "0.001"
    eps.stepBy(-1)  # a range of many orders of magnitude steps by factors of ten
    assert graph.nodes["batchnorm_1"].params["eps"] == pytest.approx(1e-4)
    eps.setValue(0.0)
    assert "Epsilon must be at least 1e-12, not 0" in inspector.error.text()

    inspector.show_node("dropout_1")
    inspector.editors["rate"].setValue(1.5)
    assert "Rate must be at most 0.99" in inspector.error.text()
    assert graph.nodes["dropout_1"].params["rate"] == 0.5


def test_inspector_label_editor(inspector, stack):
    inspector.show_node("conv2d_1")
    inspector.label_edit.setText("first conv")
    inspector.label_edit.editingFinished.emit()
    assert inspector.graph.nodes["conv2d_1"].label == "first conv"
    assert inspector.title.text() == "first conv"
    inspector.label_edit.editingFinished.emit()  # no change: no second command
    assert stack.count() == 1
    stack.undo()
    assert inspector.label_edit.text() == "" and inspector.title.text() == "Conv2D"


def test_activation_plot_shows_f_and_its_derivative(inspector):
    inspector.show_node("conv2d_1")
    plot = inspector.plot
    assert plot.isVisible() and plot.name == "relu"
    items = plot.plot.getPlotItem().listDataItems()
    assert len(items) == 2
    assert [item.name() for item in items] == ["f(x)", "f′(x)"]
    assert len(plot.legend.items) == 2
    x, y = items[0].getData()
    _, dy = items[1].getData()
    assert x[0] == -5 and x[-1] == 5
    at = lambda v: int(np.argmin(np.abs(x - v)))  # noqa: E731
    assert y[at(2.0)] == pytest.approx(2.0, abs=0.03) and y[at(-2.0)] == 0
    assert dy[at(2.0)] == 1 and dy[at(-2.0)] == 0
    inspector.show_node("activation_1")  # the Activation node's own function
    assert plot.isVisible() and plot.name == "tanh"
    inspector.show_node("flatten_1")
    assert not plot.isVisible()


def test_activation_curves_for_every_function():
    for name in ("sigmoid", "softmax", "gelu", "silu", "none"):
        x, y, dy = activation_curves(name)
        assert x.shape == y.shape == dy.shape and np.isfinite(y).all() and np.isfinite(dy).all()
    x, y, dy = activation_curves("sigmoid")
    mid = len(x) // 2
    assert y[mid] == pytest.approx(0.5) and dy[mid] == pytest.approx(0.25)
    _, soft, _ = activation_curves("softmax")  # two classes with scores (x, 0): the sigmoid again
    assert soft == pytest.approx(y)


# -- summary and problems -------------------------------------------------------------------------------------
def test_summary_totals_follow_edits(window, qtbot):
    window.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    summary = window.summary
    qtbot.waitUntil(lambda: summary.row_count() == 5)
    before = summary.total_params
    shown = QTextDocumentFragment.fromHtml(summary.totals.text()).toPlainText().replace("\u00a0", " ")
    assert f"Total params: {before:,}" in shown and summary.totals.wordWrap()
    dense = next(n for n in window.document.graph.nodes.values() if n.type_id == "dense")
    window.scene.select_nodes([dense.id])
    units = dense.params["units"]
    window.inspector.editors["units"].setValue(units + 1)
    qtbot.waitUntil(lambda: summary.total_params != before)
    assert summary.total_params > before
    assert summary.table.item(summary.row_of(dense.id), 3).text() == \
        f"{window.document.watcher.info.nodes[dense.id].params:,}"
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: summary.total_params == before)


def test_selecting_a_summary_row_selects_and_centres_the_node(window, qtbot):
    window.load_file(EXAMPLES / "digits_cnn.nnstudio")
    summary = window.summary
    qtbot.waitUntil(lambda: summary.row_count() == 9)
    summary.table.selectRow(summary.row_of("dense_2"))
    assert window.scene.selected_node_ids() == ["dense_2"]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item("dense_2").sceneBoundingRect().adjusted(-5, -5, 5, 5).contains(centre)
    window.scene.select_nodes(["conv2d_1"])  # and the table follows the canvas
    assert summary.selected_node_id() == "conv2d_1"
    assert window.inspector.node_id == "conv2d_1"


def test_clicking_a_problem_selects_and_centres_its_node(window, qtbot):
    window.load_file(EXAMPLES / "digits_cnn.nnstudio")
    qtbot.waitUntil(lambda: window.state_label.text() == "ready", timeout=20000)  # after the data are checked
    assert window.problems.list.count() == 1 and window.problems.count() == 0
    window.scene.select_nodes(["dense_1"])
    window.inspector.editors["units"].setValue(1)
    window.scene.select_nodes(["dense_2"])
    window.inspector.editors["activation"].setCurrentIndex(
        window.inspector.editors["activation"].findData("none"))
    graph = window.document.graph
    window.document.undo_stack.push(DisconnectCommand(graph, next(e for e in graph.edges if e.dst == "flatten_1")))
    qtbot.waitUntil(lambda: window.problems.count() > 0)
    item = window.problems.item_for("flatten_1")
    assert item is not None and item.text().startswith("flatten_1: Flatten needs an input")
    window.scene.clearSelection()
    window.problems.list.scrollToItem(item)
    rect = window.problems.list.visualItemRect(item)
    qtbot.mouseClick(window.problems.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.scene.selected_node_ids() == ["flatten_1"]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item("flatten_1").sceneBoundingRect().adjusted(-5, -5, 5, 5).contains(centre)
    assert "problem" in window.state_label.text()


# -- examples gallery -----------------------------------------------------------------------------------------
def test_examples_dialog_lists_the_examples(qtbot):
    dialog = ExamplesDialog()
    qtbot.addWidget(dialog)
    names = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(names) == len(list(EXAMPLES.glob("*.nnstudio"))) >= 5
    assert "Digits CNN" in names
    dialog.list.setCurrentRow(names.index("Digits CNN"))
    assert dialog.title.text() == "Digits CNN"
    assert "121,930 parameters" in dialog.facts.text()
    assert "convolutional" in dialog.description.text()
    assert dialog.selected_path() == EXAMPLES / "digits_cnn.nnstudio"


def test_examples_dialog_with_no_examples(qtbot, tmp_path):
    (tmp_path / "broken.nnstudio").write_text("not a project")
    dialog = ExamplesDialog(folder=tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 0 and dialog.selected_path() is None
    assert "No examples" in dialog.description.text()


def test_inspector_is_read_only_while_the_canvas_is_locked(window):
    window.load_file(EXAMPLES / "digits_cnn.nnstudio")
    window.scene.select_nodes(["conv2d_1"])
    window.scene.set_locked(True)  # training
    editor = window.inspector.editors["filters"]
    assert not editor.isEnabled() and not window.inspector.label_edit.isEnabled()
    editor.setValue(8)
    assert window.document.graph.nodes["conv2d_1"].params["filters"] == 32
    assert editor.value() == 32
    window.scene.set_locked(False)
    assert editor.isEnabled()
    editor.setValue(8)
    assert window.document.graph.nodes["conv2d_1"].params["filters"] == 8
