"""What each layer costs before Run (issue 16): forward FLOPs counted by torch's FlopCounterMode on meta tensors,
the bytes autograd keeps for backward, their cache, the memory problem's fitting batch size, the summary's
columns and totals, `nnstudio summary --batch-size`, and a cross-check against torchinfo's mult-adds."""

from __future__ import annotations

import math
import re

import pytest
import torch

from nnstudio.cli import main
from nnstudio.core import costs, examples, memory
from nnstudio.core.costs import NodeCost, format_flops, node_costs
from nnstudio.core.graph import Graph
from nnstudio.core.problems import memory_problems
from nnstudio.core.project import io
from nnstudio.core.shapes import _Cache, infer_shapes
from nnstudio.core.summary import format_summary, summary_rows, training_totals
from nnstudio.core.training.config import TrainConfig


def chain(*layers: tuple[str, dict]) -> Graph:
    g = Graph()
    prev = None
    for type_id, params in layers:
        nid = g.add_node(type_id, params).id
        if prev is not None:
            g.connect(prev, nid)
        prev = nid
    return g


def dense_net(features: int = 20, units: int = 30, bias: bool = True) -> Graph:
    return chain(("input_vector", {"features": features}),
                 ("dense", {"units": units, "bias": bias, "activation": "none"}),
                 ("output", {"task": "regression"}))


# -- FLOPs: torch's count, equal to the textbook formulas -----------------------------------------------------
@pytest.mark.parametrize("batch", [1, 7, 512])
def test_dense_flops_are_two_times_in_times_out_times_batch(batch):
    g = dense_net(20, 30, bias=False)
    assert node_costs(g, batch, cache=_Cache())["dense_1"].flops == 2 * 20 * 30 * batch


def test_conv2d_flops_are_two_times_the_multiply_adds_of_every_output_value():
    g = chain(("input_image", {"channels": 3, "height": 12, "width": 10}),
              ("conv2d", {"filters": 8, "kernel_size": 3, "activation": "none"}),
              ("flatten", {}), ("dense", {"units": 2}), ("output", {"task": "multiclass"}))
    info = infer_shapes(g)
    channels, height, width = info.nodes["conv2d_1"].output.shape
    assert channels == 8
    batch = 5
    cost = node_costs(g, batch, info, cache=_Cache())
    assert cost["conv2d_1"].flops == 2 * batch * channels * height * width * 3 * 3 * 3
    assert cost["flatten_1"].flops == 0 and cost["input_image_1"] == NodeCost(0, 0)


# -- saved bytes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 64, 10**6])
def test_a_relu_keeps_its_output_for_backward(batch):
    g = chain(("input_vector", {"features": 50}), ("activation", {"function": "relu"}),
              ("output", {"task": "regression"}))
    assert node_costs(g, batch, cache=_Cache())["activation_1"] == NodeCost(0, batch * 50 * 4)


def test_a_dense_layer_keeps_its_input_but_not_its_own_weights():
    cost = node_costs(dense_net(20, 30), 16, cache=_Cache())["dense_1"]
    assert cost.saved_bytes == 16 * 20 * 4  # the weight autograd also saves is the layer's own parameter


def test_a_huge_batch_is_counted_on_meta_tensors_without_allocating():
    g = chain(("input_image", {"channels": 64, "height": 512, "width": 512}), ("conv2d", {"filters": 64}),
              ("global_avg_pool", {}), ("dense", {"units": 2}), ("output", {"task": "multiclass"}))
    batch = 100_000  # about 6 TB of activations for real
    cost = node_costs(g, batch, cache=_Cache())["conv2d_1"]
    assert cost.saved_bytes >= batch * 64 * 512 * 512 * 4 and cost.flops > 10**15


# -- the cache ----------------------------------------------------------------------------------------------------
def test_a_second_call_computes_nothing_and_an_edit_recomputes_only_what_it_changed(monkeypatch):
    cache = _Cache()
    measured = []
    real = costs.measure
    monkeypatch.setattr(costs, "measure", lambda spec, *a: measured.append(spec.type_id) or real(spec, *a))
    g = examples.digits_cnn().graph
    first = node_costs(g, 32, cache=cache)
    built = len(measured)
    assert built == cache.misses == sum(not g.nodes[n].spec.is_input and not g.nodes[n].spec.is_output
                                        for n in first)
    assert node_costs(g, 32, cache=cache) == first and len(measured) == built  # nothing new
    g.set_params("dense_2", {**g.nodes["dense_2"].params, "units": 12})  # the last layer: nothing after it
    again = node_costs(g, 32, cache=cache)
    assert measured[built:] == ["dense"] and again["dense_2"] != first["dense_2"]
    node_costs(g, 64, cache=cache)  # another batch size is another key
    assert len(measured) == 2 * built + 1


