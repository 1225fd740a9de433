"""The sweep half of the Runs panel (issue 15): a sweep's progress list with its Stop button, and its results
table (one row per point, mean ± std over seeds per metric). Both are pure views the RunsPanel feeds. The cell
texts every part of the panel shares live here too (accuracy with 3 decimals, losses with 4 significant digits, a
learning rate with ``:g``, local start times, durations, a run's tooltip, the compare swatch), so runs.py keeps to
the table and its actions.

Every string that came from a project (a point's name, a setting's name or value, an error line) is shown as
plain text: list and tree items never interpret markup, tooltips go through ``safe_text.tooltip``.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.runs import MAX_RUN_NAME
from nnstudio.ui.safe_text import one_line, plain_label, set_plain, tooltip

STATE_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
STATES = {"waiting": "waiting", "running": "running", "done": "done", "stopped": "stopped", "failed": "failed"}
_ICONS = {"waiting": QStyle.StandardPixmap.SP_MediaPause, "running": QStyle.StandardPixmap.SP_MediaPlay,
          "done": QStyle.StandardPixmap.SP_DialogApplyButton, "stopped": QStyle.StandardPixmap.SP_MediaStop,
          "failed": QStyle.StandardPixmap.SP_MessageBoxCritical}


# -- number formats ------------------------------------------------------------------------------------------
def format_accuracy(value: Any) -> str:
    """An accuracy (0..1) with 3 decimals; "" for nothing, "nan"/"inf" as Python writes them."""
    if not real(value):
        return ""
    return f"{value:.3f}" if math.isfinite(value) else str(float(value))


def format_loss(value: Any) -> str:
    """A loss (or any other metric) with 4 significant digits; "" for nothing."""
    if not real(value):
        return ""
    return f"{value:.4g}"


_FRACTIONS = ("accuracy", "precision", "recall", "f1", "r2")  # metrics from 0 to 1: three decimals


def format_metric(name: str, value: Any) -> str:
    """``value`` of the metric ``name``: accuracies, F1, precision, recall and R² with 3 decimals, everything else
    with 4 significant digits."""
    return format_accuracy(value) if any(k in str(name) for k in _FRACTIONS) else format_loss(value)


def format_setting(name: str, value: Any) -> str:
    """A setting's value on one line: floats (the learning rate above all) with ``:g``, others as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return one_line(value, 80)


# -- cell texts of the runs table ------------------------------------------------------------------------------
def format_started(iso: Any) -> tuple[str, str]:
    """(short, full) local time of an ISO time: "14:03" today, "Dec 01 23:40" this year, "2025-12-01" before."""
    if not isinstance(iso, str) or not iso:
        return "", ""
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        local = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone()
    except (ValueError, OverflowError, OSError):  # not a time, or one the platform cannot convert
        return one_line(iso, 40), one_line(iso, 40)
    now = datetime.now().astimezone()
    short = local.strftime("%H:%M" if local.date() == now.date() else
                           "%b %d %H:%M" if local.year == now.year else "%Y-%m-%d")
    return short, local.strftime("%Y-%m-%d %H:%M:%S %Z")


def format_duration(seconds: Any) -> str:
    """12.5 s, 3m 05s, 1h 02m."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) \
            or seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


@lru_cache(maxsize=32)
def swatch_pixmap(color: str | None, size: int = 12) -> QPixmap:
    """A small rounded square in ``color`` with a white rim (it stays visible on the selection's highlight, which
    may be the same blue); transparent for None (keeps the names aligned)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    if color:
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(QRectF(0.75, 0.75, size - 1.5, size - 1.5), 3, 3)
        painter.end()
    return pix


