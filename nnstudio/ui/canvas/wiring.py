"""Dragging wires: from an output port to an input port (connect), from an empty input back to an output, or
lifting a wire's end off an input port (disconnect, and reconnect where it is dropped: one undo step).

The graph decides: ``connect_problem`` is asked while hovering (green / red feedback) and on release; a refused
drop leaves the graph as it was and the reason goes to ``scene.status_message``.

Ports are magnetic: the target is the port of the other kind under the cursor, else the nearest compatible one
within MAGNET_PX screen pixels, else the free port of the node whose body is under the cursor. While a target
refuses the wire, the reason is written next to the cursor. A new wire let go over empty canvas is reported by
``scene.wire_released_in_space`` (the quick-add menu opens there).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas.edge_item import WireItem
from nnstudio.ui.canvas.port_item import PortItem

WRONG_END_OUT = "Drop the wire on an input port (the left side of a layer)"
WRONG_END_IN = "Drop the wire on an output port (the right side of a layer)"
MAGNET_PX = 24.0  # a compatible port this close to the cursor (screen pixels) takes the wire


class ReasonItem(QGraphicsItem):
    """Why the wire cannot end here, in a small box beside the cursor; the same size on screen at any zoom."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(20)
        self._bounds = QRectF()
        self.set_text(text)

    def set_text(self, text: str, left: bool = False) -> None:
        """``left``: put the box left of the cursor (near the view's right edge)."""
        self.prepareGeometryChange()
        self.text = text[:1].upper() + text[1:]
        metrics = QFontMetricsF(self._font())
        width = metrics.horizontalAdvance(self.text) + 12
        self._bounds = QRectF(-width - 8 if left else 16, 10, width, metrics.height() + 6)
        self.update()

    def width(self) -> float:
        return self._bounds.width()

    def _font(self) -> QFont:
        return QGuiApplication.font()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option, widget=None) -> None:
        theme = getattr(self.scene(), "theme", None)
        fill = QColor(theme.problem) if theme is not None else QColor("#d33c3c")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(fill.darker(130), 1.0))
        painter.setBrush(fill)
        painter.drawRoundedRect(self._bounds, 4, 4)
        painter.setPen(QColor("white"))
        painter.setFont(self._font())
        painter.drawText(self._bounds, int(Qt.AlignmentFlag.AlignCenter), self.text)


