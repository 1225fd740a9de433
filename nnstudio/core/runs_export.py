"""The project's runs (``Project.runs``, see core.runs) in the formats people already use: TensorBoard event files,
one folder per run, and one CSV of every run's epoch rows.

TensorBoard comes through ``torch.utils.tensorboard``, which needs the optional ``tensorboard`` package: it is
imported only when event files are written, and its absence is one plain line that says what to install. A run's
id and name come from a project file and may be hostile: a run's folder is built from its id reduced to letters,
digits, ``-`` and ``_`` (never from its name), tags and hparam names are one printable line, and CSV cells that a
spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nnstudio.core.errors import ExportError
from nnstudio.core.export.common import shown, write_atomic
from nnstudio.core.text import one_line

INSTALL_HINT = 'pip install "nnstudio[tensorboard]"'
MAX_TAG = 200  # characters of a scalar tag or hparam name built from a metric or setting name
MAX_FOLDER = 80  # characters of a run's folder name
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Names Windows refuses as a file or folder, whatever follows them.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_EVENTS = "events.out.tfevents."
_CSV_FIXED = ("run_id", "run_name", "epoch")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as the start of a formula


# -- TensorBoard --------------------------------------------------------------------------------------------------
def write_tensorboard(runs: list[dict], folder: str | os.PathLike[str],
                      run_weights: dict[str, dict[str, Any]] | None = None) -> list[Path]:
    """Write each run as TensorBoard event files in its own subfolder of ``folder`` (made when missing) and
    return those subfolders, in the order of ``runs``. Each holds the step loss (``loss/step``), every number of
    each epoch row (``train/loss``, ``val/accuracy``, ``epoch/lr`` ... at the epoch's number), the final metrics
    (``final/val_loss`` ...), the run's settings as hparams (with the final metrics as the hparams' metrics) and,
    for runs in ``run_weights`` (run id -> state dict), a histogram of each kept weight tensor. Event files an
    earlier export left in a run's subfolder are replaced, so exporting again does not show each curve twice.
    ExportError for a folder that cannot be written, or when tensorboard is not installed."""
    api = _tensorboard()
    root = _root(folder)
    weights = run_weights or {}
    runs = [run for run in runs if isinstance(run, dict)]
    experiment = _experiment([hparam_values(run) for run in runs], [_final(run) for run in runs])
    used: set[str] = set()
    written: list[Path] = []
    for run in runs:
        target = root / _folder_name(run.get("id"), used)
        _clear(target, folder)
        state = weights.get(run.get("id")) if isinstance(run.get("id"), str) else None
        try:
            _write_run(api, run, target, state, experiment)
        except OSError as exc:
            raise ExportError(f"cannot write TensorBoard files to {shown(target)}: {exc.strerror or exc}") from None
        written.append(target)
    return written


def _tensorboard() -> Any:
    """``torch.utils.tensorboard`` and the hparams protos, or ExportError saying what to install."""
    try:
        import torch.utils.tensorboard as api
        from google.protobuf import struct_pb2  # noqa: F401  (the hparams summaries below)
        from tensorboard.compat.proto import summary_pb2  # noqa: F401
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2  # noqa: F401
    except ImportError:
        raise ExportError(f"writing TensorBoard event files needs the tensorboard package: {INSTALL_HINT}") \
            from None
    return api


def _root(folder: str | os.PathLike[str]) -> Path:
    raw = os.fspath(folder)
    if not raw:
        raise ExportError("cannot write TensorBoard files to an empty folder name: give the folder to write to")
    root = Path(raw)
    if os.path.lexists(raw) and not root.is_dir():
        raise ExportError(f"cannot write TensorBoard files to {shown(raw)}: it is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a folder that can be made"
        raise ExportError(f"cannot write TensorBoard files to {shown(raw)}: {reason}") from None
    if not root.is_dir():
        raise ExportError(f"cannot write TensorBoard files to {shown(raw)}: it is not a folder")
    return root


def _folder_name(run_id: Any, used: set[str]) -> str:
    """A folder name from a run's id: letters, digits, - and _ only (so never ``..``, a separator or a control
    character), not a name Windows reserves, and not one an earlier run of this export took (case-insensitive)."""
    base = _UNSAFE.sub("_", run_id if isinstance(run_id, str) else "").strip("_")[:MAX_FOLDER] or "run"
    if base.lower() in _RESERVED:
        base = "run-" + base
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base}-{n}"
    used.add(name.lower())
    return name


def _clear(target: Path, folder: Any) -> None:
    """Make ``target`` an empty-of-events folder of its own: refuse a link or a file in its place, and remove
    the event files an earlier export wrote there (only those)."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ExportError(f"cannot write TensorBoard files to {shown(target)}: something other than a folder is "
                          f"there; remove it or choose another folder than {shown(os.fspath(folder))}")
    try:
        target.mkdir(exist_ok=True)
        for entry in target.iterdir():
            if entry.name.startswith(_EVENTS) and entry.is_file() and not entry.is_symlink():
                entry.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write TensorBoard files to {shown(target)}: {exc.strerror or exc}") from None


