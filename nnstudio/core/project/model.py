"""What a project holds in memory: the graph, its settings, and (once trained) weights and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from nnstudio.core.graph import Graph


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    name: str = ""
    description: str = ""
    # Training settings (optimizer, learning rate, epochs ...): JSON-safe, owned by the training engine.
    training: dict[str, Any] = field(default_factory=dict)
    # Which dataset and its options: JSON-safe, owned by the data package. None when none is chosen.
    dataset: dict[str, Any] | None = None
    # Trained weights by parameter name (``dense_1.weight``), stored as safetensors. None until trained.
    weights: dict[str, torch.Tensor] | None = None
    # Training history (per-epoch metrics ...): JSON-safe, shaped as nnstudio.core.training.history describes.
    # None until trained.
    history: dict[str, Any] | None = None
    # (Format 2; after the older fields, which callers may pass by position.)
    # nnstudio.core.fingerprint.fingerprint of the graph the weights were trained on (the snapshot that trained,
    # not the graph at the time of saving). None until trained, and in files older than format 2.
    weights_fingerprint: str | None = None
    # What continuing the training of these weights exactly needs (training.resume.TrainingState: optimizer and
    # schedule state, random generators, position), stored as training_state.safetensors. None until trained,
    # in files older than format 2, and when the file's is damaged.
    training_state: Any = None
    # (Format 4.) Every training run kept (nnstudio.core.runs describes a run): JSON-safe dicts, newest last,
    # saved as runs.json; run_weights holds the kept weights by run id (the pinned runs' and the latest run's,
    # which is the ``weights`` dict itself, saved once); runs_next_id numbers the next run.
    runs: list[dict[str, Any]] = field(default_factory=list)
    run_weights: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, compare=False, repr=False)
    runs_next_id: int = 1
    # (Format 5.) The sweep last run or offered for this project (core.sweep.spec_to_dict's dict), or None.
    sweep: dict[str, Any] | None = None
    # What opening the file left out and why, one plain line each ("...: the project opens without its
    # training history"). Filled by load_project, never saved; the command line prints them, the app shows them.
    load_warnings: list[str] = field(default_factory=list, compare=False, repr=False)
