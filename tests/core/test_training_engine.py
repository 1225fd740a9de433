"""The training engine: history, metrics per task, optimizers, regularisation, schedules, early stopping,
reproducibility, the control token and devices. Tiny models on tiny data; one torch thread."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.data.split import split
from nnstudio.core.errors import TrainingError
from nnstudio.core.graph import Graph
from nnstudio.core.training import engine, optim
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.device import available_devices, resolve_device
from nnstudio.core.training.engine import train

OUT_ACT = {"multiclass": "softmax", "binary": "sigmoid", "regression": "none"}


# -- helpers ------------------------------------------------------------------------------------------------
def mlp(features: int = 2, hidden: tuple[int, ...] = (16,), outputs: int = 3, task: str = "multiclass",
        act: str = "relu", loss: str = "auto", out_act: str | None = None, bias: bool = True) -> Graph:
    g = Graph()
    ids = [g.add_node("input_vector", {"features": features}).id]
    for units in hidden:
        ids.append(g.add_node("dense", {"units": units, "activation": act, "bias": bias}).id)
    ids.append(g.add_node("dense", {"units": outputs, "activation": out_act or OUT_ACT[task], "bias": bias}).id)
    ids.append(g.add_node("output", {"task": task, "loss": loss}).id)
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def cfg(**changes) -> TrainConfig:
    base = dict(device="cpu", epochs=5, batch_size=16, lr=0.01, seed=0)
    base.update(changes)
    return TrainConfig(**base)


def blobs(samples: int = 120, classes: int = 3) -> DataSplit:
    return split(load_dataset({"name": "blobs", "samples": samples, "classes": classes, "noise": 0.3}), 0.25)


def random_labels(n_train: int = 48, n_val: int = 48, features: int = 10, classes: int = 3) -> DataSplit:
    """Labels that have nothing to do with the inputs: the network can only memorise, so val_loss rises."""
    g = torch.Generator().manual_seed(1)
    parts = []
    for n in (n_train, n_val):
        x = torch.randn(n, features, generator=g)
        y = torch.randint(0, classes, (n,), generator=g)
        parts.append(Dataset("noise", "multiclass", x, y, [str(k) for k in range(classes)]))
    return DataSplit(*parts)


def rows(result) -> list[dict]:
    return result.history["epochs"]


def column(result, key: str) -> list[float]:
    return [r[key] for r in rows(result)]


def val_loss_of(compiled, part: Dataset) -> float:
    """The validation loss of the model's current weights, computed here rather than by the engine."""
    model = compiled.module
    model.eval()
    with torch.no_grad():
        out = model(part.x)
    model.train()
    return float(compiled.loss_fn()(out, part.y))


def params_norm(module: torch.nn.Module, p: int = 2) -> float:
    return float(sum(w.detach().abs().pow(p).sum() for w in optim.penalised_weights(module)) ** (1 / p))


class Recorder(Callback):
    def __init__(self) -> None:
        self.started = False
        self.steps: list = []
        self.epochs: list = []

    def on_start(self, info):
        self.started = True

    def on_step(self, report):
        self.steps.append(report)

    def on_epoch(self, report):
        self.epochs.append(report)


@pytest.fixture
def every_step(monkeypatch):
    """Step reports after every step (the engine throttles them to twenty a second otherwise)."""
    monkeypatch.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)


# -- basics ---------------------------------------------------------------------------------------------------
def test_multiclass_loss_decreases_and_history_has_a_row_per_epoch():
    data = blobs()
    compiled = compile_graph(mlp(), seed=0)
    rec = Recorder()
    result = train(compiled, data, cfg(epochs=6, lr=0.02), [rec])
    epochs = rows(result)
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro", "lr", "time_s"):
        assert all(key in r for r in epochs), key
    assert epochs[-1]["train_loss"] < 0.7 * epochs[0]["train_loss"]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]
    assert epochs[-1]["val_accuracy"] > 0.8
    assert all(0.0 <= r["val_accuracy"] <= 1.0 and 0.0 <= r["train_accuracy"] <= 1.0 for r in epochs)
    assert result.stop_reason == "completed" and result.history["stop_reason"] == "completed"
    assert result.steps == 6 * math.ceil(len(data.train) / 16)
    assert [r.epoch for r in rec.epochs] == [1, 2, 3, 4, 5, 6]
    assert rec.steps[-1].step == result.steps and rec.steps[-1].progress == 1.0
    assert set(result.state_dict) == set(compiled.module.state_dict())
    json.dumps(result.history, allow_nan=False)  # JSON-safe: it is saved in the project


