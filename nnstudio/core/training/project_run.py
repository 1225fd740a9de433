"""Training a whole project: everything between "Train" and a trained project, shared by the command line and
the GUI worker. Checks happen before any training: the graph, the settings, the device, the data against the
Input and Output nodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnstudio.core import memory
from nnstudio.core.compile import CompiledModel, compile_graph
from nnstudio.core.data.base import DataSplit
from nnstudio.core.errors import DatasetError, TrainingError
from nnstudio.core.project.model import Project
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.device import resolve_device
from nnstudio.core.training.reports import TrainResult


@dataclass
class PreparedRun:
    compiled: CompiledModel
    split: DataSplit
    config: TrainConfig


def prepare(project: Project, resume: bool = False, base_dir: str | Path | None = None,
            **overrides: Any) -> PreparedRun:
    """Compile the project's graph, load its dataset and settings (``overrides`` replace settings for this run
    only). ``resume`` starts from the project's saved weights; ``base_dir`` (the project file's folder) is where
    relative data paths start. Raises GraphError, DatasetError or TrainingError with a plain message; a run
    that would not fit in the device's memory is refused (``memory.NotEnoughMemoryError``) before the model is
    built, and one whose data would not fit on the device too, before anything is moved there."""
    config = TrainConfig.from_dict(project.training).updated(**overrides)
    device = resolve_device(config.device)
    if not project.dataset:
        raise DatasetError("the project has no dataset: choose one (e.g. \"spiral\" or \"digits\") first")
    from nnstudio.core.data.fit import check_fits, check_targets
    from nnstudio.core.data.registry import load_split
    from nnstudio.core.shapes import infer_shapes

    info = infer_shapes(project.graph)
    need = None
    if info.ok:  # a graph with problems is compile_graph's to report
        need = memory.check_fits(memory.estimate(project.graph, config.batch_size, config.optimizer, info=info),
                                 config.batch_size, device, "train")
    compiled = compile_graph(project.graph, seed=config.seed)
    split = load_split(project.dataset, base_dir=base_dir)
    problems = check_fits(split.train, compiled.input_infos, project.dataset) + check_targets(
        split.train, compiled.task, compiled.output_info.shape)
    if problems:
        raise DatasetError("the dataset does not fit the network: " + "; ".join(problems))
    if need is not None and device.type != "cpu":  # the engine keeps the whole dataset on the device
        memory.check_fits(need, config.batch_size, device, "train", data_bytes=_data_bytes(split))
    if resume:
        if not project.weights:
            raise TrainingError("there are no saved weights to resume from: train without resuming first")
        load_weights(compiled, project.weights)
    return PreparedRun(compiled, split, config)


def _data_bytes(split: DataSplit) -> int:
    parts = [split.train, split.val]
    return sum(t.numel() * t.element_size() for part in parts if part is not None for t in (part.x, part.y))


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


def store_result(project: Project, result: TrainResult) -> None:
    """Keep the trained weights and the history in the project (saved with it)."""
    project.weights = {k: v.detach().cpu().clone() for k, v in result.state_dict.items()}
    project.history = result.history


def headline(result: TrainResult, task: str) -> str:
    """The one line that sums a run up: ``val_accuracy=0.973`` (classification) or ``val_mse=0.0123``."""
    values = result.final or (result.history["epochs"][-1] if result.history.get("epochs") else {})
    for key in (("val_accuracy",) if task != "regression" else ("val_mse",)) + ("val_loss", "train_loss"):
        if key in values:
            return f"{key}={values[key]:.4g}" if "accuracy" not in key else f"{key}={values[key]:.3f}"
    return "no epoch finished"
