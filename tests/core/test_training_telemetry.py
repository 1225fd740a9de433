"""Telemetry while training: per-layer weight / gradient statistics, activation probes, decision boundaries,
measured only when a callback listens and within its share of the time."""

from __future__ import annotations

import copy
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.data.split import split
from nnstudio.core.graph import Graph
from nnstudio.core.training import engine
from nnstudio.core.training import telemetry as telemetry_module
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.engine import train
from nnstudio.core.training.reports import ActivationReport, BoundaryReport, LayerReport

OUT_ACT = {"multiclass": "softmax", "binary": "sigmoid", "regression": "none"}


@pytest.fixture
def unlimited(monkeypatch):
    """Measure at every chance: no time budget, no minimum interval between probes or layer measurements."""
    monkeypatch.setattr(telemetry_module, "BUDGET", 1e9)
    monkeypatch.setattr(telemetry_module, "PROBE_INTERVAL_S", 0.0)
    monkeypatch.setattr(telemetry_module, "LAYER_MIN_GAP_S", 0.0)


def chain(layers: list[tuple[str, dict]]) -> Graph:
    g = Graph()
    ids = [g.add_node(type_id, params).id for type_id, params in layers]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def mlp(features: int = 2, outputs: int = 3, task: str = "multiclass", loss: str = "auto") -> Graph:
    return chain([("input_vector", {"features": features}),
                  ("dense", {"units": 16, "activation": "relu"}),
                  ("dense", {"units": 8, "activation": "relu"}),
                  ("dense", {"units": outputs, "activation": OUT_ACT[task]}),
                  ("output", {"task": task, "loss": loss})])


def cnn(filters: int = 4) -> Graph:
    return chain([("input_image", {"channels": 1, "height": 8, "width": 8}),
                  ("conv2d", {"filters": filters, "kernel_size": 3, "activation": "relu"}),
                  ("flatten", {}),
                  ("dense", {"units": 3, "activation": "softmax"}),
                  ("output", {"task": "multiclass"})])


def cfg(**changes) -> TrainConfig:
    base = dict(device="cpu", epochs=3, batch_size=16, lr=0.01, seed=0, telemetry_every=1)
    base.update(changes)
    return TrainConfig(**base)


def blobs(samples: int = 96, classes: int = 3) -> DataSplit:
    return split(load_dataset({"name": "blobs", "samples": samples, "classes": classes}), 0.25)


def images(n: int = 48) -> DataSplit:
    g = torch.Generator().manual_seed(0)
    parts = [Dataset("img", "multiclass", torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 3,
                     ["a", "b", "c"]) for _ in range(2)]
    return DataSplit(*parts)


class Listener(Callback):
    """Keeps every telemetry report, and a deep copy of it taken the moment it arrived."""

    def __init__(self) -> None:
        self.layers: list[LayerReport] = []
        self.activations: list[ActivationReport] = []
        self.boundaries: list[BoundaryReport] = []
        self.received: list[tuple[object, object]] = []  # (report, its copy on arrival)

    def on_layers(self, report):
        self.layers.append(report)
        self.received.append((report, copy.deepcopy(report)))

    def on_activations(self, report):
        self.activations.append(report)
        self.received.append((report, copy.deepcopy(report)))

    def on_boundary(self, report):
        self.boundaries.append(report)
        self.received.append((report, copy.deepcopy(report)))


