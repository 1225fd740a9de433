"""The network as a graph of layer nodes and wires. The only place the graph is changed; every change emits
an event (``node_added``, ``edge_removed``, ``params_changed`` ...) that views subscribe to.

Every check is near-linear in nodes + wires: the graph keeps an index of each node's wires in and out (built
once, kept current by the methods below), the order is Kahn's algorithm on a deque, cycles are found with
Tarjan's strongly connected components. A graph holds at most ``MAX_NODES`` nodes and ``MAX_WIRES`` wires
(the file schema says the same), so any graph the app accepts is checked in seconds.

Frames (``Graph.frames``) are labelled backdrops around nodes on the canvas: they change nothing in the network,
its shapes or its code. A node is in at most one frame; deleting it takes it out (undo puts it back). Their
methods and checks are in :mod:`nnstudio.core.frames`.
"""

from __future__ import annotations

import copy
import functools
import keyword
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from nnstudio.core.errors import GraphError
from nnstudio.core.events import Event
from nnstudio.core.frames import (FRAME_COLOR, MAX_FRAME_LABEL, MAX_FRAMES, Frame, FramesMixin,  # noqa: F401 - API
                                  frames_from_list)
from nnstudio.core.frames import ID_PATTERN as _ID
from nnstudio.core.frames import short_id as _short_id
from nnstudio.core.graph_algo import gc_paused, strongly_connected  # noqa: F401 - API
from nnstudio.core.labels import free_label as _free_label
from nnstudio.core.labels import label_key, part_shared_labels, renamed_label_warnings  # noqa: F401 - API
from nnstudio.core.layers.registry import get_spec, resolve_type
from nnstudio.core.text import one_line


# The most nodes and wires a graph may hold (also the file schema's maxItems). 50,000 nodes validate in
# seconds; these leave room for twice that.
MAX_NODES = 100_000
MAX_WIRES = 200_000
MAX_PORT = 65_535  # no layer has that many input ports; a larger number is not a port (schema: maximum)


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


class _Wires:
    """Each node's wires in and out (each in ``edges`` order) and how often each wire occurs. Built from
    ``edges`` on first use and kept current by the graph's methods; built again when ``edges`` was replaced or
    changed length behind their back (``edges`` is for reading: change the graph through its methods)."""

    __slots__ = ("edges", "length", "inputs", "outputs", "count")

    def __init__(self, edges: list[Edge]) -> None:
        self.edges, self.length = edges, len(edges)
        self.inputs: dict[str, list[Edge]] = {}
        self.outputs: dict[str, list[Edge]] = {}
        self.count: dict[Edge, int] = {}
        for e in edges:
            self._add(e)

    def current(self, edges: list[Edge]) -> bool:
        return self.edges is edges and self.length == len(edges)

    def _add(self, e: Edge) -> None:
        self.inputs.setdefault(e.dst, []).append(e)
        self.outputs.setdefault(e.src, []).append(e)
        self.count[e] = self.count.get(e, 0) + 1

    def appended(self, e: Edge) -> None:
        self._add(e)
        self.length += 1

    def removed(self, e: Edge) -> None:
        """``e``'s first occurrence left ``edges`` (as ``list.remove`` does)."""
        self.inputs[e.dst].remove(e)
        self.outputs[e.src].remove(e)
        left = self.count[e] - 1
        if left:
            self.count[e] = left
        else:
            del self.count[e]
        self.length -= 1


