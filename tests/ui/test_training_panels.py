"""The training panel as a view of the Session: the settings form (every setting, the device, refused values in
plain words, edits only proposed through ``settings_edited``), Start / Pause / Stop as requests, and the bar,
the state line and the lock from ``session.run``. Driving a real TrainingWorker from the window is
test_training_in_window's."""

from __future__ import annotations

import copy
import re

import pytest
from PySide6.QtCore import QObject, Signal

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.registry import load_split
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.model import Project
from nnstudio.core.session import Session
from nnstudio.core.session_state import LOCKED
from nnstudio.core.training.config import PARAMS, TrainConfig
from nnstudio.core.training.device import available_devices
from nnstudio.core.training.reports import StepReport, TrainResult
from nnstudio.ui.panels.training import (
    NOT_STARTED,
    START_TIP,
    STOPPING,
    TrainingPanel,
    format_eta,
)
from nnstudio.ui.workers.training_worker import Drained


def loaded(session: Session) -> Session:
    key = session.data_key
    assert session.data_loading(key) and session.data_loaded(key, load_split(session.project.dataset))
    return session


def result_for(graph) -> TrainResult:
    weights = {k: v.detach().clone() for k, v in compile_graph(graph, seed=0).module.state_dict().items()}
    return TrainResult(history={"epochs": [{"epoch": 1, "train_loss": 0.4, "val_accuracy": 1.0}]},
                       state_dict=weights, stop_reason="completed", best_epoch=1, final={"val_accuracy": 1.0})


def finished(session: Session) -> Session:
    run = session.run_started()
    assert session.run_finished(result_for(session.graph), run=run)
    return session


@pytest.fixture
def session():
    return loaded(Session(EXAMPLES["spiral_mlp"]()))


@pytest.fixture
def panel(qtbot, session):
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.bind_session(session)
    return p


@pytest.fixture
def applied(panel, session):
    """The panel's edits applied to the session, as the controller's undo commands do."""
    panel.settings_edited.connect(session.set_training)
    return panel


def editor(form_owner, name):
    for form in form_owner.forms:
        if name in form.editors:
            return form, form.editors[name]
    raise KeyError(name)


def full(**changes):
    """The spiral example's whole settings with ``changes``."""
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **EXAMPLES["spiral_mlp"]().training, **changes}).to_dict()


class FakeWorker(QObject):
    """The signals of a TrainingWorker the panel may listen to, emitted by hand."""

    started = Signal(dict)
    drained = Signal(object)
    state_changed = Signal(str)
    finished = Signal(object)
    failed = Signal(str)


def step(epoch=2, step_no=1200, total=7500) -> Drained:
    return Drained(steps=[StepReport(epoch, 100, step_no, total, 0.5, 0.01, 1234.0, 3.0, 65.0)])


# -- the settings ------------------------------------------------------------------------------------------
def test_form_has_every_setting_and_shows_the_session(panel):
    names = {n for form in panel.forms for n in form.editors}
    assert names == {p.name for p in PARAMS}
    assert editor(panel, "lr")[1].value() == pytest.approx(0.01)
    assert editor(panel, "epochs")[1].value() == 100
    assert editor(panel, "optimizer")[1].currentData() == "adam"


def test_device_list_offers_cpu(panel):
    ids = panel.device_ids()
    assert ids[0] == "auto" and "cpu" in ids
    assert ids[1:] == [d["id"] for d in available_devices()]


def test_a_saved_device_missing_here_is_shown(panel, session):
    project = EXAMPLES["spiral_mlp"]()
    project.training["device"] = "cuda:7"
    session.replace(project)
    assert panel.device.currentData() == "cuda:7" and "not available" in panel.device.currentText()


def test_edits_propose_the_whole_settings_which_the_session_takes(applied, session, qtbot):
    _, lr = editor(applied, "lr")
    with qtbot.waitSignal(applied.settings_edited) as blocker:
        lr.setValue(0.05)
    assert blocker.args[0] == full(lr=0.05)
    assert session.training == full(lr=0.05)
    with qtbot.waitSignal(applied.settings_edited):
        applied.device.setCurrentIndex(applied.device.findData("cpu"))
    assert session.training["device"] == "cpu" and session.training["lr"] == 0.05