@pytest.mark.parametrize("restore_best", [True, False])
def test_the_final_metrics_are_the_kept_weights_validated_once_per_epoch(monkeypatch, restore_best):
    """No second validation pass at the end: the kept weights (best or last) were validated as an epoch, and the
    final figures are that epoch's, which a fresh pass over the kept weights confirms."""
    calls = []
    real = engine._Run.evaluate
    monkeypatch.setattr(engine._Run, "evaluate", lambda self, feed, loss_fn: calls.append(1) or real(self, feed,
                                                                                                     loss_fn))
    data = blobs()
    compiled = compile_graph(mlp(), seed=0)
    result = train(compiled, data, cfg(epochs=5, lr=0.5, restore_best=restore_best))
    assert len(calls) == 5
    kept = rows(result)[result.best_epoch - 1] if restore_best else rows(result)[-1]
    assert result.final["val_loss"] == kept["val_loss"]
    assert val_loss_of(compiled, data.val) == pytest.approx(kept["val_loss"], rel=1e-5)


def test_regression_reports_mse_mae_r2():
    data = split(load_dataset({"name": "sine", "samples": 120, "noise": 0.05}), 0.25)
    compiled = compile_graph(mlp(features=1, hidden=(16,), outputs=1, task="regression", act="tanh"), seed=0)
    result = train(compiled, data, cfg(epochs=15, lr=0.03))
    last = rows(result)[-1]
    for key in ("val_mse", "val_mae", "val_r2", "val_loss", "train_loss"):
        assert key in last
    assert "val_accuracy" not in last and "train_accuracy" not in last
    assert last["val_mse"] == pytest.approx(last["val_loss"], rel=1e-5)  # an MSE loss
    assert rows(result)[-1]["val_r2"] > rows(result)[0]["val_r2"]
    assert last["val_r2"] > 0.5
    assert set(result.final) >= {"val_mse", "val_mae", "val_r2"}


@pytest.mark.parametrize("y_shape", ["(N,)", "(N, 1)"])
def test_binary_with_bce(y_shape):
    data = split(load_dataset({"name": "blobs", "samples": 100, "classes": 2, "noise": 0.3}), 0.25)
    if y_shape == "(N, 1)":
        data = DataSplit(*(Dataset(p.name, "binary", p.x, p.y.reshape(-1, 1), p.classes) for p in (data.train,
                                                                                                   data.val)))
    compiled = compile_graph(mlp(outputs=1, task="binary", loss="bce"), seed=0)
    assert compiled.loss == "bce"
    result = train(compiled, data, cfg(epochs=8, lr=0.03))
    assert rows(result)[-1]["train_loss"] < rows(result)[0]["train_loss"]
    assert result.final["val_accuracy"] > 0.9


def test_multiclass_with_an_mse_loss_trains_on_one_hot_targets():
    data = blobs()
    compiled = compile_graph(mlp(loss="mse"), seed=0)
    result = train(compiled, data, cfg(epochs=8, lr=0.02))
    assert rows(result)[-1]["train_loss"] < rows(result)[0]["train_loss"]
    assert result.final["val_accuracy"] > 0.8
    assert rows(result)[-1]["train_accuracy"] > 0.8


def test_binary_with_an_mse_loss_counts_accuracy_at_one_half():
    """With a Sigmoid that is not folded into the loss the model outputs probabilities: > 0.5 is class 1."""
    data = split(load_dataset({"name": "blobs", "samples": 100, "classes": 2, "noise": 0.3}), 0.25)
    compiled = compile_graph(mlp(outputs=1, task="binary", loss="mse"), seed=0)
    result = train(compiled, data, cfg(epochs=10, lr=0.03))
    probs = compiled.predict(data.val.x).reshape(-1)
    expected = float(((probs > 0.5).long() == data.val.y).float().mean())
    assert result.final["val_accuracy"] == pytest.approx(expected)
    assert result.final["val_accuracy"] > 0.9


