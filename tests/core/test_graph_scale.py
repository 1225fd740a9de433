"""Graph checks are near-linear in nodes + wires, agree with the straightforward algorithms they replaced, and a
graph has a ceiling on nodes and wires with a clear error beyond it.

Linearity is shown without a clock: the work of a check is counted (lines of NN Studio's core executed, plus
every element that the C code visits when it scans the wire list or the order), once for n nodes and once for
10 n; linear work grows 10 times, quadratic work 100 times. The old order_all (a set of the order built per
node) measured 88 times."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnstudio.core
from nnstudio.core import graph as graph_module
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import MAX_NODES, MAX_WIRES, Edge, Graph, strongly_connected
from nnstudio.core.shapes import _Cache, infer_shapes
from nnstudio.core.summary import format_summary, summary_rows

CORE = str(Path(nnstudio.core.__file__).parent)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import graph_scale  # noqa: E402  (the benchmark's graph builders)


# -- the algorithms as they were (O(V E) and worse): the reference the new ones must agree with -----------------
def old_inputs_of(g: Graph, nid: str) -> list[Edge]:
    return sorted((e for e in g.edges if e.dst == nid), key=lambda e: e.dst_port)


def old_outputs_of(g: Graph, nid: str) -> list[Edge]:
    return [e for e in g.edges if e.src == nid]


def old_topological_order(g: Graph) -> list[str]:
    indegree = {nid: 0 for nid in g.nodes}
    for e in g.edges:
        indegree[e.dst] += 1
    ready = [nid for nid, d in indegree.items() if d == 0]
    order = []
    while ready:
        nid = ready.pop(0)
        order.append(nid)
        for e in old_outputs_of(g, nid):
            indegree[e.dst] -= 1
            if indegree[e.dst] == 0:
                ready.append(e.dst)
    return order


def old_reaches(g: Graph, start: str, target: str) -> bool:
    seen, stack = set(), [start]
    while stack:
        nid = stack.pop()
        if nid == target:
            return True
        if nid not in seen:
            seen.add(nid)
            stack.extend(e.dst for e in old_outputs_of(g, nid))
    return False


def old_cycle_nodes(g: Graph) -> set[str]:
    stuck = set(g.nodes) - set(old_topological_order(g))
    return {nid for nid in stuck if any(old_reaches(g, e.dst, nid) for e in old_outputs_of(g, nid))}


def same_answers(g: Graph) -> None:
    assert g.topological_order() == old_topological_order(g)
    assert g.cycle_nodes() == old_cycle_nodes(g)
    for e in g.edges[:5] + [Edge("n0", "n0", 7)]:
        assert g.has_edge(e) == (e in list(g.edges))
    for nid in g.nodes:
        assert g.inputs_of(nid) == old_inputs_of(g, nid), nid
        assert g.outputs_of(nid) == old_outputs_of(g, nid), nid
    ids = sorted(g.nodes)
    for a in ids[:4]:
        for b in ids[-4:]:
            assert g.reaches(a, b) == old_reaches(g, a, b)


@st.composite
def wirings(draw):
    """Any wiring at all of up to 12 dense nodes: cycles, self-loops, repeated wires, several ports."""
    n = draw(st.integers(1, 12))
    ids = [f"n{i}" for i in range(n)]
    edges = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from([0, 0, 1])),
                          max_size=30))
    return {"nodes": [{"id": i, "type": "dense"} for i in ids],
            "edges": [{"from": a, "to": b, "port": p} for a, b, p in edges]}


SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(wirings())
def test_order_cycles_and_wires_agree_with_the_old_algorithms(data):
    same_answers(Graph.from_dict(data))


@SETTINGS
@given(wirings(), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 40)), max_size=25))
def test_the_index_follows_every_edit(data, edits):
    """Connect (at the end or at a place), disconnect, remove and put back nodes in any order: the index
    always gives what a scan of ``edges`` gives."""
    g = Graph.from_dict(data)
    same_answers(g)
    for kind, a, b in edits:
        ids = sorted(g.nodes)
        if kind == 0 and ids:
            src, dst = ids[a % len(ids)], ids[b % len(ids)]
            if g.connect_problem(src, dst) is None:
                g.connect(src, dst, index=None if a % 2 else b % (len(g.edges) + 1))
        elif kind == 1 and g.edges:
            g.disconnect(g.edges[a % len(g.edges)])
        elif kind == 2 and ids:
            nid = ids[a % len(ids)]
            wires = [e for e in g.edges if nid in (e.src, e.dst)]
            indices = g.edge_indices(wires)
            node, removed = g.remove_node(nid)
            if b % 2:
                try:
                    g.insert_node(node, removed, indices, b % (len(g.nodes) + 1))
                except GraphError:  # a wire the graph now refuses (a filled port): all or nothing
                    assert nid not in g.nodes
        elif kind == 3 and ids:  # a wire added behind the graph's back: the index notices
            g.edges.append(Edge(ids[a % len(ids)], ids[b % len(ids)]))
        same_answers(g)


def test_tarjan_finds_a_long_cycle_without_recursion():
    n = 20_000
    successors = {i: [(i + 1) % n] for i in range(n)}
    components = strongly_connected(range(n), successors.__getitem__)
    assert len(components) == 1 and sorted(components[0]) == list(range(n))
    chain = strongly_connected(range(n), lambda i: [i + 1] if i + 1 < n else [])
    assert len(chain) == n


# -- counting the work ---------------------------------------------------------------------------------------
class Counted(list):
    """A list that counts the elements C code visits when it walks or scans it."""

    def __init__(self, items=(), counter=None):
        super().__init__(items)
        self.counter = counter if counter is not None else [0]

    def __iter__(self):
        self.counter[0] += len(self)
        return super().__iter__()

    def __contains__(self, item):
        self.counter[0] += len(self)
        return super().__contains__(item)

    def index(self, *args):
        self.counter[0] += len(self)
        return super().index(*args)

    def remove(self, item):
        self.counter[0] += len(self)
        return super().remove(item)

    def count(self, item):
        self.counter[0] += len(self)
        return super().count(item)


def work(fn) -> int:
    """Lines of nnstudio.core executed by ``fn()`` (torch and the standard library not counted)."""
    lines = [0]

    def local(frame, event, arg):
        if event == "line":
            lines[0] += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(CORE) else None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(old)
    return lines[0]


def instrumented(data: dict) -> tuple[Graph, list[int]]:
    g = Graph.from_dict(data)
    scanned = [0]
    g.edges = Counted(g.edges, scanned)
    order = g.topological_order
    g.topological_order = lambda: Counted(order(), scanned)  # GraphInfo.order: order_all scans it
    return g, scanned


def cost(data: dict, check) -> int:
    g, scanned = instrumented(data)
    cache = _Cache()
    infer_shapes(g, cache)  # the meta builds of the few distinct layers happen here, outside the count
    scanned[0] = 0
    lines = work(lambda: check(g, cache))
    return lines + scanned[0]


def validate_and_summarise(g: Graph, cache: _Cache) -> None:
    info = infer_shapes(g, cache)
    info.problems()
    summary_rows(g, info)
    format_summary(g, info=info)
    g.cycle_nodes()


@pytest.mark.parametrize("shape", ["chain", "fan", "cycle"])
def test_checks_do_linear_work(shape):
    def build(n):
        return {"chain": graph_scale.chain, "fan": graph_scale.fan,
                "cycle": lambda k: graph_scale.chain(k, cycle=k // 5)}[shape](n)

    small, large = build(500), build(5_000)
    growth = len(large["nodes"]) / len(small["nodes"])
    ratio = cost(large, validate_and_summarise) / cost(small, validate_and_summarise)
    assert 0.7 * growth < ratio < 1.3 * growth, (shape, growth, ratio)  # quadratic work would grow ~100x


def test_building_a_graph_edit_by_edit_is_linear():
    def build(n):
        def run():
            g = Graph()
            prev = g.add_node("input_vector").id
            for _ in range(n):
                nid = g.add_node("dense").id  # new_id must not scan every earlier dense_k
                g.connect(prev, nid)
                prev = nid
            g.remove_node(prev)
            g.edge_indices(list(g.edges)[:10])
        return work(run)

    ratio = build(3_000) / build(300)
    assert 7 < ratio < 13, ratio


def test_the_counter_sees_quadratic_work():
    """Guards the tests above: the old O(V E) order is measured as quadratic."""
    def old(g, cache):
        for nid in g.nodes:
            [e for e in g.edges if e.dst == nid]

    small, large = graph_scale.chain(150), graph_scale.chain(1_500)
    assert cost(large, old) / cost(small, old) > 50


# -- the ceiling ---------------------------------------------------------------------------------------------
def test_from_dict_refuses_more_nodes_or_wires_than_the_ceiling_before_building():
    nodes = [{"id": f"n{i}", "type": "dropout"} for i in range(MAX_NODES + 1)]
    with pytest.raises(GraphError, match=f"{MAX_NODES + 1:,} nodes, more than the {MAX_NODES:,}"):
        Graph.from_dict({"nodes": nodes, "edges": []})
    wires = [{"from": "a", "to": "ghost"}] * (MAX_WIRES + 1)  # refused for its count, before its ends are read
    with pytest.raises(GraphError, match=f"{MAX_WIRES + 1:,} wires, more than the {MAX_WIRES:,}"):
        Graph.from_dict({"nodes": nodes[:2], "edges": wires})


def test_edits_beyond_the_ceiling_are_refused(monkeypatch):
    monkeypatch.setattr(graph_module, "MAX_NODES", 3)
    monkeypatch.setattr(graph_module, "MAX_WIRES", 1)
    g = Graph()
    a, b, c = (g.add_node("dense").id for _ in range(3))
    with pytest.raises(GraphError, match="4 nodes, more than the 3 NN Studio handles"):
        g.add_node("dense")
    node, _ = g.remove_node(c)
    g.add_node("dense", node_id="other")
    with pytest.raises(GraphError, match="more than the 3"):
        g.insert_node(node)
    g.connect(a, b)
    assert g.connect_problem(b, "other") == "the network already has 1 wires, the most NN Studio handles"
    with pytest.raises(GraphError, match="the most NN Studio handles"):
        g.connect(b, "other")
    assert len(g.nodes) == 3 and len(g.edges) == 1


def test_the_file_schema_has_the_same_ceiling():
    schema = json.loads(resources.files("nnstudio.core.project").joinpath("schema.json").read_text("utf-8"))
    graph = schema["$defs"]["graph"]["properties"]
    assert graph["nodes"]["maxItems"] == MAX_NODES and graph["edges"]["maxItems"] == MAX_WIRES


def test_fifty_thousand_nodes_fit_under_the_ceiling():
    for data in (graph_scale.chain(50_000), graph_scale.fan(50_000), graph_scale.chain(50_000, cycle=10_000)):
        assert len(data["nodes"]) <= MAX_NODES and len(data["edges"]) <= MAX_WIRES
        assert len(data["nodes"]) > 45_000


def test_a_ten_thousand_node_cycle_is_reported_node_by_node():
    data = graph_scale.chain(12_000, cycle=10_000)
    g = Graph.from_dict(data)
    assert len(g.cycle_nodes()) == 10_000
    problems = g.validate()
    assert sum("part of a cycle" in p.message for p in problems) == 10_000
