"""Which layers fit next to a node: the ranked lists the canvas's quick-add search offers.

Whether a layer can take a tensor is asked of torch itself, as everywhere else: the layer (with its default
parameters) is built on the meta device and run on the tensor, through the same cache as shape inference
(``shapes.CACHE``), so asking again costs a dictionary look-up. The order among the layers that fit is a plain
table of what people usually put after an image, a sequence, a vector or token ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnstudio.core.graph import Graph
from nnstudio.core.layers.base import FLOAT, LONG, LayerSpec, TensorInfo
from nnstudio.core.layers.registry import SPECS, get_spec
from nnstudio.core.shapes import CACHE, GraphInfo, _freeze, _run_on_meta

ARROW = "\u2192"

# What usually comes after a tensor of each kind, most usual first; the other layers that fit follow in
# catalogue order. "flatten>dense" is the pair Flatten -> Dense (Dense takes no image).
USUAL_AFTER: dict[str, tuple[str, ...]] = {
    "image": ("conv2d", "maxpool2d", "avgpool2d", "batchnorm", "activation", "dropout", "flatten",
              "flatten>dense", "global_avg_pool"),
    "sequence": ("lstm", "gru", "transformer_encoder", "multi_head_self_attention", "positional_encoding",
                 "layernorm", "dropout", "global_avg_pool", "simple_rnn", "flatten", "dense"),
    "vector": ("dense", "dropout", "activation", "batchnorm", "layernorm", "output", "reshape"),
    "tokens": ("embedding",),
}
# What usually feeds a layer of each type (for a wire dragged back from an input port).
USUAL_BEFORE: dict[str, tuple[str, ...]] = {
    "dense": ("flatten", "dense", "dropout", "activation", "global_avg_pool", "input_vector", "lstm", "gru"),
    "output": ("dense", "activation"),
    "conv2d": ("input_image", "conv2d", "maxpool2d", "batchnorm", "activation", "dropout"),
    "maxpool2d": ("conv2d", "batchnorm", "activation"),
    "avgpool2d": ("conv2d", "batchnorm", "activation"),
    "flatten": ("maxpool2d", "conv2d", "avgpool2d", "dropout"),
    "embedding": ("input_tokens",),
    "lstm": ("embedding", "input_sequence", "lstm", "gru", "dropout"),
    "gru": ("embedding", "input_sequence", "gru", "lstm", "dropout"),
    "simple_rnn": ("embedding", "input_sequence", "simple_rnn"),
    "positional_encoding": ("embedding",),
    "transformer_encoder": ("positional_encoding", "embedding", "transformer_encoder"),
    "multi_head_self_attention": ("positional_encoding", "embedding", "layernorm"),
    "global_avg_pool": ("transformer_encoder", "conv2d", "multi_head_self_attention"),
}
# Pairs offered when the second layer cannot take the tensor but can after the first.
PAIRS = (("flatten", "dense"),)
# Tensors a layer is tried on when what it would receive is not known (a wire dragged back from an input).
PROBES = (TensorInfo((64,), FLOAT), TensorInfo((16, 28, 28), FLOAT), TensorInfo((16, 32), FLOAT),
          TensorInfo((32,), LONG, vocab=1000))


@dataclass(frozen=True)
class Suggestion:
    """One entry of the quick-add list: the layers to add, in wiring order (one, or a pair such as
    Flatten -> Dense), whether they fit, and a short note (why not, or what the pair is for)."""

    type_ids: tuple[str, ...]
    title: str
    fits: bool = True
    note: str = ""

    @property
    def type_id(self) -> str:
        return self.type_ids[-1]

    def matches(self, text: str) -> bool:
        """Whether the typed ``text`` (case-insensitive) occurs in the title or in a type id."""
        needle = text.strip().lower()
        return not needle or needle in self.title.lower() or any(needle in t for t in self.type_ids)


def kind_of(x: TensorInfo | None) -> str:
    """ "tokens", "image" (C, H, W), "sequence" (steps, features), "vector" or "other"."""
    if x is None:
        return "other"
    if x.dtype == LONG:
        return "tokens"
    return {3: "image", 2: "sequence", 1: "vector"}.get(len(x.shape), "other")


def try_layer(spec: LayerSpec, x: TensorInfo, params: dict | None = None) -> tuple[TensorInfo | None, str | None]:
    """(output, problem) of ``spec`` (default parameters unless given) run on ``x``; a merge gets ``x`` twice."""
    params = spec.defaults() if params is None else params
    inputs = [x, x] if spec.inputs is None else [x]
    key = (spec.type_id, _freeze(params), tuple(inputs), tuple(i.vocab for i in inputs))
    result = CACHE.get(key)
    if result is None:
        CACHE.misses += 1
        result = _run_on_meta(spec, params, inputs)
        CACHE.put(key, result)
    return result[0], result[3]


def catalogue(inputs: bool = True) -> list[Suggestion]:
    """Every layer in palette order (``inputs``: with the Input layers), for a quick-add with no wire."""
    return [Suggestion((s.type_id,), s.title) for s in SPECS.values() if inputs or not s.is_input]


def output_of(info: GraphInfo | None, node_id: str) -> TensorInfo | None:
    node = info.nodes.get(node_id) if info is not None else None
    return node.output if node is not None else None


def after(graph: Graph, info: GraphInfo | None, node_id: str) -> list[Suggestion]:
    """The layers that can come after ``node_id``: those that take its output first, most usual first, then
    the rest (``fits`` False, the reason in ``note``). Its output unknown (a problem upstream, not inferred
    yet): every layer but the Inputs, in palette order. An Output has nothing after it."""
    node = graph.nodes.get(node_id)
    if node is None or not node.spec.has_output_port:
        return []
    x = output_of(info, node_id)
    if x is None:
        return catalogue(inputs=False)
    return rank_for(x)


def rank_for(x: TensorInfo) -> list[Suggestion]:
    """The layers for a tensor ``x``, ranked as in :func:`after`."""
    fit: dict[str, Suggestion] = {}
    refused: list[Suggestion] = []
    merges: list[Suggestion] = []
    for spec in SPECS.values():
        if spec.is_input:
            continue
        out, problem = try_layer(spec, x)
        if problem is None and out is not None:
            entry = Suggestion((spec.type_id,), spec.title)
            if spec.inputs is None:
                merges.append(Suggestion(entry.type_ids, entry.title, True, "needs a second input wired to it"))
            else:
                fit[spec.type_id] = entry
        else:
            refused.append(Suggestion((spec.type_id,), spec.title, False, problem or "does not fit"))
    for first, second in PAIRS:
        if first in fit and second not in fit:
            mid, _ = try_layer(get_spec(first), x)
            out, problem = try_layer(get_spec(second), mid) if mid is not None else (None, "no input")
            if problem is None and out is not None:
                titles = f"{get_spec(first).title} {ARROW} {get_spec(second).title}"
                fit[f"{first}>{second}"] = Suggestion((first, second), titles, True,
                                                      f"adds a {get_spec(first).title} first")
    usual = USUAL_AFTER.get(kind_of(x), ())
    ordered = [fit.pop(key) for key in usual if key in fit]
    return ordered + list(fit.values()) + merges + refused


def before(graph: Graph, info: GraphInfo | None, node_id: str) -> list[Suggestion]:
    """The layers that can feed ``node_id``'s input: an Input whose tensor it takes, or a layer that turns
    some tensor into one it takes; the usual feeders of its type first, then the rest that fit, then those
    that cannot (``fits`` False). An Input takes nothing: empty."""
    node = graph.nodes.get(node_id)
    if node is None or node.spec.inputs == 0:
        return []
    target, params = node.spec, dict(node.params)
    full = target.with_defaults(params)
    fit: dict[str, Suggestion] = {}
    refused: list[Suggestion] = []
    for spec in SPECS.values():
        if not spec.has_output_port:
            continue
        problem = _feed_problem(spec, target, full)
        if problem is None:
            fit[spec.type_id] = Suggestion((spec.type_id,), spec.title)
        else:
            refused.append(Suggestion((spec.type_id,), spec.title, False, problem))
    usual = USUAL_BEFORE.get(target.type_id, ())
    ordered = [fit.pop(key) for key in usual if key in fit]
    return ordered + list(fit.values()) + refused


def _feed_problem(spec: LayerSpec, target: LayerSpec, params: dict) -> str | None:
    """None when ``spec`` can give ``target`` a tensor it takes (from some probe tensor), else why not."""
    if spec.is_input:
        outputs = [spec.source_fn(spec.defaults())]
    else:
        outputs = [out for out, problem in (try_layer(spec, p) for p in PROBES) if problem is None and out]
    if not outputs:
        return f"{spec.title} takes none of the usual tensors"
    last = "does not fit"
    for out in outputs:
        result, problem = try_layer(target, out, params)
        if problem is None and result is not None:
            return None
        last = problem or last
    return last


def between(graph: Graph, info: GraphInfo | None, src: str, dst: str) -> list[Suggestion]:
    """Single layers to insert on the wire ``src`` -> ``dst``: those that take ``src``'s output and give a
    tensor ``dst`` takes first, then those that take the output only (``fits`` False, with why)."""
    x = output_of(info, src)
    target = graph.nodes.get(dst)
    if x is None or target is None:
        return catalogue(inputs=False)
    params = target.spec.with_defaults(dict(target.params))
    good, bad = [], []
    for entry in rank_for(x):
        spec = get_spec(entry.type_id)
        if not entry.fits or len(entry.type_ids) > 1 or spec.inputs is None or not spec.has_output_port:
            continue
        out, _ = try_layer(spec, x)
        result, problem = try_layer(target.spec, out, params) if out is not None else (None, "no output")
        if problem is None and result is not None:
            good.append(entry)
        else:
            bad.append(Suggestion(entry.type_ids, entry.title, False, problem or "does not fit"))
    return good + bad
