"""A readable canvas: fit and auto layout keep node titles legible (MIN_READABLE_ZOOM) and scroll instead of
shrinking, long chains wrap into rows, a zoomed-out node draws its large face, an empty canvas says what to do.

Readable means: the view's zoom is at least ``style.MIN_READABLE_ZOOM`` (the 12 px title font at 8 px or more
on screen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QStyleOptionGraphicsItem

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.graph import Graph
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.layout import layered_positions
from nnstudio.ui.canvas.node_item import NodeItem

READABLE = style.MIN_READABLE_ZOOM - 1e-9
EXAMPLE_FILES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def chain(n: int) -> Graph:
    """Input, n - 2 Dense layers, Output, wired in a row left to right (the way a user builds one)."""
    g = Graph()
    prev = None
    for i in range(n):
        type_id = "input_vector" if i == 0 else "output" if i == n - 1 else "dense"
        node = g.add_node(type_id, position=(i * style.LAYOUT_DX, 0.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    return g


def visible(view) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def shown_at(make_canvas, graph: Graph, size: tuple[int, int]):
    c = make_canvas(graph)
    c.view.resize(*size)
    QApplication.processEvents()
    assert (c.view.viewport().width(), c.view.viewport().height()) == size
    return c


def test_the_readable_zoom_puts_the_title_at_eight_pixels():
    assert style.MIN_READABLE_ZOOM * style.fonts().title.pixelSize() == pytest.approx(style.READABLE_TITLE_PX)
    assert style.READABLE_TITLE_PX >= 8


def test_fit_on_a_30_layer_row_stays_readable_and_shows_the_input(make_canvas):
    c = shown_at(make_canvas, chain(30), (1100, 600))
    c.view.zoom_by(0.2)
    c.view.fit()
    assert c.view.zoom() >= READABLE
    seen = visible(c.view)
    first = c.scene.node_item("input_vector_1").sceneBoundingRect()
    assert seen.contains(first)  # the start of the network, at the left edge
    assert seen.left() < first.left() < seen.left() + 2 * style.FIT_MARGIN
    assert not seen.contains(c.scene.node_item("output_1").sceneBoundingRect())  # the rest is scrolled to
    # with a selection, fit shows the selection instead
    c.scene.select_nodes(["dense_20"])
    c.view.fit()
    assert c.view.zoom() >= READABLE
    assert visible(c.view).contains(c.scene.node_item("dense_20").sceneBoundingRect())


def test_fit_still_shows_a_network_whole_when_it_reads(make_canvas):
    c = shown_at(make_canvas, chain(5), (1100, 600))
    c.view.fit()
    seen = visible(c.view)
    assert c.view.zoom() >= READABLE
    assert all(seen.contains(i.sceneBoundingRect()) for i in c.scene.node_items())


def rows(graph: Graph) -> list[list[str]]:
    """The node ids row by row (same y), each row left to right."""
    by_y: dict[float, list[str]] = {}
    for nid, node in graph.nodes.items():
        by_y.setdefault(node.position[1], []).append(nid)
    return [sorted(ids, key=lambda n: graph.nodes[n].position[0]) for _, ids in sorted(by_y.items())]


@pytest.mark.parametrize("size", [(1100, 600), (800, 400)])
@pytest.mark.parametrize("n", [9, 30])
def test_auto_layout_wraps_a_long_chain_into_rows_read_like_text(make_canvas, n, size):
    """After auto layout and fit: the zoom is readable; at 1100 x 600 every node is in view (no scrolling);
    at 800 x 400 every node is in view horizontally (scrolling, if any, is only up and down) and the Input is in
    view. The chain reads like text: rows left to right, one column step apart, the next layer after a row's end
    starting the next row at the left edge, rows never overlapping."""
    c = shown_at(make_canvas, chain(n), size)
    order = c.graph.topological_order()
    c.scene.auto_layout()
    c.view.fit()
    assert c.view.zoom() >= READABLE
    seen = visible(c.view)
    boxes = [c.scene.node_item(nid).sceneBoundingRect() for nid in order]
    if size == (1100, 600):
        assert all(seen.contains(b) for b in boxes)
    else:
        assert all(seen.left() <= b.left() and b.right() <= seen.right() for b in boxes)
        assert seen.contains(boxes[0])
    layout = rows(c.graph)
    assert len(layout) > 1  # it did wrap
    assert [nid for row in layout for nid in row] == order
    left = c.graph.nodes[order[0]].position[0]
    for row, below in zip(layout, layout[1:]):
        assert c.graph.nodes[below[0]].position[1] >= c.graph.nodes[row[0]].position[1] + style.NODE_H + 40
    for row in layout:
        xs = [c.graph.nodes[nid].position[0] for nid in row]
        assert xs == [left + i * style.LAYOUT_DX for i in range(len(row))]


@pytest.mark.parametrize("size", [(1100, 600), (800, 400)])
def test_auto_layout_keeps_a_residual_block_on_one_row(make_canvas, size):
    c = shown_at(make_canvas, EXAMPLES["residual_mlp"]().graph, size)
    c.scene.auto_layout()
    c.view.fit()
    assert c.view.zoom() >= READABLE
    pos = {nid: n.position for nid, n in c.graph.nodes.items()}
    block = ["dense_1", "dense_2", "dense_3", "add_1"]  # dense_1 -> dense_2 -> dense_3 -> add, dense_1 -> add
    assert [pos[n][0] for n in block] == sorted(pos[n][0] for n in block)
    assert len({pos[n][0] for n in block}) == 4  # left to right on one row, the skip wire beside the branch
    assert abs(pos["dense_2"][1] - pos["add_1"][1]) < style.NODE_H + style.LAYOUT_DY


def test_layout_without_a_view_plans_for_the_default_canvas():
    pos = layered_positions(chain(30))
    assert len({y for _, y in pos.values()}) > 1


def test_an_opened_project_is_shown_readable(qtbot, tmp_path):
    from nnstudio.ui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_folder=tmp_path / "autosave")
    w.show_error = lambda title, message: None
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    w.ask_recover = lambda item: False
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    qtbot.waitExposed(w)
    assert w.load_file(EXAMPLE_FILES / "digits_cnn.nnstudio")
    for _ in range(3):  # fit_soon fits again once the docks have settled
        QApplication.processEvents()
    assert w.view.zoom() >= READABLE
    seen = visible(w.view)
    starts = [i for i in w.scene.node_items() if not w.document.graph.inputs_of(i.node_id)]
    assert starts and all(seen.contains(i.sceneBoundingRect()) for i in starts)


# -- level of detail -----------------------------------------------------------------------------------------
def painted(item: NodeItem, zoom: float, face: str | None = None) -> QImage:
    """The item painted at ``zoom`` into an image, by paint() (face chosen by the zoom) or with ``face``."""
    img = QImage(round(200 * zoom) + 4, round(100 * zoom) + 4, QImage.Format.Format_ARGB32)
    img.fill(QColor("#808080"))
    p = QPainter(img)
    p.translate(2, 2)
    p.scale(zoom, zoom)
    if face is None:
        item.paint(p, QStyleOptionGraphicsItem(), None)
    else:
        item.paint_face(p, face)
    p.end()
    return img


def differing(a: QImage, b: QImage) -> int:
    return sum(a.pixel(x, y) != b.pixel(x, y) for x in range(a.width()) for y in range(a.height()))


def test_a_zoomed_out_node_draws_its_large_face(canvas):
    item = canvas.scene.node_item("dense_1")
    painted(item, 1.0)
    assert item.last_face == "detailed"
    low = 0.4
    large = painted(item, low)
    assert item.last_face == "large"
    detailed = painted(item, low, "detailed")
    assert differing(large, detailed) > 0.1 * (style.NODE_W * low) * (style.NODE_H * low)
    assert item.large_title_px() * low >= style.READABLE_TITLE_PX  # "Dense" reads at 40 %
    assert item.large_face_text() == "Dense\n(N, 8)"


def test_every_layer_type_reads_on_its_large_face_at_half_the_readable_zoom(qapp):
    from nnstudio.core.layers.registry import by_category

    zoom = style.MIN_READABLE_ZOOM / 2
    for specs in by_category().values():
        for spec in specs:
            g = Graph()
            item = NodeItem(g.add_node(spec.type_id))
            assert item.large_title_px() * zoom >= 0.75 * style.READABLE_TITLE_PX, spec.title
            assert "".join(item.large_face_text().split("\n")[:-1]).replace(" ", "") == spec.title.replace(" ", "")


def wheel(view, clicks: float, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    at = view.viewport().rect().center()
    event = QWheelEvent(QPointF(at), QPointF(view.viewport().mapToGlobal(at)), QPoint(), QPoint(0, round(120 * clicks)),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_wheel_out_in_the_view_switches_faces(canvas):
    item = canvas.scene.node_item("dense_1")
    canvas.view.grab()
    assert item.last_face == "detailed"
    wheel(canvas.view, -5)  # 1.2 ** -5 = 0.40
    canvas.view.grab()
    assert item.last_face == "large"
    wheel(canvas.view, 5)
    canvas.view.grab()
    assert item.last_face == "detailed"


def test_shift_wheel_scrolls_instead_of_zooming(canvas):
    view = canvas.view
    before = visible(view)
    wheel(view, -1, Qt.KeyboardModifier.ShiftModifier)
    after = visible(view)
    assert view.zoom() == pytest.approx(1.0)
    assert after.top() - before.top() == pytest.approx(120, abs=1) and after.left() == pytest.approx(before.left())


# -- the empty canvas -----------------------------------------------------------------------------------------
def ink(view) -> QRectF:
    """Bounding box (viewport pixels) of what is much darker than the canvas: the hint's letters."""
    img = view.grab().toImage()
    limit = view.graph_scene().theme.canvas.lightness() - 40
    xs, ys = [], []
    for y in range(0, img.height()):
        for x in range(0, img.width(), 2):
            if img.pixelColor(x, y).lightness() < limit:
                xs.append(x)
                ys.append(y)
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)) if xs else QRectF()