def test_training_without_validation_data():
    data = blobs()
    empty = data.val.subset(torch.arange(0))
    result = train(compile_graph(mlp(), seed=0), DataSplit(data.train, empty), cfg(epochs=3))
    assert len(rows(result)) == 3
    assert not any(k.startswith("val_") for k in rows(result)[-1])
    assert result.final == {}


# -- optimizers, regularisation, schedules -------------------------------------------------------------------
@pytest.mark.parametrize("name, settings, kind", [
    ("sgd", dict(lr=0.1, momentum=0.9), torch.optim.SGD),
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True), torch.optim.SGD),
    ("adam", dict(lr=0.02), torch.optim.Adam),
    ("adamw", dict(lr=0.02, l2=0.01), torch.optim.AdamW),
    ("rmsprop", dict(lr=0.005, momentum=0.5), torch.optim.RMSprop),
])
def test_each_optimizer_lowers_the_loss(monkeypatch, name, settings, kind):
    made = []
    real = optim.make_optimizer

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(optim, "make_optimizer", spy)
    data = blobs()
    compiled = compile_graph(mlp(), seed=0)
    before = {k: v.clone() for k, v in compiled.module.state_dict().items()}
    result = train(compiled, data, cfg(optimizer=name, epochs=5, **settings))
    assert type(made[0]) is kind
    group = made[0].param_groups[0]
    if "momentum" in settings:
        assert group["momentum"] == settings["momentum"]
    if name == "sgd":
        assert group["nesterov"] is settings.get("nesterov", False)
    assert group["weight_decay"] == settings.get("l2", 0.0)
    assert rows(result)[-1]["train_loss"] < 0.8 * rows(result)[0]["train_loss"]
    assert any(not torch.equal(before[k], v) for k, v in result.state_dict.items())


def test_l2_shrinks_the_weights():
    data = blobs()
    norms = []
    for l2 in (0.0, 0.05):
        compiled = compile_graph(mlp(hidden=(32,)), seed=0)
        train(compiled, data, cfg(optimizer="sgd", lr=0.1, epochs=10, l2=l2))
        norms.append(params_norm(compiled.module))
    assert norms[1] < 0.9 * norms[0]


def test_l1_makes_the_weights_smaller_and_sparser():
    data = blobs()
    l1_norms, small = [], []
    for l1 in (0.0, 0.003):
        compiled = compile_graph(mlp(hidden=(32,)), seed=0)
        train(compiled, data, cfg(optimizer="adam", lr=0.01, epochs=10, l1=l1))
        l1_norms.append(params_norm(compiled.module, p=1))
        weights = torch.cat([w.detach().reshape(-1) for w in optim.penalised_weights(compiled.module)])
        small.append(int((weights.abs() < 0.02).sum()))
    assert l1_norms[1] < 0.8 * l1_norms[0]
    assert small[1] > small[0]


def _gradient_norms(monkeypatch) -> list[float]:
    """Record the total gradient norm the optimizer sees at every step (after clipping)."""
    norms: list[float] = []
    real = optim.make_optimizer

    def hook(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    def spy(*args, **kwargs):
        optimizer = real(*args, **kwargs)
        optimizer.register_step_pre_hook(hook)
        return optimizer

    monkeypatch.setattr(optim, "make_optimizer", spy)
    return norms


def test_grad_clip_bounds_the_gradient_norm(monkeypatch):
    data = blobs()
    norms = _gradient_norms(monkeypatch)
    train(compile_graph(mlp(), seed=0), data, cfg(optimizer="sgd", lr=0.05, epochs=2, grad_clip=0.0))
    unclipped = list(norms)
    norms.clear()
    train(compile_graph(mlp(), seed=0), data, cfg(optimizer="sgd", lr=0.05, epochs=2, grad_clip=0.05))
    assert max(unclipped) > 0.1  # without clipping the gradients are larger than the bound
    assert len(norms) == len(unclipped)
    assert max(norms) <= 0.05 * (1 + 1e-4)
    assert max(norms) > 0.04  # clipped to the bound, not zeroed


def test_step_schedule():
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=6, lr=0.04, schedule="step", step_size=2,
                                                               gamma=0.5))
    assert column(result, "lr") == pytest.approx([0.04, 0.04, 0.02, 0.02, 0.01, 0.01])


def test_cosine_schedule():
    epochs = 5
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=epochs, lr=0.04, schedule="cosine"))
    expected = [0.04 * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs)]
    assert column(result, "lr") == pytest.approx(expected)
    assert all(a > b for a, b in zip(column(result, "lr"), column(result, "lr")[1:]))


