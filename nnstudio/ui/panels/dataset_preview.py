"""The Dataset panel's preview of the loaded data: a scatter of 2-D points or a curve, a grid of images, table
rows or sample sentences. Every name and text from the data is shown as text (``ui.safe_text``): pyqtgraph
renders axis labels as HTML."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QLabel, QListWidget, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QWidget)

from nnstudio.core.data.base import Dataset
from nnstudio.ui import safe_text
from nnstudio.ui.plots import class_color, quiet_plot, style_plot

PREVIEW_IMAGES = 32
PREVIEW_ROWS = 50
PREVIEW_TEXTS = 40
PREVIEW_TEXT_CHARS = 500  # of one sample text in the list


def image_grid(x: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """(N, C, H, W) images in [0, 1] -> one (rows*(H+1), cols*(W+1), 3) RGB grid of the first ``count``; and cols."""
    x = np.asarray(x[:count], dtype=np.float64)
    n, c, h, w = x.shape
    cols = min(8, max(1, n))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + 1), cols * (w + 1), 3), np.nan)
    for i in range(n):
        img = x[i]
        img = np.repeat(img, 3, axis=0) if c == 1 else img[:3]
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        r, k = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img.transpose(1, 2, 0)
    return out, cols


class DatasetPreview(QStackedWidget):
    """One page per preview kind; ``show_dataset(data)`` picks and fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(220)
        self.empty = QLabel("No preview")
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.plot = pg.PlotWidget()
        quiet_plot(self.plot.getPlotItem())
        self.scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen(None))
        self.plot.addItem(self.scatter)
        self.images = pg.PlotWidget()
        item = self.images.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setAspectLocked(True)
        item.invertY(True)
        item.setMouseEnabled(x=False, y=False)
        self.grid = pg.ImageItem(axisOrder="row-major")
        self.images.addItem(self.grid)
        self.image_labels: list[pg.TextItem] = []
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.texts = QListWidget()
        self.texts.setWordWrap(True)
        for w in (self.empty, self.plot, self.images, self.table, self.texts):
            self.addWidget(w)
        self.kind = "none"
        style_plot(self.plot, self.palette())
        style_plot(self.images, self.palette())

    def show_message(self, text: str) -> None:
        self.empty.setText(text)
        self.setCurrentWidget(self.empty)
        self.kind = "none"

    def show_dataset(self, data: Dataset) -> None:
        kind = data.preview
        if kind == "points2d" and data.x.dim() == 2 and data.x.shape[1] >= 2:
            self._points(data)
        elif kind == "curve" and data.x.dim() == 2:
            self._curve(data)
        elif kind == "images" and data.x.dim() == 4:
            self._images(data)
        elif kind == "text" and data.texts:
            self._texts(data)
        else:
            self._table(data)

    def _points(self, data: Dataset) -> None:
        x = data.x[:, :2].double().numpy()
        y = data.y.numpy()
        cache: dict[int, Any] = {}
        brushes = [cache.setdefault(int(v), pg.mkBrush(class_color(int(v)))) for v in y.reshape(len(y), -1)[:, 0]]
        self.scatter.setData(pos=x, brush=brushes)
        names = data.feature_names or ["x1", "x2"]
        self.plot.getPlotItem().setLabel("bottom", _axis_text(names[0]))  # pyqtgraph renders labels as HTML
        self.plot.getPlotItem().setLabel("left", _axis_text(names[1]) if len(names) > 1 else "x2")
        self.plot.getPlotItem().setAspectLocked(True)
        self.plot.autoRange()
        self.setCurrentWidget(self.plot)
        self.kind = "points2d"

    def _curve(self, data: Dataset) -> None:
        x = data.x[:, 0].double().numpy()
        y = data.y.reshape(len(data.y), -1)[:, 0].double().numpy()
        self.scatter.setData(x=x, y=y, brush=pg.mkBrush(class_color(0)))
        names = data.feature_names or ["x"]
        self.plot.getPlotItem().setAspectLocked(False)
        self.plot.getPlotItem().setLabel("bottom", _axis_text(names[0]))
        self.plot.getPlotItem().setLabel("left", "target")
        self.plot.autoRange()
        self.setCurrentWidget(self.plot)
        self.kind = "curve"

    def _images(self, data: Dataset) -> None:
        order = _class_cycle(data, PREVIEW_IMAGES)
        grid, cols = image_grid(data.samples(order).numpy(), len(order))
        self.grid.setImage(grid, levels=(0.0, 1.0))
        item = self.images.getPlotItem()
        for t in self.image_labels:
            item.removeItem(t)
        self.image_labels = []
        h, w = data.x.shape[2], data.x.shape[3]
        if data.classes:
            for i, idx in enumerate(order):
                r, k = divmod(i, cols)
                label = data.classes[int(data.y[idx])] if data.task != "regression" else ""
                t = pg.TextItem(safe_text.one_line(label, 40), color="#e15759", anchor=(0, 0))
                t.setPos(k * (w + 1), r * (h + 1))
                item.addItem(t)
                self.image_labels.append(t)
        self.images.autoRange()
        self.setCurrentWidget(self.images)
        self.kind = "images"

    def _table(self, data: Dataset) -> None:
        x = data.samples(slice(0, PREVIEW_ROWS)).reshape(min(len(data), PREVIEW_ROWS), -1)
        names = list(data.feature_names) or [f"x{i + 1}" for i in range(x.shape[1])]
        names = names[:x.shape[1]] + [f"x{i + 1}" for i in range(len(names), x.shape[1])]
        shown = min(x.shape[1], 40)
        self.table.clear()
        self.table.setColumnCount(shown + 1)
        self.table.setRowCount(x.shape[0])
        self.table.setHorizontalHeaderLabels(["target"] + names[:shown])
        for r in range(x.shape[0]):
            self.table.setItem(r, 0, QTableWidgetItem(_target_text(data, r)))
            for c in range(shown):
                v = float(x[r, c])
                self.table.setItem(r, c + 1, QTableWidgetItem(f"{v:.4g}"))
        self.table.resizeColumnsToContents()
        self.setCurrentWidget(self.table)
        self.kind = "table"

    def _texts(self, data: Dataset) -> None:
        self.texts.clear()
        for i, text in enumerate(data.texts[:PREVIEW_TEXTS]):
            self.texts.addItem(safe_text.one_line(f"[{_target_text(data, i)}]  {text}", PREVIEW_TEXT_CHARS))
            item = self.texts.item(self.texts.count() - 1)
            item.setToolTip(safe_text.tooltip(item.text()))  # a long sample is elided to the list's width
        self.setCurrentWidget(self.texts)
        self.kind = "text"


def _axis_text(name: str) -> str:
    """A column name from a file as a plot axis shows it: one line, escaped (the axis renders HTML)."""
    return safe_text.rich(safe_text.one_line(name, 60))


def _target_text(data: Dataset, i: int) -> str:
    if data.task == "regression":
        return ", ".join(f"{float(v):.4g}" for v in data.y[i].reshape(-1))
    k = int(data.y[i])
    return data.classes[k] if k < len(data.classes) else str(k)


def _class_cycle(data: Dataset, count: int) -> list[int]:
    """Sample indices that take the classes in turn (0, 1, 2 ... 0, 1 ...), so the grid shows every class."""
    n = min(count, len(data))
    if data.task == "regression" or not data.classes:
        return list(range(n))
    y = data.y.numpy()
    by_class = [list(np.flatnonzero(y == k)) for k in range(len(data.classes))]
    out: list[int] = []
    while len(out) < n and any(by_class):
        for idx in by_class:
            if idx and len(out) < n:
                out.append(int(idx.pop(0)))
    return out
