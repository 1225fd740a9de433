"""Live shape and parameter inference.

Each node's output shape and parameter count come from torch itself: the node's real module is built on the
meta device (no memory, no maths) and a meta tensor of the input shape is run through it. Results are cached by
(layer type, parameters, input shapes), so after an edit only the nodes whose own parameters or input shapes
changed -- the edited node and what lies downstream of it -- are built again; the rest are dictionary look-ups.
The same meta modules give each node's parameter and buffer bytes, which ``memory.py`` adds up.

Linear in nodes + wires (plus one meta build per distinct layer): the order and the cycles come from
``Graph``'s index, each node reads only its own wires.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from nnstudio.core import memory
from nnstudio.core.graph import Edge, Graph, Problem, gc_paused
from nnstudio.core.layers.base import FLOAT, LONG, LayerSpec, ShapeProblem, TensorInfo, _short, format_shape

PROBE_BATCH = 2  # BatchNorm needs more than one value per channel


@dataclass
class NodeInfo:
    output: TensorInfo | None = None
    params: int = 0
    trainable: int = 0
    problems: list[str] = field(default_factory=list)
    # Bytes of the layer's parameters (all and trainable) and buffers, at their dtype; elements of its largest
    # parameter; values and bytes one sample needs in it (see memory.sample_values). 0 when not built.
    param_bytes: int = 0
    trainable_bytes: int = 0
    buffer_bytes: int = 0
    largest_numel: int = 0
    sample_values: int = 0
    sample_bytes: int = 0

    @property
    def shape_text(self) -> str:
        return self.output.text() if self.output else "?"


@dataclass
class GraphInfo:
    nodes: dict[str, NodeInfo]
    graph_problems: list[str]
    order: list[str]

    def problems(self) -> list[Problem]:
        out = [Problem(None, m) for m in self.graph_problems]
        for nid in self.order_all():
            out.extend(Problem(nid, m) for m in self.nodes[nid].problems)
        return out

    def order_all(self) -> list[str]:
        placed = set(self.order)
        return self.order + [nid for nid in self.nodes if nid not in placed]

    @property
    def ok(self) -> bool:
        return not self.graph_problems and not any(i.problems for i in self.nodes.values())

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.nodes.values())

    @property
    def trainable_params(self) -> int:
        return sum(i.trainable for i in self.nodes.values())


class _Cache:
    """A small LRU cache of per-node results keyed by (type, params, input tensors)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.data: OrderedDict[Any, tuple[TensorInfo | None, int, int, str | None]] = OrderedDict()
        self.misses = 0

    def get(self, key: Any):
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


CACHE = _Cache()


def _freeze(value: Any) -> Any:
    """A hashable key equal for equal parameter values of the same types (1, 1.0 and True differ). Values
    that are not JSON (sets, objects) are keyed by type and ``repr``, never by identity."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((_freeze(k), _freeze(v)) for k, v in value.items()), key=_key_order)))
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    try:
        hash(value)
        return (type(value).__name__, value)
    except TypeError:
        return (type(value).__name__, "unhashable", _short(value, 200))


def _key_order(item: tuple[Any, Any]) -> tuple[str, str]:
    """Sorts frozen dict items by key, whatever the keys' types (equal keys cannot occur in one dict)."""
    kind, *rest = item[0]
    key = rest[0] if len(rest) == 1 and isinstance(rest[0], str) else _short(rest, 10_000)
    return kind, key


def infer_shapes(graph: Graph, cache: _Cache | None = None) -> GraphInfo:
    """Output shape, parameter count and problems of every node. Never raises for a bad graph."""
    with gc_paused(len(graph.nodes)):
        return _infer_all(graph, CACHE if cache is None else cache)


def _infer_all(graph: Graph, cache: _Cache) -> GraphInfo:
    order = graph.topological_order()
    infos: dict[str, NodeInfo] = {nid: NodeInfo() for nid in graph.nodes}
    # Nodes after a cycle (but not on it) get no message: their input is unknown, and the cycle is reported.
    for nid in sorted(graph._cycle_nodes(order)):
        infos[nid].problems.append(
            f"{graph.nodes[nid].spec.title} is part of a cycle (a wire leads from its output back to its input): "
            "remove one of the wires that lead back to it"
        )
    for nid in order:
        try:
            _infer_node(graph, nid, infos, cache)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the Problems panel down with it
            infos[nid].output = None
            infos[nid].problems.append(f"internal error while checking this layer ({type(exc).__name__}: "
                                       f"{_first_line(exc)}); please report it with the project")
    return GraphInfo(infos, _graph_problems(graph), order)


def _graph_problems(graph: Graph) -> list[str]:
    inputs = outputs = 0
    for n in graph.nodes.values():
        spec = n.spec
        inputs += spec.is_input
        outputs += spec.is_output
    problems = []
    if not inputs:
        problems.append("the network has no Input node: add one from the Input/Output group")
    if outputs == 0:
        problems.append("the network has no Output node: add one after the last layer")
    elif outputs > 1:
        problems.append(f"the network has {outputs} Output nodes: keep exactly one")
    ghosts = sorted({end for e in graph.edges for end in (e.src, e.dst) if end not in graph.nodes})
    if ghosts:  # only a graph assembled by hand: files and graph methods refuse such wires
        problems.append(f"wires refer to nodes that do not exist ({', '.join(map(str, ghosts[:5]))}): "
                        "remove them")
    return problems