def test_the_panel_never_writes_the_project_itself(panel, session, qtbot):
    before = copy.deepcopy(session.project.training)
    with qtbot.waitSignal(panel.settings_edited) as blocker:
        editor(panel, "batch_size")[1].setValue(64)
    assert blocker.args[0]["batch_size"] == 64
    with qtbot.waitSignal(panel.settings_edited) as blocker:
        panel.device.setCurrentIndex(panel.device.findData("cpu"))
    assert blocker.args[0]["device"] == "cpu"
    assert session.project.training == before  # only proposed: nobody applied it
    assert editor(panel, "batch_size")[1].value() == 32  # so the form shows the session's value again
    assert panel.device.currentData() == "auto"


def test_a_refused_value_is_explained_and_not_sent(applied, session, qtbot):
    form, lr = editor(applied, "lr")
    with qtbot.assertNotEmitted(applied.settings_edited):
        lr.setValue(0.0)
    assert session.training["lr"] == 0.01
    assert form.problem("lr") == "Learning rate must be at least 1e-08, not 0"
    assert form.problems["lr"].isVisibleTo(applied)
    editor(applied, "batch_size")[1].setValue(64)  # another edit rebuilds the form: the refused entry stays
    assert lr.value() == 0.0 and form.problem("lr") is not None
    lr.setValue(0.02)
    assert form.problem("lr") is None and session.training["lr"] == 0.02 and session.training["batch_size"] == 64


def test_a_bad_setting_from_the_file_is_shown_and_other_edits_wait_for_it(applied, session, qtbot):
    project = EXAMPLES["spiral_mlp"]()
    project.training["optimizer"] = "bogus"
    session.replace(project)
    form, optimizer = editor(applied, "optimizer")
    assert "Optimizer must be one of" in form.problem("optimizer")
    with qtbot.assertNotEmitted(applied.settings_edited):
        editor(applied, "lr")[1].setValue(0.05)
    assert applied.message.isVisibleTo(applied) and "Optimizer must be one of" in applied.message.text()
    assert editor(applied, "lr")[1].value() == pytest.approx(0.05)  # kept on screen
    with qtbot.waitSignal(applied.settings_edited) as blocker:
        optimizer.setCurrentIndex(optimizer.findData("sgd"))
    assert blocker.args[0]["optimizer"] == "sgd" and blocker.args[0]["lr"] == 0.05
    assert session.training["optimizer"] == "sgd" and not applied.message.isVisibleTo(applied)


def test_the_form_follows_the_session(panel, session):
    previous = session.set_training(full(lr=0.2, optimizer="sgd"))
    assert editor(panel, "lr")[1].value() == pytest.approx(0.2)
    assert editor(panel, "momentum")[1].isEnabled()
    session.set_training(previous)  # undo
    assert editor(panel, "lr")[1].value() == pytest.approx(0.01)
    assert not editor(panel, "momentum")[1].isEnabled()
    session.set_training(full(lr=0.001))
    assert editor(panel, "lr")[1].value() == pytest.approx(0.001)
    session.replace(Project(training={"epochs": 7}))
    assert editor(panel, "epochs")[1].value() == 7 and editor(panel, "lr")[1].value() == pytest.approx(1e-3)


def test_a_rebuild_leaves_an_unchanged_editor_alone(panel, session, qtbot):
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    _, lr = editor(panel, "lr")
    lr.setFocus()
    qtbot.waitUntil(lr.hasFocus, timeout=2000)
    lr.lineEdit().setText("0.05")  # being typed: not yet an edit (no keyboard tracking)
    session.set_training(full(batch_size=64))
    assert editor(panel, "batch_size")[1].value() == 64
    assert lr.hasFocus() and lr.lineEdit().text() == "0.05"


def test_settings_that_do_not_apply_are_greyed_out(applied):
    form, optimizer = editor(applied, "optimizer")
    assert not form.editors["momentum"].isEnabled()
    optimizer.setCurrentIndex(optimizer.findData("sgd"))
    assert form.editors["momentum"].isEnabled() and form.editors["nesterov"].isEnabled()
    sform, schedule = editor(applied, "schedule")
    assert not sform.editors["step_size"].isEnabled()
    schedule.setCurrentIndex(schedule.findData("step"))
    assert sform.editors["step_size"].isEnabled() and not sform.editors["plateau_factor"].isEnabled()


# -- the run -----------------------------------------------------------------------------------------------
def test_the_buttons_only_ask(panel, session, qtbot):
    assert panel.start_button.isEnabled() and not panel.pause_button.isEnabled()
    with qtbot.waitSignal(panel.start_requested):
        panel.start_button.click()
    assert not session.run.active  # the controller starts runs, not the panel
    run = session.run_started()
    with qtbot.waitSignal(panel.pause_requested):
        panel.pause_button.click()
    with qtbot.waitSignal(panel.stop_requested):
        panel.stop_button.click()
    assert session.run.phase == "preparing" and session.run.run == run


