"""What each layer outputs on a fixed probe batch: the distribution of its values, their mean and spread, the
share of dead ReLU units, and for convolution layers the feature maps of the first probe image (one mosaic
image, up to 16 maps). Shows the newest probe; ``select_layer(node_id)`` chooses the layer."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from nnstudio.core.training.reports import ActivationReport, ActivationStats
from nnstudio.ui.plots import COLORS, TITLE_SIZE, LayoutView, fixed_lines, fmt, layer_page, quiet_plot, style_plot
from nnstudio.ui.plots.histograms import LayerList, LayerPlot
from nnstudio.ui.safe_text import rich

GAP = 1  # pixels between feature maps in the mosaic


def mosaic(maps: np.ndarray) -> np.ndarray:
    """(C, H, W) feature maps -> one (rows*(H+1)-1, cols*(W+1)-1) image, each map scaled to [0, 1] on its own,
    NaN (transparent) between them."""
    maps = np.asarray(maps, dtype=np.float64)
    c, h, w = maps.shape
    cols = max(1, math.ceil(math.sqrt(c)))
    rows = max(1, math.ceil(c / cols))
    out = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP), np.nan)
    for i in range(c):
        m = maps[i]
        lo, hi = float(m.min()), float(m.max())
        scaled = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        r, k = divmod(i, cols)
        out[r * (h + GAP):r * (h + GAP) + h, k * (w + GAP):k * (w + GAP) + w] = scaled
    return out


class ActivationsPlot(LayerPlot):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = "Activations"
        self.latest: dict[str, ActivationStats] = {}
        self.step: int | None = None
        self.layers = LayerList(self)
        self.layers.chosen.connect(self._chosen)
        self.graphics = LayoutView(self)
        self.dist = self.graphics.addPlot(row=0, col=0)
        self.dist.setTitle("Outputs on the probe batch", size=TITLE_SIZE)
        quiet_plot(self.dist)
        self.dist.setMouseEnabled(x=False, y=False)
        self.dist.setLabel("bottom", "value")
        self.dist.setLabel("left", "count")
        self.bars = pg.BarGraphItem(x0=[0], x1=[1], height=[0], brush=pg.mkBrush(COLORS[2]), pen=pg.mkPen(None))
        self.dist.addItem(self.bars)
        self.mean_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(COLORS[0], width=2))
        self.dist.addItem(self.mean_line, ignoreBounds=True)
        self.maps_plot = self.graphics.addPlot(row=1, col=0)
        self.maps_plot.setTitle("Feature maps, first probe image", size=TITLE_SIZE)
        self.maps_plot.setMenuEnabled(False)
        self.maps_plot.hideButtons()
        self.maps_plot.hideAxis("left")
        self.maps_plot.hideAxis("bottom")
        self.maps_plot.setAspectLocked(True)
        self.maps_plot.invertY(True)
        self.maps_plot.setMouseEnabled(x=False, y=False)
        self.maps = pg.ImageItem(axisOrder="row-major")
        self.maps_plot.addItem(self.maps)
        self.stats = QLabel("Activations appear after the first probe of the network.")
        self.stats.setWordWrap(True)
        fixed_lines(self.stats, 2)
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.notice = layer_page(self, self.layers, self.graphics, self.stats)
        self._show_maps(False)
        self.apply_palette()

    def apply_palette(self) -> None:
        style_plot(self.graphics, self.palette(), [self.dist, self.maps_plot])

    def _show_maps(self, on: bool) -> None:
        self.maps_plot.setVisible(on)
        self.graphics.ci.layout.setRowStretchFactor(1, 2 if on else 0)
        self.graphics.ci.layout.setRowMaximumHeight(1, 10_000 if on else 0)

    # -- data ----------------------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.latest.clear()
        self.step = None
        self.layers.set_layers([])
        self.bars.setOpts(x0=[0], x1=[1], height=[0])
        self.maps.clear()
        self._show_maps(False)

    def set_layers(self, ids: list[str]) -> None:
        self.layers.set_layers(ids)

    def ingest(self, report: ActivationReport) -> None:
        self.latest = dict(report.layers)
        self.step = report.step
        self.layers.ensure(list(report.layers))
        self._dirty = True

    def _chosen(self, node_id: str) -> None:
        self.redraw_now()
        self.layer_selected.emit(node_id)

    # -- drawing -------------------------------------------------------------------------------------------
    def draw(self) -> None:
        s = self.latest.get(self.current or "")
        if s is None:
            return
        edges = np.asarray(s.edges, dtype=np.float64)
        self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=np.asarray(s.hist, dtype=np.float64))
        self.mean_line.setPos(s.mean)
        if s.feature_maps is not None and s.feature_maps.ndim == 3 and s.feature_maps.size:
            self.maps.setImage(mosaic(s.feature_maps), levels=(0.0, 1.0))
            self._show_maps(True)
        else:
            self._show_maps(False)
        text = f"<b>{rich(self.current or '', 200)}</b> at step {self.step}: mean {fmt(s.mean)} · std {fmt(s.std)}"
        if s.dead_fraction is not None:
            dead = s.dead_fraction * 100
            colour = "#c0392b" if dead >= 50 else ("#d68910" if dead >= 20 else "inherit")
            text += f" · <span style='color:{colour}'>dead units {dead:.0f}%</span>"
            if dead >= 50:
                text += " (never positive on the probe batch: try a lower learning rate or LeakyReLU)"
        if s.std < 1e-6:
            text += " · <span style='color:#c0392b'>the outputs are constant</span>"
        self.stats.setText(text)