class WireDrag:
    def __init__(self, scene) -> None:
        self.scene = scene
        self.fixed: PortItem | None = None  # the end that stays put
        self.detached: Edge | None = None  # the wire lifted off an input, if any
        self.target: PortItem | None = None
        self.item: WireItem | None = None
        self.reason: ReasonItem | None = None  # why the target refuses the wire, beside the cursor
        self.zoom = 1.0  # of the view the drag happens in: the magnet's reach is in screen pixels
        self._verdicts: dict[tuple[str, str], str | None] = {}

    @property
    def active(self) -> bool:
        return self.fixed is not None

    # -- life cycle -----------------------------------------------------------------------------------------
    def begin(self, port: PortItem, pos: QPointF, zoom: float = 1.0) -> None:
        self.cancel()
        self.zoom = zoom if zoom > 0 and math.isfinite(zoom) else 1.0
        graph = self.scene.graph
        if not port.is_output:
            wires = graph.inputs_of(port.node_id)
            if wires:  # pick up the most recent wire into this input by its loose end
                self.detached = wires[-1]
                src = self.scene.node_item(self.detached.src)
                edge_item = self.scene.edge_item(self.detached)
                if src is None or src.out_port is None:
                    self.detached = None
                else:
                    port = src.out_port
                    if edge_item is not None:
                        edge_item.setVisible(False)
        self.fixed = port
        self._verdicts.clear()
        self.item = WireItem()
        self.scene.addItem(self.item)
        self.move(pos)

    def move(self, pos: QPointF) -> None:
        if self.fixed is None or self.item is None:
            return
        target = self._target_at(pos)
        if target is not self.target:
            if self.target is not None:
                self.target.set_verdict(None)
            self.target = target
        end = pos
        verdict = None
        problem = self._body_problem(pos) if target is None else self._problem(target)
        if target is not None:
            verdict = "ok" if problem is None else "bad"
            target.set_verdict(verdict)
            if verdict == "ok":
                end = target.anchor()
        self.item.set_verdict(verdict)
        self._show_reason(problem, pos)
        start = self.fixed.anchor()
        if self.fixed.is_output:
            self.item.set_ends(start, end)
        else:
            self.item.set_ends(end, start)

    def finish(self, pos: QPointF) -> None:
        if self.fixed is None:
            return
        target = self._target_at(pos)
        scene, graph, stack = self.scene, self.scene.graph, self.scene.undo_stack
        detached = self.detached
        released = None  # (node id, "out" / "in") of a new wire let go over empty canvas
        try:
            if target is None:
                if detached is not None:
                    stack.push(cmd.DisconnectCommand(graph, detached))
                elif self._port_under(pos) is not None:
                    scene.status_message.emit(WRONG_END_OUT if self.fixed.is_output else WRONG_END_IN)
                elif self._body_problem(pos) is not None:
                    scene.status_message.emit(self._body_problem(pos))
                elif scene.node_at(pos) is None:
                    released = (self.fixed.node_id, "out" if self.fixed.is_output else "in")
                return
            src, dst = self._ends(target)
            if detached is not None and (src, dst) == (detached.src, detached.dst):
                return  # put back where it was
            problem = self._problem(target)
            if problem is not None:
                scene.status_message.emit(problem)
                return
            if detached is None:
                stack.push(cmd.ConnectCommand(graph, src, dst))
                return
            stack.beginMacro(f"Reconnect {detached.src} to {dst}")
            try:
                stack.push(cmd.DisconnectCommand(graph, detached))
                stack.push(cmd.ConnectCommand(graph, src, dst))
            finally:
                stack.endMacro()
        except GraphError as exc:  # the graph changed under the drag; nothing was pushed for this step
            scene.status_message.emit(str(exc))
        finally:
            self.cancel()
            if released is not None:  # after the drag is gone: a listener may open a menu here
                scene.wire_released_in_space.emit(released[0], released[1], QPointF(pos))

    def cancel(self) -> None:
        if self.target is not None:
            self.target.set_verdict(None)
        if self.detached is not None:
            edge_item = self.scene.edge_item(self.detached)
            if edge_item is not None:
                edge_item.setVisible(True)
        if self.item is not None and self.item.scene() is self.scene:
            self.scene.removeItem(self.item)
        self._show_reason(None, QPointF())
        self.fixed = self.target = self.item = self.detached = None

    # Graph events during a drag (undo by shortcut, a worker...): drop the drag if its ends vanish.
    def forget_node(self, node_id: str) -> None:
        ends = [p for p in (self.fixed, self.target) if p is not None]
        if any(p.node_id == node_id for p in ends) or (self.detached and node_id in (self.detached.src,
                                                                                        self.detached.dst)):
            self.cancel()

    def forget_edge(self, edge: Edge) -> None:
        if edge == self.detached:
            self.cancel()

    # -- helpers --------------------------------------------------------------------------------------------
    def _port_under(self, pos: QPointF) -> PortItem | None:
        port = self.scene.port_at(pos)
        return None if port is None or port is self.fixed else port

    def _target_at(self, pos: QPointF) -> PortItem | None:
        """Where the wire would end: a port of the other kind under ``pos`` (none if a port of the same kind is
        there), else the nearest compatible port within MAGNET_PX screen pixels, else the matching port of the
        node whose body is under ``pos``."""
        fixed = self.fixed
        port = self._port_under(pos)
        if fixed is None or port is not None:
            return None if port is None or fixed is None or port.is_output == fixed.is_output else port
        reach = MAGNET_PX / self.zoom
        best: tuple[float, PortItem] | None = None
        for item in self.scene.items(QRectF(pos.x() - reach, pos.y() - reach, 2 * reach, 2 * reach)):
            if (not isinstance(item, PortItem) or item.is_output == fixed.is_output
                    or item.node_id == fixed.node_id or not item.isVisible()):
                continue
            a = item.anchor()
            d = math.hypot(a.x() - pos.x(), a.y() - pos.y())
            if d <= reach and (best is None or d < best[0]) and self._problem(item) is None:
                best = (d, item)
        if best is not None:
            return best[1]
        node = self._body_at(pos)
        if node is None:
            return None
        return node.out_port if not fixed.is_output else node.in_port

    def _body_at(self, pos: QPointF):
        """The node under ``pos`` other than the one the wire starts from, or None."""
        node = self.scene.node_at(pos)
        return None if node is None or self.fixed is None or node.node_id == self.fixed.node_id else node

    def _body_problem(self, pos: QPointF) -> str | None:
        """Why the node under ``pos`` cannot take the wire when it has no port for it (an Input's body for a
        wire from an output, an Output's for one from an input), or None."""
        node = self._body_at(pos)
        if node is None or self.fixed is None or self._port_under(pos) is not None:
            return None
        if self.fixed.is_output and node.in_port is None:
            return self.scene.graph.connect_problem(self.fixed.node_id, node.node_id)
        if not self.fixed.is_output and node.out_port is None:
            return self.scene.graph.connect_problem(node.node_id, self.fixed.node_id)
        return None

    def _show_reason(self, problem: str | None, pos: QPointF) -> None:
        if problem is None:
            if self.reason is not None:
                if self.reason.scene() is self.scene:
                    self.scene.removeItem(self.reason)
                self.reason = None
            return
        if self.reason is None:
            self.reason = ReasonItem(problem)
            self.scene.addItem(self.reason)
        self.reason.set_text(problem)
        views = self.scene.views()
        if views and views[0].mapFromScene(pos).x() + self.reason.width() + 20 > views[0].viewport().width():
            self.reason.set_text(problem, left=True)  # keep the box in the view: left of the cursor
        self.reason.setPos(pos)

    def _ends(self, target: PortItem) -> tuple[str, str]:
        assert self.fixed is not None
        return (self.fixed.node_id, target.node_id) if self.fixed.is_output else (target.node_id,
                                                                                  self.fixed.node_id)

    def _problem(self, target: PortItem) -> str | None:
        """Why the wire cannot end at ``target`` (with the lifted wire already gone), or None."""
        src, dst = self._ends(target)
        key = (src, dst)
        if key not in self._verdicts:
            graph = self.scene.graph
            if self.detached is not None and key != (self.detached.src, self.detached.dst):
                trial = graph.copy()
                trial.disconnect(self.detached)
                graph = trial
            if self.detached is not None and key == (self.detached.src, self.detached.dst):
                self._verdicts[key] = None
            else:
                self._verdicts[key] = graph.connect_problem(src, dst)
        return self._verdicts[key]
