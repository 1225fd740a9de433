"""Issue 11 in the window: one test per symptom a new user met, each of which failed before the panels derived
what they show from the session. Every dialog is replaced by a recorder."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from nnstudio.core.paths import EXAMPLES
from nnstudio.core.project import load_project, save_project
from nnstudio.core.training.project_run import prepare, store_result, train_prepared
from nnstudio.core.weights_status import OUT_OF_DATE_TEXT
from nnstudio.ui.main_window import MainWindow
from nnstudio.ui.workers import training_worker

Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
SPIRAL = EXAMPLES / "spiral_mlp.nnstudio"


@pytest.fixture(autouse=True)
def one_training_thread(monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory):
    """The spiral example trained for 3 epochs (by the core, as `nnstudio train` would) and saved."""
    project = load_project(SPIRAL)
    project.training = dict(project.training, epochs=3)
    store_result(project, train_prepared(prepare(project)))
    path = tmp_path_factory.mktemp("trained") / "spiral.nnstudio"
    save_project(project, path)
    return path


@pytest.fixture
def make_window(qtbot, tmp_path):
    def make() -> MainWindow:
        w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                       autosave_folder=tmp_path / "auto")
        w.errors, w.questions, w.reply, w.continue_reply = [], [], Yes, "continue"
        w.show_error = lambda title, message: w.errors.append((title, message))
        w.ask_question = lambda title, text: (w.questions.append((title, w.training.worker.state)), w.reply)[1]
        w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
        w.ask_continue = lambda epochs: (w.questions.append(("continue", epochs)), w.continue_reply)[1]
        qtbot.addWidget(w)
        w.resize(1280, 860)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make


def ready(w: MainWindow, qtbot) -> None:
    """Wait until the window's data are loaded and checked."""
    qtbot.waitUntil(lambda: w.session.readiness != "checking", timeout=20000)


def set_epochs(w: MainWindow, epochs: int) -> None:
    assert w.training.edit_training(dict(w.session.training, epochs=epochs))


def train(w: MainWindow, qtbot, epochs: int = 2) -> None:
    set_epochs(w, epochs)
    w.training.start_action.trigger()
    qtbot.waitUntil(lambda: not w.session.run.active, timeout=60000)
    assert w.errors == [] and w.session.weights_status == "current"


def tinted(w: MainWindow) -> set[str]:
    return {nid for nid in w.session.graph.nodes if w.scene.node_item(nid).health is not None}


# -- 1. a new project has no dataset, and the Dataset panel says so ----------------------------------------------
def test_1_a_new_project_shows_no_dataset_and_choosing_spiral_sets_it(make_window, qtbot):
    w = make_window()
    panel = w.training.dataset_panel
    assert w.session.dataset is None
    assert panel.chooser.currentData() in (None, "")  # the placeholder, not "Spiral"
    w.training.start_action.trigger()
    assert w.errors and "no dataset" in w.errors[-1][1]
    panel.chooser.setCurrentIndex(panel.chooser.findData("spiral"))
    assert w.session.dataset is not None and w.session.dataset["name"] == "spiral"
    assert w.document.modified and w.acts.undo.isEnabled()
    w.acts.undo.trigger()
    assert w.session.dataset is None and not w.document.modified
    assert panel.chooser.currentData() in (None, "")


# -- 2. data that do not fit are a problem everywhere, before training ---------------------------------------------
def test_2_data_that_do_not_fit_are_in_problems_the_status_bar_and_stop_f5(make_window, qtbot):
    w = make_window()
    assert w.load_file(SPIRAL)
    ready(w, qtbot)
    assert w.state_label.text() == "ready"
    assert w.training.edit_dataset({"name": "digits"})  # 64 features: the Input takes 2
    ready(w, qtbot)
    problems = [p for p in w.session.problems if p.source == "data"]
    assert problems and problems[0].node_id is not None  # on the Input, so clicking it focuses the node
    assert w.problems.item_for(problems[0].node_id) is not None
    assert "problem" in w.state_label.text()
    w.training.start_action.trigger()
    assert not w.training.worker.running
    assert w.errors and "Fix these problems" in w.errors[-1][1] and problems[0].message in w.errors[-1][1]
    w.errors.clear()
    w.training.training_panel.start_requested.emit()  # the Start button asks the same question as F5
    assert not w.training.worker.running and w.errors and "Fix these problems" in w.errors[-1][1]


