"""The shape of a training history: what the engine writes (``TrainResult.history``), what a project saves as
``history.json``, and what the dashboard, the plots and the CSV export read back.

    {
      "epochs": [                       one object per finished epoch, in order
        {"epoch": 1,                    whole number >= 1
         "train_loss": 0.69,            every other value a number (NaN and +-Infinity allowed: a run may
         "lr": 0.001,                   diverge); names are metric names: train_loss, train_accuracy, lr,
         "val_loss": 0.71, ...,         time_s, val_<metric> ...
         "time_s": 0.4}
      ],
      "best_epoch": 1,                  whole number >= 1, or null when no epoch finished
      "stop_reason": "completed",       a string: completed, stopped, early_stopping
      "final": {"val_loss": 0.7, ...},  numbers by name: the validation values of the weights kept
      "device": "cpu",                  a string
      "steps": 30,                      whole number >= 0: over every run the history holds
      "config": {...},                  the training settings of the last run (an object)
      "task": "multiclass",             multiclass, binary or regression
      "classes": ["a", "b", "c"],       class names (at most MAX_CLASSES, each at most MAX_NAME characters)
      "step_loss": [[1, 0.01, 1.09],    the loss of every step, as [step, epoch position, loss], downsampled
                    ...],               to at most MAX_STEP_POINTS (the lowest and highest loss of each bucket
                                        of consecutive steps); the epoch position of a step is the epochs done
                                        when it finished (2.5: halfway through the third epoch)
      "confusion": [[9, 1], [0, 10]],   of the weights kept on the validation data (rows: true class); at most
      "per_class": [{"precision": ..., "recall": ..., "f1": ..., "support": ...}, ...]   MAX_CONFUSION classes
      "layers": {"step": 60, "layers": {"dense_1": {"weight_hist": [...], "weight_edges": [...],
                 "grad_hist": [...], "grad_edges": [...], "weight_norm": 2.1, "grad_norm": 0.03,
                 "update_ratio": 0.001}, ...}},   the last layer statistics (telemetry.LayerReport)
      "activations": {"step": 60, "layers": {"dense_1": {"hist": [...], "edges": [...], "mean": 0.4,
                      "std": 0.6, "dead_fraction": 0.1 or null}, ...}}   the last probe (ActivationReport,
                                        without feature maps); histograms have at most MAX_BINS bins (edges:
                                        one more), at most MAX_LAYERS layers
    }

Every key is optional. Other keys are kept as they are, except that a list under any other key is read as the
older per-metric form (``{"epoch": [1, 2], "loss": [0.7, 0.4]}``, one value per epoch): numbers or nulls, all
such lists of the same length. :func:`history_problem` says what is wrong with a history, or None.
``training.saved_reports.saved_reports`` turns a history back into the report objects the dashboard draws.
"""

from __future__ import annotations

import math
from typing import Any

from nnstudio.core.text import kind as _kind
from nnstudio.core.text import short as _short
from nnstudio.core.training.config import PARAMS

# A history keeps at most this many epoch rows (a run has at most this many epochs; a history continued past it
# keeps the latest rows).
MAX_EPOCHS = next(p.maximum for p in PARAMS if p.name == "epochs")
MAX_NAME = 200  # characters in a metric, class or layer name
MAX_STEP_POINTS = 2000  # [step, epoch, loss] points of the step-level loss
MAX_CLASSES = 10_000  # class names kept (a run with more keeps none)
MAX_CONFUSION = 200  # classes of a kept confusion matrix and per-class figures (a run with more keeps none)
MAX_LAYERS = 500  # layers of the kept layer statistics and activations (the first ones in the network)
MAX_BINS = 100  # bins of a kept histogram (telemetry measures 40)
TASKS = ("multiclass", "binary", "regression")

_KNOWN = ("epochs", "best_epoch", "stop_reason", "final", "device", "steps", "config", "task", "classes",
          "step_loss", "confusion", "per_class", "layers", "activations", "storage", "normalize")
MAX_CHANNELS = 1024  # numbers in each list of a run's normalize figures
LAYER_KEYS = ("weight_hist", "weight_edges", "grad_hist", "grad_edges", "weight_norm", "grad_norm", "update_ratio")
ACTIVATION_KEYS = ("hist", "edges", "mean", "std", "dead_fraction")


