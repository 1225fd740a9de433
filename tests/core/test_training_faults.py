"""Faults while training become TrainingError / DatasetError with plain messages, and never touch the caller's
project: NaN losses, out of memory, data that do not fit the Input or the Output."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.data.split import split
from nnstudio.core.errors import DatasetError, TrainingError
from nnstudio.core.graph import Graph
from nnstudio.core.project.model import Project
from nnstudio.core.training import engine
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback
from nnstudio.core.training.engine import train
from nnstudio.core.training.project_run import prepare, store_result

OUT_ACT = {"multiclass": "softmax", "binary": "sigmoid", "regression": "none"}


@pytest.fixture
def every_step(monkeypatch):
    monkeypatch.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)


def mlp(features: int = 2, outputs: int = 3, task: str = "multiclass") -> Graph:
    g = Graph()
    ids = [g.add_node("input_vector", {"features": features}).id,
           g.add_node("dense", {"units": 8, "activation": "relu"}).id,
           g.add_node("dense", {"units": outputs, "activation": OUT_ACT[task]}).id,
           g.add_node("output", {"task": task}).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def cfg(**changes) -> TrainConfig:
    base = dict(device="cpu", epochs=3, batch_size=16, lr=0.01, seed=0)
    base.update(changes)
    return TrainConfig(**base)


def blobs(samples: int = 96) -> DataSplit:
    return split(load_dataset({"name": "blobs", "samples": samples}), 0.25)


class Recorder(Callback):
    def __init__(self) -> None:
        self.started = False
        self.steps: list[int] = []

    def on_start(self, info):
        self.started = True

    def on_step(self, report):
        self.steps.append(report.step)


def _step_in(message: str) -> int:
    match = re.search(r"at step (\d+)", message)
    assert match, message
    return int(match.group(1))


# -- NaN ------------------------------------------------------------------------------------------------------
def test_an_infinite_sample_is_a_nan_loss_naming_its_step(every_step):
    data = blobs()
    x = data.train.x.clone()
    x[17, 0] = float("inf")
    bad = DataSplit(Dataset("bad", "multiclass", x, data.train.y, data.train.classes), data.val)
    rec = Recorder()
    with pytest.raises(TrainingError) as info:
        train(compile_graph(mlp(), seed=0), bad, cfg(epochs=3), [rec])
    message = str(info.value)
    step = _step_in(message)
    assert rec.steps == list(range(1, step))  # every step before the bad one went through
    assert step <= len(data.train) // 16 + 1  # the bad sample is in the first epoch
    assert "nan" in message.lower() and "learning rate" in message


def test_a_diverging_run_names_the_step():
    data = split(load_dataset({"name": "sine", "samples": 60}), 0.25)
    scaled = [Dataset(p.name, "regression", p.x * 100, p.y * 1e4) for p in (data.train, data.val)]
    rec = Recorder()
    with pytest.raises(TrainingError) as info:
        train(compile_graph(mlp(features=1, outputs=1, task="regression"), seed=0), DataSplit(*scaled),
              cfg(optimizer="sgd", lr=10.0, momentum=0.9, epochs=50), [rec])
    assert _step_in(str(info.value)) >= 1
    assert re.search(r"the loss became (nan|inf)", str(info.value))
    assert rec.started  # this one is found while training, not before


# -- out of memory --------------------------------------------------------------------------------------------
CPU_ALLOCATOR = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                 "tried to allocate 140737488355328 bytes. Error code 12 (Cannot allocate memory)")


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError(CPU_ALLOCATOR), MemoryError()],
                         ids=["cuda", "cpu-allocator", "python"])
def test_out_of_memory_names_the_batch_size(monkeypatch, error):
    compiled = compile_graph(mlp(), seed=0)
    real_forward = compiled.module.forward
    calls = {"n": 0}

    def forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise error
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(compiled.module, "forward", forward)
    with pytest.raises(TrainingError) as info:
        train(compiled, blobs(), cfg(batch_size=24))
    message = str(info.value)
    assert "out of memory" in message and "batch size 24" in message
    assert _step_in(message) == 2
    assert info.value.__cause__ is None and info.value.__suppress_context__  # a plain message, no torch trace


def test_other_runtime_errors_are_not_taken_for_memory(monkeypatch):
    compiled = compile_graph(mlp(), seed=0)
    monkeypatch.setattr(compiled.module, "forward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        train(compiled, blobs(), cfg(batch_size=24))


# -- data that do not fit -------------------------------------------------------------------------------------
def test_data_that_do_not_fit_the_input_are_a_dataset_error_before_training():
    data = blobs()
    three = [Dataset("wide", "multiclass", torch.cat([p.x, p.x[:, :1]], dim=1), p.y, p.classes)
             for p in (data.train, data.val)]
    rec = Recorder()
    compiled = compile_graph(mlp(), seed=0)
    before = {k: v.clone() for k, v in compiled.module.state_dict().items()}
    with pytest.raises(DatasetError) as info:
        train(compiled, DataSplit(*three), cfg(), [rec])
    assert "(N, 3)" in str(info.value) and "(N, 2)" in str(info.value)
    assert not rec.started
    assert all(torch.equal(before[k], v) for k, v in compiled.module.state_dict().items())


def test_token_ids_into_a_vector_input_are_a_dataset_error():
    ids = torch.randint(0, 5, (40, 2))
    part = Dataset("tokens", "multiclass", ids, torch.arange(40) % 3, ["a", "b", "c"])
    with pytest.raises(DatasetError, match="token ids"):
        train(compile_graph(mlp(), seed=0), DataSplit(part, part), cfg())


def test_labels_out_of_range_for_the_output_are_a_dataset_error():
    data = blobs()
    five = [Dataset("five", "multiclass", p.x, p.y + 2, [str(k) for k in range(5)]) for p in (data.train, data.val)]
    rec = Recorder()
    with pytest.raises(DatasetError) as info:
        train(compile_graph(mlp(), seed=0), DataSplit(*five), cfg(), [rec])
    assert "from 2 to 4" in str(info.value) and "5 units" in str(info.value)
    assert not rec.started


def test_negative_and_multiclass_labels_for_a_binary_output_are_a_dataset_error():
    data = blobs()
    with pytest.raises(DatasetError, match="binary"):
        train(compile_graph(mlp(outputs=1, task="binary"), seed=0), data, cfg())
    negative = [Dataset("neg", "multiclass", p.x, p.y - 1, p.classes) for p in (data.train, data.val)]
    with pytest.raises(DatasetError, match="-1"):
        train(compile_graph(mlp(), seed=0), DataSplit(*negative), cfg())


def test_fractional_targets_for_a_classifier_and_wrong_target_count_for_regression():
    data = split(load_dataset({"name": "sine", "samples": 40}), 0.25)
    with pytest.raises(DatasetError, match="fractional"):
        train(compile_graph(mlp(features=1), seed=0), data, cfg())
    with pytest.raises(DatasetError, match="2 units"):
        two = [Dataset(p.name, "regression", p.x, torch.cat([p.y, p.y], dim=1)) for p in (data.train, data.val)]
        train(compile_graph(mlp(features=1, outputs=1, task="regression"), seed=0), DataSplit(*two), cfg())


# -- the caller's project is never touched --------------------------------------------------------------------
def _trained_project() -> Project:
    project = Project(graph=mlp(), name="p", training={"epochs": 2, "batch_size": 16, "lr": 0.01, "device": "cpu"},
                      dataset={"name": "blobs", "samples": 96})
    prepared = prepare(project)
    store_result(project, train(prepared.compiled, prepared.split, prepared.config))
    return project


def _snapshot(project: Project) -> dict:
    return {"graph": project.graph.to_dict(), "training": copy.deepcopy(project.training),
            "dataset": copy.deepcopy(project.dataset), "history": copy.deepcopy(project.history),
            "weights": {k: v.clone() for k, v in project.weights.items()}}


def _assert_unchanged(project: Project, snap: dict) -> None:
    assert project.graph.to_dict() == snap["graph"]
    assert project.training == snap["training"] and project.dataset == snap["dataset"]
    assert project.history == snap["history"]
    assert set(project.weights) == set(snap["weights"])
    assert all(torch.equal(project.weights[k], v) for k, v in snap["weights"].items())


def _nan_data(prepared) -> None:
    prepared.split.train.x[:] = float("nan")


def _oom(prepared) -> None:
    def forward(*args, **kwargs):
        raise torch.OutOfMemoryError("out of memory")

    prepared.compiled.module.forward = forward


@pytest.mark.parametrize("fault, error", [(_nan_data, TrainingError), (_oom, TrainingError)])
def test_a_fault_while_training_leaves_the_project_unchanged(fault, error):
    project = _trained_project()
    snap = _snapshot(project)
    prepared = prepare(project, resume=True, epochs=3)
    fault(prepared)
    with pytest.raises(error):
        train(prepared.compiled, prepared.split, prepared.config)
    _assert_unchanged(project, snap)


def test_training_resumed_from_the_project_does_not_write_into_its_weights():
    """Even a run that succeeds only changes the project through store_result."""
    project = _trained_project()
    snap = _snapshot(project)
    prepared = prepare(project, resume=True, epochs=2)
    result = train(prepared.compiled, prepared.split, prepared.config)
    _assert_unchanged(project, snap)
    assert any(not torch.equal(result.state_dict[k], v) for k, v in snap["weights"].items())


@pytest.mark.parametrize("change, error, words", [
    (lambda p: p.dataset.update(name="sine"), DatasetError, "does not fit"),
    (lambda p: p.training.update(device="tpu"), TrainingError, "'tpu'"),
    (lambda p: p.training.update(optimizer="lbfgs"), TrainingError, "optimizer"),
    (lambda p: p.graph.set_params("dense_1", {"units": 5}), TrainingError, "shape"),
    (lambda p: p.graph.set_params("dense_1", {"bias": False}), TrainingError, "do not belong"),
])
def test_a_fault_found_before_training_leaves_the_project_unchanged(change, error, words):
    project = _trained_project()
    change(project)
    snap = _snapshot(project)
    with pytest.raises(error, match=words):
        prepare(project, resume=True)
    _assert_unchanged(project, snap)


def test_resume_without_saved_weights_is_an_error():
    project = Project(graph=mlp(), dataset={"name": "blobs", "samples": 96})
    with pytest.raises(TrainingError, match="no saved weights"):
        prepare(project, resume=True)


def test_a_project_without_a_dataset_is_an_error():
    with pytest.raises(DatasetError, match="no dataset"):
        prepare(Project(graph=mlp()))


def _oom_when_validating(monkeypatch, compiled, largest: int | None) -> None:
    """Forward passes in eval mode of more than ``largest`` samples (None: any) run out of memory."""
    module = compiled.module
    real_forward = module.forward

    def forward(x):
        if not module.training and (largest is None or x.shape[0] > largest):
            raise torch.OutOfMemoryError("out of memory")
        return real_forward(x)

    monkeypatch.setattr(module, "forward", forward)


def test_validation_falls_back_to_the_training_batch_size_when_out_of_memory(monkeypatch):
    data = blobs(samples=400)  # 100 validation samples: more than the training batch size
    plain = train(compile_graph(mlp(), seed=0), data, cfg(batch_size=16))
    compiled = compile_graph(mlp(), seed=0)
    _oom_when_validating(monkeypatch, compiled, largest=16)
    result = train(compiled, data, cfg(batch_size=16))
    assert result.stop_reason == "completed"
    assert compiled.module.training  # left in training mode after the failed attempts
    for a, b in zip(plain.history["epochs"], result.history["epochs"]):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        assert a["val_accuracy"] == b["val_accuracy"]


def test_validation_that_never_fits_is_a_training_error(monkeypatch):
    compiled = compile_graph(mlp(), seed=0)
    _oom_when_validating(monkeypatch, compiled, largest=None)
    with pytest.raises(TrainingError) as info:
        train(compiled, blobs(), cfg(batch_size=16))
    assert "out of memory" in str(info.value) and "validating" in str(info.value) and "16" in str(info.value)