# -- layer statistics -----------------------------------------------------------------------------------------
def test_layer_reports_have_fixed_bins_full_counts_and_positive_norms(unlimited):
    compiled = compile_graph(mlp(), seed=0)
    listener = Listener()
    result = train(compiled, blobs(), cfg(epochs=2), [listener])
    assert len(listener.layers) == result.steps  # every step, with no budget
    assert [r.step for r in listener.layers] == list(range(1, result.steps + 1))
    sizes = {name: sum(p.numel() for p in mod.parameters()) for name, mod in compiled.module.named_children()}
    first = listener.layers[0].layers
    assert set(first) == {"dense_1", "dense_2", "dense_3"}
    for report in listener.layers:
        assert set(report.layers) == set(first)
        for name, stats in report.layers.items():
            assert isinstance(stats.weight_hist, np.ndarray) and isinstance(stats.grad_hist, np.ndarray)
            assert len(stats.weight_edges) == len(stats.weight_hist) + 1
            assert np.array_equal(stats.weight_edges, first[name].weight_edges)  # fixed bins
            assert np.array_equal(stats.grad_edges, first[name].grad_edges)
            assert np.all(np.diff(stats.weight_edges) > 0)
            assert stats.weight_hist.sum() == pytest.approx(sizes[name])
            assert stats.grad_hist.sum() == pytest.approx(sizes[name])
            assert stats.grad_norm > 0 and stats.update_ratio > 0 and stats.weight_norm > 0
    # The weight norm of the last report is that of the weights after its step.
    last = listener.layers[-1].layers["dense_1"]
    mod = compiled.module.dense_1
    if result.best_epoch == len(result.history["epochs"]):  # the kept weights are the last ones
        norm = float(torch.cat([p.detach().reshape(-1) for p in mod.parameters()]).norm())
        assert last.weight_norm == pytest.approx(norm, rel=1e-5)


def test_telemetry_every_n_steps(unlimited):
    listener = Listener()
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=2, telemetry_every=4), [listener])
    # the first step, so that even a short run shows its layers at once, then every fourth
    assert [r.step for r in listener.layers] == [1, *range(4, result.steps + 1, 4)]


def test_update_ratio_is_the_relative_change_of_the_weights(unlimited):
    """With SGD and no momentum the update is lr * gradient, so the ratio is lr * |g| / |w| (before the step)."""
    listener = Listener()
    compiled = compile_graph(mlp(), seed=0)
    w0 = torch.cat([p.detach().reshape(-1).clone() for p in compiled.module.dense_1.parameters()])
    train(compiled, blobs(), cfg(epochs=1, optimizer="sgd", momentum=0.0, lr=0.1), [listener])
    stats = listener.layers[0].layers["dense_1"]
    assert stats.update_ratio == pytest.approx(0.1 * stats.grad_norm / float(w0.norm()), rel=1e-4)


# -- activations ----------------------------------------------------------------------------------------------
def test_activation_reports_for_a_relu_mlp(unlimited):
    listener = Listener()
    train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=2), [listener])
    assert len(listener.activations) >= 3  # after each epoch and at the end
    for report in listener.activations:
        assert set(report.layers) == {"dense_1", "dense_2", "dense_3"}
        for name in ("dense_1", "dense_2"):
            stats = report.layers[name]
            assert 0.0 <= stats.dead_fraction <= 1.0
            assert stats.hist.sum() == pytest.approx(64 * (16 if name == "dense_1" else 8))  # the probe batch
            assert stats.mean >= 0  # after a ReLU
            assert stats.feature_maps is None
        assert report.layers["dense_3"].dead_fraction is None  # logits, not a ReLU


def test_a_dead_layer_reports_dead_fraction_one(unlimited):
    compiled = compile_graph(mlp(), seed=0)
    with torch.no_grad():
        compiled.module.dense_1.bias.fill_(-100.0)  # every unit negative on every input: ReLU gives 0
    listener = Listener()
    train(compiled, blobs(), cfg(epochs=2), [listener])
    assert listener.activations
    for report in listener.activations:
        assert report.layers["dense_1"].dead_fraction == 1.0
        assert report.layers["dense_1"].std == 0.0
    healthy = Listener()
    train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=2), [healthy])
    assert healthy.activations[-1].layers["dense_1"].dead_fraction < 1.0


@pytest.mark.parametrize("filters, shown", [(4, 4), (20, 16)])
def test_a_cnn_reports_feature_maps(unlimited, filters, shown):
    listener = Listener()
    train(compile_graph(cnn(filters), seed=0), images(), cfg(epochs=1), [listener])
    assert listener.activations
    for report in listener.activations:
        conv = report.layers["conv2d_1"]
        assert isinstance(conv.feature_maps, np.ndarray)
        assert conv.feature_maps.shape == (shown, 6, 6)
        assert (conv.feature_maps >= 0).all()  # after the ReLU
        assert 0.0 <= conv.dead_fraction <= 1.0
        assert report.layers["flatten_1"].feature_maps is None
        assert report.layers["dense_1"].feature_maps is None
    assert listener.boundaries == []  # images are not 2-D points
    assert all(r.layers for r in listener.layers)


