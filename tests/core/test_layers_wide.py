"""The wider catalogue (issue 16): Conv2D's dilation and groups, Conv1D, ConvTranspose2D, the adaptive pools,
Upsample2D, Multiply, Identity and the ReLU6 / Hardswish / Hardsigmoid activations.

For each: its config round-trips, the meta-device shape is the real module's, a bad input is a one-line
ShapeProblem that torch itself would also refuse, it compiles and runs forward and backward, and one graph
holding all of them gives the app's outputs from the exported script (run without nnstudio) and in onnxruntime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnstudio.core.compile import compile_graph
from nnstudio.core.export import export_onnx, export_python, export_weights
from nnstudio.core.export.model_code import constructor
from nnstudio.core.graph import Graph
from nnstudio.core.layers import registry
from nnstudio.core.layers.activations import FORMULAS, activation_call, activation_module
from nnstudio.core.layers.base import ACTIVATION_TITLES, ACTIVATIONS, LONG, ShapeProblem, TensorInfo
from nnstudio.core.project.model import Project
from nnstudio.core.shapes import _Cache, infer_shapes

NEW = ("conv1d", "conv_transpose2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "upsample2d", "multiply",
       "identity")
NEW_ACTIVATIONS = ("relu6", "hardswish", "hardsigmoid")
IMG = TensorInfo((4, 9, 9))
SIG = TensorInfo((4, 12))  # (channels, length)
VEC = TensorInfo((6,))
TOK = TensorInfo((7,), LONG, vocab=20)


def input_node(graph: Graph, x: TensorInfo) -> str:
    if x.dtype == LONG:
        return graph.add_node("input_tokens", {"length": x.shape[0], "vocab_size": x.vocab}).id
    kind, names = {1: ("input_vector", ["features"]), 2: ("input_sequence", ["steps", "features"]),
                   3: ("input_image", ["channels", "height", "width"])}[len(x.shape)]
    return graph.add_node(kind, dict(zip(names, x.shape))).id


def one_layer(type_id: str, params: dict, inputs: list[TensorInfo]) -> tuple[Graph, str]:
    graph = Graph()
    sources = [input_node(graph, x) for x in inputs]
    node = graph.add_node(type_id, params).id
    for src in sources:
        graph.connect(src, node)
    return graph, node


# -- the catalogue ------------------------------------------------------------------------------------------------
def test_new_layers_are_registered_in_their_palette_groups():
    groups = {c: [s.type_id for s in specs] for c, specs in registry.by_category().items()}
    assert {"conv1d", "conv_transpose2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
            "upsample2d"} <= set(groups["Convolution"])
    assert groups["Convolution"][:3] == ["conv2d", "conv1d", "conv_transpose2d"]
    assert "multiply" in groups["Merge"] and "identity" in groups["Core"]
    for type_id in NEW:
        spec = registry.get_spec(type_id)
        assert spec.title and spec.description and spec.formula and spec.glyph and spec.build_fn
        assert spec.extra.get("keywords"), f"{type_id} has no search words for the palette"
    assert registry.get_spec("multiply").inputs is None  # two or more, like Add


def test_the_ids_and_parameters_the_importer_relies_on():
    def names(type_id: str) -> dict:
        return {p.name: p.default for p in registry.get_spec(type_id).params}

    assert names("conv2d") == {"filters": 32, "kernel_size": 3, "stride": 1, "padding": "valid", "dilation": 1,
                               "groups": 1, "bias": True, "activation": "relu"}
    assert names("conv1d") == names("conv2d")
    assert names("conv_transpose2d") == {"filters": 32, "kernel_size": 2, "stride": 2, "padding": 0,
                                         "output_padding": 0, "groups": 1, "bias": True, "activation": "none"}
    assert names("adaptive_avg_pool2d") == names("adaptive_max_pool2d") == {"output_size": 1}
    assert names("upsample2d") == {"scale_factor": 2, "mode": "nearest"}
    assert registry.get_spec("upsample2d").param("mode").choices == ("nearest", "bilinear")
    scale = registry.get_spec("upsample2d").param("scale_factor")
    assert (scale.minimum, scale.maximum) == (1, 16)
    for type_id in ("conv2d", "conv1d"):
        spec = registry.get_spec(type_id)
        assert (spec.param("dilation").minimum, spec.param("dilation").maximum) == (1, 64)
        assert (spec.param("groups").minimum, spec.param("groups").maximum) == (1, 65536)
    assert names("multiply") == names("identity") == {}


def test_new_activations_are_offered_everywhere():
    assert ACTIVATIONS[-3:] == NEW_ACTIVATIONS
    assert [ACTIVATION_TITLES[a] for a in NEW_ACTIVATIONS] == ["ReLU6", "Hardswish", "Hardsigmoid"]
    assert registry.get_spec("activation").param("function").choices == ACTIVATIONS
    assert registry.get_spec("conv1d").param("activation").choices == ACTIVATIONS
    x = torch.linspace(-8, 8, 161)
    for name, fn in (("relu6", F.relu6), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid)):
        assert FORMULAS[name].startswith("f(x) = ")
        call, kwargs = activation_call(name, 2)
        assert call is fn and kwargs == {}
        assert torch.equal(activation_module(name, 2)(x), fn(x))
    assert float(F.relu6(torch.tensor(9.0))) == 6.0  # the formulas say what torch computes
    assert float(F.hardsigmoid(torch.tensor(1.5))) == pytest.approx((1.5 + 3) / 6)


# -- config round trip --------------------------------------------------------------------------------------------
CONFIGS = [
    ("conv2d", {"filters": 8, "kernel_size": 5, "dilation": 3, "groups": 4, "padding": 2}),
    ("conv1d", {"filters": 6, "kernel_size": 4, "stride": 2, "padding": 1, "dilation": 2, "groups": 2,
                "bias": False, "activation": "hardswish"}),
    ("conv_transpose2d", {"filters": 5, "kernel_size": 4, "stride": 3, "padding": 1, "output_padding": 2,
                          "groups": 1, "bias": False, "activation": "relu6"}),
    ("adaptive_avg_pool2d", {"output_size": 7}),
    ("adaptive_max_pool2d", {"output_size": 3}),
    ("upsample2d", {"scale_factor": 16, "mode": "bilinear"}),
    ("multiply", {}),
    ("identity", {}),
    ("activation", {"function": "hardsigmoid"}),
]


@pytest.mark.parametrize(("type_id", "params"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_config_round_trips_through_a_saved_graph(type_id, params):
    graph = Graph()
    node = graph.add_node(type_id, params)
    again = Graph.from_dict(json.loads(json.dumps(graph.to_dict())))
    spec = registry.get_spec(type_id)
    assert spec.with_defaults(again.nodes[node.id].params) == spec.with_defaults(params)
    assert spec.param_problems(spec.with_defaults(params)) == []


def test_a_conv2d_saved_before_dilation_and_groups_still_builds_the_same_layer():
    old = {"filters": 6, "kernel_size": 3, "stride": 1, "padding": "same", "bias": True, "activation": "relu"}
    graph, node = one_layer("conv2d", old, [IMG])
    assert infer_shapes(graph, _Cache()).nodes[node].problems == []
    spec = registry.get_spec("conv2d")
    module = spec.build(spec.with_defaults(old), [IMG])
    assert (module.dilation, module.groups) == ((1, 1), 1)
    assert constructor("conv2d_1", module) == 'nn.Conv2d(4, 6, 3, padding="same")'
    # a dict without the new keys at all (as the importer or an older caller may pass) builds too
    assert spec.build_fn(old, [IMG]).groups == 1


def test_summaries_name_the_new_settings():
    conv = registry.get_spec("conv2d")
    assert conv.summary({"filters": 8, "dilation": 2, "groups": 8}) == "8 filters 3x3, dilation 2, groups 8, ReLU"
    assert registry.get_spec("conv1d").summary({}) == "32 filters width 3, ReLU"
    assert registry.get_spec("conv_transpose2d").summary({"output_padding": 1}) == \
        "32 filters 2x2, stride 2, output pad 1"
    assert registry.get_spec("upsample2d").summary({"mode": "bilinear"}) == "x2, bilinear"
    assert registry.get_spec("adaptive_avg_pool2d").summary({}) == "to 1x1"
    assert registry.get_spec("maxpool2d").summary({"pool_size": 3, "stride": 2, "padding": 1}) == \
        "3x3, stride 2, pad 1"


# -- shapes on the meta device are the real module's ------------------------------------------------------------
SHAPES = [
    ("conv2d", {"filters": 8, "dilation": 2, "groups": 2}, [IMG], (8, 5, 5)),
    ("conv2d", {"filters": 4, "groups": 4, "padding": "same", "dilation": 2}, [IMG], (4, 9, 9)),  # depthwise
    ("conv2d", {"filters": 8, "groups": 4, "kernel_size": 3, "stride": 2, "padding": 1}, [IMG], (8, 5, 5)),
    ("conv1d", {}, [SIG], (32, 10)),
    ("conv1d", {"filters": 8, "padding": "same", "dilation": 3, "groups": 4}, [SIG], (8, 12)),
    ("conv1d", {"filters": 2, "kernel_size": 5, "stride": 2, "padding": 2}, [SIG], (2, 6)),
    ("conv_transpose2d", {}, [IMG], (32, 18, 18)),
    ("conv_transpose2d", {"filters": 4, "kernel_size": 3, "padding": 1, "output_padding": 1, "groups": 4}, [IMG],
     (4, 18, 18)),
    ("conv_transpose2d", {"filters": 3, "kernel_size": 3, "stride": 1, "padding": 1}, [IMG], (3, 9, 9)),
    ("adaptive_avg_pool2d", {}, [IMG], (4, 1, 1)),
    ("adaptive_avg_pool2d", {"output_size": 4}, [IMG], (4, 4, 4)),
    ("adaptive_max_pool2d", {"output_size": 2}, [IMG], (4, 2, 2)),
    ("adaptive_max_pool2d", {"output_size": 12}, [IMG], (4, 12, 12)),  # larger than the input: torch repeats
    ("upsample2d", {}, [IMG], (4, 18, 18)),
    ("upsample2d", {"scale_factor": 3, "mode": "bilinear"}, [IMG], (4, 27, 27)),
    ("maxpool2d", {"pool_size": 3, "stride": 2, "padding": 1}, [IMG], (4, 5, 5)),  # ResNet's stem
    ("avgpool2d", {"pool_size": 3, "stride": 2, "padding": 1}, [IMG], (4, 5, 5)),
    ("multiply", {}, [IMG, IMG], (4, 9, 9)),
    ("multiply", {}, [VEC, VEC, VEC], (6,)),
    ("identity", {}, [SIG], (4, 12)),
    ("identity", {}, [TOK], (7,)),
]


@pytest.mark.parametrize("case", SHAPES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPES)])
def test_meta_shape_is_the_real_modules(case):
    type_id, params, inputs, expected = case
    graph, node = one_layer(type_id, params, inputs)
    meta = infer_shapes(graph, _Cache()).nodes[node]
    assert meta.problems == [] and meta.output.shape == expected
    spec = registry.get_spec(type_id)
    module = spec.build(spec.with_defaults(params), inputs)
    xs = [torch.randint(0, x.vocab, (3, *x.shape)) if x.dtype == LONG else torch.randn(3, *x.shape)
          for x in inputs]
    y = module(*xs)
    assert tuple(y.shape) == (3, *expected)
    assert meta.params == sum(p.numel() for p in module.parameters())
    assert (y.dtype == torch.long) == (meta.output.dtype == LONG)


# -- bad inputs: one line that says what was expected and what was received -----------------------------------
# (type_id, params, inputs, words the message holds, whether torch itself refuses the layer on these inputs)
BAD = [
    ("conv2d", {"filters": 32, "groups": 3}, [IMG],
     "Conv2D groups 3 must divide both its 32 filters and the 4 input channels it receives (N, 4, 9, 9)", True),
    ("conv2d", {"filters": 6, "groups": 4}, [IMG], "its 6 filters and the 4 input channels", True),
    ("conv2d", {"kernel_size": 3, "dilation": 5}, [IMG],
     "Conv2D kernel 3x3 with dilation 5 spans 11x11, more than the 9x9 image it receives (N, 4, 9, 9)", True),
    ("conv1d", {}, [IMG], "Conv1D expects signals (N, channels, length) but receives (N, 4, 9, 9): use Conv2D", True),
    ("conv1d", {}, [VEC], "Conv1D expects signals (N, channels, length) but receives (N, 6): insert a Reshape", True),
    ("conv1d", {"kernel_size": 13}, [SIG], "Conv1D kernel 13 is longer than the signal of length 12 it receives",
     True),
    ("conv1d", {"kernel_size": 4, "dilation": 4}, [SIG], "kernel 4 with dilation 4 spans 13, more than the signal",
     True),
    ("conv1d", {"padding": "same", "stride": 2}, [SIG], "Conv1D padding 'same' needs stride 1 but stride is 2", True),
    ("conv1d", {"groups": 3}, [SIG], "Conv1D groups 3 must divide both its 32 filters and the 4 input channels",
     True),
    ("conv1d", {}, [TOK], "Conv1D expects real-valued features but receives token ids (N, 7)", True),
    ("conv_transpose2d", {"output_padding": 2, "stride": 2}, [IMG],
     "ConvTranspose2D output padding 2 must be smaller than its stride 2", True),
    ("conv_transpose2d", {"kernel_size": 2, "stride": 1, "padding": 6}, [IMG],
     "ConvTranspose2D padding 6 trims more than it makes from the 9x9 image it receives (N, 4, 9, 9)", True),
    ("conv_transpose2d", {"groups": 3}, [IMG], "ConvTranspose2D groups 3 must divide both its 32 filters", True),
    ("conv_transpose2d", {}, [SIG], ("ConvTranspose2D expects images (N, channels, height, width) but receives "
                                     "(N, 4, 12)"), False),  # torch would read an unbatched image: the app's tensors always have a batch
    ("adaptive_avg_pool2d", {}, [VEC], ("AdaptiveAvgPool2D expects images (N, channels, height, width) but "
                                        "receives (N, 6): insert a Reshape"), False),  # torch would pool the batch as one unbatched image
    ("adaptive_max_pool2d", {}, [TOK], "AdaptiveMaxPool2D expects real-valued features but receives token ids",
     True),
    ("upsample2d", {}, [SIG], "Upsample2D expects images (N, channels, height, width) but receives (N, 4, 12)",
     False),  # torch would take it as a 1-D signal and upsample nearest along it
    ("multiply", {}, [IMG, TensorInfo((4, 9, 8))],
     "Multiply needs inputs of the same shape but receives (N, 4, 9, 9), (N, 4, 9, 8)", True),
    ("multiply", {}, [TOK, TOK], "Multiply input 1 is token ids (N, 7)", False),
]


@pytest.mark.parametrize("case", BAD, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD)])
def test_a_bad_input_is_one_plain_line(case):
    type_id, params, inputs, words, torch_refuses = case
    graph, node = one_layer(type_id, params, inputs)
    problems = infer_shapes(graph, _Cache()).nodes[node].problems
    assert len(problems) == 1, problems
    (message,) = problems
    assert words in message and "\n" not in message and len(message) < 300
    assert ": " in message.split(words)[-1] or ":" in words, "the message says what to do"
    spec = registry.get_spec(type_id)
    with pytest.raises(ShapeProblem):
        spec.build(spec.with_defaults(params), inputs)
    if torch_refuses:  # the check is not stricter than torch: without it torch fails too
        xs = [torch.randint(0, x.vocab, (2, *x.shape)) if x.dtype == LONG else torch.randn(2, *x.shape)
              for x in inputs]
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            spec.build_fn(spec.with_defaults(params), inputs)(*xs)


def test_the_limits_of_the_checks_are_torchs():
    """Just inside each limit the layer builds and runs."""
    for type_id, params, x in (
        ("conv_transpose2d", {"output_padding": 2, "stride": 3}, IMG),
        ("conv2d", {"kernel_size": 3, "dilation": 4}, IMG),  # spans 9, the image's size
        ("conv1d", {"kernel_size": 12}, SIG),
        ("conv2d", {"filters": 4, "groups": 4}, IMG),
        ("maxpool2d", {"pool_size": 3, "stride": 2, "padding": 1}, IMG),
    ):
        graph, node = one_layer(type_id, params, [x])
        assert infer_shapes(graph, _Cache()).nodes[node].problems == [], (type_id, params)


def test_identity_takes_anything():
    for x in (VEC, SIG, IMG, TOK):
        graph, node = one_layer("identity", {}, [x])
        out = infer_shapes(graph, _Cache()).nodes[node].output
        assert out == x and out.vocab == x.vocab


# -- compile, export, ONNX: one graph holding every new layer -----------------------------------------------------
def wide_graph() -> Graph:
    graph = Graph()

    def add(type_id: str, params: dict | None = None, *sources: str) -> str:
        nid = graph.add_node(type_id, params or {}).id
        for src in sources:
            graph.connect(src, nid)
        return nid

    x = add("input_image", {"channels": 4, "height": 8, "width": 8})
    c = add("conv2d", {"filters": 8, "padding": "same", "dilation": 2, "groups": 4, "activation": "relu6"}, x)
    dw = add("conv2d", {"filters": 8, "padding": 1, "groups": 8, "activation": "hardswish"}, c)  # depthwise
    pool = add("maxpool2d", {"pool_size": 3, "stride": 2, "padding": 1}, dw)
    up = add("upsample2d", {"scale_factor": 2, "mode": "bilinear"}, pool)
    near = add("upsample2d", {"scale_factor": 2}, pool)
    both = add("multiply", {}, up, add("activation", {"function": "hardsigmoid"}, near))
    tr = add("conv_transpose2d", {"filters": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1,
                                  "activation": "hardsigmoid"}, both)
    avg = add("adaptive_avg_pool2d", {"output_size": 4}, tr)
    mx = add("adaptive_max_pool2d", {"output_size": 4}, tr)
    same = add("identity", {}, add("multiply", {}, avg, mx, add("adaptive_avg_pool2d", {"output_size": 4}, tr)))
    sig = add("reshape", {"shape": [6, 16]}, same)
    c1 = add("conv1d", {"filters": 6, "padding": "same", "dilation": 2, "groups": 3, "activation": "relu6"}, sig)
    c2 = add("conv1d", {"filters": 4, "kernel_size": 4, "stride": 2, "padding": 1, "activation": "hardswish"}, c1)
    dense = add("dense", {"units": 3, "activation": "none"}, add("flatten", {}, c2))
    add("output", {"task": "regression"}, dense)
    return graph


def trained_like(graph: Graph, seed: int = 5) -> Project:
    project = Project(graph=graph, name="Wide catalogue")
    compiled = compile_graph(graph, seed=seed)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    return project


def test_the_wide_graph_compiles_runs_and_trains():
    graph = wide_graph()
    info = infer_shapes(graph, _Cache())
    assert info.ok, info.problems()
    compiled = compile_graph(graph, seed=0)
    kinds = {type(m).__name__ for m in compiled.module.children()}
    assert {"Conv1d", "ConvTranspose2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Upsample", "Multiply",
            "Identity"} <= kinds
    (x,) = compiled.example_inputs(batch=4)
    y = compiled.module(x)
    assert y.shape == (4, 3) and torch.isfinite(y).all()
    y.square().mean().backward()
    grads = [p.grad for p in compiled.module.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)
    assert compiled.param_count == info.total_params


BLOCKED = ("import runpy, sys\n"
           "sys.modules['nnstudio'] = None\n"
           "script = sys.argv[1]\n"
           "sys.argv = sys.argv[1:]\n"
           "runpy.run_path(script, run_name='__main__')\n")


def test_exported_script_gives_the_apps_outputs(tmp_path):
    torch.set_num_threads(1)
    project = trained_like(wide_graph())
    export_python(project, tmp_path / "wide.py")
    export_weights(project, tmp_path / "wide.safetensors")
    source = (tmp_path / "wide.py").read_text(encoding="utf-8")
    for written in ("nn.Conv2d(4, 8, 3, padding=\"same\", dilation=2, groups=4)", "nn.Conv2d(8, 8, 3, padding=1, groups=8)",
                    "nn.MaxPool2d(3, stride=2, padding=1)", "nn.Conv1d(", "nn.ConvTranspose2d(",
                    "nn.AdaptiveAvgPool2d(4)", "nn.AdaptiveMaxPool2d(4)", "align_corners=False", "Multiply()",
                    "nn.Identity()", "F.relu6(", "F.hardswish(", "F.hardsigmoid(", "class Multiply(nn.Module)"):
        assert written in source, written
    compiled = compile_graph(project.graph)
    compiled.module.load_state_dict(project.weights)
    compiled.module.eval()
    torch.manual_seed(9)
    inputs = compiled.example_inputs(batch=5)
    np.savez(tmp_path / "in.npz", **{n: x.numpy() for n, x in zip(compiled.input_names, inputs)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-I", "-c", BLOCKED, "wide.py", "--weights", "wide.safetensors",
                           "--predict", "in.npz", "--output", "out.npz", "--device", "cpu"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / "out.npz") as out, torch.no_grad():
        expected = compiled.module(*inputs).numpy()
        assert out["outputs"].shape == expected.shape
        assert np.abs(out["outputs"] - expected).max() < 1e-6


def test_onnx_runs_in_onnxruntime_with_the_apps_outputs(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    torch.set_num_threads(1)
    project = trained_like(wide_graph())
    result = export_onnx(project, tmp_path / "wide.onnx")
    assert any("checked in onnxruntime" in n for n in result.notes)
    compiled = compile_graph(project.graph)
    compiled.module.load_state_dict(project.weights)
    compiled.module.eval()
    session = ort.InferenceSession(str(tmp_path / "wide.onnx"), providers=["CPUExecutionProvider"])
    torch.manual_seed(4)
    for batch in (1, 6):
        inputs = compiled.example_inputs(batch=batch)
        (got,) = session.run(None, {n: x.numpy() for n, x in zip(compiled.input_names, inputs)})
        with torch.no_grad():
            expected = compiled.module(*inputs).numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-5
