"""One layer on the canvas: a card with a coloured header (glyph, title, id), the key parameters, the output
shape and the parameter count, an input port on the left and an output port on the right.

The item only shows the model: it is told what changed (``update_from_node``, ``set_info``) and never edits the
graph. While the user drags it, it moves freely (snapped to the grid); the scene turns the drag into one
MoveNodesCommand on release.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nnstudio.core.graph import Node
from nnstudio.core.shapes import NodeInfo
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.port_item import PortItem
from nnstudio.ui.safe_text import one_line, rich, rich_tooltip

_W, _H = style.NODE_W, style.NODE_H
_PAD = 9.0
_BADGE = QRectF(_PAD - 3, 4.0, 18.0, 18.0)
_HEADER_X = _BADGE.right() + 6


HEALTH_COLOURS = {"ok": "#2e9e5b", "warn": "#e0a020", "bad": "#d33c3c"}


class NodeItem(QGraphicsItem):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        spec = node.spec
        self.category = spec.category
        self.edges: set = set()  # EdgeItems that end here; the scene keeps it current
        self.shape_text = "?"
        self.param_count: int | None = None
        self.problems: list[str] = []
        # Training health: (level "ok" / "warn" / "bad", the figures in words), or None when not training.
        self.health: tuple[str, str] | None = None
        self._face: tuple = ()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        # Painted once per zoom level and reused while panning and dragging; repainted crisp after zoom.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.in_port = PortItem(self, node.id, False, multi=spec.inputs is None) if spec.inputs != 0 else None
        self.out_port = PortItem(self, node.id, True) if spec.has_output_port else None
        if self.in_port is not None:
            self.in_port.setPos(0.0, style.PORT_Y)
        if self.out_port is not None:
            self.out_port.setPos(_W, style.PORT_Y)
        self._outline = QPainterPath()
        self._outline.addRoundedRect(QRectF(0, 0, _W, _H), style.RADIUS, style.RADIUS)
        self.update_from_node(node)
        self.setPos(QPointF(*style.canvas_xy(node.position)))

    # -- what it shows ----------------------------------------------------------------------------------------
    def update_from_node(self, node: Node) -> None:
        """Title, glyph and key parameters from the model (after add, params_changed, label_changed)."""
        spec = node.spec
        self.spec_title = spec.title
        self.glyph = spec.glyph or spec.title[:1]
        self.description = spec.description
        # what a file gave is shown on one line, cut long before eliding (a label may be 100,000 characters)
        self.title = one_line(node.label, 200) if node.label else spec.title
        try:
            self.summary = one_line(spec.summary(node.params), 200)
        except Exception:  # a bad value is shown as a problem; the face must still draw
            self.summary = ""
        self._relayout()

    def set_info(self, info: NodeInfo | None) -> bool:
        """Shape, parameter count and problems from the latest inference; repaints only if something changed."""
        if info is None:
            face = ("?", None, ())
        else:
            face = (one_line(info.shape_text, 200), info.params if info.output is not None else None,
                    tuple(one_line(p, 500) for p in info.problems))
        if face == self._face:
            return False
        self.shape_text, self.param_count, problems = face
        self.problems = list(problems)
        self._relayout()
        return True

    def set_health(self, health: tuple[str, str] | None) -> None:
        """Tint the card by a training health signal (dead units, vanishing or exploding gradients) and put the
        figures in the tooltip; None removes the tint."""
        if health == self.health:
            return
        level_changed = (health or (None,))[0] != (self.health or (None,))[0]
        self.health = health
        self.setToolTip(self._tooltip())
        if level_changed:  # the figures change at every report, but only the level is painted
            self.update()

    def _relayout(self) -> None:
        """Elide the texts once here, so paint() only draws."""
        f = style.fonts()
        inner = _W - 2 * _PAD - 4
        room = _W - _HEADER_X - _PAD  # the header right of the glyph badge
        self._title = f.m_title.elidedText(self.title, Qt.TextElideMode.ElideRight, room)
        left = room - f.m_title.horizontalAdvance(self._title) - 8  # a label leaves room for the layer type
        self._kind = f.m_small.elidedText(self.spec_title, Qt.TextElideMode.ElideRight, left) \
            if self.title != self.spec_title and left > 30 else ""
        self._summary = f.m_body.elidedText(self.summary or "\u2014", Qt.TextElideMode.ElideRight, inner)
        self._shape = f.m_mono.elidedText("\u2192 " + self.shape_text, Qt.TextElideMode.ElideMiddle, inner)
        if self.problems:
            n = len(self.problems)
            head = "\u26a0 " + (self.problems[0] if n == 1 else f"{n} problems: {self.problems[0]}")
            self._status = f.m_small.elidedText(head, Qt.TextElideMode.ElideRight, inner)
            self._id = ""
        else:
            self._status = "" if self.param_count is None else style.format_count(self.param_count)
            left = inner - f.m_small.horizontalAdvance(self._status) - 10
            self._id = f.m_small.elidedText(one_line(self.node_id, 200), Qt.TextElideMode.ElideMiddle, left)
        self._face = (self.shape_text, self.param_count, tuple(self.problems))
        self.setToolTip(self._tooltip())
        self.update()

    def _tooltip(self) -> str:
        kind = f"{self.spec_title} " if self.title != self.spec_title else ""
        lines = [f"<b>{rich(self.title)}</b> &nbsp;<i>{rich(kind + one_line(self.node_id, 200))}</i>"]
        for p in self.problems[:5]:
            lines.append(f"<span style='color:{style.PROBLEM}'>\u26a0 {rich(p)}</span>")
        if len(self.problems) > 5:
            lines.append(f"<span style='color:{style.PROBLEM}'>\u26a0 {len(self.problems) - 5} more</span>")
        if self.summary:
            lines.append(rich(self.summary))
        lines.append(f"output {rich(self.shape_text)}")
        if self.health is not None:
            lines.append(f"<i>training: {rich(self.health[1])}</i>")
        return rich_tooltip("<br>".join(lines))

    def face_text(self) -> str:
        """Everything written on the card, for tests and accessibility."""
        return "\n".join([self.title, self.spec_title, self.node_id, self.summary, self.shape_text, self._status])

    # -- geometry -----------------------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-3, -3, _W + 6, _H + 6)

    def shape(self) -> QPainterPath:
        return self._outline

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            scene = self.scene()
            if scene is not None and getattr(scene, "user_moving", False):
                return QPointF(style.snap(value.x()), style.snap(value.y()))
        elif change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.refresh()
        return super().itemChange(change, value)

    # -- drawing ------------------------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = getattr(self.scene(), "theme", None) or style.Theme.from_palette()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        accent = theme.accent(self.category)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        rect = QRectF(0, 0, _W, _H)

        # Card and header band.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(theme.node_fill))
        painter.drawPath(self._outline)
        painter.save()
        painter.setClipPath(self._outline)
        painter.fillRect(QRectF(0, 0, _W, style.HEADER_H), theme.header_fill(self.category))
        painter.fillRect(QRectF(0, style.HEADER_H - 1, _W, 1.0), _alpha(accent, 110))
        if self.health is not None:
            painter.fillRect(QRectF(0, style.HEADER_H, _W, _H - style.HEADER_H),
                             _alpha(QColor(HEALTH_COLOURS[self.health[0]]), 60))
        painter.restore()

        # Outline: red for problems, highlight when selected (both when both).
        selected = self.isSelected()
        if selected:
            painter.setPen(QPen(_alpha(theme.highlight, 90), 6.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect, style.RADIUS, style.RADIUS)
        if self.problems:
            border = QPen(theme.problem, 2.2)
        elif selected:
            border = QPen(theme.highlight, 2.0)
        else:
            border = QPen(theme.node_border, 1.0)
        painter.setPen(border)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), style.RADIUS, style.RADIUS)

        # Glyph badge.
        f = style.fonts()
        badge = _BADGE
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent)
        painter.drawRoundedRect(badge, 4.0, 4.0)
        if lod < 0.3:
            return  # far away: colour and shape are all one can see
        painter.setFont(f.glyph)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.glyph)

        # Header: title (label or layer type) left; the layer type right when a label hides it.
        header = QRectF(_HEADER_X, 0, _W - _HEADER_X - _PAD, style.HEADER_H)
        painter.setFont(f.title)
        painter.setPen(theme.text)
        painter.drawText(header, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._title)
        painter.setFont(f.small)
        painter.setPen(theme.muted)
        painter.drawText(header, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self._kind)
        # Body: key parameters, output shape, parameter count or the first problem.
        x, y, w = _PAD + 2, style.HEADER_H + 4, _W - 2 * _PAD - 4
        line = style.LINE_H
        if lod < 0.4:  # text too small to read: a sketch of the lines keeps the card from looking empty
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_alpha(theme.problem if self.problems else theme.muted, 90))
            for i, text in enumerate((self._summary, self._shape, self._status)):
                width = min(w, f.m_body.horizontalAdvance(text)) if text else 0
                if width:
                    painter.drawRoundedRect(QRectF(x, y + i * line + 5, width, line - 10), 2, 2)
            return
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.setFont(f.body)
        painter.setPen(theme.text if self.summary else theme.muted)
        painter.drawText(QRectF(x, y, w, line), left, self._summary)
        painter.setFont(f.mono)
        painter.setPen(theme.text if self.shape_text != "?" else theme.muted)
        painter.drawText(QRectF(x, y + line, w, line), left, self._shape)
        painter.setFont(f.small)
        painter.setPen(theme.problem if self.problems else theme.muted)
        painter.drawText(QRectF(x, y + 2 * line, w, line), left, self._status)
        if self._id:
            painter.setPen(theme.muted)
            right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
            painter.drawText(QRectF(x, y + 2 * line, w, line), right, self._id)


def _alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c
