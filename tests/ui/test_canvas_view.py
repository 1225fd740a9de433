"""The view: wheel zoom under the cursor (clamped), fit, panning, keyboard, and what it looks like."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QPalette, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnstudio.core.examples import EXAMPLES
from nnstudio.ui.canvas import style

SHOTS = Path("/tmp/nnstudio-canvas")


def wheel(view, at: QPoint, clicks: float) -> None:
    event = QWheelEvent(QPointF(at), QPointF(view.viewport().mapToGlobal(at)), QPoint(), QPoint(0, round(120 * clicks)),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def visible_rect(view):
    return view.mapToScene(view.viewport().rect()).boundingRect()


def test_wheel_zooms_around_the_cursor_and_is_clamped(canvas):
    view = canvas.view
    at = QPoint(700, 130)
    under = view.mapToScene(at)
    wheel(view, at, 2)
    assert view.zoom() == pytest.approx(1.44)
    after = view.mapToScene(at)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2  # the point stayed put
    wheel(view, at, -3)
    assert view.zoom() == pytest.approx(1.44 / 1.2 ** 3)
    for _ in range(30):
        wheel(view, at, 3)
    assert view.zoom() == pytest.approx(style.MAX_ZOOM)
    for _ in range(30):
        wheel(view, at, -3)
    assert view.zoom() == pytest.approx(style.MIN_ZOOM)


def test_zoom_in_out_buttons(canvas):
    canvas.view.zoom_in()
    assert canvas.view.zoom() == pytest.approx(1.25)
    canvas.view.zoom_out()
    canvas.view.zoom_out()
    assert canvas.view.zoom() == pytest.approx(0.8)


def test_fit_shows_every_node(canvas):
    view, scene, graph = canvas.view, canvas.scene, canvas.graph
    graph.move_node("output_1", (1100.0, 300.0))  # fits the 1000 x 500 view at a readable zoom below 100 %
    view.zoom_in()
    view.centerOn(-2000, -2000)
    view.fit()
    seen = visible_rect(view)
    for nid in graph.nodes:
        assert seen.contains(scene.node_item(nid).sceneBoundingRect()), nid
    assert style.MIN_READABLE_ZOOM <= view.zoom() < 1
    view.centerOn(-2000, -2000)
    QTest.keyClick(view, Qt.Key.Key_F)  # F fits too
    assert seen.contains(visible_rect(view).center())


def test_fit_does_not_blow_up_a_small_graph(make_canvas):
    from nnstudio.core.graph import Graph

    g = Graph()
    g.add_node("dense")
    c = make_canvas(g)
    c.view.fit()
    assert c.view.zoom() == pytest.approx(style.MAX_FIT_ZOOM)


def test_center_on_node(canvas):
    canvas.view.center_on_node("output_1")
    centre = visible_rect(canvas.view).center()
    assert canvas.scene.node_item("output_1").sceneBoundingRect().contains(centre)


def test_middle_button_and_space_drag_pan(canvas, qtbot):
    view = canvas.view
    vp = view.viewport()
    before = visible_rect(view).center()
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(500, 250))
    QTest.mouseMove(vp, QPoint(450, 200))
    QTest.mouseMove(vp, QPoint(400, 150))
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 150))
    moved = visible_rect(view).center() - before
    assert abs(moved.x() - 100) <= 1 and abs(moved.y() - 100) <= 1  # content follows the hand
    assert canvas.scene.selected_node_ids() == []

    before = visible_rect(view).center()
    QTest.keyPress(view, Qt.Key.Key_Space)
    start = canvas.to_view(canvas.scene.node_item("dense_1").mapToScene(QPointF(90, 12)))  # even over a node
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, start + QPoint(-60, 0))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-60, 0))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = visible_rect(view).center() - before
    assert abs(moved.x() - 60) <= 1 and abs(moved.y()) <= 1
    assert canvas.graph.nodes["dense_1"].position == (240.0, 0.0) and canvas.stack.count() == 0


def example_canvas(make_canvas, name: str):
    c = make_canvas(EXAMPLES[name]().graph)
    c.view.resize(1500, 360)
    c.watcher.refresh()
    c.view.fit()
    return c


def test_screenshot_of_the_digits_example_reads_clearly(make_canvas):
    c = example_canvas(make_canvas, "digits_cnn")
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / "digits_cnn.png"
    assert c.view.grab().save(str(path))
    img = c.view.grab().toImage()
    conv = c.scene.node_item("conv2d_1")
    assert "32 filters 3x3, ReLU" in conv.face_text() and "(N, 32, 26, 26)" in conv.face_text()
    assert "320 params" in conv.face_text()
    # the card is painted: its fill differs from the canvas around it
    inside = c.to_view(conv.mapToScene(QPointF(150, 60)))
    outside = c.to_view(conv.mapToScene(QPointF(90, -30)))
    assert img.pixelColor(inside) != img.pixelColor(outside)
    seen = visible_rect(c.view)
    assert all(seen.contains(i.sceneBoundingRect()) for i in c.scene.node_items())


def test_dark_palette_keeps_text_readable(make_canvas, qtbot):
    app = QApplication.instance()
    old = app.palette()
    dark = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                        (QPalette.ColorRole.Highlight, "#3d7eff")):
        dark.setColor(role, QColor(color))
    app.setPalette(dark)
    try:
        c = example_canvas(make_canvas, "residual_mlp")
        qtbot.waitUntil(lambda: c.scene.theme.dark)
        theme = c.scene.theme
        assert theme.node_fill.lightness() < 90 and theme.text.lightness() > 180
        assert abs(theme.node_fill.lightness() - theme.canvas.lightness()) >= 8  # cards stand out
        SHOTS.mkdir(exist_ok=True)
        assert c.view.grab().save(str(SHOTS / "residual_mlp_dark.png"))
        app.setPalette(old)  # switching back re-themes the live scene
        qtbot.waitUntil(lambda: not c.scene.theme.dark)
    finally:
        app.setPalette(old)


def test_a_fitted_view_fits_again_when_resized_until_the_person_zooms(canvas, qtbot):
    """Made smaller after a fit, the canvas still shows the whole network (not a cut-off corner); once the
    person has zoomed, a resize keeps their zoom."""
    view, scene = canvas.view, canvas.scene
    view.resize(1400, 900)
    view.fit()
    large = view.zoom()
    assert view.follows_fit and visible_rect(view).contains(scene.nodes_rect())
    view.resize(700, 450)
    QApplication.processEvents()
    resized, centre = view.zoom(), visible_rect(view).center()
    view.fit()  # what fitting at this size gives
    assert resized == pytest.approx(view.zoom()) != pytest.approx(large)
    assert (visible_rect(view).center() - centre).manhattanLength() < 2 and view.follows_fit
    wheel(view, QPoint(100, 100), 1)
    zoom = view.zoom()
    assert not view.follows_fit
    view.resize(900, 700)
    QApplication.processEvents()
    assert view.zoom() == pytest.approx(zoom)
