"""Wire gestures on the canvas, through the view as a person would: a layer dropped or dragged onto a wire goes
into it, ports are magnetic and say why they refuse, a wire let go in space and a double-click on empty canvas
ask for quick-add, and paste lands at the cursor."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QCursor, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGraphicsItem

from nnstudio.core.graph import Edge
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.scene import LOCKED_MESSAGE
from nnstudio.ui.canvas.wiring import ReasonItem
from nnstudio.ui.mime import LAYER_MIME

from test_canvas_mouse import drag, drag_enter, node_point, port_point

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier
ALT = Qt.KeyboardModifier.AltModifier
WIRE = Edge("dense_1", "dense_2")


def wire_middle(canvas, edge: Edge = WIRE) -> QPoint:
    return canvas.to_view(canvas.scene.edge_item(edge).path().pointAtPercent(0.5))


def palette_drop(canvas, type_id: str, at: QPoint, mods=NOMOD) -> bool:
    """Drag a palette layer onto the canvas at ``at`` and drop it; returns whether the wire was highlighted
    just before the drop."""
    vp = canvas.view.viewport()
    mime = QMimeData()
    mime.setData(LAYER_MIME, QByteArray(type_id.encode()))
    enter = drag_enter(at, mime)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    args = (Qt.DropAction.CopyAction, mime, LEFT, mods)
    try:  # as drag_enter: the QPointF form on newer Qt, the QPoint form on older
        move = QDragMoveEvent(QPointF(at), *args)
    except TypeError:
        move = QDragMoveEvent(at, *args)
    QApplication.sendEvent(vp, move)
    highlighted = canvas.scene.drop_edge()
    QApplication.sendEvent(vp, QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, LEFT, mods))
    return highlighted


def new_ids(graph, before) -> list[str]:
    return [nid for nid in graph.nodes if nid not in before]


# -- insert on a wire ---------------------------------------------------------------------------------------
def test_palette_layer_dropped_on_a_wire_goes_into_it_in_one_step(canvas):
    graph, stack = canvas.graph, canvas.stack
    before, ids = graph.to_dict(), set(graph.nodes)
    assert palette_drop(canvas, "dropout", wire_middle(canvas)) == WIRE  # highlighted before the drop
    (nid,) = new_ids(graph, ids)
    assert WIRE not in graph.edges
    assert Edge("dense_1", nid) in graph.edges and Edge(nid, "dense_2") in graph.edges
    assert stack.count() == 1 and canvas.scene.drop_edge() is None
    assert not canvas.scene.edge_item(Edge("dense_1", nid)).drop_target  # the highlight is gone
    stack.undo()
    assert graph.to_dict() == before and canvas.scene.edge_item(WIRE) is not None


def test_alt_drops_beside_the_wire_without_inserting(canvas):
    graph = canvas.graph
    ids = set(graph.nodes)
    assert palette_drop(canvas, "dropout", wire_middle(canvas), ALT) is None
    (nid,) = new_ids(graph, ids)
    assert WIRE in graph.edges and not graph.inputs_of(nid) and not graph.outputs_of(nid)


def test_a_refused_insert_still_drops_the_layer_and_says_why(canvas, qtbot):
    graph, stack = canvas.graph, canvas.stack
    ids = set(graph.nodes)
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        palette_drop(canvas, "input_vector", wire_middle(canvas))
    (nid,) = new_ids(graph, ids)
    assert "takes no inputs" in msg.args[0] and "cannot go into this wire" in msg.args[0]
    assert WIRE in graph.edges and not graph.inputs_of(nid) and not graph.outputs_of(nid)
    assert stack.count() == 1


def drag_node(canvas, node_id: str, end: QPoint, mods=NOMOD):
    """Drag ``node_id`` by its header so that the cursor ends at ``end``; returns the wire highlighted just
    before the release."""
    vp = canvas.view.viewport()
    start = node_point(canvas, node_id)
    QTest.mousePress(vp, LEFT, NOMOD, start)
    for i in range(1, 7):
        QTest.mouseMove(vp, start + (end - start) * (i / 6))
    if mods != NOMOD:  # QTest.mouseMove takes no modifiers: send one move with them held
        from PySide6.QtGui import QMouseEvent
        QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(end), QPointF(
            vp.mapToGlobal(end)), Qt.MouseButton.NoButton, LEFT, mods))
    highlighted = canvas.scene.drop_edge()
    QTest.mouseRelease(vp, LEFT, mods, end)
    return highlighted


def test_dragging_an_unwired_node_onto_a_wire_inserts_it_and_undo_restores(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.add_node("dropout", position=(240.0, 260.0), node_id="drop")
    before = graph.to_dict()
    assert drag_node(canvas, "drop", wire_middle(canvas)) == WIRE
    assert WIRE not in graph.edges and Edge("dense_1", "drop") in graph.edges and Edge("drop", "dense_2") in graph.edges
    assert graph.nodes["drop"].position != (240.0, 260.0)  # moved and wired: one step
    assert stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before
    assert canvas.scene.node_item("drop").pos() == QPointF(240, 260)


def test_alt_or_a_wired_node_only_moves(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.add_node("dropout", position=(240.0, 260.0), node_id="drop")
    assert drag_node(canvas, "drop", wire_middle(canvas), ALT) is None
    assert WIRE in graph.edges and not graph.inputs_of("drop") and stack.count() == 1
    graph.connect("dense_2", "drop")
    drag_node(canvas, "drop", wire_middle(canvas, Edge("input_vector_1", "dense_1")))
    assert Edge("input_vector_1", "dense_1") in graph.edges and graph.inputs_of("drop") == [Edge("dense_2", "drop")]
    assert stack.count() == 2  # two plain moves


def test_insert_on_edge_refuses_a_wired_node_or_one_without_an_output(canvas, qtbot):
    graph, stack, scene = canvas.graph, canvas.stack, canvas.scene
    graph.add_node("output", {"task": "multiclass"}, position=(240.0, 260.0), node_id="out2")
    before = graph.to_dict()
    with qtbot.waitSignal(scene.status_message, timeout=1000) as msg:
        assert scene.insert_on_edge(WIRE, node_id="output_1") is None
    assert "already wired" in msg.args[0]
    with qtbot.waitSignal(scene.status_message, timeout=1000) as msg:
        assert scene.insert_on_edge(WIRE, node_id="out2") is None
    assert "has no output" in msg.args[0]
    assert graph.to_dict() == before and stack.count() == 0


def test_insert_on_edge_keeps_a_merge_inputs_order(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.add_node("concat", position=(480.0, 260.0), node_id="cat")
    graph.connect("dense_1", "cat")
    graph.connect("input_vector_1", "cat")
    order = [e.src for e in graph.inputs_of("cat")]
    before = graph.to_dict()
    nid = canvas.scene.insert_on_edge(Edge("dense_1", "cat"), type_id="dropout")
    assert nid is not None and [e.src for e in graph.inputs_of("cat")] == [nid, "input_vector_1"]
    assert graph.inputs_of(nid) == [Edge("dense_1", nid)] and stack.count() == 1
    x, y = graph.nodes[nid].position  # between the wire's ends, on the grid
    assert x % style.GRID == 0 and y % style.GRID == 0 and 240 <= x <= 480
    stack.undo()
    assert graph.to_dict() == before and [e.src for e in graph.inputs_of("cat")] == order


def test_insert_on_edge_is_refused_while_locked(canvas, qtbot):
    canvas.scene.set_locked(True)
    before = canvas.graph.to_dict()
    with qtbot.waitSignal(canvas.scene.status_message, timeout=1000) as msg:
        assert canvas.scene.insert_on_edge(WIRE, type_id="dropout") is None
    assert msg.args == [LOCKED_MESSAGE] and canvas.graph.to_dict() == before


# -- magnetic ports -----------------------------------------------------------------------------------------
def test_a_wire_let_go_near_a_compatible_port_connects(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.disconnect(WIRE)
    near = port_point(canvas, "dense_2", False) + QPoint(-16, -12)  # 20 px away: off the port, off the node
    assert canvas.scene.port_at(canvas.view.mapToScene(near)) is None
    vp = canvas.view.viewport()
    start = port_point(canvas, "dense_1", True)
    QTest.mousePress(vp, LEFT, NOMOD, start)
    QTest.mouseMove(vp, start + (near - start) * 0.5)
    QTest.mouseMove(vp, near)
    assert canvas.scene.node_item("dense_2").in_port.verdict == "ok"  # highlighted while dragging
    QTest.mouseRelease(vp, LEFT, NOMOD, near)
    assert WIRE in graph.edges and stack.count() == 1
    assert canvas.scene.node_item("dense_2").in_port.verdict is None


def test_the_magnet_reach_is_in_screen_pixels(canvas, qtbot):
    graph = canvas.graph
    graph.disconnect(WIRE)
    canvas.view.zoom_by(0.5)
    canvas.view.center_on_node("dense_1")
    far = port_point(canvas, "dense_2", False) + QPoint(-24, -18)  # 30 screen px (60 scene px): too far
    with qtbot.waitSignal(canvas.scene.wire_released_in_space, timeout=1000):
        drag(canvas.view, port_point(canvas, "dense_1", True), far)
    assert WIRE not in graph.edges
    near = port_point(canvas, "dense_2", False) + QPoint(-12, -9)  # 15 screen px (30 scene px): taken
    drag(canvas.view, port_point(canvas, "dense_1", True), near)
    assert WIRE in graph.edges


def test_a_wire_let_go_over_a_node_body_connects_to_its_free_input(canvas):
    graph, stack = canvas.graph, canvas.stack
    graph.disconnect(WIRE)
    drag(canvas.view, port_point(canvas, "dense_1", True), node_point(canvas, "dense_2", 90, 50))
    assert WIRE in graph.edges and stack.count() == 1
    stack.undo()
    assert WIRE not in graph.edges


def test_an_incompatible_target_says_why_at_the_cursor_before_the_release(canvas, qtbot):
    graph, scene = canvas.graph, canvas.scene
    before = graph.to_dict()
    vp = canvas.view.viewport()
    start, body = port_point(canvas, "input_vector_1", True), node_point(canvas, "dense_2", 90, 50)
    QTest.mousePress(vp, LEFT, NOMOD, start)
    QTest.mouseMove(vp, start + (body - start) * 0.5)
    QTest.mouseMove(vp, body)
    reasons = [i for i in scene.items() if isinstance(i, ReasonItem)]
    assert len(reasons) == 1 and "already has one" in reasons[0].text
    assert reasons[0].flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    assert scene.node_item("dense_2").in_port.verdict == "bad"
    with qtbot.waitSignal(scene.status_message, timeout=1000) as msg:
        QTest.mouseRelease(vp, LEFT, NOMOD, body)
    assert "already has one" in msg.args[0]
    assert not [i for i in scene.items() if isinstance(i, ReasonItem)]  # gone on release
    assert graph.to_dict() == before and canvas.stack.count() == 0


# -- signals for quick-add ----------------------------------------------------------------------------------
def test_a_new_wire_let_go_in_space_asks_for_quick_add(canvas, qtbot):
    scene = canvas.scene
    end = port_point(canvas, "dense_2", True) + QPoint(40, 200)
    with qtbot.waitSignal(scene.wire_released_in_space, timeout=1000) as sig:
        drag(canvas.view, port_point(canvas, "dense_2", True), end)
    node_id, side, pos = sig.args
    assert (node_id, side) == ("dense_2", "out")
    assert (pos - canvas.view.mapToScene(end)).manhattanLength() < 1
    nid = scene.add_node("dense", QPointF(480, 300))
    start = port_point(canvas, nid, False)
    with qtbot.waitSignal(scene.wire_released_in_space, timeout=1000) as sig:
        drag(canvas.view, start, start + QPoint(-60, 160))
    assert sig.args[:2] == [nid, "in"]


def test_a_lifted_wire_let_go_in_space_only_disconnects(canvas, qtbot):
    start = port_point(canvas, "dense_2", False)
    with qtbot.assertNotEmitted(canvas.scene.wire_released_in_space):
        drag(canvas.view, start, start + QPoint(-40, 160))
    assert WIRE not in canvas.graph.edges


def test_double_click_on_empty_canvas_asks_for_quick_add(canvas, qtbot):
    scene, vp = canvas.scene, canvas.view.viewport()
    empty = canvas.to_view(QPointF(300, 300))
    with qtbot.waitSignal(scene.quick_add_requested, timeout=1000) as sig:
        QTest.mouseDClick(vp, LEFT, NOMOD, empty)
    assert (sig.args[0] - QPointF(300, 300)).manhattanLength() < 2
    with qtbot.assertNotEmitted(scene.quick_add_requested):
        QTest.mouseDClick(vp, LEFT, NOMOD, node_point(canvas, "dense_1"))
        QTest.mouseDClick(vp, LEFT, NOMOD, wire_middle(canvas))
    scene.set_locked(True)
    with qtbot.assertNotEmitted(scene.quick_add_requested):
        QTest.mouseDClick(vp, LEFT, NOMOD, empty)


# -- paste at the cursor ------------------------------------------------------------------------------------
def test_cursor_scene_pos_is_none_off_the_canvas(canvas):
    view = canvas.view
    QCursor.setPos(view.viewport().mapToGlobal(QPoint(200, 150)))
    pos = view.cursor_scene_pos()
    assert pos is not None and (pos - view.mapToScene(QPoint(200, 150))).manhattanLength() < 1
    QCursor.setPos(view.viewport().mapToGlobal(QPoint(-50, -50)))
    assert view.cursor_scene_pos() is None


def test_paste_lands_at_the_cursor_or_beside_the_original(open_window):
    w = open_window()
    scene, graph, vp = w.scene, w.scene.graph, w.view.viewport()
    first = next(iter(graph.nodes))
    scene.select_nodes([first])
    assert w.copy()
    QCursor.setPos(vp.mapToGlobal(vp.rect().center() + QPoint(37, 23)))  # over the canvas
    at = w.view.cursor_scene_pos()
    assert at is not None
    (nid,) = w.paste()
    assert graph.nodes[nid].position == (style.snap(at.x()), style.snap(at.y()))
    assert scene.selected_node_ids() == [nid]
    QCursor.setPos(vp.mapToGlobal(QPoint(-30, -30)))  # off the canvas (over the panel beside it)
    assert w.view.cursor_scene_pos() is None
    scene.select_nodes([first])
    w.copy()
    (nid,) = w.paste()
    x, y = graph.nodes[first].position
    assert graph.nodes[nid].position == (x + 2 * style.GRID, y + 2 * style.GRID)


def test_a_layer_put_into_a_wire_of_a_row_moves_the_rest_of_the_row_aside(canvas):
    """As Blender's auto-offset: the new layer takes the place after the wire's start, the layers after it in
    that row move one column on, nothing overlaps, and one undo puts everything back."""
    graph, stack = canvas.graph, canvas.stack
    for i, nid in enumerate(graph.topological_order()):  # one row, a column apart
        graph.move_node(nid, (i * style.LAYOUT_DX, 0.0))
    before = graph.to_dict()
    nid = canvas.scene.insert_on_edge(WIRE, type_id="dropout")
    assert nid is not None and Edge("dense_1", nid) in graph.edges and Edge(nid, "dense_2") in graph.edges
    boxes = [n.position for n in graph.nodes.values()]
    for i, (x, y) in enumerate(boxes):
        for bx, by in boxes[i + 1:]:
            assert abs(bx - x) >= style.NODE_W or abs(by - y) >= style.NODE_H  # no two overlap
    assert graph.nodes[nid].position[0] == graph.nodes["dense_1"].position[0] + style.LAYOUT_DX
    stack.undo()
    assert graph.to_dict() == before
