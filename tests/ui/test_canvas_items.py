"""The scene follows the graph: items appear and disappear with graph events (and so with undo / redo), faces
show inference results, a locked scene refuses edits, auto layout orders by depth."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QUndoStack

from nnstudio.core.graph import Edge, Graph
from nnstudio.ui.canvas import GraphScene
from nnstudio.ui.canvas.edge_item import EdgeItem
from nnstudio.ui.canvas.layout import depths
from nnstudio.ui.canvas.node_item import NodeItem
from nnstudio.ui.commands import AddNodeCommand, SetLabelCommand, SetParamsCommand


def counts(scene: GraphScene) -> tuple[int, int]:
    items = scene.items()
    return (sum(isinstance(i, NodeItem) for i in items), sum(isinstance(i, EdgeItem) for i in items))


def test_set_graph_builds_items_and_swapping_graphs_unhooks_the_old_one(qapp, chain_graph, stack):
    scene = GraphScene()
    scene.set_graph(chain_graph, stack)
    assert counts(scene) == (4, 3)
    assert scene.node_item("dense_1").pos() == QPointF(240, 0)
    other = Graph()
    other.add_node("input_vector")
    scene.set_graph(other, QUndoStack())
    assert counts(scene) == (1, 0)
    assert all(len(getattr(chain_graph, e)) == 0 for e in ("node_added", "node_removed", "edge_added",
                                                          "edge_removed", "params_changed", "node_moved",
                                                          "label_changed"))
    chain_graph.add_node("dense")  # the old graph no longer reaches the scene
    assert counts(scene) == (1, 0)


def test_a_graph_set_after_its_inference_shows_it(qapp, chain_graph, stack):
    from nnstudio.core.project.model import Project
    from nnstudio.core.session import Session
    from nnstudio.ui.inference import ShapeWatcher

    watcher = ShapeWatcher(Session(Project(graph=chain_graph)))  # inferred before the scene shows the graph
    scene = GraphScene()
    scene.attach(watcher)
    scene.set_graph(chain_graph, stack)
    assert "(N, 8)" in scene.node_item("dense_1").face_text()


def test_items_follow_add_remove_undo_redo(canvas):
    scene, stack, graph = canvas.scene, canvas.stack, canvas.graph
    stack.push(AddNodeCommand(graph, "dense", (0, 200)))
    assert counts(scene) == (5, 3) and scene.node_item("dense_3") is not None
    stack.undo()
    assert counts(scene) == (4, 3) and scene.node_item("dense_3") is None
    scene.select_nodes(["dense_1"])
    scene.delete_selection()
    assert counts(scene) == (3, 1)
    assert scene.edge_item(Edge("input_vector_1", "dense_1")) is None
    stack.undo()
    assert counts(scene) == (4, 3)
    assert scene.edge_item(Edge("input_vector_1", "dense_1")) is not None
    stack.redo()
    assert counts(scene) == (3, 1)


def test_ports_match_the_layer_kind(canvas):
    scene = canvas.scene
    assert scene.node_item("input_vector_1").in_port is None
    assert scene.node_item("output_1").out_port is None
    d = scene.node_item("dense_1")
    assert d.in_port is not None and d.out_port is not None and not d.in_port.multi
    canvas.stack.push(AddNodeCommand(canvas.graph, "concat", (0, 300)))
    assert scene.node_item("concat_1").in_port.multi


def test_face_shows_summary_shape_and_params(canvas, qtbot):
    item = canvas.scene.node_item("dense_1")
    text = item.face_text()
    assert "8 units, ReLU" in text and "(N, 8)" in text and "40 params" in text  # 4 * 8 + 8
    canvas.stack.push(SetParamsCommand(canvas.graph, "dense_1", {"units": 16, "activation": "tanh"}))
    assert "16 units, Tanh" in item.face_text()  # at once, from params_changed
    qtbot.waitUntil(lambda: "(N, 16)" in item.face_text() and "80 params" in item.face_text())
    canvas.stack.push(SetLabelCommand(canvas.graph, "dense_1", "hidden"))
    assert item.face_text().startswith("hidden\nDense")


def test_problems_outline_in_red_with_tooltip(canvas, qtbot):
    item = canvas.scene.node_item("dense_2")
    assert not item.problems
    canvas.graph.disconnect(Edge("dense_1", "dense_2"))  # dense_2 loses its input
    qtbot.waitUntil(lambda: bool(item.problems))
    assert item.problems[0] in item.toolTip()
    assert "\u26a0" in item.face_text()
    img = canvas.view.grab().toImage()
    assert border_redness(canvas, img, "dense_2") > 80  # a red outline is drawn...
    assert border_redness(canvas, img, "dense_1") < 30  # ...only round nodes with problems
    canvas.stack.push(AddNodeCommand(canvas.graph, "dense", (0, 300)))  # unrelated edit
    canvas.graph.connect("dense_1", "dense_2")
    qtbot.waitUntil(lambda: not item.problems)
    assert "\u26a0" not in item.toolTip()


def border_redness(canvas, img, node_id: str) -> int:
    """How red the card's top border is on screen: the largest red - green over a few pixels across it."""
    item = canvas.scene.node_item(node_id)
    top = canvas.view.mapFromScene(item.mapToScene(QPointF(60, 0)))
    return max(img.pixelColor(top.x(), top.y() + dy).red() - img.pixelColor(top.x(), top.y() + dy).green()
               for dy in range(-2, 3))