# -- 3. an edit after training marks the weights out of date everywhere; undo brings them back -------------------
def test_3_an_edit_after_training_marks_the_old_model_and_undo_makes_it_current(make_window, qtbot, trained_file):
    w = make_window()
    assert w.load_file(trained_file)
    ready(w, qtbot)
    assert w.session.weights_status == "current" and tinted(w)
    from nnstudio.ui.commands import SetParamsCommand

    w.document.undo_stack.push(SetParamsCommand(w.document.graph, "dense_1", {"units": 17}))
    w.document.watcher.refresh()
    assert w.session.weights_status == "out_of_date"
    assert tinted(w) == set()
    assert OUT_OF_DATE_TEXT in w.training.predict_panel.banner_text()
    assert OUT_OF_DATE_TEXT in w.training.dashboard.banner_text()
    assert not w.training.predict_panel.prediction_enabled()
    w.acts.undo.trigger()
    w.document.watcher.refresh()
    assert w.session.weights_status == "current" and tinted(w)
    assert w.training.predict_panel.prediction_enabled()
    assert OUT_OF_DATE_TEXT not in w.training.dashboard.banner_text()


# -- 4. New after training leaves nothing of the old run -----------------------------------------------------------
def test_4_new_after_training_leaves_nothing_of_the_run_and_is_not_modified(make_window, qtbot):
    w = make_window()
    assert w.load_file(SPIRAL)
    ready(w, qtbot)
    train(w, qtbot)
    assert "val_accuracy" in w.statusBar().currentMessage() and w.document.modified
    assert w.new_project()
    panel = w.training.training_panel
    shown = " ".join(label.text() for label in panel.findChildren(type(w.state_label)))
    assert "100%" not in shown and "val_accuracy" not in shown and "Finished" not in shown
    assert panel.progress.value() <= 0
    assert w.statusBar().currentMessage() == ""
    assert not w.document.modified and not w.isWindowModified()
    assert w.session.run.summary == "" and w.training.predict_panel.title_text() in ("", "Predict")


# -- 5. reopening a trained project shows every tab as it ended --------------------------------------------------
def test_5_reopening_a_trained_project_restores_the_dashboard_panel_and_tints(make_window, qtbot, trained_file):
    w = make_window()
    assert w.load_file(trained_file)
    ready(w, qtbot)
    board = w.training.dashboard
    assert board.step_loss_points() > 0
    saved = load_project(trained_file).history
    assert board.confusion_total() == sum(map(sum, saved["confusion"])) > 0
    assert board.histogram_layers()
    assert tinted(w)
    assert w.session.weights_status == "current"
    assert w.training.continue_action.isEnabled()
    panel = w.training.training_panel  # how the last run ended, not "Not started"
    assert panel.progress_label.text().startswith("Trained for 3 epochs (completed): val_accuracy=")
    assert panel.progress.value() == panel.progress.maximum()


# -- 6. F5 on a trained project asks; Continue goes on from where it stopped ----------------------------------------
def test_6_f5_on_a_trained_project_asks_and_continue_goes_on(make_window, qtbot, trained_file):
    w = make_window()
    assert w.load_file(trained_file)
    ready(w, qtbot)
    before = len(w.session.project.history["epochs"])
    w.continue_reply = None
    w.training.start_action.trigger()
    assert w.questions == [("continue", 3)] and not w.training.worker.running
    w.continue_reply = "continue"
    set_epochs(w, 2)
    w.training.start_action.trigger()
    qtbot.waitUntil(lambda: not w.session.run.active, timeout=60000)
    epochs = [r["epoch"] for r in w.session.project.history["epochs"]]
    assert len(epochs) == before + 2 and epochs == sorted(epochs)
    w.continue_reply = "restart"
    w.training.start_action.trigger()
    qtbot.waitUntil(lambda: not w.session.run.active, timeout=60000)
    assert [r["epoch"] for r in w.session.project.history["epochs"]] == [1, 2]


# -- 7. while a run is active ------------------------------------------------------------------------------------
def test_7_while_training_nothing_says_ready_edits_are_off_and_new_asks_with_the_run_paused(make_window, qtbot):
    w = make_window()
    assert w.load_file(SPIRAL)
    ready(w, qtbot)
    set_epochs(w, 10_000)  # an undo command: something Undo could take back
    w.training.start_action.trigger()
    qtbot.waitUntil(lambda: w.session.run.phase == "running", timeout=20000)
    assert w.state_label.text() != "ready" and "train" in w.state_label.text()
    assert w.problems.list.item(0).text().startswith("Training: ")  # not "ready to train"
    assert not w.acts.undo.isEnabled() and not w.acts.redo.isEnabled()
    assert not w.training.dataset_panel.chooser.isEnabled()
    count = w.document.undo_stack.count()
    assert not w.training.edit_dataset({"name": "moons"}) and w.session.dataset["name"] == "spiral"
    assert w.document.undo_stack.count() == count
    w.reply = No
    assert not w.new_project()
    assert w.questions == [("Training is running", "paused")]  # asked with the run paused ...
    assert w.training.worker.state == "running"  # ... and it goes on after "No"
    w.reply = Yes
    assert w.new_project()
    assert not w.training.worker.running and w.session.dataset is None and not w.session.run.active
    assert w.acts.undo.isEnabled() is False and w.training.dataset_panel.chooser.isEnabled()
