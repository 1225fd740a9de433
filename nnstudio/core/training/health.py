"""Health of each layer, for the tint on the canvas: dead ReLU units, vanishing or exploding gradients.

Plain functions, tested without a window. They judge either the live telemetry reports (``layer_health``, from a
``LayerReport`` and an ``ActivationReport``) or the same figures as JSON-safe numbers by node id
(``health_from_stats``), which is what a saved history can hold::

    {"dense_1": {"grad_norm": 0.012, "update_ratio": 1e-3, "dead_fraction": 0.25}, ...}

Each key is optional per node (``dead_fraction`` is None or absent for layers without a ReLU-like output).
``history_layer_stats`` takes such figures from a project's saved history (its last layer statistics and
activations); the session takes that getter as a parameter.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

DEAD_WARN, DEAD_BAD = 0.2, 0.5  # share of ReLU units never active on the probe batch
VANISHING = 1e-6  # gradient norm below which a layer has stopped learning
EXPLODING = 1e3  # gradient norm above which training is about to diverge
LEVELS = ("ok", "warn", "bad")

# Where a saved history keeps the figures health needs (training.history): its key -> the figures taken.
HISTORY_FIGURES = {"layers": ("grad_norm", "update_ratio"), "activations": ("dead_fraction",)}

Health = dict[str, tuple[str, str]]


def layer_health(layers: Any | None, activations: Any | None) -> Health:
    """node id -> (level "ok" / "warn" / "bad", the figures in words) from the latest LayerReport and
    ActivationReport (either may be None)."""
    return health_from_stats(report_stats(layers, activations))


def report_stats(layers: Any | None, activations: Any | None) -> dict[str, dict[str, float | None]]:
    """The figures ``health_from_stats`` judges, taken from a LayerReport and an ActivationReport."""
    stats: dict[str, dict[str, float | None]] = {}
    if layers is not None:
        for node_id, s in layers.layers.items():
            stats.setdefault(node_id, {}).update(grad_norm=float(s.grad_norm), update_ratio=float(s.update_ratio))
    if activations is not None:
        for node_id, s in activations.layers.items():
            if s.dead_fraction is not None:
                stats.setdefault(node_id, {})["dead_fraction"] = float(s.dead_fraction)
    return stats


def health_from_stats(stats: Mapping[str, Mapping[str, Any]] | None) -> Health:
    """node id -> (level, text) from figures by node id (see the module's doc). Figures that are not numbers
    are left out; a node without any figure gets no entry."""
    out: Health = {}
    for node_id, figures in (stats or {}).items():
        if not isinstance(node_id, str) or not isinstance(figures, Mapping):
            continue
        notes: list[str] = []
        level = "ok"
        g = _number(figures.get("grad_norm"), finite=False)
        if g is not None:
            if math.isnan(g):
                level = _worse(level, "bad")
                notes.append("the gradient is not a number: training diverged")
            elif g < VANISHING:
                level = _worse(level, "bad")
                notes.append(f"vanishing gradient (norm {g:.1e})")
            elif g > EXPLODING:
                level = _worse(level, "bad")
                notes.append(f"exploding gradient (norm {g:.1e})")
            else:
                ratio = _number(figures.get("update_ratio"))
                notes.append(f"gradient norm {g:.3g}" + (f", update/weight {ratio:.1e}" if ratio is not None else ""))
        dead = _number(figures.get("dead_fraction"))
        if dead is not None:
            level = _worse(level, "bad" if dead >= DEAD_BAD else "warn" if dead >= DEAD_WARN else "ok")
            notes.append(f"{dead:.0%} of ReLU units dead")
        if notes:
            out[node_id] = (level, "; ".join(notes))
    return out


def history_layer_stats(history: Mapping[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """The figures ``health_from_stats`` judges, from the last layer statistics and activations a history
    keeps (``"layers"`` and ``"activations"``, each ``{"step": n, "layers": {node id: {...}}}``, as
    ``training.history`` describes); None when it keeps neither."""
    if not isinstance(history, Mapping):
        return None
    merged: dict[str, dict[str, Any]] = {}
    for key, names in HISTORY_FIGURES.items():
        part = history.get(key)
        layers = part.get("layers") if isinstance(part, Mapping) else None
        if not isinstance(layers, Mapping):
            continue
        for node_id, stats in layers.items():
            if isinstance(stats, Mapping):
                merged.setdefault(node_id, {}).update({n: stats[n] for n in names if n in stats})
    return merged or None


def _worse(a: str, b: str) -> str:
    return max(a, b, key=LEVELS.index)


def _number(value: Any, finite: bool = True) -> float | None:
    """``value`` as a float; None when it is no number (or, with ``finite``, not a finite one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if finite and not math.isfinite(value):
        return None
    return float(value)
