"""The training dashboard: loss / metric / learning-rate curves, weight and gradient histograms, activations, the
decision boundary and the confusion matrix, in a grid the person arranges (``plot_grid.PlotGrid``).

It draws what the training worker drains (``feed``), never per batch: each ``feed`` stores the reports in the
plots' buffers and then draws one frame -- the visible plots with something new -- unless the drawing budget
(below) says to wait, in which case a timer draws it a little later. A plot out of view (closed, behind a tab) draws when it comes back.

Bound to the window's session (``bind_session``), it derives the rest from it: whenever the project is replaced
(New, Open) every tab is redrawn from the project's saved history (``training.saved_reports``), or says why it
cannot be; a run that ends with a result leaves the saved figures on screen (the confusion matrix of the weights
kept, the last histograms and activations), so that reopening the saved project shows the same; and while the
network differs from the one the weights were trained on, a banner says so above the (earlier) curves.

Integration (main window)::

    dashboard = TrainingDashboard()
    dashboard.bind_session(session)    # project_replaced, weights_status_changed, run_state_changed
    dashboard.connect_worker(worker)   # drained -> feed, finished -> finish, failed -> fail
    worker.started -> dashboard.reset(info)
    canvas selection -> dashboard.select_layer(node_id)
    dashboard.layer_selected -> select the node on the canvas (optional)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Iterable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget
from shiboken6 import isValid

from nnstudio.core.training.reports import EpochReport
from nnstudio.core.training.saved_reports import saved_reports
from nnstudio.core.weights_status import OUT_OF_DATE, OUT_OF_DATE_TEXT
from nnstudio.ui.plot_grid import PlotGrid
from nnstudio.ui.plots import LivePlot, NoticeGroup, PaintClock, export, saved
from nnstudio.ui.plots.activations import ActivationsPlot
from nnstudio.ui.plots.boundary import BoundaryPlot
from nnstudio.ui.plots.compare import CompareRunsPlot
from nnstudio.ui.plots.confusion import ConfusionPlot
from nnstudio.ui.plots.histograms import HistogramPlot
from nnstudio.ui.plots.loss import LearningRatePlot, LossPlot, MetricsPlot
from nnstudio.ui.safe_text import clean, one_line, plain
from nnstudio.ui.workers.training_worker import Drained

log = logging.getLogger(__name__)

NO_TRAINING = "No training yet: press Start in the training panel."
CANNOT_SHOW = "This project's training history cannot be shown."
BANNER_STYLE = "QLabel { background: #fdf2d0; color: #5c4400; border: 1px solid #e0c060; padding: 3px 6px; }"


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
        self.compare = CompareRunsPlot()  # the runs selected in the Runs panel, overlaid (show_compared)
        self.plots: list[LivePlot] = [self.loss, self.metrics, self.lr, self.histograms, self.activations,
                                      self.boundary, self.confusion, self.compare]
        for plot in (self.histograms, self.activations):
            plot.layer_selected.connect(self._layer_chosen)

        for plot in (self.loss, self.metrics, self.lr):
            plot.caption.hide()  # the grid's title bar names it
        self.curves_page = NoticeGroup([self.loss, self.metrics, self.lr])  # why the curves have nothing
        self.grid = PlotGrid(self)
        for key, title, plot in (("loss", "Loss", self.loss), ("metrics", "Metrics", self.metrics),
                                 ("lr", "Learning rate", self.lr), ("weights", "Weights & gradients", self.histograms),
                                 ("activations", "Activations", self.activations),
                                 ("boundary", "Decision boundary", self.boundary),
                                 ("confusion", "Confusion matrix", self.confusion),
                                 ("compare", "Runs compared", self.compare)):
            cell = self.grid.add(key, title, plot)
            if plot in (self.loss, self.metrics, self.lr):
                cell.title_bar.add_control(plot.log_box)  # a row of its own would take the curves' room
        self.grid.finish_menu()
        self.grid.arrange_default()

        self.status = plain(QLabel(NO_TRAINING))
        # its text changes at every drain: it must never change the layout (and so repaint every plot)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setAutoFillBackground(True)  # opaque: its new text does not repaint the dock behind it
        self.plots_button = QToolButton()
        self.plots_button.setObjectName("plotsMenuButton")
        self.plots_button.setText("Plots")
        self.plots_button.setToolTip("Show or hide plots, or arrange them as at first")
        self.plots_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.plots_button.setMenu(self.grid.menu)
        self.png_button = QPushButton("Save as PNG…")
        self.png_button.setToolTip("Save a picture of the plots shown (of the one plot, when it is maximised)")
        self.png_button.clicked.connect(lambda: self.save_png())
        self.csv_button = QPushButton("Save CSV…")
        self.csv_button.setToolTip("One row per epoch: losses, metrics, learning rate, time (of every run "
                                   "compared, when runs are selected in the Runs panel)")
        self.csv_button.clicked.connect(self._save_csv_clicked)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.status, 1)
        top.addWidget(self.plots_button)
        top.addWidget(self.png_button)
        top.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        # the saved weights (and so these curves) are of an earlier network: see _show_banner
        self.banner = plain(QLabel(OUT_OF_DATE_TEXT))
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        layout.addWidget(self.grid, 1)
        self.session = None
        self.source = "none"  # what the plots show: none (no training), history (the saved one) or run (live)
        self._history: Any = None  # the history object last drawn (a run that stores another one redraws)
        self.frames = 0  # drawn frames (the benchmark reads them)
        self.frame_cost = 0.0  # seconds the last frame took
        self.budget = DrawBudget()
        self._next_frame = 0.0
        self._last_step = None  # the newest step report not yet shown in the status line
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._frame)
        self.grid.visible_changed.connect(self._plot_shown)

    # -- wiring --------------------------------------------------------------------------------------------
    def bind_session(self, session) -> None:
        """Show ``session``'s project (a ``core.session.Session``) now and after every replacement, and follow
        its weights' status and the end of its runs (see the module's doc)."""
        if self.session is not None:
            self.session.project_replaced.disconnect(self.show_saved)
            self.session.weights_status_changed.disconnect(self._show_banner)
            self.session.run_state_changed.disconnect(self._run_changed)
            self.session.compared_changed.disconnect(self.show_compared)
            self.session.runs_changed.disconnect(self.show_compared)
        self.session = session
        session.project_replaced.connect(self.show_saved)
        session.weights_status_changed.connect(self._show_banner)
        session.run_state_changed.connect(self._run_changed)
        session.compared_changed.connect(self.show_compared)
        session.runs_changed.connect(self.show_compared)
        self.show_saved()
        self.show_compared()

    def run_plots(self) -> list[LivePlot]:
        """The plots of one run (live or saved); the runs compared follow the session's choice instead."""
        return [p for p in self.plots if p is not self.compare]

    def show_compared(self, *_args: Any) -> None:
        """Overlay the runs the session compares; the plot comes to the front when the first ones are chosen."""
        session = self.session
        ids = set(session.compared) if session is not None else set()
        runs = [r for r in session.project.runs if r["id"] in ids] if session is not None else []
        was_empty = not self.compare.drawn
        self.compare.show_runs(runs, session.project.runs if session is not None else [])
        self.compare.refresh()
        if runs and was_empty and self.grid.maximised is None:
            self.grid.show_plot("compare")

    def compared_runs(self) -> list[dict[str, Any]]:
        session = self.session
        ids = set(session.compared) if session is not None else set()
        return [r for r in session.project.runs if r["id"] in ids] if session is not None else []

    def _run_changed(self, run) -> None:
        """A run ended: when it stored a history (a result), the saved figures are what stay on screen."""
        if run.active or self.session.project.history is self._history:
            return
        if self.source == "run":
            self._agree_with_saved()
        else:
            self.show_saved()

    def connect_worker(self, worker) -> None:
        """Draw what ``worker`` (a TrainingWorker) drains and say how its runs end."""
        worker.drained.connect(self.feed)
        worker.finished.connect(self.finish)
        worker.failed.connect(self.fail)

    def select_layer(self, node_id: str) -> None:
        """Show ``node_id`` in the weights and activations plots (e.g. the node selected on the canvas)."""
        self.histograms.select_layer(node_id)
        self.activations.select_layer(node_id)

    def _layer_chosen(self, node_id: str) -> None:
        other = self.activations if self.sender() is self.histograms else self.histograms
        other.select_layer(node_id)
        self.layer_selected.emit(node_id)

    # -- data ----------------------------------------------------------------------------------------------
    def reset(self, info: dict[str, Any] | None = None) -> None:
        """Forget the plots' data; ``info`` (the worker's start info, at the start of a run) names the task,
        classes and layers. Without ``info`` every tab says that there was no training yet."""
        self._clear(info)
        if not info:
            self.source = "none"
            self._say_untrained()
            self._show_banner()
            self.refresh()
            return
        self._go_live()
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
        self.status.setText("Training started…")
        self.refresh()

    def _clear(self, info: dict[str, Any] | None) -> None:
        self.info = dict(info or {})
        self.rows = []
        self._last_step = None
        for plot in self.run_plots():
            plot.clear()
        if self.session is not None:
            self.activations.set_graph(self.session.project.graph)  # which layer's Softmax is folded: logits

    def _go_live(self) -> None:
        """A run's reports arrive: every tab shows its plot (the run says what it lacks)."""
        self.source = "run"
        self.curves_page.say(None)
        for plot in self.run_plots():
            plot.say(None)
        self._show_banner()

    def _say_untrained(self) -> None:
        self.curves_page.say(saved.UNTRAINED["curves"])
        for plot, part in ((self.confusion, "confusion"), (self.histograms, "layers"),
                           (self.activations, "activations"), (self.boundary, "boundary")):
            plot.say(saved.UNTRAINED[part])
        self.status.setText(NO_TRAINING)

    def _show_banner(self, *_status: Any) -> None:
        """The banner says the weights are of an earlier network while the plots show their saved history."""
        out = self.session is not None and self.session.weights_status == OUT_OF_DATE and self.source == "history"
        if self.banner.isHidden() == out:
            self.banner.setVisible(out)

    def feed(self, contents: Drained | Iterable[Drained]) -> None:
        """Take what the worker drained (one ``Drained`` or several) and redraw the visible plots once."""
        batches = [contents] if isinstance(contents, Drained) else list(contents)
        if self.source != "run" and any(batches):
            self._go_live()
        for d in batches:
            if d.start is not None:
                self.reset(d.start)
            if d.steps:
                self.loss.ingest_steps(d.steps)
                self.metrics.ingest_steps(d.steps)
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

    def _plot_shown(self) -> None:
        """A plot came into view (or left it): draw what it missed, at once -- unless the grid is being torn
        down with the window, its docks announcing that they are hidden as their plots go."""
        if all(isValid(plot) for plot in self.plots):
            self._frame()

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

    def show_saved(self, _project: Any = None) -> None:
        """Redraw every tab from the bound session's project (on ``project_replaced``): its saved history, or
        what a project never trained shows. A tab the history cannot redraw says why."""
        history = self.session.project.history if self.session is not None else None
        try:
            self._show_saved(history)
        except Exception:  # noqa: BLE001 - the project opens; its plots are what is lost
            log.warning("the training history cannot be drawn", exc_info=True)
            self._clear(None)
            self.source, self._history = "none", history
            for page in (self.curves_page, self.confusion, self.histograms, self.activations, self.boundary):
                page.say(CANNOT_SHOW)
            self.status.setText(CANNOT_SHOW)
            self._show_banner()

    def _show_saved(self, history: Any) -> None:
        self._history = history
        reports = saved_reports(history)
        if history is None:
            self.reset()
            if self.session is not None and self.session.project.weights:  # trained, its history left out
                for page in (self.curves_page, self.confusion, self.histograms, self.activations, self.boundary):
                    page.say(saved.NO_HISTORY)
                self.status.setText(saved.NO_HISTORY)
            return
        rows = saved.epoch_rows(reports)
        task = reports.task or ("regression" if rows and "val_mse" in rows[-1] else "multiclass")
        self._clear({"task": task, "classes": list(reports.classes)})
        self.source = "history"
        self.rows = rows
        self.curves_page.say(saved.draw_curves(self.loss, self.metrics, self.lr, reports, history))
        saved.draw_confusion(self.confusion, reports, True)
        saved.draw_layers(self.histograms, reports, True,
                          history.get("steps") if isinstance(history, dict) else None)
        saved.draw_activations(self.activations, reports, True)
        saved.draw_boundary(self.boundary, reports, True)
        self.status.setText(saved.status_line(reports, rows, history) or CANNOT_SHOW)
        self._show_banner()
        for plot in self.plots:
            plot.unthrottle()
        self.refresh()

    def _agree_with_saved(self) -> None:
        """The run just stored its history: what stays on screen is what reopening the saved project shows --
        the confusion matrix of the weights kept, the last histograms and activations (added when the live
        plots have not shown them yet), and for a run that continued an earlier one, the curves of the whole
        history. What only a live run shows (the histograms over time, the boundary) stays."""
        history = self.session.project.history
        self._history = history
        reports = saved_reports(history)
        self.source = "history"
        if [r.get("epoch") for r in reports.rows] != [r.get("epoch") for r in self.rows] or not len(self.loss.raw):
            for plot in (self.loss, self.metrics, self.lr):
                plot.clear()
            self.rows = saved.epoch_rows(reports)
            self.curves_page.say(saved.draw_curves(self.loss, self.metrics, self.lr, reports, history))
        saved.draw_confusion(self.confusion, reports, True)
        if reports.layers is not None and reports.layers.step != self.histograms.last_step:
            saved.draw_layers(self.histograms, reports, True)
        if reports.activations is not None and reports.activations.step != self.activations.step:
            saved.draw_activations(self.activations, reports, True)
        self._show_banner()
        self._final_frame()

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
        self.metrics.drop_running()  # what stays is what reopening the saved project shows
        self.lr.mark_dirty()  # the learning rate is redrawn only now and then while it stays the same
        for plot in self.plots:
            plot.unthrottle()
        self._frame()

    def refresh(self, force: bool = False) -> int:
        """Redraw the plots that have new data and are visible (``force``: all of them); how many drew."""
        return sum(plot.refresh(force) for plot in self.plots)

    # -- what is shown (for tests and the window) ---------------------------------------------------------
    def banner_text(self) -> str:
        """The out-of-date banner's text while it is shown, else ""."""
        return "" if self.banner.isHidden() else self.banner.text()

    def step_loss_points(self) -> int:
        return len(self.loss.raw)

    def confusion_total(self) -> int:
        """The samples the confusion matrix shown counts (0: none shown)."""
        return 0 if self.confusion.matrix is None else int(self.confusion.matrix.sum())

    def histogram_layers(self) -> list[str]:
        """The layers whose weight histograms are held."""
        return list(self.histograms.history)

    # -- saving --------------------------------------------------------------------------------------------
    def current_page(self) -> QWidget:
        """What "Save as PNG" pictures: the maximised plot, else the whole grid."""
        key = self.grid.maximised
        return self.grid.cells[key].plot if key else self.grid

    def save_png(self, path: str | None = None):
        """Save the plots shown as PNG (asks where when ``path`` is None); the path written, or None."""
        page = self.current_page()
        name = self.grid.maximised or "dashboard"
        if path is None:
            return export.save_png_dialog(self, page, f"{name}.png")
        return export.save_png(page, path)

    def _save_csv_clicked(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from nnstudio.core.errors import NNStudioError

        try:
            self.save_csv()
        except (OSError, NNStudioError) as exc:
            QMessageBox.warning(self, "Could not save the CSV", one_line(str(exc)))

    def save_csv(self, path: str | None = None):
        """Save the epoch rows as CSV (asks where when ``path`` is None); the path written, or None. With runs
        compared, the rows of every one of them (``core.runs_export.runs_csv``: one row per run and epoch)."""
        compared = self.compared_runs()
        if compared:
            from nnstudio.core.runs_export import runs_csv

            if path is None:
                path = export.ask_save_path(self, "Save the compared runs' history as CSV", "runs.csv",
                                            export.CSV_FILTER)
                if not path:
                    return None
            return runs_csv(compared, path)
        if path is None:
            return export.save_csv_dialog(self, self.rows)
        return export.save_history_csv(self.rows, path)