def test_an_empty_canvas_says_what_to_do_until_a_node_exists(make_canvas, qtbot):
    g = Graph()
    c = make_canvas(g)
    view = c.view
    assert view.empty_hint_shown()
    hint = ink(view)
    assert not hint.isNull() and hint.width() > 200
    centre = QPointF(view.viewport().rect().center())
    assert abs(hint.center().x() - centre.x()) < 20 and abs(hint.center().y() - centre.y()) < 20
    view.zoom_by(2.0)  # in viewport pixels: the hint does not zoom
    assert ink(view) == hint
    view.zoom_by(0.5)
    nid = g.add_node("dense", position=(5000.0, 5000.0)).id  # out of view
    qtbot.waitUntil(lambda: not view.empty_hint_shown())
    assert ink(view).isNull()
    g.remove_node(nid)
    qtbot.waitUntil(view.empty_hint_shown)
    assert ink(view) == hint


def test_a_wire_to_the_next_row_runs_through_the_gap_between_the_rows():
    from PySide6.QtCore import QPointF

    from nnstudio.ui.canvas import style
    from nnstudio.ui.canvas.edge_item import wire_path

    start = QPointF(1000.0, style.PORT_Y)  # the last node of the first row, its output port
    end = QPointF(0.0, style.NODE_H + 100 + style.PORT_Y)  # the first node of the next row
    box = wire_path(start, end).boundingRect()
    row_bottom, next_top = style.NODE_H, style.NODE_H + 100
    path = wire_path(start, end)
    for t in (0.3, 0.5, 0.7):  # the long stretch back to the left stays between the rows
        y = path.pointAtPercent(t).y()
        assert row_bottom < y < next_top
    assert box.left() >= -60 and box.right() <= 1060  # no detour beyond a short turn at each end
    same_row = wire_path(QPointF(0, 0), QPointF(200, 0))
    assert same_row.boundingRect().height() < 1  # a wire along a row is still a plain S-curve
