"""The minimap: shown only while the network does not fit, kept in its corner, click to move the view, drawn
from a pixmap that is rebuilt only when the network changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.graph import Graph
from nnstudio.ui.canvas import align, style
from nnstudio.ui.canvas.minimap import MARGIN, Minimap


def long_chain(n: int) -> Graph:
    g = Graph()
    prev = None
    for i in range(n):
        type_id = "input_vector" if i == 0 else "output" if i == n - 1 else "dense"
        node = g.add_node(type_id, position=((i % 20) * style.LAYOUT_DX, (i // 20) * 180.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    return g


@pytest.fixture
def mapped(make_canvas):
    c = make_canvas(long_chain(60))
    c.minimap = Minimap(c.view)
    QApplication.processEvents()
    return c


def in_corner(c) -> bool:
    vp = c.view.viewport().geometry()
    geo = c.minimap.geometry()
    return geo.right() == vp.right() - MARGIN and geo.bottom() == vp.bottom() - MARGIN


def test_shown_only_while_the_network_does_not_fit(mapped, make_canvas):
    c = mapped
    c.view.fit()  # 60 layers at a readable zoom do not fit 1000 x 500
    QApplication.processEvents()
    assert c.minimap.isVisible() and in_corner(c)
    c.view.zoom_by(0.1)  # everything in sight: no map
    QApplication.processEvents()
    assert not c.minimap.isVisible()
    small = make_canvas(long_chain(3))
    small_map = Minimap(small.view)
    small.view.fit()
    QApplication.processEvents()
    assert not small_map.isVisible()


def test_never_in_the_overview_and_can_be_switched_off(mapped):
    c = mapped
    c.view.fit()
    QApplication.processEvents()
    assert c.minimap.isVisible()
    c.minimap.set_enabled(False)
    assert not c.minimap.isVisible()
    c.minimap.set_enabled(True)
    assert c.minimap.isVisible()
    c.view.set_overview(True)
    c.view.zoom_by(1.25)
    QApplication.processEvents()
    assert not c.minimap.isVisible()


def test_stays_in_its_corner_when_the_canvas_is_resized(mapped, qtbot):
    c = mapped
    c.view.fit()
    for size in ((700, 420), (1200, 640)):
        c.view.resize(*size)
        qtbot.waitUntil(lambda: in_corner(c), timeout=1000)
        assert c.minimap.isVisible()


def test_a_click_in_the_map_moves_the_view_there(mapped):
    c = mapped
    c.view.fit()
    QApplication.processEvents()
    last = c.graph.topological_order()[-1]
    target = c.scene.node_item(last).sceneBoundingRect().center()
    spot = c.minimap.to_map(target).toPoint()
    QTest.mouseClick(c.minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, spot)
    centre = c.view.mapToScene(c.view.viewport().rect().center())
    assert abs(centre.x() - target.x()) < 30 and abs(centre.y() - target.y()) < 30
    start = c.minimap.to_map(c.scene.nodes_rect().topLeft() + QPointF(90, 40)).toPoint()
    QTest.mousePress(c.minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, spot)
    QTest.mouseMove(c.minimap, start)
    QTest.mouseRelease(c.minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    centre = c.view.mapToScene(c.view.viewport().rect().center())
    assert centre.x() < target.x() - 1000  # dragged back towards the start


def test_the_network_is_drawn_again_only_when_it_changes(mapped, qtbot):
    c = mapped
    c.view.fit()
    c.minimap.repaint()
    first = c.minimap._pixmap
    assert first is not None
    c.view.horizontalScrollBar().setValue(c.view.horizontalScrollBar().value() + 300)
    c.minimap.repaint()
    assert c.minimap._pixmap is first  # scrolling repaints the rectangle only
    nid = c.graph.topological_order()[5]
    c.graph.move_node(nid, (5000.0, 3000.0))
    qtbot.waitUntil(lambda: c.minimap._pixmap is not first, timeout=1000)


def test_the_window_toggle(open_window):
    w = open_window()
    acts = align.install(w)
    assert acts.minimap.isChecked() and acts.minimap_widget.enabled
    w.view.fit()
    QApplication.processEvents()
    assert not acts.minimap_widget.isVisible()  # the example fits
    w.view.zoom_by(2.5)
    QApplication.processEvents()
    assert acts.minimap_widget.isVisible()
    acts.minimap.trigger()
    assert not acts.minimap_widget.enabled and not acts.minimap_widget.isVisible()


def test_moves_aside_from_a_selected_layer_under_it(mapped, qtbot):
    c = mapped
    assert c.minimap.isVisible() and in_corner(c)
    corner = c.view.mapToScene(c.minimap.geometry().center() - c.view.viewport().pos())
    under = min(c.scene.node_items(), key=lambda item: (item.sceneBoundingRect().center() - corner).manhattanLength())
    assert c.view.mapFromScene(under.sceneBoundingRect()).boundingRect().translated(
        c.view.viewport().pos()).intersects(c.minimap.geometry())
    c.scene.select_nodes([under.node_id])
    qtbot.waitUntil(lambda: not in_corner(c))
    vp = c.view.viewport().geometry()
    assert c.minimap.geometry().left() == vp.left() + MARGIN and c.minimap.isVisible()
    c.scene.clearSelection()
    qtbot.waitUntil(lambda: in_corner(c))
