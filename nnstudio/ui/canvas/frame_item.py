"""Frames on the canvas: a labelled, coloured rounded backdrop behind its nodes (``FrameItem``), collapsible to
one box that shows the block's parameters and output shape, and ``FrameLayer``, which keeps the items in step
with the graph's frame events and with the graph the scene is given (it attaches from outside the scene).

The items only show the model. Dragging a frame's title strip moves its nodes live and asks, on release, for one
MoveNodesCommand; the button on the strip and a double-click on the label ask the layer's ``edit`` callbacks
(``nnstudio.ui.frame_commands``), which push undo commands.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QLineEdit
from shiboken6 import isValid

from nnstudio.core.graph import MAX_FRAME_LABEL, Frame, Graph
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.edge_item import wire_path
from nnstudio.ui.safe_text import one_line

PAD = 16.0  # room round the member nodes
TITLE_H = 26.0  # the title strip above them
BUTTON = 18.0  # the collapse button at the strip's right end
BOX_W, BOX_H = style.NODE_W + 20, 74.0  # a collapsed frame


class FrameItem(QGraphicsItem):
    """One frame. Expanded it is hit only on its title strip (clicks on the backdrop reach the canvas)."""

    def __init__(self, layer: "FrameLayer", frame: Frame) -> None:
        super().__init__()
        self.layer, self.frame_id = layer, frame.id
        self.label, self.color, self.collapsed = "", QColor(style.FALLBACK_HUE), False
        self.summary = ("", "")  # (parameters, output shape) of a collapsed frame
        self._rect = QRectF()
        self._drag: tuple[QPointF, dict[str, QPointF]] | None = None
        self.editor: QLineEdit | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.update_from_frame(frame)

    # -- what it shows --------------------------------------------------------------------------------------
    def update_from_frame(self, frame: Frame) -> None:
        self.label = one_line(frame.label or frame.id, MAX_FRAME_LABEL)
        self.color = QColor(frame.color) if QColor.isValidColorName(frame.color) else QColor(style.FALLBACK_HUE)
        self.collapsed = frame.collapsed
        self.setZValue(0.5 if self.collapsed else -2.0)  # a box sits among the nodes, a backdrop under the wires
        self.update()

    def set_rect(self, rect: QRectF) -> None:
        """The frame's outline in scene coordinates (title strip included)."""
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def title_rect(self) -> QRectF:
        return QRectF(self._rect.left(), self._rect.top(), self._rect.width(), TITLE_H)

    def button_rect(self) -> QRectF:
        t = self.title_rect()
        return QRectF(t.right() - BUTTON - 5, t.top() + (TITLE_H - BUTTON) / 2, BUTTON, BUTTON)

    def in_anchor(self) -> QPointF:
        return QPointF(self._rect.left(), self._rect.top() + style.PORT_Y)

    def out_anchor(self) -> QPointF:
        return QPointF(self._rect.right(), self._rect.top() + style.PORT_Y)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._rect if self.collapsed else self.title_rect())
        return path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        theme = getattr(self.scene(), "theme", None) or style.Theme.from_palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(self.color)
        fill.setAlpha(235 if self.collapsed else 48)
        border = theme.highlight if self.isSelected() else self.color
        painter.setPen(QPen(border, 2.0 if self.isSelected() else 1.2))
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(self._rect, style.RADIUS + 3, style.RADIUS + 3)
        strip = QColor(self.color)
        strip.setAlpha(255 if self.collapsed else 150)
        path = QPainterPath()
        path.addRoundedRect(self.title_rect(), style.RADIUS + 3, style.RADIUS + 3)
        painter.fillPath(path, strip)
        f = style.fonts()
        text = QColor("#ffffff") if strip.lightnessF() < 0.6 else QColor("#1d1d1d")
        painter.setPen(text)
        painter.setFont(f.title)
        room = self.button_rect().left() - self._rect.left() - 14
        shown = QFontMetricsF(f.title).elidedText(self.label, Qt.TextElideMode.ElideRight, max(room, 0.0))
        if self.editor is None:
            painter.drawText(self.title_rect().adjusted(9, 0, -BUTTON - 10, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)
        b = self.button_rect()  # a triangle: pointing right when collapsed, down when expanded
        c = b.center()
        tri = QPainterPath()
        points = ((-3, -5), (4, 0), (-3, 5)) if self.collapsed else ((-5, -3), (5, -3), (0, 4))
        tri.moveTo(c + QPointF(*points[0]))
        for p in points[1:]:
            tri.lineTo(c + QPointF(*p))
        tri.closeSubpath()
        painter.fillPath(tri, text)
        if self.collapsed:
            painter.setPen(text)
            painter.setFont(f.body)
            body = self._rect.adjusted(9, TITLE_H + 2, -9, -4)
            fm = QFontMetricsF(f.body)
            for i, line in enumerate(self.summary):
                painter.drawText(QRectF(body.left(), body.top() + i * style.LINE_H, body.width(), style.LINE_H),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 fm.elidedText(line, Qt.TextElideMode.ElideRight, body.width()))

    # -- mouse ----------------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        if self.button_rect().contains(event.scenePos()):
            self.layer.edit("toggle", self.frame_id)
            event.accept()
            return
        super().mousePressEvent(event)  # selects the frame
        if self.layer.editable(quiet=True):
            self._drag = (event.scenePos(), {nid: item.pos() for nid, item in self.layer.member_items(self.frame_id)})
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._drag is None:
            return
        start, positions = self._drag
        delta = event.scenePos() - start
        dx, dy = style.snap(delta.x()), style.snap(delta.y())
        for nid, item in self.layer.member_items(self.frame_id):
            if nid in positions:
                item.setPos(positions[nid] + QPointF(dx, dy))
        self.layer.refresh_geometry(self.frame_id)

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        if drag is not None:
            self.layer.finish_drag(self.frame_id, drag[1])
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.title_rect().contains(event.scenePos()) and not self.button_rect().contains(event.scenePos()):
            self.start_rename()
            event.accept()
            return
        event.ignore()

    # -- renaming in place ----------------------------------------------------------------------------------
    def start_rename(self) -> None:
        views = self.scene().views() if self.scene() is not None else []
        if self.editor is not None or not views or not self.layer.editable():
            return
        frame = self.layer.graph.frames.get(self.frame_id) if self.layer.graph else None
        self.editor = _LabelEditor(self, frame.label if frame else "", views[0])
        self.update()

    def end_rename(self, text: str | None) -> None:
        self.editor = None
        self.update()
        if text is not None:
            self.layer.edit("rename", self.frame_id, text)


class _LabelEditor(QLineEdit):
    """The label, edited as plain text in a field laid over the title strip: Enter keeps it, Escape drops it,
    leaving the field keeps it. A field of its own, so the canvas's one-key shortcuts (F, Space) are typed."""

    def __init__(self, frame_item: FrameItem, text: str, view) -> None:
        super().__init__(view.viewport())
        self.frame_item, self._done = frame_item, False
        self.setObjectName("frame_label_editor")
        self.setMaxLength(MAX_FRAME_LABEL)
        self.setText(text)
        self.setFrame(False)
        top_left = view.mapFromScene(frame_item.title_rect().topLeft())
        bottom_right = view.mapFromScene(frame_item.button_rect().bottomLeft())
        self.setGeometry(QRect(top_left.x() + 4, top_left.y() + 2, max(bottom_right.x() - top_left.x() - 8, 80),
                               max(bottom_right.y() - top_left.y(), 20)))
        self.selectAll()
        self.show()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.returnPressed.connect(lambda: self.finish(True))

    def finish(self, keep: bool) -> None:
        if not self._done:
            self._done = True
            text = self.text() if keep else None
            self.hide()
            self.deleteLater()
            self.frame_item.end_rename(text)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.finish(False)
        else:
            super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.finish(True)


class ProxyWire(QGraphicsItem):
    """A wire drawn to or from a collapsed frame's box, in place of the wires to its hidden nodes."""

    def __init__(self) -> None:
        super().__init__()
        self._path = QPainterPath()
        self.ends = (QPointF(), QPointF())
        self.setZValue(-1)

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        if (start, end) != self.ends:
            self.prepareGeometryChange()
            self.ends, self._path = (start, end), wire_path(start, end)

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-3, -3, 3, 3)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        theme = getattr(self.scene(), "theme", None) or style.Theme.from_palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.wire, 2.0))
        painter.drawPath(self._path)