def history_problem(history: Any) -> str | None:
    """Why ``history`` cannot be shown as a training history (naming the field, e.g.
    ``epochs[3].val_loss: must be a number, not the string 'x'``), or None when it has the shape above."""
    if not isinstance(history, dict):
        return f"must be an object, not {_kind(history)}"
    for key in history:
        if not isinstance(key, str) or not _text_ok(key):
            return f"{_short(key)} cannot be the name of a history field"
    epochs = history.get("epochs", [])
    if not isinstance(epochs, list):
        return f"epochs: must be a list of epoch rows, not {_kind(epochs)}"
    if len(epochs) > MAX_EPOCHS:
        return f"epochs: has {len(epochs):,} rows; a run has at most {MAX_EPOCHS:,} epochs"
    for i, row in enumerate(epochs):
        problem = _row_problem(row)
        if problem:
            return f"epochs[{i}]{problem}"
    if "best_epoch" in history and history["best_epoch"] is not None and not _whole(history["best_epoch"], 1):
        return f"best_epoch: must be a whole number >= 1 or null, not {_kind(history['best_epoch'])}"
    if "steps" in history and not _whole(history["steps"], 0):
        return f"steps: must be a whole number >= 0, not {_kind(history['steps'])}"
    for key in ("stop_reason", "device"):
        if key in history and not (isinstance(history[key], str) and _text_ok(history[key])):
            return f"{key}: must be a string, not {_kind(history[key])}"
    if "final" in history:
        problem = _values_problem(history["final"])
        if problem:
            return f"final{problem}"
    if "config" in history and not isinstance(history["config"], dict):
        return f"config: must be an object, not {_kind(history['config'])}"
    for key, check in _CHECKS.items():
        if key in history:
            problem = check(history[key])
            if problem:
                return f"{key}{problem}"
    return _columns_problem({k: v for k, v in history.items() if k not in _KNOWN and isinstance(v, list)})


# -- the keys that redraw the dashboard (each check returns a field suffix and message, or None) ----------------
def _task_problem(value: Any) -> str | None:
    return None if value in TASKS else f": must be one of {', '.join(TASKS)}, not {_kind(value)}"


def _classes_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f": must be a list of class names, not {_kind(value)}"
    if len(value) > MAX_CLASSES:
        return f": has {len(value):,} names; a history keeps at most {MAX_CLASSES:,}"
    for i, name in enumerate(value):
        if not _name_ok(name):
            return f"[{i}]: must be a string of at most {MAX_NAME} characters, not {_kind(name)}"
    return None


def _step_loss_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f": must be a list of [step, epoch, loss] points, not {_kind(value)}"
    if len(value) > MAX_STEP_POINTS:
        return f": has {len(value):,} points; a history keeps at most {MAX_STEP_POINTS:,}"
    last = 0
    for i, point in enumerate(value):
        if not (isinstance(point, list) and len(point) == 3 and _whole(point[0], 1)
                and all(_number(v) and math.isfinite(v) for v in point[1:]) and point[1] >= 0):
            return f"[{i}]: must be [step, epoch, loss]: a whole number >= 1 and two finite numbers, not " \
                   f"{_short(point)}"
        if point[0] <= last:
            return f"[{i}]: step {point[0]} does not come after step {last}"
        last = point[0]
    return None


def _confusion_problem(value: Any) -> str | None:
    if not (isinstance(value, list) and all(isinstance(row, list) for row in value)):
        return f": must be a list of rows of counts, not {_kind(value)}"
    if len(value) > MAX_CONFUSION:
        return f": has {len(value):,} classes; a history keeps at most {MAX_CONFUSION}"
    for i, row in enumerate(value):
        if len(row) != len(value):
            return f"[{i}]: has {len(row)} counts; a matrix of {len(value)} classes has {len(value)} in each row"
        for j, count in enumerate(row):
            if not _whole(count, 0):
                return f"[{i}][{j}]: must be a whole number >= 0, not {_kind(count)}"
    return None


def _per_class_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f": must be a list of objects of numbers, not {_kind(value)}"
    if len(value) > MAX_CONFUSION:
        return f": has {len(value):,} classes; a history keeps at most {MAX_CONFUSION}"
    for i, row in enumerate(value):
        problem = _values_problem(row)
        if problem:
            return f"[{i}]{problem}"
    return None


