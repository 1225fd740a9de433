"""Loss, metrics and learning-rate curves.

The x axis is in epochs everywhere: a step report at step s sits at s / steps_per_epoch, an epoch row at its
epoch number, so the training loss (per step: raw and EMA-smoothed) and the validation loss (per epoch) share an
axis. A trained project's history draws the same plots from its saved step-level loss (``ingest_step_points``),
or, for an older file without it, from the per-epoch training loss (with a ``note`` saying why).
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from nnstudio.core.training.reports import StepReport
from nnstudio.ui.plots import (
    COLORS,
    LivePlot,
    Notice,
    PlotView,
    Readout,
    Series,
    StableRange,
    bounds,
    fmt,
    make_curve,
    quiet_plot,
    style_plot,
)
from nnstudio.ui.safe_text import clean, plain

# Smoothing of the per-step training loss (debiased, as TensorBoard does). Step reports are throttled by time
# (about twenty a second), so a point can stand for many batches: a light smoothing keeps the curve from lagging.
EMA_BETA = 0.6
METRIC_TITLES = {
    "train_accuracy": "train accuracy", "val_accuracy": "val accuracy", "val_precision_macro": "val precision",
    "val_recall_macro": "val recall", "val_f1_macro": "val F1", "val_mse": "val MSE", "val_mae": "val MAE",
    "val_r2": "val R²", "running_accuracy": "train accuracy, this epoch",
}
MAX_DOTS = 60
# Vertices per pixel of the 2-pixel curves: a wide pen is stroked at about 2 us a vertex on a raster surface,
# so the bold curves keep one vertex every six or seven pixels (minimum and maximum of each, see make_curve).
WIDE_PER_PIXEL = 0.15
SHOWN_METRICS = ("val_accuracy", "train_accuracy", "val_f1_macro", "val_mse", "val_mae", "val_r2")
METRIC_ORDER = ("val_accuracy", "train_accuracy", "val_f1_macro", "val_precision_macro", "val_recall_macro",
                "val_mse", "val_mae", "val_r2")


def _x_of(report: StepReport) -> float:
    per_epoch = report.total_steps / report.epochs if report.epochs else 0
    return report.step / per_epoch if per_epoch else float(report.epoch)


class _CurvePlot(LivePlot):
    """A titled PlotWidget with an optional log-scale box and a hover read-out. ``y_floor``: the lowest value
    the fitted y axis shows on a linear scale (a loss is never negative: its axis stops at 0); None for no
    floor. A log scale has none (its axis is log10 of the values). The person may still pan below it."""

    log_default = False
    y_floor: float | None = None

    def __init__(self, title: str, y_label: str, log_box: bool = True, parent: QWidget | None = None,
                 legend_at: tuple[int, int] = (-8, 8)) -> None:
        super().__init__(parent)
        self.title = title
        self.plot = PlotView(self)
        self.item = self.plot.getPlotItem()
        quiet_plot(self.item)
        self.item.setLabel("bottom", "epoch")
        self.item.setLabel("left", y_label)
        self.legend = self.item.addLegend(offset=legend_at, labelTextSize="8pt")
        self.header = QHBoxLayout()
        self.caption = QLabel(f"<b>{title}</b>")
        self.header.addWidget(self.caption)
        self.header.addStretch(1)
        self.log_box = QCheckBox("Log scale")
        self.log_box.setChecked(self.log_default)
        self.log_box.toggled.connect(self.set_log)
        self.log_box.setVisible(log_box)
        self.header.addWidget(self.log_box)
        self.note = plain(QLabel(""))  # what a saved history could not give this plot (one line, rarely shown)
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.notice = Notice(self.plot, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(self.header)
        layout.addWidget(self.note)
        layout.addWidget(self.notice, 1)
        self.readout = Readout(self.item, self.describe)
        self.item.setLogMode(y=self.log_default)
        self.range = StableRange(self.item, min_span=1.0)  # at least one epoch wide
        self.x_limit: float | None = None  # the run's last epoch, where the x axis will end
        self.apply_palette()

    def set_log(self, on: bool) -> None:
        if self.log_box.isChecked() != on:
            self.log_box.setChecked(on)  # its toggled signal calls back here
            return
        self.item.setLogMode(y=on)
        self.readout.hide()
        self.range.reset()
        self.redraw_now()

    def clear(self) -> None:
        super().clear()
        self.range.reset()
        self.x_limit = None
        self.set_note(None)

    def set_note(self, text: str | None) -> None:
        """A line above the plot saying what it lacks (e.g. a saved history without the step-level loss)."""
        self.note.setText(clean(text or "", 1000))
        self.note.setVisible(bool(text))

    def fit_range(self, series: Iterable[Series], include_zero: bool = False) -> None:
        """Keep the view around the data (see StableRange)."""
        series = [s for s in series if len(s)]
        if not series:
            return
        lo, hi = bounds(*(s.y for s in series), log=self.log)
        if include_zero and not self.log:
            lo = min(lo, 0.0)
        self.range.update(max(float(s.x[-1]) for s in series), lo, hi, self.x_limit,
                          floor=None if self.log else self.y_floor)

    @property
    def log(self) -> bool:
        return self.log_box.isChecked()

    def apply_palette(self) -> None:
        style_plot(self.plot, self.palette())

    def describe(self, x: float, y: float) -> str | None:  # pragma: no cover - overridden
        return None

    @staticmethod
    def _near(series: Series, x: float) -> tuple[float, float] | None:
        i = series.nearest(x)
        return None if i is None else (float(series.x[i]), float(series.y[i]))


class LossPlot(_CurvePlot):
    """Training loss per step (faint raw curve, bold EMA), validation loss per epoch (dots)."""

    y_floor = 0.0  # every loss NN Studio trains with is at least 0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Loss", "loss", parent=parent)
        self.raw, self.smooth, self.val = Series(1024), Series(1024), Series(64)
        self._ema, self._count = 0.0, 0
        self._val_drawn = -1  # validation points drawn so far
        self.raw_curve = make_curve(self.item, COLORS[0], width=1.0, alpha=80)
        self.smooth_curve = make_curve(self.item, COLORS[0], width=2.0, name="training", per_pixel=WIDE_PER_PIXEL)
        self.val_curve = make_curve(self.item, COLORS[1], width=2.0, name="validation", symbol="o",
                                    per_pixel=WIDE_PER_PIXEL)

    def clear(self) -> None:
        super().clear()
        for s in (self.raw, self.smooth, self.val):
            s.clear()
        self._ema, self._count = 0.0, 0
        self._val_drawn = -1

    def ingest_steps(self, reports: Iterable[StepReport]) -> None:
        for r in reports:
            if not math.isfinite(r.loss):
                continue
            x = _x_of(r)
            self.x_limit = float(r.epochs)
            self.raw.append(x, r.loss)
            self._count += 1
            self._ema = EMA_BETA * self._ema + (1 - EMA_BETA) * r.loss
            self.smooth.append(x, self._ema / (1 - EMA_BETA ** self._count))
            self._dirty = True

    def ingest_step_points(self, epochs: np.ndarray, losses: np.ndarray) -> None:
        """A saved step-level loss: the loss of each step at its epoch position (``SavedReports.step_loss``),
        drawn as the live curve is (raw and smoothed)."""
        for x, loss in zip(np.asarray(epochs, dtype=np.float64), np.asarray(losses, dtype=np.float64)):
            if not (math.isfinite(x) and math.isfinite(loss)):
                continue
            self.raw.append(x, loss)
            self._count += 1
            self._ema = EMA_BETA * self._ema + (1 - EMA_BETA) * loss
            self.smooth.append(x, self._ema / (1 - EMA_BETA ** self._count))
            self._dirty = True

    def ingest_epochs(self, rows: Iterable[dict[str, Any]], history: bool = False) -> None:
        """Epoch rows: validation loss; from a saved history without step-level loss (``history``) also the
        per-epoch training loss."""
        for row in rows:
            epoch = float(row.get("epoch", len(self.val) + 1))
            if history and _finite(row.get("train_loss")):
                self.smooth.append(epoch, row["train_loss"])
            if _finite(row.get("val_loss")):
                self.val.append(epoch, row["val_loss"])
            self._dirty = True

    def draw(self) -> None:
        self.raw_curve.setData(self.raw.x, self.raw.y)
        self.smooth_curve.setData(self.smooth.x, self.smooth.y)
        if len(self.val) != self._val_drawn:  # once per epoch, not at every frame
            self._val_drawn = len(self.val)
            # a dot per epoch while they can be told apart; beyond that the line alone
            self.val_curve.setData(self.val.x, self.val.y, symbol="o" if len(self.val) <= MAX_DOTS else None)
        self.fit_range([self.raw, self.smooth, self.val])

    def describe(self, x: float, y: float) -> str | None:
        lines = []
        raw, smooth, val = self._near(self.raw, x), self._near(self.smooth, x), self._near(self.val, x)
        if smooth:
            lines.append(f"epoch {smooth[0]:.2f}")
            lines.append(f"training {fmt(smooth[1])}" + (f" (batch {fmt(raw[1])})" if raw else ""))
        if val:
            lines.append(f"validation {fmt(val[1])} (epoch {val[0]:.0f})")
        return "\n".join(lines) or None


class MetricsPlot(_CurvePlot):
    """The headline metrics of the epoch rows (validation and training accuracy and F1, or MSE, MAE and R²),
    one curve each, created when the metric first appears, and while a classifier trains, its running training
    accuracy within the epoch (from the step reports, a thin line that starts again at every epoch). Precision
    and recall per class are in the confusion tab; every value is in the CSV. The plot is redrawn at most
    ``min_interval_s`` apart (the loss curve's frames may come faster)."""

    min_interval_s = 0.15
    RUNNING = "running_accuracy"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Metrics", "value", parent=parent, legend_at=(-8, -8))
        self.series: dict[str, Series] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._running_epoch: int | None = None

    def clear(self) -> None:
        super().clear()
        for s in self.series.values():
            s.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self._running_epoch = None

    def _curve(self, key: str) -> Series:
        if key not in self.series:
            self.series[key] = Series(64)
            running = key == self.RUNNING
            shade = "train_accuracy" if running else key
            index = METRIC_ORDER.index(shade) if shade in METRIC_ORDER else len(self.curves) + 2
            width = 2.0 if key in ("val_accuracy", "val_mse") else 1.0
            self.curves[key] = make_curve(
                self.item, COLORS[(index + 2) % len(COLORS)], width=width, alpha=150 if running else 255,
                name=METRIC_TITLES.get(key, key.replace("_", " ")), per_pixel=WIDE_PER_PIXEL,
                style=Qt.PenStyle.DashLine if running else Qt.PenStyle.SolidLine)
        return self.series[key]

    def ingest_steps(self, reports: Iterable[StepReport]) -> None:
        """The running training accuracy of the step reports (of a classifier), over the epoch under way."""
        for r in reports:
            if r.accuracy is None or not _finite(r.accuracy):
                continue
            series = self._curve(self.RUNNING)
            if r.epoch != self._running_epoch:
                series.clear()  # the running value of a new epoch starts again; the past epochs have their rows
            self._running_epoch = r.epoch
            series.append(_x_of(r), float(r.accuracy))
            self._dirty = True

    def drop_running(self) -> None:
        """The run ended: its running accuracy goes (a reopened project has only the epochs' values)."""
        series = self.series.get(self.RUNNING)
        if series is not None and len(series):
            series.clear()
            self._dirty = True
        self._running_epoch = None

    def ingest_epochs(self, rows: Iterable[dict[str, Any]], history: bool = False) -> None:
        for row in rows:
            epoch = float(row.get("epoch", 0))
            keys = [k for k in SHOWN_METRICS if k in row]
            for key in keys:
                if _finite(row.get(key)):
                    self._curve(key).append(epoch, float(row[key]))
            self._dirty = True

    def draw(self) -> None:
        for key, series in self.series.items():
            self.curves[key].setData(series.x, series.y)
        self.fit_range(self.series.values())

    def describe(self, x: float, y: float) -> str | None:
        lines = []
        for key, series in self.series.items():
            near = self._near(series, x)
            if near:
                if not lines:
                    lines.append(f"epoch {near[0]:.0f}")
                lines.append(f"{METRIC_TITLES.get(key, key)} {fmt(near[1])}")
        return "\n".join(lines) or None


class LearningRatePlot(_CurvePlot):
    """The learning rate per step (live) or per epoch (history). While it stays the same, the curve is redrawn
    twice a second rather than at every drain."""

    STEADY_REDRAW_S = 0.5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Learning rate", "learning rate", parent=parent)
        self.lr = Series(1024)
        self.curve = make_curve(self.item, COLORS[4], width=2.0, per_pixel=WIDE_PER_PIXEL)
        self._drawn_at = 0.0

    def ingest_steps(self, reports: Iterable[StepReport]) -> None:
        for r in reports:
            if not len(self.lr) or r.lr != self.lr.y[-1]:
                self._dirty = True
            self.lr.append(_x_of(r), r.lr)
            self.x_limit = float(r.epochs)
        if len(self.lr) and time.perf_counter() - self._drawn_at >= self.STEADY_REDRAW_S:
            self._dirty = True

    def clear(self) -> None:
        super().clear()
        self.lr.clear()
        self._drawn_at = 0.0

    def ingest_epochs(self, rows: Iterable[dict[str, Any]], history: bool = False) -> None:
        if not history:
            return
        for row in rows:
            if _finite(row.get("lr")):
                self.lr.append(float(row.get("epoch", 0)), float(row["lr"]))
                self._dirty = True

    def draw(self) -> None:
        self._drawn_at = time.perf_counter()
        self.curve.setData(self.lr.x, self.lr.y)
        self.fit_range([self.lr], include_zero=True)

    def describe(self, x: float, y: float) -> str | None:
        near = self._near(self.lr, x)
        return f"epoch {near[0]:.2f}\nlearning rate {fmt(near[1])}" if near else None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
