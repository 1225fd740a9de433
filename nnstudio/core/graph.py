"""The network as a graph of layer nodes and wires. The only place the graph is changed; every change emits
an event (``node_added``, ``edge_removed``, ``params_changed`` ...) that views subscribe to."""

from __future__ import annotations

import copy
import functools
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from nnstudio.core.errors import GraphError
from nnstudio.core.events import Event
from nnstudio.core.layers.registry import get_spec, resolve_type

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Node:
    """One layer. ``id`` is stable, unique in its graph and a Python identifier (e.g. ``conv2d_1``): it names
    the layer's submodule in the compiled model and its weights in files."""

    id: str
    type_id: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)
    label: str = ""

    @property
    def spec(self):  # -> LayerSpec
        return get_spec(self.type_id)

    @property
    def title(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class Edge:
    """A wire from ``src``'s output to input port ``dst_port`` of ``dst``."""

    src: str
    dst: str
    dst_port: int = 0


@dataclass(frozen=True)
class Problem:
    """Something wrong with one node (``node_id``) or with the graph as a whole (``node_id`` None)."""

    node_id: str | None
    message: str

    def text(self) -> str:
        return f"{self.node_id}: {self.message}" if self.node_id else self.message


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.node_added = Event("node_added")  # (node)
        self.node_removed = Event("node_removed")  # (node)
        self.edge_added = Event("edge_added")  # (edge)
        self.edge_removed = Event("edge_removed")  # (edge)
        self.params_changed = Event("params_changed")  # (node)
        self.node_moved = Event("node_moved")  # (node)
        self.label_changed = Event("label_changed")  # (node)
        self.changed = Event("changed")  # () after any change that can alter shapes

    # -- queries ------------------------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node {node_id!r}") from None

    def inputs_of(self, node_id: str) -> list[Edge]:
        """Wires into ``node_id`` in port order, then in the order they were connected."""
        return sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.dst_port)

    def outputs_of(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def new_id(self, type_id: str) -> str:
        prefix = resolve_type(type_id)
        n = 1
        while f"{prefix}_{n}" in self.nodes:
            n += 1
        return f"{prefix}_{n}"

    def topological_order(self) -> list[str]:
        """Node ids with every node after its inputs; nodes on a cycle are left out (see ``cycle_nodes``)."""
        indegree = {nid: 0 for nid in self.nodes}
        for e in self.edges:
            indegree[e.dst] += 1
        ready = [nid for nid, d in indegree.items() if d == 0]
        order: list[str] = []
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for e in self.outputs_of(nid):
                indegree[e.dst] -= 1
                if indegree[e.dst] == 0:
                    ready.append(e.dst)
        return order

    def cycle_nodes(self) -> set[str]:
        """Nodes that lie on a cycle (a path of wires from the node back to itself). Nodes merely downstream of a
        cycle are left out of ``topological_order`` too, but are not on it."""
        stuck = set(self.nodes) - set(self.topological_order())
        return {nid for nid in stuck if any(self.reaches(e.dst, nid) for e in self.outputs_of(nid))}

    def reaches(self, start: str, target: str) -> bool:
        """Whether a path of wires leads from ``start`` to ``target``."""
        seen, stack = set(), [start]
        while stack:
            nid = stack.pop()
            if nid == target:
                return True
            if nid not in seen:
                seen.add(nid)
                stack.extend(e.dst for e in self.outputs_of(nid))
        return False

    def downstream(self, node_id: str) -> set[str]:
        seen, stack = set(), [node_id]
        while stack:
            nid = stack.pop()
            if nid not in seen:
                seen.add(nid)
                stack.extend(e.dst for e in self.outputs_of(nid))
        return seen

    def connect_problem(self, src: str, dst: str, dst_port: int = 0) -> str | None:
        """Why a wire from ``src`` to ``dst`` cannot be made, or None when it can."""
        if src not in self.nodes or dst not in self.nodes:
            missing = src if src not in self.nodes else dst
            return f"there is no node {missing!r}"
        a, b = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"{b.title} cannot take its own output as input"
        if a.spec.is_output:
            return f"{a.title} is an Output and has no output to connect"
        if b.spec.inputs == 0:
            return f"{b.title} is an Input and takes no inputs"
        if Edge(src, dst, dst_port) in self.edges:
            return f"{a.title} is already connected to {b.title}"
        if b.spec.inputs is not None:
            if not 0 <= dst_port < b.spec.inputs:
                return f"{b.title} has no input port {dst_port}"
            if any(e.dst_port == dst_port for e in self.inputs_of(dst)):
                return f"{b.title} takes one input and already has one: disconnect it first"
        elif dst_port != 0:
            return f"{b.title} has no input port {dst_port}"
        if self.reaches(dst, src):
            return f"connecting {a.title} to {b.title} would make a cycle"
        return None

    # -- mutations ----------------------------------------------------------------------------------------
    def add_node(
        self,
        type_id: str,
        params: dict[str, Any] | None = None,
        position: tuple[float, float] = (0.0, 0.0),
        label: str = "",
        node_id: str | None = None,
    ) -> Node:
        spec = get_spec(type_id)
        if params:
            self._check_params(spec, params, f"new {spec.title}")
        node_id = node_id or self.new_id(spec.type_id)
        check_id(node_id)
        if node_id in self.nodes:
            raise GraphError(f"there is already a node {node_id!r}")
        node = Node(node_id, spec.type_id, spec.with_defaults(params), _pos(position), label)
        self.nodes[node_id] = node
        self.node_added.emit(node)
        self.changed.emit()
        return node

    def insert_node(self, node: Node, edges: Iterable[Edge] = (), indices: Iterable[int] | None = None,
                    place: int | None = None) -> None:
        """Put back a node removed earlier (undo), with its wires. ``indices`` are the wires' former places in
        ``edges`` (see ``edge_indices``), so merge inputs come back in their order; ``place`` is the node's
        former place in ``nodes`` (the order of independent branches in the summary, code and files). All or
        nothing: if a wire cannot be made, the graph is left as it was and GraphError says why."""
        if node.id in self.nodes:
            raise GraphError(f"there is already a node {node.id!r}")
        edges = list(edges)
        places = list(indices) if indices is not None else [None] * len(edges)
        if len(places) != len(edges):
            raise GraphError("insert_node needs one index per wire")
        edges = [e for _, e in sorted(zip(places, edges), key=lambda pe: (pe[0] is None, pe[0] or 0))]
        places = sorted(places, key=lambda p: (p is None, p or 0))
        self.nodes[node.id] = node
        added: list[Edge] = []
        try:
            for e in edges:
                problem = self.connect_problem(e.src, e.dst, e.dst_port)
                if problem:
                    raise GraphError(problem)
                at = places[len(added)]
                self.edges.insert(at if at is not None else len(self.edges), e)
                added.append(e)
        except GraphError:
            for e in added:
                self.edges.remove(e)
            del self.nodes[node.id]
            raise
        if place is not None and place < len(self.nodes) - 1:
            order = list(self.nodes.items())
            order.insert(place, order.pop())
            self.nodes.clear()
            self.nodes.update(order)
        self.node_added.emit(node)
        for e in added:
            self.edge_added.emit(e)
        self.changed.emit()

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its wires; returns both so the removal can be undone."""
        node = self.node(node_id)
        removed = [e for e in self.edges if node_id in (e.src, e.dst)]
        for e in removed:
            self.disconnect(e)
        del self.nodes[node_id]
        self.node_removed.emit(node)
        self.changed.emit()
        return node, removed

    def edge_indices(self, edges: Iterable[Edge]) -> list[int]:
        """Where each wire stands in ``edges`` (its order among a merge node's inputs)."""
        return [self.edges.index(e) for e in edges]

    def connect(self, src: str, dst: str, dst_port: int = 0, index: int | None = None) -> Edge:
        """Add a wire; ``index`` puts it at that place in ``edges`` (undo uses it to keep merge order)."""
        problem = self.connect_problem(src, dst, dst_port)
        if problem:
            raise GraphError(problem)
        edge = Edge(src, dst, dst_port)
        self.edges.insert(index if index is not None else len(self.edges), edge)
        self.edge_added.emit(edge)
        self.changed.emit()
        return edge

    def disconnect(self, edge: Edge) -> None:
        try:
            self.edges.remove(edge)
        except ValueError:
            raise GraphError(f"{edge.src} is not connected to {edge.dst}") from None
        self.edge_removed.emit(edge)
        self.changed.emit()

    def set_params(self, node_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change some parameters of a node; returns the previous values of those parameters (for undo).
        An invalid value is refused with a GraphError naming the node and the parameter."""
        node = self.node(node_id)
        self._check_params(node.spec, changes, f"{node.label} ({node.id})" if node.label else node.id)
        old = {k: copy.deepcopy(node.params.get(k)) for k in changes}
        node.params.update(copy.deepcopy(changes))
        self.params_changed.emit(node)
        self.changed.emit()
        return old

    def move_node(self, node_id: str, position: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old = node.position
        node.position = _pos(position)
        self.node_moved.emit(node)
        return old

    def set_label(self, node_id: str, label: str) -> str:
        node = self.node(node_id)
        old, node.label = node.label, label
        self.label_changed.emit(node)
        return old

    @staticmethod
    def _check_params(spec, params: dict[str, Any], where: str) -> None:
        problems = spec.param_problems(params)
        if problems:
            raise GraphError(f"{where}: " + "; ".join(problems))

    # -- checking -----------------------------------------------------------------------------------------
    def validate(self) -> list[Problem]:
        """Every problem of the graph, per node: structure, parameter values, shapes. Never raises."""
        from nnstudio.core.shapes import infer_shapes

        return infer_shapes(self).problems()

    # -- plain data ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "id": n.id,
                    "type": n.type_id,
                    "params": copy.deepcopy(n.params),
                    "position": [n.position[0], n.position[1]],
                    **({"label": n.label} if n.label else {}),
                }
                for n in self.nodes.values()
            ],
            "edges": [
                {"from": e.src, "to": e.dst, **({"port": e.dst_port} if e.dst_port else {})} for e in self.edges
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Graph":
        """Build a graph from ``to_dict`` output that has already been checked against the file schema.
        Parameter values are kept as written (bad ones show up as node problems); wires that the graph would
        refuse raise GraphError."""
        graph = cls()
        for nd in data.get("nodes", []):
            spec = get_spec(nd["type"])
            if nd["id"] in graph.nodes:
                raise GraphError(f"node id {nd['id']!r} is used twice")
            check_id(nd["id"])
            graph.nodes[nd["id"]] = Node(
                nd["id"], spec.type_id, spec.with_defaults(nd.get("params")), _pos(nd.get("position", (0, 0))),
                nd.get("label", ""),
            )
        for ed in data.get("edges", []):
            src, dst, port = ed["from"], ed["to"], ed.get("port", 0)
            if src not in graph.nodes or dst not in graph.nodes:
                missing = src if src not in graph.nodes else dst
                raise GraphError(f"a wire refers to node {missing!r}, which does not exist")
            graph.edges.append(Edge(src, dst, port))
        return graph

    def copy(self) -> "Graph":
        return Graph.from_dict(self.to_dict())


def check_id(node_id: Any) -> None:
    """Raise GraphError unless ``node_id`` can name a node (a Python identifier no module attribute uses)."""
    if not isinstance(node_id, str) or not _ID.fullmatch(node_id):
        raise GraphError(f"node id {node_id!r} must be letters, digits and _ and not start with a digit")
    if node_id in _reserved_ids():
        raise GraphError(f"node id {node_id!r} is a name Python or PyTorch already uses: choose another, "
                         f"e.g. {node_id}_1")


@functools.lru_cache(maxsize=1)
def _reserved_ids() -> frozenset[str]:
    """Ids that cannot name a submodule or an argument of the compiled model: Python keywords, ``self``,
    ``torch`` (used by the generated code) and the attributes of a torch.fx GraphModule."""
    from torch import fx, nn

    names = set(keyword.kwlist) | {"self", "torch"}
    names |= set(dir(fx.GraphModule)) | set(vars(fx.GraphModule(nn.Module(), fx.Graph())))
    return frozenset(names)


def _pos(position: Iterable[float]) -> tuple[float, float]:
    x, y = position
    return (float(x), float(y))
