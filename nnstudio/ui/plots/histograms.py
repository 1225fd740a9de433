"""Weight and gradient histograms of one layer: the current histogram (bars) and its history as a heatmap
(one ImageItem, measurements x fixed bins -- the engine fixes each layer's bin edges at its first measurement).

Every layer's history is kept; only the chosen layer is drawn. ``select_layer(node_id)`` lets the canvas
selection choose it, and ``layer_selected`` tells the window when the list does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from nnstudio.core.training.reports import LayerReport, LayerStats
from nnstudio.ui.plots import (
    COLORS,
    TITLE_SIZE,
    LayoutView,
    LivePlot,
    Rows,
    StableRange,
    fmt,
    layer_page,
    quiet_plot,
    style_plot,
)
from nnstudio.ui.plots.fit import StatsLine, compact_axes, fit_title, place
from nnstudio.ui.safe_text import one_line, rich

HEATMAP = pg.colormap.get("viridis")
ROOMY_ROW, ROOMY_COLUMN = 150, 180  # px a plot needs to keep its axis labels
ONE_ROW_BELOW = 180  # px: a plot area lower than this shows one row of plots
ONE_COLUMN_BELOW = 200  # px: one narrower than this shows one column


class _LayerHistory:
    def __init__(self, stats: LayerStats) -> None:
        self.steps: list[int] = []
        self.weights = Rows(len(stats.weight_hist))
        self.grads = Rows(len(stats.grad_hist))
        self.weight_edges = np.asarray(stats.weight_edges, dtype=np.float64)
        self.grad_edges = np.asarray(stats.grad_edges, dtype=np.float64)
        self.latest = stats

    def add(self, step: int, stats: LayerStats) -> None:
        if len(stats.weight_hist) != self.weights.width or len(stats.grad_hist) != self.grads.width:
            return  # bins never change within a run; a mismatch is a stale report
        self.steps.append(step)
        self.weights.append(np.log1p(np.asarray(stats.weight_hist, dtype=np.float64)))
        self.grads.append(np.log1p(np.asarray(stats.grad_hist, dtype=np.float64)))
        self.latest = stats


class LayerList(QListWidget):
    """The layers a plot can show, in network order; emits ``chosen(node_id)``."""

    chosen = Signal(str)

    WIDEST = 140  # px: a long layer name is elided (the whole name in its tooltip)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(self.WIDEST)
        self.pending: str | None = None
        self.currentItemChanged.connect(self._changed)

    def set_layers(self, ids: list[str]) -> None:
        current = self.current() or self.pending
        self.blockSignals(True)
        self.clear()
        for nid in ids:
            item = QListWidgetItem(one_line(nid, 200))
            item.setData(Qt.ItemDataRole.UserRole, nid)
            item.setToolTip(one_line(nid, 200))
            self.addItem(item)
        self.blockSignals(False)
        self.fit_width()
        if ids:
            self.choose(current if current in ids else ids[0])

    def fit_width(self, page: int | None = None) -> None:
        """As wide as the longest name (room for a scroll bar too), at most WIDEST and two fifths of the
        ``page`` it is on: the plots beside it need the room more."""
        if page is not None:
            self._page = page
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(self.item(i).text()) for i in range(self.count())),
                     default=metrics.horizontalAdvance("conv2d_10"))
        extra = 2 * self.frameWidth() + 12 + self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        most = min(self.WIDEST, int(0.4 * getattr(self, "_page", 10 ** 4)))
        width = max(60, min(most, widest + extra))
        if width != self.width() or self.minimumWidth() != width:
            self.setFixedWidth(width)

    def ensure(self, ids) -> bool:
        """Add layers not listed yet (keeping order of arrival); True when the list changed."""
        known = set(self.ids())
        new = [nid for nid in ids if nid not in known]
        if new:
            self.set_layers(self.ids() + new)
        return bool(new)

    def ids(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def current(self) -> str | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def choose(self, node_id: str | None) -> bool:
        ids = self.ids()
        if node_id not in ids:
            self.pending = node_id
            return False
        self.pending = None
        self.setCurrentRow(ids.index(node_id))
        return True

    def _changed(self, item, _previous) -> None:
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))


class _HistPair:
    """A bar graph of the current histogram and a heatmap of its history, for weights or gradients."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, row: int, what: str, color: str) -> None:
        self.bars_plot = layout.addPlot(row=row, col=0)
        self.heat_plot = layout.addPlot(row=row, col=1)
        fit_title(self.bars_plot, f"{what} now", TITLE_SIZE)
        fit_title(self.heat_plot, f"{what} over training", TITLE_SIZE)
        for p in (self.bars_plot, self.heat_plot):
            quiet_plot(p, grid=p is self.bars_plot)
            p.setMouseEnabled(x=False, y=False)
        self.bars_plot.setLabel("bottom", "value")
        self.bars_plot.setLabel("left", "count")
        self.heat_plot.setLabel("bottom", "step")
        self.heat_plot.setLabel("left", "value")
        self.bars = pg.BarGraphItem(x0=[0], x1=[1], height=[0], brush=pg.mkBrush(color), pen=pg.mkPen(None))
        self.bars_plot.addItem(self.bars)
        self.heat = pg.ImageItem(axisOrder="col-major")  # image[step_index, bin]: steps along x, bins along y
        self.heat.setColorMap(HEATMAP)
        self.heat_plot.addItem(self.heat)
        self.bars_range = StableRange(self.bars_plot)
        self.heat_range = StableRange(self.heat_plot)

    def reset_ranges(self) -> None:
        self.bars_range.reset()
        self.heat_range.reset()

    @property
    def plots(self) -> list[pg.PlotItem]:
        return [self.bars_plot, self.heat_plot]

    def show(self, hist: np.ndarray, edges: np.ndarray, rows: Rows, steps: list[int],
             total_steps: float | None) -> None:
        """Ranges are set by hand (StableRange): auto-ranging would regenerate the axes at every frame."""
        height = np.asarray(hist, dtype=np.float64)
        self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=height)
        lo_edge, hi_edge = float(edges[0]), float(edges[-1])
        self.bars_range.update(hi_edge, 0.0, float(height.max(initial=1.0)), x_limit=hi_edge, x0=lo_edge, pad=0.04)
        image = rows.data
        if len(image):
            self.heat.setImage(image, autoLevels=True)
            # one column per measurement, centred on its step (measurements are roughly evenly spaced)
            first, last = steps[0], steps[-1]
            column = (last - first) / (len(image) - 1) if len(image) > 1 else 1.0
            self.heat.setRect(QRectF(first - column / 2, lo_edge, column * len(image), hi_edge - lo_edge))
            self.heat_range.update(last + column / 2, lo_edge, hi_edge, x_limit=total_steps, x0=0.0, pad=0.0)
        else:
            self.heat.clear()


