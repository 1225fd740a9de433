"""Every training run a project keeps (issue 15): what each run trained, with what, and how it went.

``Project.runs`` is a list of JSON-safe run dicts, newest last; ``Project.run_weights`` maps a run id to the
state dict of the runs whose weights are kept (the pinned runs and the latest one; the latest run's weights
are the project's own ``weights``, the same dict, never a copy). The file keeps them as ``runs.json`` and
``runs/<id>.safetensors`` (docs/file-format.md). A run:

    {"id": "run-3", "name": "Run 3", "started": "2026-12-01T23:40:12Z" or null, "duration_s": 12.5 or null,
     "device": "cpu" or null, "settings": {...TrainConfig dict...}, "dataset": {...} or null,
     "fingerprint": "<64 hex>" or null, "graph": {...Graph.to_dict()...}, "epochs": [...], "step_loss": [...],
     "task": "multiclass" or null, "classes": [...], "confusion": [[...]] or null, "final": {...},
     "best_epoch": 3 or null, "stop_reason": "completed", "pinned": false, "weights": true,
     "parent": null or {"run": "run-2", "epoch": 20}, "sweep": null or "sweep-1"}

Bounds: at most MAX_RUNS runs (recording one more drops the oldest unpinned run, and says so), at most
MAX_PINNED pinned, and runs.json at most MAX_RUNS_BYTES bytes and MAX_RUNS_ITEMS JSON items (recording drops
the oldest runs until it fits). :func:`runs_problem` checks all of it for a file that is opened.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from nnstudio.core.errors import NNStudioError
from nnstudio.core.text import kind as _kind
from nnstudio.core.text import one_line
from nnstudio.core.text import short as _short
from nnstudio.core.training.history import history_problem

MAX_RUNS = 200
MAX_PINNED = 20
MAX_RUNS_BYTES = 64 * 1024**2  # runs.json as saved (compact JSON)
MAX_RUNS_ITEMS = 5_000_000  # its , : [ { bytes, counted before parsing (as project.json's items)
MAX_RUN_NAME = 200  # characters
RUN_ID = re.compile(r"run-[1-9][0-9]{0,8}")
SWEEP_ID = re.compile(r"sweep-[1-9][0-9]{0,8}")
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
KEYS = ("id", "name", "started", "duration_s", "device", "settings", "dataset", "fingerprint", "graph", "epochs",
        "step_loss", "task", "classes", "confusion", "final", "best_epoch", "stop_reason", "pinned", "weights",
        "parent", "sweep")
_HISTORY_KEYS = ("epochs", "step_loss", "task", "classes", "confusion", "final", "best_epoch", "stop_reason")


class RunError(NNStudioError):
    """A request about runs that cannot be done (an unknown run id, too many pinned runs, an empty name)."""


# -- recording ----------------------------------------------------------------------------------------------------
def record_run(project: Any, result: Any, config: Any, started: Any, device: Any, *, duration_s: float | None = None,
               graph: dict[str, Any] | None = None, dataset: Any = None, parent: dict[str, Any] | None = None,
               notes: list[str] | None = None) -> dict[str, Any]:
    """Append the run that gave ``result`` (a TrainResult) to ``project.runs`` and apply the bounds; return it.

    ``config``: its TrainConfig (or the settings dict); ``started``: when it began (a datetime, an ISO string
    or None); ``device``: where it trained. ``graph`` / ``dataset``: what trained (default: the project's
    now); ``parent``: ``{"run": id, "epoch": n}`` for a continued run. Call it after the project's ``weights``
    are the result's: the new run's kept weights are that same dict. Each run the bounds drop adds a line to
    ``notes``."""
    notes = notes if notes is not None else []
    runs: list[dict[str, Any]] = project.runs
    history = result.history if isinstance(getattr(result, "history", None), dict) else {}
    number = max(int(getattr(project, "runs_next_id", 1) or 1), 1 + max((_number(r["id"]) for r in runs),
                                                                        default=0))
    settings = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    if graph is None:
        graph = project.graph.to_dict()
    run = {
        "id": f"run-{number}", "name": f"Run {number}", "started": _iso(started),
        "duration_s": _duration(duration_s, started), "device": None if device is None else one_line(str(device), 100),
        "settings": settings, "dataset": project.dataset if dataset is None else dataset,
        "fingerprint": getattr(result, "fingerprint", None), "graph": graph,
        "epochs": list(history.get("epochs", [])), "step_loss": list(history.get("step_loss", [])),
        "task": history.get("task"), "classes": history.get("classes"), "confusion": history.get("confusion"),
        "final": dict(getattr(result, "final", None) or history.get("final") or {}),
        "best_epoch": getattr(result, "best_epoch", history.get("best_epoch")),
        "stop_reason": str(getattr(result, "stop_reason", history.get("stop_reason", "completed"))),
        "pinned": False, "weights": project.weights is not None, "parent": parent, "sweep": None,
    }
    runs.append(run)
    project.runs_next_id = number + 1
    for old in runs[:-1]:  # weights: only the pinned runs' and the latest one's
        if not old.get("pinned"):
            _forget_weights(project, old)
    if project.weights is not None:
        project.run_weights[run["id"]] = project.weights
    while len(runs) > MAX_RUNS:
        _drop_oldest(project, notes, f"a project keeps at most {MAX_RUNS} runs")
    while len(runs) > 1 and _size_over(runs_size(runs)):
        _drop_oldest(project, notes, f"the runs are kept within {MAX_RUNS_BYTES // 1024**2} MB")
    return run


def _drop_oldest(project: Any, notes: list[str], why: str) -> None:
    runs = project.runs
    victim = next((r for r in runs[:-1] if not r.get("pinned")), runs[0])
    runs.remove(victim)
    project.run_weights.pop(victim["id"], None)
    notes.append(f"{victim['id']} ({one_line(victim.get('name', ''), 60)}) was dropped: {why}")


def runs_size(runs: list[dict[str, Any]]) -> tuple[int, int]:
    """(bytes, JSON items) of ``runs`` as runs.json holds them. Compared as a pair: either over is too big."""
    text = encode_runs(runs, 0)
    return len(text), sum(text.count(c) for c in (b",", b":", b"[", b"{"))


def _size_over(size: tuple[int, int]) -> bool:
    return size[0] > MAX_RUNS_BYTES or size[1] > MAX_RUNS_ITEMS


def encode_runs(runs: list[dict[str, Any]], next_id: int) -> bytes:
    """runs.json: ``{"runs": [...], "next_id": N}`` as compact UTF-8 JSON (NaN allowed, as in history.json)."""
    data = {"runs": runs, "next_id": next_id}
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON escapes it
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _forget_weights(project: Any, run: dict[str, Any]) -> None:
    project.run_weights.pop(run["id"], None)
    run["weights"] = False


# -- editing --------------------------------------------------------------------------------------------------
def find(project: Any, run_id: str) -> dict[str, Any]:
    """The run ``run_id`` of the project; RunError naming it when there is none."""
    for run in project.runs:
        if run["id"] == run_id:
            return run
    known = ", ".join(r["id"] for r in project.runs[-5:]) or "none"
    raise RunError(f"there is no run {_short(run_id)} (the latest runs: {known})")


def drop_runs(project: Any, ids: Iterable[str]) -> list[str]:
    """Remove the runs ``ids`` (and their kept weights) from the project; every id must name a run (RunError
    otherwise, and nothing is removed). The project's own weights stay. Returns the ids removed."""
    ids = list(dict.fromkeys(ids))
    for run_id in ids:
        find(project, run_id)
    gone = set(ids)
    project.runs[:] = [r for r in project.runs if r["id"] not in gone]
    for run_id in ids:
        project.run_weights.pop(run_id, None)
    return ids