def test_nodes_with_problems_have_no_cost():
    g = dense_net()
    g.disconnect(g.inputs_of("dense_1")[0])
    found = node_costs(g, 8, cache=_Cache())
    assert "dense_1" not in found and found["input_vector_1"] == NodeCost(0, 0)


@pytest.mark.parametrize("n, text", [(0, "0 FLOPs"), (48, "48 FLOPs"), (1500, "1.5 kFLOPs"),
                                     (1_234_567, "1.2 MFLOPs"), (42 * 10**9, "42 GFLOPs")])
def test_flops_are_written_in_powers_of_1000(n, text):
    assert format_flops(n) == text


# -- the memory problem ---------------------------------------------------------------------------------------------
def test_the_memory_problem_names_the_batch_size_that_would_fit(monkeypatch):
    g = dense_net(1000, 1000)
    config = TrainConfig.from_dict({"batch_size": 512, "optimizer": "adam", "device": "cpu"})
    est = memory.estimate(g, 512, "adam")
    budget = est.need("train", 100)
    monkeypatch.setattr(memory, "available_bytes", lambda device: budget)
    found = memory_problems(g, infer_shapes(g), config)
    assert len(found) == 1 and found[0].source == "memory" and found[0].node_id is None
    message = found[0].message
    assert message.startswith("training with batch size 512 needs about ")
    assert f"but this computer has {memory.format_bytes(budget)} available: " in message
    fits = int(re.search(r"use a batch size of at most ([\d,]+)$", message).group(1).replace(",", ""))
    assert fits == 100 == memory.fitting_batch(est, budget)
    monkeypatch.setattr(memory, "available_bytes", lambda device: est.need("train"))
    assert memory_problems(g, infer_shapes(g), config) == []


def test_no_batch_fits_when_the_weights_alone_do_not():
    est = memory.estimate(dense_net(1000, 1000), 8, "adam")
    assert memory.fitting_batch(est, est.fixed_bytes("train") - 1) == 0
    assert memory.fitting_batch(est, est.fixed_bytes("train") + est.per_sample_bytes() * 3) == 3


# -- the summary ------------------------------------------------------------------------------------------------
def test_the_summary_rows_carry_costs_at_the_batch_size_asked():
    g = dense_net(20, 30, bias=False)
    plain = {r.node_id: r for r in summary_rows(g)}
    assert plain["dense_1"].flops is None and plain["dense_1"].saved_bytes is None
    rows = {r.node_id: r for r in summary_rows(g, batch_size=10)}
    assert rows["dense_1"].flops == 2 * 20 * 30 * 10 and rows["dense_1"].saved_bytes == 10 * 20 * 4


def test_the_summary_prints_flops_and_activation_columns_and_training_totals():
    g = dense_net(20, 30, bias=False)
    text = format_summary(g, "m", batch_size=10, optimizer="adam")
    lines = text.splitlines()
    head = lines[1]
    assert head.split()[-4:] == ["#", "FLOPs", "Act.", "memory"]
    row = next(line for line in lines if line.startswith("dense_1"))
    assert row.split()[-4:] == ["12", "kFLOPs", "800", "bytes"]  # 2 x 20 x 30 x 10, 10 x 20 float32 values
    totals = training_totals(g, 10, "adam")
    est = memory.estimate(g, 10, "adam")
    weights = 20 * 30 * 4
    assert (totals.parameters, totals.gradients, totals.optimizer_state) == (2 * weights, weights, 2 * weights)
    assert totals.parameters + totals.gradients + totals.optimizer_state + totals.activations == totals.total
    assert totals.total == est.train_bytes and totals.flops == 12_000
    assert f"  total:           {memory.format_bytes(est.train_bytes)}" in lines
    assert "Training memory at batch size 10 with Adam:" in lines
    assert "  optimizer state: 4.8 kB (2 per trainable parameter)" in lines
    sgd = training_totals(g, 10, "sgd")
    assert sgd.optimizer_state == weights and sgd.total < totals.total


def test_summary_of_a_graph_with_problems_has_no_totals():
    g = dense_net()
    g.disconnect(g.inputs_of("dense_1")[0])
    text = format_summary(g, batch_size=4)
    assert "Training memory" not in text
    assert next(line for line in text.splitlines() if line.startswith("dense_1")).split()[-2:] == ["-", "-"]


