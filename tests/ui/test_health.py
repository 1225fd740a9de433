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


def test_the_canvas_tint_uses_the_latest_of_both_reports(qtbot, tmp_path, monkeypatch):
    """Layer and activation reports arrive in different drains: a drain with only one of them must not drop
    what the other said (the tint would flicker)."""
    from PySide6.QtCore import QSettings

    from nnstudio.core.paths import EXAMPLES
    from nnstudio.ui import training_controller
    from nnstudio.ui.main_window import MainWindow
    from nnstudio.ui.workers.training_worker import Drained

    monkeypatch.setattr(training_controller, "TELEMETRY_INTERVAL_S", 0.0)
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), autosave_folder=tmp_path / "a")
    qtbot.addWidget(w)
    assert w.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    c = w.training
    c._run_id = w.session.run_started()  # the reports of this run
    item = w.scene.node_item("dense_1")
    c._on_drained(Drained(activations=ActivationReport(1, {"dense_1": act(0.6)})))
    assert item.health[0] == "bad"
    c._on_drained(Drained(layers=LayerReport(2, {"dense_1": layer(0.5)})))  # gradients fine, no activations
    assert item.health[0] == "bad" and "60% of ReLU units dead" in item.health[1] and "gradient norm" in item.health[1]
    c._on_drained(Drained(activations=ActivationReport(3, {"dense_1": act(0.0)})))
    assert item.health[0] == "ok"
