"""How the canvas copes with a 300-node graph, offscreen.

    QT_QPA_PLATFORM=offscreen python benchmarks/canvas_large_graph.py

Builds a residual network of 302 nodes (60 blocks of Dense, LayerNorm, Activation, Dropout, Add) laid out in
rows, shows it in a 1400 x 900 GraphView and measures, in milliseconds (median of several runs):

* load: ``scene.set_graph`` (items for every node and wire) and the first full paint after ``fit``;
* fit: ``view.fit()`` plus a synchronous repaint of the viewport;
* edit: one parameter edit (SetParamsCommand on the undo stack) at 100 % zoom, its re-inference and the repaint
  of the node faces that changed: a Dropout rate in the middle (one face changes) and the units of the last
  block's Dense (shapes and problems change downstream);
* drag: pressing on a node, ten mouse moves (each painted) and the release that pushes one MoveNodesCommand,
  at 100 % zoom and with the whole graph fitted in the view;
* insert on a wire: ``scene.insert_on_edge`` putting a new Dropout into a wire in the middle of the network (the
  check on a copy of the graph, the one-step macro, the new items), alone and with the re-inference and repaint
  that follow, at 100 % zoom; each run is undone before the next (the undo is not timed). Target: under 30 ms.
  The layers after it in its row move one column aside in the same step, and are repainted;
* quick-add: opening the search after a layer in the middle (the first time, when the catalogue is ranked for
  that layer's output, and again), and filtering its list for one more typed letter. Target: under 30 ms.

Fit and drag are also measured with node caching switched off (``QGraphicsItem.NoCache``) in the same run, as a
baseline; the ratio says what DeviceCoordinateCache buys. The last line is a JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QUndoStack  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsItem  # noqa: E402

from nnstudio.core.graph import Graph  # noqa: E402
from nnstudio.core.project.model import Project  # noqa: E402
from nnstudio.core.session import Session  # noqa: E402
from nnstudio.ui.canvas import GraphScene, GraphView  # noqa: E402
from nnstudio.ui.canvas.style import LAYOUT_DX, LAYOUT_DY  # noqa: E402
from nnstudio.ui.commands import SetParamsCommand  # noqa: E402
from nnstudio.ui.inference import ShapeWatcher  # noqa: E402
from shape_inference import timed  # noqa: E402  (the same median-of-runs timer)

COLUMNS = 20  # nodes per row of the snake layout


def residual_graph(blocks: int = 60) -> Graph:
    g = Graph()
    prev = g.add_node("input_vector", {"features": 64}).id
    for _ in range(blocks):
        ids = [g.add_node("dense", {"units": 64}).id, g.add_node("layernorm").id,
               g.add_node("activation", {"function": "gelu"}).id, g.add_node("dropout", {"rate": 0.1}).id,
               g.add_node("add").id]
        for a, b in zip([prev, *ids], ids):
            g.connect(a, b)
        g.connect(prev, ids[-1])
        prev = ids[-1]
    g.connect(prev, g.add_node("output", {"task": "regression"}).id)
    for i, nid in enumerate(g.topological_order()):
        g.move_node(nid, ((i % COLUMNS) * LAYOUT_DX, (i // COLUMNS) * LAYOUT_DY * 1.5))
    return g


def guard_none_refcount() -> None:
    """PySide6 / shiboken6 6.12.0 on CPython 3.11 drops one reference to None on every call that returns
    nothing (``item.update()``, ``setPos`` ...); None is not immortal before 3.12, so a long run aborts with
    "deallocating None". If this binding has the leak, say so and give None spare references so the run ends."""
    before = sys.getrefcount(None)
    for _ in range(100):
        QPointF().setX(1.0)
    if sys.getrefcount(None) < before - 50:
        import ctypes
        import PySide6

        print(f"warning: PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} leaks references to "
              "None (pin PySide6-Essentials != 6.12.0); padding None's refcount so this run can finish")
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


def paint(view: GraphView) -> None:
    view.viewport().repaint()


def set_cache(scene: GraphScene, mode) -> None:
    for item in scene.node_items():
        item.setCacheMode(mode)


def drag_once(app, view: GraphView, scene: GraphScene, node_id: str, sign: int) -> None:
    item = scene.node_item(node_id)
    vp = view.viewport()
    start = view.mapFromScene(item.mapToScene(QPointF(90, 12)))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 11):
        QTest.mouseMove(vp, start + QPoint(sign * 8 * i, sign * 5 * i))
        app.processEvents()  # paint what moved, as the event loop would between mouse events
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(sign * 80, sign * 50))
    app.processEvents()


def insert_on_wire(app, view: GraphView, scene: GraphScene, graph: Graph, stack: QUndoStack,
                   runs: int = 9) -> tuple[float, float, int]:
    """Median times of putting a new Dropout into a wire in the middle of the network: the edit alone (check,
    macro, items) and the edit with the re-inference and repaint that follow it; then undone, untimed. Also
    how many undo steps one insert pushed (must be 1)."""
    order = graph.topological_order()
    dense = [nid for nid in order if nid.startswith("dense")][30]
    edge = next(e for e in graph.outputs_of(dense))
    view.resetTransform()
    view.center_on_node(dense)
    app.processEvents()
    edit, total, steps = [], [], 0
    for _ in range(runs):
        before = stack.index()
        t0 = time.perf_counter()
        nid = scene.insert_on_edge(edge, type_id="dropout")
        t1 = time.perf_counter()
        app.processEvents()  # re-inference and paint
        t2 = time.perf_counter()
        edit.append((t1 - t0) * 1000)
        total.append((t2 - t0) * 1000)
        assert nid is not None and edge not in graph.edges, "the insert was refused"
        steps = stack.index() - before
        stack.undo()
        app.processEvents()
        assert edge in graph.edges and nid not in graph.nodes
    return statistics.median(edit), statistics.median(total), steps


def canvas_parts(graph):
    """(undo stack, shape watcher, scene) for ``graph``, the scene not yet given the graph."""
    stack = QUndoStack()
    watcher = ShapeWatcher(Session(Project(graph=graph)))
    scene = GraphScene()
    scene.attach(watcher)
    return stack, watcher, scene


def quick_add_timing(app, view: GraphView, graph: Graph, runs: int = 9) -> tuple[float, float, float]:
    """Median times of the quick-add search after a layer in the middle of the network: opening it the first
    time (ranking the catalogue for that layer's output), opening it again (ranked already), and filtering its
    list for one more typed letter."""
    from nnstudio.ui.canvas.quick_add import open_quick_add

    order = graph.topological_order()
    node = [nid for nid in order if nid.startswith("dense")][40]
    x, y = graph.nodes[node].position
    at = QPointF(x + 240, y)
    t0 = time.perf_counter()
    popup = open_quick_add(view, at, after=node)
    first = (time.perf_counter() - t0) * 1000
    popup.close()
    again, typed = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        popup = open_quick_add(view, at, after=node)
        again.append((time.perf_counter() - t0) * 1000)
        for text in ("c", "co", "con", "conv"):
            t0 = time.perf_counter()
            popup.refilter(text)
            typed.append((time.perf_counter() - t0) * 1000)
        popup.close()
        app.processEvents()
    return first, statistics.median(again), statistics.median(typed)


def main() -> dict:
    guard_none_refcount()
    app = QApplication.instance() or QApplication([])
    graph = residual_graph()
    stack, watcher, scene = canvas_parts(graph)
    view = GraphView(scene)
    view.resize(1400, 900)
    view.show()
    app.processEvents()

    def load() -> None:
        scene.set_graph(graph, stack)
        scene.set_info(watcher.info)

    load_ms = timed(load, 5)
    t0 = time.perf_counter()
    view.fit()
    paint(view)
    first_paint_ms = (time.perf_counter() - t0) * 1000

    def fit() -> None:
        view.zoom_in()
        view.fit()
        paint(view)

    fit_ms = timed(fit, 7)

    order = graph.topological_order()
    changed_faces: list[int] = []

    def edit_ms(node_id: str, values: list[dict]) -> float:
        """Edit ``node_id`` at 100 % zoom with the node in the middle of the view."""
        view.resetTransform()
        view.center_on_node(node_id)
        app.processEvents()
        changes = iter(values * 10)
        changed_faces.clear()

        def edit() -> None:
            before = {nid: scene.node_item(nid).face_text() for nid in graph.nodes}
            stack.push(SetParamsCommand(graph, node_id, next(changes)))
            watcher.refresh()
            app.processEvents()  # paint
            changed_faces.append(sum(scene.node_item(n).face_text() != f for n, f in before.items()))

        return timed(edit, 9)

    dropout = [nid for nid in order if nid.startswith("dropout")][30]
    edit_rate_ms = edit_ms(dropout, [{"rate": 0.2}, {"rate": 0.3}])
    faces_rate = max(changed_faces)
    dense = [nid for nid in order if nid.startswith("dense")][-1]  # a shape change at the last block
    edit_units_ms = edit_ms(dense, [{"units": 32}, {"units": 64}])
    faces_units = max(changed_faces)

    target = [nid for nid in order if nid.startswith("dense")][25]
    signs = iter([1, -1] * 40)
    view.center_on_node(target)
    app.processEvents()
    steps_before = stack.count()
    drag_zoomed_ms = timed(lambda: drag_once(app, view, scene, target, next(signs)), 8)
    view.fit()
    app.processEvents()
    drag_ms = timed(lambda: drag_once(app, view, scene, target, next(signs)), 8)
    moves_pushed = stack.count() - steps_before
    assert moves_pushed == 16, moves_pushed  # every drag moved its node and became one undo step

    insert_ms, insert_total_ms, inserted = insert_on_wire(app, view, scene, graph, stack)
    quick_first_ms, quick_open_ms, quick_filter_ms = quick_add_timing(app, view, graph)

    set_cache(scene, QGraphicsItem.CacheMode.NoCache)
    fit_nocache_ms = timed(fit, 7)
    drag_nocache_ms = timed(lambda: drag_once(app, view, scene, target, next(signs)), 8)
    set_cache(scene, QGraphicsItem.CacheMode.DeviceCoordinateCache)

    figures = {
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "load_set_graph_ms": round(load_ms, 1),
        "first_fit_and_paint_ms": round(first_paint_ms, 1),
        "fit_and_paint_ms": round(fit_ms, 1),
        "param_edit_infer_repaint_ms": round(edit_rate_ms, 1),
        "faces_changed_per_edit": faces_rate,
        "shape_edit_infer_repaint_ms": round(edit_units_ms, 1),
        "faces_changed_per_shape_edit": faces_units,
        "drag_10_moves_ms": round(drag_ms, 1),
        "drag_10_moves_at_100pct_ms": round(drag_zoomed_ms, 1),
        "drag_per_move_ms": round(drag_ms / 11, 2),
        "fit_and_paint_nocache_ms": round(fit_nocache_ms, 1),
        "drag_10_moves_nocache_ms": round(drag_nocache_ms, 1),
        "drag_nocache_over_cached": round(drag_nocache_ms / drag_ms, 2),
        "zoom_after_fit": round(view.zoom(), 3),
        "undo_steps_from_16_drags": moves_pushed,
        "insert_on_wire_ms": round(insert_ms, 1),
        "insert_on_wire_infer_repaint_ms": round(insert_total_ms, 1),
        "insert_on_wire_undo_steps": inserted,
        "quick_add_first_open_ms": round(quick_first_ms, 1),
        "quick_add_open_ms": round(quick_open_ms, 1),
        "quick_add_filter_ms": round(quick_filter_ms, 2),
    }
    print(f"{figures['nodes']} nodes, {figures['edges']} wires, view 1400 x 900, zoom after fit "
          f"{figures['zoom_after_fit']}")
    print(f"load (set_graph + faces)          {load_ms:8.1f} ms")
    print(f"first fit + full paint            {first_paint_ms:8.1f} ms")
    print(f"fit + paint                       {fit_ms:8.1f} ms   (no item cache: {fit_nocache_ms:.1f} ms)")
    print(f"param edit + infer + repaint      {edit_rate_ms:8.1f} ms   ({faces_rate} face changed: dropout rate)")
    print(f"shape edit + infer + repaint      {edit_units_ms:8.1f} ms   ({faces_units} faces changed: units of "
          "the last block's Dense)")
    print(f"drag at 100 %: 10 moves, release  {drag_zoomed_ms:8.1f} ms")
    print(f"drag at fit: 10 moves, release    {drag_ms:8.1f} ms   (no item cache: {drag_nocache_ms:.1f} ms, "
          f"x{figures['drag_nocache_over_cached']})")
    print(f"insert a layer into a wire        {insert_ms:8.1f} ms   (target < 30 ms; with re-inference and "
          f"repaint: {insert_total_ms:.1f} ms)")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
