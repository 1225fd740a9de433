"""Training from the main window: Train menu, locked canvas, result kept in the project, health tint, errors in a
dialog, and closing the window mid-training."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from nnstudio.core.paths import EXAMPLES
from nnstudio.ui.main_window import MainWindow

Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), autosave_folder=tmp_path / "auto")
    w.errors, w.questions, w.reply = [], [], Yes
    w.show_error = lambda title, message: w.errors.append((title, message))
    w.ask_question = lambda title, text: (w.questions.append(title), w.reply)[1]
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    assert w.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    return w


def set_epochs(w: MainWindow, epochs: int) -> None:
    w.document.project.training = dict(w.document.project.training, epochs=epochs)
    w.training.bind_project()


def test_train_menu_trains_locks_the_canvas_and_keeps_the_result(window, qtbot):
    w = window
    set_epochs(w, 2)
    assert w.document.project.weights is None
    w.training.start_action.trigger()
    qtbot.waitUntil(lambda: w.training.worker.state != "idle", timeout=5000)
    assert w.scene.locked  # no edits while the weights are being made
    assert not w.training.start_action.isEnabled() and w.training.stop_action.isEnabled()
    qtbot.waitUntil(lambda: not w.training.worker.running and w.document.project.weights is not None, timeout=60000)
    assert not w.scene.locked
    project = w.document.project
    assert len(project.history["epochs"]) == 2
    assert set(project.weights) == {"dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias",
                                    "dense_3.weight", "dense_3.bias"}
    assert w.document.modified  # the weights are unsaved
    assert "val_accuracy=" in w.statusBar().currentMessage()
    tinted = {nid for nid in project.graph.nodes if w.scene.node_item(nid).health is not None}
    assert {"dense_1", "dense_2"} <= tinted  # the ReLU layers: dead-unit share from the probe batch
    assert "training:" in w.scene.node_item("dense_1").toolTip()
    assert w.errors == []
    probs = w.training.predict_panel.predict_point(0.5, 0.5)  # the Predict panel now uses the trained weights
    assert w.training.predict_panel.mode == "points" and abs(sum(probs.values()) - 1) < 1e-5


def test_a_worker_error_is_shown_and_a_new_run_then_succeeds(window, qtbot):
    w = window
    set_epochs(w, 1)
    good = dict(w.document.project.dataset)
    w.document.project.dataset = {"name": "digits"}  # 64 features per sample: does not fit the 2-input network
    w.training.bind_project()
    w.training.start()
    qtbot.waitUntil(lambda: bool(w.errors), timeout=30000)
    title, message = w.errors[0]
    assert title == "Training failed" and "Input" in message
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=10000)
    assert not w.scene.locked and w.document.project.weights is None
    w.document.project.dataset = good
    w.training.bind_project()
    w.training.start()
    qtbot.waitUntil(lambda: w.document.project.weights is not None, timeout=60000)
    assert len(w.errors) == 1


def test_a_graph_with_problems_is_not_trained(window, qtbot):
    w = window
    graph = w.document.graph
    graph.disconnect(graph.inputs_of("dense_1")[0])
    w.training.start()
    assert w.errors and "Fix these problems" in w.errors[0][1]
    assert not w.training.worker.running


def test_closing_mid_training_asks_stops_and_closes(window, qtbot):
    w = window
    set_epochs(w, 10_000)
    w.training.start()
    qtbot.waitUntil(lambda: w.training.worker.state == "running", timeout=10000)
    w.reply = No
    assert not w.close()  # "No": the window stays and training goes on
    assert w.training.worker.running
    w.reply = Yes
    assert w.close()
    assert w.questions == ["Training is running", "Training is running"]
    assert not w.training.worker.running
