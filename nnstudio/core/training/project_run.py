"""Training a whole project: everything between "Train" and a trained project, shared by the command line and
the GUI worker. Checks happen before any training: the graph, the settings, the device, the data against the
Input and Output nodes.

    prepared = prepare(project, resume=True)          # or resume=False: start from fresh weights
    result = train_prepared(prepared, callbacks, token)
    store_result(project, result)                      # weights, training state, fingerprint, history, runs

Continuing (``resume=True``) starts from the project's weights and its training state, so the run goes on
exactly where the last one stopped (``training.resume``); the history then goes on too: ``store_result``
appends the new epochs to the project's history (``history.continue_history``). ``store_result`` is also where
every run that ends (completed, stopped, early stopping; from the app or the command line) is added to the
project's runs (``core.runs.record_run``), once.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from nnstudio.core import memory
from nnstudio.core.compile import CompiledModel, compile_graph
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.errors import DatasetError, TrainingError
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.project.model import Project
from nnstudio.core.training import resume as _resume
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.device import resolve_device
from nnstudio.core.training.history import continue_history
from nnstudio.core.training.reports import TrainResult
from nnstudio.core.training.resume import TrainingState

OUT_OF_DATE = ("the saved weights were trained on an earlier version of the network: train again without "
               "continuing")


@dataclass
class PreparedRun:
    compiled: CompiledModel
    split: DataSplit
    config: TrainConfig
    # What the run continues from (the project's training state, or only a position for an older file), or None.
    resume: TrainingState | None = None
    # fingerprint.fingerprint of the graph compiled here (the snapshot that trains).
    fingerprint: str | None = None
    # What continuing starts fresh (an older file without optimizer state, a changed optimizer ...), one line each.
    notes: list[str] = field(default_factory=list)
    # The graph (Graph.to_dict()) and dataset settings of the snapshot that trains, for the project's runs.
    graph: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    # A branch: {"run": id, "epoch": n}, the kept run whose weights (after its epoch n) this run starts from.
    parent: dict[str, Any] | None = None


def prepare(project: Project, resume: bool = False, base_dir: str | Path | None = None,
            dataset: Dataset | None = None, branch_from: str | None = None, **overrides: Any) -> PreparedRun:
    """Compile the project's graph, load its dataset and settings (``overrides`` replace settings for this run
    only). ``resume`` continues the project's last run: from its saved weights and training state (with
    ``epochs`` meaning this many more); it is refused when there are no weights, or when they belong to another
    version of the graph (the fingerprint, or for an older file without one their names and shapes, differ).
    A project without a training state (an older file) continues from the weights alone, with a note saying
    the optimizer starts fresh. ``base_dir`` (the project file's folder) is where relative data paths start;
    ``dataset``: the project's data already loaded (the window's session has them), split here, not read again.
    Raises GraphError, DatasetError or TrainingError with a plain message; a run that would not fit in the
    device's memory is refused (``memory.NotEnoughMemoryError``) before the model is built, and one whose data
    would not fit on the device too, before anything is moved there.

    ``branch_from`` (a run id) starts instead from that run's kept weights (a pinned run, or the latest), on
    the network it trained (the graph must be that one: restore it first), with ``epochs`` more epochs and the
    settings given; the optimizer goes on when the run is the project's current one and keeps its optimizer,
    else it starts fresh (a note says so). The new run's parent is that run, at the epoch its weights are of."""
    config = TrainConfig.from_dict(project.training).updated(**overrides)
    device = resolve_device(config.device)
    from nnstudio.core.data.registry import load_split, split_loaded
    from nnstudio.core.problems import NO_DATASET, check_data_fits
    from nnstudio.core.shapes import infer_shapes

    if not project.dataset:
        raise DatasetError(NO_DATASET)

    info = infer_shapes(project.graph)
    need = None
    if info.ok:  # a graph with problems is compile_graph's to report
        need = memory.check_fits(memory.estimate(project.graph, config.batch_size, config.optimizer, info=info),
                                 config.batch_size, device, "train")
    compiled = compile_graph(project.graph, seed=config.seed)
    if dataset is None:
        split = load_split(project.dataset, base_dir=base_dir, device=device)
    else:  # the same split load_split makes (a standard set's official test files are its test part)
        split = split_loaded(dataset, project.dataset)
    check_data_fits(split.train, project.graph, info, project.dataset)  # the Problems panel's words
    if need is not None and device.type != "cpu":  # the engine keeps the whole dataset on the device
        memory.check_fits(need, config.batch_size, device, "train", data_bytes=_data_bytes(split))
    prepared = PreparedRun(compiled, split, config, fingerprint=fingerprint(project.graph),
                           graph=project.graph.to_dict(), dataset=copy.deepcopy(project.dataset))
    if branch_from is not None:
        _branch(project, prepared, branch_from)
    elif resume:
        if not project.weights:
            raise TrainingError("there are no saved weights to resume from: train without resuming first")
        load_weights(compiled, project.weights)  # names and shapes first: the more precise message
        if project.weights_fingerprint is not None and project.weights_fingerprint != prepared.fingerprint:
            raise TrainingError(OUT_OF_DATE)
        state = project.training_state
        if state is not None:
            problem = _resume.mismatch(state, compiled.module)
            if problem:
                raise TrainingError(f"{problem}: {OUT_OF_DATE}")
        else:
            state = _position_only(project.history)
        prepared.resume = state
        prepared.notes = _resume.continue_notes(project.training_state, config)
    return prepared


