"""Training inside the main window: the Dataset, Training and Dashboard docks, the Train menu, the canvas lock
while a run goes on, the health tint on the nodes, and keeping the result in the project.

Choice made for "edits during training": the graph is LOCKED while training runs (the canvas shows a banner,
the inspector is read-only, edits are refused with a message), because the trained weights must match the
graph they are saved with.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from nnstudio.core.training.project_run import headline, store_result
from nnstudio.ui.dashboard import TrainingDashboard
from nnstudio.ui.health import layer_health
from nnstudio.ui.panels.dataset import DatasetPanel
from nnstudio.ui.panels.predict import PredictPanel
from nnstudio.ui.panels.training import TrainingPanel
from nnstudio.ui.workers.training_worker import TrainingWorker

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow

STOP_TIMEOUT_S = 15.0
HEALTH_INTERVAL_S = 0.5  # the canvas tint is judged again at most twice a second


class TrainingController(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.worker = TrainingWorker(self)
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
        # middle of the window when a dock is tabified into a split bottom area.
        window.splitDockWidget(window.docks["dock_problems"], window.docks["dock_dashboard"], Qt.Orientation.Horizontal)
        window.docks["dock_inspector"].raise_()
        self.training_panel.attach(self.worker)
        self.dashboard.connect_worker(self.worker)
        self._health: dict[str, tuple[str, str]] = {}
        self._latest: dict[str, object] = {"layers": None, "activations": None}  # the newest telemetry reports
        self._health_at = 0.0
        self._build_menu()

        doc = window.document
        doc.project_replaced.connect(self.bind_project)
        self.training_panel.changed.connect(doc.mark_modified)
        self.dataset_panel.changed.connect(doc.mark_modified)
        self.worker.started.connect(self._on_started)
        self.worker.state_changed.connect(self._on_state)
        self.worker.drained.connect(self._on_drained)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.bind_project()

    # -- menu ----------------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = bar.addMenu("&Train") if help_menu is None else bar.insertMenu(help_menu, QMenu("&Train", self.window)).menu()
        menu.setObjectName("menu_train")
        self.start_action = QAction("&Start Training", self.window)
        self.start_action.setShortcut(QKeySequence("F5"))
        self.start_action.triggered.connect(self.start)
        self.pause_action = QAction("&Pause", self.window)
        self.pause_action.setShortcut(QKeySequence("F6"))
        self.pause_action.triggered.connect(self.pause_resume)
        self.stop_action = QAction("S&top", self.window)
        self.stop_action.setShortcut(QKeySequence("Shift+F5"))
        self.stop_action.triggered.connect(self.worker.stop)
        for action in (self.start_action, self.pause_action, self.stop_action):
            menu.addAction(action)
        menu.addSeparator()
        for name in ("dock_dataset", "dock_training", "dock_dashboard", "dock_predict"):
            menu.addAction(self.window.docks[name].toggleViewAction())
        self._on_state("idle")

    # -- project -------------------------------------------------------------------------------------------
    def bind_project(self, _project=None) -> None:
        """Show the current project's dataset, settings and (if it was trained) its curves."""
        doc = self.window.document
        base = doc.path.parent if doc.path is not None else None
        self.dataset_panel.set_project(doc.project, base)
        self.training_panel.set_project(doc.project, base)
        self.predict_panel.set_project(doc.project, base)
        self.dashboard.reset()
        # The dashboard shows up when there is something to plot: a trained project's curves, or a run.
        self.window.docks["dock_dashboard"].setVisible(bool(doc.project.history))
        if doc.project.history:
            self.dashboard.load_history(doc.project.history)
        self._health = {}  # the canvas makes fresh node items for the new graph, untinted

    # -- running -------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.worker.running:
            return
        problems = self.window.document.graph.validate()
        if problems:
            self.window.show_error("Cannot train yet", "Fix these problems first:\n" +
                                   "\n".join(f"• {p.text()}" for p in problems[:10]))
            return
        self.window.docks["dock_training"].raise_()
        self.training_panel.start_button.click()

    def pause_resume(self) -> None:
        if self.worker.state == "paused":
            self.worker.resume()
        else:
            self.worker.pause()

    def _on_started(self, info: dict) -> None:
        w, docks = self.window, self.window.docks
        self._latest = {"layers": None, "activations": None}
        self._health_at = 0.0
        self._set_health({})
        dock = docks["dock_dashboard"]
        if not dock.isVisible():
            dock.show()
            # Give the plots room while they are live: most of the bottom width, a good part of the height
            # (only when the dock appears: a size the person chose stays).
            row = [docks["dock_summary"], docks["dock_problems"], dock]
            width = sum(d.width() for d in row if d.isVisible())
            w.resizeDocks(row, [200, 100, max(400, width - 300)], Qt.Orientation.Horizontal)
            w.resizeDocks([dock], [max(380, w.height() // 2)], Qt.Orientation.Vertical)
        dock.raise_()
        self.window.show_status(f"Training on {info.get('device', '?')}", 0)

    def _on_state(self, state: str) -> None:
        running = state in ("running", "paused", "stopping")
        self.window.scene.set_locked(running)
        self.start_action.setEnabled(not running)
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.pause_action.setText("&Resume" if state == "paused" else "&Pause")
        self.stop_action.setEnabled(state in ("running", "paused"))

    def _on_drained(self, contents) -> None:
        if contents.layers is None and contents.activations is None:
            return
        # Layer and activation reports come at different moments: judge each node on the latest of both, so
        # that a drain with only one of them does not flip the tint back and forth.
        if contents.layers is not None:
            self._latest["layers"] = contents.layers
        if contents.activations is not None:
            self._latest["activations"] = contents.activations
        now = time.perf_counter()
        if now - self._health_at >= HEALTH_INTERVAL_S:  # the tint changes slowly; tooltips cost GUI time
            self._health_at = now
            self._set_health(layer_health(self._latest["layers"], self._latest["activations"]))

    def _set_health(self, health: dict[str, tuple[str, str]]) -> None:
        self._health = health
        for node_id in self.window.document.graph.nodes:
            item = self.window.scene.node_item(node_id)
            if item is not None:
                item.set_health(health.get(node_id))

    def _on_finished(self, result) -> None:
        if self._latest["layers"] is not None or self._latest["activations"] is not None:
            self._set_health(layer_health(self._latest["layers"], self._latest["activations"]))  # the final figures
        project = self.window.document.project
        store_result(project, result)
        self.window.document.mark_modified()
        doc = self.window.document
        self.predict_panel.set_project(project, doc.path.parent if doc.path is not None else None)
        task = next((n.params.get("task", "multiclass") for n in project.graph.nodes.values() if n.spec.is_output),
                    "multiclass")
        self.window.show_status(f"Training {result.stop_reason.replace('_', ' ')}: {headline(result, task)}", 0)

    def _on_failed(self, message: str) -> None:
        self.window.show_status("Training failed", 0)
        self.window.show_error("Training failed", message)

    # -- closing -------------------------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Called before the window closes: while training runs, ask; if the person agrees, stop the run and
        wait for the training thread to end (no crash, no hang). False keeps the window open."""
        if not self.worker.running:
            return True
        answer = self.window.ask_question(
            "Training is running", "Stop training and close? The weights of this run are not kept.")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        return self.worker.wait_stopped(STOP_TIMEOUT_S)
