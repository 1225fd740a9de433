"""Upgrading project.json written by older versions of NN Studio to the current format.

Every change to the file format bumps ``CURRENT_VERSION`` and adds one migration to ``MIGRATIONS``, keyed by
the version it upgrades *from*: ``MIGRATIONS[1]`` turns a format-1 dict into a format-2 dict. A migration is a
pure function (dict in, new dict out; it must not change its argument) and does not need to set
``format_version``: ``migrate`` does that after each step. Every version also keeps a fixture file
(``tests/data/project_v<N>.nnstudio``) that the tests open, so an upgrade path that breaks old files is caught.

Format 2 added ``weights_fingerprint`` to project.json (and the ``training_state.safetensors`` member, which
needs no upgrade: a format-1 file has none). Format 3 added ``frames`` (labelled backdrops around nodes); older
files have none. Format 4 keeps every training run (the ``runs.json`` member and ``runs/<id>.safetensors``);
project.json itself is unchanged, and an older file's history becomes its one run, "run-1", when the file is
read (``project.runs_io.migrated_runs``: it needs the history member, which these dict steps never see).
Format 5 adds ``sweep`` to project.json (the sweep the dialog and ``nnstudio sweep`` start from); older files
have none.
Renamed layer types are handled here too: ``translate_legacy_ids``
replaces an old type id (``linear``) by the current one (``dense``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from nnstudio.core.layers.registry import LEGACY_IDS

# The format version this version of NN Studio writes, and the newest it reads.
CURRENT_VERSION = 5


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 records which graph the weights were trained on; a format-1 file does not know (null: the app
    falls back to matching the weights' names and shapes)."""
    return {**data, "weights_fingerprint": None}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Format 3 keeps frames (labelled backdrops around nodes on the canvas); a format-2 file has none."""
    return {**data, "frames": []}


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Format 4 adds the runs members; project.json keeps its fields (the history becomes run "run-1" when
    the file is read, in io.py)."""
    return {**data}


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    """Format 5 keeps the project's sweep (the one the sweep dialog starts from); a format-4 file has none."""
    return {**data, "sweep": None}


# version -> function upgrading a project.json dict of that version to version + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4,
                                                                     4: _v4_to_v5}


class MigrationError(ValueError):
    """The data cannot be brought to the current format (a newer format, or no upgrade path)."""


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` upgraded to ``CURRENT_VERSION`` with legacy layer type ids translated.

    ``data["format_version"]`` must be a whole number between 1 and ``CURRENT_VERSION``; otherwise
    MigrationError is raised. The argument is never modified. Errors raised by a migration step itself
    (a malformed old file) propagate unchanged for the caller to report.
    """
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MigrationError(f"format_version must be a whole number, not {version!r}")
    current = CURRENT_VERSION  # read once, so a monkeypatched value is seen consistently
    if version > current:
        raise MigrationError(
            f"this file was written by a newer NN Studio (format {version}); this version reads up to format "
            f"{current}: update NN Studio"
        )
    if version < 1:
        raise MigrationError(f"format_version must be at least 1, not {version}")
    if version < current:
        data = copy.deepcopy(data)  # steps are meant to be pure; this protects the caller if one is not
    while version < current:
        step = MIGRATIONS.get(version)
        if step is None:
            raise MigrationError(f"there is no upgrade from format {version} to format {version + 1}")
        data = dict(step(data))
        version += 1
        data["format_version"] = version
    return translate_legacy_ids(data)


def translate_legacy_ids(data: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` with each node's renamed layer type replaced by its current id (see
    ``registry.LEGACY_IDS``). Parts that do not have the expected shape are left alone for the schema check
    to report. The argument is not modified."""
    graph = data.get("graph")
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        return data
    if not any(_legacy_type(node) for node in graph["nodes"]):
        return data
    nodes = [
        {**node, "type": LEGACY_IDS[node["type"]]} if _legacy_type(node) else node for node in graph["nodes"]
    ]
    return {**data, "graph": {**graph, "nodes": nodes}}


def _legacy_type(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("type"), str) and node["type"] in LEGACY_IDS
