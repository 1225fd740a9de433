"""A node's input or output port: the round handle wires start from and end at. Ports only draw themselves;
the scene turns presses on them into wire drags."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nnstudio.ui.canvas import style


class PortItem(QGraphicsItem):
    """``is_output``: the output port on the right; otherwise the input port on the left. ``multi``: an input
    that takes two or more wires (merge layers), drawn as a taller pill."""

    def __init__(self, parent: QGraphicsItem, node_id: str, is_output: bool, multi: bool = False) -> None:
        super().__init__(parent)
        self.node_id = node_id
        self.is_output = is_output
        self.multi = multi
        self.connected = False
        self.hovered = False
        self.verdict: str | None = None  # "ok" / "bad" while a wire is dragged over it
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(1)
        r = style.PORT_HIT_R
        self._hit = QPainterPath()
        self._hit.addEllipse(QPointF(0, 0), r, r + (6 if multi else 0))
        self._bounds = self._hit.boundingRect().adjusted(-1, -1, 1, 1)

    # -- geometry -------------------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._hit

    def anchor(self) -> QPointF:
        """Where wires attach, in scene coordinates."""
        return self.scenePos()

    # -- state ----------------------------------------------------------------------------------------------
    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.update()

    def set_verdict(self, verdict: str | None) -> None:
        if verdict != self.verdict:
            self.verdict = verdict
            self.update()

    def hoverEnterEvent(self, event) -> None:
        self.hovered = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self.update()
        super().hoverLeaveEvent(event)

    # -- drawing --------------------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        scene = self.scene()
        theme = getattr(scene, "theme", None) or style.Theme.from_palette()
        node = self.parentItem()
        accent = theme.accent(getattr(node, "category", ""))
        r = style.PORT_R + (1.5 if self.hovered or self.verdict else 0.0)
        if self.verdict == "ok":
            edge_color = theme.ok
        elif self.verdict == "bad":
            edge_color = theme.problem
        else:
            edge_color = accent
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(edge_color, 2.0)
        painter.setPen(pen)
        painter.setBrush(QBrush(accent if self.connected else theme.node_fill))
        if self.multi:
            painter.drawRoundedRect(QRectF(-r, -r - 5, 2 * r, 2 * r + 10), r, r)
        else:
            painter.drawEllipse(QPointF(0, 0), r, r)
