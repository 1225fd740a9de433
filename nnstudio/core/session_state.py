"""The values a :class:`nnstudio.core.session.Session` hands out: the run's state, the telemetry, the names of
its events and states, and the error an edit refused while training gets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnstudio.core.errors import NNStudioError

PHASES = ("idle", "preparing", "running", "paused", "stopping")
READINESS = ("ready", "problems", "checking")
# none: no dataset chosen; invalid: its config has problems (nothing to load); needed: to be loaded (the window
# loads ``data_key``); loading; loaded; failed (``data_error`` says why); cancelled: the load was cancelled.
DATA_STATES = ("none", "invalid", "needed", "loading", "loaded", "failed", "cancelled")
EVENTS = ("project_replaced", "path_changed", "shapes_changed", "dataset_changed", "training_changed",
          "data_changed", "weights_status_changed", "problems_changed", "readiness_changed", "run_state_changed",
          "telemetry_changed", "health_changed", "selection_changed", "unsaved_run_changed", "runs_changed",
          "compared_changed", "sweep_changed")
LOCKED = "Training is running: stop it before changing the network, the dataset or the training settings."

DataKey = tuple[str, str]


class EditRefused(NNStudioError):
    """An edit asked for while a run is active (the message is ``Session.edit_refusal()``)."""


@dataclass(frozen=True)
class RunState:
    """The run of the session's project: ``phase`` (one of ``PHASES``), ``progress`` 0..1, ``summary`` (the
    current step while active, the last run's one-line result when idle, "" before any run), the project it
    belongs to (``project``: the session's count of replacements) and the id ``run_started`` gave it (0: none)."""

    phase: str = "idle"
    progress: float = 0.0
    summary: str = ""
    project: int = 0
    run: int = 0

    @property
    def active(self) -> bool:
        return self.phase != "idle"


@dataclass(frozen=True, eq=False)
class Telemetry:
    """The latest figures of the current project's run: the newest LayerReport and ActivationReport, the last
    epoch's confusion matrix and per-class figures, and the fingerprint of the graph they came from. A new
    object for every change (compared by identity)."""

    layers: Any = None
    activations: Any = None
    confusion: list[list[int]] | None = None
    per_class: list[dict[str, float]] | None = None
    epoch: int | None = None
    fingerprint: str | None = None


NO_TELEMETRY = Telemetry()


def data_key_for(config: dict[str, Any], base_dir: Path | None) -> DataKey:
    """What identifies loaded data: the config, and the folder relative paths start from when it has paths."""
    from nnstudio.core.data.registry import DATASETS, PATH_KINDS

    try:
        text = json.dumps(config, sort_keys=True, ensure_ascii=True, default=repr)
    except (TypeError, ValueError):
        text = repr(config)
    spec = DATASETS.get(config.get("name")) if isinstance(config.get("name"), str) else None
    paths = spec is not None and any(p.kind in PATH_KINDS for p in spec.params)
    return text, str(base_dir) if paths and base_dir is not None else ""


def one_line(text: Any) -> str:
    return " ".join(str(text).split())
