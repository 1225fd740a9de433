"""What training reports: plain dataclasses holding Python numbers and numpy copies, safe to hand to another
thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class StepReport:
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, counted over the whole run
    total_steps: int
    loss: float
    lr: float
    samples_per_sec: float
    elapsed_s: float
    eta_s: float
    accuracy: float | None = None  # classification: the training accuracy of the epoch so far

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    values: dict[str, float]  # train_loss, val_loss, val_accuracy ... as stored in the history
    confusion: list[list[int]] | None = None  # validation confusion matrix, classification only
    per_class: list[dict[str, float]] | None = None  # validation precision / recall / f1 / support per class
    improved: bool = False  # the monitored value is the best so far


@dataclass
class LayerStats:
    weight_hist: np.ndarray
    weight_edges: np.ndarray
    grad_hist: np.ndarray
    grad_edges: np.ndarray
    weight_norm: float
    grad_norm: float
    update_ratio: float  # |W_after - W_before| / |W_before| of this step


@dataclass
class LayerReport:
    step: int
    layers: dict[str, LayerStats]


@dataclass
class ActivationStats:
    hist: np.ndarray
    edges: np.ndarray
    mean: float
    std: float
    dead_fraction: float | None  # units never positive on the probe batch, for ReLU-like outputs
    feature_maps: np.ndarray | None = None  # (channels, H, W) of the first probe image, conv layers only


@dataclass
class ActivationReport:
    step: int
    layers: dict[str, ActivationStats]


@dataclass
class BoundaryReport:
    """The model's prediction over a grid covering 2-D input data, for a decision-boundary plot."""

    step: int
    xs: np.ndarray  # (W,) grid x coordinates
    ys: np.ndarray  # (H,)
    predicted: np.ndarray  # (H, W) class index, or the value for regression
    confidence: np.ndarray  # (H, W) probability of the predicted class
    points: np.ndarray  # (N, 2) training points shown on top
    labels: np.ndarray  # (N,)


@dataclass
class TrainResult:
    history: dict[str, Any]  # JSON-safe: {"epochs": [{epoch, train_loss, val_loss, ...}, ...], ...}
    state_dict: dict[str, Any]  # CPU tensors of the weights kept (the best ones when restoring the best)
    stop_reason: str  # "completed", "stopped", "early_stopping"
    best_epoch: int | None
    final: dict[str, float] = field(default_factory=dict)  # validation values of the weights kept
    device: str = "cpu"
    steps: int = 0  # counted over every run the history holds (a continued run goes on counting)
    # What continuing from these weights needs (training.resume.TrainingState), saved with the project.
    training_state: Any = None
    # (epoch, step) the run continued from, or None for a fresh run: store_result then appends to the history.
    resumed_from: tuple[int, int] | None = None
    # fingerprint.fingerprint of the graph that trained (set by project_run.train_prepared).
    fingerprint: str | None = None
    # What the project's record of this run needs (set by project_run.train_prepared; see core.runs): when it
    # started (a UTC datetime), how long it took (seconds), the graph that trained (Graph.to_dict()) and the
    # dataset settings it trained on.
    started: Any = None
    duration_s: float | None = None
    graph: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    # A branch's parent run, {"run": id, "epoch": n} (set by train_prepared from prepare(branch_from=...)).
    parent: dict[str, Any] | None = None
