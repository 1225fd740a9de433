"""Memory is worked out before anything is allocated: what the graph's layers declare, what a training step
needs, and a one-line refusal when it does not fit (in compile_graph, in training's prepare)."""

from __future__ import annotations

import re

import pytest
import torch

from nnstudio.core import examples, memory
from nnstudio.core.compile import compile_graph
from nnstudio.core.errors import GraphError, NNStudioError, TrainingError
from nnstudio.core.graph import Graph
from nnstudio.core.layers.base import LayerSpec
from nnstudio.core.memory import MemoryEstimate, NotEnoughMemoryError, check_fits, estimate, state_bytes
from nnstudio.core.shapes import infer_shapes

GB = 10**9


def chain(*layers: tuple[str, dict]) -> Graph:
    g = Graph()
    prev = None
    for type_id, params in layers:
        nid = g.add_node(type_id, params).id
        if prev is not None:
            g.connect(prev, nid)
        prev = nid
    return g


def mlp() -> Graph:
    return chain(("input_vector", {"features": 20}), ("dense", {"units": 30}), ("batchnorm", {}),
                 ("dense", {"units": 5, "activation": "none"}), ("output", {"task": "multiclass"}))


def real_bytes(module: torch.nn.Module) -> tuple[int, int]:
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    return params, buffers


@pytest.fixture
def no_real_builds(monkeypatch):
    """Fail if any layer is built anywhere but on the meta device."""
    real = LayerSpec.build

    def build(self, params, inputs):
        if torch.empty(0).device.type != "meta":
            raise AssertionError(f"{self.type_id} was built for real")
        return real(self, params, inputs)

    monkeypatch.setattr(LayerSpec, "build", build)


# -- what the layers declare ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [mlp, lambda: examples.digits_cnn().graph, lambda: examples.sentiment_lstm().graph,
                                  lambda: examples.transformer_classifier().graph,
                                  lambda: examples.residual_mlp().graph])
def test_state_bytes_are_the_real_models_parameters_and_buffers(make):
    graph = make()
    params, buffers = real_bytes(compile_graph(graph, seed=0).module)
    assert buffers > 0 or make is not mlp
    assert state_bytes(graph) == params + buffers
    est = estimate(graph, 8)
    assert (est.param_bytes, est.buffer_bytes) == (params, buffers)
    assert est.trainable_bytes == params  # every parameter trains


def test_state_bytes_count_buffers_at_their_dtype():
    graph = mlp()
    model = compile_graph(graph).module
    tracked = [b for name, b in model.named_buffers() if name.endswith("num_batches_tracked")]
    assert tracked and tracked[0].dtype == torch.long  # 8 bytes, not 4
    assert state_bytes(graph) == sum(t.numel() * t.element_size() for t in model.state_dict().values())


def test_a_graph_with_problems_counts_the_layers_that_can_be_built(no_real_builds):
    graph = mlp()
    dense = [n for n in graph.nodes if n.startswith("dense")]
    full = state_bytes(graph)
    broken = Graph.from_dict(graph.to_dict())
    broken.node(dense[1]).params["units"] = "many"  # as a file can hold it
    assert broken.validate() and state_bytes(broken) == full - (30 * 5 + 5) * 4
    assert state_bytes(Graph()) == 0


def test_nothing_is_allocated_for_an_absurd_network(no_real_builds):
    graph = chain(("input_vector", {"features": 10**6}), ("dense", {"units": 10**6}),
                  ("dense", {"units": 10**6}), ("output", {"task": "regression"}))
    assert state_bytes(graph) == 2 * (10**12 + 10**6) * 4
    est = estimate(graph, 32)
    assert est.weight_bytes == state_bytes(graph) and est.train_bytes > 30 * 10**12
    assert re.fullmatch(r"about 40 TB to train with batch size 32: 8\.0 TB of weights, 8\.0 TB of gradients, "
                        r"16 TB of Adam state, \d+(\.\d)? [MG]B of activations and inputs", est.text()), est.text()


# -- the estimate ----------------------------------------------------------------------------------------------
def test_activations_and_the_training_step_add_up():
    graph = mlp()
    est = estimate(graph, 64, "adam")
    # per sample: Dense 30 (and its ReLU: 30 more), BatchNorm 30, Dense 5; the input is 20 floats
    assert est.activation_bytes_per_sample == (30 * 2 + 30 + 5) * 4
    assert est.input_bytes_per_sample == 20 * 4
    weights = est.param_bytes + est.buffer_bytes
    assert est.train_bytes == (weights * memory.TRAIN_WEIGHT_COPIES + est.param_bytes * (1 + 2)
                               + 64 * (est.activation_bytes_per_sample * memory.BACKWARD_FACTOR + 80))
    assert estimate(graph, 64, "sgd").optimizer_bytes == est.param_bytes
    assert est.need("export") == weights * 2 + 3 * (est.activation_bytes_per_sample + 80)
    assert est.need("compile") == est.need("export")
    with pytest.raises(ValueError):
        est.need("fly")


