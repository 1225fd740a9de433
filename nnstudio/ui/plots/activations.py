"""What each layer outputs on a fixed probe batch: the distribution of its values, their mean and spread, the
share of dead ReLU units, and for convolution layers the feature maps of the first probe image (one mosaic
image, up to 16 maps). Shows the newest probe; ``select_layer(node_id)`` chooses the layer.

For classification the compiled model returns logits: a Softmax (cross-entropy) or Sigmoid (binary
cross-entropy) at the end of the layer before the Output is folded into the loss (``core.compile``), so the probe
of that layer measures the values before it. ``set_graph(graph)`` tells the plot which layer that is
(:func:`folded_layers`), and its histogram then says that it shows logits.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from nnstudio.core.training.reports import ActivationReport, ActivationStats
from nnstudio.ui.plots import (
    COLORS,
    TITLE_SIZE,
    LayoutView,
    StableRange,
    fmt,
    layer_page,
    quiet_plot,
    settle,
    style_plot,
)
from nnstudio.ui.plots.fit import StatsLine, compact_axes, fit_title, place
from nnstudio.ui.plots.histograms import (
    ONE_COLUMN_BELOW,
    ONE_ROW_BELOW,
    ROOMY_COLUMN,
    ROOMY_ROW,
    LayerList,
    LayerPlot,
)
from nnstudio.ui.safe_text import rich

GAP = 1  # pixels between feature maps in the mosaic
# The activation a classification loss contains, per loss: the same as ``core.compile._FOLDABLE`` (a test holds
# them equal; compile is not imported here, it imports torch).
FOLDED_BY_LOSS = {"cross_entropy": "softmax", "bce": "sigmoid"}
FOLDED_TITLES = {"softmax": "Softmax", "sigmoid": "Sigmoid"}
LOSS_TITLES = {"cross_entropy": "cross-entropy", "bce": "binary cross-entropy"}
DIST_TITLE = "Outputs on the probe batch"


def folded_layers(graph) -> dict[str, tuple[str, str]]:
    """Node id -> (activation, loss) for the layer whose final Softmax / Sigmoid the compiler folds into the
    loss (``core.compile.compile_graph``'s ``folded_from``): the layer wired into the Output of a
    classification task whose loss contains that activation. Empty when there is none or the graph says
    nothing clear (a bad parameter value from a file)."""
    from nnstudio.core.layers.io_layers import effective_loss

    out: dict[str, tuple[str, str]] = {}
    try:
        output = next((n for n in graph.nodes.values() if n.spec.is_output), None)
        wires = graph.inputs_of(output.id) if output is not None else []
        if not wires or output.params.get("task") not in ("multiclass", "binary"):
            return out
        loss = effective_loss(output.params)
        src = graph.nodes.get(wires[0].src)
        if src is None or loss not in FOLDED_BY_LOSS:
            return out
        if src.type_id == "activation":
            act = src.params.get("function")
        else:
            act = src.params.get("activation") if src.spec.activation_param else None
        if act == FOLDED_BY_LOSS[loss]:
            out[src.id] = (act, loss)
    except (KeyError, TypeError, AttributeError, ValueError):  # a graph with bad values: nothing is folded
        return {}
    return out


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
        self.folded: dict[str, tuple[str, str]] = {}  # see folded_layers
        self.layers = LayerList(self)
        self.layers.chosen.connect(self._chosen)
        self.graphics = LayoutView(self)
        self.dist = self.graphics.addPlot(row=0, col=0)
        fit_title(self.dist, DIST_TITLE, TITLE_SIZE)
        quiet_plot(self.dist)
        self.dist.setMouseEnabled(x=False, y=False)
        self.dist.setLabel("bottom", "value")
        self.dist.setLabel("left", "count")
        self.bars = pg.BarGraphItem(x0=[0], x1=[1], height=[0], brush=pg.mkBrush(COLORS[2]), pen=pg.mkPen(None))
        self.dist.addItem(self.bars)
        self.mean_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(COLORS[0], width=2))
        self.dist.addItem(self.mean_line, ignoreBounds=True)
        # ranges set by hand: pyqtgraph's auto-range moves the view while it paints, which repaints the plot a
        # second time and regenerates its axes at every frame
        self.dist_range = StableRange(self.dist)
        self.maps_plot = self.graphics.addPlot(row=1, col=0)
        fit_title(self.maps_plot, "Feature maps, first probe image", TITLE_SIZE)
        self.maps_plot.setMenuEnabled(False)
        self.maps_plot.hideButtons()
        self.maps_plot.hideAxis("left")
        self.maps_plot.hideAxis("bottom")
        self.maps_plot.setAspectLocked(True)
        self.maps_plot.invertY(True)
        self.maps_plot.setMouseEnabled(x=False, y=False)
        self.maps = pg.ImageItem(axisOrder="row-major")
        self.maps_plot.addItem(self.maps)
        self.maps_plot.getViewBox().disableAutoRange()
        self._maps_shape: tuple[int, int] | None = None
        self.stats = StatsLine("Activations appear after the first probe of the network.")
        self.notice = layer_page(self, self.layers, self.graphics, self.stats)
        self.graphics.resized.connect(self._fit)
        self._show_maps(False)
        self.apply_palette()

    def _fit(self) -> None:
        """The histogram above the feature maps (when there are any), beside them when the plot area is low;
        axis labels step aside in little room."""
        height, width = self.graphics.height(), self.graphics.width()
        beside = height < ONE_ROW_BELOW  # no room for the maps below the histogram: beside it, or not at all
        maps = getattr(self, "_maps_on", False) and not (beside and width < ONE_COLUMN_BELOW)
        beside = maps and beside
        arrangement = (maps, beside)
        if arrangement != getattr(self, "_arranged", None):
            self._arranged = arrangement
            place(self.graphics.ci.layout, {self.dist: (0, 0),
                                            self.maps_plot: None if not maps else (0, 1) if beside else (1, 0)})
            below = maps and not beside
            self.graphics.ci.layout.setRowStretchFactor(1, 2 if below else 0)
            self.graphics.ci.layout.setRowMaximumHeight(1, 10_000 if below else 0)
        rows, columns = (2, 1) if maps and not beside else (1, 2 if beside else 1)
        compact_axes([self.dist, self.maps_plot], height < rows * ROOMY_ROW or width < columns * ROOMY_COLUMN)

    def apply_palette(self) -> None:
        style_plot(self.graphics, self.palette(), [self.dist, self.maps_plot])

    def _show_maps(self, on: bool) -> None:
        self._maps_on = on
        self._fit()

    # -- data ----------------------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.latest.clear()
        self.step = None
        self.layers.set_layers([])
        self.bars.setOpts(x0=[0], x1=[1], height=[0])
        self.dist_range.reset()
        self.maps.clear()
        self._maps_shape = None
        self._show_maps(False)

    def set_layers(self, ids: list[str]) -> None:
        self.layers.set_layers(ids)

    def set_graph(self, graph) -> None:
        """The network the probes come from: which layer's Softmax / Sigmoid is folded into the loss."""
        self.set_folded(folded_layers(graph) if graph is not None else {})

    def set_folded(self, folded: dict[str, tuple[str, str]]) -> None:
        self.folded = dict(folded)
        self._dirty = True

    def dist_title(self) -> str:
        """The histogram's title for the layer shown: its outputs, or its logits when its activation is folded."""
        fold = self.folded.get(self.current or "")
        if fold is None:
            return DIST_TITLE
        return f"Logits on the probe batch (before the {FOLDED_TITLES.get(fold[0], fold[0])})"

    def ingest(self, report: ActivationReport) -> None:
        self.latest = dict(report.layers)
        self.step = report.step
        self.layers.ensure(list(report.layers))
        self._dirty = True

    def _chosen(self, node_id: str) -> None:
        self.dist_range.reset()
        self.redraw_now()
        self.layer_selected.emit(node_id)

    # -- drawing -------------------------------------------------------------------------------------------
    def draw(self) -> None:
        s = self.latest.get(self.current or "")
        if s is None:
            return
        edges = np.asarray(s.edges, dtype=np.float64)
        height = np.asarray(s.hist, dtype=np.float64)
        self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=height)
        self.mean_line.setPos(s.mean)
        lo, hi = float(edges[0]), float(edges[-1])
        self.dist_range.update(hi, 0.0, float(height.max(initial=1.0)), x_limit=hi, x0=lo, pad=0.04)
        fit_title(self.dist, self.dist_title(), TITLE_SIZE)
        if s.feature_maps is not None and s.feature_maps.ndim == 3 and s.feature_maps.size:
            image = mosaic(s.feature_maps)
            self.maps.setImage(image, levels=(0.0, 1.0))
            if image.shape != self._maps_shape:  # the view changes only with the mosaic's shape
                self._maps_shape = image.shape
                rows, cols = image.shape
                self.maps_plot.getViewBox().setRange(xRange=(0, cols), yRange=(0, rows), padding=0.02)
                settle(self.maps_plot.getViewBox())
            self._show_maps(True)
        else:
            self._show_maps(False)
        parts = [f"<b>{rich(self.current or '', 200)}</b> at step {self.step}: mean {fmt(s.mean)}",
                 f"std {fmt(s.std)}"]
        fold = self.folded.get(self.current or "")
        if fold is not None:
            act, loss = FOLDED_TITLES.get(fold[0], fold[0]), LOSS_TITLES.get(fold[1], fold[1])
            parts.append(f"logits: its {act} is applied in the {loss} loss")
        if s.dead_fraction is not None:
            dead = s.dead_fraction * 100
            colour = "#c0392b" if dead >= 50 else ("#d68910" if dead >= 20 else "inherit")
            parts.append(f"<span style='color:{colour}'>dead units {dead:.0f}%</span>"
                         + (" (never positive on the probe batch: try a lower learning rate or LeakyReLU)"
                            if dead >= 50 else ""))
        if s.std < 1e-6:
            parts.append("<span style='color:#c0392b'>the outputs are constant</span>")
        self.stats.set_parts(parts)
