"""Dragging wires: from an output port to an input port (connect), from an empty input back to an output, or
lifting a wire's end off an input port (disconnect, and reconnect where it is dropped: one undo step).

The graph decides: ``connect_problem`` is asked while hovering (green / red feedback) and on release; a refused
drop leaves the graph as it was and the reason goes to ``scene.status_message``.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas.edge_item import WireItem
from nnstudio.ui.canvas.port_item import PortItem

WRONG_END_OUT = "Drop the wire on an input port (the left side of a layer)"
WRONG_END_IN = "Drop the wire on an output port (the right side of a layer)"


class WireDrag:
    def __init__(self, scene) -> None:
        self.scene = scene
        self.fixed: PortItem | None = None  # the end that stays put
        self.detached: Edge | None = None  # the wire lifted off an input, if any
        self.target: PortItem | None = None
        self.item: WireItem | None = None
        self._verdicts: dict[tuple[str, str], str | None] = {}

    @property
    def active(self) -> bool:
        return self.fixed is not None

    # -- life cycle -----------------------------------------------------------------------------------------
    def begin(self, port: PortItem, pos: QPointF) -> None:
        self.cancel()
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
        if target is not None:
            verdict = "ok" if self._problem(target) is None else "bad"
            target.set_verdict(verdict)
            if verdict == "ok":
                end = target.anchor()
        self.item.set_verdict(verdict)
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
        try:
            if target is None:
                if detached is not None:
                    stack.push(cmd.DisconnectCommand(graph, detached))
                elif self._port_under(pos) is not None:
                    scene.status_message.emit(WRONG_END_OUT if self.fixed.is_output else WRONG_END_IN)
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

    def cancel(self) -> None:
        if self.target is not None:
            self.target.set_verdict(None)
        if self.detached is not None:
            edge_item = self.scene.edge_item(self.detached)
            if edge_item is not None:
                edge_item.setVisible(True)
        if self.item is not None and self.item.scene() is self.scene:
            self.scene.removeItem(self.item)
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
        """A port of the other kind under ``pos`` (an input when dragging from an output and vice versa)."""
        port = self._port_under(pos)
        if port is None or self.fixed is None or port.is_output == self.fixed.is_output:
            return None
        return port

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
