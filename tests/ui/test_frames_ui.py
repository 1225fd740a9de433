"""Frames in the real window, by synthesized keys and mouse: group (Ctrl+G), drag by the title strip, rename by
double-click, collapse and expand (button and menu), ungroup, delete a member; each one undo step that undo
reverses exactly. Also: the lock while training, a project replaced, and the Edit menu's entries."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.paths import EXAMPLES
from nnstudio.ui import frame_commands
from nnstudio.ui.actions import shortcut_clashes

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def win(open_window, qtbot):
    w = open_window(size=(1400, 900))
    layer = frame_commands.install(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow())
    w.view.setFocus()
    w.document.undo_stack.clear()
    w.layer = layer
    return w


def graph_state(w):
    g = w.document.graph
    return g.to_dict(), g.frames_to_list()


def group(w, qtbot, ids):
    w.scene.select_nodes(ids)
    QTest.keyClick(w.view.viewport(), Qt.Key.Key_G, CTRL)
    qtbot.waitUntil(lambda: bool(w.document.graph.frames))
    return next(iter(w.document.graph.frames))


def view_point(w, scene_point):
    return w.view.mapFromScene(scene_point)


def title_point(item):
    t = item.title_rect()
    return QPointF(t.left() + 30, t.center().y())


def test_ctrl_g_frames_the_selection_and_undo_removes_it(win, qtbot):
    before = graph_state(win)
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    frame = win.document.graph.frames[frame_id]
    assert frame.members == ["dense_1", "dense_2"] and win.document.undo_stack.count() == 1
    item = win.layer.items[frame_id]
    for nid in frame.members:  # the backdrop encloses its nodes and lies under them
        node = win.scene.node_item(nid)
        assert item.rect().contains(node.sceneBoundingRect().adjusted(2, 2, -2, -2))
        assert item.zValue() < node.zValue()
    win.document.undo_stack.undo()
    assert graph_state(win) == before and win.layer.items == {}


def test_grouping_nothing_says_why(win, qtbot):
    win.scene.clearSelection()
    with qtbot.waitSignal(win.scene.status_message) as msg:
        win.acts.group_frame.trigger()
    assert "Select the layers" in msg.args[0] and win.document.graph.frames == {}


def test_dragging_the_title_strip_moves_the_nodes_in_one_step(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    win.document.undo_stack.clear()
    g = win.document.graph
    before = {nid: g.nodes[nid].position for nid in g.nodes}
    item = win.layer.items[frame_id]
    start = view_point(win, title_point(item))
    vp = win.view.viewport()
    QTest.mousePress(vp, LEFT, NOMOD, start)
    for i in range(1, 6):
        QTest.mouseMove(vp, start + (QPointF(0, 120) * (i / 5)).toPoint())
    QTest.mouseRelease(vp, LEFT, NOMOD, start + QPointF(0, 120).toPoint())
    moved = {nid for nid in g.nodes if g.nodes[nid].position != before[nid]}
    assert moved == {"dense_1", "dense_2"}
    dy = g.nodes["dense_1"].position[1] - before["dense_1"][1]
    assert dy > 60 and g.nodes["dense_2"].position[1] - before["dense_2"][1] == dy
    assert win.document.undo_stack.count() == 1
    assert item.rect().contains(win.scene.node_item("dense_1").sceneBoundingRect())  # the frame followed
    win.document.undo_stack.undo()
    assert {nid: g.nodes[nid].position for nid in g.nodes} == before


def test_double_click_on_the_label_renames_it_as_plain_text(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1"])
    win.document.undo_stack.clear()
    item = win.layer.items[frame_id]
    point = view_point(win, title_point(item))
    QTest.mouseDClick(win.view.viewport(), LEFT, NOMOD, point)
    qtbot.waitUntil(lambda: item.editor is not None)
    editor = item.editor
    qtbot.waitUntil(lambda: QApplication.focusWidget() is editor)
    QTest.keyClicks(editor, "<b>Feature</b> F")  # F and Space are canvas keys too: here they are typed
    QTest.keyClick(editor, Qt.Key.Key_Return)
    frame = win.document.graph.frames[frame_id]
    assert frame.label == "<b>Feature</b> F" and item.label == "<b>Feature</b> F" and item.editor is None
    assert win.document.undo_stack.count() == 1
    win.document.undo_stack.undo()
    assert frame.label == "Frame 1"
    QTest.mouseDClick(win.view.viewport(), LEFT, NOMOD, point)  # Escape keeps the label as it was
    qtbot.waitUntil(lambda: item.editor is not None)
    QTest.keyClicks(item.editor, "dropped")
    QTest.keyClick(item.editor, Qt.Key.Key_Escape)
    assert frame.label == "Frame 1" and item.editor is None and win.document.undo_stack.index() == 0


def test_collapse_button_hides_members_shows_totals_and_expand_restores(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    win.document.undo_stack.clear()
    item, scene = win.layer.items[frame_id], win.scene
    QTest.mouseClick(win.view.viewport(), LEFT, NOMOD, view_point(win, item.button_rect().center()))
    frame = win.document.graph.frames[frame_id]
    assert frame.collapsed and win.document.undo_stack.count() == 1
    assert not scene.node_item("dense_1").isVisible() and not scene.node_item("dense_2").isVisible()
    assert scene.node_item("dense_3").isVisible()
    info = scene.info
    total = info.nodes["dense_1"].params + info.nodes["dense_2"].params
    assert item.summary == (f"2 layers · {total:,} parameters", f"→ {info.nodes['dense_2'].shape_text}")
    # wires from outside go to the box: input_vector_1 -> box, box -> dense_3
    ends = sorted((w.ends[0].x(), w.ends[1].x()) for w in win.layer.wires)
    assert len(ends) == 2 and ends[0][1] == item.rect().left() and ends[1][0] == item.rect().right()
    hidden = [scene.edge_item(e) for e in win.document.graph.edges if "dense_1" in (e.src, e.dst)]
    assert hidden and not any(e.isVisible() for e in hidden)
    scene.clearSelection()
    item.setSelected(True)
    win.acts.collapse_frame.trigger()  # the menu action expands it again
    assert not frame.collapsed and scene.node_item("dense_1").isVisible() and win.layer.wires == []
    assert all(e.isVisible() for e in hidden)
    win.document.undo_stack.undo()
    win.document.undo_stack.undo()
    assert not frame.collapsed and scene.node_item("dense_2").isVisible()


def test_ungroup_removes_the_frame_and_undo_puts_the_same_back(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    win.document.graph.update_frame(frame_id, color="#d98b3a", label="Block")
    before = graph_state(win)
    win.document.undo_stack.clear()
    win.scene.select_nodes(["dense_2"])
    QTest.keyClick(win.view.viewport(), Qt.Key.Key_G, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert win.document.graph.frames == {} and win.layer.items == {}
    assert win.document.graph.to_dict() == before[0]
    win.document.undo_stack.undo()
    assert graph_state(win) == before and set(win.layer.items) == {frame_id}


def test_deleting_a_member_shrinks_the_frame_and_undo_restores_it(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    before = graph_state(win)
    win.scene.select_nodes(["dense_1"])
    win.scene.delete_selection()
    assert win.document.graph.frames[frame_id].members == ["dense_2"]
    item = win.layer.items[frame_id]
    assert item.rect().width() < 2 * 180
    win.document.undo_stack.undo()
    assert graph_state(win) == before and item.rect().width() > 2 * 180


def test_regrouping_takes_layers_out_of_their_frame_in_one_step(win, qtbot):
    first = group(win, qtbot, ["dense_1", "dense_2"])
    before = graph_state(win)
    win.scene.select_nodes(["dense_2", "dense_3"])
    win.acts.group_frame.trigger()
    frames = win.document.graph.frames
    assert frames[first].members == ["dense_1"] and len(frames) == 2
    win.document.undo_stack.undo()
    assert graph_state(win) == before


def test_locked_canvas_refuses_frame_edits(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1"])
    before = graph_state(win)
    win.scene.set_locked(True)
    win.scene.select_nodes(["dense_2"])
    with qtbot.waitSignal(win.scene.status_message) as msg:
        win.acts.group_frame.trigger()
    assert "locked" in msg.args[0]
    item = win.layer.items[frame_id]
    start = view_point(win, title_point(item))
    QTest.mousePress(win.view.viewport(), LEFT, NOMOD, start)
    QTest.mouseMove(win.view.viewport(), start + QPointF(0, 100).toPoint())
    QTest.mouseRelease(win.view.viewport(), LEFT, NOMOD, start + QPointF(0, 100).toPoint())
    QTest.mouseClick(win.view.viewport(), LEFT, NOMOD, view_point(win, item.button_rect().center()))
    assert graph_state(win) == before
    win.scene.set_locked(False)


def test_opening_a_project_shows_its_frames_and_new_clears_them(win, qtbot):
    assert win.load_file(DATA / "project_v3.nnstudio")
    layer, scene = win.layer, win.scene
    assert set(layer.items) == {"frame_1", "frame_2"}
    assert layer.items["frame_2"].collapsed and layer.items["frame_2"].label == "Head <b>not bold</b>"
    assert not scene.node_item("output_1").isVisible() and scene.node_item("dense_1").isVisible()
    assert layer.items["frame_2"].scene() is scene
    assert win.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    assert layer.items == {} and layer.graph is win.document.graph
    assert all(n.isVisible() for n in scene.node_items())


def test_the_edit_menu_has_the_frame_actions_without_clashes(win):
    edit = win.acts.menus["edit"]
    texts = [a.text() for a in edit.actions()]
    for name, (text, key, _tip) in frame_commands.ACTIONS.items():
        assert text in texts and getattr(win.acts, name).shortcut().toString() == key
    assert shortcut_clashes(win) == {}
    letters = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
    assert len(letters) == len(set(letters)), texts


def test_the_frame_follows_a_member_dragged_by_the_mouse(win, qtbot):
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    item, node = win.layer.items[frame_id], win.scene.node_item("dense_2")
    bottom = item.rect().bottom()
    vp = win.view.viewport()
    start = view_point(win, node.mapToScene(QPointF(90, 12)))
    QTest.mousePress(vp, LEFT, NOMOD, start)
    for i in range(1, 6):
        QTest.mouseMove(vp, start + (QPointF(0, 160) * (i / 5)).toPoint())
    qtbot.waitUntil(lambda: item.rect().bottom() > bottom + 100)  # before the release: live
    assert item.rect().contains(node.sceneBoundingRect())
    QTest.mouseRelease(vp, LEFT, NOMOD, start + QPointF(0, 160).toPoint())
    assert win.document.graph.nodes["dense_2"].position[1] > 100
    win.document.undo_stack.undo()
    qtbot.waitUntil(lambda: abs(item.rect().bottom() - bottom) < 1)


def test_layers_hidden_in_a_collapsed_frame_are_not_selected_nor_walked_to(win, qtbot):
    """Select All then Delete must not delete layers the person cannot see, and the arrow keys step over a
    collapsed frame's layers to the next visible one."""
    frame_id = group(win, qtbot, ["dense_1", "dense_2"])
    item, scene = win.layer.items[frame_id], win.scene
    QTest.mouseClick(win.view.viewport(), LEFT, NOMOD, view_point(win, item.button_rect().center()))
    assert win.document.graph.frames[frame_id].collapsed
    win.view.setFocus()
    QTest.keyClick(win.view.viewport(), Qt.Key.Key_A, CTRL)
    selected = set(scene.selected_node_ids())
    assert selected and not selected & {"dense_1", "dense_2"}
    scene.select_nodes(["input_vector_1"])
    QTest.keyClick(win.view, Qt.Key.Key_Right)
    now = scene.selected_node_ids()
    assert now and now[0] not in {"dense_1", "dense_2"}, now


