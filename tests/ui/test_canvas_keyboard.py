"""Keyboard-only building: arrows move the selection along the network, C wires, Enter / F2 edit a setting."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.graph import Edge, Graph
from nnstudio.ui.canvas import align
from nnstudio.ui.canvas.keyboard import KeyboardNav, connect_next

SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def nav(canvas, qtbot):
    n = KeyboardNav(canvas.view)
    canvas.view.setFocus()
    qtbot.waitUntil(canvas.view.hasFocus)
    return n


def select_in_order(scene, ids) -> None:
    scene.clearSelection()
    for nid in ids:
        scene.node_item(nid).setSelected(True)


def test_arrows_follow_the_wires(canvas, nav):
    order = canvas.graph.topological_order()
    canvas.scene.select_nodes([order[0]])
    for expected in order[1:]:
        QTest.keyClick(canvas.view, Qt.Key.Key_Right)
        assert canvas.scene.selected_node_ids() == [expected]
    QTest.keyClick(canvas.view, Qt.Key.Key_Left)
    assert canvas.scene.selected_node_ids() == [order[-2]]
    QTest.keyClick(canvas.view, Qt.Key.Key_Left, SHIFT)  # Shift adds to the selection
    assert set(canvas.scene.selected_node_ids()) == {order[-2], order[-3]}
    assert canvas.stack.count() == 0  # moving the selection is no edit


def test_up_and_down_go_to_the_nearest_layer_above_and_below(canvas, nav):
    below = canvas.scene.add_node("dense", canvas.scene.node_item("dense_1").pos() + QPointF(20, 200))
    canvas.scene.select_nodes(["dense_1"])
    QTest.keyClick(canvas.view, Qt.Key.Key_Down)
    assert canvas.scene.selected_node_ids() == [below]
    QTest.keyClick(canvas.view, Qt.Key.Key_Up)
    assert canvas.scene.selected_node_ids() == ["dense_1"]


def test_without_a_selection_the_arrows_still_pan(canvas, nav):
    bar = canvas.view.horizontalScrollBar()
    before = bar.value()
    QTest.keyClick(canvas.view, Qt.Key.Key_Right)
    assert bar.value() > before and canvas.scene.selected_node_ids() == []


def test_an_arrow_with_nowhere_to_go_says_so(canvas, nav, qtbot):
    last = canvas.graph.topological_order()[-1]
    canvas.scene.select_nodes([last])
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        QTest.keyClick(canvas.view, Qt.Key.Key_Right)
    assert "no layer after" in msg.args[0] and canvas.scene.selected_node_ids() == [last]


def loose_pair() -> Graph:
    g = Graph()
    g.add_node("dense", position=(0.0, 0.0), node_id="a")
    g.add_node("dense", position=(400.0, 0.0), node_id="b")
    g.add_node("dense", position=(800.0, 40.0), node_id="c")
    return g


def test_connect_wires_the_first_selected_into_the_other(make_canvas, qtbot):
    c = make_canvas(loose_pair())
    nav = KeyboardNav(c.view)
    before = c.graph.to_dict()
    select_in_order(c.scene, ["c", "a"])  # c first: c's output into a's input, whatever their places
    assert connect_next(c.scene, nav.selection())
    assert set(c.graph.edges) == {Edge("c", "a")} and c.stack.count() == 1
    c.stack.undo()
    assert c.graph.to_dict() == before


def test_connect_one_goes_to_the_next_free_layer_and_on(make_canvas):
    c = make_canvas(loose_pair())
    nav = KeyboardNav(c.view)
    c.scene.select_nodes(["a"])
    assert connect_next(c.scene, nav.selection())
    assert set(c.graph.edges) == {Edge("a", "b")} and c.scene.selected_node_ids() == ["b"]
    assert connect_next(c.scene, nav.selection())  # the selection moved on: C again extends the chain
    assert set(c.graph.edges) == {Edge("a", "b"), Edge("b", "c")} and c.stack.count() == 2


def test_a_refused_connection_says_why_and_changes_nothing(canvas, qtbot):
    nav = KeyboardNav(canvas.view)
    order = canvas.graph.topological_order()
    before = canvas.graph.to_dict()
    select_in_order(canvas.scene, [order[-1], order[0]])  # the Output into the Input
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        assert not connect_next(canvas.scene, nav.selection())
    assert "Output" in msg.args[0] and canvas.graph.to_dict() == before and canvas.stack.count() == 0
    canvas.scene.set_locked(True)
    select_in_order(canvas.scene, ["dense_1"])
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        assert not connect_next(canvas.scene, nav.selection())
    assert "locked" in msg.args[0] and canvas.graph.to_dict() == before


def focus_canvas(w, qtbot):
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    w.view.setFocus()
    qtbot.waitUntil(w.view.hasFocus)


def test_keys_in_the_window_connect_and_edit_the_first_parameter(open_window, qtbot):
    w = open_window(example=None)
    align.install(w)
    for type_id in ("input_vector", "dense"):
        w.add_layer(type_id)
    graph = w.document.graph
    ids = graph.topological_order()
    for e in list(graph.edges):
        graph.disconnect(e)
    w.document.undo_stack.clear()
    w.scene.select_nodes([ids[0]])
    focus_canvas(w, qtbot)
    QTest.keyClick(w.view, Qt.Key.Key_C)
    assert set(graph.edges) == {Edge(ids[0], ids[1])}
    assert w.scene.selected_node_ids() == [ids[1]]
    QTest.keyClick(w.view, Qt.Key.Key_Return)
    QApplication.processEvents()
    first = next(iter(w.inspector.editors.values()))
    assert QApplication.focusWidget() is first or first.isAncestorOf(QApplication.focusWidget())
    assert first.objectName() == "param_" + graph.nodes[ids[1]].spec.params[0].name
    focus_canvas(w, qtbot)
    w.scene.select_nodes([ids[0]])
    QTest.keyClick(w.view, Qt.Key.Key_F2)
    QApplication.processEvents()
    assert w.inspector.node_id == ids[0] and QApplication.focusWidget() is not w.view
    w.document.undo_stack.undo()
    assert set(graph.edges) == set()


def test_enter_in_a_field_over_the_canvas_stays_with_the_field(open_window, qtbot):
    from PySide6.QtWidgets import QLineEdit

    w = open_window()
    align.install(w)
    w.scene.select_nodes([w.document.graph.topological_order()[1]])
    field = QLineEdit(w.view)  # as a frame's name editor: it hides on Enter and lets the key go on
    field.returnPressed.connect(field.hide)
    field.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClick(field, Qt.Key.Key_Return)
    QApplication.processEvents()
    editors = list(w.inspector.editors.values())
    assert not any(e.hasFocus() for e in editors)


def test_enter_in_the_edited_setting_takes_the_value_and_goes_back_to_the_canvas(open_window, qtbot):
    """Keyboard-only building goes on after an edit: Enter on the canvas, the value, Enter, and Tab opens the
    quick-add after the same layer."""
    w = open_window(example=None)
    align.install(w)
    w.add_layer("input_vector")
    dense = w.add_layer("dense")
    graph = w.document.graph
    w.scene.select_nodes([dense])
    focus_canvas(w, qtbot)
    QTest.keyClick(w.view, Qt.Key.Key_Return)
    QApplication.processEvents()
    field = QApplication.focusWidget()
    assert field is not w.view and field is not None
    QTest.keyClicks(field, "10")
    QTest.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.view, timeout=2000)
    assert graph.nodes[dense].params["units"] == 10
    # Escape gives the focus back too, keeping what was there
    QTest.keyClick(w.view, Qt.Key.Key_Return)
    QApplication.processEvents()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.view, timeout=2000)
    assert graph.nodes[dense].params["units"] == 10