def _write_run(api: Any, run: dict, target: Path, state: dict[str, Any] | None, experiment: Any) -> None:
    epochs = [row for row in _list(run.get("epochs")) if isinstance(row, dict)]
    start = _start_time(run.get("started"))
    times = _epoch_times(epochs, start)
    last = max([int(row["epoch"]) for row in epochs if _whole(row.get("epoch"))] or [0])
    writer = api.SummaryWriter(log_dir=str(target))
    try:
        for point in _list(run.get("step_loss")):
            if isinstance(point, list) and len(point) == 3 and _whole(point[0]) and _number(point[2]) \
                    and _number(point[1]) and math.isfinite(point[1]):
                when = _step_time(point[1], start, times)
                writer.add_scalar("loss/step", float(point[2]), int(point[0]), walltime=when)
        for i, row in enumerate(epochs):
            step = int(row["epoch"]) if _whole(row.get("epoch")) else i + 1
            for key, value in row.items():
                if key != "epoch" and _number(value):
                    writer.add_scalar(_epoch_tag(key), float(value), step, walltime=times[i])
        for tag, value in _final(run).items():
            writer.add_scalar(tag, value, last, walltime=times[-1] if times else start)
        for name, tensor in _dict(state).items():
            values = _finite(tensor)
            if values is not None:
                writer.add_histogram(f"weights/{_tag(name)}", values, last, walltime=times[-1] if times else start)
        for summary in (experiment, *_session(run, start)):
            writer.file_writer.add_summary(summary, last)
    finally:
        writer.close()


def _final(run: dict) -> dict[str, float]:
    """The final metrics of a run by their scalar tag (``final/val_loss``): the hparams' metrics."""
    return {f"final/{_tag(k)}": float(v) for k, v in _dict(run.get("final")).items() if _number(v)}


def _experiment(values: list[dict[str, Any]], finals: list[dict[str, float]]) -> Any:
    """The hparams plugin's experiment summary, the same in every run's folder: TensorBoard reads the first it
    finds as the list of columns, so it names every hparam and final metric of every run exported together;
    strings and bools get their values as a discrete domain (the plugin's filters), numbers their type."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    seen: dict[str, list[Any]] = {}
    for run_values in values:
        for name, value in run_values.items():
            seen.setdefault(name, []).append(value)
    infos = []
    for name, items in seen.items():
        kinds = {_kind(v) for v in items}
        info = api_pb2.HParamInfo(name=name)
        if len(kinds) == 1:  # runs that disagree on a setting's type leave it to TensorBoard
            kind = kinds.pop()
            info.type = api_pb2.DataType.Value(kind)
            if kind != "DATA_TYPE_FLOAT64":
                field = "bool_value" if kind == "DATA_TYPE_BOOL" else "string_value"
                info.domain_discrete.CopyFrom(struct_pb2.ListValue(
                    values=[struct_pb2.Value(**{field: v}) for v in sorted(set(items))]))
        infos.append(info)
    tags = list(dict.fromkeys(tag for final in finals for tag in final))
    experiment = api_pb2.Experiment(hparam_infos=infos,
                                    metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t)) for t in tags])
    return _summary("experiment", plugin_data_pb2.HParamsPluginData(experiment=experiment))


def _session(run: dict, start: float | None) -> list[Any]:
    """The hparams plugin's session start (the run's hparams) and end summaries of one run, built from
    tensorboard's own protos: torch's ``add_hparams`` would write bools as numbers and into a second folder."""
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(group_name=one_line(run.get("id", ""), MAX_TAG),
                                            start_time_secs=start or 0.0)
    for name, value in hparam_values(run).items():
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, str):
            info.hparams[name].string_value = value
        else:
            info.hparams[name].number_value = float(value)
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    return [_summary("session_start_info", plugin_data_pb2.HParamsPluginData(session_start_info=info)),
            _summary("session_end_info", plugin_data_pb2.HParamsPluginData(session_end_info=end))]


def _summary(part: str, data: Any) -> Any:
    """One hparams plugin summary: ``part`` is experiment, session_start_info or session_end_info."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    tag = {"experiment": metadata.EXPERIMENT_TAG, "session_start_info": metadata.SESSION_START_INFO_TAG,
           "session_end_info": metadata.SESSION_END_INFO_TAG}[part]
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
    return summary


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "DATA_TYPE_BOOL"
    return "DATA_TYPE_STRING" if isinstance(value, str) else "DATA_TYPE_FLOAT64"