def test_set_info_repaints_only_changed_faces(canvas):
    from nnstudio.core.shapes import infer_shapes

    info = canvas.watcher.refresh()
    items = {nid: canvas.scene.node_item(nid) for nid in canvas.graph.nodes}
    assert not any(item.set_info(info.nodes[nid]) for nid, item in items.items())  # already shown
    canvas.graph.set_params("dense_2", {"units": 5})
    info = infer_shapes(canvas.graph)
    changed = {nid for nid, item in items.items() if item.set_info(info.nodes[nid])}
    assert changed == {"dense_2", "output_1"}  # its own shape and params, and the shape it feeds
    assert "(N, 5)" in items["output_1"].face_text()


def test_selection_api(canvas):
    scene = canvas.scene
    scene.select_nodes(["dense_1", "output_1", "ghost"])
    assert sorted(scene.selected_node_ids()) == ["dense_1", "output_1"]
    scene.select_all()
    assert len(scene.selected_node_ids()) == 4
    clip = scene.copy_selection()
    assert len(clip["nodes"]) == 4 and len(clip["edges"]) == 3


def test_add_node_after_wires_it_in_one_step(canvas):
    scene, graph, stack = canvas.scene, canvas.graph, canvas.stack
    nid = scene.add_node("dropout", None, after="dense_2")
    assert Edge("dense_2", nid) in graph.edges
    assert graph.nodes[nid].position == (720.0, 0.0)
    assert stack.count() == 1
    stack.undo()
    assert nid not in graph.nodes and len(graph.edges) == 3
    # after an Output nothing can be wired: the node is added, unwired
    nid = scene.add_node("dense", QPointF(901, 219), after="output_1")
    assert graph.outputs_of("output_1") == [] and graph.nodes[nid].position == (900.0, 220.0)


def test_paste_and_duplicate_keep_internal_wires(canvas):
    scene, graph = canvas.scene, canvas.graph
    scene.select_nodes(["dense_1", "dense_2"])
    new = scene.duplicate_selection()
    assert len(new) == 2 and Edge(new[0], new[1]) in graph.edges
    assert sorted(scene.selected_node_ids()) == sorted(new)
    assert graph.nodes[new[0]].position == (280.0, 40.0)
    clip = scene.copy_selection()
    pasted = scene.paste(clip, QPointF(1003, 398))
    assert graph.nodes[pasted[0]].position == (1000.0, 400.0)
    assert Edge(pasted[0], pasted[1]) in graph.edges
    assert scene.paste({"nodes": [{"id": "x", "type": "nope"}]}) == []


def test_locked_scene_refuses_edits(canvas, qtbot):
    scene, graph, view = canvas.scene, canvas.graph, canvas.view
    before = graph.to_dict()
    with qtbot.waitSignal(scene.locked_changed):
        scene.set_locked(True)
    assert view._banner.isVisible()
    scene.select_nodes(["dense_1"])
    with qtbot.waitSignal(scene.status_message) as msg:
        scene.delete_selection()
    assert "locked" in msg.args[0]
    assert scene.add_node("dense", QPointF(0, 300)) is None
    assert scene.duplicate_selection() == []
    scene.auto_layout()
    assert not scene.node_item("dense_1").flags() & NodeItem.GraphicsItemFlag.ItemIsMovable
    assert graph.to_dict() == before and canvas.stack.count() == 0
    scene.set_locked(False)
    assert not view._banner.isVisible()
    scene.delete_selection()
    assert "dense_1" not in graph.nodes


def test_auto_layout_orders_by_depth(canvas):
    scene, graph, stack = canvas.scene, canvas.graph, canvas.stack
    # scramble: right to left, and a skip branch
    for i, nid in enumerate(["output_1", "dense_2", "dense_1", "input_vector_1"]):
        graph.move_node(nid, (i * 240.0, 37.0 * i))
    skip = graph.add_node("dense", position=(-500, 500)).id
    graph.connect("input_vector_1", skip)
    before = graph.to_dict()
    scene.auto_layout()
    assert stack.count() == 1
    d = depths(graph)
    xs = {nid: graph.nodes[nid].position[0] for nid in graph.nodes}
    for a in graph.nodes:
        for b in graph.nodes:
            if d[a] < d[b]:
                assert xs[a] < xs[b], (a, b)
    assert xs["input_vector_1"] < xs["dense_1"] < xs["dense_2"] < xs["output_1"]
    assert len({graph.nodes[n].position for n in graph.nodes}) == len(graph.nodes)  # no two on one spot
    assert scene.node_item("output_1").pos() == QPointF(*graph.nodes["output_1"].position)
    stack.undo()
    assert graph.to_dict() == before
