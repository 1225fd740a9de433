"""What each layer costs: its forward FLOPs and the activation memory it keeps for the backward pass.

Both come from torch itself, never from a formula per layer: each node's real module is built on the meta device
exactly as shape inference builds it (``spec.build`` with the input shapes ``shapes.py`` found), followed by the
layer's own activation as ``compile.py`` applies it, put in training mode, and run once on meta tensors of the
training batch size

- under ``torch.utils.flop_counter.FlopCounterMode``: the forward FLOPs (torch counts a multiply-add as 2 FLOPs,
  so a Dense layer costs 2 x in x out x batch), and
- under ``torch.autograd.graph.saved_tensors_hooks``: the bytes of every tensor autograd keeps for backward (the
  inputs are made ``requires_grad`` so the graph is recorded). A layer's own parameters are not counted (they are
  the weights, counted once elsewhere) and a tensor saved twice (the same storage) is counted once.

Meta tensors have shapes but no memory, so nothing is allocated whatever the batch size. Results are cached by
the shape-inference key (layer type, parameters, input tensors) plus the batch size, so after one edit only the
nodes whose own key changed are run again; the rest are dictionary look-ups. Layers torch has no FLOP formula
for (an LSTM's fused kernels on some builds, embeddings, pooling) count 0 FLOPs: torch's own count is the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from nnstudio.core.layers.activations import activation_call
from nnstudio.core.layers.base import LONG, TensorInfo
from nnstudio.core.shapes import _Cache, _freeze, infer_shapes

if TYPE_CHECKING:  # pragma: no cover
    from nnstudio.core.graph import Graph
    from nnstudio.core.shapes import GraphInfo


@dataclass(frozen=True)
class NodeCost:
    """One node at one batch size: forward FLOPs and the bytes autograd saves for backward."""

    flops: int = 0
    saved_bytes: int = 0


ZERO = NodeCost(0, 0)


CACHE = _Cache()  # the same LRU cache class as shape inference, keyed by its key plus the batch size
_LAST: dict[str, tuple] = {}  # the last call's (graph, info, batch, cache, result)


def node_costs(graph: Graph, batch_size: int, info: GraphInfo | None = None,
               cache: _Cache | None = None) -> dict[str, NodeCost]:
    """``{node_id: NodeCost}`` at ``batch_size`` samples for every node whose shape inference succeeded; Input
    and Output nodes cost nothing. Nodes with problems (or after one) are left out. Never
    raises for a bad graph and never allocates real memory."""
    info = info or infer_shapes(graph)
    cache = CACHE if cache is None else cache
    batch = max(1, int(batch_size))
    last = _LAST.get("call")
    if last is not None and last[0] is graph and last[1] is info and last[2] == batch and last[3] is cache:
        return dict(last[4])  # the panel and the canvas ask for the same inference: one walk
    out: dict[str, NodeCost] = {}
    for nid, node in graph.nodes.items():
        ninfo = info.nodes.get(nid)
        if ninfo is None or ninfo.output is None or ninfo.problems:
            continue
        spec = node.spec
        if spec.is_input or spec.is_output:
            out[nid] = ZERO
            continue
        inputs = [info.nodes[e.src].output if e.src in info.nodes else None for e in graph.inputs_of(nid)]
        if not inputs or any(x is None for x in inputs):
            continue
        key = (spec.type_id, _params_key(node.params), tuple(inputs), tuple(x.vocab for x in inputs), batch)
        cost = cache.get(key)
        if cost is None:
            cache.misses += 1
            cost = measure(spec, node.params, inputs, batch)
            cache.put(key, cost)
        out[nid] = cost
    _LAST["call"] = (graph, info, batch, cache, out)
    return dict(out)


def _params_key(params: dict[str, Any]) -> Any:
    """A hashable key of a node's parameters, equal for equal values of the same JSON types (1, 1.0 and True
    differ). JSON text is several times faster than shape inference's ``_freeze`` and keeps a 5,000-node look-up
    cheap; values JSON cannot write (sets, objects) fall back to ``_freeze``. JSON writes a tuple as a list and
    an int key as a string: only a graph built by hand can hold those, and the layer builds the same for both."""
    try:
        return json.dumps(params, sort_keys=True, allow_nan=True, default=_not_json)
    except (TypeError, ValueError):
        return ("frozen", _freeze(params))


def _not_json(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def measure(spec: Any, params: dict[str, Any], inputs: list[TensorInfo], batch_size: int) -> NodeCost:
    """Build ``spec``'s module on the meta device, run ``batch_size`` samples of ``inputs`` through it in
    training mode and count its forward FLOPs and saved bytes. A layer that refuses training mode for this
    batch (BatchNorm with one value per channel) is measured in eval mode; one that cannot run costs 0."""
    try:
        with torch.device("meta"):
            module = spec.build(params, inputs)
    except Exception:  # noqa: BLE001 - shape inference reports why; a cost is only a figure
        return ZERO
    own = {p.untyped_storage()._cdata for p in module.parameters()}
    own |= {b.untyped_storage()._cdata for b in module.buffers()}
    act = params.get("activation", "none") if spec.activation_param else "none"
    for training in (True, False):  # BatchNorm refuses one value per channel in training mode: eval mode then
        try:
            return _run(module.train(training), inputs, batch_size, own, act)
        except Exception as exc:  # noqa: BLE001 - a layer that cannot run costs nothing; shape inference says why
            failure = exc
    del failure
    return ZERO


def _run(module: torch.nn.Module, inputs: list[TensorInfo], batch_size: int, own: set[int],
         activation: str = "none") -> NodeCost:
    """One training-mode forward pass, with the layer's own activation applied after it as compile.py does."""
    xs = [_meta_input(x, batch_size) for x in inputs]
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ident = storage._cdata
        if ident not in own:
            seen[ident] = max(seen.get(ident, 0), _storage_bytes(t, storage))
        return t

    with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
        y = module(*xs)
        call = activation_call(activation, y.dim()) if isinstance(y, torch.Tensor) else None
        if call is not None:
            fn, kwargs = call
            fn(y, **kwargs)
    return NodeCost(int(counter.get_total_flops()), int(sum(seen.values())))


