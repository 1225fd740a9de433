"""The live training dashboard: loss / metric / learning-rate curves, weight and gradient histograms,
activations, the decision boundary and the confusion matrix, in tabs.

It draws what the training worker drains (``feed``), never per batch: each ``feed`` stores the reports in the
plots' buffers and then draws one frame -- the visible plots with something new -- unless the drawing budget
(below) says to wait, in which case a timer draws it a little later. A hidden tab draws when it is shown.
``load_history`` shows the curves of a project trained earlier.

Integration (main window)::

    dashboard = TrainingDashboard()
    dashboard.connect_worker(worker)   # drained -> feed, finished -> finish, failed -> fail
    canvas selection -> dashboard.select_layer(node_id)
    dashboard.layer_selected -> select the node on the canvas (optional)
    on opening a trained project: dashboard.load_history(project.history, classes)
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Any, Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSplitter, QTabWidget, QVBoxLayout, QWidget

from nnstudio.core.training.reports import EpochReport
from nnstudio.ui.plots import LivePlot, PaintClock, export
from nnstudio.ui.plots.activations import ActivationsPlot
from nnstudio.ui.plots.boundary import BoundaryPlot
from nnstudio.ui.plots.confusion import ConfusionPlot
from nnstudio.ui.plots.histograms import HistogramPlot
from nnstudio.ui.plots.loss import LearningRatePlot, LossPlot, MetricsPlot
from nnstudio.ui.safe_text import clean, one_line, plain
from nnstudio.ui.workers.training_worker import Drained

log = logging.getLogger(__name__)


def _is_epoch(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and abs(value) < 1e9


# Drawing runs on the GUI thread holding Python's GIL, which the training thread needs too (PySide keeps the GIL
# through QPainter calls). So the dashboard spends at most DRAW_BUDGET of the time drawing, over any
# BUDGET_WINDOW_S (see DrawBudget); frames come between FRAME_MIN_S (20 Hz) and FRAME_MAX_S (5 Hz) apart, the
# latter even when frames cost more than the budget (a very slow machine still sees the plots move).
DRAW_BUDGET = 0.07
BUDGET_WINDOW_S = 1.0
FRAME_MIN_S = 0.05
FRAME_MAX_S = 0.2


class DrawBudget:
    """When the next frame may be drawn so that drawing takes at most ``share`` of any ``window`` seconds.

    A sliding window rather than a pause proportional to the last frame: the one costly frame after a tab is
    shown or a range changes does not slow the cheap frames after it, as long as the window's total fits."""

    def __init__(self, share: float = DRAW_BUDGET, window: float = BUDGET_WINDOW_S,
                 min_gap: float = FRAME_MIN_S, max_gap: float = FRAME_MAX_S) -> None:
        self.share, self.window, self.min_gap, self.max_gap = share, window, min_gap, max_gap
        self.frames: deque[tuple[float, float]] = deque()  # (start time, CPU seconds) of the window's frames

    def spent(self, now: float) -> float:
        edge = now - self.window + 1e-9  # a frame planned for the moment an old one leaves must not count it
        while self.frames and self.frames[0][0] <= edge:
            self.frames.popleft()
        return sum(cost for _t, cost in self.frames)

    def next_frame(self, start: float, cost: float) -> float:
        """Record a frame that began at ``start`` and cost ``cost`` CPU seconds; when the next may begin
        (expecting it to cost as much)."""
        self.frames.append((start, cost))
        allowed = self.share * self.window - cost  # what the window may hold before the next frame
        total = self.spent(start)
        at = start + self.min_gap
        if total > allowed:
            for t, c in self.frames:  # wait until enough of the oldest frames have left the window
                total -= c
                if total <= allowed:
                    at = max(at, t + self.window)
                    break
            else:
                at = start + self.max_gap
        return min(at, start + self.max_gap)


