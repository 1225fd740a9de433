"""One layer on the canvas: a card with a coloured header (glyph, title, id), the key parameters, the output
shape and the parameter count, an input port on the left and an output port on the right.

Level of detail: below ``style.MIN_READABLE_ZOOM`` that text is too small to read, so the card draws its large
face instead: only the title (layer type or label) and the output shape, in fonts sized to fill the card (a
type name too long for one line is split in two), so a zoomed-out network still says what each layer is.

The item only shows the model: it is told what changed (``update_from_node``, ``set_info``) and never edits the
graph. While the user drags it, it moves freely (snapped to the grid); the scene turns the drag into one
MoveNodesCommand on release.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nnstudio.core.costs import format_flops
from nnstudio.core.graph import Node
from nnstudio.core.shapes import NodeInfo
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.port_item import PortItem
from nnstudio.ui.safe_text import one_line, rich, rich_tooltip

_W, _H = style.NODE_W, style.NODE_H
_PAD = 9.0
_BADGE = QRectF(_PAD - 3, 4.0, 18.0, 18.0)
_HEADER_X = _BADGE.right() + 6

# The large face: an accent bar on the left, the title in the upper part, the output shape below it.
_BAR_W = 7.0
_BIG_TITLE = QRectF(_BAR_W + 7, 4.0, _W - _BAR_W - 14, 52.0)
_BIG_SHAPE = QRectF(_BAR_W + 7, 56.0, _W - _BAR_W - 14, 25.0)
BIG_TITLE_PX = (13, 30)  # least and most pixel size of the large face's title (scene pixels)
BIG_SHAPE_PX = (11, 20)
_FULL_SHAPE_PX = 19  # below this the large face writes a shape without the batch: 32×26×26
_MIN_TEXT_PX = 4.0  # text that would be smaller than this on screen is not drawn at all
FACES = ("detailed", "large")


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
        self.flops: int | None = None  # forward FLOPs at the training batch size (``set_flops``), None: unknown
        self.problems: list[str] = []
        # Training health: (level "ok" / "warn" / "bad", the figures in words), or None when not training.
        self.health: tuple[str, str] | None = None
        self._face: tuple = ()
        self.last_face: str | None = None  # the face paint() chose last time ("detailed" or "large")
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

    def set_flops(self, flops: int | None) -> bool:
        """The layer's forward FLOPs (``core.costs``) for the footer, "48 params · 1.5 kFLOPs"; None hides them.
        Repaints only if the figure changed."""
        flops = None if flops is None else int(flops)
        if flops == self.flops:
            return False
        self.flops = flops
        self._relayout()
        return True

    def footer_text(self) -> str:
        """The footer's figures: the parameter count, and the FLOPs when known and not zero."""
        if self.param_count is None:
            return ""
        text = style.format_count(self.param_count)
        if self.flops:
            text += f" \u00b7 {format_flops(self.flops)}"
        return text

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
            self._status = self.footer_text()
            left = inner - f.m_small.horizontalAdvance(self._status) - 10
            self._id = f.m_small.elidedText(one_line(self.node_id, 200), Qt.TextElideMode.ElideMiddle, left)
        self._face = (self.shape_text, self.param_count, tuple(self.problems))
        self._fit_large_face()
        self.setToolTip(self._tooltip())
        self.update()

    def _fit_large_face(self) -> None:
        """Lines and fonts of the large face: the largest sizes at which title and shape fit the card."""
        f = style.fonts()
        room = _BIG_TITLE.width()
        least, most = BIG_TITLE_PX
        one = _fit_px(f.m_big_title.horizontalAdvance(self.title), room, least, min(most, _BIG_TITLE.height() / 1.3))
        lines = [self.title]
        halves = _split_title(self.title)
        if halves is not None:
            two = _fit_px(max(f.m_big_title.horizontalAdvance(h) for h in halves), room, least,
                          min(most, _BIG_TITLE.height() / 2.4))
            if two > one + 1:
                lines, one = list(halves), two
        self._big_title_font = QFont(f.big_title)
        self._big_title_font.setPixelSize(one)
        metrics = QFontMetricsF(self._big_title_font)
        self._big_title = [metrics.elidedText(line, Qt.TextElideMode.ElideRight, room) for line in lines]
        least, most = BIG_SHAPE_PX
        most = min(most, _BIG_SHAPE.height() / 1.25)
        shape = self.shape_text
        px = _fit_px(f.m_big_mono.horizontalAdvance(shape), room, least, most)
        if px < _FULL_SHAPE_PX and _compact_shape(shape) != shape:  # "(N, 32, 26, 26)" is small: "32×26×26"
            shape = _compact_shape(shape)
            px = _fit_px(f.m_big_mono.horizontalAdvance(shape), room, least, most)
        self._big_shape_font = QFont(f.big_mono)
        self._big_shape_font.setPixelSize(px)
        self._big_shape = QFontMetricsF(self._big_shape_font).elidedText(shape, Qt.TextElideMode.ElideMiddle, room)

    def large_title_px(self) -> int:
        """The pixel size (scene pixels) of the title on the large face; on screen it is this times the zoom."""
        return self._big_title_font.pixelSize()

    def large_face_text(self) -> str:
        """What the large face writes: title line(s) and the output shape."""
        return "\n".join([*self._big_title, self._big_shape])

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
    @staticmethod
    def face_for(lod: float) -> str:
        """The face drawn at level of detail ``lod`` (about the zoom): "detailed" where its text reads (at or
        above MIN_READABLE_ZOOM, which fit and auto layout keep), else "large"."""
        return "detailed" if lod >= style.MIN_READABLE_ZOOM - 1e-3 else "large"

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        self.last_face = self.face_for(lod)
        self.paint_face(painter, self.last_face)

    def paint_face(self, painter: QPainter, face: str) -> None:
        """Draw the card with ``face`` (one of FACES) whatever the zoom (paint() picks it by the zoom)."""
        theme = getattr(self.scene(), "theme", None) or style.Theme.from_palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        if face == "large":
            self._paint_large(painter, theme)
        else:
            self._paint_detailed(painter, theme)

    def _paint_card(self, painter: QPainter, theme: style.Theme, header: float) -> None:
        """Card fill, header band (``header`` high; the whole card tinted when it is the card's height), the
        health tint below it."""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(theme.node_fill))
        painter.drawPath(self._outline)
        painter.save()
        painter.setClipPath(self._outline)
        painter.fillRect(QRectF(0, 0, _W, header), theme.header_fill(self.category))
        if header < _H:
            painter.fillRect(QRectF(0, header - 1, _W, 1.0), _alpha(theme.accent(self.category), 110))
        if self.health is not None:
            tint = QRectF(0, header, _W, _H - header) if header < _H else QRectF(0, 0, _W, _H)
            painter.fillRect(tint, _alpha(QColor(HEALTH_COLOURS[self.health[0]]), 60))
        if header >= _H:
            painter.fillRect(QRectF(0, 0, _BAR_W, _H), theme.accent(self.category))
        painter.restore()

    def _paint_outline(self, painter: QPainter, theme: style.Theme) -> None:
        """Outline: red for problems, highlight when selected (both when both)."""
        rect = QRectF(0, 0, _W, _H)
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

    def _paint_large(self, painter: QPainter, theme: style.Theme) -> None:
        """Zoomed out: the title and the output shape, large, on a card tinted by its category."""
        self._paint_card(painter, theme, _H)
        self._paint_outline(painter, theme)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod * self.large_title_px() < _MIN_TEXT_PX:
            return  # far away: colour and shape are all one can see
        centre = Qt.AlignmentFlag.AlignCenter
        painter.setFont(self._big_title_font)
        painter.setPen(theme.text)
        painter.drawText(_BIG_TITLE, centre, "\n".join(self._big_title))
        if lod * self._big_shape_font.pixelSize() < _MIN_TEXT_PX:
            return
        painter.setFont(self._big_shape_font)
        painter.setPen(theme.problem if self.problems else theme.text if self.shape_text != "?" else theme.muted)
        painter.drawText(_BIG_SHAPE, centre, self._big_shape)

    def _paint_detailed(self, painter: QPainter, theme: style.Theme) -> None:
        """At a readable zoom: header with glyph, title and type; parameters, shape, parameter count or problem."""
        accent = theme.accent(self.category)
        self._paint_card(painter, theme, style.HEADER_H)
        self._paint_outline(painter, theme)

        # Glyph badge.
        f = style.fonts()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent)
        painter.drawRoundedRect(_BADGE, 4.0, 4.0)
        painter.setFont(f.glyph)
        painter.setPen(QColor("white"))
        painter.drawText(_BADGE, Qt.AlignmentFlag.AlignCenter, self.glyph)

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


