"""Wires: a cubic Bezier from an output port to an input port. ``EdgeItem`` shows one graph edge (selectable, so
it can be deleted); ``WireItem`` is the loose wire that follows the mouse while a connection is dragged."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nnstudio.core.graph import Edge
from nnstudio.ui.canvas import style
from nnstudio.ui.safe_text import tooltip

HIT_WIDTH = 12.0  # how far from the curve a click still selects the wire


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """An S-curve leaving ``start`` to the right and entering ``end`` from the left; a wire to the start of the
    next row of a wrapped layout (back to the left and a row down) runs along the gap between the rows."""
    below = end.y() - style.PORT_Y - (start.y() + style.NODE_H - style.PORT_Y)
    if end.x() < start.x() and below >= 20:  # out to the right, left along the gap, in from the left
        mid = start.y() + style.NODE_H - style.PORT_Y + below / 2
        r = min(30.0, below / 2)
        path = QPainterPath(start)
        path.cubicTo(QPointF(start.x() + 2 * r, start.y()), QPointF(start.x() + 2 * r, mid), QPointF(start.x(), mid))
        path.lineTo(QPointF(end.x(), mid))
        path.cubicTo(QPointF(end.x() - 2 * r, mid), QPointF(end.x() - 2 * r, end.y()), end)
        return path
    dx = abs(end.x() - start.x())
    reach = max(40.0, dx * 0.5) if end.x() >= start.x() else max(80.0, dx * 0.6, abs(end.y() - start.y()) * 0.3)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + reach, start.y()), QPointF(end.x() - reach, end.y()), end)
    return path


class _CurveItem(QGraphicsItem):
    """A curve in scene coordinates whose shape and bounds are recomputed only when an end moves."""

    def __init__(self) -> None:
        super().__init__()
        self._path = QPainterPath()
        self._hit = QPainterPath()
        self._bounds = QRectF()

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        self.prepareGeometryChange()
        self._path = wire_path(start, end)
        stroker = QPainterPathStroker()
        stroker.setWidth(HIT_WIDTH)
        self._hit = stroker.createStroke(self._path)
        self._bounds = self._hit.boundingRect().adjusted(-2, -2, 2, 2)

    def path(self) -> QPainterPath:
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._hit

    def _theme(self) -> style.Theme:
        return getattr(self.scene(), "theme", None) or style.Theme.from_palette()


class EdgeItem(_CurveItem):
    """``source`` and ``target`` are the NodeItems at its ends; ``refresh`` re-reads their port positions."""

    def __init__(self, edge: Edge, source, target) -> None:
        super().__init__()
        self.edge = edge
        self.source, self.target = source, target
        self.hovered = False
        self.drop_target = False  # a layer dragged over it would be inserted here
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)  # under the nodes
        self.setToolTip(tooltip(f"{edge.src} \u2192 {edge.dst}"))

    def refresh(self) -> None:
        self.set_ends(self.source.out_port.anchor(), self.target.in_port.anchor())

    def set_drop_target(self, on: bool) -> None:
        if on != self.drop_target:
            self.drop_target = on
            self.update()

    def hoverEnterEvent(self, event) -> None:
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = self._theme()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.drop_target:  # thick and bright: letting go here inserts the layer into this wire
            pen = QPen(theme.ok, 5.0)
        elif self.isSelected():
            halo = QPen(theme.highlight, 7.0)
            halo.setCapStyle(Qt.PenCapStyle.RoundCap)
            c = halo.color()
            c.setAlpha(70)
            halo.setColor(c)
            painter.setPen(halo)
            painter.drawPath(self._path)
            pen = QPen(theme.highlight, 2.6)
        else:
            pen = QPen(theme.text if self.hovered else theme.wire, 2.6 if self.hovered else 2.0)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawPath(self._path)


class WireItem(_CurveItem):
    """The wire being dragged: dashed, green over a port that accepts it, red over one that refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict: str | None = None
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_verdict(self, verdict: str | None) -> None:
        if verdict != self.verdict:
            self.verdict = verdict
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = self._theme()
        color = {"ok": theme.ok, "bad": theme.problem}.get(self.verdict or "", theme.highlight)
        pen = QPen(color, 2.2, Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