def test_cli_summary_prints_costs_and_totals_at_the_batch_size_given(tmp_path, capsys, monkeypatch):
    project = examples.spiral_mlp()
    path = tmp_path / "spiral.nnstudio"
    io.save_project(project, path)
    assert main(["summary", str(path), "--batch-size", "1000"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("dense_2"))
    assert row.split()[-4:] == ["512", "kFLOPs", "128", "kB"]  # 2 x 16 x 16 x 1000; its 1000 x 16 x 2 values
    est = memory.estimate(project.graph, 1000, project.training.get("optimizer", "adam"))
    assert f"  total:           {memory.format_bytes(est.train_bytes)}" in lines
    assert any(line.startswith("Training memory at batch size 1,000 with ") for line in lines)
    assert any(line.startswith("Memory: about ") and "batch size 1000" in line for line in lines)
    monkeypatch.setattr(memory, "available_bytes", lambda device: est.need("train", 10))
    assert main(["summary", str(path)]) == 0  # the project's own batch size
    lines = capsys.readouterr().out.splitlines()
    batch = project.training["batch_size"]
    assert any(line.startswith(f"Training memory at batch size {batch:,} ") for line in lines)
    assert any(line.startswith(f"Does not fit: training with batch size {batch:,} needs about ")
               and line.endswith("use a batch size of at most 10") for line in lines)
    assert main(["summary", str(path), "--batch-size", "0"]) == 2


# -- torchinfo ----------------------------------------------------------------------------------------------------
COUNTED = {"dense": "Linear", "conv2d": "Conv2d", "lstm": "LSTM"}


def _bias_adds(layer) -> int:
    """The additions of biases torchinfo counts as mult-adds: one per bias value and per output position."""
    biases = sum(p.numel() for name, p in layer.module.named_parameters() if "bias" in name)
    size = list(layer.output_size)
    channels = size[1] if layer.class_name == "Conv2d" else size[-1]
    return biases * math.prod(size) // channels


def _graph(name: str) -> Graph:
    """An example's graph, or ResNet-18 imported from its full definition (tests/core/torchvision_models.py)."""
    if name != "resnet18":
        return examples.EXAMPLES[name]().graph
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torchvision_models import resnet18

    from nnstudio.core.importer import import_module

    return import_module(resnet18(), (3, 64, 64)).project.graph


@pytest.mark.parametrize("name", [*examples.EXAMPLES, "resnet18"])
def test_flops_agree_with_torchinfo_for_the_layers_both_count(name):
    """Our forward FLOPs of each Dense, Conv2D and LSTM equal 2 x torchinfo's mult-adds of that module, less the
    bias additions torchinfo counts as mult-adds (torch counts a multiply-add as 2 FLOPs and a bias add as none):
    tolerance zero. The totals differ otherwise, by design: torchinfo counts an Embedding's lookups as mult-adds
    (a gather: 0 FLOPs for torch) and misses the attention inside a Transformer encoder (torch's fused
    multi-head attention has no leaf nn.Linear for its input projection), which torch counts; both count 0 for
    pooling, activations, dropout and merges."""
    torchinfo = pytest.importorskip("torchinfo")
    from nnstudio.core.compile import compile_graph

    batch = 4
    graph = _graph(name)
    compiled = compile_graph(graph, seed=0)
    xs = [torch.zeros((batch, *i.shape), dtype=torch.long) if i.dtype == "long" else torch.randn(batch, *i.shape)
          for i in compiled.input_infos]
    stats = torchinfo.summary(compiled.module, input_data=xs, verbose=0, depth=20)
    ours = node_costs(graph, batch, cache=_Cache())
    compared = 0
    for nid, node in graph.nodes.items():
        type_id = node.spec.type_id
        if type_id not in COUNTED:
            continue
        inside = {id(m) for m in compiled.module.get_submodule(nid).modules()}
        layers = [x for x in stats.summary_list if id(x.module) in inside and x.class_name == COUNTED[type_id]]
        assert layers, f"torchinfo saw no {COUNTED[type_id]} in {nid}"
        theirs = sum(2 * (x.macs - _bias_adds(x)) for x in layers)
        assert ours[nid].flops == theirs, (nid, ours[nid].flops, theirs)
        compared += 1
    assert compared >= (21 if name == "resnet18" else 1)  # resnet18: 20 convolutions and its classifier
    if name == "transformer_classifier":  # torchinfo misses the attention torch counts
        assert costs.total_flops(ours) > 2 * stats.total_mult_adds