class TrainingDashboard(QWidget):
    """Tabs of live plots. ``layer_selected(node_id)`` when the user picks a layer in the weights or
    activations tab."""

    layer_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingDashboard")
        self.info: dict[str, Any] = {}
        self.rows: list[dict[str, Any]] = []  # epoch rows of the run shown (for CSV)
        self.loss = LossPlot()
        self.metrics = MetricsPlot()
        self.lr = LearningRatePlot()
        self.histograms = HistogramPlot()
        self.activations = ActivationsPlot()
        self.boundary = BoundaryPlot()
        self.confusion = ConfusionPlot()
        self.plots: list[LivePlot] = [self.loss, self.metrics, self.lr, self.histograms, self.activations,
                                      self.boundary, self.confusion]
        for plot in (self.histograms, self.activations):
            plot.layer_selected.connect(self._layer_chosen)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.metrics)
        lower.addWidget(self.lr)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        curves = QSplitter(Qt.Orientation.Vertical)
        curves.addWidget(self.loss)
        curves.addWidget(lower)
        curves.setStretchFactor(0, 3)
        curves.setStretchFactor(1, 2)
        self.curves_page = curves
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(curves, "Curves")
        self.tabs.addTab(self.boundary, "Decision boundary")
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self.histograms, "Weights && gradients")
        self.tabs.addTab(self.activations, "Activations")

        self.status = plain(QLabel("No training yet: press Start in the training panel."))
        # its text changes at every drain: it must never change the layout (and so repaint every plot)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.png_button = QPushButton("Save plot as PNG…")
        self.png_button.setToolTip("Save a picture of the tab shown")
        self.png_button.clicked.connect(lambda: self.save_png())
        self.csv_button = QPushButton("Save history as CSV…")
        self.csv_button.setToolTip("One row per epoch: losses, metrics, learning rate, time")
        self.csv_button.clicked.connect(lambda: self.save_csv())
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.status, 1)
        top.addWidget(self.png_button)
        top.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.frames = 0  # drawn frames (the benchmark reads them)
        self.frame_cost = 0.0  # seconds the last frame took
        self.budget = DrawBudget()
        self._next_frame = 0.0
        self._last_step = None  # the newest step report not yet shown in the status line
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._frame)
        self.tabs.currentChanged.connect(lambda _i: self._frame())

    # -- wiring --------------------------------------------------------------------------------------------
    def connect_worker(self, worker) -> None:
        """Draw what ``worker`` (a TrainingWorker) drains and say how its runs end."""
        worker.drained.connect(self.feed)
        worker.finished.connect(self.finish)
        worker.failed.connect(self.fail)

    def select_layer(self, node_id: str) -> None:
        """Show ``node_id`` in the weights and activations tabs (e.g. the node selected on the canvas)."""
        self.histograms.select_layer(node_id)
        self.activations.select_layer(node_id)

    def _layer_chosen(self, node_id: str) -> None:
        other = self.activations if self.sender() is self.histograms else self.histograms
        other.select_layer(node_id)
        self.layer_selected.emit(node_id)

    # -- data ----------------------------------------------------------------------------------------------
    def reset(self, info: dict[str, Any] | None = None) -> None:
        """Forget the plots' data; ``info`` (the worker's start info) names the task, classes and layers."""
        self.info = dict(info or {})
        self.rows = []
        for plot in self.plots:
            plot.clear()
        task = self.info.get("task", "multiclass")
        classes = list(self.info.get("classes", []))
        self.boundary.set_classes(classes, task)
        self.boundary.set_available(self.info.get("input_shape", [2]) == [2], self.info.get("input_shape"))
        self.confusion.set_classes(classes)
        self.confusion.set_available(task != "regression")
        if self.info.get("total_steps"):
            self.histograms.total_steps = float(self.info["total_steps"])
        if self.info.get("layers"):
            self.histograms.set_layers(list(self.info["layers"]))
        if self.info.get("watched"):
            self.activations.set_layers(list(self.info["watched"]))
        self.status.setText("Training started…" if info else "No training yet: press Start in the training panel.")
        self.refresh()

    def feed(self, contents: Drained | Iterable[Drained]) -> None:
        """Take what the worker drained (one ``Drained`` or several) and redraw the visible plots once."""
        batches = [contents] if isinstance(contents, Drained) else list(contents)
        for d in batches:
            if d.start is not None:
                self.reset(d.start)
            if d.steps:
                self.loss.ingest_steps(d.steps)
                self.lr.ingest_steps(d.steps)
                self._last_step = d.steps[-1]
            if d.epochs:
                self._ingest_epochs(d.epochs)
            if d.layers is not None:
                self.histograms.ingest(d.layers)
            if d.activations is not None:
                self.activations.ingest(d.activations)
            if d.boundary is not None:
                if not self.boundary.available:
                    self.boundary.set_available(True)
                self.boundary.ingest(d.boundary)
        self.request_frame()

    def request_frame(self) -> None:
        """Draw now if the drawing budget allows, else as soon as it does."""
        wait = self._next_frame - time.perf_counter()
        if wait <= 0:
            self._frame()
        elif not self._later.isActive():
            self._later.start(int(wait * 1000) + 1)

    def _frame(self) -> None:
        self._later.stop()
        t0, cpu0 = time.perf_counter(), time.thread_time()
        drawn = [p for p in self.plots if p.refresh()]
        last = self._last_step
        if last is not None:
            self._last_step = None
            self.status.setText(f"Epoch {last.epoch}/{last.epochs} · step {last.step}/{last.total_steps} · "
                                f"loss {last.loss:.4g}")
        if drawn:
            self.frames += 1
            # CPU time of this thread (waiting for the GIL while training runs costs training nothing): this
            # frame's updates plus the painting since the last frame (Qt paints after this returns)
            self.frame_cost = time.thread_time() - cpu0 + PaintClock.spent
            PaintClock.spent = 0.0
            self._next_frame = self.budget.next_frame(t0, self.frame_cost) - 0.005
        if not self._later.isActive() and any(p.pending() for p in self.plots):
            # a plot that redraws less often (LivePlot.min_interval_s) still has news: draw it even if no
            # more reports come (a pause, the end of the run)
            self._later.start(int(1000 * max(FRAME_MIN_S, self._next_frame - time.perf_counter())) + 1)

    def _ingest_epochs(self, reports: list[EpochReport]) -> None:
        rows = [dict(r.values) for r in reports]
        self.rows.extend(rows)
        for plot in (self.loss, self.metrics, self.lr):
            plot.x_limit = float(reports[-1].epochs)
        self.loss.ingest_epochs(rows)
        self.metrics.ingest_epochs(rows)
        last = reports[-1]
        if last.confusion is not None:
            self.confusion.ingest(last.epoch, last.confusion, last.per_class)

    def load_history(self, history: dict[str, Any] | None, classes: list[str] | None = None,
                     task: str | None = None) -> None:
        """Show the curves of a finished training (a project's saved ``history``). A history from a file may
        hold anything: rows that are not epochs are left out, and one that cannot be drawn at all is said so."""
        try:
            self._load_history(history, classes, task)
        except Exception:  # noqa: BLE001 - the project opens; its curves are what is lost
            log.warning("the training history cannot be drawn", exc_info=True)
            self.reset()
            self.status.setText("This project's training history cannot be shown.")

    def _load_history(self, history: Any, classes: list[str] | None, task: str | None) -> None:
        rows = [r for r in export.history_rows(history) if _is_epoch(r.get("epoch", 0))]
        if task is None:
            task = "regression" if rows and "val_mse" in rows[-1] else "multiclass"
        self.reset({"task": task, "classes": list(classes or [])})
        self.rows = rows
        for plot in (self.loss, self.metrics, self.lr):
            plot.x_limit = float(max((r.get("epoch", 0) for r in rows), default=1))
        self.loss.ingest_epochs(rows, history=True)
        self.metrics.ingest_epochs(rows, history=True)
        self.lr.ingest_epochs(rows, history=True)
        if rows:
            reason = history.get("stop_reason") if isinstance(history, dict) else None
            reason = one_line(reason.replace("_", " "), 80) if isinstance(reason, str) else ""
            self.status.setText(f"Trained for {len(rows)} epoch{'s' if len(rows) != 1 else ''}"
                                + (f" ({reason})" if reason else "")
                                + ". Train again to see the live plots.")
        else:
            self.status.setText("This project has not been trained yet.")
        for plot in self.plots:
            plot.unthrottle()
        self.refresh()

    def finish(self, result) -> None:
        """Draw what is left and say how the run ended (connect the worker's ``finished``)."""
        self._final_frame()
        epochs = len(result.history.get("epochs", []))
        words = {"completed": "finished", "stopped": "stopped", "early_stopping": "stopped early"}
        how = words.get(result.stop_reason, one_line(result.stop_reason, 80))
        self.status.setText(f"Training {how} after {epochs} epoch{'s' if epochs != 1 else ''} ({result.steps} steps "
                            f"on {result.device}).")

    def fail(self, message: str) -> None:
        self._final_frame()
        self.status.setText(clean(f"Training failed: {message}", 1000))

    def _final_frame(self) -> None:
        self.lr.mark_dirty()  # the learning rate is redrawn only now and then while it stays the same
        for plot in self.plots:
            plot.unthrottle()
        self._frame()

    def refresh(self, force: bool = False) -> int:
        """Redraw the plots that have new data and are visible (``force``: all of them); how many drew."""
        return sum(plot.refresh(force) for plot in self.plots)

    # -- saving --------------------------------------------------------------------------------------------
    def current_page(self) -> QWidget:
        return self.tabs.currentWidget()

    def save_png(self, path: str | None = None):
        """Save the tab shown as PNG (asks where when ``path`` is None); the path written, or None."""
        page = self.current_page()
        name = self.tabs.tabText(self.tabs.currentIndex()).replace("&&", "and").lower().replace(" ", "_")
        if path is None:
            return export.save_png_dialog(self, page, f"{name}.png")
        return export.save_png(page, path)

    def save_csv(self, path: str | None = None):
        """Save the epoch rows as CSV (asks where when ``path`` is None); the path written, or None."""
        if path is None:
            return export.save_csv_dialog(self, self.rows)
        return export.save_history_csv(self.rows, path)