def _constant_loss_problem() -> tuple[Graph, DataSplit]:
    """All-zero inputs into layers without bias: the output is 0 whatever the weights, so the loss never moves."""
    g = mlp(hidden=(), bias=False)
    parts = [Dataset("zeros", "multiclass", torch.zeros(n, 2), torch.arange(n) % 3, ["a", "b", "c"])
             for n in (30, 12)]
    return g, DataSplit(*parts)


@pytest.mark.parametrize("patience, expected", [
    (0, [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]),
    (1, [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]),
])
def test_plateau_schedule_lowers_the_lr_when_the_loss_stalls(patience, expected):
    g, data = _constant_loss_problem()
    result = train(compile_graph(g, seed=0), data, cfg(epochs=6, lr=0.04, schedule="plateau",
                                                       plateau_patience=patience, plateau_factor=0.5))
    assert len(set(column(result, "val_loss"))) == 1  # the loss really is stuck
    assert column(result, "lr") == pytest.approx([0.04 * f for f in expected])


def test_plateau_schedule_keeps_the_lr_while_the_loss_improves():
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=4, lr=0.01, schedule="plateau",
                                                              plateau_patience=2))
    assert all(b < a for a, b in zip(column(result, "val_loss"), column(result, "val_loss")[1:]))
    assert column(result, "lr") == pytest.approx([0.01] * 4)


# -- early stopping -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("patience", [0, 3])
def test_early_stopping_stops_patience_epochs_after_the_best_and_restores_it(patience):
    data = random_labels()
    compiled = compile_graph(mlp(features=10, hidden=(64, 64)), seed=0)
    result = train(compiled, data, cfg(epochs=200, lr=0.01, early_stopping=True, patience=patience,
                                       monitor="val_loss", restore_best=True))
    losses = column(result, "val_loss")
    best = result.best_epoch
    assert result.stop_reason == "early_stopping" and result.history["stop_reason"] == "early_stopping"
    assert len(losses) < 200
    assert len(losses) == best + patience + 1
    assert losses[best - 1] == min(losses)
    assert all(v >= losses[best - 1] for v in losses[best:])  # nothing after the best improved on it
    # The weights kept are the best epoch's: evaluated here, they give that epoch's val_loss, not the last one's.
    kept = val_loss_of(compiled, data.val)
    assert kept == pytest.approx(losses[best - 1], rel=1e-5)
    assert kept != pytest.approx(losses[-1], rel=1e-5)
    assert result.final["val_loss"] == pytest.approx(losses[best - 1], rel=1e-5)
    fresh = compile_graph(mlp(features=10, hidden=(64, 64)), seed=0)
    fresh.module.load_state_dict(result.state_dict)
    assert val_loss_of(fresh, data.val) == pytest.approx(losses[best - 1], rel=1e-5)


def test_early_stopping_without_restore_keeps_the_last_weights():
    data = random_labels()
    compiled = compile_graph(mlp(features=10, hidden=(64, 64)), seed=0)
    result = train(compiled, data, cfg(epochs=200, lr=0.01, early_stopping=True, patience=2,
                                       restore_best=False))
    losses = column(result, "val_loss")
    assert result.stop_reason == "early_stopping"
    assert val_loss_of(compiled, data.val) == pytest.approx(losses[-1], rel=1e-5)
    assert losses[-1] > min(losses)


def test_early_stopping_on_a_higher_is_better_monitor():
    g, data = _constant_loss_problem()  # accuracy never changes: the first epoch stays the best
    result = train(compile_graph(g, seed=0), data, cfg(epochs=50, early_stopping=True, patience=2,
                                                       monitor="val_accuracy"))
    assert result.stop_reason == "early_stopping"
    assert result.best_epoch == 1
    assert len(rows(result)) == 1 + 2 + 1


def test_a_monitor_the_task_does_not_report_is_an_error_before_training():
    data = split(load_dataset({"name": "sine", "samples": 40}), 0.25)
    rec = Recorder()
    compiled = compile_graph(mlp(features=1, outputs=1, task="regression"), seed=0)
    with pytest.raises(TrainingError, match="val_accuracy"):
        train(compiled, data, cfg(early_stopping=True, monitor="val_accuracy"), [rec])
    assert not rec.started
    with pytest.raises(TrainingError, match="val_r2"):  # and the other way round
        train(compile_graph(mlp(), seed=0), blobs(), cfg(schedule="plateau", monitor="val_r2"), [rec])
    assert not rec.started