class FrameLayer(QObject):
    """Frame items of one scene, following its graph. ``edit(kind, frame_id, *args)`` is set by the frame actions
    (``frame_commands.install``); without it, gestures only move nodes."""

    def __init__(self, scene, parent: QObject | None = None) -> None:
        super().__init__(parent or scene)
        self.scene, self.graph = scene, None
        self.items: dict[str, FrameItem] = {}
        self.wires: list[ProxyWire] = []
        self.on_edit = None  # callable(kind, frame_id, *args)
        scene.extent_changed.connect(self.check_graph)  # set_graph emits it: a new graph, or items cleared
        self._follow_timer = QTimer(self)  # live: frames follow nodes the user drags, once per mouse move
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(0)
        self._follow_timer.timeout.connect(self._follow)
        scene.installEventFilter(self)
        self._watcher = None
        self.check_graph()

    def _handlers(self) -> dict:
        return {"frame_added": self._sync_frame, "frame_changed": self._sync_frame,
                "frame_removed": self._on_frame_removed, "node_moved": self._on_node, "edge_added": self._on_edge,
                "edge_removed": self._on_edge, "node_added": self._on_node, "node_removed": self._on_node}

    def check_graph(self) -> None:
        watcher = getattr(self.scene, "_watcher", None)  # the scene's shape watcher, attached before or after us
        if watcher is not None and watcher is not self._watcher:
            self._watcher = watcher
            watcher.inferred.connect(self.refresh_summaries)
        alive = all(isValid(i) and i.scene() is self.scene for i in self.items.values())
        if self.scene.graph is not self.graph or not alive:
            self.bind(self.scene.graph)

    def bind(self, graph: Graph | None) -> None:
        if self.graph is not None:
            for name, handler in self._handlers().items():
                getattr(self.graph, name).disconnect(handler)
        for item in [*self.items.values(), *self.wires]:
            if isValid(item) and item.scene() is not None:
                item.scene().removeItem(item)
        self.items, self.wires, self.graph = {}, [], graph
        if graph is None:
            return
        for name, handler in self._handlers().items():
            getattr(graph, name).connect(handler)
        for frame in graph.frames.values():
            self._sync_frame(frame, wires=False)
        self.refresh_wires()

    # -- graph events ---------------------------------------------------------------------------------------
    def _sync_frame(self, frame: Frame, wires: bool = True) -> None:
        item = self.items.get(frame.id)
        if item is None:
            item = self.items[frame.id] = FrameItem(self, frame)
            self.scene.addItem(item)
        item.update_from_frame(frame)
        self.refresh_geometry(frame.id)
        self.refresh_visibility()
        if wires:
            self.refresh_wires()

    def _on_frame_removed(self, frame: Frame) -> None:
        item = self.items.pop(frame.id, None)
        if item is not None and isValid(item):
            self.scene.removeItem(item)
        self.refresh_visibility()
        self.refresh_wires()

    def _on_node(self, node) -> None:
        frame = self.graph.frame_of(node.id) if self.graph is not None else None
        if frame is not None:
            self.refresh_geometry(frame.id)
        if any(i.collapsed for i in self.items.values()):
            self.refresh_wires()

    def _on_edge(self, _edge) -> None:
        self.refresh_visibility()
        self.refresh_wires()

    # -- keeping items in step ------------------------------------------------------------------------------
    def member_items(self, frame_id: str) -> list:
        frame = self.graph.frames.get(frame_id) if self.graph is not None else None
        if frame is None:
            return []
        return [(nid, item) for nid in frame.members if (item := self.scene.node_item(nid)) is not None]

    def refresh_geometry(self, frame_id: str) -> None:
        item = self.items.get(frame_id)
        members = self.member_items(frame_id)
        if item is None or not members:
            return
        rect = QRectF()
        for _nid, node in members:
            rect = rect.united(QRectF(node.pos(), QPointF(node.pos().x() + style.NODE_W,
                                                          node.pos().y() + style.NODE_H)))
        if item.collapsed:
            item.set_rect(QRectF(rect.left(), rect.top(), BOX_W, BOX_H))
            self.refresh_summary(frame_id)
        else:
            item.set_rect(rect.adjusted(-PAD, -PAD - TITLE_H, PAD, PAD))

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.GraphicsSceneMouseMove and self.items and self.scene.user_moving:
            self._follow_timer.start()  # after the scene has moved the nodes
        return False

    def _follow(self) -> None:
        """Frames follow nodes the user drags (the model hears of the move only on release)."""
        if self.scene.user_moving:
            for frame_id in self.items:
                self.refresh_geometry(frame_id)
            if self.wires:
                self.refresh_wires()

    def hidden_nodes(self) -> dict[str, FrameItem]:
        """Node id -> the collapsed frame that hides it."""
        out = {}
        if self.graph is not None:
            for frame_id, item in self.items.items():
                if item.collapsed and frame_id in self.graph.frames:
                    out.update(dict.fromkeys(self.graph.frames[frame_id].members, item))
        return out

    def refresh_visibility(self) -> None:
        hidden = self.hidden_nodes()
        for node in self.scene.node_items():
            show = node.node_id not in hidden
            if node.isVisible() != show:
                node.setVisible(show)
                if not show:
                    node.setSelected(False)
        for edge in self.graph.edges if self.graph is not None else ():
            item = self.scene.edge_item(edge)
            if item is not None:
                item.setVisible(edge.src not in hidden and edge.dst not in hidden)

    def refresh_wires(self) -> None:
        """One ProxyWire per wire with an end hidden in a collapsed frame (and not inside that frame)."""
        hidden = self.hidden_nodes()
        ends = []
        for edge in self.graph.edges if hidden else ():
            a, b = hidden.get(edge.src), hidden.get(edge.dst)
            if (a is None and b is None) or a is b:
                continue
            src, dst = self.scene.node_item(edge.src), self.scene.node_item(edge.dst)
            if (a is None and (src is None or src.out_port is None)) or (b is None and (dst is None or
                                                                                         dst.in_port is None)):
                continue
            ends.append((a.out_anchor() if a else src.out_port.anchor(), b.in_anchor() if b else dst.in_port.anchor()))
        ends = list(dict.fromkeys((s.x(), s.y(), e.x(), e.y()) for s, e in ends))
        while len(self.wires) > len(ends):
            self.scene.removeItem(self.wires.pop())
        while len(self.wires) < len(ends):
            self.wires.append(ProxyWire())
            self.scene.addItem(self.wires[-1])
        for wire, (x1, y1, x2, y2) in zip(self.wires, ends):
            wire.set_ends(QPointF(x1, y1), QPointF(x2, y2))

    def refresh_summaries(self, _info=None) -> None:
        for frame_id, item in self.items.items():
            if item.collapsed:
                self.refresh_summary(frame_id)

    def refresh_summary(self, frame_id: str) -> None:
        item, graph = self.items.get(frame_id), self.graph
        if item is None or graph is None or frame_id not in graph.frames:
            return
        item.summary = frame_summary(graph, graph.frames[frame_id], self.scene.info)
        item.update()

    # -- gestures -------------------------------------------------------------------------------------------
    def editable(self, quiet: bool = False) -> bool:
        if self.scene.locked:
            if not quiet:
                self.scene.status_message.emit("The network is locked while it trains: stop training to edit it")
            return False
        return self.scene.graph is not None and self.scene.undo_stack is not None

    def edit(self, kind: str, frame_id: str, *args) -> None:
        if self.on_edit is not None and self.editable():
            self.on_edit(kind, frame_id, *args)

    def finish_drag(self, frame_id: str, before: dict[str, QPointF]) -> None:
        from nnstudio.ui import commands as cmd

        graph = self.graph
        moves = {nid: (graph.nodes[nid].position, (item.pos().x(), item.pos().y()))
                 for nid, item in self.member_items(frame_id)
                 if nid in before and nid in graph.nodes and item.pos() != before[nid]}
        if moves:
            command = cmd.MoveNodesCommand(graph, moves)
            command.setText("Move frame")
            self.scene.undo_stack.push(command)


def frame_summary(graph: Graph, frame: Frame, info) -> tuple[str, str]:
    """(total parameters, output shape) of a frame's block from the latest inference (``?`` before it)."""
    members = set(frame.members)
    n = len(frame.members)
    layers = f"{n} layer{'s' if n != 1 else ''}"
    if info is None:
        return f"{layers} · ? parameters", "→ ?"
    params = sum(info.nodes[nid].params for nid in frame.members if nid in info.nodes)
    leaving = list(dict.fromkeys(e.src for e in graph.edges if e.src in members and e.dst not in members))
    if not leaving:  # nothing leaves: the last member in the network's order
        order = [nid for nid in info.order if nid in members]
        leaving = order[-1:] or frame.members[-1:]
    shapes = list(dict.fromkeys(one_line(info.nodes[nid].shape_text, 60) if nid in info.nodes else "?"
                                for nid in leaving))
    return f"{layers} · {params:,} parameters", "→ " + ", ".join(shapes)