def test_token_ids_count_eight_bytes_and_only_layers_the_model_runs_count():
    graph = chain(("input_tokens", {"length": 10, "vocab_size": 50}), ("embedding", {"vocab_size": 50, "dim": 4}),
                  ("flatten", {}), ("dense", {"units": 2}), ("output", {}))
    est = estimate(graph, 1)
    assert est.input_bytes_per_sample == 10 * 8
    side = graph.add_node("dense", {"units": 1000}).id  # a branch that leads nowhere is not compiled
    graph.connect("flatten_1", side)
    assert estimate(graph, 1).param_bytes == est.param_bytes
    assert state_bytes(graph) > est.param_bytes + est.buffer_bytes


def test_attention_counts_its_steps_by_steps_weights():
    def attention(steps):
        return chain(("input_sequence", {"steps": steps, "features": 8}),
                     ("multi_head_self_attention", {"heads": 2, "key_dim": 4}), ("global_avg_pool", {}),
                     ("output", {"task": "regression"}))

    small, large = estimate(attention(10), 1), estimate(attention(1000), 1)
    assert large.activation_bytes_per_sample > 2 * 1000 * 1000 * 4 * 2  # 2 heads x T x T, scores and weights
    assert small.activation_bytes_per_sample < 10_000


# -- the check -------------------------------------------------------------------------------------------------
def test_check_fits_says_what_needs_what_and_the_largest_batch_that_fits():
    est = estimate(mlp(), 512)
    need = est.need("train")
    assert check_fits(est, 512, "cpu", available=need) is est
    budget = need - 1
    with pytest.raises(NotEnoughMemoryError) as info:
        check_fits(est, 512, "cpu", available=budget)
    message = str(info.value)
    assert "\n" not in message and message.startswith("training with batch size 512 needs about")
    assert "this computer has" in message
    fits = int(re.search(r"use a batch size of at most ([\d,]+)", message).group(1).replace(",", ""))
    assert est.need("train", fits) <= budget < est.need("train", fits + 1)
    assert isinstance(info.value, GraphError) and isinstance(info.value, TrainingError)


def test_when_the_weights_alone_do_not_fit_the_largest_layer_is_named():
    est = estimate(chain(("input_vector", {"features": 1000}), ("dense", {"units": 1000}), ("dense", {"units": 2}),
                         ("output", {})), 4)
    with pytest.raises(NotEnoughMemoryError, match=r"make the network smaller \(Dense dense_1 needs 4\.0 MB of "
                                                   r"weights\)$"):
        check_fits(est, 4, "cpu", available=10**6)
    with pytest.raises(NotEnoughMemoryError, match=r"^exporting the network .* needs about"):
        check_fits(est, None, "cpu", what="export", available=10**6)


def test_a_tensor_torch_cannot_index_is_refused_whatever_the_memory():
    est = MemoryEstimate(0, 0, 0, 4, 4, 2**40, largest_sample_numel=2**30)
    with pytest.raises(NotEnoughMemoryError, match="more than torch can index"):
        check_fits(est, 2**40, "cpu", available=2**100)
    assert memory.node_problem("Dense", 0, 0, largest=2**63).startswith("Dense has a tensor of 9,223")


def test_data_on_the_device_counts_too():
    est = estimate(mlp(), 8)
    need = est.need("train")
    check_fits(est, 8, "cpu", available=need)
    with pytest.raises(NotEnoughMemoryError, match=r"of data\) but cuda:0 has .*: use less data or train on the "
                                                   r"CPU"):
        check_fits(est, 8, "cuda:0", data_bytes=100 * need, available=need * 2)


def test_no_known_budget_means_no_refusal(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: None)
    check_fits(estimate(mlp(), 8), 8, "cpu")


def test_the_cpu_and_cuda_budgets(monkeypatch):
    free = memory.cpu_available_bytes()
    total = memory.total_memory_bytes()
    assert free is None or free > 0
    assert total is None or total > 0
    assert memory.available_bytes("cpu") == memory.cpu_available_bytes() or free is None
    calls = {}
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: calls.setdefault("info", (5 * GB, 80 * GB)))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda i: 3 * GB)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda i: 1 * GB)
    assert memory.available_bytes("cuda") == 7 * GB  # free, plus what torch holds cached but unused
    assert memory.available_bytes("cuda:1") == 7 * GB and calls["info"]
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (_ for _ in ()).throw(RuntimeError("no driver")))
    assert memory.available_bytes("cuda:0") is None
    assert memory.available_bytes("not a device") is None


def test_format_bytes():
    assert [memory.format_bytes(n) for n in (0, 1, 999, 1500, 480 * 10**6, 1.25 * 10**9, 4 * 10**12, 10**30)] == [
        "0 bytes", "1 byte", "999 bytes", "1.5 kB", "480 MB", "1.2 GB", "4.0 TB", "1.0e+12 EB"]


