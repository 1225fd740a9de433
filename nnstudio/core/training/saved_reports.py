"""A saved training history back as the report objects the dashboard draws, and reports as the JSON a history
keeps (the keys are described in ``training.history``).

Opening a trained project, the window calls :func:`saved_reports` on ``project.history`` and redraws every tab
from what it returns: the epoch curves from ``rows``, the step-level loss from ``step_loss``, the confusion matrix
and per-class table from ``last_epoch``, the weight and gradient histograms from ``layers``, the activations from
``activations``, and the health tints from ``layers`` and ``activations`` (the same LayerReport and
ActivationReport a live run hands over). What cannot be redrawn is in ``missing``, with one plain line saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudio.core.training.history import (
    ACTIVATION_KEYS,
    LAYER_KEYS,
    MAX_BINS,
    MAX_LAYERS,
    history_problem,
)
from nnstudio.core.training.reports import (
    ActivationReport,
    ActivationStats,
    EpochReport,
    LayerReport,
    LayerStats,
)

# What ``missing`` may name: the parts of the dashboard a history redraws.
PARTS = ("epochs", "step_loss", "confusion", "layers", "activations")
_OLDER = "it was trained by an older NN Studio, which did not keep it: train again to see it"


@dataclass
class StepLoss:
    steps: np.ndarray  # int64 step numbers, increasing
    epochs: np.ndarray  # float64 epoch position of each step (the x of the loss plot)
    losses: np.ndarray  # float64


@dataclass
class SavedReports:
    task: str | None = None
    classes: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the epoch rows, as the history holds them
    step_loss: StepLoss | None = None
    # The last epoch's row, with the confusion matrix and per-class figures of the weights kept.
    last_epoch: EpochReport | None = None
    layers: LayerReport | None = None
    activations: ActivationReport | None = None
    missing: dict[str, str] = field(default_factory=dict)  # part (PARTS) -> why it cannot be redrawn


def saved_reports(history: Any) -> SavedReports:
    """The reports ``history`` (a project's saved history) holds; never raises. A history that does not have
    the checked shape gives nothing, each part saying why."""
    problem = history_problem(history) if history is not None else "the project has not been trained"
    if problem:
        why = problem if history is None else f"the training history cannot be read ({problem})"
        return SavedReports(missing={part: why for part in PARTS})
    out = SavedReports(task=history.get("task"), classes=list(history.get("classes", [])))
    out.rows = [dict(r) for r in history.get("epochs", [])]
    if not out.rows:
        out.missing["epochs"] = "no epoch finished"
    points = history.get("step_loss")
    if points:
        out.step_loss = StepLoss(np.array([p[0] for p in points], dtype=np.int64),
                                 np.array([p[1] for p in points], dtype=np.float64),
                                 np.array([p[2] for p in points], dtype=np.float64))
    else:
        out.missing["step_loss"] = f"the step-level loss is not saved: {_OLDER}" if "step_loss" not in history \
            else "no step finished"
    confusion = history.get("confusion")
    if out.rows:
        last = out.rows[-1]
        epoch = int(last.get("epoch", len(out.rows)))
        out.last_epoch = EpochReport(epoch, epoch, dict(last), confusion, history.get("per_class"))
    if confusion is None:
        out.missing["confusion"] = _no_confusion(history)
    out.layers = _layer_report(history.get("layers"))
    if out.layers is None:
        out.missing["layers"] = f"the layer statistics are not saved: {_OLDER}"
    out.activations = _activation_report(history.get("activations"))
    if out.activations is None:
        out.missing["activations"] = f"the activations are not saved: {_OLDER}"
    return out


def _no_confusion(history: dict[str, Any]) -> str:
    if history.get("task") == "regression":
        return "a regression has no confusion matrix"
    if "task" not in history:
        return f"the confusion matrix is not saved: {_OLDER}"
    return "no confusion matrix was kept: the run had no validation data, or too many classes"


def _layer_report(value: Any) -> LayerReport | None:
    if not value:
        return None
    layers = {}
    for node_id, s in value["layers"].items():
        layers[node_id] = LayerStats(_array(s["weight_hist"]), _array(s["weight_edges"]), _array(s["grad_hist"]),
                                     _array(s["grad_edges"]), float(s["weight_norm"]), float(s["grad_norm"]),
                                     float(s["update_ratio"]))
    return LayerReport(int(value["step"]), layers)


def _activation_report(value: Any) -> ActivationReport | None:
    if not value:
        return None
    layers = {}
    for node_id, s in value["layers"].items():
        dead = s["dead_fraction"]
        layers[node_id] = ActivationStats(_array(s["hist"]), _array(s["edges"]), float(s["mean"]), float(s["std"]),
                                          None if dead is None else float(dead))
    return ActivationReport(int(value["step"]), layers)


def _array(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


# -- reports as JSON ----------------------------------------------------------------------------------------------
def layers_json(report: LayerReport | None) -> dict[str, Any] | None:
    """``report`` as the history's ``layers`` object (its first MAX_LAYERS layers), or None."""
    if report is None:
        return None
    layers = {}
    for node_id, s in list(report.layers.items())[:MAX_LAYERS]:
        if len(s.weight_hist) > MAX_BINS or len(s.grad_hist) > MAX_BINS:
            continue
        layers[node_id] = dict(zip(LAYER_KEYS, (_list(s.weight_hist), _list(s.weight_edges), _list(s.grad_hist),
                                                _list(s.grad_edges), float(s.weight_norm), float(s.grad_norm),
                                                float(s.update_ratio))))
    return {"step": int(report.step), "layers": layers}


def activations_json(report: ActivationReport | None) -> dict[str, Any] | None:
    """``report`` as the history's ``activations`` object (no feature maps; its first MAX_LAYERS layers)."""
    if report is None:
        return None
    layers = {}
    for node_id, s in list(report.layers.items())[:MAX_LAYERS]:
        if len(s.hist) > MAX_BINS:
            continue
        dead = None if s.dead_fraction is None else float(s.dead_fraction)
        layers[node_id] = dict(zip(ACTIVATION_KEYS, (_list(s.hist), _list(s.edges), float(s.mean), float(s.std),
                                                     dead)))
    return {"step": int(report.step), "layers": layers}


def _list(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
