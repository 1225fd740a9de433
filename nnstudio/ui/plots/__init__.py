"""Live training plots (pyqtgraph). Shared pieces: growing numpy buffers, the plot base class, colours, styling.

Every plot follows the same rules (see ARCHITECTURE.md, "Fast live plots"): items are created once and get new
data through ``setData`` / ``setImage`` on numpy buffers; ``ingest`` only stores what arrived, and ``refresh``
draws it -- at most once per drain tick of the training worker, and not at all while the plot is hidden (it
draws when it is shown again).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from nnstudio.ui.safe_text import clean, plain

TITLE_SIZE = "10pt"  # titles inside the plots: the dock beside the canvas is often narrow

# Distinct colours for classes and curves (Tableau 10), readable on light and dark backgrounds.
COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
          "#bab0ac")


def class_color(i: int) -> QColor:
    return QColor(COLORS[int(i) % len(COLORS)])


def class_rgb(count: int) -> np.ndarray:
    """(count, 3) uint8 class colours."""
    return np.array([[c.red(), c.green(), c.blue()] for c in (class_color(i) for i in range(count))],
                    dtype=np.uint8).reshape(count, 3)


class PaintClock:
    """CPU time the GUI thread spends painting the plots (it holds the GIL meanwhile); the dashboard reads it
    to keep drawing within its budget."""

    spent = 0.0


def opaque(view: pg.GraphicsView) -> None:
    """The view paints its whole background itself: Qt need not repaint the dock and panels behind it (and the
    labels beside it) every time the plot is redrawn."""
    view.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)


def _timed_view(base: type, doc: str) -> type:
    """``base`` (a pyqtgraph view) opaque, its painting timed by :class:`PaintClock`, and ``resized()`` when it
    is resized, before its plots are laid out at the new size (so that they can be arranged for it first)."""

    class View(base):
        resized = Signal()

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            opaque(self)

        def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
            self.resized.emit()
            super().resizeEvent(event)

        def paintEvent(self, event) -> None:  # noqa: N802
            t0 = time.thread_time()
            super().paintEvent(event)
            PaintClock.spent += time.thread_time() - t0

    View.__doc__ = doc
    return View


PlotView = _timed_view(pg.PlotWidget, "A PlotWidget: opaque, its painting timed, ``resized()`` first on a resize.")
PlotView.__name__ = PlotView.__qualname__ = "PlotView"
LayoutView = _timed_view(pg.GraphicsLayoutWidget,
                         "A GraphicsLayoutWidget: opaque, its painting timed, ``resized()`` first on a resize.")
LayoutView.__name__ = LayoutView.__qualname__ = "LayoutView"


class Series:
    """x / y values appended point by point into float64 buffers that double when full; ``x`` and ``y`` are
    views of the filled part (what ``setData`` gets)."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]

    def __len__(self) -> int:
        return self.n

    def nearest(self, x: float) -> int | None:
        """Index of the point whose x is nearest (x ascending), or None when empty."""
        if self.n == 0:
            return None
        xs = self.x
        i = int(np.searchsorted(xs, x))
        if i >= self.n:
            return self.n - 1
        if i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
            return i - 1
        return i


class Rows:
    """Rows of fixed length (a histogram per measurement) in a buffer that doubles when full."""

    def __init__(self, width: int, capacity: int = 64) -> None:
        self._data = np.zeros((capacity, width), dtype=np.float64)
        self.n = 0

    @property
    def width(self) -> int:
        return self._data.shape[1]

    def append(self, row: np.ndarray) -> None:
        if self.n == len(self._data):
            self._data = np.concatenate([self._data, np.zeros_like(self._data)])
        self._data[self.n] = row
        self.n += 1

    @property
    def data(self) -> np.ndarray:
        return self._data[:self.n]

    def __len__(self) -> int:
        return self.n


def make_curve(plot: pg.PlotItem, color: str | QColor, width: float = 1.0, alpha: int = 255,
               name: str | None = None, symbol: str | None = None, style=Qt.PenStyle.SolidLine,
               per_pixel: float = 1.0) -> pg.PlotDataItem:
    """A curve created once, drawn fast: clipped to the view, no finiteness scan, and downsampled (peaks kept)
    to about ``per_pixel`` samples per pixel. On a raster surface a 1-pixel pen is cheap at any length while a
    wider one costs about 1 ms per thousand points, so wide pens go with a low ``per_pixel``."""
    c = QColor(color)
    c.setAlpha(alpha)
    pen = pg.mkPen(c, width=width, style=style)
    kwargs = {"symbol": symbol, "symbolSize": 6, "symbolBrush": c, "symbolPen": None} if symbol else {}
    curve = plot.plot([], [], pen=pen, name=name, **kwargs)
    curve.opts["autoDownsampleFactor"] = per_pixel
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    curve.setSkipFiniteCheck(True)
    return curve


