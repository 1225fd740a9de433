"""Random graphs: whatever the layers, parameters and wiring, a graph either compiles and runs on the CPU with
the output shape shape inference predicted, or validate() names a problem and compile_graph raises GraphError.
Nothing else may escape."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from nnstudio.core import memory
from nnstudio.core.compile import compile_graph
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph
from nnstudio.core.layers import registry
from nnstudio.core.layers.base import LONG, Param
from nnstudio.core.shapes import infer_shapes
from test_graph_scale import same_answers  # the old O(V E) algorithms, side by side with the graph's

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")

INPUTS = [s.type_id for s in registry.SPECS.values() if s.is_input]
LAYERS = [s.type_id for s in registry.SPECS.values() if not s.is_input and not s.is_output]
MERGES = [s.type_id for s in registry.SPECS.values() if s.inputs is None]

# Small values keep every example fast (a few milliseconds of real maths).
SMALL_INTS = {
    "features": (1, 6), "channels": (1, 3), "height": (1, 9), "width": (1, 9), "length": (1, 6), "steps": (1, 6),
    "vocab_size": (2, 12), "units": (1, 6), "filters": (1, 4), "kernel_size": (1, 4), "stride": (0, 3),
    "pool_size": (1, 3), "hidden_size": (1, 5), "num_layers": (1, 2), "dim": (1, 6), "heads": (1, 4),
    "key_dim": (1, 4), "ff_dim": (1, 8), "axis": (-3, 3),
}
BAD_VALUES = [0, -1, -7, 1.5, "x", None, True, [3], 10**6, float("nan")]

# The rough kind of tensor each layer wants and what it gives, to bias the search towards networks that work.
WANTS = {
    "vec": ["dense", "dropout", "activation", "batchnorm", "layernorm", "reshape", "add", "concat"],
    "seq": ["lstm", "gru", "simple_rnn", "multi_head_self_attention", "transformer_encoder", "positional_encoding",
            "dense", "layernorm", "batchnorm", "global_avg_pool", "flatten", "add", "concat"],
    "img": ["conv2d", "maxpool2d", "avgpool2d", "batchnorm", "global_avg_pool", "flatten", "activation", "dropout",
            "add", "concat"],
    "tok": ["embedding", "embedding", "flatten", "dropout", "reshape"],
}
GIVES = {"input_vector": "vec", "input_sequence": "seq", "input_image": "img", "input_tokens": "tok",
         "global_avg_pool": "vec", "flatten": "vec", "embedding": "seq", "reshape": "?"}


@st.composite
def param_value(draw, p: Param):
    if p.name in SMALL_INTS and p.kind == "int":
        lo, hi = SMALL_INTS[p.name]
        return draw(st.integers(max(lo, int(p.minimum)), min(hi, int(p.maximum))))
    if p.kind == "int":
        return draw(st.integers(int(p.minimum), min(int(p.maximum), int(p.minimum) + 4)))
    if p.kind == "float":
        return draw(st.sampled_from(sorted({p.minimum, p.default, (p.minimum + p.maximum) / 2})))
    if p.kind == "bool":
        return draw(st.booleans())
    if p.kind == "choice":
        return draw(st.sampled_from(p.choices))
    if p.kind == "padding":
        return draw(st.sampled_from(["valid", "same", 0, 1, 2]))
    if p.kind == "ints":
        return draw(st.lists(st.sampled_from([-1, 1, 2, 3, 4, 6]), min_size=1, max_size=3))
    raise AssertionError(p.kind)


@st.composite
def node_params(draw, type_id: str, hint: dict | None = None, clean: bool = False):
    spec = registry.get_spec(type_id)
    params = {p.name: draw(param_value(p)) for p in spec.params if draw(st.integers(0, 3))}  # some left default
    params.update(hint or {})
    if spec.params and not clean and draw(st.integers(0, 5)) == 0:  # now and then a value that is not allowed
        params[draw(st.sampled_from([p.name for p in spec.params]))] = draw(st.sampled_from(BAD_VALUES))
    return params


@st.composite
def graph_dicts(draw) -> dict:
    nodes: list[dict] = []
    edges: list[dict] = []
    kinds: dict[str, str] = {}
    clean = not draw(st.booleans())  # half the graphs are wired sensibly with allowed values; the rest anyhow

    def add(node_id: str, type_id: str, params: dict, sources: list[str]) -> None:
        nodes.append({"id": node_id, "type": type_id, "params": params})
        edges.extend({"from": s, "to": node_id} for s in sources)

    for i in range(1 if clean else draw(st.sampled_from([1, 1, 2, 0]))):
        type_id = draw(st.sampled_from(INPUTS))
        add(f"in_{i}", type_id, draw(node_params(type_id, clean=clean)), [])
        kinds[f"in_{i}"] = GIVES[type_id]
    last = nodes[-1]["id"] if nodes else None
    for j in range(draw(st.integers(0, 6))):
        sensible = last is not None and (clean or draw(st.booleans()))
        src = last if sensible or not kinds else draw(st.sampled_from(sorted(kinds)))
        choices = WANTS.get(kinds.get(src, "?"), LAYERS) if sensible else LAYERS
        if clean and kinds.get(src) == "tok":
            choices = ["embedding", "flatten", "reshape"]
        type_id = draw(st.sampled_from(choices))
        if type_id in MERGES and kinds:
            same = [n for n, k in kinds.items() if k == kinds.get(src)] if sensible else sorted(kinds)
            sources = [src] + draw(st.lists(st.sampled_from(sorted(same or kinds)), min_size=1, max_size=2))
        else:
            sources = [src] if src else []
        node_id = f"{type_id}_{j}"
        hint = {"return_sequences": False} if type_id in ("lstm", "gru", "simple_rnn") and sensible else None
        if type_id == "embedding" and sensible and draw(st.booleans()):
            hint = {"vocab_size": SMALL_INTS["vocab_size"][1]}
        if type_id in ("maxpool2d", "avgpool2d") and clean:
            hint = {"pool_size": 2, "padding": draw(st.integers(0, 1))}
        add(node_id, type_id, draw(node_params(type_id, hint, clean)), sources)
        kinds[node_id] = GIVES.get(type_id, kinds.get(src, "?"))
        if type_id in ("flatten", "dropout", "reshape") and kinds.get(src) == "tok":
            kinds[node_id] = "tok"
        if type_id in ("lstm", "gru", "simple_rnn") and not nodes[-1]["params"].get("return_sequences"):
            kinds[node_id] = "vec"
        last = node_id
    for k in range(1 if clean else draw(st.sampled_from([1, 1, 1, 0, 2]))):
        task = draw(st.sampled_from(["multiclass", "binary", "regression"]))
        src = last
        if last is not None and (clean or draw(st.booleans())):  # usually end with a head that suits the task
            if kinds.get(last) == "tok":
                add(f"emb_{k}", "embedding", {"vocab_size": SMALL_INTS["vocab_size"][1], "dim": 2}, [src])
                src = f"emb_{k}"
            if kinds.get(last) != "vec":
                add(f"flat_{k}", "flatten", {}, [src])
                src = f"flat_{k}"
            units = {"multiclass": 3, "binary": 1, "regression": 2}[task]
            add(f"head_{k}", "dense", {"units": units, "activation": draw(st.sampled_from(
                ["none", "softmax", "sigmoid"]))}, [src])
            src = f"head_{k}"
        add(f"out_{k}", "output", {"task": task}, [src] if src else [])
    ids = [n["id"] for n in nodes]
    if ids and not clean and draw(st.booleans()):  # bad wiring: any wire at all, on any port
        for _ in range(draw(st.integers(1, 3))):
            edges.append({"from": draw(st.sampled_from(ids)), "to": draw(st.sampled_from(ids)),
                          "port": draw(st.sampled_from([0, 0, 0, 1]))})
    if edges and not clean and draw(st.integers(0, 3)) == 0:
        edges.pop(draw(st.integers(0, len(edges) - 1)))
    return {"nodes": nodes, "edges": edges}


def check(data: dict) -> str:
    """Compile and run, or be refused with GraphError; returns which of the two happened."""
    note(repr(data))
    graph = Graph.from_dict(data)
    info = infer_shapes(graph)
    problems = graph.validate()
    note("\n".join(p.text() for p in problems))
    assert [p.text() for p in problems] == [p.text() for p in info.problems()]
    if problems:
        assert all(p.message for p in problems)
        with pytest.raises(GraphError):
            compile_graph(graph)
        return "refused"
    model = compile_graph(graph, seed=0)
    expected = info.nodes[model.output_node].output
    xs = model.example_inputs(batch=2)
    assert len(xs) == len(model.input_names)
    for x, name in zip(xs, model.input_names):
        assert tuple(x.shape[1:]) == info.nodes[name].output.shape
        assert (x.dtype == torch.long) == (info.nodes[name].output.dtype == LONG)
    model.module.train()
    y = model.module(*xs)
    assert tuple(y.shape) == (2, *expected.shape) and y.dtype == torch.float32
    if y.requires_grad:
        y.sum().backward()
    assert tuple(model.predict(*xs).shape) == (2, *expected.shape)
    for name, child in model.module.named_children():
        assert sum(p.numel() for p in child.parameters()) == info.nodes[name].params, name
    # the memory estimate counts exactly what the compiled model holds, and state_bytes at least that
    held = sum(t.numel() * t.element_size() for t in [*model.module.parameters(), *model.module.buffers()])
    est = memory.estimate(graph, 2, info=info)
    assert est.param_bytes + est.buffer_bytes == held <= memory.state_bytes(graph, info)
    return "ran"


SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(graph_dicts())
def test_random_graph_compiles_and_runs_or_is_refused(data):
    check(data)


def test_the_generator_makes_both_kinds():
    """Guards the test above: it must see networks that run and networks that are refused."""
    seen: list[str] = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(graph_dicts())
    def run(data):
        seen.append(check(data))

    run()
    assert seen.count("ran") >= 10 and seen.count("refused") >= 10, (seen.count("ran"), seen.count("refused"))


@SETTINGS
@given(graph_dicts())
def test_graph_checks_agree_with_the_old_algorithms(data):
    """The linear order, cycle and wire look-ups give what the O(V E) scans they replaced gave."""
    same_answers(Graph.from_dict(data))
