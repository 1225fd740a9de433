"""The history a trained project keeps to redraw the dashboard on reopening: the step-level loss (bounded, keeping
its shape), the task and class names, the confusion matrix and per-class figures, the last layer statistics and
activations; their checks (history_problem) and their way back into report objects (saved_reports)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.data.split import split
from nnstudio.core.graph import Graph
from nnstudio.core.training import history as H
from nnstudio.core.training import telemetry as telemetry_module
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback
from nnstudio.core.training.engine import train
from nnstudio.core.training.history import (
    StepLossTrace,
    continue_history,
    downsample,
    history_problem,
)
from nnstudio.core.training.saved_reports import PARTS, saved_reports


def mlp(task: str = "multiclass", outputs: int = 3) -> Graph:
    g = Graph()
    act = {"multiclass": "softmax", "regression": "none"}[task]
    ids = [g.add_node("input_vector", {"features": 2}).id, g.add_node("dense", {"units": 8, "activation": "relu"}).id,
           g.add_node("dense", {"units": outputs, "activation": act}).id, g.add_node("output", {"task": task}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def cfg(**changes) -> TrainConfig:
    return TrainConfig(**{**dict(device="cpu", epochs=3, batch_size=16, lr=0.02, seed=0), **changes})


def spiral():
    return split(load_dataset({"name": "spiral", "samples": 120, "classes": 3}), 0.25)


# -- the step-level loss -----------------------------------------------------------------------------------------
def test_downsampling_keeps_the_extremes_within_the_bound():
    losses = [1.0 / (1 + i) for i in range(10_000)]
    losses[4321] = 50.0  # a spike
    points = [[i + 1, (i + 1) / 100, v] for i, v in enumerate(losses)]
    out = downsample(points, 2000)
    assert len(out) <= 2000
    steps = [p[0] for p in out]
    assert steps == sorted(set(steps)), "points out of step order"
    assert [4322, 43.22, 50.0] in out, "the spike was dropped"
    assert out[-1] == points[-1] or min(p[2] for p in out) == losses[-1], "the lowest loss was dropped"
    assert downsample(points[:50], 2000) == points[:50]


def test_the_trace_of_a_long_run_stays_bounded_and_keeps_its_shape():
    trace = StepLossTrace(limit=200)
    for step in range(1, 100_001):
        trace.add(step, step / 1000, 2.0 + math.sin(step / 5000) + (30.0 if step == 77_777 else 0.0))
        held = sum(len(b) for b in trace._buckets.buckets.values())
        assert held <= 2 * 101, f"step {step}: {held} points held"
    points = trace.points()
    assert len(points) <= 200 and any(p[0] == 77_777 for p in points), "the spike was dropped"
    assert points[0][0] <= 1000 and points[-1][0] > 99_000, "the ends were dropped"
    gaps = np.diff([p[0] for p in points])
    assert gaps.max() <= 2 * 100_000 / 100, f"a gap of {gaps.max()} steps: the points are not spread evenly"


def test_the_engine_keeps_every_step_of_a_short_run_in_order():
    result = train(compile_graph(mlp(), seed=0), spiral(), cfg())
    points = result.history["step_loss"]
    per_epoch = result.steps // 3
    assert [p[0] for p in points] == list(range(1, result.steps + 1))
    assert points[per_epoch - 1][1] == pytest.approx(1.0) and points[-1][1] == pytest.approx(3.0)
    assert history_problem(result.history) is None


# -- what the engine writes ---------------------------------------------------------------------------------------
def test_a_classification_history_holds_task_classes_confusion_and_statistics():
    data = spiral()
    result = train(compile_graph(mlp(), seed=0), data, cfg())
    h = result.history
    assert h["task"] == "multiclass" and h["classes"] == list(data.train.classes)
    assert len(h["confusion"]) == 3 and sum(map(sum, h["confusion"])) == len(data.val)
    assert [set(r) for r in h["per_class"]] == [{"precision", "recall", "f1", "support"}] * 3
    assert h["final"]["val_accuracy"] == pytest.approx(sum(h["confusion"][i][i] for i in range(3)) / len(data.val))
    assert set(h["layers"]["layers"]) == {"dense_1", "dense_2"}
    dense = h["layers"]["layers"]["dense_1"]
    assert len(dense["weight_edges"]) == len(dense["weight_hist"]) + 1 == telemetry_module.BINS + 1
    assert sum(dense["weight_hist"]) == 2 * 8 + 8  # every weight and bias counted
    assert dense["grad_norm"] > 0 and dense["update_ratio"] == 0.0  # measured once after the run
    assert h["activations"]["layers"]["dense_1"]["dead_fraction"] is not None  # a ReLU
    json.dumps(h, allow_nan=True)  # JSON-safe as it is


def test_a_run_nobody_watched_is_measured_at_its_end_without_touching_the_model(monkeypatch):
    from nnstudio.core.training import engine

    calls = []
    real = engine.final_reports

    def watched(compiled, model, x, y, loss_fn, step):
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        rng, mode = torch.get_rng_state(), model.training
        out = real(compiled, model, x, y, loss_fn, step)
        calls.append(step)
        assert torch.equal(torch.get_rng_state(), rng), "the measurement drew from the random generator"
        assert model.training == mode, "the measurement left the model in another mode"
        for name, p in model.named_parameters():
            assert name in grads and torch.equal(p.grad, grads[name]), f"the measurement changed {name}.grad"
        return out

    monkeypatch.setattr(engine, "final_reports", watched)
    result = train(compile_graph(mlp(), seed=0), spiral(), cfg())
    assert calls == [result.steps] and result.history["layers"]["step"] == result.steps
    assert result.history["activations"]["step"] == result.steps


def test_a_regression_history_has_no_classes_and_no_confusion():
    data = split(load_dataset({"name": "sine", "samples": 80}), 0.25)
    g = Graph()
    ids = [g.add_node("input_vector", {"features": 1}).id, g.add_node("dense", {"units": 8, "activation": "tanh"}).id,
           g.add_node("dense", {"units": 1, "activation": "none"}).id, g.add_node("output", {"task": "regression"}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    h = train(compile_graph(g, seed=0), data, cfg()).history
    assert h["task"] == "regression" and "classes" not in h and "confusion" not in h and "per_class" not in h
    reports = saved_reports(h)
    assert reports.missing == {"confusion": "a regression has no confusion matrix"}


# -- back into reports ----------------------------------------------------------------------------------------------
class Listener(Callback):
    def __init__(self) -> None:
        self.layers, self.activations, self.epochs = [], [], []

    def on_layers(self, report):
        self.layers.append(report)

    def on_activations(self, report):
        self.activations.append(report)

    def on_epoch(self, report):
        self.epochs.append(report)


def test_saved_reports_are_the_last_reports_the_window_saw(monkeypatch, tmp_path):
    monkeypatch.setattr(telemetry_module, "BUDGET", 1e9)
    monkeypatch.setattr(telemetry_module, "PROBE_INTERVAL_S", 0.0)
    listener = Listener()
    result = train(compile_graph(mlp(), seed=0), spiral(), cfg(telemetry_every=2), [listener])
    history = json.loads(json.dumps(result.history, allow_nan=True))  # as saved and read back
    reports = saved_reports(history)
    assert reports.missing == {}
    last, saved = listener.layers[-1], reports.layers
    assert saved.step == last.step and set(saved.layers) == set(last.layers)
    for node_id, stats in last.layers.items():
        mine = saved.layers[node_id]
        for key in ("weight_hist", "weight_edges", "grad_hist", "grad_edges"):
            assert np.allclose(getattr(mine, key), getattr(stats, key)), f"{node_id}.{key}"
        for key in ("weight_norm", "grad_norm", "update_ratio"):
            assert getattr(mine, key) == pytest.approx(getattr(stats, key)), f"{node_id}.{key}"
    act, saved_act = listener.activations[-1], reports.activations
    assert saved_act.step == act.step and set(saved_act.layers) == set(act.layers)
    for node_id, stats in act.layers.items():
        mine = saved_act.layers[node_id]
        assert np.allclose(mine.hist, stats.hist) and mine.dead_fraction == stats.dead_fraction, node_id
        assert mine.feature_maps is None
    assert reports.classes == history["classes"] and reports.task == "multiclass"
    assert reports.last_epoch.epoch == 3 and reports.last_epoch.confusion == history["confusion"]
    assert reports.rows == history["epochs"]
    assert list(reports.step_loss.steps) == [p[0] for p in history["step_loss"]]
    assert reports.step_loss.epochs[-1] == pytest.approx(3.0)


def test_an_older_history_says_what_it_cannot_redraw():
    old = {"epochs": [{"epoch": 1, "train_loss": 0.9}], "best_epoch": 1, "stop_reason": "completed"}
    reports = saved_reports(old)
    assert reports.rows == old["epochs"] and reports.last_epoch.epoch == 1
    assert set(reports.missing) == {"step_loss", "confusion", "layers", "activations"}
    assert all("older NN Studio" in why for why in reports.missing.values())
    columns = saved_reports({"epoch": [1, 2], "loss": [0.7, 0.4]})  # the per-metric form has no rows
    assert "epochs" in columns.missing
    broken = saved_reports({"epochs": "x"})
    assert set(broken.missing) == set(PARTS) and all("cannot be read" in why for why in broken.missing.values())
    assert set(saved_reports(None).missing) == set(PARTS)


# -- the checks -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_history() -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(compile_graph(mlp(), seed=0), spiral(), cfg(epochs=1)).history
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("change, words", [
    (lambda h: h.update(task="clustering"), "task: must be one of multiclass, binary, regression"),
    (lambda h: h.update(classes=["a", 3]), "classes[1]: must be a string"),
    (lambda h: h.update(classes=["x"] * (H.MAX_CLASSES + 1)), "classes: has 10,001 names"),
    (lambda h: h["step_loss"].append([1, 0.1, 0.5]), "does not come after step"),
    (lambda h: h["step_loss"].__setitem__(0, [0, 0.0, 0.5]), "step_loss[0]: must be [step, epoch, loss]"),
    (lambda h: h["step_loss"].__setitem__(0, [1, 0.1, float("nan")]), "step_loss[0]: must be [step, epoch, loss]"),
    (lambda h: h.update(step_loss=[[i, 0.0, 1.0] for i in range(1, H.MAX_STEP_POINTS + 2)]), "has 2,001 points"),
    (lambda h: h["confusion"][0].append(1), "confusion[0]: has 4 counts"),
    (lambda h: h["confusion"][1].__setitem__(1, -1), "confusion[1][1]: must be a whole number >= 0"),
    (lambda h: h["per_class"][0].update(f1="high"), "per_class[0].f1: must be a number"),
    (lambda h: h["layers"].update(extra=1), "layers: must be an object with step and layers"),
    (lambda h: h["layers"]["layers"]["dense_1"].pop("grad_norm"), "layers.layers.'dense_1': must be an object of"),
    (lambda h: h["layers"]["layers"]["dense_1"]["weight_edges"].pop(), "layers.layers.'dense_1'.weight_hist: must"),
    (lambda h: h["layers"]["layers"]["dense_1"].update(weight_hist=[1.0] * 101, weight_edges=[0.0] * 102),
     "at most 100 counts"),
    (lambda h: h["activations"]["layers"]["dense_1"].update(mean="x"), "activations.layers.'dense_1'.mean: must be"),
    (lambda h: h["activations"]["layers"].update({f"n{i}": h["activations"]["layers"]["dense_1"]
                                                   for i in range(H.MAX_LAYERS)}), "has 502 layers"),
    (lambda h: h.update(storage="disk"), "storage: must be stream or memory"),
    (lambda h: h.update(normalize={"mean": [0.5], "std": [0.0]}), "normalize.std: every deviation must be above 0"),
    (lambda h: h.update(normalize={"mean": [0.5, 0.1], "std": [0.2]}), "normalize: mean and std must have one"),
    (lambda h: h.update(normalize={"mean": ["x"], "std": [1.0]}), "normalize.mean: must be a list of 1 to"),
    (lambda h: h.update(normalize=[0.5]), "normalize: must be an object with the lists mean and std"),
])
def test_a_bad_dashboard_key_is_named(trained_history, change, words):
    h = copy.deepcopy(trained_history)
    assert history_problem(h) is None
    change(h)
    problem = history_problem(h)
    assert problem is not None and words in problem, f"expected {words!r}, got {problem!r}"


# -- continuing ---------------------------------------------------------------------------------------------------
def test_a_continued_history_drops_what_came_after_the_kept_epoch():
    old = {"epochs": [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 6)],
           "step_loss": [[s, s / 10, 1.0] for s in range(1, 51)], "best_epoch": 3, "task": "multiclass"}
    new = {"epochs": [{"epoch": 4, "train_loss": 0.1}], "step_loss": [[31, 3.1, 0.5]], "best_epoch": 4,
           "task": "multiclass", "steps": 40}
    merged = continue_history(old, new, epoch=3, step=30)
    assert [r["epoch"] for r in merged["epochs"]] == [1, 2, 3, 4]
    assert [p[0] for p in merged["step_loss"]] == [*range(1, 31), 31]
    assert merged["best_epoch"] == 4 and merged["steps"] == 40
    assert old["epochs"][4]["epoch"] == 5, "the previous history was changed"
    assert continue_history({"epochs": "broken"}, new, 3, 30)["epochs"] == new["epochs"]
    assert history_problem(merged) is None
