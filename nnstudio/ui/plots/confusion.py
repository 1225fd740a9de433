"""The validation confusion matrix of the newest epoch (a heatmap with the counts written in, rows = true class,
columns = predicted class, colour = share of the row) and a table of precision, recall, F1 and support per
class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.ui.plots import LivePlot, Notice, PlotView, style_plot
from nnstudio.ui.plots.fit import compact_axes
from nnstudio.ui.safe_text import one_line

CELLS = pg.colormap.get("CET-L12")  # white to blue
ROOMY_PLOT = 200  # px: a smaller matrix has no room for its axis labels (the tooltip says what they are)
NOT_CLASSIFICATION = "The confusion matrix is drawn after each epoch for classification networks with validation data."


class CountsItem(pg.GraphicsObject):
    """The counts written in a k x k matrix's cells, drawn by one item in one paint call (k² TextItems would
    cost the GUI thread a hundred Python objects to create, move and paint for ten classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = np.zeros((0, 0))
        self.dark = np.zeros((0, 0), dtype=bool)  # cells dark enough for white text

    def set_counts(self, counts: np.ndarray, dark: np.ndarray) -> None:
        if counts.shape != self.counts.shape:
            self.prepareGeometryChange()
        self.counts, self.dark = counts, dark
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        k = self.counts.shape[0]
        return QRectF(0, 0, k, k)

    def paint(self, painter, *_args) -> None:
        k = self.counts.shape[0]
        if not k:
            return
        to_device = painter.transform()
        cell = abs(to_device.m11()) if to_device.m11() else 1.0
        if cell < 14:  # cells too small to write in
            return
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPointSizeF(max(6.0, min(11.0, cell / 4)))
        painter.setFont(font)
        light, dark = QColor("#ffffff"), QColor("#1d1f23")
        half = cell / 2
        for i in range(k):
            for j in range(k):
                centre = to_device.map(QPointF(j + 0.5, i + 0.5))
                painter.setPen(light if self.dark[i, j] else dark)
                painter.drawText(QRectF(centre.x() - half, centre.y() - half, cell, cell),
                                 int(Qt.AlignmentFlag.AlignCenter), str(int(self.counts[i, j])))
        painter.restore()


