"""The decision boundary for 2-D input data: the model's prediction over a grid as one RGBA image (colour by
class, opacity by confidence; a colour scale for regression) with the training points on top, redrawn with
every new probe while training runs."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from nnstudio.core.training.reports import BoundaryReport
from nnstudio.ui.plots import LivePlot, Notice, PlotView, class_color, class_rgb, quiet_plot, style_plot
from nnstudio.ui.safe_text import one_line, rich

VALUES = pg.colormap.get("viridis")
MIN_ALPHA, MAX_ALPHA = 25, 185
NOT_2D = ("The decision boundary is drawn for data with two input features, such as the spiral, moons or blobs "
          "datasets.")


def boundary_rgba(predicted: np.ndarray, confidence: np.ndarray, classes: int, regression: bool = False,
                  value_range: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W, 4) uint8: class colours with alpha from the confidence (chance level -> faint, certain -> strong);
    for regression the value through a colour scale."""
    if regression:
        lo, hi = value_range or (float(np.min(predicted)), float(np.max(predicted)))
        scaled = (predicted - lo) / (hi - lo) if hi > lo else np.zeros_like(predicted, dtype=np.float64)
        rgba = VALUES.map(np.clip(scaled, 0, 1).reshape(-1), mode="byte").reshape(*predicted.shape, 4)
        rgba[..., 3] = 150
        return rgba.astype(np.uint8)
    k = max(int(classes), 2)
    colours = class_rgb(max(k, int(predicted.max()) + 1 if predicted.size else k))
    rgba = np.empty((*predicted.shape, 4), dtype=np.uint8)
    rgba[..., :3] = colours[np.clip(predicted.astype(np.int64), 0, len(colours) - 1)]
    chance = 1.0 / k
    strength = np.clip((np.asarray(confidence, dtype=np.float64) - chance) / (1 - chance), 0, 1)
    rgba[..., 3] = (MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * strength).astype(np.uint8)
    return rgba


class BoundaryPlot(LivePlot):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = "Decision boundary"
        self.report: BoundaryReport | None = None
        self.classes: list[str] = []
        self.task = "multiclass"
        self._points_id: int | None = None
        self.plot = PlotView(self)
        self.item = self.plot.getPlotItem()
        quiet_plot(self.item, grid=False)
        self.item.setAspectLocked(True)
        self.item.setLabel("bottom", "x1")
        self.item.setLabel("left", "x2")
        self.image = pg.ImageItem(axisOrder="row-major")  # predicted[row = y index, col = x index]
        self.item.addItem(self.image)
        self.scatter = pg.ScatterPlotItem(size=7, pen=pg.mkPen(255, 255, 255, 200, width=0.8))
        self.scatter.setZValue(10)
        self.item.addItem(self.scatter)
        self.legend = self.item.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self._legend_items: list[pg.ScatterPlotItem] = []
        self.caption = QLabel("<b>Decision boundary</b>")
        self.notice = Notice(self.plot, self)
        self.message = self.notice.label
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.notice, 1)
        self.apply_palette()

    def apply_palette(self) -> None:
        style_plot(self.plot, self.palette())

    @property
    def available(self) -> bool:
        return self.said is None

    def set_available(self, on: bool, input_shape: list[int] | None = None) -> None:
        """Whether the data are 2-D points (otherwise a message says where the plot applies)."""
        text = NOT_2D
        if not on and input_shape:
            text += f" This network's input is ({', '.join(['N', *map(str, input_shape)])})."
        self.say(None if on else text)

    def set_classes(self, classes: list[str], task: str) -> None:
        self.classes, self.task = list(classes), task
        for item in self._legend_items:
            self.legend.removeItem(item)
        self._legend_items = []
        if task != "regression":
            for i, name in enumerate(classes[:10]):
                sample = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(class_color(i)), pen=pg.mkPen(None))
                self.legend.addItem(sample, rich(one_line(name, 40)))  # pyqtgraph renders it as HTML
                self._legend_items.append(sample)

    def clear(self) -> None:
        super().clear()
        self.report = None
        self._points_id = None
        self.image.clear()
        self.scatter.clear()
        self.caption.setText("<b>Decision boundary</b>")

    def ingest(self, report: BoundaryReport) -> None:
        self.report = report
        self._dirty = True

    def draw(self) -> None:
        r = self.report
        if r is None:
            return
        regression = self.task == "regression"
        k = len(self.classes) or (int(max(r.predicted.max(initial=0), r.labels.max(initial=0))) + 1)
        labels = np.asarray(r.labels)
        value_range = (float(labels.min()), float(labels.max())) if regression and labels.size else None
        self.image.setImage(boundary_rgba(r.predicted, r.confidence, k, regression, value_range), autoLevels=False,
                            levels=(0, 255))
        xs, ys = np.asarray(r.xs, dtype=np.float64), np.asarray(r.ys, dtype=np.float64)
        dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
        dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys)))
        if id(r.points) != self._points_id:  # the same points every probe: brushes only when they change
            self._points_id = id(r.points)
            if regression:
                lo, hi = value_range or (0.0, 1.0)
                scaled = (labels - lo) / (hi - lo) if hi > lo else np.zeros(len(labels))
                brushes = [pg.mkBrush(c) for c in VALUES.map(scaled, mode="qcolor")]
            else:
                cache = {}
                brushes = [cache.setdefault(int(v), pg.mkBrush(class_color(int(v)))) for v in labels]
            self.scatter.setData(pos=np.asarray(r.points, dtype=np.float64), brush=brushes)
        self.caption.setText(f"<b>Decision boundary</b> at step {r.step}")