def run_tip(row: dict, run: dict, differs: list[str], started: str) -> str:
    """A run row's tooltip (plain text: the caller wraps it in safe_text.tooltip): name, id, what differs,
    where it branched from, its best values and whether its weights are kept."""
    lines = [one_line(row.get("name", ""), MAX_RUN_NAME), one_line(
        f"{row['id']}" + (f" on {row['device']}" if row.get("device") else "")
        + (f", started {started}" if started else ""), 300)]
    if differs:
        lines.append(one_line("Differs from the previous run: " + ", ".join(differs), 600))
    parent = run.get("parent") if isinstance(run.get("parent"), dict) else None
    if parent or row.get("parent"):
        epoch = parent.get("epoch") if parent else None
        lines.append(one_line(f"Branched from {(parent or {}).get('run') or row.get('parent')}"
                              + (f" at epoch {epoch}" if isinstance(epoch, int) else ""), 200))
    if real(row.get("best_val_loss")):
        lines.append(f"Best val loss {format_loss(row['best_val_loss'])}"
                     + (f", best val accuracy {format_accuracy(row['best_val_accuracy'])}"
                        if real(row.get("best_val_accuracy")) else ""))
    lines.append("Its weights are kept (Branch trains on from them)" if row.get("weights") else
                 "Its weights were not kept: only pinned runs and the latest one keep theirs")
    return "\n".join(lines)


def real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_lr(value: Any) -> str:
    return f"{value:g}" if real(value) else format_setting("lr", value)


def pin_mark(widget: QWidget) -> str:
    return "📌" if QFontMetrics(widget.font()).inFontUcs4(0x1F4CC) else "pinned"


class _SortItem(QTreeWidgetItem):
    """A row that sorts by the number behind a cell (SORT_ROLE) where there is one, not by its text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        a, b = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if real(a) and real(b):
            return a < b
        return self.text(column) < other.text(column)


# -- progress -------------------------------------------------------------------------------------------------
class SweepProgress(QWidget):
    """A sweep's points, each with its state and a line ("epoch 3/30", "val_accuracy 0.912", an error), and Stop
    while it runs. ``stop_requested`` when Stop is pressed."""

    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsSweepProgress")
        self.title = plain_label("", self)
        self.title.setObjectName("runsSweepTitle")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stop = QPushButton("Stop", self)
        self.stop.setObjectName("runsSweepStop")
        self.stop.setToolTip("Stop the sweep after the current step; the runs done so far are kept")
        self.stop.clicked.connect(self.stop_requested)
        self.list = QListWidget(self)
        self.list.setObjectName("runsSweepList")
        self.list.setWordWrap(True)
        self.list.setIconSize(QSize(16, 16))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.stop, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)

    def show_sweep(self, sweep_id: str | None, points: list[dict], running: bool) -> None:
        """Show the points (``{"name", "state", "text"}``); hidden when there is no sweep and no point."""
        points = [p for p in points or [] if isinstance(p, dict)]
        self.setVisible(bool(sweep_id) or bool(points))
        counts = {state: sum(p.get("state") == state for p in points) for state in STATES}
        name = one_line(sweep_id or "Sweep", 60)
        done = counts["done"] + counts["failed"] + counts["stopped"]
        if running:
            summary = f"{name}: {counts['done']} of {len(points)} done, running"
        else:
            summary = f"{name}: {done} of {len(points)} finished"
        extras = [f"{counts[s]} {s}" for s in ("failed", "stopped") if counts[s]]
        set_plain(self.title, summary + (f" ({', '.join(extras)})" if extras else ""))
        self.stop.setVisible(bool(running))
        self.stop.setEnabled(bool(running))
        style = self.style()
        current = None
        self.list.clear()
        for point in points:
            state = point.get("state") if point.get("state") in STATES else "waiting"
            text = one_line(point.get("text") or "", 300)
            item = QListWidgetItem(style.standardIcon(_ICONS[state]),
                                   f"{one_line(point.get('name', ''), 200)}\n{STATES[state]}"
                                   + (f" · {text}" if text else ""))
            item.setData(STATE_ROLE, state)
            item.setToolTip(tooltip(f"{point.get('name', '')}\n{state}{': ' + text if text else ''}"))
            self.list.addItem(item)
            if state == "running" and current is None:
                current = item
        if current is not None:
            self.list.scrollToItem(current)

    def states(self) -> list[str]:
        return [self.list.item(i).data(STATE_ROLE) for i in range(self.list.count())]


# -- results --------------------------------------------------------------------------------------------------
def _split_columns(rows: list[dict]) -> tuple[list[str], list[str]]:
    """(settings columns, metric names) of results_table rows, in the order first seen."""
    settings: list[str] = []
    metrics: list[str] = []
    for row in rows:
        for key in row:
            if key == "runs":
                continue
            if key.endswith("_mean") and f"{key[:-5]}_std" in row:
                if key[:-5] not in metrics:
                    metrics.append(key[:-5])
            elif key.endswith("_std") and f"{key[:-4]}_mean" in row:
                continue
            elif key not in settings:
                settings.append(key)
    # validation metrics first: they are what a sweep is compared on
    metrics.sort(key=lambda m: (not m.startswith("val_"), "accuracy" not in m, m))
    return settings, metrics


def mean_std(metric: str, mean: Any, std: Any) -> str:
    """``0.912 ± 0.004`` in the metric's format."""
    if not real(mean):
        return ""
    spread = std if real(std) else 0.0
    if any(k in str(metric) for k in _FRACTIONS):
        return f"{format_metric(metric, mean)} ± {format_metric(metric, spread)}"
    return f"{mean:.4g} ± {spread:.2g}"  # a loss: the spread to two digits, as the command line prints it