def test_a_validation_monitor_without_validation_data_is_an_error_before_training():
    data = blobs()
    no_val = DataSplit(data.train, data.val.subset(torch.arange(0)))
    rec = Recorder()
    with pytest.raises(TrainingError, match="validation"):
        train(compile_graph(mlp(), seed=0), no_val, cfg(early_stopping=True, monitor="val_accuracy"), [rec])
    assert not rec.started


def test_restore_best_without_validation_data_keeps_the_lowest_training_loss():
    """The monitored value falls back to train_loss, and then lower is better whatever ``monitor`` says."""
    data = blobs()
    no_val = DataSplit(data.train, data.val.subset(torch.arange(0)))
    result = train(compile_graph(mlp(), seed=0), no_val, cfg(epochs=5, monitor="val_accuracy", restore_best=True))
    losses = column(result, "train_loss")
    assert result.best_epoch == losses.index(min(losses)) + 1


# -- reproducibility ------------------------------------------------------------------------------------------
def _losses(result) -> list[tuple[float, float]]:
    return [(r["train_loss"], r["val_loss"], r["val_accuracy"]) for r in rows(result)]


def test_same_seed_same_history_different_seed_different_history():
    data = blobs()
    runs = [train(compile_graph(mlp(), seed=0), data, cfg(epochs=3, seed=seed)) for seed in (7, 7, 8)]
    assert _losses(runs[0]) == _losses(runs[1])  # exactly
    assert all(torch.equal(runs[0].state_dict[k], runs[1].state_dict[k]) for k in runs[0].state_dict)
    assert [r[0] for r in _losses(runs[0])] != [r[0] for r in _losses(runs[2])]


# -- the control token ----------------------------------------------------------------------------------------
class PauseAt(Callback):
    def __init__(self, token: ControlToken, step: int, wait_s: float) -> None:
        self.token, self.step, self.wait_s = token, step, wait_s
        self.steps: list[tuple[int, float]] = []
        self.paused_at: float | None = None
        self.seen_while_paused: int | None = None
        self.resumed_at: float | None = None

    def on_step(self, report):
        self.steps.append((report.step, time.perf_counter()))
        if report.step == self.step:
            self.token.pause()
            self.paused_at = time.perf_counter()
            threading.Thread(target=self._resume_later, daemon=True).start()

    def _resume_later(self):
        time.sleep(self.wait_s)
        self.seen_while_paused = sum(1 for _, t in self.steps if t > self.paused_at)
        self.resumed_at = time.perf_counter()
        self.token.resume()


def test_pause_takes_effect_within_a_step_and_resume_continues(every_step):
    token = ControlToken()
    cb = PauseAt(token, step=3, wait_s=0.3)
    data = blobs()
    result = train(compile_graph(mlp(), seed=0), data, cfg(epochs=3), [cb], token)
    total = 3 * math.ceil(len(data.train) / 16)
    assert result.stop_reason == "completed"
    assert [s for s, _ in cb.steps] == list(range(1, total + 1))
    assert cb.seen_while_paused is not None and cb.seen_while_paused <= 1
    after = [t for _, t in cb.steps if t > cb.paused_at]
    assert after[cb.seen_while_paused] >= cb.resumed_at  # the next step waited for resume()


class StopAt(Callback):
    def __init__(self, token: ControlToken, step: int) -> None:
        self.token, self.step = token, step
        self.steps: list[int] = []

    def on_step(self, report):
        self.steps.append(report.step)
        if report.step == self.step:
            self.token.stop()


def test_stop_ends_within_a_step_and_keeps_the_best_weights(every_step):
    data = random_labels()  # val_loss rises after a few epochs, so the best epoch is not the last
    token = ControlToken()
    steps_per_epoch = math.ceil(len(data.train) / 16)
    k = 8 * steps_per_epoch + 2  # in the middle of epoch 9
    cb = StopAt(token, k)
    compiled = compile_graph(mlp(features=10, hidden=(64, 64)), seed=0)
    result = train(compiled, data, cfg(epochs=50, lr=0.01, restore_best=False), [cb], token)
    assert result.stop_reason == "stopped" and result.history["stop_reason"] == "stopped"
    assert result.steps <= k + 1 and max(cb.steps) <= k + 1
    losses = column(result, "val_loss")
    assert len(losses) == 9  # the part of epoch 9 that ran is reported
    best = result.best_epoch
    assert losses[best - 1] == min(losses) and best < 9
    assert val_loss_of(compiled, data.val) == pytest.approx(min(losses), rel=1e-5)


