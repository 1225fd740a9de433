"""The Runs panel in the window: a sweep of 3 optimizers x 2 seeds trains on the worker with a progress list and
lands as six runs of one sweep with a results table and overlaid curves; runs are renamed, pinned, deleted and
restored through the undo stack; a pinned run is branched with a lower learning rate and drawn from where it left;
Stop ends a sweep; the compared runs' history goes to one CSV."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QMessageBox

from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.paths import EXAMPLES
from nnstudio.core.sweep import SweepSpec
from nnstudio.ui.main_window import MainWindow

Yes = QMessageBox.StandardButton.Yes


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), autosave_folder=tmp_path / "auto")
    w.errors, w.questions = [], []
    w.show_error = lambda title, message: w.errors.append((title, message))
    w.ask_question = lambda title, text: (w.questions.append(title), Yes)[1]
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    w.ask_continue = lambda epochs: "restart"
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    assert w.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    assert w.training.edit_training(dict(w.session.training, epochs=3))
    assert w.training.edit_dataset(dict(w.session.dataset, samples=150))
    qtbot.waitUntil(lambda: w.session.readiness == "ready", timeout=20000)
    return w


class Answer:
    """A dialog whose exec() answers at once (Accepted), keeping the real one's spec() / overrides()."""

    def __init__(self, real, **kwargs):
        self.real, self.kwargs = real, kwargs

    def exec(self):
        return QDialog.DialogCode.Accepted

    def spec(self):
        return self.kwargs.get("spec") or self.real.spec()

    def overrides(self):
        return {**self.real.overrides(), **self.kwargs.get("overrides", {})}


def idle(w, qtbot, timeout=120000):
    qtbot.waitUntil(lambda: not w.training.worker.running and not w.training.sweeper.active
                    and not w.session.locked, timeout=timeout)


def test_a_sweep_of_three_optimizers_over_two_seeds_lands_as_six_runs(window, qtbot):
    w = window
    states_seen = []
    w.session.sweep_changed.connect(lambda s: s and states_seen.append(s.states))
    w.runs.make_sweep_dialog = lambda d: Answer(d, spec=SweepSpec({"optimizer": ["sgd", "adam", "rmsprop"]},
                                                                  seeds=2))
    w.training.sweep_action.trigger()
    assert w.session.locked and w.training.sweeper.active
    assert not w.training.sweep_action.isEnabled()
    idle(w, qtbot)
    runs = w.session.runs
    assert [(r["settings"]["optimizer"], r["settings"]["seed"], r["sweep"]) for r in runs] == [
        (o, s, "sweep-1") for o in ("sgd", "adam", "rmsprop") for s in (0, 1)]
    assert w.session.sweep.states == ("done",) * 6 and not w.session.sweep.running
    assert any("running" in states for states in states_seen)  # the progress list showed each point training
    assert w.session.project.sweep["values"] == {"optimizer": ["sgd", "adam", "rmsprop"]}
    # the progress list and the results table: one row per optimizer, mean ± spread over the two seeds
    assert w.runs.panel.sweep.states() == ["done"] * 6
    results = w.runs.panel.results
    assert results.isVisibleTo(w.runs.panel) and results.table.topLevelItemCount() == 3
    assert [results.cell(i, "optimizer") for i in range(3)] == ["sgd", "adam", "rmsprop"]
    assert all("±" in results.cell(i, results.columns[-1]) for i in range(3))
    # the sweep's runs are compared: six curves overlaid in the dashboard, each named in the legend
    assert w.session.compared == tuple(r["id"] for r in runs)
    plot = w.training.dashboard.compare
    assert plot.drawn == [r["id"] for r in runs]
    assert len({line.item.opts["pen"].color().name() for line in plot.loss_lines if line.solid}) == 6
    assert w.errors == [] and w.document.modified
    assert [r["settings"]["optimizer"] for r in runs] != [w.session.training["optimizer"]] * 6
    assert w.session.training["optimizer"] == "adam"  # the project's own settings are as they were


