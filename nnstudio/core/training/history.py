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
      "steps": 30,                      whole number >= 0
      "config": {...}                   the training settings of that run (an object)
    }

Every key is optional. Other keys are kept as they are, except that a list under any other key is read as the
older per-metric form (``{"epoch": [1, 2], "loss": [0.7, 0.4]}``, one value per epoch): numbers or nulls, all
such lists of the same length. :func:`history_problem` says what is wrong with a history, or None.
"""

from __future__ import annotations

from typing import Any

from nnstudio.core.text import kind as _kind
from nnstudio.core.text import short as _short
from nnstudio.core.training.config import PARAMS

# A history has at most one row per epoch of one run.
MAX_EPOCHS = next(p.maximum for p in PARAMS if p.name == "epochs")
MAX_NAME = 200  # characters in a metric name

_KNOWN = ("epochs", "best_epoch", "stop_reason", "final", "device", "steps", "config")


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
    return _columns_problem({k: v for k, v in history.items() if k not in _KNOWN and isinstance(v, list)})


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
