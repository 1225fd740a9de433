"""The graph model: every edit emits the right event, refused edits say why, removals can be undone."""

from __future__ import annotations

import pytest

from nnstudio.core.errors import GraphError
from nnstudio.core.events import Event
from nnstudio.core.graph import Edge, Graph

EVENTS = ("node_added", "node_removed", "edge_added", "edge_removed", "params_changed", "node_moved",
          "label_changed", "changed")


class Recorder:
    def __init__(self, graph: Graph) -> None:
        self.log: list[tuple] = []
        for name in EVENTS:
            getattr(graph, name).connect(lambda *args, _n=name: self.log.append((_n, *args)))

    def names(self) -> list[str]:
        return [e[0] for e in self.log]

    def take(self) -> list[tuple]:
        out, self.log = self.log, []
        return out


@pytest.fixture
def graph() -> Graph:
    return Graph()


@pytest.fixture
def rec(graph) -> Recorder:
    return Recorder(graph)


def mlp(graph: Graph) -> list[str]:
    ids = [graph.add_node("input_vector", {"features": 4}).id, graph.add_node("dense", {"units": 8}).id,
           graph.add_node("dense", {"units": 3}).id, graph.add_node("output", {}).id]
    for a, b in zip(ids, ids[1:]):
        graph.connect(a, b)
    return ids


# -- events ---------------------------------------------------------------------------------------------------
def test_event_connect_disconnect_emit():
    seen = []
    ev = Event("x")
    handler = seen.append
    ev.connect(handler)
    ev.connect(handler)  # connecting twice calls once
    ev.emit(1)
    assert seen == [1] and len(ev) == 1
    ev.disconnect(handler)
    ev.disconnect(handler)  # harmless
    ev.emit(2)
    assert seen == [1] and len(ev) == 0


def test_handler_may_disconnect_itself_while_emitting():
    ev, seen = Event(), []

    def once(x):
        seen.append(x)
        ev.disconnect(once)

    ev.connect(once)
    ev.connect(seen.append)
    ev.emit(1)
    ev.emit(2)
    assert seen == [1, 1, 2]


def test_add_node_emits_node_added_then_changed(graph, rec):
    node = graph.add_node("dense", {"units": 5}, position=(10, 20), label="hidden")
    assert rec.take() == [("node_added", node), ("changed",)]
    assert node.params == {"units": 5, "bias": True, "activation": "relu"}
    assert node.position == (10.0, 20.0) and node.title == "hidden"


def test_connect_and_disconnect_emit_the_edge(graph, rec):
    a, b = graph.add_node("input_vector").id, graph.add_node("dense").id
    rec.take()
    edge = graph.connect(a, b)
    assert edge == Edge(a, b, 0)
    assert rec.take() == [("edge_added", edge), ("changed",)]
    graph.disconnect(edge)
    assert rec.take() == [("edge_removed", edge), ("changed",)]
    with pytest.raises(GraphError, match="input_vector_1 is not connected to dense_1"):
        graph.disconnect(edge)
    assert rec.take() == []


def test_set_params_move_and_label_events(graph, rec):
    node = graph.add_node("dense")
    rec.take()
    old = graph.set_params(node.id, {"units": 7, "activation": "tanh"})
    assert old == {"units": 64, "activation": "relu"}
    assert rec.take() == [("params_changed", node), ("changed",)]
    assert node.params["units"] == 7
    assert graph.move_node(node.id, (3, 4)) == (0.0, 0.0)
    assert rec.take() == [("node_moved", node)]  # moving cannot change shapes: no "changed"
    assert graph.set_label(node.id, "encoder") == ""
    assert rec.take() == [("label_changed", node)]
    assert node.position == (3.0, 4.0) and node.label == "encoder" and node.title == "encoder"


def test_remove_node_removes_its_wires_and_insert_restores_them(graph, rec):
    ids = mlp(graph)
    before = graph.to_dict()
    rec.take()
    node, wires = graph.remove_node(ids[1])
    assert set(wires) == {Edge(ids[0], ids[1]), Edge(ids[1], ids[2])}
    assert rec.names() == ["edge_removed", "changed", "edge_removed", "changed", "node_removed", "changed"]
    assert {e[1] for e in rec.take() if e[0] == "edge_removed"} == set(wires)
    assert ids[1] not in graph.nodes and all(ids[1] not in (e.src, e.dst) for e in graph.edges)
    graph.insert_node(node, wires)
    assert rec.names() == ["node_added", "edge_added", "edge_added", "changed"]
    assert graph.node(ids[1]) is node
    assert sorted(graph.to_dict()["edges"], key=str) == sorted(before["edges"], key=str)
    assert {n["id"]: n for n in graph.to_dict()["nodes"]} == {n["id"]: n for n in before["nodes"]}
    assert graph.validate() == []


