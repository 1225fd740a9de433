"""The node-editor scene: one NodeItem per graph node, one EdgeItem per wire, driven only by graph events.

User gestures become undo commands (``nnstudio.ui.commands``); the graph changes, emits, and the ``_on_*``
handlers below create, move, update or delete items. Undo and redo therefore need no code of their own here.

A single unwired node dragged onto a wire (Alt not held) is put into it when released: A->B becomes A->N->B, with
the move, in one undo step (``insert_on_edge``, also the entry point for palette drops and menus).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent, QGraphicsView

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge, Graph, Node
from nnstudio.core.shapes import GraphInfo
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.edge_item import EdgeItem
from nnstudio.ui.canvas.layout import layered_positions
from nnstudio.ui.canvas.node_item import NodeItem
from nnstudio.ui.canvas.port_item import PortItem
from nnstudio.ui.canvas.wiring import WireDrag

LOCKED_MESSAGE = "The network is locked while it trains: stop training to edit it"
PASTE_OFFSET = (2 * style.GRID, 2 * style.GRID)
MIN_LAYOUT_AREA = (480.0, 300.0)
INSERT_PX = 8.0  # a layer dragged this close to a wire (screen pixels) is put into it


class GraphScene(QGraphicsScene):
    status_message = Signal(str)  # why an edit was refused, or what a gesture did
    node_activated = Signal(str)  # a node was double-clicked
    locked_changed = Signal(bool)
    extent_changed = Signal()  # nodes were added or moved: the view's scrollable area may have to grow
    wire_released_in_space = Signal(str, str, QPointF)  # node id, "out" / "in", where a new wire was let go
    quick_add_requested = Signal(QPointF)  # a double-click on empty canvas, at this scene point

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.undo_stack: QUndoStack | None = None
        self.info: GraphInfo | None = None
        self.theme = style.Theme.from_palette(self.palette())
        self.user_moving = False  # NodeItems snap to the grid only while the user drags them
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._locked = False
        self._drag_start: dict[str, QPointF] | None = None
        self._wire = WireDrag(self)
        self._drop_edge: EdgeItem | None = None  # the wire a dragged layer would be put into
        self._watcher = None
        self._extent_timer = QTimer(self)  # one extent_changed per burst of moves (auto layout moves every node)
        self._extent_timer.setSingleShot(True)
        self._extent_timer.setInterval(0)
        self._extent_timer.timeout.connect(self.extent_changed.emit)

    # -- the model ------------------------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Any]:
        return {
            "node_added": self._on_node_added,
            "node_removed": self._on_node_removed,
            "edge_added": self._on_edge_added,
            "edge_removed": self._on_edge_removed,
            "params_changed": self._on_params_changed,
            "node_moved": self._on_node_moved,
            "label_changed": self._on_label_changed,
        }

    def set_graph(self, graph: Graph, undo_stack: QUndoStack) -> None:
        """Show ``graph``; edits go through ``undo_stack``. Unhooks the previous graph."""
        if self.graph is not None:
            for name, handler in self._handlers().items():
                getattr(self.graph, name).disconnect(handler)
        self._wire.cancel()
        self._drag_start = None
        self._drop_edge = None
        self._nodes.clear()
        self._edges.clear()
        self.clear()
        self.graph, self.undo_stack, self.info = graph, undo_stack, None
        for node in graph.nodes.values():
            self._add_node_item(node)
        for edge in graph.edges:
            self._add_edge_item(edge)
        for name, handler in self._handlers().items():
            getattr(graph, name).connect(handler)
        self._take_watcher_info()
        self.extent_changed.emit()

    def attach(self, watcher) -> None:
        """Follow a ShapeWatcher: every inference updates the node faces (also its latest result for a graph
        set after it was inferred)."""
        self._watcher = watcher
        watcher.inferred.connect(self.set_info)
        self._take_watcher_info()

    def _take_watcher_info(self) -> None:
        w = self._watcher
        if w is not None and w.info is not None and w.graph is self.graph and self.graph is not None:
            self.set_info(w.info)

    def set_info(self, info: GraphInfo) -> None:
        """Shapes, parameter counts and problems on every node; only faces that changed are repainted."""
        self.info = info
        for nid, item in self._nodes.items():
            item.set_info(info.nodes.get(nid))

    def set_costs(self, costs: dict) -> None:
        """Each node's forward FLOPs at the training batch size (``core.costs.node_costs``) on its card."""
        for nid, item in self._nodes.items():
            cost = costs.get(nid)
            item.set_flops(cost.flops if cost is not None else None)

    def _add_node_item(self, node: Node) -> NodeItem:
        item = NodeItem(node)
        item.setFlag(item.GraphicsItemFlag.ItemIsMovable, not self._locked)
        self._nodes[node.id] = item
        self.addItem(item)
        if self.info is not None:
            item.set_info(self.info.nodes.get(node.id))
        return item

    def _add_edge_item(self, edge: Edge) -> None:
        src, dst = self._nodes.get(edge.src), self._nodes.get(edge.dst)
        if src is None or dst is None or src.out_port is None or dst.in_port is None:
            return
        item = EdgeItem(edge, src, dst)
        self._edges[edge] = item
        src.edges.add(item)
        dst.edges.add(item)
        item.refresh()
        self.addItem(item)
        src.out_port.set_connected(True)
        dst.in_port.set_connected(True)

    def _port_states(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is None:
            return
        if item.in_port is not None:
            item.in_port.set_connected(any(e.dst == node_id for e in self._edges))
        if item.out_port is not None:
            item.out_port.set_connected(any(e.src == node_id for e in self._edges))

    # -- graph event handlers -------------------------------------------------------------------------------
    def _on_node_added(self, node: Node) -> None:
        self._add_node_item(node)
        self._extent_timer.start()

    def _on_node_removed(self, node: Node) -> None:
        self._wire.forget_node(node.id)
        for edge in [e for e in self._edges if node.id in (e.src, e.dst)]:
            self._on_edge_removed(edge)
        item = self._nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)
            self._extent_timer.start()  # the view re-reads the extent (and shows its hint once none are left)

    def _on_edge_added(self, edge: Edge) -> None:
        self._add_edge_item(edge)

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is None:
            return
        if item is self._drop_edge:
            self._drop_edge = None
        self._wire.forget_edge(edge)
        item.source.edges.discard(item)
        item.target.edges.discard(item)
        self.removeItem(item)
        self._port_states(edge.src)
        self._port_states(edge.dst)

    def _on_params_changed(self, node: Node) -> None:
        item = self._nodes.get(node.id)
        if item is not None:
            item.update_from_node(node)

    def _on_label_changed(self, node: Node) -> None:
        self._on_params_changed(node)

    def _on_node_moved(self, node: Node) -> None:
        item = self._nodes.get(node.id)
        if item is not None:
            item.setPos(QPointF(*style.canvas_xy(node.position)))  # its edges follow in NodeItem.itemChange
            self._extent_timer.start()

    # -- queries --------------------------------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def nodes_rect(self) -> QRectF:
        """The scene rectangle holding every node (empty when there are none)."""
        rect = QRectF()
        for item in self._nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def selected_node_ids(self) -> list[str]:
        return [nid for nid, item in self._nodes.items() if item.isSelected()]

    def selected_edges(self) -> list[Edge]:
        return [edge for edge, item in self._edges.items() if item.isSelected()]

    # -- selection ------------------------------------------------------------------------------------------
    def select_nodes(self, ids) -> None:
        wanted = set(ids)
        self.clearSelection()
        for nid in wanted:
            item = self._nodes.get(nid)
            if item is not None:
                item.setSelected(True)

    def select_all(self) -> None:
        for item in self._nodes.values():
            item.setSelected(True)

    # -- locking --------------------------------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self._locked

    def set_locked(self, locked: bool) -> None:
        """While locked (training) nothing can be edited: nodes do not move, wires cannot be dragged, delete,
        paste, drop and layout are refused with a status message. The view shows a banner."""
        locked = bool(locked)
        if locked == self._locked:
            return
        self._locked = locked
        self._wire.cancel()
        for item in self._nodes.values():
            item.setFlag(item.GraphicsItemFlag.ItemIsMovable, not locked)
        self.locked_changed.emit(locked)

    def _editable(self) -> bool:
        if self.graph is None or self.undo_stack is None:
            return False
        if self._locked:
            self.status_message.emit(LOCKED_MESSAGE)
            return False
        return True

    # -- edits (each one undo step) -------------------------------------------------------------------------
    def push(self, command) -> bool:
        """Push a command built by a caller unless the scene is locked. Returns whether it was pushed."""
        if not self._editable():
            return False
        self.undo_stack.push(command)
        return True

    def delete_selection(self) -> None:
        ids, edges = self.selected_node_ids(), self.selected_edges()
        if (ids or edges) and self._editable():
            cmd.delete_nodes(self.undo_stack, self.graph, ids, edges)

    def copy_selection(self) -> dict:
        if self.graph is None:
            return {"nodes": [], "edges": []}
        return cmd.copy_nodes(self.graph, self.selected_node_ids())

    def paste(self, clip: dict, at: QPointF | None = None) -> list[str]:
        """Paste clipboard nodes with their internal wires; ``at``: where the pasted group's top-left goes
        (otherwise a little below right of the originals). The pasted nodes become the selection."""
        nodes = clip.get("nodes") or []
        if not isinstance(nodes, list) or not isinstance(clip.get("edges", []), list):
            self.status_message.emit("The clipboard's layers cannot be read")
            return []
        if not nodes or not self._editable():
            return []
        try:
            if at is None:
                offset = PASTE_OFFSET
            else:
                points = [cmd.clip_position(n) for n in nodes]
                left, top = min(x for x, _ in points), min(y for _, y in points)
                offset = (style.snap(at.x()) - left, style.snap(at.y()) - top)
            new_ids = cmd.paste_nodes(self.undo_stack, self.graph, clip, offset)
        except GraphError as exc:
            self.status_message.emit(str(exc))
            return []
        self.select_nodes(new_ids)
        return new_ids

    def duplicate_selection(self) -> list[str]:
        return self.paste(self.copy_selection())

    def add_node(self, type_id: str, scene_pos: QPointF | None = None, after: str | None = None) -> str | None:
        """Add a layer with its top-left at ``scene_pos`` (snapped). With ``after``, the new layer is also wired
        after that node when that is allowed (same undo step); without a position it goes right of it."""
        if not self._editable():
            return None
        graph = self.graph
        if after is not None and after not in graph.nodes:
            after = None
        if scene_pos is None:
            if after is not None:
                ax, ay = graph.nodes[after].position
                scene_pos = QPointF(ax + style.LAYOUT_DX, ay)
            else:
                rect = self.nodes_rect()
                scene_pos = QPointF(rect.right() + style.GRID * 3, rect.top()) if not rect.isNull() else QPointF()
        position = (style.snap(scene_pos.x()), style.snap(scene_pos.y()))
        try:
            add = cmd.AddNodeCommand(graph, type_id, position)
        except GraphError as exc:
            self.status_message.emit(str(exc))
            return None
        wire = after is not None and graph.nodes[after].spec.has_output_port and add_accepts_input(type_id)
        self.undo_stack.beginMacro(add.text())
        try:
            self.undo_stack.push(add)
            if wire and graph.connect_problem(after, add.node_id) is None:
                self.undo_stack.push(cmd.ConnectCommand(graph, after, add.node_id))
        finally:
            self.undo_stack.endMacro()
        self.select_nodes([add.node_id])
        return add.node_id

    # -- putting a layer into a wire ------------------------------------------------------------------------
    def edge_near(self, pos: QPointF, zoom: float = 1.0) -> EdgeItem | None:
        """The wire within INSERT_PX screen pixels of ``pos`` (at ``zoom``), or None."""
        r = INSERT_PX / zoom if zoom > 0 else INSERT_PX
        for item in self.items(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r),
                               Qt.ItemSelectionMode.IntersectsItemShape):
            if isinstance(item, EdgeItem) and item.isVisible():
                return item
        return None

    def set_drop_edge(self, item: EdgeItem | None) -> None:
        """Highlight the wire a dragged layer would go into (None: no wire)."""
        if item is not self._drop_edge:
            if self._drop_edge is not None:
                self._drop_edge.set_drop_target(False)
            self._drop_edge = item
            if item is not None:
                item.set_drop_target(True)

    def drop_edge(self) -> Edge | None:
        return self._drop_edge.edge if self._drop_edge is not None else None

    def insert_on_edge(self, edge: Edge, type_id: str | None = None, node_id: str | None = None,
                       scene_pos: QPointF | None = None) -> str | None:
        """Put a new layer of ``type_id`` (top-left at ``scene_pos``, else between the wire's ends) or the
        unwired node ``node_id`` (moved to ``scene_pos`` if given) into the wire: A->B becomes A->N->B, one
        undo step. Returns the node's id, or None when refused (the reason goes to status_message)."""
        if not self._editable():
            return None
        graph = self.graph
        if (type_id is None) == (node_id is None):
            self.status_message.emit("Say which layer to put into the wire")
            return None
        if isinstance(edge, EdgeItem):
            edge = edge.edge
        position, move = None, None
        if scene_pos is None and type_id is not None and edge.src in graph.nodes and edge.dst in graph.nodes:
            (ax, ay), (bx, by) = graph.nodes[edge.src].position, graph.nodes[edge.dst].position
            # one column after the wire's start when both ends share a row (the rest moves aside), else midway
            same_row = abs(ay - by) < style.NODE_H
            scene_pos = QPointF(ax + style.LAYOUT_DX, ay) if same_row else QPointF((ax + bx) / 2, (ay + by) / 2)
        if scene_pos is not None:
            position = (style.snap(scene_pos.x()), style.snap(scene_pos.y()))
        if node_id is not None and position is not None and node_id in graph.nodes:
            old = tuple(graph.nodes[node_id].position)
            if old != position:
                move = cmd.MoveNodesCommand(graph, {node_id: (old, position)})
        room = self._make_room(edge, node_id, position)
        try:
            nid = cmd.insert_on_edge(self.undo_stack, graph, edge, node_id, type_id, position, move, room)
        except GraphError as exc:
            self.status_message.emit(str(exc))
            return None
        self.select_nodes([nid])
        return nid

    def _make_room(self, edge: Edge, node_id: str | None, position: tuple[float, float] | None):
        """A move of the layers from the wire's end onwards, in the inserted layer's row, one column to the
        right, when the inserted layer would cover one of them (as Blender's auto-offset); None when it covers
        none."""
        graph = self.graph
        if position is None or edge.dst not in graph.nodes:
            return None
        px, py = position
        places = {nid: graph.nodes[nid].position for nid in graph.downstream(edge.dst) if nid != node_id}
        row = {nid: (x, y) for nid, (x, y) in places.items() if abs(y - py) < style.NODE_H and x > px - style.NODE_W}
        if not any(abs(x - px) < style.NODE_W for x, _y in row.values()):
            return None
        shift = style.LAYOUT_DX
        return cmd.MoveNodesCommand(graph, {nid: ((x, y), (x + shift, y)) for nid, (x, y) in row.items()})

    def _insert_candidate(self) -> str | None:
        """The node being dragged, if it alone is dragged and could go into a wire (both ports, no wires)."""
        if not self._drag_start or len(self._drag_start) != 1 or self.graph is None:
            return None
        nid = next(iter(self._drag_start))
        item = self._nodes.get(nid)
        if item is None or item.in_port is None or item.out_port is None or nid not in self.graph.nodes:
            return None
        if self.graph.inputs_of(nid) or self.graph.outputs_of(nid):
            return None
        return nid

    def auto_layout(self) -> None:
        """Columns by depth, left to right, wrapped into rows that the view shows at a readable zoom (layout.py),
        as one undoable move."""
        if not self._editable():
            return
        positions = layered_positions(self.graph, area=self.view_area())
        moves = {nid: (self.graph.nodes[nid].position, pos) for nid, pos in positions.items()
                 if tuple(self.graph.nodes[nid].position) != tuple(pos)}
        if moves:
            command = cmd.MoveNodesCommand(self.graph, moves)
            command.setText("Auto layout")
            self.undo_stack.push(command)

    def view_area(self) -> tuple[float, float] | None:
        """The viewport size (pixels) auto layout plans for: the first shown view's, at least MIN_LAYOUT_AREA
        (a canvas squeezed to a strip still gets rows one can work with); None without a shown view."""
        for view in self.views():
            if view.isVisible():
                vp = view.viewport()
                return (max(float(vp.width()), MIN_LAYOUT_AREA[0]), max(float(vp.height()), MIN_LAYOUT_AREA[1]))
        return None

    # -- mouse: wire drags and moves ------------------------------------------------------------------------
    def port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
                return item
        return None

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.graph is not None:
            port = self.port_at(event.scenePos())
            if port is not None:
                if self._editable():
                    self._wire.begin(port, event.scenePos(), self._zoom_of(event))
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self._locked and self.node_at(event.scenePos()):
            self._drag_start = {nid: item.pos() for nid, item in self._nodes.items() if item.isSelected()}
            self.user_moving = True

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._wire.active:
            self._wire.move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self.user_moving and self._insert_candidate() is not None:
            alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)  # Alt: move without inserting
            self.set_drop_edge(None if alt else self.edge_near(event.scenePos(), self._zoom_of(event)))

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._wire.active and event.button() == Qt.MouseButton.LeftButton:
            self._wire.finish(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._finish_move(None if alt else self.drop_edge())

    def _finish_move(self, into: Edge | None = None) -> None:
        """One MoveNodesCommand for the drag; with ``into`` (the wire under the dragged unwired node) the node
        is also put into that wire, in the same undo step, when both new wires are allowed."""
        candidate = self._insert_candidate() if into is not None else None
        start, self._drag_start = self._drag_start, None
        self.user_moving = False
        self.set_drop_edge(None)
        if not start or self.graph is None:
            return
        moves = {}
        for nid, before in start.items():
            item = self._nodes.get(nid)
            if item is not None and nid in self.graph.nodes and item.pos() != before:
                moves[nid] = (self.graph.nodes[nid].position, (item.pos().x(), item.pos().y()))
        move = cmd.MoveNodesCommand(self.graph, moves) if moves else None
        if candidate is not None and move is not None:
            try:
                cmd.insert_on_edge(self.undo_stack, self.graph, into, candidate, before=move)
                return
            except GraphError as exc:  # refused: the node is only moved
                self.status_message.emit(str(exc))  # nothing was pushed: the move goes alone
        if move is not None:
            self.undo_stack.push(move)

    def _zoom_of(self, event: QGraphicsSceneMouseEvent) -> float:
        """The zoom of the view ``event`` came through (the first view's without one)."""
        widget = event.widget()
        view = widget.parentWidget() if widget is not None else None
        if not isinstance(view, QGraphicsView):
            views = self.views()
            view = views[0] if views else None
        return view.transform().m11() if view is not None else 1.0

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        item = self.node_at(event.scenePos())
        if item is not None and event.button() == Qt.MouseButton.LeftButton:
            self.node_activated.emit(item.node_id)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.graph is not None and not any(
                i.acceptedMouseButtons() & Qt.MouseButton.LeftButton for i in self.items(event.scenePos())):
            event.accept()
            if self._editable():  # empty canvas: the quick-add search opens here
                self.quick_add_requested.emit(QPointF(event.scenePos()))
            return
        super().mouseDoubleClickEvent(event)

    # -- theme ----------------------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        result = super().event(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.refresh_theme()
        return result

    def refresh_theme(self) -> None:
        self.theme = style.Theme.from_palette(self.palette())
        for item in self.items():
            item.update()
        self.update()


def add_accepts_input(type_id: str) -> bool:
    from nnstudio.core.layers.registry import get_spec

    return get_spec(type_id).inputs != 0