def _infer_node(graph: Graph, nid: str, infos: dict[str, NodeInfo], cache: _Cache) -> None:
    node = graph.nodes[nid]
    spec = node.spec
    info = infos[nid]
    param_problems = spec.param_problems(node.params)
    if param_problems:
        info.problems.extend(param_problems)
        return
    wires = graph.inputs_of(nid)
    wiring = _wiring_problem(spec, wires) or _output_wiring_problem(graph, nid)
    if wiring:
        info.problems.append(wiring)
        return
    if spec.is_input:
        info.output = spec.source_fn(node.params)
        _size_problem(spec, node.params, [], info)
        return
    inputs = [infos[e.src].output for e in wires]
    if any(x is None for x in inputs):
        return  # an upstream node has a problem of its own; it is reported there
    # vocab is not part of TensorInfo equality, but an Embedding's verdict depends on it.
    key = (spec.type_id, _freeze(node.params), tuple(inputs), tuple(x.vocab for x in inputs))
    result = cache.get(key)
    if result is None:
        cache.misses += 1
        result = _run_on_meta(spec, node.params, inputs)
        cache.put(key, result)
    info.output, info.params, info.trainable, problem = result[:4]
    sizes = result[4] if len(result) > 4 else (0, 0, 0, 0)
    info.param_bytes, info.trainable_bytes, info.buffer_bytes, info.largest_numel = sizes
    if problem:
        info.problems.append(problem)
        return
    _size_problem(spec, node.params, inputs, info)


def _size_problem(spec: LayerSpec, params: dict[str, Any], inputs: list[TensorInfo], info: NodeInfo) -> None:
    """What one sample needs in the layer, and a problem when the layer can never fit in this computer (its
    output is kept: the layers after it are still checked)."""
    if spec.is_output:  # the Output passes its input on: counted on the layer before it
        return
    info.sample_values, info.sample_bytes = memory.sample_values(spec, params, inputs, info.output)
    problem = memory.node_problem(spec.title, info.param_bytes + info.buffer_bytes, info.sample_bytes,
                                  info.largest_numel)
    if problem:
        info.problems.append(problem)


def _wiring_problem(spec: LayerSpec, wires: list[Edge]) -> str | None:
    count = len(wires)
    if spec.inputs == 0:
        return f"an Input takes no inputs but has {count} wired in: remove them" if count else None
    ports = spec.inputs if spec.inputs is not None else 1  # merges take all their wires on port 0
    bad = sorted({e.dst_port for e in wires if not 0 <= e.dst_port < ports})
    if bad:
        return (f"{spec.title} has input port{'s' if ports > 1 else ''} 0"
                + (f" to {ports - 1}" if ports > 1 else "")
                + f" but a wire arrives on port {', '.join(map(str, bad))}: remove it and connect again")
    if spec.inputs is None:
        if count < 2:
            return f"{spec.title} needs at least two inputs but has {count}: connect more layers to it"
        return None
    if count == 0:
        return f"{spec.title} needs an input: connect a layer's output to it"
    if count > spec.inputs:
        return f"{spec.title} takes one input but has {count}: remove the extra wires"
    return None


def _output_wiring_problem(graph: Graph, nid: str) -> str | None:
    if not graph.nodes[nid].spec.is_output:
        return None
    targets = sorted({e.dst for e in graph._edges_out(nid)})
    if not targets:
        return None
    return (f"an Output ends the network and has no output, but is wired to {', '.join(targets)}: "
            "remove those wires")


def _run_on_meta(spec: LayerSpec, params: dict[str, Any], inputs: list[TensorInfo], trust_spec: bool = True):
    """(output, params, trainable, problem, sizes) from building the module on the meta device and running a meta
    tensor through it. A shape-preserving layer with a float input is only built (``trust_spec``): running
    some of them on meta tensors (LayerNorm's decomposition) costs a millisecond for nothing. ``sizes``:
    (parameter bytes, trainable parameter bytes, buffer bytes, elements of the largest parameter or buffer)."""
    try:
        with torch.device("meta"):
            module = spec.build(params, inputs)
        module.eval()
        same_shape = trust_spec and spec.shape_preserving and len(inputs) == 1 and inputs[0].dtype == FLOAT
        if not same_shape:
            xs = [torch.empty((PROBE_BATCH, *x.shape), dtype=_dtype(x), device="meta") for x in inputs]
            with torch.no_grad():
                y = module(*xs)
    except ShapeProblem as exc:
        return None, 0, 0, str(exc), _NO_SIZES
    except Exception as exc:  # torch's own complaint about these shapes or values
        shapes = ", ".join(format_shape(x.shape) for x in inputs)
        return None, 0, 0, f"{spec.title} cannot take {shapes}: {_first_line(exc)}", _NO_SIZES
    params = list(module.parameters())
    n_params = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    buffers = list(module.buffers())
    sizes = (sum(p.numel() * p.element_size() for p in params),
             sum(p.numel() * p.element_size() for p in params if p.requires_grad),
             sum(b.numel() * b.element_size() for b in buffers),
             max((t.numel() for t in params + buffers), default=0))
    if same_shape:
        return TensorInfo(tuple(inputs[0].shape), FLOAT), n_params, trainable, None, sizes
    if y.dtype == torch.long:  # token ids passed on (Flatten, Reshape): they keep the largest vocabulary
        vocabs = [x.vocab for x in inputs if x.dtype == LONG]
        vocab = max(vocabs) if vocabs and None not in vocabs else None
        out = TensorInfo(tuple(int(d) for d in y.shape[1:]), LONG, vocab)
    else:
        out = TensorInfo(tuple(int(d) for d in y.shape[1:]), FLOAT)
    if any(d <= 0 for d in out.shape):
        return (None, n_params, trainable, f"{spec.title} would output an empty {out.text()}: the input is too "
                "small", sizes)
    return out, n_params, trainable, None, sizes


_NO_SIZES = (0, 0, 0, 0)


def _dtype(x: TensorInfo) -> torch.dtype:
    return torch.long if x.dtype == LONG else torch.float32


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
