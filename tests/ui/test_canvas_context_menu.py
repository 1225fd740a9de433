"""The canvas's context menus in a real window: on a layer, on a wire and on empty canvas. Each action is
triggered as the menu would, and each edit is checked, with its undo, against the graph."""

from __future__ import annotations

import re

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.graph import Edge
from nnstudio.ui.canvas import context_menu
from nnstudio.ui.canvas.context_menu import build_menu


def cnn_window(open_window):
    window = open_window(example="digits_cnn")
    context_menu.install(window)
    window.document.undo_stack.clear()
    return window


def node_point(window, node_id: str) -> QPointF:
    return window.scene.node_item(node_id).sceneBoundingRect().center()


def wire_point(window, edge: Edge) -> QPointF:
    item = window.scene.edge_item(edge)
    return item.mapToScene(item.path().pointAtPercent(0.5))


def empty_point(window) -> QPointF:
    rect = window.scene.nodes_rect()
    return QPointF(rect.center().x(), rect.bottom() + 300)


def names(menu) -> list[str]:
    return [a.objectName().removeprefix("context_") for a in menu.actions() if not a.isSeparator()]


def trigger(menu, name: str) -> None:
    action = next(a for a in menu.actions() if a.objectName() == f"context_{name}")
    assert action.isEnabled(), name
    action.trigger()


def mnemonics_unique(menu) -> bool:
    letters = [re.search(r"&(\w)", a.text()).group(1).lower() for a in menu.actions() if not a.isSeparator()]
    return len(letters) == len(set(letters))


def test_the_three_menus_hold_their_actions_with_unique_mnemonics(open_window):
    window = cnn_window(open_window)
    node = build_menu(window, node_point(window, "dense_1"))
    assert names(node) == ["rename", "duplicate", "delete", "disconnect", "insert_after", "select_upstream",
                           "select_downstream", "show_summary"]
    wire = build_menu(window, wire_point(window, Edge("flatten_1", "dense_1")))
    assert names(wire) == ["insert_on_wire", "delete_wire"]
    canvas = build_menu(window, empty_point(window))
    assert names(canvas) == ["add_layer", "paste_here", "auto_layout", "fit", "select_all"]
    for menu in (node, wire, canvas):
        assert mnemonics_unique(menu)
    duplicate = next(a for a in node.actions() if a.objectName() == "context_duplicate")
    assert duplicate.text().endswith("\tCtrl+D") and not duplicate.shortcuts()  # shown, never bound twice


