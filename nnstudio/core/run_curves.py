"""The curves of several runs side by side (issue 15): what the dashboard's comparison plot draws of each run.

A run (``nnstudio.core.runs``) keeps one row per finished epoch. Comparing runs draws, per run, its loss (the
validation loss, and the training loss) and one metric over the epochs, each run in its own colour with a legend
naming it. A run continued or branched from another (``run["parent"] == {"run": id, "epoch": n}``) numbers its
epochs from n + 1; its curve starts at its parent's value at epoch n, so the branch is drawn from where it left.

Everything here reads run dicts defensively: a file's runs are checked when it is opened, but these functions
never raise on a missing or odd field -- a value they cannot use is simply not drawn. No Qt here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from nnstudio.core.text import one_line

MAX_COMPARED = 20  # runs drawn at once (the first ones handed over); the plot says how many were left out
MAX_LEGEND = 60  # characters of one legend line
ELLIPSIS = "\u2026"
# The one metric compared, the first of these that some run has (classification first, then regression).
COMPARE_METRICS = ("val_accuracy", "val_mse", "val_r2", "val_mae", "train_accuracy")
LOSS_KEYS = ("val_loss", "train_loss")


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None: bools, strings, NaN, infinities and ints too large for a float are
    not numbers to draw."""
    if type(value) is float:  # the common case, fast (a comparison draws thousands)
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) else None


def epoch_rows(run: Any) -> list[dict[str, Any]]:
    """The run's epoch rows that are dicts (an empty list for a run without a usable ``epochs`` list)."""
    rows = run.get("epochs") if isinstance(run, dict) else None
    if not isinstance(rows, list):
        return []
    return [row for row in rows if isinstance(row, dict)]


def _own_points(run: Any, key: str) -> list[tuple[float, float]]:
    points = []
    for row in epoch_rows(run):
        epoch, value = number(row.get("epoch")), number(row.get(key))
        if epoch is not None and value is not None:
            points.append((epoch, value))
    points.sort(key=lambda p: p[0])  # stable: rows of one epoch (a hand-made file) keep their order
    return points


def parent_of(run: Any) -> tuple[str, float] | None:
    """``(parent id, epoch)`` of a continued / branched run, or None (no parent, or one that cannot be read)."""
    parent = run.get("parent") if isinstance(run, dict) else None
    if not isinstance(parent, dict):
        return None
    pid, epoch = parent.get("run"), number(parent.get("epoch"))
    if not isinstance(pid, str) or epoch is None:
        return None
    return pid, epoch


def branch_point(run: Any, key: str, runs_by_id: dict[str, Any] | None) -> tuple[float, float] | None:
    """The parent's ``(epoch, value of key)`` where ``run`` left it, or None when the run has no parent, the
    parent is not in ``runs_by_id`` or has no finite value of ``key`` at that epoch."""
    found = parent_of(run)
    if found is None or not isinstance(runs_by_id, dict):
        return None
    pid, epoch = found
    parent = runs_by_id.get(pid)
    if parent is None or parent is run:
        return None
    for row in epoch_rows(parent):
        if number(row.get("epoch")) == epoch:
            value = number(row.get(key))
            if value is not None:
                return epoch, value
    return None


def curve(run: Any, key: str, runs_by_id: dict[str, Any] | None = None) -> tuple[list[float], list[float]]:
    """The (epochs, values) of ``key`` in the run's epoch rows, in epoch order: finite real numbers only, rows
    without the key skipped. A branched run whose parent is in ``runs_by_id`` starts with the parent's point
    at the epoch it left (when the run has points of its own after it): the branch is drawn from there."""
    points = _own_points(run, key)
    if points:
        start = branch_point(run, key, runs_by_id)
        if start is not None and start[0] < points[0][0]:
            points.insert(0, start)
    return [p[0] for p in points], [p[1] for p in points]


def by_id(runs: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The runs that have a string id, by id (the first of a repeated id wins)."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs or ():
        if isinstance(run, dict) and isinstance(run.get("id"), str):
            out.setdefault(run["id"], run)
    return out


def has_key(run: Any, key: str) -> bool:
    """Some epoch row of the run has a finite value of ``key`` (and an epoch number to draw it at)."""
    return any(number(row.get(key)) is not None and number(row.get("epoch")) is not None for row in epoch_rows(run))


def compare_metric(runs: Iterable[Any]) -> str | None:
    """The one metric to compare: the first of COMPARE_METRICS that any of the runs has a value of in some epoch
    row; None when none has any."""
    runs = list(runs or ())
    for key in COMPARE_METRICS:
        if any(has_key(run, key) for run in runs):
            return key
    return None


def loss_keys(runs: Iterable[Any]) -> list[str]:
    """"val_loss" and / or "train_loss" (in that order): those some run has a value of."""
    runs = list(runs or ())
    return [key for key in LOSS_KEYS if any(has_key(run, key) for run in runs)]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def _epoch_text(epoch: float) -> str:
    return str(int(epoch)) if epoch.is_integer() and abs(epoch) < 1e15 else f"{epoch:g}"


def legend_name(run: Any) -> str:
    """The run's name on one line of at most MAX_LEGEND characters (cut with an ellipsis); a branched run's
    adds " (from <parent id> at epoch <n>)", and it is the name that is cut, never that suffix (unless the
    suffix alone is too long, which only a hand-made file gives)."""
    if not isinstance(run, dict):
        return "?"
    name = run.get("name")
    if not isinstance(name, str) or not name.strip():
        name = run.get("id") if isinstance(run.get("id"), str) else "?"
    name = " ".join(one_line(name).split()) or "?"
    found = parent_of(run)
    if found is None:
        return _cut(name, MAX_LEGEND)
    pid, epoch = found
    suffix = f" (from {' '.join(one_line(pid, 30).split())} at epoch {_epoch_text(epoch)})"
    room = MAX_LEGEND - len(suffix)
    if room < 8:  # an absurd parent: cut the whole line
        return _cut(name + suffix, MAX_LEGEND)
    return _cut(name, room) + suffix


def run_id(run: Any, index: int) -> str:
    """The run's id for messages (its position when it has none)."""
    rid = run.get("id") if isinstance(run, dict) else None
    return one_line(rid, 40) if isinstance(rid, str) else f"run #{index + 1}"


__all__ = ["COMPARE_METRICS", "LOSS_KEYS", "MAX_COMPARED", "MAX_LEGEND", "branch_point", "by_id", "compare_metric",
           "curve", "epoch_rows", "has_key", "legend_name", "loss_keys", "number", "parent_of", "run_id"]
