"""Several runs' curves overlaid (issue 15): the loss and one metric of each run picked in the Runs panel, each
run in its own colour (the i-th run handed over gets ``COLORS[i % len(COLORS)]``, the colour the Runs panel shows
beside its name), with a legend naming the runs. A run branched from another starts at its parent's point
(``core.run_curves.curve``), so the branch is drawn from where it left.

The runs are saved history, not a live stream: ``show_runs`` works out each run's points and hands them to the
views' curves -- created once and reused by later calls (``_Pool``; those no longer needed are emptied) -- and
``draw`` gives the curves their data and fits the views, once, when the plot is on screen (LivePlot's rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from nnstudio.core import run_curves
from nnstudio.core.run_curves import MAX_COMPARED
from nnstudio.ui.plots import (
    COLORS,
    TITLE_SIZE,
    LivePlot,
    Notice,
    PlotView,
    Readout,
    bounds,
    fmt,
    make_curve,
    quiet_plot,
    settle,
    style_plot,
)
from nnstudio.ui.plots.fit import fit_title
from nnstudio.ui.plots.loss import METRIC_TITLES
from nnstudio.ui.safe_text import ELLIPSIS, clean, one_line, plain, rich

NOTHING_SELECTED = "Select runs in the Runs panel to compare their curves (Ctrl+click to pick several)."
KEY_TITLES = {"val_loss": "val loss", "train_loss": "train loss", **METRIC_TITLES}
LINE_STYLES = "solid: validation · dashed: training"
MIXED_STYLES = " (training solid for a run without validation)"
RISING = ("val_accuracy", "train_accuracy", "val_r2")  # metrics that grow as a network learns
MAX_NAMED = 5  # runs named in one sentence of the note; the rest are counted
LEGEND_SAMPLE_PX = 40  # a legend entry's line sample and spacing, beside its name
LEGEND_MIN_PX = 48  # the least room for a name; a plot narrower than that shows no legend (its colours stay)
LEGEND_COLUMNS_FROM = 9  # runs from which the legend takes two columns (it covers less of the curves)
LEGEND_ROW_PX = 17  # the height of one legend row (8 pt)


def title_of(key: str | None) -> str:
    """A readable title of an epoch-row key ("val_accuracy" -> "val accuracy")."""
    return KEY_TITLES.get(key, (key or "").replace("_", " "))


def _without_sweep(run: dict[str, Any]) -> dict[str, Any]:
    """A sweep's run named without its "(sweep-1)" tail: the plot's key says which sweep."""
    name, sweep = run.get("name"), run.get("sweep")
    if isinstance(name, str) and isinstance(sweep, str) and name.endswith(f" ({sweep})"):
        return {**run, "name": name[: -len(sweep) - 3]}
    return run


def run_color(index: int) -> str:
    """The colour of the ``index``-th run handed to the plot (the Runs panel shows the same one)."""
    return COLORS[index % len(COLORS)]


class _Line:
    """One curve drawn for one run: the run, what it shows, its points (epochs ascending), its pooled item."""

    def __init__(self, item: pg.PlotDataItem, run_id: str, name: str, key: str, solid: bool,
                 points: tuple[list[float], list[float]]) -> None:
        self.item, self.run_id, self.name, self.key, self.solid = item, run_id, name, key, solid
        self.x = np.asarray(points[0], dtype=np.float64)
        self.y = np.asarray(points[1], dtype=np.float64)


class _Pool:
    """The curves of one view, created once and reused by every ``show_runs`` (making a pyqtgraph curve and its
    legend entry costs milliseconds; 20 runs would take a fifth of a second): the j-th solid curve is the j-th
    entry of the view's legend; dashed curves have none."""

    def __init__(self, view: pg.PlotItem, legend: pg.LegendItem) -> None:
        self.view, self.legend = view, legend
        self.solid: list[pg.PlotDataItem] = []
        self.dashed: list[pg.PlotDataItem] = []
        self.lines: list[_Line] = []
        self.names: list[str] = []  # what the legend's entries name, whole (plain text)
        self.hidden_by_key = False  # the plot's key under the views names the runs instead
        view.getViewBox().sigResized.connect(self.fit_legend)

    def take(self, solid: bool) -> pg.PlotDataItem:
        """The next unused curve of that kind (new when all are in use)."""
        pool = self.solid if solid else self.dashed
        used = sum(1 for line in self.lines if line.solid == solid)
        if used == len(pool):
            pool.append(make_curve(self.view, COLORS[0], width=2.0 if solid else 1.0,
                                   per_pixel=1.0 if solid else 2.0,
                                   style=Qt.PenStyle.SolidLine if solid else Qt.PenStyle.DashLine))
        return pool[used]

    def add(self, run_id: str, name: str, key: str, points: tuple[list[float], list[float]], color: str,
            solid: bool = True) -> _Line:
        item = self.take(solid)
        item.setPen(pg.mkPen(color, width=2.0 if solid else 1.0,
                             style=Qt.PenStyle.SolidLine if solid else Qt.PenStyle.DashLine))
        item.setVisible(True)  # a click on its legend sample may have hidden it
        line = _Line(item, run_id, name, key, solid, points)
        self.lines.append(line)
        return line

    def reset(self) -> None:
        self.lines = []

    def finish(self) -> None:
        """Empty the curves not in use and make the legend name the solid ones, in order."""
        used = {id(line.item) for line in self.lines}
        for item in self.solid + self.dashed:
            if id(item) not in used and item.xData is not None and len(item.xData):
                item.setData([], [])
        self.names = [one_line(line.name, run_curves.MAX_LEGEND) for line in self.lines if line.solid]
        while len(self.legend.items) > len(self.names):
            sample, _label = self.legend.items[-1]
            self.legend.removeItem(sample.item)
        for j in range(len(self.legend.items), len(self.names)):
            self.legend.addItem(self.solid[j], "")
        columns = 2 if len(self.names) >= LEGEND_COLUMNS_FROM else 1
        if self.legend.columnCount != columns:
            self.legend.setColumnCount(columns)
        self.fit_legend()

    def fit_legend(self, *_args) -> None:
        """Each legend name elided to the view's width (a legend wider than its plot would be cut off at the
        left), and no legend at all where even a short name has no room. pyqtgraph renders a legend label as
        HTML: each name is escaped to show literally."""
        width = self.view.getViewBox().width()
        room = (width - 16) / max(self.legend.columnCount, 1) - LEGEND_SAMPLE_PX
        self.legend.setVisible(bool(self.names) and not self.hidden_by_key and (room >= LEGEND_MIN_PX or width <= 0))
        font = QFont(self.legend.items[0][1].item.font()) if self.legend.items else QFont()
        font.setPointSizeF(8.0)
        metrics = QFontMetrics(font)
        for (_sample, label), name in zip(self.legend.items, self.names):
            shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(room)) if width > 0 else name
            text = rich(shown or name[:1] + ELLIPSIS)
            if label.text != text:
                label.setText(text)