def _report_problem(value: Any, keys: tuple[str, ...], hists: tuple[str, ...]) -> str | None:
    """A saved LayerReport or ActivationReport: {"step": n, "layers": {node id: {key: ...}}}."""
    if not isinstance(value, dict) or set(value) != {"step", "layers"}:
        return f": must be an object with step and layers, not {_kind(value)}"
    if not _whole(value["step"], 0):
        return f".step: must be a whole number >= 0, not {_kind(value['step'])}"
    layers = value["layers"]
    if not isinstance(layers, dict):
        return f".layers: must be an object by layer, not {_kind(layers)}"
    if len(layers) > MAX_LAYERS:
        return f".layers: has {len(layers):,} layers; a history keeps at most {MAX_LAYERS}"
    for node_id, stats in layers.items():
        where = f".layers.{_short(node_id)}"
        if not _name_ok(node_id):
            return f".layers: {_short(node_id)} cannot be the name of a layer"
        if not isinstance(stats, dict) or set(stats) != set(keys):
            return f"{where}: must be an object of {', '.join(keys)}"
        lists = {name for hist in hists for name in (hist, _edges(hist))}
        for key in keys:
            item = stats[key]
            if key in lists:
                if not (isinstance(item, list) and all(_number(v) for v in item)):
                    return f"{where}.{key}: must be a list of numbers, not {_kind(item)}"
            elif not (_number(item) or (key == "dead_fraction" and item is None)):
                return f"{where}.{key}: must be a number, not {_kind(item)}"
        for hist in hists:
            edges = stats[_edges(hist)]
            if len(stats[hist]) > MAX_BINS or len(edges) != len(stats[hist]) + 1:
                return (f"{where}.{hist}: must have at most {MAX_BINS} counts and its edges one more, not "
                        f"{len(stats[hist])} and {len(edges)}")
    return None


def _edges(hist: str) -> str:
    return hist[:-len("hist")] + "edges"  # weight_hist -> weight_edges, hist -> edges


_CHECKS = {
    "task": _task_problem,
    "classes": _classes_problem,
    "step_loss": _step_loss_problem,
    "confusion": _confusion_problem,
    "per_class": _per_class_problem,
    "layers": lambda v: _report_problem(v, LAYER_KEYS, ("weight_hist", "grad_hist")),
    "activations": lambda v: _report_problem(v, ACTIVATION_KEYS, ("hist",)),
    "storage": lambda v: None if v in ("stream", "memory") else f": must be stream or memory, not {_kind(v)}",
    "normalize": lambda v: _normalize_problem(v),
}


def _normalize_problem(value: Any) -> str | None:
    """``{"mean": [...], "std": [...]}``: as many finite numbers in each (1 .. MAX_CHANNELS), deviations > 0."""
    if not isinstance(value, dict) or set(value) != {"mean", "std"}:
        return ": must be an object with the lists mean and std"
    mean, std = value["mean"], value["std"]
    for key, numbers in (("mean", mean), ("std", std)):
        if not (isinstance(numbers, list) and 1 <= len(numbers) <= MAX_CHANNELS
                and all(_number(v) and math.isfinite(v) for v in numbers)):
            return f".{key}: must be a list of 1 to {MAX_CHANNELS:,} finite numbers"
    if len(mean) != len(std):
        return ": mean and std must have one number per channel each"
    if not all(v > 0 for v in std):
        return ".std: every deviation must be above 0"
    return None


