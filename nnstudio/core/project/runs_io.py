"""The runs of a project file (format 4): ``runs.json`` and one ``runs/<id>.safetensors`` per run whose weights
are kept, apart from the run whose weights are the project's own ``weights.safetensors`` (saved once;
``runs.json``'s ``project_weights`` names it). Read as hostile as the rest (docs/file-format.md): sizes are
checked before anything is unpacked, every field and bound is checked (``runs.runs_problem``, each run's graph
as project.json's), and anything wrong is one load warning: the project opens without its runs (or without the
one run's weights that are damaged). io.py calls these; they use its member readers.
"""

from __future__ import annotations

import re
import zipfile
from typing import Any

from nnstudio.core import runs as _runs
from nnstudio.core.errors import GraphError, ProjectFileError

RUNS_JSON = "runs.json"
RUN_WEIGHTS = re.compile(r"runs/(run-[1-9][0-9]{0,8})\.safetensors")


def run_member(run_id: str) -> str:
    return f"runs/{run_id}.safetensors"


# -- saving -------------------------------------------------------------------------------------------------
def runs_members(project: Any, path: Any) -> list[tuple[str, bytes, int]]:
    """The runs.json member and the run weight members of ``project`` (none without runs). Each run's
    ``weights`` flag is set from ``project.run_weights``; the bounds are checked, so that what is saved can be
    read back (ProjectFileError otherwise, naming the field). Weights a run may not keep (neither pinned nor
    the latest) are not written."""
    from nnstudio.core.project import io

    if not project.runs:
        return []
    current = _runs.current_run(project)
    members = []
    for run in project.runs:
        kept = project.run_weights.get(run["id"])
        if not (run.get("pinned") or run is project.runs[-1]):
            kept = None  # the bounds: only the pinned runs' weights and the latest run's are kept
        run["weights"] = kept is not None
        if kept is not None and run is not current:
            try:
                payload = io._weights_bytes(kept, path)
            except ProjectFileError as exc:
                raise ProjectFileError(path, exc.detail, run_member(run["id"])) from None
            members.append((run_member(run["id"]), payload, zipfile.ZIP_STORED))
    next_id = max(int(getattr(project, "runs_next_id", 1) or 1),
                  1 + max(int(r["id"].split("-")[1]) for r in project.runs))
    data = {"runs": project.runs, "next_id": next_id, "project_weights": current["id"] if current else None}
    problem = runs_problem(data)
    if problem:
        raise ProjectFileError(path, f"cannot be saved: {problem}", RUNS_JSON)
    encoded = _encode(data, path)
    if len(encoded) > _runs.MAX_RUNS_BYTES:
        raise ProjectFileError(path, f"cannot be saved: {len(encoded):,} bytes, more than the limit of "
                               f"{_runs.MAX_RUNS_BYTES:,}: drop some runs", RUNS_JSON)
    return [(RUNS_JSON, encoded, zipfile.ZIP_DEFLATED), *members]


def _encode(data: dict[str, Any], path: Any) -> bytes:
    import json

    try:
        try:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON escapes it, so it reads back
            return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectFileError(path, f"cannot be saved as JSON: {str(exc)[:200]}", RUNS_JSON) from None


def runs_problem(data: Any) -> str | None:
    """``runs.runs_problem`` for runs.json, which also names the run whose weights are the project's."""
    if not isinstance(data, dict):
        return "must be an object with the fields runs, next_id and project_weights"
    current = data.get("project_weights")
    problem = _runs.runs_problem({k: v for k, v in data.items() if k != "project_weights"})
    if problem:
        return problem
    if current is not None and current not in {r["id"] for r in data.get("runs", [])}:
        return f"project_weights: names {current!r}, which is not one of the runs"
    return None


