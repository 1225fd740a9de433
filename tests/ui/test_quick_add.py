"""The quick-add search in a real window: opened by a wire let go in space, by Tab and by a double-click
request; typing filters, the arrows move, Enter or a click places the layer wired, Escape leaves all as it
was, and each placement is one undo step."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from nnstudio.core.graph import Edge
from nnstudio.ui.canvas import context_menu, style
from nnstudio.ui.canvas.quick_add import QuickAdd, open_quick_add

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier


def cnn_window(open_window):
    window = open_window(example="digits_cnn")
    context_menu.install(window)
    window.document.undo_stack.clear()
    return window


def empty_point(window, dy: float = 260.0) -> QPointF:
    rect = window.scene.nodes_rect()
    return QPointF(rect.center().x(), rect.bottom() + dy)


def type_and_enter(qtbot, popup: QuickAdd, text: str, downs: int = 0) -> None:
    QTest.keyClicks(popup.search, text)
    for _ in range(downs):
        QTest.keyClick(popup.search, Qt.Key.Key_Down)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)


def test_a_wire_let_go_in_space_offers_what_fits_and_places_a_flatten_dense_pair(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack, view = window.document.graph, window.document.undo_stack, window.view
    before = graph.to_dict()
    start = view.mapFromScene(window.scene.node_item("conv2d_2").out_port.scenePos())
    end = view.mapFromScene(empty_point(window))
    vp = view.viewport()
    QTest.mousePress(vp, LEFT, NOMOD, start)
    for i in range(1, 6):
        QTest.mouseMove(vp, start + (end - start) * (i / 5))
    QTest.mouseRelease(vp, LEFT, NOMOD, end)
    popup = window.quick_add_hooks.popup
    assert popup is not None and popup.isVisible() and popup.after == "conv2d_2"
    shown = popup.visible_titles()
    assert shown[:3] == ["Conv2D", "MaxPool2D", "AvgPool2D"] and "Dense" not in shown
    type_and_enter(qtbot, popup, "DENSE")
    assert popup.visible_titles()[0] == "Flatten \u2192 Dense"
    assert not popup.isVisible()
    flat, dense = popup.placed
    assert graph.nodes[flat].type_id == "flatten" and graph.nodes[dense].type_id == "dense"
    assert Edge("conv2d_2", flat) in graph.edges and Edge(flat, dense) in graph.edges
    assert window.scene.selected_node_ids() == [dense]
    assert stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_arrow_keys_move_and_enter_places_at_the_release_point(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    at = empty_point(window)
    popup = window.quick_add_hooks.on_wire_released("maxpool2d_2", "out", at)
    assert popup.list.currentItem().text() == popup.visible_titles()[0] == "Conv2D"
    QTest.keyClick(popup.search, Qt.Key.Key_Down)
    QTest.keyClick(popup.search, Qt.Key.Key_Down)
    QTest.keyClick(popup.search, Qt.Key.Key_Up)
    assert popup.current_entry().type_id == "maxpool2d"
    QTest.keyClick(popup.search, Qt.Key.Key_Enter)
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "maxpool2d" and Edge("maxpool2d_2", nid) in graph.edges
    x, y = graph.nodes[nid].position
    assert abs(x - at.x()) <= 20 and abs(y - at.y()) <= 80  # there, snapped to the grid
    assert stack.count() == 1


def test_escape_closes_without_a_change(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    before = graph.to_dict()
    popup = window.quick_add_hooks.on_requested(empty_point(window))
    QTest.keyClicks(popup.search, "conv")
    QTest.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible() and popup.placed == []
    assert graph.to_dict() == before and stack.count() == 0


def test_a_click_places_the_clicked_layer(open_window, qtbot):
    window = cnn_window(open_window)
    graph = window.document.graph
    window.scene.clearSelection()
    popup = window.quick_add_hooks.on_requested(empty_point(window))
    assert popup.after is None and popup.visible_titles()[0] == "Input (vector)"  # the whole catalogue
    QTest.keyClicks(popup.search, "global_avg")
    assert popup.visible_titles() == ["GlobalAveragePool"]  # by type id
    item = popup.list.item(0)
    QTest.mouseClick(popup.list.viewport(), LEFT, NOMOD, popup.list.visualItemRect(item).center())
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "global_avg_pool" and not graph.inputs_of(nid)


def test_tab_on_the_canvas_opens_it_wired_after_the_selected_layer(open_window, qtbot):
    window = cnn_window(open_window)
    graph, view = window.document.graph, window.view
    window.scene.select_nodes(["dense_1"])
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Tab)
    popup = window.quick_add_hooks.popup
    assert popup is not None and popup.isVisible() and popup.after == "dense_1"
    assert view.hasFocus() or popup.search.hasFocus()  # Tab did not move the focus elsewhere in the window
    type_and_enter(qtbot, popup, "dropout")
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "dropout" and Edge("dense_1", nid) in graph.edges


def test_a_wire_dragged_back_from_an_input_places_a_feeder(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    graph.disconnect(Edge("flatten_1", "dense_1"))
    before = graph.to_dict()
    popup = window.quick_add_hooks.on_wire_released("dense_1", "in", empty_point(window))
    assert popup.before == "dense_1" and popup.visible_titles()[0] == "Flatten"
    assert "Conv2D" not in popup.visible_titles()
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "flatten" and Edge(nid, "dense_1") in graph.edges
    assert stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_layers_that_do_not_fit_show_only_when_searched_and_cannot_be_chosen(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    popup = window.quick_add_hooks.on_wire_released("conv2d_1", "out", empty_point(window))
    assert not any("does not fit" in t for t in popup.visible_titles())
    QTest.keyClicks(popup.search, "lstm")
    assert popup.visible_titles() == ["LSTM  (does not fit)"]
    assert "sequence" in popup.list.item(0).toolTip()
    before = graph.to_dict()
    with qtbot.waitSignal(window.scene.status_message, timeout=1000) as msg:
        QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert "No layer matches" in msg.args[0]
    assert popup.isVisible() and graph.to_dict() == before and stack.count() == 0
    popup.close()


def test_locked_canvas_refuses_to_open_it(open_window, qtbot):
    window = cnn_window(open_window)
    window.scene.set_locked(True)
    with qtbot.waitSignal(window.scene.status_message, timeout=1000) as msg:
        assert open_quick_add(window.view, empty_point(window)) is None
    assert "locked" in msg.args[0]
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert window.quick_add_hooks.popup is None


def test_a_popup_left_open_while_training_starts_adds_nothing(open_window, qtbot):
    window = cnn_window(open_window)
    graph = window.document.graph
    before = graph.to_dict()
    popup = window.quick_add_hooks.on_requested(empty_point(window))
    window.scene.set_locked(True)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert graph.to_dict() == before and popup.placed == []


def test_a_double_click_on_empty_canvas_opens_it_there(open_window, qtbot):
    window = cnn_window(open_window)
    graph, view = window.document.graph, window.view
    window.scene.clearSelection()
    at = empty_point(window, dy=120.0)
    QTest.mouseDClick(view.viewport(), LEFT, NOMOD, view.mapFromScene(at))
    popup = window.quick_add_hooks.popup
    assert popup is not None and popup.isVisible() and popup.after is None
    type_and_enter(qtbot, popup, "input (image")
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "input_image"
    x, y = graph.nodes[nid].position
    assert abs(x + 90 - at.x()) <= 20 and abs(y + 42 - at.y()) <= 20  # centred on the double-click


def test_tab_again_and_again_at_one_place_lays_the_new_layers_out_in_a_chain(open_window, qtbot):
    """Building by keyboard alone: Tab, a word, Enter, over and over, with the mouse still. Every new layer is
    wired after the last and goes beside it, never on top of it."""
    window = open_window(example=None)
    context_menu.install(window)
    view, scene = window.view, window.scene
    first = scene.add_node("input_image", QPointF(0, 0))
    window.quick_add_hooks.cursor_scene_pos = lambda: QPointF(60, 60)  # the mouse rests over the first layer
    view.setFocus()
    chain = [first]
    for word in ("conv2d", "maxpool", "flatten", "dense"):
        QTest.keyClick(view, Qt.Key.Key_Tab)
        popup = window.quick_add_hooks.popup
        type_and_enter(qtbot, popup, word)
        chain.append(popup.placed[-1])
    graph = window.document.graph
    assert all(Edge(a, b) in graph.edges for a, b in zip(chain, chain[1:]))
    boxes = [graph.nodes[n].position for n in chain]
    for i, (x, y) in enumerate(boxes):
        for bx, by in boxes[i + 1:]:
            assert abs(bx - x) >= style.NODE_W or abs(by - y) >= style.NODE_H  # no two overlap
