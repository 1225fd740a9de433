"""Training inside the main window: the Dataset, Training, Dashboard and Predict docks, the Train menu, the
worker that trains, and the session it reports to.

The panels only show the session (``document.session``) and ask for edits by signals; this controller turns
those into undo commands, starts, pauses and stops the worker, and tells the session how the run goes
(``run_started`` ... ``run_finished``), so the run's state, the weights' status and the health tints have one
owner. The graph, the dataset and the settings are locked while a run is active (the canvas shows a banner,
the inspector is read-only, undo/redo and the Dataset and Training panels are disabled), because the weights
must match the project they are saved with. New, Open and Close ask first, with the run paused meanwhile.

The same worker trains a branch of a kept run (``branch``: ``prepare(branch_from=...)``) and, one point after
another, a sweep (``sweep``; ``sweep_runner.SweepRunner`` holds the plan and is handed each result).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from nnstudio.core.data.base import Dataset
from nnstudio.core.errors import NNStudioError
from nnstudio.core.weights_status import CURRENT
from nnstudio.ui.dashboard import TrainingDashboard
from nnstudio.ui.panels.dataset import DatasetPanel
from nnstudio.ui.panels.predict import PredictPanel
from nnstudio.ui.panels.training import TrainingPanel, format_eta
from nnstudio.ui.session_commands import push_dataset, push_training
from nnstudio.ui.sweep_runner import SweepRunner
from nnstudio.ui.workers.data_feeder import DataFeeder
from nnstudio.ui.workers.training_worker import TrainingWorker

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow

STOP_TIMEOUT_S = 15.0
TELEMETRY_INTERVAL_S = 0.5  # the canvas tint is judged again at most twice a second
PROGRESS_INTERVAL_S = 0.25  # the run's progress line, at most four times a second
CONTINUE, RESTART = "continue", "restart"
_NOTHING_TO_CONTINUE = {"out_of_date": "the weights were trained on an earlier version of the network",
                        "unknown": "the saved weights cannot be checked against the network"}


class TrainingController(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.session = session = window.document.session
        self.worker = TrainingWorker(self)
        self.feeder = DataFeeder(session, self)
        self.dataset_panel = DatasetPanel()
        self.training_panel = TrainingPanel()
        self.dashboard = TrainingDashboard()
        self.predict_panel = PredictPanel()
        for panel in (self.dataset_panel, self.training_panel, self.dashboard, self.predict_panel, window.summary,
                      window.problems):
            panel.setMinimumSize(120, 100)  # their rows of buttons must not stop the window getting small
        right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        window.add_dock(self.dataset_panel, "Dataset", "dock_dataset", right)
        window.add_dock(self.training_panel, "Training", "dock_training", right)
        window.add_dock(self.dashboard, "Training Dashboard", "dock_dashboard", bottom)
        window.add_dock(self.predict_panel, "Predict", "dock_predict", right)
        window.tabifyDockWidget(window.docks["dock_inspector"], window.docks["dock_dataset"])
        window.tabifyDockWidget(window.docks["dock_dataset"], window.docks["dock_training"])
        window.tabifyDockWidget(window.docks["dock_training"], window.docks["dock_predict"])
        # Beside the summary and problems rather than tabbed with them: Qt 6.11 leaves a stray tab bar in the
        # middle of the window when a dock is tabified into a split bottom area. Whether it shows is the
        # workspace's matter (workspaces.py): the Train workspace gives it the room.
        window.splitDockWidget(window.docks["dock_problems"], window.docks["dock_dashboard"], Qt.Orientation.Horizontal)
        window.docks["dock_inspector"].raise_()
        self._run_id = 0
        self._shown_state: tuple | None = None  # (phase, weights status, has weights) the actions show
        self._progress_at = 0.0
        self._telemetry_at = 0.0
        self._latest: dict[str, object] = {}  # telemetry drained but not yet handed to the session
        self.sweeper = SweepRunner(self)
        self._build_menu()

        session.project_replaced.connect(self._on_replaced)
        session.run_state_changed.connect(self._on_run_state)
        session.weights_status_changed.connect(self._on_run_state)
        session.health_changed.connect(self._apply_health)
        self.dataset_panel.bind_session(session, self.feeder)
        self.training_panel.bind_session(session)
        self.predict_panel.bind_session(session)
        self.dashboard.bind_session(session)
        self.dashboard.connect_worker(self.worker)
        self.dataset_panel.dataset_edited.connect(self.edit_dataset)
        self.training_panel.settings_edited.connect(self.edit_training)
        self.training_panel.start_requested.connect(self.start)
        self.training_panel.pause_requested.connect(self.pause_resume)
        self.training_panel.stop_requested.connect(self.stop)
        self.worker.started.connect(self._on_started)
        self.worker.state_changed.connect(self._on_worker_state)
        self.worker.drained.connect(self._on_drained)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self._on_replaced()

    # -- menu ----------------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = bar.addMenu("&Train") if help_menu is None else bar.insertMenu(help_menu, QMenu("&Train", self.window)).menu()
        menu.setObjectName("menu_train")
        self.start_action = self._action("&Start Training", "F5", self.start, "action_train_start")
        self.continue_action = self._action("&Continue Training", "Ctrl+F5", self.continue_training,
                                            "action_train_continue")
        self.continue_action.setStatusTip("Train more epochs from where the last run stopped, with its optimizer "
                                          "state")
        self.pause_action = self._action("&Pause", "F6", self.pause_resume, "action_train_pause")
        self.stop_action = self._action("S&top", "Shift+F5", self.stop, "action_train_stop")
        self.sweep_action = self._action("S&weep…", "Ctrl+Shift+F5", lambda: self.window.runs.ask_sweep(),
                                         "action_train_sweep")
        self.sweep_action.setStatusTip("Train one run per combination of settings (optimizers, learning rates ...) "
                                       "and compare them")
        for action in (self.start_action, self.continue_action, self.pause_action, self.stop_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.sweep_action)
        self.menu = menu
        menu.addSeparator()
        for name in ("dock_dataset", "dock_training", "dock_dashboard", "dock_predict"):
            menu.addAction(self.window.docks[name].toggleViewAction())

    def _action(self, text: str, shortcut: str, slot, name: str) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    # -- edits the panels ask for --------------------------------------------------------------------------
    def edit_dataset(self, config) -> bool:
        """The Dataset panel's edit, as an undo command (refused in the status bar while a run is active)."""
        return self._push(push_dataset, config)

    def edit_training(self, settings) -> bool:
        return self._push(push_training, settings)

    def _push(self, push, value) -> bool:
        try:
            return push(self.window.document.undo_stack, self.session, value)
        except NNStudioError as exc:
            self.window.show_status(str(exc), 6000)
            return False

    # -- the project ---------------------------------------------------------------------------------------
    def _on_replaced(self, _project=None) -> None:
        self._shown_state = None  # a new scene and new weights: show everything afresh
        self._on_run_state()
        self._apply_health()  # the canvas made fresh node items for the new graph

    def _apply_health(self, *_args) -> None:
        health = self.session.health
        for node_id in self.session.graph.nodes:
            item = self.window.scene.node_item(node_id)
            if item is not None:
                item.set_health(health.get(node_id))

    # -- running -------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """F5 and the Start button: train when the project can; a trained project whose weights are current
        asks whether to continue from them or start over. True when a run started."""
        if self.worker.running or not self._can_train("Cannot train yet"):
            return False
        resume = False
        if self.session.weights_status == CURRENT and self.session.project.weights:
            choice = self.window.ask_continue(int(self.session.training.get("epochs", 0) or 0))
            if choice not in (CONTINUE, RESTART):
                return False
            resume = choice == CONTINUE
        return self._begin(resume)

    def continue_training(self) -> bool:
        """Train > Continue Training: more epochs from the saved weights and optimizer state."""
        if self.worker.running or not self._can_train("Cannot continue training"):
            return False
        if self.session.weights_status != CURRENT or not self.session.project.weights:
            why = _NOTHING_TO_CONTINUE.get(self.session.weights_status, "the network has not been trained")
            self.window.show_error("Cannot continue training", f"There is nothing to continue: {why}. Start "
                                   "Training (F5) trains the network from the beginning.")
            return False
        return self._begin(True)

    def _can_train(self, title: str) -> bool:
        watcher = self.window.document.watcher
        if watcher.pending:  # an edit of this very turn of the event loop: judge the graph as it is now
            watcher.refresh()
        refusal = self.session.train_refusal()
        if refusal is None:
            return True
        problems = self.session.problems
        if problems:
            lines = [f"• {p.text()}" for p in problems[:10]]
            more = [f"… and {len(problems) - 10} more (see Problems)"] if len(problems) > 10 else []
            self.window.show_error(title, "Fix these problems first:\n" + "\n".join(lines + more))
        else:
            self.window.show_error(title, refusal[0].upper() + refusal[1:] + ".")
        return False

    def _begin(self, resume: bool, **overrides) -> bool:
        ok = self.begin_run(self.session.project, resume, **overrides)
        if ok:
            self.window.docks["dock_training"].raise_()
        return ok

    def begin_run(self, project, resume: bool = False, quiet: bool = False, **overrides) -> bool:
        """Start the worker on ``project`` (the session's, or a sweep point's copy of it) with ``overrides``
        for this run only (``branch_from`` a run id for a branch); the session hears of it as its run. A start
        that fails is a message (a dialog unless ``quiet``) and False."""
        session = self.session
        self._run_id = session.run_started(resume)
        self._latest, self._progress_at, self._telemetry_at = {}, 0.0, 0.0
        try:
            data = session.data if session.data_state == "loaded" and isinstance(session.data, Dataset) else None
            self.worker.start_project(project, base_dir=session.base_dir, resume=resume, dataset=data, **overrides)
        except Exception as exc:  # noqa: BLE001 - a start that fails is a message, the window stays
            session.run_failed(str(exc), run=self._run_id)
            if not quiet:
                self.window.show_error("Training failed", str(exc))
            return False
        return True

    @property
    def run_id(self) -> int:
        """The session's id of the run the worker trains (or trained last)."""
        return self._run_id

    def branch(self, run_id: str, overrides: dict) -> bool:
        """Train a new run from the kept weights of ``run_id`` with ``overrides`` (Runs > Branch)."""
        if self.worker.running or not self._can_train("Cannot branch"):
            return False
        return self._begin(True, branch_from=run_id, **overrides)

    def sweep(self, spec) -> bool:
        """Train every point of ``spec`` one after another (Train > Sweep)."""
        if self.worker.running or not self._can_train("Cannot run the sweep"):
            return False
        try:
            return self.sweeper.start(spec)
        except NNStudioError as exc:
            self.window.show_error("Cannot run the sweep", str(exc))
            return False

    def stop(self) -> None:
        """Stop (the whole sweep, when one runs)."""
        if self.sweeper.active:
            self.sweeper.stop()
        else:
            self.worker.stop()

    def pause_resume(self) -> None:
        if self.worker.state == "paused":
            self.worker.resume()
        else:
            self.worker.pause()

    def _on_worker_state(self, state: str) -> None:
        session, run = self.session, self._run_id
        if state == "paused":
            session.run_paused(run=run)
        elif state == "running":
            session.run_resumed(run=run)
        elif state == "stopping":
            session.run_stopping(run=run)

    def _on_run_state(self, *_args) -> None:
        """What may be done now follows the session's run (and the weights, for Continue); the run's progress
        alone changes nothing here (it comes four times a second)."""
        phase, status = self.session.run.phase, self.session.weights_status
        if (phase, status, self.session.project.weights is not None) == self._shown_state:
            return
        self._shown_state = (phase, status, self.session.project.weights is not None)
        active = self.session.run.active
        self.window.scene.set_locked(active)
        self.start_action.setEnabled(not active)
        self.continue_action.setEnabled(not active and self.session.weights_status == CURRENT
                                        and bool(self.session.project.weights))
        self.pause_action.setEnabled(phase in ("preparing", "running", "paused"))
        self.pause_action.setText("&Resume" if phase == "paused" else "&Pause")
        self.stop_action.setEnabled(phase in ("preparing", "running", "paused"))
        self.sweep_action.setEnabled(not active)

    def _on_started(self, info: dict) -> None:
        how = "Continuing training" if info.get("resume") else "Training"
        text = (f"{how} on {info.get('device', '?')}: {info.get('train_samples', 0):,} training samples, "
                f"{info.get('val_samples', 0):,} for validation")
        self.session.run_progress(0.0, text, run=self._run_id)
        notes = list(info.get("notes") or [])
        self.window.show_status(text + (f" ({'; '.join(notes)})" if notes else ""), 0)

    def _on_drained(self, contents) -> None:
        now = time.perf_counter()
        steps = getattr(contents, "steps", None)
        if steps:
            r = steps[-1]
            if now - self._progress_at >= PROGRESS_INTERVAL_S or r.step >= r.total_steps:
                self._progress_at = now
                self.session.run_progress(
                    r.progress, f"Epoch {r.epoch}/{r.epochs} · step {r.step:,}/{r.total_steps:,} · "
                    f"ETA {format_eta(r.eta_s)} · {r.samples_per_sec:,.0f} samples/s", run=self._run_id)
                self.sweeper.progress(r.epoch, r.epochs)
        # Layer and activation reports come at different moments: the session keeps the latest of each, so a
        # drain with only one of them does not flip the tint back and forth.
        for kind in ("layers", "activations"):
            if getattr(contents, kind, None) is not None:
                self._latest[kind] = getattr(contents, kind)
        epochs = getattr(contents, "epochs", None)
        if epochs:
            last = epochs[-1]
            self._latest.update(confusion=last.confusion, per_class=last.per_class, epoch=last.epoch)
        if self._latest and now - self._telemetry_at >= TELEMETRY_INTERVAL_S:  # tooltips cost GUI time
            self._flush_telemetry(now)

    def _flush_telemetry(self, now: float) -> None:
        self._telemetry_at = now
        latest, self._latest = self._latest, {}
        self.session.set_telemetry(run=self._run_id, **latest)

    def _on_finished(self, result) -> None:
        if self._latest:
            self._flush_telemetry(time.perf_counter())  # the final figures
        if self.sweeper.active:
            self.sweeper.finished(result)
            return
        if self.session.run_finished(result, run=self._run_id):
            self.window.show_status(self.session.run.summary, 20000)

    def _on_failed(self, message: str) -> None:
        if self.sweeper.active:
            self.sweeper.failed(message)
            return
        if self.session.run_failed(message, run=self._run_id):
            self.window.show_status("Training failed", 8000)
            self.window.show_error("Training failed", message)

    # -- closing and replacing -----------------------------------------------------------------------------
    def confirm_drop(self, what: str = "close") -> bool:
        """Before the project is closed or replaced (``what``: "close", "create a new project", "open another
        project"): while a run is active, ask with the run paused; if the person agrees, stop it and wait for
        the training thread to end (no crash, no hang). False keeps the project and the run going."""
        if not self.worker.running:
            return True
        paused_here = self.worker.state == "running"
        if paused_here:
            self.worker.pause()
        text = (f"Stop the sweep and {what}? The run training now is not kept; the sweep's runs that ended are."
                if self.sweeper.active else f"Stop training and {what}? The weights of this run are not kept.")
        answer = self.window.ask_question("Training is running", text)
        if answer != QMessageBox.StandardButton.Yes:
            if paused_here:
                self.worker.resume()
            return False
        if not self.worker.wait_stopped(STOP_TIMEOUT_S):
            self.window.show_status("Training did not stop in time: try again in a moment", 8000)
            return False
        self.session.run_abandoned(run=self._run_id)
        self.sweeper.abandon()
        return True

    def confirm_close(self) -> bool:
        return self.confirm_drop("close")