def test_insert_node_is_all_or_nothing(graph, rec):
    ids = mlp(graph)
    node, wires = graph.remove_node(ids[1])
    graph.connect(ids[0], ids[2])  # fills dense_2's only port
    before = graph.to_dict()
    rec.take()
    with pytest.raises(GraphError, match="already has one"):
        graph.insert_node(node, wires)
    assert rec.take() == [] and graph.to_dict() == before
    with pytest.raises(GraphError, match="there is already a node 'dense_2'"):
        graph.insert_node(graph.node(ids[2]))


# -- refusals ---------------------------------------------------------------------------------------------------
def test_connect_refusals_say_why(graph, rec):
    ids = mlp(graph)
    extra = graph.add_node("input_vector").id
    rec.take()
    refused = {
        (ids[3], ids[1]): "output_1 is an Output and has no output to connect",
        (ids[1], ids[0]): "input_vector_1 is an Input and takes no inputs",
        (ids[1], ids[1]): "dense_1 cannot take its own output as input",
        (ids[2], ids[1]): "dense_1 takes one input and already has one: disconnect it first",
        (extra, ids[2]): "dense_2 takes one input and already has one: disconnect it first",
        (ids[0], ids[1]): "input_vector_1 is already connected to dense_1",
        (ids[0], "nope"): "there is no node 'nope'",
    }
    for (src, dst), why in refused.items():
        assert graph.connect_problem(src, dst) == why
        with pytest.raises(GraphError, match=why):
            graph.connect(src, dst)
    assert graph.connect_problem(extra, ids[2], 1) == "dense_2 has no input port 1"
    assert rec.take() == []


def test_connect_refuses_cycles(graph):
    a = graph.add_node("input_vector").id
    b, c, d = (graph.add_node("dense").id for _ in range(3))
    s = graph.add_node("add").id
    graph.connect(a, b)
    graph.connect(b, c)
    graph.connect(c, s)
    graph.connect(d, s)
    with pytest.raises(GraphError, match="connecting add_1 to dense_3 would make a cycle"):
        graph.connect(s, d)
    assert graph.connect_problem(s, b) == "dense_1 takes one input and already has one: disconnect it first"
    graph.disconnect(Edge(a, b))
    with pytest.raises(GraphError, match="connecting add_1 to dense_1 would make a cycle"):
        graph.connect(s, b)
    assert graph.connect_problem(c, b) == "connecting dense_2 to dense_1 would make a cycle"
    assert graph.cycle_nodes() == set() and len(graph.edges) == 3


def test_set_params_refuses_bad_values_and_keeps_the_old_ones(graph, rec):
    node = graph.add_node("conv2d", {"filters": 8}, label="features")
    rec.take()
    before = dict(node.params)
    with pytest.raises(GraphError) as err:
        graph.set_params(node.id, {"filters": 16, "kernel_size": 0})
    assert str(err.value) == "features (conv2d_1): Kernel size must be at least 1, not 0"
    with pytest.raises(GraphError, match=r"^features \(conv2d_1\): Padding must be 'valid', 'same' or"):
        graph.set_params(node.id, {"padding": "full"})
    with pytest.raises(GraphError, match="Conv2D has no parameter 'units'"):
        graph.set_params(node.id, {"units": 3})
    assert node.params == before and rec.take() == []
    with pytest.raises(GraphError, match="there is no node 'ghost'"):
        graph.set_params("ghost", {"units": 1})


def test_set_params_copies_lists(graph):
    node = graph.add_node("reshape")
    shape = [2, -1]
    graph.set_params(node.id, {"shape": shape})
    shape.append(3)
    assert node.params["shape"] == [2, -1]


