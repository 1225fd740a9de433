"""Health levels from telemetry reports (the canvas tint)."""

import numpy as np

from nnstudio.core.training.reports import ActivationReport, ActivationStats, LayerReport, LayerStats
from nnstudio.ui.health import layer_health


def layer(grad_norm: float) -> LayerStats:
    z = np.zeros(3)
    return LayerStats(z, z, z, z, weight_norm=1.0, grad_norm=grad_norm, update_ratio=1e-3)


def act(dead: float | None) -> ActivationStats:
    z = np.zeros(3)
    return ActivationStats(z, z, 0.0, 1.0, dead)


def test_levels_follow_gradients_and_dead_units():
    health = layer_health(
        LayerReport(1, {"a": layer(0.5), "b": layer(1e-9), "c": layer(1e6), "d": layer(0.5)}),
        ActivationReport(1, {"a": act(0.0), "d": act(0.6), "e": act(0.3), "f": act(None)}),
    )
    assert health["a"][0] == "ok"
    assert health["b"][0] == "bad" and "vanishing" in health["b"][1]
    assert health["c"][0] == "bad" and "exploding" in health["c"][1]
    assert health["d"][0] == "bad" and "60% of ReLU units dead" in health["d"][1]
    assert health["e"][0] == "warn"
    assert "f" not in health


def test_no_reports_no_health():
    assert layer_health(None, None) == {}