def _branch(project: Project, prepared: PreparedRun, run_id: str) -> None:
    from nnstudio.core import runs

    run = runs.find(project, run_id)
    weights = project.run_weights.get(run_id)
    if not weights:
        raise TrainingError(f"{run_id} keeps no weights (only pinned runs and the latest one keep theirs): "
                            "pin a run to branch from it later")
    if run.get("fingerprint") and run["fingerprint"] != prepared.fingerprint:
        raise TrainingError(f"{run_id} trained another version of the network: restore its network first "
                            "(Runs > Restore), then branch")
    load_weights(prepared.compiled, weights)
    state = project.training_state if weights is project.weights else None
    if state is not None and _resume.mismatch(state, prepared.compiled.module) is None:
        prepared.notes = _resume.continue_notes(state, prepared.config)
    else:
        state = _position_only(run_history(run))
        prepared.notes = [f"a branch of {run_id} starts its optimizer and schedule fresh; the weights go on"]
    prepared.resume = state
    prepared.parent = {"run": run_id, "epoch": int(state.epoch)}


def branch_epoch(project: Project, run_id: str) -> int:
    """The epoch whose weights a branch of ``run_id`` starts from (what ``prepare(branch_from=...)`` takes)."""
    from nnstudio.core import runs

    run = runs.find(project, run_id)
    weights = project.run_weights.get(run_id)
    if weights is not None and weights is project.weights and project.training_state is not None:
        return int(project.training_state.epoch)
    return int(_position_only(run_history(run)).epoch)


def run_history(run: dict[str, Any]) -> dict[str, Any]:
    """A kept run as a history (what ``continue_history`` and ``_position_only`` read)."""
    points = run.get("step_loss") or []
    steps = points[-1][0] if points and isinstance(points[-1], (list, tuple)) else 0
    history = {k: run.get(k) for k in ("epochs", "step_loss", "task", "classes", "confusion", "final", "best_epoch",
                                       "stop_reason") if run.get(k) is not None}
    history.update(config=run.get("settings") or {}, steps=int(steps) if isinstance(steps, int) else 0)
    return history


def _position_only(history: Any) -> TrainingState:
    """Where a run continues from weights without a training state (a file older than format 2): after the
    epoch whose weights were kept (the best one with restore_best, or in a stopped run; else the last), with
    the step count the history gives. The optimizer, the schedule and the random generators start fresh."""
    from nnstudio.core.training.history import history_problem

    if not isinstance(history, dict) or history_problem(history) is not None:
        return TrainingState(0, 0)
    epochs = [r["epoch"] for r in history.get("epochs", []) if isinstance(r.get("epoch"), int)]
    config = history.get("config") if isinstance(history.get("config"), dict) else {}
    kept_best = config.get("restore_best", True) is not False or history.get("stop_reason") == "stopped"
    best = history.get("best_epoch")
    epoch = best if kept_best and isinstance(best, int) and best in epochs else max(epochs, default=0)
    last = max(epochs, default=0)
    steps = history.get("steps", 0)
    step = steps * epoch // last if last and epoch != last else steps  # steps of the kept epoch, evenly spread
    return TrainingState(epoch, int(step))


def train_prepared(prepared: PreparedRun, callbacks: Sequence[Callback] = (),
                   token: ControlToken | None = None) -> TrainResult:
    """Train a prepared run (continuing it when it was prepared to) and mark the result with the fingerprint
    of the graph that trained."""
    from nnstudio.core.runs import now_utc
    from nnstudio.core.training import engine

    started, clock = now_utc(), time.perf_counter()
    result = engine.train(prepared.compiled, prepared.split, prepared.config, callbacks, token,
                          resume=prepared.resume)
    result.fingerprint = prepared.fingerprint
    result.started, result.duration_s = started, time.perf_counter() - clock
    result.graph, result.dataset = prepared.graph, prepared.dataset
    result.parent = prepared.parent
    return result