# -- structure --------------------------------------------------------------------------------------------------
def test_branches_and_merges(graph):
    x = graph.add_node("input_vector", {"features": 6}).id
    branches = [graph.add_node("dense", {"units": 5}).id for _ in range(3)]
    add = graph.add_node("add").id
    cat = graph.add_node("concat").id
    for b in branches:
        graph.connect(x, b)  # one output feeds many
        graph.connect(b, add)
        graph.connect(b, cat)
    out = graph.add_node("dense", {"units": 2}).id
    graph.connect(add, graph.add_node("dense", {"units": 5}).id)
    graph.connect(cat, out)
    graph.connect(out, graph.add_node("output", {}).id)
    assert len(graph.outputs_of(x)) == 3
    assert [e.src for e in graph.inputs_of(add)] == branches  # merges keep connection order
    assert graph.validate() == []
    from nnstudio.core.shapes import infer_shapes
    info = infer_shapes(graph)
    assert info.nodes[add].output.shape == (5,) and info.nodes[cat].output.shape == (15,)
    order = graph.topological_order()
    assert all(order.index(e.src) < order.index(e.dst) for e in graph.edges)


def test_new_ids_are_readable_and_never_collide(graph):
    assert [graph.add_node("dense").id for _ in range(3)] == ["dense_1", "dense_2", "dense_3"]
    assert graph.add_node("linear").id == "dense_4"  # a legacy type id gets the current name
    graph.remove_node("dense_2")
    assert graph.new_id("dense") == "dense_2"  # a freed id may be reused ...
    reused = graph.add_node("dense")
    assert reused.id == "dense_2" and len(graph.nodes) == 4  # ... but never one in use
    assert graph.add_node("dense").id == "dense_5"
    with pytest.raises(GraphError, match="there is already a node 'dense_1'"):
        graph.add_node("dense", node_id="dense_1")
    assert len({n for n in graph.nodes}) == len(graph.nodes) == 5


@pytest.mark.parametrize("bad", ["1x", "a-b", "dense 1", "x.y", "dense_1\n", "forward", "training", "class", "self", "torch",
                                 "state_dict"])
def test_ids_that_cannot_name_a_module_are_refused(graph, bad):
    with pytest.raises(GraphError, match="node id"):
        graph.add_node("dense", node_id=bad)
    with pytest.raises(GraphError, match="node id"):
        Graph.from_dict({"nodes": [{"id": bad, "type": "dense"}], "edges": []})
    assert graph.nodes == {}


def test_to_dict_from_dict_round_trip(graph):
    ids = mlp(graph)
    graph.move_node(ids[1], (12.5, -3))
    graph.set_label(ids[2], "logits")
    data = graph.to_dict()
    again = Graph.from_dict(data)
    assert again.to_dict() == data and again == graph
    assert again.copy().to_dict() == data
    assert again.node(ids[2]).label == "logits" and again.node(ids[1]).position == (12.5, -3.0)
    data["nodes"][1]["params"]["units"] = 99  # the copy is independent
    assert graph.node(ids[1]).params["units"] == 8


def test_from_dict_keeps_bad_values_and_refuses_unknown_nodes():
    data = {"nodes": [{"id": "d", "type": "linear", "params": {"units": 0}}], "edges": []}
    graph = Graph.from_dict(data)
    assert graph.node("d").type_id == "dense" and graph.node("d").params["units"] == 0
    with pytest.raises(GraphError, match="'ghost', which does not exist"):
        Graph.from_dict({"nodes": data["nodes"], "edges": [{"from": "d", "to": "ghost"}]})
    with pytest.raises(GraphError, match="'d' is used twice"):
        Graph.from_dict({"nodes": data["nodes"] * 2, "edges": []})
    with pytest.raises(GraphError, match="unknown layer type 'warp'"):
        Graph.from_dict({"nodes": [{"id": "w", "type": "warp"}]})


def test_cycle_nodes_are_only_the_nodes_on_the_cycle():
    graph = Graph.from_dict({
        "nodes": [{"id": i, "type": "dense"} for i in "abcde"],
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"},
                  {"from": "c", "to": "d"}, {"from": "e", "to": "e"}],
    })
    assert graph.cycle_nodes() == {"b", "c", "e"}
    assert graph.topological_order() == ["a"]


def test_insert_node_puts_node_and_wires_back_in_their_places():
    g = Graph()
    g.add_node("input_vector", node_id="x")
    for name in "abc":
        g.add_node("dense", node_id=name)
        g.connect("x", name)
    g.add_node("concat", node_id="cat")
    for name in "abc":
        g.connect(name, "cat")
    before = g.to_dict()
    place = list(g.nodes).index("b")
    wires = [e for e in g.edges if "b" in (e.src, e.dst)]
    indices = g.edge_indices(wires)
    node, removed = g.remove_node("b")
    g.insert_node(node, removed, indices, place)
    assert g.to_dict() == before
    assert [e.src for e in g.inputs_of("cat")] == ["a", "b", "c"]
