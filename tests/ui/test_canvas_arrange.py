"""Align, distribute and auto layout in both directions (each one undo step, on the grid), and View > Arrange."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.graph import Graph
from nnstudio.ui.actions import shortcut_clashes
from nnstudio.ui.canvas import align, style
from nnstudio.ui.canvas.layout import TOP_TO_BOTTOM, fit_zoom, layered_positions


def scattered() -> Graph:
    """Four unwired Dense layers at odd, off-grid places."""
    g = Graph()
    for i, pos in enumerate([(13.0, 7.0), (260.0, 133.0), (610.0, -41.0), (905.0, 260.0)]):
        g.add_node("dense", position=pos, node_id=f"d{i}")
    return g


def positions(graph: Graph) -> dict[str, tuple[float, float]]:
    return {nid: tuple(n.position) for nid, n in graph.nodes.items()}


def on_grid(v: float) -> bool:
    return v == pytest.approx(style.snap(v))


@pytest.mark.parametrize("mode, axis, expected", [
    ("left", 0, 20.0), ("right", 0, 900.0), ("centre", 0, 460.0),
    ("top", 1, -40.0), ("bottom", 1, 260.0), ("middle", 1, 100.0),
])
def test_align_lines_the_selection_up_in_one_undo_step(make_canvas, mode, axis, expected):
    c = make_canvas(scattered())
    before = positions(c.graph)
    c.scene.select_nodes(["d0", "d1", "d2", "d3"])
    assert align.align(c.scene, mode)
    after = positions(c.graph)
    assert {p[axis] for p in after.values()} == {expected}
    assert all(after[n][1 - axis] == before[n][1 - axis] for n in after)  # the other axis stays
    assert c.stack.count() == 1
    item = c.scene.node_item("d2")
    assert (item.pos().x(), item.pos().y()) == after["d2"]  # the canvas follows the model
    c.stack.undo()
    assert positions(c.graph) == before


def test_align_needs_two_layers_and_says_so(make_canvas, qtbot):
    c = make_canvas(scattered())
    c.scene.select_nodes(["d1"])
    with qtbot.waitSignal(c.scene.status_message, timeout=1000) as msg:
        assert not align.align(c.scene, "left")
    assert "2 or more" in msg.args[0] and c.stack.count() == 0


def test_distribute_gives_equal_gaps_on_the_grid(make_canvas):
    c = make_canvas(scattered())
    before = positions(c.graph)
    c.scene.select_nodes(["d0", "d1", "d2", "d3"])
    assert align.distribute(c.scene, "horizontal")
    xs = sorted(p[0] for p in positions(c.graph).values())
    assert xs[0] == 20.0 and xs[-1] == 900.0  # the ends stay (on the grid)
    gaps = [b - a for a, b in zip(xs, xs[1:])]
    assert max(gaps) - min(gaps) <= style.GRID and all(on_grid(x) for x in xs)
    assert [positions(c.graph)[n][1] for n in before] == [p[1] for p in before.values()]
    assert c.stack.count() == 1
    c.stack.undo()
    assert positions(c.graph) == before
    c.scene.select_nodes(["d0", "d1", "d2", "d3"])
    assert align.distribute(c.scene, "vertical")
    order = sorted(c.graph.nodes, key=lambda n: before[n][1])
    ys = [c.graph.nodes[n].position[1] for n in order]
    assert ys == [-40.0, 60.0, 160.0, 260.0]


def test_arranging_is_refused_while_training(make_canvas, qtbot):
    c = make_canvas(scattered())
    before = positions(c.graph)
    c.scene.select_nodes(["d0", "d1", "d2"])
    c.scene.set_locked(True)
    for gesture in (lambda: align.align(c.scene, "top"), lambda: align.distribute(c.scene, "vertical"),
                    lambda: align.auto_layout(c.scene, TOP_TO_BOTTOM)):
        with qtbot.waitSignal(c.scene.status_message, timeout=1000) as msg:
            assert not gesture()
        assert "locked" in msg.args[0]
    assert positions(c.graph) == before and c.stack.count() == 0


def chain(n: int) -> Graph:
    g = Graph()
    prev = None
    for i in range(n):
        type_id = "input_vector" if i == 0 else "output" if i == n - 1 else "dense"
        node = g.add_node(type_id, position=(i * style.LAYOUT_DX, 0.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    return g


def extent(pos: dict) -> tuple[float, float]:
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    return max(xs) - min(xs) + style.NODE_W, max(ys) - min(ys) + style.NODE_H


def overlaps(pos: dict) -> bool:
    boxes = list(pos.values())
    return any(abs(a[0] - b[0]) < style.NODE_W and abs(a[1] - b[1]) < style.NODE_H
               for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("n", [10, 20, 30])
def test_top_to_bottom_reads_downwards_and_stays_readable(n):
    g = chain(n)
    pos = layered_positions(g, area=(1100, 600), direction=TOP_TO_BOTTOM)
    order = g.topological_order()
    assert pos[order[1]][1] > pos[order[0]][1] and pos[order[1]][0] == pos[order[0]][0]  # the next is below
    assert not overlaps(pos) and all(on_grid(v) for p in pos.values() for v in p)
    assert fit_zoom(*extent(pos), (1096, 596)) >= style.MIN_READABLE_ZOOM


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_both_directions_keep_the_examples_apart(name):
    g = EXAMPLES[name]().graph
    for direction in ("left_to_right", TOP_TO_BOTTOM):
        pos = layered_positions(g, area=(1100, 600), direction=direction)
        assert set(pos) == set(g.nodes) and not overlaps(pos)
        assert all(v == style.snap(v) for p in pos.values() for v in p)


def test_auto_layout_top_to_bottom_is_one_undo_step(make_canvas):
    c = make_canvas(chain(12))
    before = positions(c.graph)
    assert align.auto_layout(c.scene, TOP_TO_BOTTOM)
    after = positions(c.graph)
    order = c.graph.topological_order()
    assert after[order[1]][1] > after[order[0]][1] and after != before
    assert c.stack.count() == 1 and "top to bottom" in c.stack.undoText()
    c.stack.undo()
    assert positions(c.graph) == before


def test_arrange_menu_and_shortcuts(open_window, qtbot):
    w = open_window()
    acts = align.install(w)
    texts = [a.text() for a in acts.arrange_menu.actions() if not a.isSeparator()]
    assert texts[:6] == ["Align &Left", "Align &Centre", "Align &Right", "Align &Top", "Align &Middle",
                         "Align &Bottom"]
    assert acts.arrange_menu.menuAction() in w.acts.menus["view"].actions()
    assert acts.minimap in w.acts.menus["view"].actions()
    letters = [t.split("&")[1][0].lower() for t in texts]
    assert len(set(letters)) == len(letters)
    assert shortcut_clashes(w) == {}
    graph = w.document.graph
    before = positions(graph)
    w.scene.select_nodes(list(graph.nodes)[:3])
    w.view.setFocus()
    qtbot.waitUntil(w.view.hasFocus)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    QTest.keyClick(w.view, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    QApplication.processEvents()
    tops = {graph.nodes[n].position[1] for n in list(graph.nodes)[:3]}
    assert tops == {min(before[n][1] for n in list(graph.nodes)[:3])}
    w.document.undo_stack.undo()
    assert positions(graph) == before
    acts.layout_top_to_bottom.trigger()
    order = graph.topological_order()
    assert graph.nodes[order[1]].position[1] > graph.nodes[order[0]].position[1]


def test_no_mnemonic_or_shortcut_clash_once_installed(open_window):
    from test_menus import clashes, every_menu

    w = open_window()
    align.install(w)
    menus = every_menu(w)
    assert "View > Arrange" in menus
    assert {path: c for path, actions in menus.items() if (c := clashes(actions))} == {}
    assert shortcut_clashes(w) == {}
    edit = [a.text() for a in w.acts.menus["edit"].actions()]
    assert "Connect to Ne&xt Layer" in edit and "Edit First Para&meter" in edit