def _unpack(t: torch.Tensor) -> torch.Tensor:
    return t


def _storage_bytes(t: torch.Tensor, storage: Any) -> int:
    try:
        return int(storage.nbytes())
    except Exception:  # noqa: BLE001 - a tensor subclass without a plain storage
        return t.numel() * t.element_size()


def _meta_input(x: TensorInfo, batch_size: int) -> torch.Tensor:
    if x.dtype == LONG:  # token ids: integers cannot require grad
        return torch.zeros((batch_size, *x.shape), dtype=torch.long, device="meta")
    return torch.empty((batch_size, *x.shape), dtype=torch.float32, device="meta", requires_grad=True)


def total_flops(costs: dict[str, NodeCost]) -> int:
    return sum(c.flops for c in costs.values())


def total_saved_bytes(costs: dict[str, NodeCost]) -> int:
    return sum(c.saved_bytes for c in costs.values())


def format_flops(n: float) -> str:
    """``1500`` -> ``"1.5 kFLOPs"``, ``48`` -> ``"48 FLOPs"`` (powers of 1000, like ``memory.format_bytes``)."""
    n = float(n)
    units = ("", "k", "M", "G", "T", "P", "E")
    for unit in units:
        if abs(n) < 999.5 or unit == units[-1]:
            break
        n /= 1000
    if unit == "":
        return f"{int(n)} FLOPs"
    if n >= 999.5:
        return f"{n:.1e} {unit}FLOPs"
    return f"{n:.1f} {unit}FLOPs" if n < 9.95 else f"{n:.0f} {unit}FLOPs"