def test_stop_while_paused_wakes_and_stops(every_step):
    token = ControlToken()

    class PauseThenStop(Callback):
        def __init__(self):
            self.steps = []

        def on_step(self, report):
            self.steps.append(report.step)
            if report.step == 2:
                token.pause()
                threading.Timer(0.1, token.stop).start()

    cb = PauseThenStop()
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=5), [cb], token)
    assert result.stop_reason == "stopped"
    assert result.steps == 2 and cb.steps == [1, 2]


def test_stop_before_training_keeps_the_initial_weights():
    token = ControlToken()
    token.stop()
    compiled = compile_graph(mlp(), seed=0)
    before = {k: v.clone() for k, v in compiled.module.state_dict().items()}
    result = train(compiled, blobs(), cfg(epochs=5), [], token)
    assert result.stop_reason == "stopped" and result.steps == 0
    assert rows(result) == [] and result.best_epoch is None
    assert all(torch.equal(before[k], v) for k, v in result.state_dict.items())


# -- devices --------------------------------------------------------------------------------------------------
def _available(name: str) -> bool:
    if name.startswith("cuda"):
        index = int(name.split(":")[1]) if ":" in name else 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return False


@pytest.mark.parametrize("name", ["cuda", "cuda:3", "mps", "tpu"])
def test_a_missing_device_is_an_error_before_training(name):
    if _available(name):
        pytest.skip(f"{name} exists on this machine")
    rec = Recorder()
    compiled = compile_graph(mlp(), seed=0)
    with pytest.raises(TrainingError) as info:
        train(compiled, blobs(), cfg(device=name), [rec])
    message = str(info.value)
    assert repr(name) in message and "not" in message
    assert "\n" not in message
    assert not rec.started
    assert next(compiled.module.parameters()).device.type == "cpu"


def test_available_devices_lists_the_cpu_first():
    devices = available_devices()
    assert devices[0]["id"] == "cpu"
    assert all({"id", "name"} <= set(d) for d in devices)
    ids = [d["id"] for d in devices]
    assert ("mps" in ids) == _available("mps")
    assert sum(i.startswith("cuda:") for i in ids) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    for d in ids:
        assert resolve_device(d).type == d.split(":")[0]


def test_auto_picks_an_accelerator_when_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if _available("mps") else "cpu")
    assert resolve_device("auto").type == expected
    assert resolve_device(" CPU ").type == "cpu"


def test_mixed_precision_on_the_cpu_is_ignored():
    result = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=4, mixed_precision=True, lr=0.02))
    plain = train(compile_graph(mlp(), seed=0), blobs(), cfg(epochs=4, mixed_precision=False, lr=0.02))
    assert result.device == "cpu"
    assert _losses(result) == _losses(plain)
    assert rows(result)[-1]["train_loss"] < rows(result)[0]["train_loss"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("mixed", [False, True])
def test_training_on_cuda(mixed):
    compiled = compile_graph(mlp(), seed=0)
    result = train(compiled, blobs(), cfg(device="cuda", epochs=5, lr=0.02, mixed_precision=mixed))
    assert result.device.startswith("cuda")
    assert rows(result)[-1]["train_loss"] < rows(result)[0]["train_loss"]
    assert all(v.device.type == "cpu" for v in result.state_dict.values())
    assert result.final["val_accuracy"] > 0.8


def test_restore_best_with_a_monitor_the_task_does_not_report_uses_val_loss():
    """Without early stopping or a plateau schedule the monitor is not checked: the best epoch falls back to
    the lowest val_loss instead of failing."""
    data = random_labels()
    result = train(compile_graph(mlp(features=10, hidden=(64, 64)), seed=0), data,
                   cfg(epochs=12, lr=0.01, monitor="val_mse", restore_best=True))
    losses = column(result, "val_loss")
    assert result.best_epoch == losses.index(min(losses)) + 1 < 12