# -- decision boundaries --------------------------------------------------------------------------------------
@pytest.mark.parametrize("classes, task, loss", [
    (3, "multiclass", "auto"), (2, "binary", "auto"),
    (3, "multiclass", "mse"), (2, "binary", "mse"),  # Softmax / Sigmoid stay in the model: it gives probabilities
])
def test_boundary_reports_for_two_dimensional_points(unlimited, classes, task, loss):
    compiled = compile_graph(mlp(outputs=3 if task == "multiclass" else 1, task=task, loss=loss), seed=0)
    data = blobs(classes=classes)
    listener = Listener()
    train(compiled, data, cfg(epochs=4, lr=0.03), [listener])
    assert listener.boundaries
    for b in listener.boundaries:
        assert b.predicted.shape == (64, 64) and b.confidence.shape == (64, 64)
        assert b.xs.shape == (64,) and b.ys.shape == (64,)
        assert set(np.unique(b.predicted)) <= set(range(classes))
        assert (b.confidence >= 1.0 / classes - 1e-6).all() and (b.confidence <= 1.0 + 1e-6).all()
        assert b.points.shape == (len(data.train), 2) and b.labels.shape == (len(data.train),)
        assert np.array_equal(b.labels, data.train.y.numpy())  # class indices, whatever the loss
        # The grid covers the data.
        assert b.xs[0] < data.train.x[:, 0].min() and b.xs[-1] > data.train.x[:, 0].max()
        assert b.ys[0] < data.train.x[:, 1].min() and b.ys[-1] > data.train.x[:, 1].max()
    # The last report shows the kept weights' predictions.
    last = listener.boundaries[-1]
    yy, xx = np.meshgrid(last.ys, last.xs, indexing="ij")
    grid = torch.tensor(np.stack([xx.reshape(-1), yy.reshape(-1)], axis=1), dtype=torch.float32)
    probs = compiled.predict(grid)
    pred = probs.argmax(dim=-1) if task == "multiclass" else (probs.reshape(-1) > 0.5).long()
    assert np.array_equal(last.predicted.reshape(-1), pred.numpy())
    # Confidence is the probability of the predicted class.
    top = probs.max(dim=-1).values if task == "multiclass" else torch.where(pred == 1, probs.reshape(-1),
                                                                            1 - probs.reshape(-1))
    assert np.allclose(last.confidence.reshape(-1), top.numpy(), atol=1e-5)
    # Trained a little, the model tells the classes apart on most of the grid's data points.
    assert len(np.unique(last.predicted)) == classes


def test_no_boundary_for_data_that_are_not_two_dimensional(unlimited):
    data = blobs()
    wide = DataSplit(*(Dataset("wide", "multiclass", torch.cat([p.x, p.x[:, :1]], dim=1), p.y, p.classes)
                       for p in (data.train, data.val)))
    listener = Listener()
    train(compile_graph(mlp(features=3), seed=0), wide, cfg(epochs=2), [listener])
    assert listener.activations and listener.layers
    assert listener.boundaries == []
    sine = split(load_dataset({"name": "sine", "samples": 40}), 0.25)
    listener = Listener()
    train(compile_graph(mlp(features=1, outputs=1, task="regression"), seed=0), sine, cfg(epochs=1), [listener])
    assert listener.activations and listener.boundaries == []


def test_reports_hold_copies(unlimited):
    data = blobs()
    compiled = compile_graph(mlp(), seed=0)
    listener = Listener()
    train(compiled, data, cfg(epochs=2), [listener])
    assert listener.layers and listener.activations and listener.boundaries
    # Change the model and the data in place: the reports already handed out must not follow.
    with torch.no_grad():
        for p in compiled.module.parameters():
            p.mul_(-3.0).add_(1.0)
    data.train.x.mul_(5.0)
    data.train.y.zero_()
    compiled.predict(data.train.x)
    for report, snapshot in listener.received:
        _assert_same(report, snapshot)


