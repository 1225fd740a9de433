"""Mouse and keyboard on the canvas, through the view's viewport as a person would: wiring, lifting a wire,
selecting, moving with snap, deleting, dropping a palette layer."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.graph import Edge
from nnstudio.ui.canvas import style
from nnstudio.ui.mime import LAYER_MIME

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier


def drag(view, start: QPoint, end: QPoint, steps: int = 5, button=LEFT) -> None:
    vp = view.viewport()
    QTest.mousePress(vp, button, NOMOD, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, start + (end - start) * (i / steps))
    QTest.mouseRelease(vp, button, NOMOD, end)


def drag_enter(pos: QPoint, mime: QMimeData) -> QDragEnterEvent:
    args = (Qt.DropAction.CopyAction, mime, LEFT, NOMOD)
    try:  # Qt 6.12 takes a QPointF and deprecates the QPoint form; older versions have only the QPoint form
        return QDragEnterEvent(QPointF(pos), *args)
    except TypeError:
        return QDragEnterEvent(pos, *args)


def port_point(canvas, node_id: str, output: bool) -> QPoint:
    return canvas.to_view(canvas.port(node_id, output).scenePos())


def node_point(canvas, node_id: str, dx: float = 90, dy: float = 12) -> QPoint:
    """A point on a node's header (not on a port)."""
    return canvas.to_view(canvas.scene.node_item(node_id).mapToScene(QPointF(dx, dy)))


