"""Continuing a training run exactly: the engine's resume state, project_run's prepare(resume=True) and
store_result, the training state in the project file, and the rule for restore_best. One torch thread, so
that a continued run and one longer run do the very same arithmetic."""

from __future__ import annotations

import copy

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import Dataset, DataSplit
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.data.split import split
from nnstudio.core.errors import TrainingError
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import Graph
from nnstudio.core.project.io import load_project, save_project, training_state_limit
from nnstudio.core.project.model import Project
from nnstudio.core.training import optim, resume
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.engine import train
from nnstudio.core.training.project_run import (
    OUT_OF_DATE,
    load_weights,
    prepare,
    store_result,
    train_prepared,
)

COMPARED = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


def mlp(dropout: float = 0.3, features: int = 2, classes: int = 3) -> Graph:
    g = Graph()
    ids = [g.add_node("input_vector", {"features": features}).id,
           g.add_node("dense", {"units": 16, "activation": "relu"}).id,
           g.add_node("dropout", {"rate": dropout}).id,
           g.add_node("dense", {"units": classes, "activation": "softmax"}).id,
           g.add_node("output", {"task": "multiclass"}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def blobs() -> DataSplit:
    return split(load_dataset({"name": "blobs", "samples": 120, "classes": 3, "noise": 0.3}), 0.25)


def noise(n: int = 48, features: int = 2, classes: int = 3) -> DataSplit:
    """Labels unrelated to the inputs: the network memorises, the validation loss rises after an epoch or two
    (so the best epoch is an early one and a plateau schedule lowers the rate)."""
    g = torch.Generator().manual_seed(1)
    parts = [Dataset("noise", "multiclass", torch.randn(n, features, generator=g),
                     torch.randint(0, classes, (n,), generator=g), [str(k) for k in range(classes)])
             for _ in range(2)]
    return DataSplit(*parts)


def cfg(epochs: int, **changes) -> TrainConfig:
    base = dict(device="cpu", epochs=epochs, batch_size=16, lr=0.02, seed=0, restore_best=False)
    base.update(changes)
    return TrainConfig(**base)


def continued(graph: Graph, data: DataSplit, first, then, callbacks=()):
    """Train ``first`` (a TrainConfig), then continue with ``then`` from the weights and state it kept."""
    a = train(compile_graph(graph, seed=0), data, first)
    model = compile_graph(graph, seed=0)
    load_weights(model, a.state_dict)
    b = train(model, data, then, callbacks, resume=a.training_state)
    return a, b


def assert_same_rows(mine: list[dict], reference: list[dict], where: str) -> None:
    assert [r["epoch"] for r in mine] == [r["epoch"] for r in reference], f"{where}: other epoch numbers"
    for row, ref in zip(mine, reference):
        for key in COMPARED:
            if key in ref:
                assert row[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12), f"{where}: epoch {row['epoch']} {key}"


def assert_same_weights(mine: dict, reference: dict, where: str) -> None:
    assert set(mine) == set(reference), where
    for name, tensor in reference.items():
        assert torch.allclose(mine[name], tensor, rtol=1e-6, atol=1e-7), f"{where}: {name}"


# -- the engine: continuing is one longer run -----------------------------------------------------------------
@pytest.mark.parametrize("optimizer, schedule, data, first", [
    ("adam", dict(schedule="step", step_size=2, gamma=0.5), blobs, 3),
    ("adam", dict(schedule="plateau", plateau_patience=0, plateau_factor=0.5), noise, 3),
    ("sgd", dict(schedule="step", step_size=2, gamma=0.5, momentum=0.9, nesterov=True), blobs, 3),
    # split where the plateau's best and count decide the next reduction (a fresh one would not reduce yet)
    ("sgd", dict(schedule="plateau", plateau_patience=0, plateau_factor=0.5, momentum=0.9), noise, 4),
])
def test_continuing_gives_the_losses_of_one_longer_run(optimizer, schedule, data, first):
    split_ = data()
    whole = train(compile_graph(mlp(), seed=0), split_, cfg(6, optimizer=optimizer, **schedule))
    a, b = continued(mlp(), split_, cfg(first, optimizer=optimizer, **schedule),
                     cfg(6 - first, optimizer=optimizer, **schedule))
    where = f"{optimizer} with {schedule['schedule']}"
    lrs = [r["lr"] for r in whole.history["epochs"]]
    assert any(lr != lrs[first - 1] for lr in lrs[first:]), f"{where}: the rate never changes after the split: no test"
    assert_same_rows(a.history["epochs"] + b.history["epochs"], whole.history["epochs"], where)
    assert_same_weights(b.state_dict, whole.state_dict, where)
    assert b.steps == whole.steps and b.resumed_from == (first, a.steps)
    assert (b.training_state.epoch, b.training_state.step) == (6, whole.steps)


def test_continuing_a_transformer_with_attention_dropout_is_exact():
    """Dropout inside a fused attention layer draws from the same generator: it is restored too."""
    g = Graph()
    ids = [g.add_node("input_sequence", {"steps": 4, "features": 8}).id,
           g.add_node("transformer_encoder", {"heads": 2, "ff_dim": 16, "dropout": 0.2}).id,
           g.add_node("flatten", {}).id, g.add_node("dense", {"units": 2, "activation": "softmax"}).id,
           g.add_node("output", {"task": "multiclass"}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    gen = torch.Generator().manual_seed(2)
    parts = [Dataset("seq", "multiclass", torch.randn(40, 4, 8, generator=gen), torch.randint(0, 2, (40,), generator=gen),
                     ["a", "b"]) for _ in range(2)]
    data = DataSplit(*parts)
    whole = train(compile_graph(g, seed=0), data, cfg(4, optimizer="adamw", l2=0.01))
    a, b = continued(g, data, cfg(2, optimizer="adamw", l2=0.01), cfg(2, optimizer="adamw", l2=0.01))
    assert_same_rows(a.history["epochs"] + b.history["epochs"], whole.history["epochs"], "transformer")


class Recorder(Callback):
    def __init__(self) -> None:
        self.starts, self.steps, self.epochs = [], [], []

    def on_start(self, info):
        self.starts.append(info)

    def on_step(self, report):
        self.steps.append(report)

    def on_epoch(self, report):
        self.epochs.append(report)


def test_epochs_means_this_many_more_and_the_counters_go_on():
    rec = Recorder()
    a, b = continued(mlp(), blobs(), cfg(3), cfg(2), [rec])
    steps_per_epoch = a.steps // 3
    assert [r.epoch for r in rec.epochs] == [4, 5] and {r.epochs for r in rec.epochs} == {5}
    assert rec.starts[0]["first_epoch"] == 4 and rec.starts[0]["first_step"] == a.steps + 1
    assert rec.starts[0]["total_steps"] == 5 * steps_per_epoch
    assert rec.steps[0].step > a.steps and rec.steps[-1].step == b.steps == 5 * steps_per_epoch
    assert [r["epoch"] for r in b.history["epochs"]] == [4, 5]
    assert b.history["epochs"][0]["time_s"] >= a.history["epochs"][-1]["time_s"]  # the clock goes on
    assert [p[0] for p in b.history["step_loss"]][0] == a.steps + 1
    assert b.history["step_loss"][0][1] == pytest.approx(3 + 1 / steps_per_epoch)  # epoch position goes on


# -- restore_best: the state belongs to the weights that are kept ----------------------------------------------
def best_epoch_before_the_last(result, epochs: int) -> int:
    best = result.best_epoch
    assert best is not None and best < epochs, f"the best epoch is {best} of {epochs}: the data no longer overfit"
    return best


def test_with_restore_best_the_state_is_the_best_epoch_s_and_continuing_goes_on_from_there():
    data = noise()
    a = train(compile_graph(mlp(), seed=0), data, cfg(6, restore_best=True))
    best = best_epoch_before_the_last(a, 6)
    assert (a.training_state.epoch, a.training_state.step) == (best, best * 3)  # 48 samples in batches of 16
    reference = train(compile_graph(mlp(), seed=0), data, cfg(best, restore_best=True))
    assert_same_weights(a.state_dict, reference.state_dict, "the kept weights")
    assert_same_states(a.training_state, reference.training_state, "the state of the kept weights")
    # Continuing 2 epochs from there is a run of best + 2 epochs.
    model = compile_graph(mlp(), seed=0)
    load_weights(model, a.state_dict)
    b = train(model, data, cfg(2, restore_best=True), resume=a.training_state)
    longer = train(compile_graph(mlp(), seed=0), data, cfg(best + 2, restore_best=True))
    assert_same_rows(b.history["epochs"], longer.history["epochs"][best:], "continued from the best epoch")
    assert_same_weights(b.state_dict, longer.state_dict, "continued from the best epoch")
    assert b.best_epoch == longer.best_epoch


def assert_same_states(mine: resume.TrainingState, ref: resume.TrainingState, where: str) -> None:
    assert (mine.epoch, mine.step, mine.best_epoch, mine.bad_epochs) == (ref.epoch, ref.step, ref.best_epoch,
                                                                         ref.bad_epochs), where
    assert mine.lrs == ref.lrs and mine.scheduler == ref.scheduler, where
    for name, values in ref.optimizer_state.items():
        for key, value in values.items():
            assert torch.equal(mine.optimizer_state[name][key], value), f"{where}: {name}.{key}"
    assert set(mine.rng) == set(ref.rng) and all(torch.equal(mine.rng[k], ref.rng[k]) for k in ref.rng), where


def test_a_stopped_run_keeps_the_best_weights_with_their_state():
    class StopAt(Callback):
        def __init__(self, token, epoch):
            self.token, self.epoch = token, epoch

        def on_epoch(self, report):
            if report.epoch == self.epoch:
                self.token.stop()

    token = ControlToken()
    stopped = train(compile_graph(mlp(), seed=0), noise(), cfg(8), [StopAt(token, 5)], token)
    assert stopped.stop_reason == "stopped" and len(stopped.history["epochs"]) == 5
    best = best_epoch_before_the_last(stopped, 5)
    reference = train(compile_graph(mlp(), seed=0), noise(), cfg(best))
    assert_same_weights(stopped.state_dict, reference.state_dict, "stopped: the kept weights")
    assert_same_states(stopped.training_state, reference.training_state, "stopped: their state")


# -- settings that change between runs --------------------------------------------------------------------------
def test_the_learning_rate_goes_on_where_the_schedule_left_it_unless_changed():
    step = dict(schedule="step", step_size=2, gamma=0.5, lr=0.02)
    _, same = continued(mlp(), blobs(), cfg(3, **step), cfg(1, **step))
    assert same.history["epochs"][0]["lr"] == pytest.approx(0.02 * 0.5)  # halved after epoch 2, not reset
    _, changed = continued(mlp(), blobs(), cfg(3, **step), cfg(3, **{**step, "lr": 0.1}))
    assert [r["lr"] for r in changed.history["epochs"]] == pytest.approx([0.1, 0.05, 0.05])  # the schedule goes on


def test_a_changed_optimizer_starts_fresh_and_says_so():
    _, b = continued(mlp(), blobs(), cfg(2, optimizer="adam"), cfg(2, optimizer="sgd", momentum=0.9))
    assert [r["epoch"] for r in b.history["epochs"]] == [3, 4] and b.training_state.optimizer == "sgd"
    assert set(b.training_state.optimizer_state[b.training_state.params[0]]) == {"momentum_buffer"}


@pytest.mark.parametrize("first, then, words", [
    (dict(optimizer="adam"), dict(optimizer="sgd"), ["the optimizer changed from adam to sgd: it starts fresh"]),
    (dict(schedule="step"), dict(schedule="plateau"), ["the plateau schedule starts fresh (it changed from step)"]),
    (dict(schedule="plateau"), dict(schedule="plateau", monitor="val_accuracy"),
     ["the plateau schedule starts fresh (the monitor changed)"]),
    (dict(schedule="cosine"), dict(schedule="cosine"), ["the cosine schedule anneals over the epochs of one run"]),
    (dict(schedule="step"), dict(schedule="step", lr=0.5, momentum=0.5, step_size=3), []),
])
def test_what_starts_fresh_is_said_in_one_line_each(first, then, words):
    a = train(compile_graph(mlp(), seed=0), blobs(), cfg(1, **first))
    notes = resume.continue_notes(a.training_state, cfg(1, **then))
    assert len(notes) == len(words) and all(n.startswith(w) and "\n" not in n for n, w in zip(notes, words)), notes


def test_a_state_for_another_network_is_refused():
    a = train(compile_graph(mlp(), seed=0), blobs(), cfg(1))
    other = mlp(features=3)
    with pytest.raises(TrainingError, match="shape .* but the parameter has"):
        train(compile_graph(other, seed=0), blobs(), cfg(1), resume=a.training_state)
    state = copy.copy(a.training_state)
    state.params = [*state.params[:-1], "dense_9.bias"]
    with pytest.raises(TrainingError, match="for other parameters .*dense_9.bias"):
        train(compile_graph(mlp(), seed=0), blobs(), cfg(1), resume=state)


# -- through the project and its file ---------------------------------------------------------------------------
def project(epochs: int = 3, **training) -> Project:
    settings = dict(device="cpu", epochs=epochs, batch_size=16, lr=0.02, seed=0, restore_best=False,
                    schedule="step", step_size=2, gamma=0.5)
    settings.update(training)
    return Project(graph=mlp(), name="p", training=settings, dataset={"name": "blobs", "samples": 120, "noise": 0.3})


def trained(p: Project, resume_: bool = False, **overrides) -> Project:
    prepared = prepare(p, resume=resume_, **overrides)
    store_result(p, train_prepared(prepared))
    return p


def test_a_project_saved_and_opened_continues_exactly(tmp_path):
    path = tmp_path / "p.nnstudio"
    save_project(trained(project(3)), path)
    opened = load_project(path)
    assert opened.load_warnings == [] and opened.training_state.epoch == 3
    prepared = prepare(opened, resume=True, epochs=2)
    assert prepared.notes == [] and prepared.resume.epoch == 3
    store_result(opened, train_prepared(prepared))
    save_project(opened, path)
    again = load_project(path)
    whole = trained(project(5))
    assert_same_rows(again.history["epochs"], whole.history["epochs"], "saved, opened, continued")
    assert again.history["steps"] == whole.history["steps"]
    assert [p[0] for p in again.history["step_loss"]] == [p[0] for p in whole.history["step_loss"]]
    assert_same_weights(again.weights, whole.weights, "saved, opened, continued")
    assert again.weights_fingerprint == fingerprint(again.graph)


def test_store_result_appends_after_the_kept_epoch_with_restore_best():
    g = mlp()
    p = Project(graph=g)
    store_result(p, train(compile_graph(g, seed=0), noise(), cfg(6, restore_best=True)))
    best = p.history["best_epoch"]
    assert best < 6, f"best epoch {best} of 6: the data no longer overfit"
    first_rows = copy.deepcopy(p.history["epochs"][:best])
    model = compile_graph(p.graph, seed=0)
    load_weights(model, p.weights)
    result = train(model, noise(), cfg(2, restore_best=True), resume=p.training_state)
    store_result(p, result)
    assert [r["epoch"] for r in p.history["epochs"]] == [*range(1, best + 1), best + 1, best + 2]
    assert p.history["epochs"][:best] == first_rows  # the rows of the kept weights stay as they were
    assert all(pt[0] <= result.steps for pt in p.history["step_loss"])
    assert [pt[0] for pt in p.history["step_loss"]] == sorted({pt[0] for pt in p.history["step_loss"]})


def test_the_fingerprint_is_the_trained_snapshot_s_not_the_edited_graph_s():
    p = project(1)
    prepared = prepare(p)
    trained_graph = fingerprint(p.graph)
    p.graph.set_params("dense_1", {"activation": "tanh"})  # edited while it trains
    store_result(p, train_prepared(prepared))
    assert p.weights_fingerprint == trained_graph != fingerprint(p.graph)
    with pytest.raises(TrainingError) as info:
        prepare(p, resume=True)
    assert str(info.value) == OUT_OF_DATE
    p.graph.set_params("dense_1", {"activation": "relu"})  # undone: the weights are current again
    p.graph.set_label("dense_1", "renamed")
    p.graph.move_node("dense_1", (500.0, 40.0))
    assert prepare(p, resume=True).resume is p.training_state


def test_resume_without_a_training_state_goes_on_from_the_kept_epoch_with_a_note():
    p = trained(project(3, restore_best=True))
    p.training_state, p.weights_fingerprint = None, None  # as a format-1 file
    p.history["best_epoch"] = 2  # pretend the second epoch's weights were kept
    prepared = prepare(p, resume=True, epochs=1)
    assert len(prepared.notes) == 1 and prepared.notes[0].startswith("the project has no saved optimizer state")
    assert (prepared.resume.epoch, prepared.resume.has_optimizer) == (2, False)
    store_result(p, train_prepared(prepared))
    assert [r["epoch"] for r in p.history["epochs"]] == [1, 2, 3]
    assert p.training_state.has_optimizer and p.weights_fingerprint == fingerprint(p.graph)


# -- the size bound ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(optim.STATE_COPIES))
def test_each_optimizer_keeps_at_most_its_stated_copies_of_the_parameters(name):
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 3))
    optimizer = optim.make_optimizer(model, TrainConfig(optimizer=name, momentum=0.9))
    model(torch.randn(6, 5)).sum().backward()
    optimizer.step()
    params = sum(p.numel() for p in model.parameters())
    big = sum(v.numel() for s in optimizer.state.values() for v in s.values()
              if isinstance(v, torch.Tensor) and v.dim() > 0)
    assert big == optim.STATE_COPIES[name] * params, f"{name}: {big} values of state for {params} parameters"


def test_a_saved_training_state_fits_the_limit_of_its_network(tmp_path):
    g = Graph()
    ids = [g.add_node("input_sequence", {"steps": 4, "features": 8}).id]
    for _ in range(3):
        ids.append(g.add_node("transformer_encoder", {"heads": 2, "ff_dim": 16}).id)
    ids += [g.add_node("flatten", {}).id, g.add_node("dense", {"units": 2, "activation": "softmax"}).id,
            g.add_node("output", {"task": "multiclass"}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    gen = torch.Generator().manual_seed(0)
    data = DataSplit(*[Dataset("seq", "multiclass", torch.randn(16, 4, 8, generator=gen),
                               torch.randint(0, 2, (16,), generator=gen), ["a", "b"]) for _ in range(2)])
    result = train(compile_graph(g, seed=0), data, cfg(1, optimizer="adam"))
    p = Project(graph=g, weights=result.state_dict, training_state=result.training_state, history=result.history)
    save_project(p, tmp_path / "t.nnstudio")
    import zipfile

    with zipfile.ZipFile(tmp_path / "t.nnstudio") as archive:
        size = archive.getinfo("training_state.safetensors").file_size
    assert size <= training_state_limit(g), f"{size:,} bytes, limit {training_state_limit(g):,}"
    assert load_project(tmp_path / "t.nnstudio").training_state.epoch == 1
