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
    assert w.training.edit_training(dict(w.session.training, epochs=epochs))


def ready(w: MainWindow, qtbot) -> None:
    qtbot.waitUntil(lambda: w.session.readiness == "ready", timeout=20000)


def test_train_menu_trains_locks_the_canvas_and_keeps_the_result(window, qtbot):
    w = window
    set_epochs(w, 2)
    ready(w, qtbot)
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


def test_a_worker_error_is_shown_and_a_new_run_then_succeeds(window, qtbot, monkeypatch):
    from nnstudio.core.errors import TrainingError
    from nnstudio.core.training import project_run

    w = window
    set_epochs(w, 1)
    ready(w, qtbot)
    real = project_run.prepare

    def broken(*args, **kwargs):  # what the checks before training cannot foresee (a file gone meanwhile ...)
        raise TrainingError("the data file vanished while training started")

    monkeypatch.setattr(project_run, "prepare", broken)
    w.training.start()
    qtbot.waitUntil(lambda: bool(w.errors), timeout=30000)
    title, message = w.errors[0]
    assert title == "Training failed" and "vanished" in message
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=10000)
    assert not w.scene.locked and w.document.project.weights is None
    assert not w.session.run.active and "vanished" in w.session.run.summary
    monkeypatch.setattr(project_run, "prepare", real)
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
    ready(w, qtbot)
    w.training.start()
    qtbot.waitUntil(lambda: w.training.worker.state == "running", timeout=10000)
    w.reply = No
    assert not w.close()  # "No": the window stays and training goes on
    assert w.training.worker.running
    w.reply = Yes
    assert w.close()
    assert w.questions == ["Training is running", "Training is running"]
    assert not w.training.worker.running


def test_training_uses_the_data_the_window_loaded_and_checked_without_reading_them_again(window, qtbot,
                                                                                          monkeypatch):
    from nnstudio.core.data import registry

    w = window
    set_epochs(w, 1)
    ready(w, qtbot)
    checked = w.session.data

    def read_again(*_args, **_kwargs):
        raise AssertionError("the data were read a second time")

    monkeypatch.setattr(registry, "load_split", read_again)
    monkeypatch.setattr(registry, "load_dataset", read_again)
    w.training.start()
    qtbot.waitUntil(lambda: not w.session.run.active, timeout=60000)
    assert w.errors == [] and w.session.weights_status == "current"
    assert w.session.data is checked
    history = w.session.project.history
    assert sum(map(sum, history["confusion"])) == round(len(checked) * 0.2)  # the validation part of those data