def hparam_values(run: dict) -> dict[str, str | float | bool]:
    """The hparams of a run: its id and name, then its settings (nested objects as ``outer.inner``), keeping
    only JSON scalars (strings, finite numbers, bools); names and strings as one printable line."""
    values: dict[str, str | float | bool] = {"run_id": one_line(run.get("id", ""), MAX_TAG),
                                             "run_name": one_line(run.get("name", ""), MAX_TAG)}

    def add(prefix: str, settings: dict) -> None:
        for key, value in settings.items():
            name = _tag(f"{prefix}{key}")
            if isinstance(value, dict) and not prefix:
                add(f"{key}.", value)
            elif isinstance(value, str):
                values.setdefault(name, one_line(value, MAX_TAG))
            elif isinstance(value, bool) or (_number(value) and math.isfinite(value)):
                values.setdefault(name, value)

    add("", _dict(run.get("settings")))
    return values


def _epoch_tag(key: Any) -> str:
    """``train_loss`` -> ``train/loss``, ``val_accuracy`` -> ``val/accuracy``, anything else under ``epoch/``."""
    key = _tag(key)
    for split in ("train", "val"):
        if key.startswith(split + "_") and len(key) > len(split) + 1:
            return f"{split}/{key[len(split) + 1:]}"
    return f"epoch/{key}"


def _tag(name: Any) -> str:
    return one_line(name, MAX_TAG) or "_"


def _start_time(started: Any) -> float | None:
    """Seconds since 1970 of a run's ISO start time ("2026-12-01T23:40:12Z"), or None when it is not one."""
    if not isinstance(started, str) or len(started) > 64:
        return None
    try:
        when = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _epoch_times(epochs: list[dict], start: float | None) -> list[float | None]:
    """The wall time at the end of each epoch (start plus the time_s of the epochs so far), None without a
    start time, so TensorBoard's time axes show when the run happened."""
    if start is None:
        return [None] * len(epochs)
    out, total = [], 0.0
    for row in epochs:
        spent = row.get("time_s")
        total += spent if _number(spent) and math.isfinite(spent) and spent > 0 else 0.0
        out.append(start + total)
    return out


def _step_time(position: float, start: float | None, times: list[float | None]) -> float | None:
    """The wall time of a step at an epoch position (2.5: halfway through the third epoch), between the end
    times of the epochs around it."""
    if start is None or not times or not math.isfinite(position):
        return None
    position = max(float(position), 0.0)
    done = min(int(position), len(times))
    before = times[done - 1] if done else start
    after = times[done] if done < len(times) else times[-1]
    return before + (after - before) * (position - int(position))


def _finite(tensor: Any) -> Any:
    """The finite values of a weight tensor as a flat float64 numpy array, or None when there are none (or it
    is not a tensor)."""
    import torch

    if not isinstance(tensor, torch.Tensor) or tensor.is_complex() or tensor.numel() == 0:
        return None
    flat = tensor.detach().to("cpu", torch.float64).flatten()
    flat = flat[torch.isfinite(flat)]
    return flat.numpy() if flat.numel() else None


# -- CSV ----------------------------------------------------------------------------------------------------------
def runs_csv(runs: list[dict], path: str | os.PathLike[str]) -> Path:
    """Write one CSV of every epoch row of ``runs``: columns run_id, run_name, epoch, then every other key any
    row has, in the order they first appear (empty where a run lacks one); numbers as Python writes them
    (``repr``: ``0.1``, ``nan``), text that a spreadsheet would run as a formula (starting with = + - @, a tab
    or a carriage return) prefixed with ``'``. Written atomically; ExportError for a path that cannot be
    written. Returns the path written."""
    rows = list(csv_rows(runs))
    columns = list(_CSV_FIXED)
    seen = set(columns)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow([_cell(c) for c in columns])
            for row in rows:
                writer.writerow([_cell(row[c]) if c in row else "" for c in columns])

    return write_atomic(path, write)


def csv_rows(runs: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """The epoch rows of ``runs`` as dicts keyed by column (run_id, run_name, then the row's own keys as
    text); what is not a run dict or a row object is skipped."""
    for run in runs:
        if not isinstance(run, dict):
            continue
        for row in _list(run.get("epochs")):
            if isinstance(row, dict):
                out = {"run_id": run.get("id", ""), "run_name": run.get("name", ""), "epoch": row.get("epoch")}
                for key, value in row.items():
                    key = one_line(key, MAX_TAG)
                    if key not in _CSV_FIXED:
                        out.setdefault(key, value)
                yield out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return repr(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + text if text.startswith(_FORMULA) else text


# -- small helpers ------------------------------------------------------------------------------------------------
def _number(value: Any) -> bool:
    """A JSON number (not a bool), and for a whole number one a float and an event's int64 step can hold."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, float) or abs(value) < 2 ** 53


def _whole(value: Any) -> bool:
    """A number an event's step can be: finite, and whole (a float 3.0 counts)."""
    return _number(value) and math.isfinite(value) and float(value).is_integer() and abs(value) < 2 ** 53


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