def test_duplicate_and_delete_act_on_the_clicked_layer_as_one_step(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    before = graph.to_dict()
    window.scene.select_nodes(["conv2d_1"])
    trigger(build_menu(window, node_point(window, "dense_1")), "duplicate")
    new = set(graph.nodes) - {n["id"] for n in before["nodes"]}
    assert len(new) == 1 and graph.nodes[new.pop()].type_id == "dense"  # the clicked one, not conv2d_1
    stack.undo()
    assert graph.to_dict() == before
    trigger(build_menu(window, node_point(window, "dense_1")), "delete")
    assert "dense_1" not in graph.nodes and stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_disconnect_all_removes_every_wire_of_the_layer_in_one_step(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    before = graph.to_dict()
    trigger(build_menu(window, node_point(window, "dense_1")), "disconnect")
    assert not [e for e in graph.edges if "dense_1" in (e.src, e.dst)]
    assert len(graph.edges) == len(before["edges"]) - 2 and stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_select_upstream_and_downstream(open_window):
    window = cnn_window(open_window)
    scene = window.scene
    trigger(build_menu(window, node_point(window, "maxpool2d_1")), "select_upstream")
    assert set(scene.selected_node_ids()) == {"input_image_1", "conv2d_1", "maxpool2d_1"}
    trigger(build_menu(window, node_point(window, "dense_1")), "select_downstream")
    assert set(scene.selected_node_ids()) == {"dense_1", "dense_2", "output_1"}


def test_rename_goes_to_the_name_field_and_renames_as_one_step(open_window, qtbot):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    graph.set_label("dense_1", "hidden")
    window.scene.select_nodes(["conv2d_1"])
    trigger(build_menu(window, node_point(window, "dense_1")), "rename")
    assert window.scene.selected_node_ids() == ["dense_1"]
    edit = window.inspector.label_edit
    assert edit.isVisible() and edit.selectedText() == "hidden"  # ready to be typed over
    assert window.focusWidget() is edit  # the window's focus (it is not the active window offscreen)
    edit.setText("features")
    edit.editingFinished.emit()
    assert graph.nodes["dense_1"].label == "features" and stack.count() == 1
    stack.undo()
    assert graph.nodes["dense_1"].label == "hidden"


def test_show_in_summary_selects_its_row(open_window, qtbot):
    window = cnn_window(open_window)
    window.scene.select_nodes(["conv2d_1"])
    trigger(build_menu(window, node_point(window, "dense_2")), "show_summary")
    assert window.summary.selected_node_id() == "dense_2"
    assert window.docks["dock_summary"].isVisible()


def test_insert_layer_after_opens_the_search_wired_after_the_layer(open_window):
    window = cnn_window(open_window)
    graph = window.document.graph
    trigger(build_menu(window, node_point(window, "dense_2")), "insert_after")
    popup = QApplication.activePopupWidget()
    assert popup is not None and popup.after == "dense_2"
    QTest.keyClicks(popup.search, "dropout")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    (nid,) = popup.placed
    assert Edge("dense_2", nid) in graph.edges
    x, y = graph.nodes[nid].position
    boxes = [n.position for k, n in graph.nodes.items() if k != nid]
    assert not any(abs(bx - x) < 180 and abs(by - y) < 85 for bx, by in boxes)  # on no other layer


def test_an_output_offers_no_insert_after(open_window):
    window = cnn_window(open_window)
    menu = build_menu(window, node_point(window, "output_1"))
    action = next(a for a in menu.actions() if a.objectName() == "context_insert_after")
    assert not action.isEnabled()


def test_insert_on_a_wire_puts_the_chosen_layer_into_it(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    before = graph.to_dict()
    edge = Edge("flatten_1", "dense_1")
    trigger(build_menu(window, wire_point(window, edge)), "insert_on_wire")
    popup = QApplication.activePopupWidget()
    assert popup is not None and popup.edge == edge
    QTest.keyClicks(popup.search, "dropout")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    (nid,) = popup.placed
    assert graph.nodes[nid].type_id == "dropout"
    assert Edge("flatten_1", nid) in graph.edges and Edge(nid, "dense_1") in graph.edges
    assert edge not in graph.edges and stack.count() == 1
    stack.undo()
    assert graph.to_dict() == before


def test_delete_wire(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    before = graph.to_dict()
    edge = Edge("flatten_1", "dense_1")
    trigger(build_menu(window, wire_point(window, edge)), "delete_wire")
    assert edge not in graph.edges and len(graph.nodes) == len(before["nodes"])
    stack.undo()
    assert graph.to_dict() == before


def test_paste_here_puts_the_copy_at_the_point(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    window.scene.select_nodes(["conv2d_1", "maxpool2d_1"])
    assert window.copy()
    at = empty_point(window)
    trigger(build_menu(window, at), "paste_here")
    new = window.scene.selected_node_ids()
    assert len(new) == 2 and not {"conv2d_1", "maxpool2d_1"} & set(new)
    assert len([e for e in graph.edges if e.src in new and e.dst in new]) == 1  # the wire between them
    left = min(graph.nodes[n].position[0] for n in new)
    top = min(graph.nodes[n].position[1] for n in new)
    assert abs(left - at.x()) <= 20 and abs(top - at.y()) <= 20
    assert stack.count() == 1


def test_canvas_menu_add_layout_select_all(open_window):
    window = cnn_window(open_window)
    graph, stack = window.document.graph, window.document.undo_stack
    trigger(build_menu(window, empty_point(window)), "select_all")
    assert set(window.scene.selected_node_ids()) == set(graph.nodes)
    window.scene.clearSelection()
    for nid in graph.nodes:  # scatter the layers, then lay them out again
        graph.move_node(nid, (0.0, 0.0))
    trigger(build_menu(window, empty_point(window)), "auto_layout")
    assert len({tuple(n.position) for n in graph.nodes.values()}) == len(graph.nodes)
    assert stack.count() == 1
    trigger(build_menu(window, empty_point(window)), "add_layer")
    popup = QApplication.activePopupWidget()
    assert popup is not None and popup.after is None and popup.edge is None
    popup.close()


def test_edits_from_the_menu_are_refused_while_training(open_window, qtbot):
    window = cnn_window(open_window)
    graph = window.document.graph
    before = graph.to_dict()
    window.scene.set_locked(True)
    for name in ("delete", "disconnect", "duplicate"):
        with qtbot.waitSignal(window.scene.status_message, timeout=1000) as msg:
            trigger(build_menu(window, node_point(window, "dense_1")), name)
        assert "locked" in msg.args[0]
    with qtbot.waitSignal(window.scene.status_message, timeout=1000):
        trigger(build_menu(window, wire_point(window, Edge("flatten_1", "dense_1"))), "delete_wire")
    assert graph.to_dict() == before


def right_click(window, scene_point: QPointF) -> list[str] | None:
    """Send the viewport the context-menu event a right click makes (QTest's clicks make none) and return
    the names of the actions of the menu that opens (closed again by a timer)."""
    view, shown = window.view, []

    def look_and_close():
        menu = QApplication.activePopupWidget()
        shown.append(names(menu) if menu is not None else None)
        if menu is not None:
            menu.close()

    QTimer.singleShot(200, look_and_close)
    pos = view.mapFromScene(scene_point)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos))
    QApplication.sendEvent(view.viewport(), event)  # returns once the menu is closed
    return shown[0] if shown else None


def test_a_right_click_on_a_layer_shows_its_menu(open_window):
    window = cnn_window(open_window)
    window.scene.select_nodes(["conv2d_1"])
    assert right_click(window, node_point(window, "dense_1"))[0] == "rename"
    assert window.scene.selected_node_ids() == ["dense_1"]


def test_a_right_click_on_a_wire_or_the_canvas_shows_theirs(open_window):
    window = cnn_window(open_window)
    assert right_click(window, wire_point(window, Edge("flatten_1", "dense_1"))) == ["insert_on_wire",
                                                                                     "delete_wire"]
    assert right_click(window, empty_point(window))[0] == "add_layer"