def _assert_same(a, b) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and np.array_equal(a, b)
    elif isinstance(a, torch.Tensor):
        raise AssertionError("a report holds a torch tensor; reports hold numpy copies")
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif hasattr(a, "__dataclass_fields__"):
        for k in a.__dataclass_fields__:
            _assert_same(getattr(a, k), getattr(b, k))
    else:
        assert a == b


# -- only when someone listens --------------------------------------------------------------------------------
class Forbidden:
    def __init__(self, *args, **kwargs):
        raise AssertionError("telemetry was measured although no callback listens to it")


class StepsAndEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def on_step(self, report):
        pass

    def on_epoch(self, report):
        self.epochs += 1


def test_no_telemetry_without_a_listener(monkeypatch):
    monkeypatch.setattr(telemetry_module, "Telemetry", Forbidden)
    cb = StepsAndEpochs()
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=2), [cb, Callback()])
    assert cb.epochs == 2 and result.stop_reason == "completed"
    train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=1))  # no callbacks at all

    class OnlyBoundary(Callback):
        def on_boundary(self, report):
            pass

    with pytest.raises(AssertionError, match="no callback listens"):  # the patch is in force
        train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=1), [cb, OnlyBoundary()])


# -- the time budget ------------------------------------------------------------------------------------------
class Timed(telemetry_module.Telemetry):
    """Telemetry that also times, from outside, every call into its entry points."""

    instances: list["Timed"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.durations: list[float] = []
        self.final = 0.0
        self.depth = 0
        Timed.instances.append(self)

    def _timed(self, fn, *args, final=False):
        self.depth += 1
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.depth -= 1
            if self.depth == 0:  # after_step calls maybe_probe: count the outer call only
                took = time.perf_counter() - t0
                if final:
                    self.final += took
                else:
                    self.durations.append(took)

    def before_update(self):
        return self._timed(super().before_update)

    def after_step(self, step):
        return self._timed(super().after_step, step)

    def maybe_probe(self, step, final=False):
        return self._timed(super().maybe_probe, step, final, final=final)


def test_telemetry_stays_within_its_share_of_the_time(monkeypatch):
    Timed.instances = []
    monkeypatch.setattr(telemetry_module, "Telemetry", Timed)
    data = split(load_dataset({"name": "spiral", "samples": 300}), 0.2)
    listener = Listener()  # deep-copies every report: a listener that takes its time
    t0 = time.perf_counter()
    result = train(compile_graph(mlp(), seed=0), data, cfg(epochs=60, telemetry_every=1), [listener])
    run = time.perf_counter() - t0
    tel = Timed.instances[0]
    assert listener.layers and listener.activations and listener.boundaries
    assert len(listener.layers) < result.steps  # the budget skipped measurements
    outside = sum(tel.durations) + tel.final
    # Telemetry.spent is honest: it is the time spent inside telemetry, measured from outside.
    assert tel.spent <= outside
    assert tel.spent >= 0.5 * outside - 0.005
    # A measurement starts only while within budget, so the budget can be overshot by at most the last
    # measurement (before_update + after_step: two calls) and the final probe, which always runs.
    overshoot = 2 * max(tel.durations) + tel.final
    assert (tel.spent - overshoot) / run <= telemetry_module.BUDGET


def test_a_pause_does_not_count_as_training_time_for_the_budget(monkeypatch):
    """While paused nothing trains, so a long pause must not buy telemetry a large share of the steps after it."""
    Timed.instances = []
    monkeypatch.setattr(telemetry_module, "Telemetry", Timed)
    monkeypatch.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)
    token = ControlToken()
    pause_s = 1.5

    class PauseOnce(Listener):
        def on_step(self, report):
            if report.step == 5:
                token.pause()
                threading.Timer(pause_s, token.resume).start()

    data = split(load_dataset({"name": "spiral", "samples": 300}), 0.2)
    # Torch's first-use costs (of training and of measuring) are not what this test is about.
    train(compile_graph(mlp(), seed=0), data, cfg(epochs=1), [Listener()])
    listener = PauseOnce()
    t0 = time.perf_counter()
    train(compile_graph(mlp(), seed=0), data, cfg(epochs=12, telemetry_every=1), [listener], token)
    training = time.perf_counter() - t0 - pause_s
    tel = Timed.instances[-1]
    overshoot = 2 * max(tel.durations) + tel.final
    assert (tel.spent - overshoot) / training <= telemetry_module.BUDGET