def pin(project: Any, run_id: str, on: bool = True) -> None:
    """Pin a run (its weights and the run itself are kept when newer runs come) or unpin it (an unpinned run
    other than the latest loses its kept weights). At most MAX_PINNED runs are pinned."""
    run = find(project, run_id)
    if on and not run.get("pinned") and sum(bool(r.get("pinned")) for r in project.runs) >= MAX_PINNED:
        raise RunError(f"at most {MAX_PINNED} runs can be pinned: unpin one first")
    run["pinned"] = bool(on)
    if not on and project.runs and run is not project.runs[-1]:
        _forget_weights(project, run)


def rename(project: Any, run_id: str, name: str) -> None:
    """Give a run another name (one line, at most MAX_RUN_NAME characters, not empty)."""
    run = find(project, run_id)
    text = one_line(str(name)).strip()
    if not text:
        raise RunError(f"{run_id}: a run's name cannot be empty")
    if len(text) > MAX_RUN_NAME:
        raise RunError(f"{run_id}: a run's name has at most {MAX_RUN_NAME} characters, not {len(text):,}")
    run["name"] = text


# -- reading ------------------------------------------------------------------------------------------------
def runs_table(project: Any, current: str | None = None) -> list[dict[str, Any]]:
    """One flat row per run, oldest first: id, name, started, duration_s, device, optimizer, lr, batch_size,
    epochs (the epochs it trained), best_val_accuracy (classification) and best_val_loss (best over its
    epochs, None without validation), stop_reason, pinned, weights, parent (the run id), sweep,
    graph_changed (its fingerprint is not the project graph's now; None when unknown) and differs (the
    settings that differ from the previous run's, sorted)."""
    from nnstudio.core.fingerprint import fingerprint

    if current is None:  # the window's session has it already (``current``): a large graph is not hashed twice
        try:
            current = fingerprint(project.graph)
        except Exception:  # noqa: BLE001 - a graph whose parameters cannot be filled in: nothing is known
            current = None
    rows, previous = [], None
    for run in project.runs:
        settings = run.get("settings") if isinstance(run.get("settings"), dict) else {}
        rows.append({
            "id": run["id"], "name": run.get("name", ""), "started": run.get("started"),
            "duration_s": run.get("duration_s"), "device": run.get("device"),
            "optimizer": settings.get("optimizer"), "lr": settings.get("lr"), "batch_size": settings.get("batch_size"),
            "epochs": len(run.get("epochs") or []),
            "best_val_accuracy": _best(run, "val_accuracy", max), "best_val_loss": _best(run, "val_loss", min),
            "stop_reason": run.get("stop_reason"), "pinned": bool(run.get("pinned")),
            "weights": bool(run.get("weights")),
            "parent": (run.get("parent") or {}).get("run"), "sweep": run.get("sweep"),
            "graph_changed": None if not (run.get("fingerprint") and current) else run["fingerprint"] != current,
            "differs": [] if previous is None else sorted(
                k for k in set(settings) | set(previous) if settings.get(k) != previous.get(k)),
        })
        previous = settings
    return rows