# -- loading ------------------------------------------------------------------------------------------------
def load_runs(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], path: Any,
              project_weights: dict[str, Any] | None, read_weights: bool,
              warnings_: list[str]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """(runs, run_weights, next_id) of a format-4 file. ``project_weights``: the project's loaded weights (None
    when not loaded or missing); ``read_weights``: whether to read weights.safetensors for a pinned run whose
    weights are the project's when the project's were not asked for (so saving keeps them)."""
    from nnstudio.core.project import io

    info = members[RUNS_JSON]
    try:
        if info.file_size > _runs.MAX_RUNS_BYTES:
            raise ProjectFileError(path, f"is {info.file_size:,} bytes uncompressed; the limit is "
                                   f"{_runs.MAX_RUNS_BYTES:,}", RUNS_JSON)
        payload = io._read_member(archive, info, path, _runs.MAX_RUNS_BYTES)
        items = sum(payload.count(c) for c in (b",", b":", b"[", b"{"))
        if items > _runs.MAX_RUNS_ITEMS:
            raise ProjectFileError(path, f"holds about {items:,} JSON items; the limit is "
                                   f"{_runs.MAX_RUNS_ITEMS:,}", RUNS_JSON)
        data = io._parse_json(payload, path, RUNS_JSON, allow_nan=True, max_items=_runs.MAX_RUNS_ITEMS)
        problem = runs_problem(data)
        if problem:
            raise ProjectFileError(path, problem, RUNS_JSON)
        graphs = [_check_graph(run, i, path) for i, run in enumerate(data["runs"])]
    except ProjectFileError as exc:
        warnings_.append(f"{exc}; the project opens without its runs")
        return [], {}, 1
    runs, current = data["runs"], data.get("project_weights")
    kept: dict[str, dict[str, Any]] = {}
    for run, graph in zip(runs, graphs):
        if not run["weights"]:
            continue
        if run["id"] == current:
            weights = project_weights
            if weights is None and read_weights and run["pinned"] and io.WEIGHTS in members:
                weights = _read_weights(archive, members[io.WEIGHTS], graph, path, run, warnings_)
        elif run_member(run["id"]) in members:
            weights = _read_weights(archive, members[run_member(run["id"])], graph, path, run, warnings_)
        else:
            weights = None
            warnings_.append(f"{path}: {run_member(run['id'])}: is missing; run {run['id']} opens without its "
                             "weights")
        if weights is not None:
            kept[run["id"]] = weights
        else:
            run["weights"] = False
    return runs, kept, data.get("next_id", 1)


def _check_graph(run: dict[str, Any], i: int, path: Any) -> Any:
    """The run's graph, checked as project.json's graph is (a ProjectFileError naming ``runs[i].graph...``)."""
    from nnstudio.core.graph import Graph
    from nnstudio.core.project import checks, migrations

    where = f"{RUNS_JSON}: runs[{i}]"
    try:
        checks.check_project({"format_version": migrations.CURRENT_VERSION, "graph": run["graph"]}, path)
        return Graph.from_dict(run["graph"])
    except ProjectFileError as exc:
        raise ProjectFileError(path, exc.detail, f"{where}.{exc.field or 'graph'}") from None
    except GraphError as exc:
        raise ProjectFileError(path, str(exc), f"{where}.graph") from None


def _read_weights(archive: zipfile.ZipFile, info: zipfile.ZipInfo, graph: Any, path: Any, run: dict[str, Any],
                  warnings_: list[str]) -> dict[str, Any] | None:
    """A run's kept weights, within what its own graph can hold (io's weights checks), or None and a warning."""
    from nnstudio.core.project import io

    try:
        return io.load_weights_member(archive, info, graph, path, info.filename)
    except ProjectFileError as exc:
        warnings_.append(f"{exc}; run {run['id']} opens without its weights")
        return None


def migrated_runs(history: Any, data: dict[str, Any], weights: dict[str, Any] | None, path: Any,
                  warnings_: list[str]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """A file older than format 4 kept only its last run, as its history: that becomes run "run-1" (the file's
    graph, fingerprint and weights). A history that cannot be a run (a device name of a thousand characters)
    gives none, and a warning."""
    if not isinstance(history, dict) or not history:
        return [], {}, 1
    run = _runs.run_from_history(history, data["graph"], data.get("weights_fingerprint"), data.get("dataset"),
                                 data.get("training", {}), weights is not None)
    problem = _runs.run_problem(run)
    if problem:
        warnings_.append(f"{path}: {HISTORY_AS_RUN}{problem}; the project opens without its runs")
        return [], {}, 1
    return [run], ({"run-1": weights} if weights is not None else {}), 2


HISTORY_AS_RUN = "history.json (as run run-1)"