class LayerPlot(LivePlot):
    """A plot of one layer at a time, chosen in its ``layers`` list (a :class:`LayerList`) or on the canvas;
    emits ``layer_selected(node_id)`` when the person picks one."""

    layer_selected = Signal(str)
    layers: LayerList

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.layers.fit_width(self.width())

    def select_layer(self, node_id: str) -> bool:
        """Show ``node_id`` (a canvas selection); False when this plot has nothing for that layer."""
        return self.layers.choose(node_id)

    @property
    def current(self) -> str | None:
        return self.layers.current()


class HistogramPlot(LayerPlot):
    """Weights and gradients of the chosen layer; redrawn at most ten times a second (every report still adds
    its row to the history)."""

    min_interval_s = 0.1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = "Weights & gradients"
        self.history: dict[str, _LayerHistory] = {}
        self.total_steps: float | None = None  # where the heatmaps' step axis will end
        self.layers = LayerList(self)
        self.layers.chosen.connect(self._chosen)
        self.graphics = LayoutView(self)
        self.weights = _HistPair(self.graphics, 0, "Weights", COLORS[0])
        self.grads = _HistPair(self.graphics, 1, "Gradients", COLORS[1])
        self.stats = StatsLine("Layer statistics appear once training has measured them "
                               "(every few steps, see “Layer statistics every”).")
        self.notice = layer_page(self, self.layers, self.graphics, self.stats)
        self.graphics.resized.connect(self._fit)
        self.apply_palette()

    def _fit(self) -> None:
        """Two rows (weights, gradients) of two plots (now, over training); in little room their axis labels
        step aside, and in less the histograms of now alone are side by side (maximise the plot for more)."""
        height, width = self.graphics.height(), self.graphics.width()
        rows, columns = height >= ONE_ROW_BELOW, width >= ONE_COLUMN_BELOW  # room for two of each
        w, g = self.weights, self.grads
        if (rows, columns) != getattr(self, "_arranged", None):
            self._arranged = (rows, columns)
            place(self.graphics.ci.layout, {
                w.bars_plot: (0, 0),
                w.heat_plot: (0, 1) if rows and columns else None,
                g.bars_plot: (1, 0) if rows else (0, 1) if columns else None,
                g.heat_plot: (1, 1) if rows and columns else None})
        compact_axes(w.plots + g.plots, not (rows and columns) or height < 2 * ROOMY_ROW
                     or width < 2 * ROOMY_COLUMN)

    def apply_palette(self) -> None:
        style_plot(self.graphics, self.palette(), self.weights.plots + self.grads.plots)

    # -- data ----------------------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.history.clear()
        self.total_steps = None
        self.layers.set_layers([])
        for pair in (self.weights, self.grads):
            pair.bars.setOpts(x0=[0], x1=[1], height=[0])
            pair.heat.clear()
            pair.reset_ranges()

    def set_layers(self, ids: list[str]) -> None:
        """The layers with weights, in network order (before any measurement arrives)."""
        self.layers.set_layers(ids)

    def ingest(self, report: LayerReport) -> None:
        for nid, stats in report.layers.items():
            hist = self.history.get(nid)
            if hist is None:
                hist = self.history[nid] = _LayerHistory(stats)
            hist.add(report.step, stats)
        self.layers.ensure(list(report.layers))
        self._dirty = True

    @property
    def last_step(self) -> int | None:
        """The step of the newest measurement held (None: none yet)."""
        return max((h.steps[-1] for h in self.history.values() if h.steps), default=None)

    def _chosen(self, node_id: str) -> None:
        for pair in (self.weights, self.grads):
            pair.reset_ranges()
        self.redraw_now()
        self.layer_selected.emit(node_id)

    # -- drawing -------------------------------------------------------------------------------------------
    def draw(self) -> None:
        hist = self.history.get(self.current or "")
        if hist is None:
            return
        s = hist.latest
        self.weights.show(s.weight_hist, hist.weight_edges, hist.weights, hist.steps, self.total_steps)
        self.grads.show(s.grad_hist, hist.grad_edges, hist.grads, hist.steps, self.total_steps)
        self.stats.set_parts([
            (f"<b>{rich(self.current or '', 200)}</b> at step {hist.steps[-1] if hist.steps else '–'}: "
             f"weight norm {fmt(s.weight_norm)}"),
            f"gradient norm {fmt(s.grad_norm)}",
            f"update / weight {fmt(s.update_ratio, 3)}",
            "<span style='color:#c0392b'>gradients vanishing</span>" if 0 < s.grad_norm < 1e-7 else "",
            "<span style='color:#c0392b'>large updates: lower the learning rate?</span>"
            if s.update_ratio > 0.1 else ""])