def _data_bytes(split: DataSplit) -> int:
    """What the engine puts on the device whole: a streamed part's labels only."""
    return sum(part.resident_bytes() for part in (split.train, split.val) if part is not None)


def load_weights(compiled: CompiledModel, weights: dict[str, torch.Tensor]) -> None:
    """Put saved weights into the compiled model; names and shapes must match the network exactly."""
    model_state = compiled.module.state_dict()
    missing = sorted(set(model_state) - set(weights))
    extra = sorted(set(weights) - set(model_state))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:5])}")
        raise TrainingError("the saved weights do not belong to this network (" + "; ".join(parts) +
                            "): the graph changed since training; train again")
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(model_state[name].shape):
            raise TrainingError(f"the saved weight {name} has shape {tuple(tensor.shape)} but the network needs "
                                f"{tuple(model_state[name].shape)}: the graph changed since training; train again")
    compiled.module.load_state_dict({k: v.to(model_state[k].dtype) for k, v in weights.items()})


def store_result(project: Project, result: TrainResult, sweep: str | None = None,
                 name: str | None = None) -> list[str]:
    """Keep the trained weights, their training state and fingerprint, and the history in the project (saved
    with it), and add the run to the project's runs (``runs.record_run``; a continued run names the run it
    continued as its parent). A run that continued appends to the project's history: the rows up to the epoch
    it continued from, then its own (``history.continue_history``). Returns what recording the run said (the
    runs the bounds dropped), one line each. A branch (``prepare(branch_from=...)``) names its parent run and
    its history goes on from that run's. ``sweep`` and ``name``: the sweep the run belongs to, and its name."""
    from nnstudio.core import runs

    parent, previous = getattr(result, "parent", None), None
    if parent is not None:
        try:
            previous = run_history(runs.find(project, parent["run"]))
        except runs.RunError:  # the parent was dropped meanwhile: the branch's history starts with itself
            previous = None
    elif result.resumed_from is not None:
        previous = project.history
        continued = runs.current_run(project) or (project.runs[-1] if project.runs else None)
        if continued is not None:
            parent = {"run": continued["id"], "epoch": int(result.resumed_from[0])}
    project.weights = {k: v.detach().cpu().clone() for k, v in result.state_dict.items()}
    project.training_state = result.training_state
    project.weights_fingerprint = result.fingerprint
    if result.resumed_from is not None:
        epoch, step = result.resumed_from
        project.history = continue_history(previous, result.history, epoch, step)
    else:
        project.history = result.history
    config = result.history.get("config") if isinstance(result.history, dict) else None
    notes: list[str] = []
    runs.record_run(project, result, config if isinstance(config, dict) else project.training,
                    getattr(result, "started", None), getattr(result, "device", None),
                    duration_s=getattr(result, "duration_s", None), graph=getattr(result, "graph", None),
                    dataset=getattr(result, "dataset", None), parent=parent, notes=notes)
    if sweep is not None or name is not None:
        run = project.runs[-1]
        run["sweep"] = sweep if sweep is not None else run["sweep"]
        run["name"] = runs.one_line(name, runs.MAX_RUN_NAME) if name else run["name"]
    return notes


def headline(result: TrainResult, task: str) -> str:
    """The one line that sums a run up: ``val_accuracy=0.973`` (classification) or ``val_mse=0.0123``."""
    return _headline(result.final or (result.history["epochs"][-1] if result.history.get("epochs") else {}), task)


def _headline(values: Any, task: str) -> str:
    for key in (("val_accuracy",) if task != "regression" else ("val_mse",)) + ("val_loss", "train_loss"):
        value = values.get(key) if isinstance(values, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{key}={value:.4g}" if "accuracy" not in key else f"{key}={value:.3f}"
    return "no epoch finished"


def saved_headline(history: Any) -> tuple[str, float] | None:
    """What a saved history says of the run that made it, for a reopened project: one line ("Trained for 100
    epochs (completed): val_accuracy=1.000") and how far the run got (0..1); None without a readable run."""
    from nnstudio.core.training.history import history_problem

    if not isinstance(history, dict) or history_problem(history) is not None or not history.get("epochs"):
        return None
    rows, reason = history["epochs"], str(history.get("stop_reason") or "finished")
    config = history.get("config") if isinstance(history.get("config"), dict) else {}
    planned = config.get("epochs")
    done = reason in ("completed", "early_stopping")
    progress = 1.0 if done or not isinstance(planned, int) or planned <= 0 else min(1.0, len(rows) / planned)
    values = history.get("final") if isinstance(history.get("final"), dict) else rows[-1]
    count = f"{len(rows)} epoch{'s' if len(rows) != 1 else ''}"
    text = f"Trained for {count} ({reason.replace('_', ' ')}): {_headline(values, str(history.get('task')))}"
    return text, progress
