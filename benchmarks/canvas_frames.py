"""How fast a frame collapses and expands on the 302-node canvas, offscreen.

    QT_QPA_PLATFORM=offscreen python benchmarks/canvas_frames.py

Builds the residual network of ``canvas_large_graph.py`` (302 nodes), shows it in a 1400 x 900 GraphView with a
FrameLayer, frames six blocks in the middle (30 nodes) and measures, in milliseconds (median of several runs):

* group: the one-step command that puts the frame around the 30 nodes (then undone, untimed);
* collapse: the UpdateFrameCommand that collapses the frame (hiding its nodes and their wires, one box with its
  parameters and output shape, wires drawn to the box), alone and with the repaint that follows;
* expand: the same, back to the nodes.

Target: collapse under 30 ms. The last line is a JSON object with the figures.
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

from PySide6.QtWidgets import QApplication  # noqa: E402

from canvas_large_graph import canvas_parts, guard_none_refcount, residual_graph  # noqa: E402  (the same graph)
from nnstudio.ui.canvas import GraphView  # noqa: E402
from nnstudio.ui.canvas.frame_item import FrameLayer  # noqa: E402
from nnstudio.ui.frame_commands import AddFrameCommand, UpdateFrameCommand  # noqa: E402

RUNS = 9
FRAMED = 30  # nodes in the frame: six residual blocks


def timed_pair(app, action) -> tuple[float, float]:
    t0 = time.perf_counter()
    action()
    t1 = time.perf_counter()
    app.processEvents()  # paint
    return (t1 - t0) * 1000, (time.perf_counter() - t0) * 1000


def main() -> dict:
    guard_none_refcount()
    app = QApplication.instance() or QApplication([])
    graph = residual_graph()
    stack, watcher, scene = canvas_parts(graph)
    scene.set_graph(graph, stack)
    watcher.refresh()
    layer = FrameLayer(scene)
    view = GraphView(scene)
    view.resize(1400, 900)
    view.show()
    app.processEvents()
    order = graph.topological_order()
    members = order[120:120 + FRAMED]
    view.center_on_node(members[FRAMED // 2])
    app.processEvents()

    group = []
    for _ in range(RUNS):
        group.append(timed_pair(app, lambda: stack.push(AddFrameCommand(graph, members, "Blocks 24-29",
                                                                        frame_id="frame_1")))[1])
        stack.undo()
        app.processEvents()
    stack.push(AddFrameCommand(graph, members, "Blocks 24-29", frame_id="frame_1"))
    app.processEvents()

    collapse, collapse_total, expand, expand_total = [], [], [], []
    for _ in range(RUNS):
        edit, total = timed_pair(app, lambda: stack.push(UpdateFrameCommand(graph, "frame_1", "Collapse",
                                                                            collapsed=True)))
        collapse.append(edit)
        collapse_total.append(total)
        hidden = sum(not scene.node_item(nid).isVisible() for nid in members)
        assert hidden == FRAMED and layer.wires, "the frame did not collapse"
        edit, total = timed_pair(app, lambda: stack.push(UpdateFrameCommand(graph, "frame_1", "Expand",
                                                                            collapsed=False)))
        expand.append(edit)
        expand_total.append(total)
        assert all(scene.node_item(nid).isVisible() for nid in members) and not layer.wires

    summary = layer.items["frame_1"].summary
    figures = {
        "nodes": len(graph.nodes),
        "framed_nodes": FRAMED,
        "frame_group_ms": round(statistics.median(group), 1),
        "frame_collapse_ms": round(statistics.median(collapse), 1),
        "frame_collapse_repaint_ms": round(statistics.median(collapse_total), 1),
        "frame_expand_ms": round(statistics.median(expand), 1),
        "frame_expand_repaint_ms": round(statistics.median(expand_total), 1),
        "collapsed_summary": list(summary),
    }
    print(f"{figures['nodes']} nodes, a frame of {FRAMED}, view 1400 x 900 at 100 %")
    print(f"group in a frame                  {figures['frame_group_ms']:8.1f} ms")
    print(f"collapse                          {figures['frame_collapse_ms']:8.1f} ms   (target < 30 ms; with repaint: "
          f"{figures['frame_collapse_repaint_ms']:.1f} ms)")
    print(f"expand                            {figures['frame_expand_ms']:8.1f} ms   (with repaint: "
          f"{figures['frame_expand_repaint_ms']:.1f} ms)")
    print(f"collapsed box shows               {' / '.join(summary)}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