def style_plot(widget: pg.PlotWidget | pg.GraphicsLayoutWidget, palette: QPalette,
               plots: list[pg.PlotItem] | None = None) -> None:
    """Colours from the Qt palette, so the plots follow the light or dark theme."""
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    fg = palette.color(QPalette.ColorRole.Text)
    items = plots if plots is not None else ([widget.getPlotItem()] if isinstance(widget, pg.PlotWidget) else [])
    for item in items:
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
        grid = getattr(item, "light_grid", None)
        if grid is not None:
            line = QColor(fg)
            line.setAlpha(40)
            grid.set_color(line)
        item.titleLabel.setAttr("color", fg.name())
        if item.titleLabel.text:
            item.titleLabel.setText(item.titleLabel.text)
        if item.legend is not None:
            item.legend.setLabelTextColor(fg)


class LightGrid:
    """Faint lines at the major ticks, as one curve of line pairs rebuilt only when the view range changes.

    pyqtgraph's own grids (the axes' grid lines, GridItem) redraw many translucent lines in view coordinates
    and cost 10-20 ms a repaint on a raster surface -- most of a frame; this costs well under a millisecond."""

    def __init__(self, item: pg.PlotItem) -> None:
        self.item = item
        self.curve = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(0, 0, 0, 40), antialias=False)
        self.curve.setZValue(-100)
        item.getViewBox().addItem(self.curve, ignoreBounds=True)
        item.getViewBox().sigRangeChanged.connect(self.update)
        item.getViewBox().sigResized.connect(self.update)

    def set_color(self, color: QColor) -> None:
        self.curve.setPen(pg.mkPen(color))

    def update(self, *_args) -> None:
        vb = self.item.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        xs = self._majors("bottom", x0, x1, vb.width())
        ys = self._majors("left", y0, y1, vb.height())
        px = np.empty(2 * (len(xs) + len(ys)))
        py = np.empty_like(px)
        n = 2 * len(xs)
        px[0:n:2] = px[1:n:2] = xs
        py[0:n:2], py[1:n:2] = y0, y1
        px[n::2], px[n + 1::2] = x0, x1
        py[n::2] = py[n + 1::2] = ys
        self.curve.setData(px, py)

    def _majors(self, name: str, lo: float, hi: float, size: float) -> np.ndarray:
        axis = self.item.getAxis(name)
        if size <= 0 or not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
            return np.empty(0)
        levels = axis.tickValues(lo, hi, size)
        values = [v for _spacing, vals in levels[:2] for v in vals] if levels else []
        return np.asarray([v for v in values if lo <= v <= hi], dtype=np.float64)