def test_buttons_bar_and_state_line_follow_the_run(panel, session):
    run = session.run_started()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert panel.progress_label.text().startswith("Preparing")
    session.run_progress(0.25, "Epoch 1/4", run=run)
    assert panel.progress.value() == 250 and panel.progress.format() == "25%"
    assert panel.progress_label.text() == "Epoch 1/4"
    session.run_paused(run=run)
    assert panel.pause_button.text() == "Resume" and panel.pause_button.isEnabled()
    assert panel.progress_label.text() == "Paused. Epoch 1/4"
    session.run_resumed(run=run)
    assert panel.pause_button.text() == "Pause"
    session.run_stopping(run=run)
    assert panel.progress_label.text() == STOPPING
    assert not panel.pause_button.isEnabled() and not panel.stop_button.isEnabled()
    assert not panel.start_button.isEnabled()
    session.run_finished(result_for(session.graph), run=run)
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.progress.value() == 1000 and panel.progress.format() == "100%"
    assert panel.progress_label.text() == "Training completed: val_accuracy=1.000"


def test_the_form_is_locked_while_a_run_is_active(panel, session):
    run = session.run_started()
    assert not panel.settings_area.isEnabled() and not panel.device.isEnabled()
    assert not panel.start_button.isEnabled()
    assert panel.lock_note.isVisibleTo(panel) and panel.lock_note.text() == LOCKED
    session.run_failed("the data do not fit", run=run)
    assert panel.settings_area.isEnabled() and panel.device.isEnabled() and panel.start_button.isEnabled()
    assert not panel.lock_note.isVisibleTo(panel)
    assert panel.progress_label.text() == "Training failed: the data do not fit"


def test_a_new_project_shows_no_old_run(panel, session):
    finished(session)
    assert "val_accuracy=1.000" in panel.progress_label.text() and panel.progress.value() == 1000
    session.replace(Project())
    assert panel.progress_label.text() == NOT_STARTED
    assert panel.progress.value() == 0 and panel.progress.format() == ""
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.settings_area.isEnabled()


def test_the_live_line_comes_from_the_worker_while_the_run_is_active(panel, session):
    worker = FakeWorker()
    panel.attach(worker)
    worker.drained.emit(step())
    assert panel.progress_label.text() == NOT_STARTED  # no run: a stray report is ignored
    run = session.run_started()
    worker.started.emit({"device": "cpu", "train_samples": 480, "val_samples": 120})
    assert panel.progress_label.text() == "Training on cpu: 480 training samples, 120 for validation"
    panel._progress_at = 0.0
    worker.drained.emit(step())
    assert re.match(r"Epoch 2/100 · step 1,200/7,500\nETA 1:05 · 1,234 samples/s$", panel.progress_label.text())
    session.run_progress(0.16, "Epoch 2/100", run=run)
    assert panel.progress.value() == 160 and panel.progress_label.text().startswith("Epoch 2/100 · step")
    session.run_paused(run=run)
    assert panel.progress_label.text().startswith("Paused. Epoch 2/100 · step")
    worker.state_changed.emit("idle")  # the worker's own state does not drive the buttons
    assert not panel.start_button.isEnabled() and panel.pause_button.text() == "Resume"
    session.run_failed("stopped while loading", run=run)
    assert panel.progress_label.text() == "Training failed: stopped while loading"
    session.run_started()
    assert "Epoch" not in panel.progress_label.text()  # a new run does not show the old one's line


def test_a_new_project_clears_the_live_line(panel, session):
    worker = FakeWorker()
    panel.attach(worker)
    session.run_started()
    panel._progress_at = 0.0
    worker.drained.emit(step())
    assert "samples/s" in panel.progress_label.text()
    session.replace(Project())
    assert panel.progress_label.text() == NOT_STARTED and panel.start_button.isEnabled()
    panel._progress_at = 0.0
    worker.drained.emit(step())  # a late report of the dropped run
    assert panel.progress_label.text() == NOT_STARTED


def test_start_says_why_training_cannot_start(qtbot):
    session = Session(EXAMPLES["spiral_mlp"]())  # the data are not loaded yet
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.bind_session(session)
    assert panel.start_button.isEnabled()  # the controller checks and explains
    assert "still being loaded" in panel.start_button.toolTip()
    loaded(session)
    assert panel.start_button.toolTip() == START_TIP


def test_eta_format():
    assert format_eta(5) == "0:05" and format_eta(3725) == "1:02:05" and format_eta(float("nan")) == "–"