def test_opening_an_imported_block_unfolds_it_and_closing_gives_the_room_back(win, qtbot):
    """An imported block's layers lie folded under its box: opening it lays them out side by side (one undo
    step with the expand), closing it again puts the network back as the import laid it out."""
    import sys

    from nnstudio.core import block_layout
    from nnstudio.core.importer import import_module

    sys.path.insert(0, str(DATA.parent / "core"))
    from torchvision_models import resnet18

    win.document.import_project(import_module(resnet18(num_classes=10), (3, 32, 32)).project)
    graph, stack = win.document.graph, win.document.undo_stack
    imported = {nid: tuple(n.position) for nid, n in graph.nodes.items()}
    frame_id = next(f.id for f in graph.frames.values() if f.label.startswith("layer2.0"))
    win.layer.on_edit("toggle", frame_id)  # the box's expand button
    frame = graph.frames[frame_id]
    assert not frame.collapsed and stack.count() == 1 and not block_layout.folded(graph, frame_id)
    assert all(win.scene.node_item(nid).isVisible() for nid in frame.members)
    stack.undo()
    assert graph.frames[frame_id].collapsed and {nid: tuple(n.position) for nid, n in graph.nodes.items()} == imported
    stack.redo()
    win.layer.on_edit("toggle", frame_id)  # and closed again
    assert graph.frames[frame_id].collapsed
    assert {nid: tuple(n.position) for nid, n in graph.nodes.items()} == imported