def quiet_plot(item: pg.PlotItem, grid: bool = True) -> None:
    """No context menu or auto-range button: a dashboard plot, not a plotting tool; a light grid."""
    item.setMenuEnabled(False)
    item.hideButtons()
    if grid:
        item.light_grid = LightGrid(item)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.enableAutoSIPrefix(False)  # "0.4", not "400 (x0.001)"
        # painted once into a pixmap and copied at every repaint until its range changes: replaying the tick
        # labels' text costs most of a plot's repaint on a raster surface
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class StableRange:
    """Sets a plot's view range from its data, but only when the data leave the range or fill too little of it.

    pyqtgraph's auto-range moves the view with every new point, which regenerates the axes and the grid and
    repaints the plot twice per update; a range that changes a few times per run keeps them cached. The x range
    starts at an eighth of the run (when its end is known) and doubles when the data reach its end, never beyond
    the run's end; the y range grows at once
    when a value leaves it but narrows around the data at most once every ``NARROW_EVERY_S`` (a falling loss
    would otherwise move it at every frame). Once the user pans or zooms, the range is theirs until ``reset``.
    ``update(x_end, lo, hi)``: x runs from ``x0`` to ``x_end``; lo / hi bound the y values (log10 of them in
    log mode)."""

    FILL = 0.45  # narrow the y range when the data fill less than this share of it
    HEADROOM = 0.25  # share of the data's span added beyond a value that left the range
    NARROW_EVERY_S = 1.0

    def __init__(self, item: pg.PlotItem, x0: float = 0.0, min_span: float = 0.0) -> None:
        self.vb = item.getViewBox()
        self.vb.disableAutoRange()
        self.x0 = x0
        self.min_span = min_span  # the x range is never shorter than this (an epoch for the curves)
        self.user = False
        self.vb.sigRangeChangedManually.connect(self._manual)
        self.x_end: float | None = None
        self.y: tuple[float, float] | None = None
        self._narrowed_at = 0.0

    def _manual(self, *_args) -> None:
        self.user = True

    def reset(self) -> None:
        self.user = False
        self.x_end = None
        self.y = None
        self._narrowed_at = 0.0

    def update(self, x_last: float, lo: float, hi: float, x_limit: float | None = None,
               x0: float | None = None, pad: float = 0.08, floor: float | None = None) -> None:
        """``x_last``: the largest x drawn; ``x_limit``: where x will end (the run's last epoch), if known;
        ``x0``: where x starts (default: as constructed); ``floor``: the lowest y shown (the padding below the
        lowest value stops there)."""
        if self.user or not all(np.isfinite(v) for v in (x_last, lo, hi)):
            return
        changed = False
        if x0 is not None and x0 != self.x0:
            self.x0, self.x_end = x0, None
        if self.x_end is None or x_last > self.x_end:
            # doubling, from at least min_span and an eighth of the run: a handful of changes per run
            first = max(self.min_span, (x_limit - self.x0) / 8 if x_limit is not None else 0.0)
            grown = max(self.x0 + 2 * (x_last - self.x0), self.x0 + first, x_last + 1e-9)
            self.x_end = max(x_last, min(grown, x_limit)) if x_limit is not None else grown
            changed = True
        span = max(hi - lo, 0.02 * max(abs(hi), abs(lo)), 1e-12)
        now = time.perf_counter()
        if self.y is None:
            self.y = (lo - pad * span, hi + pad * span)
            changed = True
        else:
            a, b = self.y
            if lo < a or hi > b:  # grow at once, with headroom on the side that grew for the next few values
                self.y = (min(a, lo - self.HEADROOM * span) if lo < a else a,
                          max(b, hi + self.HEADROOM * span) if hi > b else b)
                changed = True
            elif span < self.FILL * (b - a) and now - self._narrowed_at >= self.NARROW_EVERY_S:
                self._narrowed_at = now
                self.y = (lo - pad * span, hi + pad * span)
                changed = True
        if floor is not None and self.y[0] < floor <= lo:
            self.y = (floor, max(self.y[1], floor + 1e-12))
            changed = True
        if changed:
            self.vb.setRange(xRange=(self.x0, self.x_end), yRange=self.y, padding=0.0, disableAutoRange=True)
            settle(self.vb)


def settle(vb: pg.ViewBox) -> None:
    """Apply a new view range to the view's items now: pyqtgraph defers it to the next paint, where moving the
    items marks them for another paint, so that every range change painted the plot twice."""
    vb.updateMatrix()


def bounds(*arrays: np.ndarray, log: bool = False) -> tuple[float, float]:
    """Smallest and largest finite value over arrays (log10 of positive ones in log mode)."""
    lo, hi = np.inf, -np.inf
    for a in arrays:
        if len(a) == 0:
            continue
        if log:
            a = a[a > 0]
            if len(a) == 0:
                continue
            a = np.log10(a)
        lo, hi = min(lo, float(np.nanmin(a))), max(hi, float(np.nanmax(a)))
    return lo, hi


class Readout:
    """A label that follows the mouse over a plot and shows the nearest values, with a vertical guide line.
    ``describe(x, y)`` gets view coordinates and returns the text (None hides the label)."""

    def __init__(self, item: pg.PlotItem, describe: Callable[[float, float], str | None]) -> None:
        self.item, self.describe = item, describe
        self.label = pg.TextItem("", color="#1d1f23", fill=pg.mkBrush(255, 255, 255, 225),
                                 border=pg.mkPen("#9aa0a8"), anchor=(0, 1))
        self.label.setZValue(100)
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#9aa0a8", style=Qt.PenStyle.DashLine))
        for thing in (self.label, self.line):
            thing.hide()
            item.addItem(thing, ignoreBounds=True)
        item.scene().sigMouseMoved.connect(self.moved)

    def moved(self, pos: QPointF) -> None:
        vb = self.item.getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hide()
            return
        point = vb.mapSceneToView(pos)
        text = self.describe(point.x(), point.y())
        if not text:
            self.hide()
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        right = point.x() > (x0 + x1) / 2
        top = point.y() > (y0 + y1) / 2
        self.label.setAnchor((1.0 if right else 0.0, 0.0 if top else 1.0))
        self.label.setText(text)
        self.label.setPos(point)
        self.line.setPos(point.x())
        self.label.show()
        self.line.show()

    def hide(self) -> None:
        self.label.hide()
        self.line.hide()