class SweepResults(QWidget):
    """The results table of a sweep: the swept settings, how many seeds ran, and mean ± std per metric; the
    best mean of the first metric is bold. Click a header to sort by it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsSweepResults")
        self.title = plain_label("", self)
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.table = QTreeWidget(self)
        self.table.setObjectName("runsResultsTable")
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.header().setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        self.columns: list[str] = []

    def show_results(self, sweep_id: str | None, rows: list[dict]) -> None:
        rows = [r for r in rows or [] if isinstance(r, dict)]
        self.setVisible(bool(rows))
        self.table.setSortingEnabled(False)
        self.table.clear()
        if not rows:
            self.columns = []
            return
        settings, metrics = _split_columns(rows)
        self.columns = [*settings, "runs", *metrics]
        set_plain(self.title, f"Results of {one_line(sweep_id or 'the sweep', 60)}: mean ± std over the seeds")
        self.table.setColumnCount(len(self.columns))
        self.table.setHeaderLabels([one_line(c, 60) for c in self.columns])
        header = self.table.headerItem()
        for i, column in enumerate(self.columns):
            header.setToolTip(i, tooltip(column if i < len(settings) else
                                         ("How many seeds ran" if column == "runs" else f"{column}: mean ± std")))
        best = self._best_row(rows, metrics[0]) if metrics else None
        for index, row in enumerate(rows):
            item = _SortItem(self.table)
            for i, column in enumerate(settings):
                item.setText(i, format_setting(column, row.get(column)))
                if real(row.get(column)):
                    item.setData(i, SORT_ROLE, row[column])
            runs_col = len(settings)
            item.setText(runs_col, str(row.get("runs", "")))
            item.setData(runs_col, SORT_ROLE, row.get("runs") if real(row.get("runs")) else None)
            item.setTextAlignment(runs_col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for j, metric in enumerate(metrics, start=runs_col + 1):
                item.setText(j, mean_std(metric, row.get(f"{metric}_mean"), row.get(f"{metric}_std")))
                if real(row.get(f"{metric}_mean")):
                    item.setData(j, SORT_ROLE, row[f"{metric}_mean"])
                item.setTextAlignment(j, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if index == best:
                font = item.font(runs_col + 1)
                font.setBold(True)
                item.setFont(runs_col + 1, font)
                item.setToolTip(runs_col + 1, tooltip(f"The best mean {metrics[0]}"))
        self.table.header().resizeSections(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # keep the points in the order they ran

    @staticmethod
    def _best_row(rows: list[dict], metric: str) -> int | None:
        values = [(i, r.get(f"{metric}_mean")) for i, r in enumerate(rows)]
        values = [(i, v) for i, v in values if real(v) and math.isfinite(v)]
        if not values:
            return None
        higher = "accuracy" in metric or metric.endswith("_r2")
        return (max if higher else min)(values, key=lambda iv: iv[1])[0]

    def cell(self, row: int, column: str) -> str:
        """The text of ``column`` in the ``row``-th row as shown (for tests and the controller)."""
        return self.table.topLevelItem(row).text(self.columns.index(column))