def _name_ok(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME and _text_ok(name)


# -- building and continuing a history ---------------------------------------------------------------------------
def downsample(points: list[list[float]], limit: int = MAX_STEP_POINTS) -> list[list[float]]:
    """At most ``limit`` of ``points`` ([step, epoch, loss], in step order): the steps they span are cut into
    ``limit // 2`` buckets of equal width, and each bucket keeps its points with the lowest and the highest loss
    (one when they are the same), so the curve keeps its shape, spikes included. Fewer points come back
    unchanged."""
    if len(points) <= limit:
        return list(points)
    first = points[0][0]
    width = -(-(points[-1][0] - first + 1) // max(limit // 2, 1))
    trace = _Buckets(width, first)
    for point in points:
        trace.add(point)
    return trace.points()


class _Buckets:
    """The lowest and the highest point of each bucket of ``width`` consecutive steps from ``origin``."""

    def __init__(self, width: int, origin: int) -> None:
        self.width, self.origin = width, origin
        self.buckets: dict[int, list[list[float]]] = {}  # in step order: points arrive in step order

    def add(self, point: list[float]) -> None:
        key = (point[0] - self.origin) // self.width
        entry = self.buckets.get(key)
        if entry is None:
            self.buckets[key] = [point, point]
        else:
            if point[2] < entry[0][2]:
                entry[0] = point
            if point[2] > entry[1][2]:
                entry[1] = point

    def widen(self) -> None:
        """Twice the width: neighbouring buckets merge."""
        merged: dict[int, list[list[float]]] = {}
        for key, (low, high) in self.buckets.items():
            entry = merged.get(key // 2)
            if entry is None:
                merged[key // 2] = [low, high]
            else:
                entry[0] = low if low[2] < entry[0][2] else entry[0]
                entry[1] = high if high[2] > entry[1][2] else entry[1]
        self.buckets, self.width = merged, self.width * 2

    def points(self) -> list[list[float]]:
        out = []
        for low, high in self.buckets.values():
            out.extend([low] if low is high or low[0] == high[0] else sorted((low, high), key=lambda p: p[0]))
        return out


class StepLossTrace:
    """The step-level loss of a run in bounded memory (at most ``limit`` points, and the same as
    :func:`downsample` keeps): buckets of consecutive steps, each keeping its lowest and highest loss, whose width
    doubles whenever there would be more than ``limit // 2`` of them."""

    def __init__(self, limit: int = MAX_STEP_POINTS) -> None:
        self.limit = limit
        self._buckets: _Buckets | None = None

    def add(self, step: int, epoch: float, loss: float) -> None:
        point = [int(step), float(epoch), float(loss)]
        if self._buckets is None:
            self._buckets = _Buckets(1, point[0])
        self._buckets.add(point)
        if len(self._buckets.buckets) > max(self.limit // 2, 1):
            self._buckets.widen()

    def points(self) -> list[list[float]]:
        return [] if self._buckets is None else self._buckets.points()


def continue_history(previous: Any, new: dict[str, Any], epoch: int, step: int) -> dict[str, Any]:
    """The history of a run that continued from ``epoch`` / ``step`` of ``previous``: the earlier rows and
    step-level points up to there (later ones belong to weights that were not kept) followed by the new run's;
    every other key is the new run's. At most MAX_EPOCHS rows (the latest) and MAX_STEP_POINTS points are
    kept. A previous history that has not the shape above (or the older per-metric form) adds nothing."""
    old = previous if isinstance(previous, dict) and history_problem(previous) is None else {}
    rows = [r for r in old.get("epochs", []) if isinstance(r.get("epoch"), int) and r["epoch"] <= epoch]
    points = [p for p in old.get("step_loss", []) if p[0] <= step]
    merged = dict(new)
    merged["epochs"] = (rows + list(new.get("epochs", [])))[-MAX_EPOCHS:]
    merged["step_loss"] = downsample(points + list(new.get("step_loss", [])))
    return merged


def _row_problem(row: Any) -> str | None:
    if isinstance(row, dict) and "epoch" in row and not _whole(row["epoch"], 1):
        return f".epoch: must be a whole number >= 1, not {_kind(row['epoch'])}"
    return _values_problem(row)


def _values_problem(values: Any) -> str | None:
    """Problems of an object of numbers by name (an epoch row, ``final``), as a field suffix and message."""
    if not isinstance(values, dict):
        return f": must be an object of numbers by name, not {_kind(values)}"
    for name, value in values.items():
        if not (isinstance(name, str) and name and len(name) <= MAX_NAME and _text_ok(name)):
            return f": {_short(name)} cannot be the name of a value"
        if not _number(value):
            return f".{name}: must be a number, not {_kind(value)}"
    return None


def _columns_problem(columns: dict[str, list]) -> str | None:
    """The older per-metric form: lists of numbers (or null) of one length."""
    length = None
    for name, values in columns.items():
        for i, value in enumerate(values):
            if value is not None and not _number(value):
                return f"{name}[{i}]: must be a number or null, not {_kind(value)}"
        if length is None:
            length, first = len(values), name
        elif len(values) != length:
            return f"{name}: has {len(values)} values but {first} has {length}: one value per epoch"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _text_ok(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates), as the CSV export and the plots do."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