class ConfusionPlot(LivePlot):
    """The validation confusion matrix and the per-class table of the latest epoch; redrawn at most four times a
    second (short epochs end far more often than that)."""

    min_interval_s = 0.25

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = "Confusion matrix"
        self.classes: list[str] = []
        self.matrix: np.ndarray | None = None
        self.per_class: list[dict[str, float]] | None = None
        self.epoch: int | None = None
        self.plot = PlotView(self)
        self.item = self.plot.getPlotItem()
        self.item.setMenuEnabled(False)
        self.item.hideButtons()
        self.item.setMouseEnabled(x=False, y=False)
        self.item.getViewBox().disableAutoRange()
        self.item.getViewBox().sigResized.connect(self._fit_ticks)
        self._ticks_fitted: tuple[int, ...] = ()
        self.item.setAspectLocked(True)
        self.item.invertY(True)
        self.item.setLabel("bottom", "predicted class")
        self.item.setLabel("left", "true class")
        self.plot.setToolTip("Rows: the true class · columns: the predicted class")
        self.plot.resized.connect(
            lambda: compact_axes([self.item], self.plot.width() < ROOMY_PLOT or self.plot.height() < ROOMY_PLOT))
        self.image = pg.ImageItem(axisOrder="row-major")  # matrix[true, predicted]
        self.image.setColorMap(CELLS)
        self.item.addItem(self.image)
        self.counts = CountsItem()
        self.item.addItem(self.counts)
        self._k = 0
        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels(["class", "precision", "recall", "F1", "support"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # the class names may be elided (their tooltip has them whole), the header's "class" not: the table
        # scrolls sideways rather than squeezing it
        self.table.horizontalHeader().setMinimumSectionSize(self.table.fontMetrics().horizontalAdvance("class") + 16)
        for c in range(1, 5):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.caption = QLabel("<b>Confusion matrix</b> (validation data)")
        self.caption.setWordWrap(True)  # a long caption must not hold the plot wider than its place in the grid
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.notice = Notice(split, self)
        self.message = self.notice.label
        self.when: str | None = None  # what the matrix is of, when not an epoch ("the weights kept")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.notice, 1)
        self.apply_palette()

    def apply_palette(self) -> None:
        style_plot(self.plot, self.palette())

    def set_available(self, on: bool) -> None:
        self.say(None if on else NOT_CLASSIFICATION)

    @property
    def available(self) -> bool:
        return self.said is None

    def set_classes(self, classes: list[str]) -> None:
        self.classes = list(classes)

    def clear(self) -> None:
        super().clear()
        self.matrix, self.per_class, self.epoch, self.when = None, None, None, None
        self._k = 0
        self.image.clear()
        self.counts.set_counts(np.zeros((0, 0)), np.zeros((0, 0), dtype=bool))
        self.table.setRowCount(0)
        self.caption.setText("<b>Confusion matrix</b> (validation data)")

    def ingest(self, epoch: int, confusion: list[list[int]] | None,
               per_class: list[dict[str, Any]] | None, when: str | None = None) -> None:
        """The matrix of ``epoch``; ``when`` says what it is of instead (a saved history keeps the matrix of
        the weights kept, which may be an earlier epoch's)."""
        if confusion is None:
            return
        self.matrix = np.asarray(confusion, dtype=np.float64)
        self.per_class = per_class
        self.epoch, self.when = epoch, when
        self._dirty = True

    def _names(self, k: int) -> list[str]:
        return [self.classes[i] if i < len(self.classes) else str(i) for i in range(k)]

    def _set_ticks(self, k: int) -> None:
        """Class names on both axes, and the view fitted to the matrix: only when the number of classes changes."""
        if k == self._k:
            return
        self._k = k
        names = self._names(k)
        names = [one_line(n, 12) for n in names]  # a class name from a file: one short line
        self.item.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(names)]])
        self.item.getViewBox().setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        self._ticks_fitted = ()
        self._fit_ticks()

    def _fit_ticks(self, *_args) -> None:
        """The class names under the columns, elided to the columns' width (side by side, they must not run
        into each other; the table beside has them whole)."""
        k = self._k
        if not k:
            return
        names = [one_line(n, 12) for n in self._names(k)]
        cell = int(self.item.getViewBox().width() / k) - 4
        metrics = QFontMetrics(self.plot.font())
        shown = tuple(metrics.horizontalAdvance(n) <= cell for n in names) + (cell // 8,)
        if shown == self._ticks_fitted:
            return
        self._ticks_fitted = shown
        fitted = [metrics.elidedText(n, Qt.TextElideMode.ElideRight, max(cell, 1)) for n in names]
        self.item.getAxis("bottom").setTicks([[(i + 0.5, n) for i, n in enumerate(fitted)]])

    def draw(self) -> None:
        m = self.matrix
        if m is None:
            return
        k = m.shape[0]
        rows = m.sum(axis=1, keepdims=True)
        share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        self.image.setImage(share, levels=(0.0, 1.0))
        self.image.setRect(0, 0, k, k)
        self._set_ticks(k)
        self.counts.set_counts(m.copy(), share > 0.55)
        self._fill_table(k)
        total = m.sum()
        accuracy = np.trace(m) / total if total else 0.0
        when = self.when or f"epoch {self.epoch}"
        self.caption.setText(f"<b>Confusion matrix</b> (validation data, {when}): "
                             f"{int(np.trace(m))} of {int(total)} right ({accuracy:.1%})")

    def _fill_table(self, k: int) -> None:
        rows = self.per_class or []
        names = self._names(k)
        self.table.setRowCount(len(rows) + (1 if rows else 0))
        for i, row in enumerate(rows):
            self._set_row(i, names[i] if i < len(names) else str(i), row)
        if rows:
            macro = {key: float(np.mean([r.get(key, 0.0) for r in rows])) for key in ("precision", "recall", "f1")}
            macro["support"] = sum(r.get("support", 0) for r in rows)
            self._set_row(len(rows), "macro average", macro, bold=True)

    def _set_row(self, i: int, name: str, row: dict[str, Any], bold: bool = False) -> None:
        values = [one_line(name, 200), *(f"{row.get(key, 0.0):.3f}" for key in ("precision", "recall", "f1")),
                  str(int(row.get("support", 0)))]
        for c, text in enumerate(values):
            item = self.table.item(i, c)
            if item is None:
                item = QTableWidgetItem()
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, c, item)
            if item.font().bold() != bold:
                font = item.font()
                font.setBold(bold)
                item.setFont(font)
            if item.text() != text:  # every change repaints the table
                item.setText(text)
                if not c:
                    item.setToolTip(text)  # a long class name is elided in its cell