@dataclass
class Graph(FramesMixin):
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index: _Wires | None = None
        self._id_hints: dict[str, int] = {}  # per id prefix: every lower number is taken (see new_id)
        self.node_added = Event("node_added")  # (node)
        self.node_removed = Event("node_removed")  # (node)
        self.edge_added = Event("edge_added")  # (edge)
        self.edge_removed = Event("edge_removed")  # (edge)
        self.params_changed = Event("params_changed")  # (node)
        self.node_moved = Event("node_moved")  # (node)
        self.label_changed = Event("label_changed")  # (node)
        self.frames: dict[str, Frame] = {}
        self.frame_added = Event("frame_added")  # (frame)
        self.frame_removed = Event("frame_removed")  # (frame)
        self.frame_changed = Event("frame_changed")  # (frame): label, colour, members or collapsed
        # node id -> (frame, place among its members) for each node remove_node took out of a frame, so that
        # insert_node (undo of the delete) puts it back
        self._left_frames: dict[str, tuple[Frame, int]] = {}
        # (node id, label in the file, label given) for each node from_dict renamed: two shared a label
        self.renamed_labels: list[tuple[str, str, str]] = []
        self.changed = Event("changed")  # () after any change that can alter shapes

    # -- queries ------------------------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node {node_id!r}") from None

    def _wires(self) -> _Wires:
        index = self._index
        if index is None or not index.current(self.edges):
            index = self._index = _Wires(self.edges)
        return index

    def _edges_in(self, node_id: str) -> list[Edge]:
        """Wires into ``node_id`` in ``edges`` order (the index's list: do not change it)."""
        return self._wires().inputs.get(node_id, _NONE)

    def _edges_out(self, node_id: str) -> list[Edge]:
        """Wires out of ``node_id`` in ``edges`` order (the index's list: do not change it)."""
        return self._wires().outputs.get(node_id, _NONE)

    def inputs_of(self, node_id: str) -> list[Edge]:
        """Wires into ``node_id`` in port order, then in the order they were connected."""
        return sorted(self._edges_in(node_id), key=lambda e: e.dst_port)

    def outputs_of(self, node_id: str) -> list[Edge]:
        return list(self._edges_out(node_id))

    def has_edge(self, edge: Edge) -> bool:
        """``edge in graph.edges`` without scanning the list."""
        return edge in self._wires().count

    def new_id(self, type_id: str) -> str:
        """The lowest free ``<type>_<n>``."""
        prefix = resolve_type(type_id)
        n = self._id_hints.get(prefix, 1)
        while f"{prefix}_{n}" in self.nodes:
            n += 1
        self._id_hints[prefix] = n
        return f"{prefix}_{n}"

    def topological_order(self) -> list[str]:
        """Node ids with every node after its inputs; nodes on a cycle are left out (see ``cycle_nodes``).
        Wires to or from a node that does not exist are ignored."""
        nodes = self.nodes
        indegree = dict.fromkeys(nodes, 0)
        for e in self.edges:
            if e.dst in indegree and e.src in nodes:
                indegree[e.dst] += 1
        ready = deque(nid for nid, d in indegree.items() if d == 0)
        order: list[str] = []
        outputs = self._wires().outputs
        while ready:
            nid = ready.popleft()
            order.append(nid)
            for e in outputs.get(nid, _NONE):
                if e.dst in indegree:
                    indegree[e.dst] -= 1
                    if indegree[e.dst] == 0:
                        ready.append(e.dst)
        return order

    def cycle_nodes(self) -> set[str]:
        """Nodes that lie on a cycle (a path of wires from the node back to itself). Nodes merely downstream of a
        cycle are left out of ``topological_order`` too, but are not on it."""
        return self._cycle_nodes(self.topological_order())

    def _cycle_nodes(self, order: list[str]) -> set[str]:
        placed = set(order)
        stuck = [nid for nid in self.nodes if nid not in placed]
        if not stuck:
            return set()
        stuck_set = set(stuck)
        outputs = self._wires().outputs

        def successors(nid: str) -> list[str]:
            return [e.dst for e in outputs.get(nid, _NONE) if e.dst in stuck_set]

        on_cycle: set[str] = set()
        for component in strongly_connected(stuck, successors):
            if len(component) > 1:
                on_cycle.update(component)
            elif any(e.dst == component[0] for e in outputs.get(component[0], _NONE)):
                on_cycle.add(component[0])  # a wire from the node to itself
        return on_cycle

    def reaches(self, start: str, target: str) -> bool:
        """Whether a path of wires leads from ``start`` to ``target``."""
        outputs = self._wires().outputs
        seen, stack = set(), [start]
        while stack:
            nid = stack.pop()
            if nid == target:
                return True
            if nid not in seen:
                seen.add(nid)
                stack.extend(e.dst for e in outputs.get(nid, _NONE))
        return False

    def downstream(self, node_id: str) -> set[str]:
        """The node and every node its output reaches."""
        return self._reach(node_id, self._wires().outputs, "dst")

    def upstream(self, node_id: str) -> set[str]:
        """The node and every node its input comes from."""
        return self._reach(node_id, self._wires().inputs, "src")

    @staticmethod
    def _reach(node_id: str, wires: dict, end: str) -> set[str]:
        seen, stack = set(), [node_id]
        while stack:
            nid = stack.pop()
            if nid not in seen:
                seen.add(nid)
                stack.extend(getattr(e, end) for e in wires.get(nid, _NONE))
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
        if self.has_edge(Edge(src, dst, dst_port)):
            return f"{a.title} is already connected to {b.title}"
        if b.spec.inputs is not None:
            if isinstance(dst_port, bool) or not isinstance(dst_port, int) or not 0 <= dst_port < b.spec.inputs:
                return f"{b.title} has no input port {dst_port!r}"
            if any(e.dst_port == dst_port for e in self._edges_in(dst)):
                return f"{b.title} takes one input and already has one: disconnect it first"
        elif isinstance(dst_port, bool) or not isinstance(dst_port, int) or dst_port != 0:
            return f"{b.title} has no input port {dst_port!r}"
        if len(self.edges) >= MAX_WIRES:
            return f"the network already has {len(self.edges):,} wires, the most NN Studio handles"
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
        _check_room(len(self.nodes) + 1)
        if params:
            self._check_params(spec, params, f"new {spec.title}")
        node_id = node_id or self.new_id(spec.type_id)
        check_id(node_id)
        if node_id in self.nodes:
            raise GraphError(f"there is already a node {node_id!r}")
        if label_key(label) and self.label_owner(label) is not None:  # paste, duplicate: "hidden" -> "hidden 2"
            label = _free_label(label, {label_key(n.label) for n in self.nodes.values() if n.label}, {})
        node = Node(node_id, spec.type_id, spec.with_defaults(params), _pos(position), label)
        self.nodes[node_id] = node
        self._left_frames.pop(node_id, None)  # a new node with an old id does not join the old one's frame
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
        _check_room(len(self.nodes) + 1)
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
                self._insert_edge(e, places[len(added)])
                added.append(e)
        except GraphError:
            for e in added:
                self._remove_edge(e)
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
        self._rejoin_frame(node.id)
        self.changed.emit()

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its wires; returns both so the removal can be undone."""
        node = self.node(node_id)
        removed = [e for e in self.edges if node_id in (e.src, e.dst)]
        for e in removed:
            self.disconnect(e)
        self._leave_frame(node_id)
        del self.nodes[node_id]
        prefix, _, number = node_id.rpartition("_")
        if number.isdigit() and prefix in self._id_hints:  # new_id may hand this id out again
            self._id_hints[prefix] = min(self._id_hints[prefix], int(number))
        self.node_removed.emit(node)
        self.changed.emit()
        return node, removed

    def edge_indices(self, edges: Iterable[Edge]) -> list[int]:
        """Where each wire stands in ``edges`` (its order among a merge node's inputs)."""
        edges = list(edges)
        if len(edges) < 4:
            return [self.edges.index(e) for e in edges]
        places: dict[Edge, int] = {}
        for i, e in enumerate(self.edges):
            places.setdefault(e, i)
        try:
            return [places[e] for e in edges]
        except KeyError as exc:  # as list.index says it
            raise ValueError(f"{exc.args[0]!r} is not in list") from None

    def connect(self, src: str, dst: str, dst_port: int = 0, index: int | None = None) -> Edge:
        """Add a wire; ``index`` puts it at that place in ``edges`` (undo uses it to keep merge order)."""
        problem = self.connect_problem(src, dst, dst_port)
        if problem:
            raise GraphError(problem)
        edge = Edge(src, dst, dst_port)
        self._insert_edge(edge, index)
        self.edge_added.emit(edge)
        self.changed.emit()
        return edge

    def disconnect(self, edge: Edge) -> None:
        try:
            self._remove_edge(edge)
        except ValueError:
            raise GraphError(f"{edge.src} is not connected to {edge.dst}") from None
        self.edge_removed.emit(edge)
        self.changed.emit()

    def _insert_edge(self, edge: Edge, index: int | None) -> None:
        """Put ``edge`` at ``index`` in ``edges`` (the end when None), keeping the index current."""
        wires = self._wires()
        if index is None or index >= len(self.edges):
            self.edges.append(edge)
            wires.appended(edge)
        else:  # a wire put back in the middle (undo): the per-node order changes, build the index again
            self.edges.insert(index, edge)
            self._index = None

    def _remove_edge(self, edge: Edge) -> None:
        wires = self._wires()
        self.edges.remove(edge)  # ValueError when it is not there
        wires.removed(edge)

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

    # -- labels: no two nodes share one (compared by label_key) ----------------------------------------------
    def label_owner(self, label: str, except_id: str | None = None) -> Node | None:
        """The node other than ``except_id`` whose label is ``label`` (by :func:`label_key`), if any."""
        key = label_key(label)
        if not key:
            return None
        return next((n for n in self.nodes.values() if n.id != except_id and n.label and label_key(n.label) == key),
                    None)

    def label_problem(self, node_id: str, label: str) -> str | None:
        """Why ``node_id`` cannot be called ``label`` (another layer is), or None."""
        other = self.label_owner(label, node_id)
        if other is None:
            return None
        return f"another layer ({other.id}) is already called “{one_line(label.strip(), 60)}”: choose another name"

    def set_label(self, node_id: str, label: str) -> str:
        """Name ``node_id`` (an empty label: no name, the node shows its type). GraphError when another node
        already has that name."""
        node = self.node(node_id)
        problem = self.label_problem(node_id, label)
        if problem:
            raise GraphError(problem)
        old, node.label = node.label, label
        self.label_changed.emit(node)
        return old

    @staticmethod
    def _check_params(spec, params: dict[str, Any], where: str) -> None:
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise GraphError(f"{where}: parameters must be given by name, not as {type(params).__name__}")
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
        refuse, a structure that is not the schema's, and more than ``MAX_NODES`` nodes or ``MAX_WIRES``
        wires raise GraphError (before anything is built)."""
        if not isinstance(data, dict):
            raise GraphError(f"a graph must be an object with nodes and edges, not {type(data).__name__}")
        nodes, edges = data.get("nodes", []), data.get("edges", [])
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("a graph's nodes and edges must be lists")
        _check_room(len(nodes), len(edges))
        with gc_paused(len(nodes)):
            return cls._from_lists(nodes, edges)

    @classmethod
    def _from_lists(cls, nodes: list[Any], edges: list[Any]) -> "Graph":
        graph = cls()
        for i, nd in enumerate(nodes):
            if not isinstance(nd, dict) or "id" not in nd or "type" not in nd:
                raise GraphError(f"node {i} must be an object with an id and a type")
            spec = get_spec(nd["type"])
            check_id(nd["id"])
            if nd["id"] in graph.nodes:
                raise GraphError(f"node id {nd['id']!r} is used twice")
            params, label = nd.get("params", {}), nd.get("label", "")
            params = {} if params is None else params
            if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
                raise GraphError(f"the params of node {nd['id']!r} must be an object")
            if not isinstance(label, str):
                raise GraphError(f"the label of node {nd['id']!r} must be text")
            graph.nodes[nd["id"]] = Node(nd["id"], spec.type_id, spec.with_defaults(params),
                                         _pos(nd.get("position", (0, 0))), label)
        for j, ed in enumerate(edges):
            if not isinstance(ed, dict) or "from" not in ed or "to" not in ed:
                raise GraphError(f"wire {j} must be an object with from and to")
            src, dst, port = ed["from"], ed["to"], ed.get("port", 0)
            for end in (src, dst):
                if not isinstance(end, str) or end not in graph.nodes:
                    raise GraphError(f"a wire refers to node {_short_id(end)}, which does not exist")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:
                raise GraphError(f"the wire from {src} to {dst} has port {_short_id(port)}: ports are whole "
                                 f"numbers from 0 to {MAX_PORT}")
            graph.edges.append(Edge(src, dst, port))
        graph.renamed_labels = part_shared_labels(graph.nodes.values())
        return graph

    def copy(self) -> "Graph":
        graph = Graph.from_dict(self.to_dict())
        graph.frames = {f.id: Frame(f.id, f.label, f.color, list(f.members), f.collapsed)
                        for f in self.frames.values()}
        return graph


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


_NONE: list[Edge] = []  # the wires of a node that has none (shared: never changed)


def _check_room(nodes: int, wires: int = 0) -> None:
    if nodes > MAX_NODES:
        raise GraphError(f"the network would have {nodes:,} nodes, more than the {MAX_NODES:,} NN Studio "
                         "handles: split it or use fewer layers")
    if wires > MAX_WIRES:
        raise GraphError(f"the network would have {wires:,} wires, more than the {MAX_WIRES:,} NN Studio "
                         "handles: use fewer connections")


def _pos(position: Any) -> tuple[float, float]:
    try:
        x, y = position
        out = (float(x), float(y))
    except (TypeError, ValueError, OverflowError):
        raise GraphError(f"a node position must be two numbers [x, y], not {_short_id(position)}") from None
    return out