class Notice(QStackedWidget):
    """A plot's content or, in its place, one message saying why there is nothing to draw (a tab must never be
    an empty plot without words). The message may quote a file, so it is plain text."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.label = plain(QLabel(""))
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMargin(12)
        self.addWidget(content)
        self.addWidget(self.label)

    def say(self, text: str | None) -> None:
        """Show ``text`` instead of the content; None (or "") shows the content again."""
        if text:
            self.label.setText(clean(text))
            self.setCurrentWidget(self.label)
        else:
            self.label.setText("")
            self.setCurrentWidget(self.content)

    @property
    def said(self) -> str | None:
        """The message shown, or None while the content is."""
        return self.label.text() if self.currentWidget() is self.label else None


class NoticeGroup:
    """Several plots that say the same thing at once (the loss, metrics and learning-rate curves). Taking the
    group's message back leaves what a plot says of its own (drawn from a history that lacks its values)."""

    def __init__(self, plots: list["LivePlot"]) -> None:
        self.plots = plots
        self._said: str | None = None

    def say(self, text: str | None) -> None:
        if text:
            self._said = clean(text)
            for plot in self.plots:
                plot.say(text)
            return
        for plot in self.plots:
            if self._said is not None and plot.said == self._said:
                plot.say(None)
        self._said = None

    @property
    def said(self) -> str | None:
        """The group's message while every plot shows it, else None."""
        if self._said is not None and all(plot.said == self._said for plot in self.plots):
            return self._said
        return None


def layer_page(owner: QWidget, layers: QWidget, graphics: QWidget, stats: QWidget) -> Notice:
    """The page of a per-layer plot (weights, activations): the layer list left, the plots over their one-line
    statistics right, all in a Notice laid into ``owner``; returns the Notice."""
    right = QWidget(owner)
    column = QVBoxLayout(right)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(graphics, 1)
    column.addWidget(stats)
    content = QWidget(owner)
    row = QHBoxLayout(content)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(layers)
    row.addWidget(right, 1)
    notice = Notice(content, owner)
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addWidget(notice)
    return notice


class LivePlot(QWidget):
    """Base of the dashboard's plots: ``ingest`` stores, ``refresh`` draws when something new arrived and the
    plot is visible, at most once per ``min_interval_s``; ``draws`` counts the redraws (the benchmark and the
    tests read it). ``say(text)`` shows why there is nothing to draw in place of the plot (its ``notice``)."""

    title = ""
    min_interval_s = 0.0  # plots whose data come slowly redraw less often than the frames of the live curves
    notice: Notice | None = None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dirty = False
        self._drawn_at = 0.0
        self.draws = 0

    def mark_dirty(self) -> None:
        self._dirty = True

    def refresh(self, force: bool = False) -> bool:
        """Draw what arrived since the last draw; True when it drew. ``force`` draws even when hidden or
        unchanged, and without waiting for ``min_interval_s``."""
        if not (self._dirty or force) or not (force or self.on_screen()):
            return False
        now = time.perf_counter()
        if not force and now - self._drawn_at < self.min_interval_s:
            return False  # still dirty: a later frame draws it
        self._dirty = False
        self._drawn_at = now
        self.draws += 1
        self.draw()
        return True

    def pending(self) -> bool:
        """Something new waits to be drawn and the plot is shown."""
        return self._dirty and self.on_screen()

    def on_screen(self) -> bool:
        """Shown and not covered by its parents: a plot tabbed behind another in the grid is "visible" to Qt but
        moved out of its parent's rectangle, so it has nothing to show and is not drawn."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def unthrottle(self) -> None:
        """Let the next ``refresh`` draw at once (the end of a run)."""
        self._drawn_at = 0.0

    def redraw_now(self) -> bool:
        """Draw at once for something the person did (a layer chosen, log scale): not held back by
        ``min_interval_s``."""
        self._dirty = True
        self.unthrottle()
        return self.refresh()

    def draw(self) -> None:  # pragma: no cover - every plot overrides it
        raise NotImplementedError

    def say(self, text: str | None) -> None:
        """Why there is nothing to draw, shown in place of the plot; None shows the plot."""
        if self.notice is not None:
            self.notice.say(text)

    @property
    def said(self) -> str | None:
        """The message shown in place of the plot, or None."""
        return self.notice.said if self.notice is not None else None

    def clear(self) -> None:
        self._dirty = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def resizeEvent(self, event) -> None:  # noqa: N802
        # a plot shown in a dock may get its size only after it is shown (ui/pinned.py): it is on screen now
        super().resizeEvent(event)
        if self._dirty:
            self.refresh()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.apply_palette()

    def apply_palette(self) -> None:
        """Restyle for the current palette; plots override it."""

    def export_widget(self) -> QWidget:
        """What "Save as PNG" takes a picture of."""
        return self


def fixed_lines(label: QLabel, lines: int) -> None:
    """Give a label whose text changes with every report a fixed height: a label that grows and shrinks with
    its text re-lays its neighbours out and repaints every plot beside it."""
    label.setFixedHeight(lines * label.fontMetrics().lineSpacing() + 6)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}g}"
