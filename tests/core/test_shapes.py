"""Shape inference: the meta-device answer equals a real CPU forward pass for every layer, and the cache
re-builds only what an edit changed."""

from __future__ import annotations

import pytest
import torch

from nnstudio.core import shapes
from nnstudio.core.graph import Graph
from nnstudio.core.layers import registry
from nnstudio.core.layers.base import ACTIVATIONS, LONG, TensorInfo
from nnstudio.core.shapes import _Cache, infer_shapes

VEC = TensorInfo((6,))
SEQ = TensorInfo((5, 8))
IMG = TensorInfo((3, 9, 9))
TOK = TensorInfo((7,), LONG, vocab=20)

# (type_id, params, inputs)
CASES: list[tuple[str, dict, list[TensorInfo]]] = [
    ("dense", {}, [VEC]),
    ("dense", {"units": 5, "bias": False, "activation": "softmax"}, [SEQ]),
    ("flatten", {}, [IMG]),
    ("flatten", {}, [SEQ]),
    ("flatten", {}, [TOK]),
    ("reshape", {"shape": [2, 3]}, [VEC]),
    ("reshape", {"shape": [-1, 2]}, [VEC]),
    ("reshape", {"shape": [3, -1, 3]}, [IMG]),
    ("reshape", {"shape": [-1]}, [TOK]),
    ("dropout", {}, [VEC]),
    ("dropout", {"rate": 0.9}, [IMG]),
    *[("activation", {"function": a}, [x]) for a in ACTIVATIONS for x in (VEC, IMG)],
    ("conv2d", {}, [IMG]),
    ("conv2d", {"padding": "same", "kernel_size": 5, "filters": 4}, [IMG]),
    ("conv2d", {"padding": 1, "stride": 2}, [IMG]),
    ("conv2d", {"padding": "valid", "stride": 2, "kernel_size": 4, "bias": False}, [IMG]),
    ("conv2d", {"kernel_size": 9}, [IMG]),
    ("maxpool2d", {}, [IMG]),
    ("maxpool2d", {"pool_size": 3, "stride": 1, "padding": 1}, [IMG]),
    ("avgpool2d", {}, [IMG]),
    ("avgpool2d", {"pool_size": 4, "stride": 3, "padding": 2}, [IMG]),
    ("global_avg_pool", {}, [IMG]),
    ("global_avg_pool", {}, [SEQ]),
    ("batchnorm", {}, [VEC]),
    ("batchnorm", {"momentum": 0.5}, [SEQ]),
    ("batchnorm", {"eps": 0.001}, [IMG]),
    ("layernorm", {}, [VEC]),
    ("layernorm", {}, [SEQ]),
    ("layernorm", {}, [IMG]),
    ("embedding", {"vocab_size": 20, "dim": 4}, [TOK]),
    ("embedding", {"vocab_size": 50, "dim": 3}, [TOK]),
    *[
        (kind, {"hidden_size": 4, "bidirectional": bi, "num_layers": layers, "return_sequences": seq,
                "dropout": drop}, [SEQ])
        for kind in ("simple_rnn", "lstm", "gru")
        for bi, layers, seq, drop in [
            (False, 1, False, 0.0), (True, 1, False, 0.0), (False, 2, True, 0.3), (True, 2, True, 0.0),
            (True, 2, False, 0.5), (False, 1, True, 0.2),
        ]
    ],
    ("multi_head_self_attention", {}, [SEQ]),
    ("multi_head_self_attention", {"heads": 2, "key_dim": 3, "causal": True, "dropout": 0.2}, [SEQ]),
    ("transformer_encoder", {"heads": 2, "ff_dim": 16}, [SEQ]),
    ("transformer_encoder", {"heads": 4, "ff_dim": 8, "ff_activation": "gelu", "norm_first": True}, [SEQ]),
    ("positional_encoding", {}, [SEQ]),
    ("positional_encoding", {}, [TensorInfo((4, 5))]),  # odd feature count
    ("positional_encoding", {"kind": "learned"}, [SEQ]),
    ("add", {}, [VEC, VEC]),
    ("add", {}, [IMG, IMG, IMG]),
    ("concat", {}, [TensorInfo((3,)), TensorInfo((4,))]),
    ("concat", {"axis": -1}, [SEQ, TensorInfo((5, 2)), SEQ]),
    ("concat", {"axis": 0}, [SEQ, TensorInfo((2, 8))]),
    ("concat", {"axis": 0}, [IMG, TensorInfo((1, 9, 9))]),
    ("concat", {"axis": -2}, [IMG, TensorInfo((3, 2, 9))]),
    # the layers of the wider catalogue (tests/core/test_layers_wide.py tests them further)
    ("conv2d", {"dilation": 2, "groups": 3, "filters": 6}, [IMG]),
    ("conv2d", {"groups": 3, "filters": 3, "padding": "same", "dilation": 3}, [IMG]),  # depthwise
    ("maxpool2d", {"pool_size": 3, "stride": 2, "padding": 1}, [IMG]),  # ResNet's stem
    ("conv1d", {}, [SEQ]),
    ("conv1d", {"filters": 10, "padding": "same", "dilation": 2, "groups": 5, "activation": "relu6"}, [SEQ]),
    ("conv_transpose2d", {}, [IMG]),
    ("conv_transpose2d", {"filters": 6, "kernel_size": 3, "padding": 1, "output_padding": 1, "groups": 3}, [IMG]),
    ("adaptive_avg_pool2d", {}, [IMG]),
    ("adaptive_avg_pool2d", {"output_size": 4}, [IMG]),
    ("adaptive_max_pool2d", {"output_size": 2}, [IMG]),
    ("upsample2d", {}, [IMG]),
    ("upsample2d", {"scale_factor": 3, "mode": "bilinear"}, [IMG]),
    ("multiply", {}, [VEC, VEC]),
    ("multiply", {}, [IMG, IMG, IMG]),
    ("identity", {}, [IMG]),
    ("identity", {}, [TOK]),
]