def _best(run: dict[str, Any], key: str, pick: Any) -> float | None:
    values = [row[key] for row in run.get("epochs") or [] if isinstance(row.get(key), (int, float))
              and not isinstance(row.get(key), bool) and math.isfinite(row[key])]
    return pick(values) if values else None


def current_run(project: Any) -> dict[str, Any] | None:
    """The run whose kept weights are the project's own weights (the one a continued run goes on from)."""
    if project.weights is None:
        return None
    for run in reversed(project.runs):
        if project.run_weights.get(run["id"]) is project.weights:
            return run
    return None


def run_from_history(history: dict[str, Any], graph: dict[str, Any], fingerprint: Any, dataset: Any,
                     training: Any, weights: bool) -> dict[str, Any]:
    """Run "run-1" made from an older file's history (format 3 and before kept only the last one)."""
    rows = history.get("epochs") if isinstance(history.get("epochs"), list) else _rows(history)
    times = [r.get("time_s") for r in rows if isinstance(r.get("time_s"), (int, float))]
    config = history.get("config") if isinstance(history.get("config"), dict) else training
    return {
        "id": "run-1", "name": "Run 1", "started": None,
        "duration_s": round(float(times[-1]), 3) if times and 0 <= times[-1] < math.inf else None,
        "device": history.get("device"), "settings": dict(config) if isinstance(config, dict) else {},
        "dataset": dataset, "fingerprint": fingerprint, "graph": graph, "epochs": rows,
        "step_loss": list(history.get("step_loss", [])), "task": history.get("task"),
        "classes": history.get("classes"), "confusion": history.get("confusion"),
        "final": dict(history.get("final") or {}), "best_epoch": history.get("best_epoch"),
        "stop_reason": str(history.get("stop_reason", "completed")), "pinned": False, "weights": weights,
        "parent": None, "sweep": None,
    }


def _rows(history: dict[str, Any]) -> list[dict[str, Any]]:
    """Epoch rows of the older per-metric form (``{"epoch": [1, 2], "loss": [0.7, 0.4]}``)."""
    columns = {k: v for k, v in history.items() if isinstance(v, list) and k not in _HISTORY_KEYS}
    count = max((len(v) for v in columns.values()), default=0)
    epochs = columns.pop("epoch", list(range(1, count + 1)))
    return [{"epoch": int(epochs[i]) if isinstance(epochs[i], int) and epochs[i] >= 1 else i + 1,
             **{k: v[i] for k, v in columns.items() if v[i] is not None}} for i in range(count)]