def test_runs_are_renamed_pinned_deleted_and_restored_with_undo(window, qtbot):
    w = window
    w.training.start_action.trigger()
    idle(w, qtbot)
    trained = fingerprint(w.session.graph)
    first_settings = w.session.training
    assert w.training.edit_training(dict(w.session.training, lr=0.05))
    w.training.start_action.trigger()
    idle(w, qtbot)
    stack = w.document.undo_stack
    panel = w.runs.panel
    panel.rename_requested.emit("run-1", "Baseline <b>")
    assert w.session.runs[0]["name"] == "Baseline <b>" and stack.undoText() == "Rename Run Run 1"
    panel.pin_requested.emit("run-1", True)
    assert w.session.runs[0]["pinned"]
    panel.delete_requested.emit(["run-2"])
    assert [r["id"] for r in w.session.runs] == ["run-1"]
    stack.undo()
    assert [r["id"] for r in w.session.runs] == ["run-1", "run-2"]
    # Restore run-1 after editing the network: its network and settings come back as one undo step
    dense = w.session.graph.nodes["dense_1"]
    w.document.undo_stack.push(__import__("nnstudio.ui.commands", fromlist=["x"]).SetParamsCommand(
        w.session.graph, dense.id, {"units": 7}))
    w.document.watcher.refresh()
    assert fingerprint(w.session.graph) != trained
    before = stack.count()
    panel.restore_requested.emit("run-1")
    assert stack.count() == before + 1 and fingerprint(w.session.graph) == trained
    assert w.session.training == w.session.runs[0]["settings"] and w.session.training["lr"] != 0.05
    assert first_settings["lr"] == w.session.training["lr"]
    stack.undo()
    assert w.session.graph.nodes["dense_1"].params["units"] == 7 and w.session.training["lr"] == 0.05


def test_a_pinned_run_is_branched_with_a_lower_rate_and_drawn_from_where_it_left(window, qtbot):
    w = window
    w.training.start_action.trigger()
    idle(w, qtbot)
    w.runs.pin("run-1", True)
    assert w.training.edit_training(dict(w.session.training, optimizer="sgd"))
    w.training.start_action.trigger()  # run-2, from scratch with sgd
    idle(w, qtbot)
    w.runs.make_branch_dialog = lambda run, epoch: Answer(
        __import__("nnstudio.ui.branch_dialog", fromlist=["x"]).BranchDialog(run, epoch, w),
        overrides={"lr": 0.001, "epochs": 2})
    assert w.runs.ask_branch("run-1")
    idle(w, qtbot)
    branch = w.session.runs[-1]
    assert branch["parent"] == {"run": "run-1", "epoch": 3} and branch["settings"]["lr"] == 0.001
    assert [r["epoch"] for r in branch["epochs"]] == [4, 5]
    w.session.compare(["run-1", branch["id"]])
    plot = w.training.dashboard.compare
    first = next(line for line in plot.loss_lines if line.run_id == branch["id"] and line.solid)
    assert first.x[0] == 3  # the branch is drawn from run-1's epoch 3
    assert w.errors == []


def test_stop_ends_a_sweep_and_keeps_the_runs_done(window, qtbot):
    w = window
    assert w.training.edit_training(dict(w.session.training, epochs=200))
    w.runs.make_sweep_dialog = lambda d: Answer(d, spec=SweepSpec({"lr": [0.01, 0.02, 0.03]}))
    w.training.sweep_action.trigger()
    qtbot.waitUntil(lambda: w.session.sweep.texts[0].startswith("epoch"), timeout=20000)  # training, not loading
    w.runs.panel.stop_sweep_requested.emit()
    idle(w, qtbot)
    assert w.session.sweep.states == ("stopped", "waiting", "waiting")
    assert len(w.session.runs) == 1 and w.session.runs[0]["stop_reason"] == "stopped"
    assert "Sweep sweep-1: 0 of 3 runs trained (stopped)" in w.statusBar().currentMessage()


def test_the_compared_runs_history_goes_to_one_csv(window, qtbot, tmp_path):
    w = window
    for _ in range(2):
        w.training.start_action.trigger()
        idle(w, qtbot)
    w.runs.ask_csv_path = lambda: str(tmp_path / "runs.csv")
    w.runs.panel.export_csv_requested.emit(["run-1", "run-2"])
    with open(tmp_path / "runs.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["run_id"], r["epoch"]) for r in rows] == [(f"run-{i}", str(e)) for i in (1, 2) for e in (1, 2, 3)]
    w.session.compare(["run-2"])
    written = w.training.dashboard.save_csv(str(tmp_path / "compared.csv"))
    with open(written, newline="", encoding="utf-8") as f:
        assert {r["run_id"] for r in csv.DictReader(f)} == {"run-2"}


def test_the_runs_compared_stay_drawn_while_the_next_run_trains(window, qtbot):
    w = window
    w.training.start_action.trigger()
    idle(w, qtbot)
    w.session.compare(["run-1"])
    plot = w.training.dashboard.compare
    assert plot.drawn == ["run-1"] and plot.said is None
    seen = []  # what the plot shows once the dashboard has started afresh for the next run
    w.training.worker.started.connect(lambda _info: seen.append((list(plot.drawn), plot.said, len(plot.loss_lines))))
    w.training.start_action.trigger()
    idle(w, qtbot)
    assert seen == [(["run-1"], None, 2)]