def _case_id(case) -> str:
    type_id, params, inputs = case
    return type_id + "-" + "-".join(f"{k}={v}" for k, v in params.items()) + "-" + "+".join(x.text() for x in inputs)


def input_node(graph: Graph, x: TensorInfo) -> str:
    """An Input node producing ``x``."""
    if x.dtype == LONG:
        return graph.add_node("input_tokens", {"length": x.shape[0], "vocab_size": x.vocab}).id
    kind, names = {1: ("input_vector", ["features"]), 2: ("input_sequence", ["steps", "features"]),
                   3: ("input_image", ["channels", "height", "width"])}[len(x.shape)]
    return graph.add_node(kind, dict(zip(names, x.shape))).id


def sample(x: TensorInfo, batch: int) -> torch.Tensor:
    if x.dtype == LONG:
        return torch.randint(0, x.vocab, (batch, *x.shape))
    return torch.randn(batch, *x.shape)


def test_cases_cover_every_layer():
    layers = {s.type_id for s in registry.SPECS.values() if not s.is_input and not s.is_output}
    assert layers == {c[0] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_meta_shape_equals_cpu_forward(case):
    type_id, params, inputs = case
    spec = registry.get_spec(type_id)
    graph = Graph()
    sources = [input_node(graph, x) for x in inputs]
    node = graph.add_node(type_id, params)
    for src in sources:
        graph.connect(src, node.id)
    info = infer_shapes(graph, _Cache())
    meta = info.nodes[node.id]
    assert meta.problems == [], meta.problems
    assert [info.nodes[s].output for s in sources] == inputs

    torch.manual_seed(0)
    module = spec.build(spec.with_defaults(params), inputs)
    for training in (True, False):
        module.train(training)
        y = module(*[sample(x, batch=3) for x in inputs])
        assert tuple(y.shape) == (3, *meta.output.shape), f"train={training}"
        assert (y.dtype == torch.long) == (meta.output.dtype == LONG)
    assert sum(p.numel() for p in module.parameters()) == meta.params
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == meta.trainable
    assert all(p.device.type == "cpu" for p in module.parameters())


def test_token_ids_keep_their_vocabulary_through_reshape():
    graph = Graph()
    src = input_node(graph, TOK)
    flat = graph.add_node("reshape", {"shape": [-1]}).id
    graph.connect(src, flat)
    out = infer_shapes(graph, _Cache()).nodes[flat].output
    assert out == TensorInfo((7,), LONG) and out.vocab == 20


# -- the cache ---------------------------------------------------------------------------------------------
def chain30() -> tuple[Graph, list[str]]:
    graph = Graph()
    ids = [graph.add_node("input_vector", {"features": 8}).id]
    for i in range(28):
        ids.append(graph.add_node("dense", {"units": 16 if i % 2 else 12}).id)
    ids.append(graph.add_node("output", {"task": "regression"}).id)
    for a, b in zip(ids, ids[1:]):
        graph.connect(a, b)
    return graph, ids


@pytest.fixture
def counting(monkeypatch):
    """Count real meta builds, by node title and input shapes."""
    calls: list = []
    real = shapes._run_on_meta

    def spy(spec, params, inputs):
        calls.append((spec.type_id, dict(params), tuple(inputs)))
        return real(spec, params, inputs)

    monkeypatch.setattr(shapes, "_run_on_meta", spy)
    return calls


def test_unchanged_graph_is_all_cache_hits(counting):
    graph, ids = chain30()
    cache = _Cache()
    first = infer_shapes(graph, cache)
    assert first.ok and len(ids) == 30
    builds = cache.misses
    # Layers repeat (12 and 16 units on identical inputs), so the cache already saves work on the first pass.
    assert builds == len(counting) and builds < 29
    again = infer_shapes(graph, cache)
    assert cache.misses == builds and len(counting) == builds
    assert {k: v.output for k, v in again.nodes.items()} == {k: v.output for k, v in first.nodes.items()}


def test_changing_a_middle_layer_rebuilds_only_it_and_the_next(counting):
    graph, ids = chain30()
    cache = _Cache()
    before = infer_shapes(graph, cache)
    middle = ids[15]
    graph.set_params(middle, {"units": 33})
    counting.clear()
    misses = cache.misses
    after = infer_shapes(graph, cache)
    # The edited node (new params) and the one after it (new input width); from there on nothing changed.
    assert cache.misses - misses == 2
    assert [c[0] for c in counting] == ["dense", "dense"]
    assert counting[0][1]["units"] == 33 and counting[1][2] == (TensorInfo((33,)),)
    assert after.nodes[middle].output == TensorInfo((33,))
    assert after.nodes[ids[16]].params != before.nodes[ids[16]].params
    for nid in ids[17:]:
        assert after.nodes[nid].output == before.nodes[nid].output


def test_changing_an_activation_rebuilds_only_that_node(counting):
    graph, ids = chain30()
    cache = _Cache()
    before = infer_shapes(graph, cache)
    graph.set_params(ids[10], {"activation": "tanh"})
    counting.clear()
    misses = cache.misses
    after = infer_shapes(graph, cache)
    assert cache.misses - misses == 1
    assert counting[0][1]["activation"] == "tanh"
    assert {k: v.output for k, v in after.nodes.items()} == {k: v.output for k, v in before.nodes.items()}


def test_problems_are_cached_too(counting):
    graph = Graph()
    src = graph.add_node("input_image", {"height": 4, "width": 4}).id
    conv = graph.add_node("conv2d", {"kernel_size": 5}).id
    graph.connect(src, conv)
    cache = _Cache()
    first = infer_shapes(graph, cache).nodes[conv].problems
    second = infer_shapes(graph, cache).nodes[conv].problems
    assert first == second and len(first) == 1 and cache.misses == 1


def test_cache_is_bounded():
    cache = _Cache(size=3)
    for i in range(5):
        cache.put(i, (None, 0, 0, None))
    assert list(cache.data) == [2, 3, 4]
    assert cache.get(2) is not None
    cache.put(5, (None, 0, 0, None))
    assert list(cache.data) == [4, 2, 5]


def test_vocabulary_is_part_of_the_key():
    """Same shapes, different vocabularies: the Embedding's verdict must not come from the cache."""
    cache = _Cache()
    graph = Graph()
    tokens = graph.add_node("input_tokens", {"length": 4, "vocab_size": 10}).id
    emb = graph.add_node("embedding", {"vocab_size": 10, "dim": 2}).id
    graph.connect(tokens, emb)
    assert infer_shapes(graph, cache).nodes[emb].problems == []
    graph.set_params(tokens, {"vocab_size": 11})
    problems = infer_shapes(graph, cache).nodes[emb].problems
    assert problems == ["Embedding has a vocabulary of 10 but receives token ids up to 10 (N, 4): set its "
                        "vocabulary size to at least 11"]


SAME_SHAPE_INPUTS = [(5,), (1,), (7, 3), (2, 4, 6), (3, 8, 8), (16, 32)]


@pytest.mark.parametrize("spec", [s for s in registry.SPECS.values() if s.shape_preserving], ids=lambda s: s.type_id)
def test_layers_said_to_keep_the_shape_really_do(spec):
    """Shape inference skips running a shape-preserving layer: hold the flag to what the module returns, for
    every choice of its parameters and inputs of one to three axes."""
    choice = next((p for p in spec.params if p.kind == "choice"), None)
    variants = [{choice.name: c} for c in choice.choices] if choice else [{}]
    for extra in variants:
        params = spec.with_defaults(extra)
        for shape in SAME_SHAPE_INPUTS:
            inputs = [TensorInfo(shape)]
            trusted = shapes._run_on_meta(spec, params, inputs)
            ran = shapes._run_on_meta(spec, params, inputs, trust_spec=False)
            assert trusted == ran, (spec.type_id, extra, shape)
    assert len(SAME_SHAPE_INPUTS) > 1 and (choice is None or len(variants) > 1)


def test_token_ids_into_a_shape_preserving_layer_still_get_its_message():
    g = Graph()
    tokens = g.add_node("input_tokens", {"length": 8, "vocab_size": 50})
    norm = g.add_node("layernorm")
    g.connect(tokens.id, norm.id)
    info = infer_shapes(g, _Cache())
    assert info.nodes[norm.id].output is None and "LayerNorm" in " ".join(info.nodes[norm.id].problems)