# -- checking a file's runs ---------------------------------------------------------------------------------
def runs_problem(data: Any) -> str | None:
    """What is wrong with a runs.json value, naming the field (``runs[3].settings: must be an object ...``), or
    None when it has the shape and bounds above. Graphs are checked by the caller (as project.json's)."""
    if not isinstance(data, dict) or set(data) - {"runs", "next_id"}:
        return "must be an object with the fields runs and next_id"
    runs, next_id = data.get("runs", []), data.get("next_id", 1)
    if not isinstance(runs, list):
        return f"runs: must be a list, not {_kind(runs)}"
    if len(runs) > MAX_RUNS:
        return f"runs: holds {len(runs):,} runs; a project keeps at most {MAX_RUNS}"
    if not (isinstance(next_id, int) and not isinstance(next_id, bool) and 1 <= next_id <= 10**9):
        return f"next_id: must be a whole number from 1 to 1,000,000,000, not {_kind(next_id)}"
    seen: set[str] = set()
    for i, run in enumerate(runs):
        problem = run_problem(run)
        if problem:
            return f"runs[{i}]{problem}"
        if run["id"] in seen:
            return f"runs[{i}].id: the run id {run['id']!r} is used twice"
        if _number(run["id"]) >= next_id:
            return f"runs[{i}].id: {run['id']!r} is not below next_id ({next_id})"
        seen.add(run["id"])
    for i, run in enumerate(runs[:-1]):  # which bounds the weights members read to MAX_PINNED + 1
        if run["weights"] and not run["pinned"]:
            return f"runs[{i}].weights: only the pinned runs and the latest one keep their weights"
    pinned = sum(run.get("pinned", False) for run in runs)
    if pinned > MAX_PINNED:
        return f"runs: {pinned} runs are pinned; at most {MAX_PINNED} can be"
    return None


def run_problem(run: Any) -> str | None:
    """What is wrong with one run dict, as a field suffix and message (``.name: ...``), or None."""
    if not isinstance(run, dict):
        return f": must be an object, not {_kind(run)}"
    extra = [k for k in run if k not in KEYS]
    if extra:
        return f": {_short(extra[0])} is not a field of a run"
    if not (isinstance(run.get("id"), str) and RUN_ID.fullmatch(run["id"])):
        return f".id: must be run-<number>, not {_kind(run.get('id'))}"
    checks = (
        ("name", lambda v: isinstance(v, str) and len(v) <= MAX_RUN_NAME,
         f"a string of at most {MAX_RUN_NAME} characters"),
        ("started", lambda v: v is None or (isinstance(v, str) and len(v) <= 40), "an ISO time or null"),
        ("duration_s", lambda v: v is None or (_real(v) and math.isfinite(v) and v >= 0), "a number >= 0 or null"),
        ("device", lambda v: v is None or (isinstance(v, str) and len(v) <= 100), "a device name or null"),
        ("settings", lambda v: isinstance(v, dict), "an object"),
        ("dataset", lambda v: v is None or isinstance(v, dict), "an object or null"),
        ("fingerprint", lambda v: v is None or (isinstance(v, str) and FINGERPRINT.fullmatch(v)),
         "64 hexadecimal digits or null"),
        ("graph", lambda v: isinstance(v, dict), "an object with nodes and edges"),
        ("pinned", lambda v: isinstance(v, bool), "true or false"),
        ("weights", lambda v: isinstance(v, bool), "true or false"),
        ("parent", _parent_ok, "null or an object {\"run\": \"run-<n>\", \"epoch\": n}"),
        ("sweep", lambda v: v is None or (isinstance(v, str) and SWEEP_ID.fullmatch(v)), "null or sweep-<number>"),
    )
    for key, ok, wanted in checks:
        if key in ("name", "settings", "graph", "pinned", "weights") and key not in run:
            return f".{key}: is missing"
        if key in run and not ok(run[key]):
            return f".{key}: must be {wanted}, not {_kind(run[key])}"
    # What the history of a run holds, with a history's bounds (epoch rows, step-level points, classes ...).
    problem = history_problem({k: run[k] for k in _HISTORY_KEYS if run.get(k) is not None})
    return f".{problem}" if problem else None


def _parent_ok(value: Any) -> bool:
    if value is None:
        return True
    return (isinstance(value, dict) and set(value) == {"run", "epoch"} and isinstance(value["run"], str)
            and RUN_ID.fullmatch(value["run"]) is not None and isinstance(value["epoch"], int)
            and not isinstance(value["epoch"], bool) and value["epoch"] >= 0)


# -- small helpers ------------------------------------------------------------------------------------------
def _number(run_id: str) -> int:
    return int(run_id.split("-", 1)[1])


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _iso(started: Any) -> str | None:
    if started is None:
        return None
    if isinstance(started, str):
        return started[:40]
    if isinstance(started, (int, float)):
        started = datetime.fromtimestamp(started, timezone.utc)
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return started.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(duration_s: float | None, started: Any) -> float | None:
    if duration_s is not None:
        return round(max(float(duration_s), 0.0), 3)
    if isinstance(started, datetime):
        start = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
        return round(max(time.time() - start.timestamp(), 0.0), 3)
    return None


def now_utc() -> datetime:
    """The time a run starts, as record_run takes it."""
    return datetime.now(timezone.utc)
