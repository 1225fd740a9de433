"""Health of each layer while it trains, for the tint on the canvas: dead ReLU units, vanishing or exploding
gradients. Plain functions of the telemetry reports, so they are tested without a window."""

from __future__ import annotations

from typing import Any

DEAD_WARN, DEAD_BAD = 0.2, 0.5  # share of ReLU units never active on the probe batch
VANISHING = 1e-6  # gradient norm below which a layer has stopped learning
EXPLODING = 1e3  # gradient norm above which training is about to diverge


def layer_health(layers: Any | None, activations: Any | None) -> dict[str, tuple[str, str]]:
    """node id -> (level "ok" / "warn" / "bad", the figures in words) from the latest LayerReport and
    ActivationReport (either may be None)."""
    out: dict[str, tuple[str, str]] = {}
    notes: dict[str, list[str]] = {}
    levels: dict[str, str] = {}

    def note(node_id: str, level: str, text: str) -> None:
        notes.setdefault(node_id, []).append(text)
        order = ("ok", "warn", "bad")
        levels[node_id] = max(levels.get(node_id, "ok"), level, key=order.index)

    if layers is not None:
        for node_id, stats in layers.layers.items():
            g = stats.grad_norm
            if g < VANISHING:
                note(node_id, "bad", f"vanishing gradient (norm {g:.1e})")
            elif g > EXPLODING:
                note(node_id, "bad", f"exploding gradient (norm {g:.1e})")
            else:
                note(node_id, "ok", f"gradient norm {g:.3g}, update/weight {stats.update_ratio:.1e}")
    if activations is not None:
        for node_id, stats in activations.layers.items():
            dead = stats.dead_fraction
            if dead is None:
                continue
            level = "bad" if dead >= DEAD_BAD else "warn" if dead >= DEAD_WARN else "ok"
            note(node_id, level, f"{dead:.0%} of ReLU units dead")
    for node_id, texts in notes.items():
        out[node_id] = (levels[node_id], "; ".join(texts))
    return out
