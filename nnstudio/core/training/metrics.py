"""Evaluation metrics for classification and regression, in pure torch (CPU or CUDA).

Every function returns Python floats, ints and (nested) lists, so results can go straight into JSON. The numbers
match scikit-learn's (``precision_recall_fscore_support(labels=range(k), zero_division=0)``, ``r2_score`` with
``multioutput="uniform_average"``) without depending on it. :class:`MetricAccumulator` gathers the same numbers
batch by batch in constant memory: a confusion matrix for classification, per-column running sums for regression.
"""

from __future__ import annotations

import math
from typing import Any

import torch

TASKS = ("multiclass", "binary", "regression")
_CLASSIFICATION = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "multiclass": _CLASSIFICATION,
    "binary": _CLASSIFICATION,
    "regression": ("mse", "mae", "r2"),
}
_LOWER_IS_BETTER = frozenset({"loss", "mse", "mae"})
_HIGHER_IS_BETTER = frozenset(_CLASSIFICATION) | {"r2", "precision", "recall", "f1"}


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the metric ``name`` is an improvement (for early stopping and best checkpoints).

    Loss, MSE and MAE are lower-is-better; accuracy, precision, recall, F1 and R² higher-is-better. A split prefix
    such as ``val_``, ``train_`` or ``test_`` (or ``val/``) is ignored. Unknown names raise ``ValueError``.
    """
    base = name.rsplit("/", 1)[-1]
    for prefix in ("train_", "val_", "valid_", "validation_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix):]
            break
    if base in _LOWER_IS_BETTER:
        return False
    if base in _HIGHER_IS_BETTER:
        return True
    raise ValueError(f"unknown metric {name!r}: expected loss or one of {sorted(_LOWER_IS_BETTER | _HIGHER_IS_BETTER)}")


def _task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: expected one of {TASKS}")
    return task


def predictions_from_scores(scores: torch.Tensor, task: str) -> torch.Tensor:
    """Turn a model's raw outputs into predictions.

    multiclass: the class with the highest score, ``argmax`` over the last axis (int64).
    binary: ``scores`` are logits of shape (N, 1) or (N,); the prediction is ``score > 0`` (that is, sigmoid > 0.5)
    as int64 of shape (N,). regression: the scores are the predictions and are returned unchanged.
    """
    task = _task(task)
    if task == "multiclass":
        return scores.argmax(dim=-1)
    if task == "binary":
        if scores.dim() == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        if scores.dim() != 1:
            raise ValueError(f"binary scores must have shape (N, 1) or (N,), got {tuple(scores.shape)}")
        return (scores > 0).long()
    return scores


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The (num_classes, num_classes) int64 confusion matrix C: ``C[i, j]`` counts samples of true class i that
    were predicted as class j. Computed with one ``bincount`` over ``i * num_classes + j`` on the inputs' device.
    Labels must be integers in ``[0, num_classes)``; (N, 1) inputs are flattened.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    t = y_true.detach().reshape(-1).long()
    p = y_pred.detach().reshape(-1).long().to(t.device)
    if t.numel() != p.numel():
        raise ValueError(f"y_true has {t.numel()} labels but y_pred has {p.numel()}")
    if t.numel():
        lo, hi = torch.stack([torch.minimum(t.min(), p.min()), torch.maximum(t.max(), p.max())]).tolist()
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), found values from {lo} to {hi}")
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def metrics_from_confusion(cm: torch.Tensor) -> dict[str, Any]:
    """Classification metrics from a confusion matrix (rows = true class, columns = predicted class).

    With TP, FP, FN, TN counted one class against the rest:
    accuracy = (TP+TN)/(TP+TN+FP+FN) for two classes, in general trace(C) / N (the fraction predicted right);
    precision = TP/(TP+FP), 0 when the class is never predicted;
    recall = TP/(TP+FN), 0 when the class never occurs;
    F1 = 2PR/(P+R) = 2TP/(2TP+FP+FN), 0 when P+R = 0.
    Macro averages are unweighted means over all classes, absent ones included (scikit-learn's
    ``labels=range(k), zero_division=0``). Without samples every metric is 0.
    """
    c = cm.detach().to(torch.float64)
    tp, true_n, pred_n = c.diagonal(), c.sum(dim=1), c.sum(dim=0)

    def divide(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))

    precision, recall, f1 = divide(tp, pred_n), divide(tp, true_n), divide(2 * tp, true_n + pred_n)
    total = float(c.sum())
    per_class = [{"precision": p, "recall": r, "f1": f, "support": int(s)}
                 for p, r, f, s in zip(precision.tolist(), recall.tolist(), f1.tolist(), true_n.tolist())]
    return {
        "accuracy": float(tp.sum()) / total if total else 0.0,
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "per_class": per_class,
        "confusion": cm.long().tolist(),
    }


def classification_metrics(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro precision / recall / F1, per-class scores and the confusion matrix of integer labels.
    See :func:`metrics_from_confusion` for the formulas."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes))


def _as_columns(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    t = y_true.detach().to(torch.float64)
    p = y_pred.detach().to(device=t.device, dtype=torch.float64)
    t, p = (x.reshape(len(x), math.prod(x.shape[1:])) if x.dim() else x.reshape(1, 1) for x in (t, p))
    if t.shape != p.shape:
        raise ValueError(f"y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)} do not match")
    return t, p


def _regression_result(n: int, sse: torch.Tensor, sae: torch.Tensor, ss_tot: torch.Tensor,
                       constant: torch.Tensor) -> dict[str, float]:
    """MSE = (1/n) sum (y - y^)^2 and MAE = (1/n) sum |y - y^|, over all n samples and all columns.
    R² = 1 - SS_res/SS_tot per column, SS_res = sum (y - y^)^2 and SS_tot = sum (y - mean y)^2, then averaged
    over the columns. A constant column (all its targets equal, a single sample included) has R² 1 when its
    predictions are exact, else 0. Both conditions are decided exactly -- min = max of the targets and
    sum |y - y^| = 0 -- not through a rounded SS_tot or an underflowing square (scikit-learn returns NaN for one
    sample, and a garbage value when a constant column's mean is inexact)."""
    if n == 0:
        return {"mse": 0.0, "mae": 0.0, "r2": 0.0}
    cols = sse.numel()
    degenerate = constant | (ss_tot <= 0)  # SS_tot can also underflow to 0 for tiny non-constant targets
    r2 = torch.where(degenerate, (sae == 0).to(torch.float64), 1 - sse / torch.where(degenerate, 1.0, ss_tot))
    return {"mse": float(sse.sum()) / (n * cols), "mae": float(sae.sum()) / (n * cols), "r2": float(r2.mean())}


def regression_metrics(y_true: torch.Tensor, y_pred: torch.Tensor) -> dict[str, float]:
    """MSE, MAE and R² (uniform average over output columns) of targets and predictions of shape (N,) or
    (N, D), computed in float64. See :func:`_regression_result` for the formulas."""
    t, p = _as_columns(y_true, y_pred)
    err = t - p
    ss_tot = ((t - t.mean(dim=0)) ** 2).sum(dim=0)
    constant = (t == t[:1]).all(dim=0)
    return _regression_result(t.shape[0], (err ** 2).sum(dim=0), err.abs().sum(dim=0), ss_tot, constant)


class MetricAccumulator:
    """Gathers metrics batch by batch in constant memory; :meth:`compute` gives the same numbers as
    :func:`classification_metrics` / :func:`regression_metrics` on the concatenated data.

    Classification keeps the confusion matrix only. Regression keeps, per output column: the sums of squared and
    absolute errors, the count, the running mean and sum of squared deviations of the targets (merged per batch
    with Chan's formula, a numerically stable form of sum y and sum y²), and the targets' min and max (to
    recognise a constant column exactly).
    """

    def __init__(self, task: str, num_classes: int | None = None) -> None:
        self.task = _task(task)
        if task == "binary":
            num_classes = 2 if num_classes is None else num_classes
            if num_classes != 2:
                raise ValueError(f"a binary task has 2 classes, not {num_classes}")
        elif task == "multiclass" and (num_classes is None or num_classes < 1):
            raise ValueError("a multiclass accumulator needs num_classes")
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._cm: torch.Tensor | None = None
        self._sums: dict[str, torch.Tensor] = {}

    def update(self, scores: torch.Tensor, y_true: torch.Tensor) -> None:
        """Add one batch: the model's raw ``scores`` and the targets ``y_true``."""
        with torch.no_grad():
            if self.task != "regression":
                cm = confusion_matrix(y_true, predictions_from_scores(scores.detach(), self.task), self.num_classes)
                self._cm = cm if self._cm is None else self._cm + cm.to(self._cm.device)
                self.count += int(y_true.numel())
                return
            t, p = _as_columns(y_true, scores)
            n_b = t.shape[0]
            if n_b == 0:
                return
            err = t - p
            mean_b = t.mean(dim=0)
            batch = {"sse": (err ** 2).sum(dim=0), "sae": err.abs().sum(dim=0), "mean": mean_b,
                     "m2": ((t - mean_b) ** 2).sum(dim=0), "min": t.min(dim=0).values, "max": t.max(dim=0).values}
            s, n_a = self._sums, self.count
            if not s:
                self._sums = batch
            else:
                if s["sse"].shape != batch["sse"].shape:
                    raise ValueError(f"batch has {t.shape[1]} target columns, earlier batches {s['sse'].numel()}")
                batch = {k: v.to(s["sse"].device) for k, v in batch.items()}
                n = n_a + n_b
                delta = batch["mean"] - s["mean"]
                s["m2"] = s["m2"] + batch["m2"] + delta ** 2 * (n_a * n_b / n)
                s["mean"] = s["mean"] + delta * (n_b / n)
                s["sse"], s["sae"] = s["sse"] + batch["sse"], s["sae"] + batch["sae"]
                s["min"], s["max"] = torch.minimum(s["min"], batch["min"]), torch.maximum(s["max"], batch["max"])
            self.count = n_a + n_b

    def compute(self) -> dict[str, Any]:
        """The metrics of everything added since construction or :meth:`reset`."""
        if self.task != "regression":
            cm = self._cm if self._cm is not None else torch.zeros(self.num_classes, self.num_classes,
                                                                    dtype=torch.long)
            return metrics_from_confusion(cm)
        s = self._sums
        if not s:
            return _regression_result(0, torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=bool))
        return _regression_result(self.count, s["sse"], s["sae"], s["m2"], s["min"] == s["max"])