def _fit_px(width_at_100: float, room: float, least: int, most: float) -> int:
    """The largest whole pixel size, between ``least`` and ``most``, at which text that is ``width_at_100``
    wide in a 100 px font fits ``room`` (a little kept back for hinting)."""
    if width_at_100 <= 0:
        return int(most)
    return int(max(least, min(most, math.floor(room * 0.96 * 100 / width_at_100))))


def _compact_shape(text: str) -> str:
    """``"(N, 32, 26, 26)"`` -> ``"32×26×26"``: the sizes of one sample; other texts as they are."""
    if text.startswith("(N, ") and text.endswith(")") and "(" not in text[1:]:
        return "\u00d7".join(part.strip() for part in text[4:-1].split(","))
    return text


def _split_title(text: str) -> tuple[str, str] | None:
    """``text`` in two lines, broken at the space or the lower-to-upper case step nearest its middle
    ("TransformerEncoder" -> "Transformer", "Encoder"); None when it has no such place."""
    cuts = [i for i in range(1, len(text)) if text[i] == " " or (text[i - 1].islower() and text[i].isupper())]
    if not cuts:
        return None
    i = min(cuts, key=lambda c: abs(c - len(text) / 2))
    first, second = text[:i].strip(), text[i:].strip()
    return (first, second) if first and second else None


def _alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c