# -- how often the live plots get news -----------------------------------------------------------------------
def test_slow_steps_still_measure_the_layers_every_live_interval(monkeypatch, unlimited):
    """telemetry_every counts steps; a model whose steps are slow must still update its plots several times a
    second: a step that comes LIVE_INTERVAL_S after the last measurement measures too."""
    graph = compile_graph(mlp(), seed=0)
    monkeypatch.setattr(telemetry_module, "LIVE_INTERVAL_S", 1e9)
    every_10 = Listener()
    result = train(graph, blobs(), cfg(epochs=4, telemetry_every=10), [every_10])
    assert [r.step for r in every_10.layers] == [1, *range(10, result.steps + 1, 10)]
    monkeypatch.setattr(telemetry_module, "LIVE_INTERVAL_S", 0.0)
    by_time = Listener()
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=4, telemetry_every=10), [by_time])
    assert [r.step for r in by_time.layers] == list(range(1, result.steps + 1))


def test_large_tensors_are_histogrammed_from_a_scaled_sample():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(1_000_003, generator=g)
    edges = np.linspace(-5, 5, telemetry_module.BINS + 1)
    counts = telemetry_module._counts(values, edges)
    exact = torch.histc(values.clamp(-5, 5), bins=telemetry_module.BINS, min=-5, max=5).numpy()
    assert counts.sum() == pytest.approx(values.numel(), rel=1e-6)  # the whole count, not the sample's
    assert np.abs(counts - exact).max() < 0.01 * values.numel()  # and the same shape
    small = torch.randn(1000, generator=g)
    exact_small = torch.histc(small.clamp(-5, 5), bins=telemetry_module.BINS, min=-5, max=5).numpy()
    assert np.array_equal(telemetry_module._counts(small, edges), exact_small)  # small tensors: exact


def test_the_probe_batch_is_smaller_for_larger_samples():
    assert telemetry_module.probe_size(torch.zeros(500, 2)) == telemetry_module.PROBE_SAMPLES
    assert telemetry_module.probe_size(torch.zeros(500, 1, 28, 28)) == telemetry_module.PROBE_VALUES // 784
    assert telemetry_module.probe_size(torch.zeros(500, 3, 224, 224)) == 8
    assert telemetry_module.probe_size(torch.zeros(3, 2)) == 3  # never more than there are


def test_a_fast_model_measures_its_layers_at_most_every_min_gap(monkeypatch):
    """Every 20 steps of a model that makes a thousand steps a second would be fifty measurements a second, more
    than any plot shows: LAYER_MIN_GAP_S caps them."""
    clock = [0.0]
    monkeypatch.setattr(telemetry_module, "time", SimpleNamespace(perf_counter=lambda: clock[0],
                                                                  thread_time=lambda: clock[0]))
    monkeypatch.setattr(telemetry_module, "LIVE_INTERVAL_S", 1e9)
    compiled = compile_graph(mlp(), seed=0)
    tel = telemetry_module.Telemetry(compiled, compiled.module, torch.zeros(4, 2), torch.zeros(4, dtype=torch.long),
                                     [Listener()])
    wanted = []
    for step in range(1, 201):
        clock[0] = step * 0.001  # a thousand steps a second
        if tel.wants_layers(step, 1):
            wanted.append(step)
            tel.last_layers_at = clock[0]
    assert wanted == [1, 101]  # the first step, then every 0.1 s, although every step was asked for