class CompareRunsPlot(LivePlot):
    """The loss (left) and the compared metric (right) of several runs. Per run: validation loss solid 2 px,
    training loss dashed 1 px in the same colour (solid when the run has no validation loss); its metric solid.
    Each view's legend names each run once (on its solid curve). ``note`` (under the plots) says what the line
    styles mean and which runs are not drawn and why.

    The compared metric's key is ``metric_key`` (not ``metric``: that name is QWidget.metric(), which Qt calls
    while painting -- an attribute of that name crashes the paint)."""

    title = "Compare runs"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = PlotView(self)
        self.metric_plot = PlotView(self)
        self.loss_view: pg.PlotItem = self.loss_plot.getPlotItem()
        self.metric_view: pg.PlotItem = self.metric_plot.getPlotItem()
        for widget, view in ((self.loss_plot, self.loss_view), (self.metric_plot, self.metric_view)):
            widget.setMinimumSize(120, 120)
            quiet_plot(view)
            view.setLabel("bottom", "epoch")
            view.addLegend(offset=(-8, 8), labelTextSize="8pt")
            view.getViewBox().disableAutoRange()
        self.loss_pool = _Pool(self.loss_view, self.loss_view.legend)
        self.metric_pool = _Pool(self.metric_view, self.metric_view.legend)
        self.key_entries: list[tuple[str, str]] = []  # (name, colour) of each run drawn, for the key
        for view in (self.loss_view, self.metric_view):
            view.getViewBox().sigResized.connect(self._fit_key)
        self.loss_view.setLabel("left", "loss")
        fit_title(self.loss_view, "Loss", TITLE_SIZE)
        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(self.loss_plot)
        self.split.addWidget(self.metric_plot)
        # The key under the plots names every run in its colour; it is shown when the legends inside the views
        # would cover the curves (a small plot, many runs), which then hide.
        self.key = QLabel("")
        self.key.setObjectName("compareKey")
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.key.setWordWrap(True)
        self.key.setVisible(False)
        self.note = plain(QLabel(""))
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        content = QWidget(self)
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.split, 1)
        column.addWidget(self.key)
        column.addWidget(self.note)
        self.notice = Notice(content, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.notice)
        self.metric_key: str | None = None
        self.drawn: list[str] = []  # ids of the runs drawn, in the order handed over
        self.readouts = [Readout(pool.view, lambda x, y, p=pool: self.describe(p, x, y))
                         for pool in (self.loss_pool, self.metric_pool)]
        self.apply_palette()
        self.say(NOTHING_SELECTED)

    @property
    def loss_lines(self) -> list[_Line]:
        """The loss curves drawn, run by run (each run's solid curve before its dashed one)."""
        return self.loss_pool.lines

    @property
    def metric_lines(self) -> list[_Line]:
        return self.metric_pool.lines

    # -- what is shown ------------------------------------------------------------------------------------------
    def show_runs(self, runs: list[dict[str, Any]], all_runs: list[dict[str, Any]] | None = None) -> None:
        """Overlay ``runs`` (in this order, the first MAX_COMPARED of them); ``all_runs``: the project's runs, where
        the parents of branched runs are found (default: ``runs``)."""
        runs = [r for r in (runs or []) if isinstance(r, dict)]
        for pool in (self.loss_pool, self.metric_pool):
            pool.reset()
        for readout in self.readouts:
            readout.hide()
        self.drawn = []
        self.metric_key = None
        shown, left_out = runs[:MAX_COMPARED], len(runs) - MAX_COMPARED
        parents = run_curves.by_id(all_runs if all_runs is not None else runs)
        self.metric_key = run_curves.compare_metric([r for r in shown if run_curves.epoch_rows(r)])
        styles: set[str] = set()
        no_epoch, no_loss, no_metric = [], [], []
        for i, run in enumerate(shown):
            rid = run_curves.run_id(run, i)
            if not run_curves.epoch_rows(run):
                no_epoch.append(rid)
                continue
            self.drawn.append(rid)
            color, name = run_color(i), run_curves.legend_name(_without_sweep(run))
            if not self._add_loss(run, rid, parents, color, name, styles):
                no_loss.append(rid)
            if self.metric_key is not None:
                points = run_curves.curve(run, self.metric_key, parents)
                if points[0]:
                    self.metric_pool.add(rid, name, self.metric_key, points, color)
                else:
                    no_metric.append(rid)
        for pool in (self.loss_pool, self.metric_pool):
            pool.finish()
        self.key_entries = [(line.name, line.item.opts["pen"].color().name()) for line in self.loss_pool.lines
                            if line.solid]
        self._fit_key()
        self._dirty = True
        if not runs:
            self.set_note([])
            self.say(NOTHING_SELECTED)
            return
        self.metric_plot.setVisible(self.metric_key is not None)
        if self.metric_key is not None:
            title = title_of(self.metric_key)
            self.metric_view.setLabel("left", title)
            fit_title(self.metric_view, title[:1].upper() + title[1:], TITLE_SIZE)
            # a rising metric's curves end top right: its legend goes bottom right, out of their way
            self.metric_view.legend.setOffset((-8, -8) if self.metric_key in RISING else (-8, 8))
        self.set_note(self._sentences(styles, no_epoch, no_loss, no_metric, left_out, len(runs)))
        self.say(None if self.drawn else "None of the selected runs has a finished epoch to draw.")
        self.redraw_now()

    def _sentences(self, styles: set[str], no_epoch: list[str], no_loss: list[str], no_metric: list[str],
                   left_out: int, selected: int) -> list[str]:
        sentences = []
        if styles >= {"val", "train"}:
            sentences.append(LINE_STYLES + (MIXED_STYLES if "train_solid" in styles else "") + ".")
        sentences += [_sentence(no_epoch, "has no finished epoch", "have no finished epoch"),
                      _sentence(no_loss, "has no finite loss to draw", "have no finite loss to draw")]
        if self.metric_key is not None:
            what = f"no {title_of(self.metric_key)}"
            sentences.append(_sentence(no_metric, f"has {what}", f"have {what}"))
        elif self.drawn:
            sentences.append("The runs kept no metric to compare (accuracy or error are measured on validation data).")
        if left_out > 0:
            sentences.append(f"{left_out} of the {selected} runs selected are left out: at most {MAX_COMPARED} "
                             "are drawn at once.")
        return sentences

    def _add_loss(self, run: dict[str, Any], rid: str, parents: dict[str, Any], color: str, name: str,
                  styles: set[str]) -> bool:
        """The run's loss curves: validation solid (named in the legend) with training dashed, or training solid."""
        val = run_curves.curve(run, "val_loss", parents)
        train = run_curves.curve(run, "train_loss", parents)
        if val[0]:
            styles.add("val")
            self.loss_pool.add(rid, name, "val_loss", val, color)
            if train[0]:
                styles.add("train")
                self.loss_pool.add(rid, name, "train_loss", train, color, solid=False)
            return True
        if train[0]:
            styles.add("train_solid")
            self.loss_pool.add(rid, name, "train_loss", train, color)
            return True
        return False

    def _fit_key(self, *_args) -> None:
        """The legends inside the views when they leave the curves room (at most 40% of a view's height),
        else the key under the plots (each name escaped: the key is rich text for its colours)."""
        if not hasattr(self, "key"):  # a resize while being built
            return
        entries = self.key_entries
        inside = True
        for pool in (self.loss_pool, self.metric_pool):
            rows = -(-len(pool.names) // max(pool.legend.columnCount, 1))
            height = pool.view.getViewBox().height()
            if rows and height > 0 and rows * LEGEND_ROW_PX + 10 > 0.4 * height:
                inside = False
        for pool in (self.loss_pool, self.metric_pool):
            pool.hidden_by_key = not inside
            pool.fit_legend()
        self.key.setVisible(bool(entries) and not inside)
        text = " &nbsp; ".join(f'<span style="color:{color}">&#9632;</span>&nbsp;{rich(name).replace(" ", "&nbsp;")}'
                               for name, color in entries)  # an entry never breaks inside
        if self.key.text() != text:
            self.key.setText(text)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_key()

    def set_note(self, sentences: list[str]) -> None:
        text = " ".join(s for s in sentences if s)
        self.note.setText(clean(text, 2000))
        self.note.setVisible(bool(text))

    def clear(self) -> None:
        self.show_runs([])

    # -- drawing ------------------------------------------------------------------------------------------------
    def draw(self) -> None:
        for pool in (self.loss_pool, self.metric_pool):
            for line in pool.lines:
                line.item.setData(line.x, line.y)
            self._fit(pool.view, pool.lines, floor=0.0 if pool is self.loss_pool else None)

    @staticmethod
    def _fit(view: pg.PlotItem, lines: list[_Line], floor: float | None) -> None:
        """The view around every curve (a loss axis stops at 0 below); the person may pan and zoom from there."""
        lines = [line for line in lines if len(line.x)]
        if not lines:
            return
        x0, x1 = bounds(*(line.x for line in lines))
        y0, y1 = bounds(*(line.y for line in lines))
        if x1 - x0 < 1.0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        span = max(y1 - y0, 0.02 * max(abs(y0), abs(y1)), 1e-12)
        lo, hi = y0 - 0.06 * span, y1 + 0.06 * span
        if floor is not None and lo < floor <= y0:
            lo = floor
        view.getViewBox().setRange(xRange=(x0, x1), yRange=(lo, hi), padding=0.02, disableAutoRange=True)
        settle(view.getViewBox())

    def describe(self, pool: _Pool, x: float, y: float) -> str | None:
        """The hover read-out: the run whose point at the epoch under the mouse is nearest, its epoch and value."""
        best: tuple[float, _Line, int] | None = None
        for line in pool.lines:
            if not len(line.x) or not line.item.isVisible():
                continue
            i = int(np.clip(np.searchsorted(line.x, x), 0, len(line.x) - 1))
            if i > 0 and abs(line.x[i - 1] - x) <= abs(line.x[i] - x):
                i -= 1
            if abs(line.x[i] - x) > 0.5 + 1e-9 * abs(x):
                continue  # no point of this run at this epoch
            gap = abs(line.y[i] - y)
            if best is None or gap < best[0]:
                best = (gap, line, i)
        if best is None:
            return None
        _gap, line, i = best
        return f"{one_line(line.name, 80)}\nepoch {line.x[i]:g}\n{title_of(line.key)} {fmt(float(line.y[i]))}"

    def apply_palette(self) -> None:
        base = self.palette().color(QPalette.ColorRole.Base)
        base.setAlpha(215)  # the legend over the curves stays readable, the curves show through
        for widget, view in ((self.loss_plot, self.loss_view), (self.metric_plot, self.metric_view)):
            style_plot(widget, self.palette(), [view])
            view.legend.setBrush(pg.mkBrush(base))
            for _sample, label in view.legend.items:  # a label takes its new colour when its text is set
                label.setText(label.text)


def _sentence(ids: list[str], one: str, many: str) -> str:
    """"run-3 has no finished epoch" / "run-3, run-4 and 5 more have ..." ("" for no runs)."""
    if not ids:
        return ""
    named = ", ".join(ids[:MAX_NAMED])
    rest = len(ids) - MAX_NAMED
    who = f"{named} and {rest} more" if rest > 0 else named
    return f"{who} {one if len(ids) == 1 else many}."


__all__ = ["NOTHING_SELECTED", "CompareRunsPlot", "run_color", "title_of"]
