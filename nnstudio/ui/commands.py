"""Undoable edits. Each command calls one graph method and holds only model objects (ids, dicts, Nodes,
Edges), never QGraphicsItems. Compound edits (delete a selection, paste) are macros of these."""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable

from PySide6.QtGui import QUndoCommand, QUndoStack

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge, Graph, Node, check_id
from nnstudio.core.layers.registry import get_spec
from nnstudio.ui.canvas.style import POSITION_LIMIT
from nnstudio.ui.safe_text import menu_text


class AddNodeCommand(QUndoCommand):
    def __init__(self, graph: Graph, type_id: str, position: tuple[float, float],
                 params: dict[str, Any] | None = None, node_id: str | None = None, label: str = "",
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.type_id, self.position, self.params, self.label = type_id, position, params, label
        spec = get_spec(type_id)  # an unknown type or a bad value raises here, before the stack sees it
        problems = spec.param_problems(params or {})
        if problems:
            raise GraphError(f"new {spec.title}: " + "; ".join(problems))
        self.node_id = node_id or graph.new_id(type_id)
        if self.node_id in graph.nodes:  # would fail inside redo(), after the stack took the command
            raise GraphError(f"there is already a node {self.node_id!r}")
        check_id(self.node_id)
        self.node: Node | None = None
        self.setText(f"Add {spec.title}")

    def redo(self) -> None:
        if self.node is None:
            self.node = self.graph.add_node(self.type_id, self.params, self.position, self.label, self.node_id)
        else:
            self.graph.insert_node(self.node)

    def undo(self) -> None:
        self.graph.remove_node(self.node_id)


class RemoveNodeCommand(QUndoCommand):
    """Remove one node with its wires; undo puts both back."""

    def __init__(self, graph: Graph, node_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        graph.node(node_id)  # an unknown id raises here, not inside redo()
        self.graph, self.node_id = graph, node_id
        self.node: Node | None = None
        self.edges: list[Edge] = []
        self.indices: list[int] = []
        self.place = 0
        self.setText(f"Delete {node_id}")

    def redo(self) -> None:
        wires = [e for e in self.graph.edges if self.node_id in (e.src, e.dst)]
        self.indices = self.graph.edge_indices(wires)
        self.place = list(self.graph.nodes).index(self.node_id)
        self.node, self.edges = self.graph.remove_node(self.node_id)

    def undo(self) -> None:
        assert self.node is not None
        self.graph.insert_node(self.node, self.edges, self.indices, self.place)


class ConnectCommand(QUndoCommand):
    """``index``: the wire's place in ``graph.edges`` (a wire put in another's place keeps a merge's order)."""

    def __init__(self, graph: Graph, src: str, dst: str, dst_port: int = 0,
                 parent: QUndoCommand | None = None, index: int | None = None) -> None:
        super().__init__(parent)
        problem = graph.connect_problem(src, dst, dst_port)  # refused before the stack sees it
        if problem:
            raise GraphError(problem)
        self.graph, self.edge, self.index = graph, Edge(src, dst, dst_port), index
        self.setText(f"Connect {src} to {dst}")

    def redo(self) -> None:
        self.graph.connect(self.edge.src, self.edge.dst, self.edge.dst_port, index=self.index)

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class DisconnectCommand(QUndoCommand):
    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        if not graph.has_edge(edge):  # refused before the stack sees it
            raise GraphError(f"{edge.src} is not connected to {edge.dst}")
        self.graph, self.edge = graph, edge
        self.index = 0
        self.setText(f"Disconnect {edge.src} from {edge.dst}")

    def redo(self) -> None:
        self.index = self.graph.edges.index(self.edge)  # merge inputs keep their order on undo
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.connect(self.edge.src, self.edge.dst, self.edge.dst_port, index=self.index)


class SetParamsCommand(QUndoCommand):
    """Change some parameters of one node. Raises GraphError on construction if a value is invalid, so a
    refused edit never reaches the undo stack."""

    def __init__(self, graph: Graph, node_id: str, changes: dict[str, Any]) -> None:
        super().__init__()
        node = graph.node(node_id)
        problems = node.spec.param_problems(changes)
        if problems:
            raise GraphError(f"{node.title}: " + "; ".join(problems))
        self.graph, self.node_id = graph, node_id
        self.new = copy.deepcopy(changes)
        self.old = {k: copy.deepcopy(node.params.get(k)) for k in changes}
        self.setText(menu_text(f"Change {', '.join(changes)} of {node.title}", 80))  # Edit > Undo shows it

    def redo(self) -> None:
        self.graph.set_params(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self.old)


class SetLabelCommand(QUndoCommand):
    """Rename one node. Raises GraphError on construction when another node already has the name (two nodes
    never share a label), so a refused name never reaches the undo stack."""

    def __init__(self, graph: Graph, node_id: str, label: str) -> None:
        super().__init__()
        self.old = graph.node(node_id).label
        problem = graph.label_problem(node_id, label)
        if problem:
            raise GraphError(problem)
        self.graph, self.node_id, self.new = graph, node_id, label
        self.setText(f"Rename {node_id}")

    def redo(self) -> None:
        self.graph.set_label(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_label(self.node_id, self.old)


class MoveNodesCommand(QUndoCommand):
    """Move several nodes at once (one drag of a selection is one undo step)."""

    def __init__(self, graph: Graph, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]]) -> None:
        super().__init__()
        for node_id in moves:
            graph.node(node_id)  # an unknown id raises here, not inside redo()
        self.graph, self.moves = graph, dict(moves)  # id -> (old position, new position)
        self.setText("Move" if len(moves) != 1 else f"Move {next(iter(moves))}")

    def redo(self) -> None:
        for node_id, (_, new) in self.moves.items():
            self.graph.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.moves.items():
            self.graph.move_node(node_id, old)


# -- compound edits -----------------------------------------------------------------------------------------
def delete_nodes(stack: QUndoStack, graph: Graph, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> None:
    """Delete nodes with their wires, and the loose ``edges`` (selected wires), as one undo step."""
    ids = list(dict.fromkeys(nid for nid in node_ids if nid in graph.nodes))
    wires = [e for e in dict.fromkeys(edges) if graph.has_edge(e) and e.src not in ids and e.dst not in ids]
    if not ids and not wires:
        return
    if ids and not wires:
        text = f"Delete {len(ids)} node{'s' if len(ids) != 1 else ''}"
    elif wires and not ids:
        text = f"Delete {len(wires)} wire{'s' if len(wires) != 1 else ''}"
    else:
        text = f"Delete {len(ids) + len(wires)} items"
    stack.beginMacro(text)
    try:
        for edge in wires:
            stack.push(DisconnectCommand(graph, edge))
        for nid in ids:
            stack.push(RemoveNodeCommand(graph, nid))
    finally:
        stack.endMacro()


def insert_problem(graph: Graph, edge: Edge, node_id: str | None = None, type_id: str | None = None) -> str | None:
    """Why the node ``node_id`` (or a new layer of ``type_id``) cannot be put into the wire ``edge``, in plain
    words, or None. Tried on a copy of the graph: the wire out, then the two new wires in."""
    if not graph.has_edge(edge):
        return "That wire is no longer there"
    if node_id is not None:
        node = graph.nodes.get(node_id)
        if node is None:
            return f"There is no node {node_id!r}"
        if graph.inputs_of(node_id) or graph.outputs_of(node_id):
            return f"{node.title} is already wired: only an unwired layer can be put into a wire"
    trial = graph.copy()
    try:
        if node_id is None:
            node_id = trial.add_node(type_id).id
    except (GraphError, KeyError, ValueError) as exc:
        return str(exc)
    title = trial.nodes[node_id].title
    trial.disconnect(edge)
    problem = trial.connect_problem(edge.src, node_id)
    if problem is None:
        trial.connect(edge.src, node_id)
        problem = trial.connect_problem(node_id, edge.dst, edge.dst_port)
    return None if problem is None else f"{title} cannot go into this wire: {problem}"


def insert_on_edge(stack: QUndoStack, graph: Graph, edge: Edge, node_id: str | None = None,
                   type_id: str | None = None, position: tuple[float, float] | None = None,
                   before: QUndoCommand | None = None, after: QUndoCommand | None = None) -> str:
    """Put an unwired node (or a new layer of ``type_id`` at ``position``) into ``edge``: A->B becomes A->N->B,
    one undo step, with ``before`` (a move, say) pushed first and ``after`` (moving the layers beyond aside)
    last in the same step. Raises GraphError, with nothing pushed, when either new wire would be refused.
    Returns the node's id."""
    add = AddNodeCommand(graph, type_id, position or (0.0, 0.0)) if node_id is None else None
    problem = insert_problem(graph, edge, node_id, type_id)
    if problem is not None:
        raise GraphError(problem)
    nid = add.node_id if add is not None else node_id
    index = graph.edges.index(edge)
    stack.beginMacro(f"Insert {get_spec(type_id).title if add else nid} into a wire")
    try:
        for command in (before, add):
            if command is not None:
                stack.push(command)
        stack.push(DisconnectCommand(graph, edge))
        stack.push(ConnectCommand(graph, edge.src, nid))
        stack.push(ConnectCommand(graph, nid, edge.dst, edge.dst_port, index=index))
        if after is not None:
            stack.push(after)
    finally:
        stack.endMacro()
    return nid


def copy_nodes(graph: Graph, node_ids: Iterable[str]) -> dict[str, Any]:
    """The selected nodes and the wires between them, as plain data (what the clipboard holds)."""
    ids = set(node_ids)
    data = graph.to_dict()
    return {
        "nodes": [n for n in data["nodes"] if n["id"] in ids],
        "edges": [e for e in data["edges"] if e["from"] in ids and e["to"] in ids],
    }


def paste_nodes(stack: QUndoStack, graph: Graph, clip: dict[str, Any],
                offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
    """Add copies of clipboard nodes (new ids) with their internal wires as one undo step; returns new ids."""
    nodes = clip.get("nodes", [])
    if not nodes:
        return []
    _check_clip(clip)  # a bad clipboard is refused whole, before the stack sees any of it
    stack.beginMacro(f"Paste {len(nodes)} node{'s' if len(nodes) != 1 else ''}")
    new_ids: dict[str, str] = {}
    try:
        for nd in nodes:
            x, y = clip_position(nd)
            x, y = (max(-POSITION_LIMIT, min(POSITION_LIMIT, v)) for v in (x + offset[0], y + offset[1]))
            cmd = AddNodeCommand(graph, nd["type"], (x, y), nd.get("params"), label=nd.get("label", ""))
            stack.push(cmd)
            new_ids[nd["id"]] = cmd.node_id
        for ed in clip.get("edges", []):
            if ed["from"] in new_ids and ed["to"] in new_ids:
                stack.push(ConnectCommand(graph, new_ids[ed["from"]], new_ids[ed["to"]], ed.get("port", 0)))
    finally:
        stack.endMacro()
    return list(new_ids.values())


def _check_clip(clip: dict[str, Any]) -> None:
    """Raise GraphError if pasting ``clip`` would fail part way: unknown types, bad values, impossible wires."""
    scratch = Graph()
    try:
        for nd in clip["nodes"]:
            clip_position(nd)
            spec = get_spec(nd["type"])
            problems = spec.param_problems(nd.get("params") or {})
            if problems:
                raise GraphError(f"pasted {spec.title}: " + "; ".join(problems))
            scratch.add_node(nd["type"], None, node_id=nd["id"])
        for ed in clip.get("edges", []):
            if ed["from"] in scratch.nodes and ed["to"] in scratch.nodes:
                scratch.connect(ed["from"], ed["to"], ed.get("port", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GraphError(f"the clipboard does not hold layers: {exc}") from None


def clip_position(nd: Any) -> tuple[float, float]:
    """The position of a clipboard node: two finite numbers (GraphError otherwise: the clipboard may hold
    anything another program put there)."""
    if not isinstance(nd, dict):
        raise GraphError("the clipboard does not hold layers")
    try:
        x, y = (float(v) for v in nd.get("position", (0.0, 0.0)))
    except (TypeError, ValueError, OverflowError):
        raise GraphError("the clipboard does not hold layers: a position is not two numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GraphError("the clipboard does not hold layers: a position is not finite")
    return x, y