def test_drag_from_output_to_input_connects(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.disconnect(Edge("dense_1", "dense_2"))
    drag(canvas.view, port_point(canvas, "dense_1", True), port_point(canvas, "dense_2", False))
    assert Edge("dense_1", "dense_2") in graph.edges
    assert canvas.scene.edge_item(Edge("dense_1", "dense_2")) is not None
    assert stack.count() == 1
    stack.undo()
    assert Edge("dense_1", "dense_2") not in graph.edges
    assert canvas.scene.edge_item(Edge("dense_1", "dense_2")) is None


def test_drag_from_an_empty_input_back_to_an_output_connects(canvas):
    nid = canvas.scene.add_node("dense", QPointF(480, 200))
    canvas.stack.clear()
    drag(canvas.view, port_point(canvas, nid, False), port_point(canvas, "dense_1", True))
    assert Edge("dense_1", nid) in canvas.graph.edges and canvas.stack.count() == 1


def test_releasing_on_empty_space_does_nothing(canvas):
    before = canvas.graph.to_dict()
    start = port_point(canvas, "dense_1", True)
    drag(canvas.view, start, start + QPoint(60, 150))
    assert canvas.graph.to_dict() == before and canvas.stack.count() == 0
    assert canvas.scene._wire.item is None  # the loose wire is gone


def refused(canvas, qtbot, start: QPoint, end: QPoint) -> str:
    before = canvas.graph.to_dict()
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        drag(canvas.view, start, end)
    assert canvas.graph.to_dict() == before
    assert canvas.stack.count() == 0
    return msg.args[0]


def test_refused_connections_leave_the_graph_and_say_why(canvas, qtbot):
    graph, scene = canvas.graph, canvas.scene
    # a filled single input
    reason = refused(canvas, qtbot, port_point(canvas, "input_vector_1", True), port_point(canvas, "dense_2", False))
    assert reason == graph.connect_problem("input_vector_1", "dense_2") and "already has one" in reason
    # a merge fed by dense_1 that feeds another merge: wiring back makes a cycle
    graph.add_node("add", position=(240, 200), node_id="m1")
    graph.add_node("concat", position=(480, 200), node_id="m2")
    graph.connect("dense_1", "m1")
    graph.connect("m1", "m2")
    reason = refused(canvas, qtbot, port_point(canvas, "m2", True), port_point(canvas, "m1", False))
    assert "cycle" in reason
    # a self-loop
    reason = refused(canvas, qtbot, port_point(canvas, "m2", True), port_point(canvas, "m2", False))
    assert "its own output" in reason
    # output onto output: the wrong kind of port
    reason = refused(canvas, qtbot, port_point(canvas, "m2", True), port_point(canvas, "dense_1", True))
    assert "input port" in reason
    assert scene.node_item("m1").in_port.verdict is None  # hover feedback cleared


def test_lifting_a_wire_off_an_input_disconnects_and_undo_restores(canvas):
    graph, stack = canvas.graph, canvas.stack
    start = port_point(canvas, "dense_2", False)
    drag(canvas.view, start, start + QPoint(-40, 160))
    assert Edge("dense_1", "dense_2") not in graph.edges and stack.count() == 1
    assert canvas.scene.edge_item(Edge("dense_1", "dense_2")) is None
    stack.undo()
    assert Edge("dense_1", "dense_2") in graph.edges
    assert canvas.scene.edge_item(Edge("dense_1", "dense_2")).isVisible()


def test_lifted_wire_dropped_on_another_input_reconnects_in_one_step(canvas):
    graph, stack = canvas.graph, canvas.stack
    nid = canvas.scene.add_node("dropout", QPointF(480, 200))
    stack.clear()
    before = graph.to_dict()
    drag(canvas.view, port_point(canvas, "dense_2", False), port_point(canvas, nid, False))
    assert Edge("dense_1", nid) in graph.edges and Edge("dense_1", "dense_2") not in graph.edges
    assert stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_lifted_wire_dropped_where_refused_puts_it_back(canvas, qtbot):
    before = canvas.graph.to_dict()
    reason = refused(canvas, qtbot, port_point(canvas, "dense_2", False), port_point(canvas, "output_1", False))
    assert "already has one" in reason
    assert canvas.graph.to_dict() == before
    assert canvas.scene.edge_item(Edge("dense_1", "dense_2")).isVisible()


def test_click_select_and_delete_key_then_undo(canvas):
    view, scene, graph = canvas.view, canvas.scene, canvas.graph
    QTest.mouseClick(view.viewport(), LEFT, NOMOD, node_point(canvas, "dense_1"))
    assert scene.selected_node_ids() == ["dense_1"]
    before = graph.to_dict()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert "dense_1" not in graph.nodes and len(graph.edges) == 1
    assert scene.node_item("dense_1") is None
    canvas.stack.undo()
    assert graph.to_dict() == before and scene.node_item("dense_1") is not None
    scene.select_nodes(["output_1"])
    QTest.keyClick(view, Qt.Key.Key_Backspace)
    assert "output_1" not in graph.nodes


def test_select_a_wire_and_delete_it(canvas):
    edge = Edge("dense_1", "dense_2")
    item = canvas.scene.edge_item(edge)
    mid = item.path().pointAtPercent(0.5)
    QTest.mouseClick(canvas.view.viewport(), LEFT, NOMOD, canvas.to_view(mid))
    assert item.isSelected() and canvas.scene.selected_node_ids() == []
    QTest.keyClick(canvas.view, Qt.Key.Key_Delete)
    assert edge not in canvas.graph.edges and len(canvas.graph.nodes) == 4
    canvas.stack.undo()
    assert edge in canvas.graph.edges


def test_rubber_band_selects_the_nodes_it_covers(canvas):
    scene = canvas.scene
    top_left = canvas.to_view(QPointF(200, -60))  # empty canvas above-left of dense_1
    bottom_right = canvas.to_view(QPointF(560, 40))  # inside dense_2
    drag(canvas.view, top_left, bottom_right, steps=8)
    assert sorted(scene.selected_node_ids()) == ["dense_1", "dense_2"]


def test_drag_move_snaps_to_the_grid_and_is_one_undo_step(canvas):
    graph, scene, stack = canvas.graph, canvas.scene, canvas.stack
    scene.select_nodes(["dense_1", "dense_2"])
    start = node_point(canvas, "dense_1")
    drag(canvas.view, start, start + QPoint(33, 47), steps=6)
    assert graph.nodes["dense_1"].position == (280.0, 40.0)  # 240 + 33 -> 280, 0 + 47 -> 40
    assert graph.nodes["dense_2"].position == (520.0, 40.0)
    assert stack.count() == 1
    edge = scene.edge_item(Edge("input_vector_1", "dense_1"))
    assert edge.path().currentPosition() == scene.node_item("dense_1").in_port.scenePos()  # the wire followed
    stack.undo()
    assert graph.nodes["dense_1"].position == (240.0, 0.0)
    assert scene.node_item("dense_1").pos() == QPointF(240, 0)
    assert edge.path().currentPosition() == scene.node_item("dense_1").in_port.scenePos()
    # a click without a move pushes nothing
    QTest.mouseClick(canvas.view.viewport(), LEFT, NOMOD, node_point(canvas, "dense_2"))
    assert stack.count() == 1 and stack.index() == 0


def test_double_click_activates_the_node(canvas, qtbot):
    with qtbot.waitSignal(canvas.scene.node_activated) as sig:
        QTest.mouseDClick(canvas.view.viewport(), LEFT, NOMOD, node_point(canvas, "dense_2"))
    assert sig.args == ["dense_2"]


def test_drop_of_a_palette_layer_adds_it_where_dropped(canvas):
    view, graph = canvas.view, canvas.graph
    mime = QMimeData()
    mime.setData(LAYER_MIME, QByteArray(b"conv2d"))
    at = QPoint(317, 401)
    # Qt delivers a drop only to the widget that accepted the drag's enter event, as in a real drag.
    enter = drag_enter(at, mime)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, LEFT, NOMOD)
    QApplication.sendEvent(view.viewport(), event)
    assert event.isAccepted()
    new = [nid for nid in graph.nodes if nid.startswith("conv2d")]
    assert len(new) == 1
    x, y = graph.nodes[new[0]].position
    target = view.mapToScene(at)
    assert abs(x - target.x()) <= style.GRID / 2 and abs(y - target.y()) <= style.GRID / 2
    assert x % style.GRID == 0 and y % style.GRID == 0
    assert canvas.scene.node_item(new[0]) is not None and canvas.stack.count() == 1


def test_drags_of_other_data_are_not_accepted(canvas):
    mime = QMimeData()
    mime.setText("conv2d")
    enter = drag_enter(QPoint(100, 100), mime)
    QApplication.sendEvent(canvas.view.viewport(), enter)
    assert not enter.isAccepted()
    canvas.scene.set_locked(True)
    mime.setData(LAYER_MIME, QByteArray(b"dense"))
    enter = drag_enter(QPoint(100, 100), mime)
    QApplication.sendEvent(canvas.view.viewport(), enter)
    assert not enter.isAccepted()  # locked: no drops


def test_locked_scene_ignores_wire_drags_and_moves(canvas):
    canvas.scene.set_locked(True)
    before = canvas.graph.to_dict()
    drag(canvas.view, port_point(canvas, "dense_2", False), QPoint(10, 10))
    start = node_point(canvas, "dense_1")
    drag(canvas.view, start, start + QPoint(80, 80))
    assert canvas.graph.to_dict() == before and canvas.stack.count() == 0
    assert canvas.scene.node_item("dense_1").pos() == QPointF(240, 0)
