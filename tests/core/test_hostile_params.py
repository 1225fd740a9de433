"""A project file can hold any JSON value in a node's params. Whatever the value, for every layer and every
parameter: ``validate``, ``infer_shapes``, ``format_summary``, the node face (``spec.summary``) and the shape
cache's key never raise; ``compile_graph`` builds the model or raises GraphError; and a problem is one short
plain line naming what is wrong, never an internal error."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.core.compile import compile_graph
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph
from nnstudio.core.layers import registry
from nnstudio.core.layers.base import _short
from nnstudio.core.shapes import _Cache, _freeze, infer_shapes
from nnstudio.core.summary import format_summary, summary_rows

SPECS = list(registry.SPECS.values())

# Values a hand-written or fuzzed file (or a script calling the API) can put in params.
HOSTILE = [
    None, True, False, 0, -1, -7, 3, 2**31, 2**63, 2**64 + 1, 10**80, -(10**80), 10**5000,  # 10**5000: API only
    0.0, -0.0, 3.0, 2.5, 1e-320, 1e308, -1e308, float("inf"), float("-inf"), float("nan"),
    "", "3", "relu", "same", "valid", "none", "x" * 10_000, "\u2028\u2029", "\ud800",
    [], [1], [3, 3], ["relu"], [[1, 2]], [[[]]], [1.5], [True], [None], [10**80], [2**62, 2**62], [-1, -1],
    [0], [-5], list(range(1, 2000)), [1] * 100,
    {}, {"a": 1}, {"relu": True}, {"units": [1, {"x": None}]},
]


def json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
                        st.sampled_from([10**30, -(10**30), 1e308, 2**63 - 1]))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=12)


# -- a home for every layer: a small network in which its default parameters are valid -----------------------
INPUTS = {
    "vector": ("input_vector", {"features": 4}),
    "image": ("input_image", {"channels": 2, "height": 6, "width": 6}),
    "sequence": ("input_sequence", {"steps": 5, "features": 4}),
    "tokens": ("input_tokens", {"length": 5, "vocab_size": 10}),
}


def network(spec, kind: str, params: dict) -> dict:
    """``kind`` input -> the layer under test (id "x", with ``params``) -> Flatten -> Dense(2) -> Output."""
    nodes, edges = [], []

    def add(nid, type_id, p, *sources):
        nodes.append({"id": nid, "type": type_id, "params": p})
        edges.extend({"from": s, "to": nid} for s in sources)

    if spec.is_input:
        add("x", spec.type_id, params)
        last = "x"
    else:
        type_id, p = INPUTS[kind]
        add("inp", type_id, p)
        last = "inp"
    if spec.is_output:
        add("flat", "flatten", {}, last)
        add("dense", "dense", {"units": 2, "activation": "none"}, "flat")
        add("x", "output", params, "dense")
        return {"nodes": nodes, "edges": edges}
    if not spec.is_input:
        if spec.inputs is None:  # a merge: two branches of the input
            add("b1", "flatten", {}, last)
            add("b2", "flatten", {}, last)
            add("x", spec.type_id, params, "b1", "b2")
        else:
            add("x", spec.type_id, params, last)
        last = "x"
    if spec.type_id == "input_tokens" or (kind == "tokens" and spec.type_id != "embedding" and not spec.is_input):
        vocab = params.get("vocab_size", 1000) if spec.type_id == "input_tokens" else 10
        vocab = vocab if isinstance(vocab, int) and not isinstance(vocab, bool) and 2 <= vocab <= 10**5 else 1000
        add("emb", "embedding", {"vocab_size": vocab, "dim": 3}, last)
        last = "emb"
    add("flat_out", "flatten", {}, last)
    add("dense_out", "dense", {"units": 2, "activation": "none"}, "flat_out")
    add("out", "output", {"task": "multiclass"}, "dense_out")
    return {"nodes": nodes, "edges": edges}


def home(spec) -> str:
    for kind in INPUTS:
        if not Graph.from_dict(network(spec, kind, {})).validate():
            return kind
    raise AssertionError(f"no home network for {spec.type_id}")


HOMES = {spec.type_id: home(spec) for spec in SPECS}
CASES = [(spec, p.name) for spec in SPECS for p in spec.params]


def check(spec, name: str, value, compile_it: bool = True) -> str:
    """Everything the app does with a node whose parameter ``name`` is ``value``; returns "refused" or
    "built"."""
    try:
        return _check(spec, name, value, compile_it)
    except BaseException as exc:  # name the case: a failure among hundreds of values must say which
        raise AssertionError(f"{spec.type_id}.{name} = {_short(value, 80)}: {type(exc).__name__}: "
                             f"{_short(str(exc), 300)}") from exc


def _check(spec, name: str, value, compile_it: bool) -> str:
    params = {name: value}
    data = network(spec, HOMES[spec.type_id], params)
    graph = Graph.from_dict(data)  # what the file loader does after its schema check
    node = graph.node("x")
    info = infer_shapes(graph, _Cache())
    problems = graph.validate()
    assert [p.text() for p in problems] == [p.text() for p in info.problems()]
    for p in problems:
        assert isinstance(p.message, str) and p.message and "\n" not in p.message
        assert len(p.message) < 400, p.message
        assert "internal error" not in p.message, p.message
    assert isinstance(format_summary(graph), str) and len(summary_rows(graph)) == len(graph.nodes)
    face = spec.summary(node.params)
    assert isinstance(face, str) and "\n" not in face and len(face) < 200
    assert isinstance(spec.summary(params), str)  # a raw, partial parameter dict too
    hash(_freeze(node.params))
    hash(_freeze(params))
    if spec.param(name).check(value) is None:  # an edit with this value is accepted, or refused: never a crash
        graph.set_params("x", params)
    else:
        with pytest.raises(GraphError, match=f"^x: "):
            graph.set_params("x", params)
    if problems:
        with pytest.raises(GraphError):
            compile_graph(graph)
        return "refused"
    if compile_it:
        model = compile_graph(graph, seed=0)
        xs = model.example_inputs(batch=2)
        y = model.module(*xs)
        assert tuple(y.shape) == (2, *model.output_info.shape) and y.dtype == torch.float32
    return "built"


@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s.type_id}.{n}" for s, n in CASES])
def test_every_parameter_of_every_layer_survives_every_hostile_value(spec, name):
    outcomes = [check(spec, name, value, compile_it=False) for value in HOSTILE]
    assert "refused" in outcomes  # values of the wrong type are reported, not kept silently


@settings(max_examples=250, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(CASES), st.one_of(st.sampled_from(HOSTILE), json_values()))
def test_any_json_value_in_any_parameter(case, value):
    spec, name = case
    check(spec, name, value)


def test_every_layer_has_a_home_where_its_defaults_build():
    assert set(HOMES) == {s.type_id for s in SPECS} and len(CASES) > 40
    for spec in SPECS:
        for p in spec.params:
            assert check(spec, p.name, p.default) == "built", (spec.type_id, p.name)


@pytest.mark.parametrize("value", [["relu"], {"relu": 1}, 10**5000, "softmax!", None], ids=lambda v: _short(v, 20))
def test_a_choice_given_as_a_list_is_a_node_problem(value):
    graph = Graph.from_dict(network(registry.get_spec("dense"), "vector", {"activation": value}))
    messages = [p.message for p in graph.validate() if p.node_id == "x"]
    assert len(messages) == 1 and messages[0].startswith("Activation must be one of none, relu")
    assert graph.node("x").spec.summary(graph.node("x").params) == "64 units, ?"
    with pytest.raises(GraphError, match="x: Activation must be one of"):
        compile_graph(graph)


def test_an_unprintable_number_is_described_not_printed():
    assert _short(10**5000) == "<a number of 5,001 digits>"
    assert _short(-(10**200)) == "-<a number of 201 digits>"
    assert len(_short(list(range(10**6)))) <= 40 and _short([[1] * 10] * 10).startswith("[[1, 1")
    graph = Graph.from_dict(network(registry.get_spec("dense"), "vector", {"units": 10**5000}))
    assert [p.message for p in graph.validate()] == ["Units must be at most 1000000, not <a number of 5,001 digits>"]


def test_the_cache_key_tells_types_apart_and_takes_anything():
    keys = [_freeze(v) for v in (1, 1.0, True, "1", [1], (1,), {"a": 1}, None)]
    assert len(set(keys)) == len(keys)
    assert _freeze({"a": [1, {"b": 2}]}) == _freeze({"a": [1, {"b": 2}]})
    assert _freeze({1: "x", "1": "y"}) != _freeze({"1": "x", 1: "y"})  # keys of mixed types sort too
    for odd in ({1, 2}, bytearray(b"x"), [{3}], {"s": {4}}):
        hash(_freeze(odd))
    assert _freeze({1, 2}) == _freeze({1, 2})
    hash(_freeze([float("nan")]))  # never equal to itself: a cache miss each time, never a crash


@pytest.mark.parametrize("bad", [[], "params", 3, {1: 2}])
def test_params_that_are_not_an_object_are_refused(bad):
    with pytest.raises(GraphError, match="params of node 'x' must be an object"):
        Graph.from_dict({"nodes": [{"id": "x", "type": "dense", "params": bad}], "edges": []})
    g = Graph()
    g.add_node("dense", node_id="d")
    with pytest.raises(GraphError, match="parameters must be given by name"):
        g.set_params("d", bad)


@pytest.mark.parametrize("node", [
    {"id": "x", "type": ["dense"]}, {"id": "x", "type": {"t": 1}}, {"id": "x", "type": None},
    {"id": ["x"], "type": "dense"}, {"type": "dense"}, {"id": "x", "type": "dense", "position": "here"},
    {"id": "x", "type": "dense", "position": [1]}, {"id": "x", "type": "dense", "position": [[1], 2]},
    {"id": "x", "type": "dense", "label": 3}, "dense",
])
def test_a_malformed_node_is_a_graph_error(node):
    with pytest.raises(GraphError):
        Graph.from_dict({"nodes": [node], "edges": []})


@pytest.mark.parametrize("edge", [{"from": "a"}, {"from": ["a"], "to": "b"}, {"from": "a", "to": "b", "port": -1},
                                  {"from": "a", "to": "b", "port": True}, {"from": "a", "to": "b", "port": "0"},
                                  {"from": "a", "to": "b", "port": 10**80}, ["a", "b"]])
def test_a_malformed_wire_is_a_graph_error(edge):
    nodes = [{"id": "a", "type": "input_vector"}, {"id": "b", "type": "dense"}]
    with pytest.raises(GraphError):
        Graph.from_dict({"nodes": nodes, "edges": [edge]})
