"""A small map of the whole network in the canvas's bottom-right corner, with the visible area as a rectangle.

A painted child widget of the GraphView (not a second view): the network is drawn once into a pixmap, as one
rectangle per layer and one line per wire, and redrawn only when the graph changes; each paint then costs a
pixmap copy and a rectangle. A click or a drag in it centres the view there. It shows only while the network
does not fit the canvas at the current zoom, and never in the Train workspace's overview.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, QObject, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from nnstudio.ui.canvas import style

SIZE = QSize(220, 140)  # on a large canvas
SMALLEST = QSize(120, 76)
SHARE = 0.26  # of the canvas's width and height, on a small one
MARGIN = 10  # from the canvas's edges
PAD = 6.0  # inside the map, round the network


class Minimap(QWidget):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.scene = view.graph_scene()
        self.enabled = True
        self._pixmap: QPixmap | None = None
        self._key: tuple | None = None  # what the pixmap shows: the graph, its node and wire counts, the theme
        self._world = QRectF()  # the scene rectangle the map shows
        self._extent: QRectF | None = None  # the nodes' rectangle, kept until the scene says it changed
        self.setObjectName("minimap")
        self.setFixedSize(SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # the canvas beneath is never painted for it
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole network: click or drag to move the view")
        self.scene.extent_changed.connect(self._on_extent_changed)
        self.scene.selectionChanged.connect(self._reposition)
        for bar in (view.horizontalScrollBar(), view.verticalScrollBar()):
            bar.valueChanged.connect(self._reposition)
            bar.rangeChanged.connect(self.refresh)
        self._later = QTimer(self)  # a recheck once the view has laid out its viewport after a resize
        self._later.setSingleShot(True)
        self._later.setInterval(0)
        self._later.timeout.connect(self.refresh)
        self._filter = _ResizeFilter(self)
        view.installEventFilter(self._filter)
        self.hide()
        self.place()
        self.refresh()

    # -- showing ------------------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.refresh()

    def wanted(self) -> bool:
        """Whether the map should show: switched on, not an overview, and some node outside the visible area."""
        if not self.enabled or getattr(self.view, "overview", False) or not self.scene.node_items():
            return False
        return not self.visible_rect().contains(self.extent())

    def extent(self) -> QRectF:
        if self._extent is None:
            self._extent = self.scene.nodes_rect()
        return self._extent

    def visible_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def refresh(self, *_args) -> None:
        show = self.wanted()
        if show != self.isVisible():
            self.setVisible(show)
            if show:
                self.place()
                self.raise_()
        if show:
            self.update()

    def place(self) -> None:
        """Keep the map in the bottom-right corner of the canvas (over the viewport, inside the view), or the
        bottom-left one while a selected layer lies under it there: the map never hides what is being edited."""
        area = self.view.contentsRect()  # the viewport's place, already right while the view is being resized
        # at most about a quarter of a small canvas (1024 x 700 leaves it some 430 px wide): it covers nodes
        size = QSize(int(min(SIZE.width(), max(SMALLEST.width(), SHARE * area.width()))),
                     int(min(SIZE.height(), max(SMALLEST.height(), SHARE * area.height()))))
        if size != self.size():
            self.setFixedSize(size)
            self._pixmap = None
        top = max(0, area.bottom() - size.height() - MARGIN + 1)
        right = QRect(QPoint(max(0, area.right() - size.width() - MARGIN + 1), top), size)
        left = QRect(QPoint(area.left() + MARGIN, top), size)
        spot = left if self._covers_selection(right) and not self._covers_selection(left) else right
        if spot.topLeft() != self.pos():
            self.move(spot.topLeft())

    def _covers_selection(self, rect: QRect) -> bool:
        """Whether ``rect`` (in the view's coordinates) lies over a selected layer."""
        origin = self.view.viewport().pos()
        for item in self.scene.selectedItems():
            shown = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect().translated(origin)
            if shown.intersects(rect):
                return True
        return False

    def _reposition(self, *_args) -> None:
        try:
            self.refresh()
            if self.isVisible():
                self.place()
        except RuntimeError:  # the scene is being destroyed with its window: its items are already gone
            pass

    def _on_extent_changed(self) -> None:
        self._pixmap, self._extent = None, None
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------------------
    def _current_key(self) -> tuple:
        graph = self.scene.graph
        return (id(graph), len(graph.nodes) if graph else 0, len(graph.edges) if graph else 0,
                self.scene.theme.canvas.rgb())

    def _scale(self) -> float:
        w, h = self.width() - 2 * PAD, self.height() - 2 * PAD
        return min(w / max(1.0, self._world.width()), h / max(1.0, self._world.height()))

    def to_map(self, point: QPointF) -> QPointF:
        s = self._scale()
        return QPointF(PAD + (point.x() - self._world.left()) * s, PAD + (point.y() - self._world.top()) * s)

    def to_scene(self, point: QPointF) -> QPointF:
        s = self._scale()
        return QPointF(self._world.left() + (point.x() - PAD) / s, self._world.top() + (point.y() - PAD) / s)

    def _network_pixmap(self) -> QPixmap:
        """The network, drawn in scene coordinates through one scaling transform: a line per wire between the
        node centres and a rectangle per node (at least two pixels)."""
        key = self._current_key()
        if self._pixmap is not None and key == self._key:
            return self._pixmap
        self._key = key
        self._world = self.extent().adjusted(-style.GRID, -style.GRID, style.GRID, style.GRID)
        ratio = self.devicePixelRatioF()
        pix = QPixmap(self.size() * ratio)
        pix.setDevicePixelRatio(ratio)
        pix.fill(self._background())
        theme = self.scene.theme
        graph = self.scene.graph
        p = QPainter(pix)
        if graph is not None and graph.nodes:
            s = self._scale()
            p.translate(PAD, PAD)
            p.scale(s, s)
            p.translate(-self._world.left(), -self._world.top())
            corner = {nid: style.canvas_xy(n.position) for nid, n in graph.nodes.items()}
            hw, hh = style.NODE_W / 2, style.NODE_H / 2
            p.setPen(QPen(theme.muted, 0))  # cosmetic: one pixel at any scale
            p.drawLines([QLineF(corner[e.src][0] + hw, corner[e.src][1] + hh, corner[e.dst][0] + hw,
                                corner[e.dst][1] + hh) for e in graph.edges if e.src in corner and e.dst in corner])
            w, h = max(2.0 / s, style.NODE_W), max(2.0 / s, style.NODE_H)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(theme.muted).lighter(115) if theme.dark else QColor(theme.muted).darker(110))
            p.drawRects([QRectF(x, y, w, h) for x, y in corner.values()])
        p.end()
        self._pixmap = pix
        return pix

    def _background(self) -> QColor:
        return style.mix(self.scene.theme.canvas, self.scene.theme.muted, 0.12)

    def paintEvent(self, _event) -> None:
        pix = self._network_pixmap()
        theme = self.scene.theme
        p = QPainter(self)
        p.drawPixmap(0, 0, pix)
        p.setPen(QPen(theme.muted, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        seen = self.visible_rect()
        box = QRectF(self.to_map(seen.topLeft()), self.to_map(seen.bottomRight()))
        box = box.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        accent = QColor(self.palette().highlight().color())
        p.setPen(QPen(accent, 1.5))
        accent.setAlpha(40)
        p.setBrush(accent)
        p.drawRect(box)
        p.end()

    # -- moving the view ----------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._go(event.position())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def _go(self, point: QPointF) -> None:
        if self._world.isNull():
            self._network_pixmap()
        self.view.centerOn(self.to_scene(point))


class _ResizeFilter(QObject):
    """Keeps the map in its corner when the canvas is resized, and rechecks whether it is needed."""

    def __init__(self, minimap: Minimap) -> None:
        super().__init__(minimap)
        self.minimap = minimap

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.minimap.place()
            self.minimap._later.start()
        return False