# -- where the checks run ------------------------------------------------------------------------------------
def test_a_layer_larger_than_this_computer_is_a_node_problem(monkeypatch, no_real_builds):
    monkeypatch.setattr(memory, "total_memory_bytes", lambda: 16 * GB)
    graph = chain(("input_vector", {"features": 100_000}), ("dense", {"units": 100_000}), ("dense", {"units": 2}),
                  ("output", {}))
    problems = [p.text() for p in graph.validate()]
    assert problems == ["dense_1: Dense needs 40 GB for its weights, more than this computer's 16 GB of memory: "
                        "make it smaller"]
    image = chain(("input_image", {"channels": 64, "height": 4096, "width": 4096}), ("conv2d", {"filters": 512}),
                  ("global_avg_pool", {}), ("dense", {"units": 2}), ("output", {}))
    problems = [p.text() for p in image.validate()]
    assert problems == ["conv2d_1: Conv2D needs 69 GB for a single sample, more than this computer's 16 GB of "
                        "memory: make its input or the layer smaller"]
    with pytest.raises(GraphError, match="Conv2D needs 69 GB for a single sample"):
        compile_graph(image)


def test_compile_refuses_before_building_anything(monkeypatch, no_real_builds):
    """Dense 10^6 x 10^6 twice (8 TB) and an image 64x4096x4096 into a convolution: refused with one line,
    before a single real module is built."""
    huge = chain(("input_vector", {"features": 10**6}), ("dense", {"units": 10**6}), ("dense", {"units": 10**6}),
                 ("output", {"task": "regression"}))
    with pytest.raises(GraphError, match="Dense needs 4.0 TB for its weights"):
        compile_graph(huge)
    monkeypatch.setattr(memory, "available_bytes", lambda device: 8 * GB)
    monkeypatch.setattr(memory, "total_memory_bytes", lambda: 64 * GB)
    image = chain(("input_image", {"channels": 64, "height": 4096, "width": 4096}), ("conv2d", {"filters": 32}),
                  ("global_avg_pool", {}), ("dense", {"units": 2}), ("output", {}))
    assert image.validate() == []  # one sample fits; three do not fit in 8 GB
    with pytest.raises(NotEnoughMemoryError) as info:
        compile_graph(image)
    assert str(info.value).startswith("building the network needs about 26 GB") and "\n" not in str(info.value)
    assert "but this computer has 8.0 GB available" in str(info.value)


def test_training_is_refused_before_the_data_are_loaded(monkeypatch, no_real_builds):
    from nnstudio.core.data import registry
    from nnstudio.core.training import project_run

    project = examples.spiral_mlp()
    project.training = {**project.training, "batch_size": 4096}
    est = estimate(project.graph, 4096, project.training.get("optimizer", "adam"))
    monkeypatch.setattr(memory, "available_bytes", lambda device: est.need("train") - 1)
    monkeypatch.setattr(registry, "load_split", lambda *a, **k: pytest.fail("the data were loaded"))
    with pytest.raises(NotEnoughMemoryError, match=r"^training with batch size 4,096 needs about .*: use a batch "
                                                   r"size of at most 4,0\d\d$"):
        project_run.prepare(project, device="cpu")


def test_training_that_fits_is_prepared(monkeypatch):
    from nnstudio.core.training import project_run

    seen = []
    real = memory.check_fits
    monkeypatch.setattr(memory, "check_fits", lambda *a, **k: seen.append((a, k)) or real(*a, **k))
    prepared = project_run.prepare(examples.spiral_mlp(), device="cpu")
    assert prepared.compiled.module is not None
    assert any(a[3:4] == ("train",) for a, k in seen), seen  # the training check ran (device cpu: no data check)


def test_every_failure_is_an_nnstudio_error():
    assert issubclass(NotEnoughMemoryError, NNStudioError)
    info = infer_shapes(mlp())
    assert memory.state_bytes(mlp(), info) == memory.state_bytes(mlp())


@pytest.mark.parametrize("failure", [RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                                                  "allocate memory: you tried to allocate 4000000000000 bytes"),
                                     MemoryError(), torch.OutOfMemoryError("out of memory")])
def test_an_allocation_that_fails_anyway_is_one_line(monkeypatch, failure):
    real = LayerSpec.build

    def build(self, params, inputs):
        if torch.empty(0).device.type != "meta" and self.type_id == "batchnorm":
            raise failure
        return real(self, params, inputs)

    monkeypatch.setattr(LayerSpec, "build", build)
    with pytest.raises(NotEnoughMemoryError, match=r"^this computer ran out of memory while building BatchNorm "
                                                   r"batchnorm_1 .*: close other programs or make the network "
                                                   r"smaller$"):
        compile_graph(mlp())
