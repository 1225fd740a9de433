"""A PyTorch module onto the canvas: traced with torch.fx (captured with torch.export where fx cannot trace it,
``exported``), each call mapped onto a layer (``mapping``), the wires
as the data flows, the weights copied into the layers' modules, and the module's repeated blocks framed.

``import_module(module, input_shape)`` returns an :class:`Imported` (the project, notes) or raises
:class:`ImportModelError` naming the operation that does not map, where the user's code calls it, and the layer
that would do. Proof of an import is the caller's to ask (``check_outputs``): the compiled project gives the
module's outputs with the module's weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import fx, nn

from nnstudio.core import block_layout
from nnstudio.core.errors import NNStudioError
from nnstudio.core.graph import Graph
from nnstudio.core.importer import blocks
from nnstudio.core.importer.exported import CaptureError, capture, first_line, nodes_in, user_line
from nnstudio.core.importer.mapping import Mapped, Unmapped, expand_module, is_leaf, map_function, map_module
from nnstudio.core.importer.recurrent import RecurrentViews
from nnstudio.core.project.model import Project

MAX_IMPORT_NODES = 5000  # fx nodes of one model; a larger model is refused before anything is built
TASKS = ("multiclass", "binary", "regression")


class ImportModelError(NNStudioError):
    """A model that cannot be imported: the message names the operation, its place and what would do."""


@dataclass
class Imported:
    project: Project
    notes: list[str] = field(default_factory=list)
    module: nn.Module | None = None  # the source module (eval mode), for checking the import


class _Tracer(fx.Tracer):
    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return is_leaf(m) or super().is_leaf_module(m, qualname)


def _where(node: fx.Node) -> str:
    """Where the user's code makes this call: ``net.py:42 (in forward)``, or the module path."""
    found = user_line(node.stack_trace or "")
    path = node.target if node.op == "call_module" else _stack_path(node)
    return found or (f"module {path}" if path else f"the call {node.name}")


def _stack_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack.values()))[0] if stack else ""


def _input_node(graph: Graph, shape: tuple[int, ...], vocab: int | None = None) -> str:
    if vocab is not None:  # the model starts with an Embedding: its input is token ids
        if len(shape) != 1:
            raise ImportModelError(f"a model that starts with an Embedding takes token ids: give its input shape "
                                   f"as one number, the sequence length, not {shape}")
        return graph.add_node("input_tokens", {"length": shape[0], "vocab_size": vocab}).id
    if len(shape) == 1:
        return graph.add_node("input_vector", {"features": shape[0]}).id
    if len(shape) == 3:
        return graph.add_node("input_image", {"channels": shape[0], "height": shape[1], "width": shape[2]}).id
    if len(shape) == 2:
        return graph.add_node("input_sequence", {"steps": shape[0], "features": shape[1]}).id
    raise ImportModelError(f"an input of per-sample shape {shape} has no NN Studio Input (give 1 number for "
                           "features, 2 for a sequence or 3 for an image: channels, height, width)")


def import_module(module: nn.Module, input_shape: tuple[int, ...], name: str = "Imported model",
                  task: str = "multiclass") -> Imported:
    """The project whose graph computes ``module`` on inputs of per-sample ``input_shape``, with its weights."""
    if task not in TASKS:
        raise ImportModelError(f"the task must be one of {', '.join(TASKS)}, not {task!r}")
    module = module.eval()
    traced, captured = _capture(module, tuple(int(s) for s in input_shape))
    fx_nodes = list(traced.nodes)
    if len(fx_nodes) > MAX_IMPORT_NODES:
        raise ImportModelError(f"the model has {len(fx_nodes):,} operations; NN Studio imports at most "
                               f"{MAX_IMPORT_NODES:,}")
    graph = Graph()
    made: dict[str, str | None] = {}  # fx node name -> graph node id (None: a shape read, no layer)
    sources: dict[str, nn.Module] = {}  # graph node id -> module whose weights it takes
    used_modules: dict[str, str] = {}  # module path -> graph node id (a module with weights called twice)
    paths: dict[str, str] = {}  # graph node id -> module path (for frames)
    inputs = 0
    output = None
    rnn = RecurrentViews()
    for node in fx_nodes:
        if node.op == "placeholder":
            inputs += 1
            if inputs > 1:
                raise ImportModelError("the model's forward takes more than one input: NN Studio imports models "
                                       "with one input tensor")
            made[node.name] = _input_node(graph, tuple(int(s) for s in input_shape), _vocab(node, module))
            continue
        if rnn.handles(node):
            made[node.name] = rnn.getitem(node, lambda why, n=node: ImportModelError(
                f"cannot import {_what(n)} at {_where(n)}: {why}"))
            continue
        if node.op == "get_attr":
            raise ImportModelError(f"the model reads the tensor {node.target} directly in forward "
                                   f"({_where(node)}): only layers' own weights can be imported")
        if node.op == "output":
            output = node
            continue
        if node.op == "call_module" and expand_module(module.get_submodule(node.target)) is not None:
            made[node.name] = _expand(node, module, graph, made, sources, paths)
            continue
        mapped = _map(node, module, graph, made)
        for a in _tensor_args(node):
            if rnn.kind(a.name) not in (None, "sequence"):
                raise ImportModelError(f"cannot import {_what(node)} at {_where(node)}: it uses a recurrent layer's "
                                       "whole result or state: use its output sequence, out[:, -1] or h[-1]")
        feeds = [made[a.name] for a in _tensor_args(node)]
        if mapped is None:
            made[node.name] = None
            continue
        if node.op == "call_module" and mapped.weights:
            if node.target in used_modules:
                raise ImportModelError(f"the module {node.target} is called twice ({_where(node)}): its weights "
                                       "are shared, which NN Studio's layers cannot be")
        real = [f for f in feeds if f is not None]
        if not real:
            raise ImportModelError(f"{_what(node)} ({_where(node)}) uses no tensor of the model's")
        try:
            nid = graph.add_node(mapped.type_id, mapped.params, label=_label(node, graph)).id
            for port_src in real:
                graph.connect(port_src, nid)
        except NNStudioError as exc:
            raise ImportModelError(f"{_what(node)} ({_where(node)}): {exc}") from None
        made[node.name] = nid
        path = node.target if node.op == "call_module" else _stack_path(node)
        if path:
            paths[nid] = str(path)
        if node.op == "call_module" and mapped.weights:
            used_modules[node.target] = nid
            sources[nid + (f".{mapped.inside}" if mapped.inside else "")] = module.get_submodule(node.target)
        if mapped.inside == "rnn":
            rnn.started(node, nid, bool(mapped.params.get("bidirectional")), mapped.type_id)
    rnn.finish(graph, lambda why: ImportModelError(f"cannot import the model: {why}"))
    results = _tensor_args(output) if output is not None else []
    if len(results) != 1 or made.get(results[0].name) is None:
        raise ImportModelError("the model must return one tensor (a tuple or a dict of outputs cannot be imported)")
    out = graph.add_node("output", {"task": task}).id
    graph.connect(made[results[0].name], out)
    notes = captured + blocks.frame_blocks(graph, paths, module)
    block_layout.lay_out(graph)
    project = Project(graph=graph, name=name, description=f"Imported from the PyTorch model {type(module).__name__}.",
                      training={"optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 10})
    project.weights = _weights(graph, sources)
    from nnstudio.core.fingerprint import fingerprint

    project.weights_fingerprint = fingerprint(graph)  # the weights are this very network's
    return Imported(project, notes, module)


def _capture(module: nn.Module, shape: tuple[int, ...]) -> tuple[fx.Graph, list[str]]:
    """The forward's graph, traced by torch.fx, or where fx cannot trace it captured by torch.export on an
    example batch (with a note saying so)."""
    try:
        return _Tracer().trace(module), []
    except Exception as exc:  # noqa: BLE001 - fx's own words: control flow on shapes, unsupported calls ...
        fx_why = first_line(exc)
    tokens = any(isinstance(m, nn.Embedding) for m in module.modules())
    try:
        graph = capture(module, shape, tokens)
    except CaptureError as exc:
        raise ImportModelError(f"torch.fx cannot trace this model ({fx_why}), and torch.export, tried instead, "
                               f"stopped: {exc}") from None
    return graph, [f"torch.fx cannot trace {type(module).__name__} ({fx_why[:120]}): captured with torch.export "
                   f"instead, on inputs of shape {shape}"]


def _vocab(placeholder: fx.Node, root: nn.Module) -> int | None:
    """The vocabulary of the Embedding the input goes into first, if it does."""
    for user in placeholder.users:
        if user.op == "call_module" and isinstance(root.get_submodule(user.target), nn.Embedding):
            return int(root.get_submodule(user.target).num_embeddings)
    return None


def _label(node: fx.Node, graph: Graph) -> str:  # noqa: ARG001 - add_node numbers a repeated name
    """A layer with weights is named after its module path (``layer1.0.conv1``), as in the user's code."""
    if node.op != "call_module":
        return ""
    label = str(node.target)[:60]
    return label


def _what(node: fx.Node) -> str:
    if node.op == "call_module":
        return f"the module {node.target}"
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
    return f"the call {target}()"


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    """The fx nodes a call takes, but its shape reads (``x.size(0)``)."""
    return [a for a in nodes_in(node.args, node.kwargs) if not (a.op == "call_method" and a.target == "size")]


def _expand(node: fx.Node, root: nn.Module, graph: Graph, made: dict, sources: dict, paths: dict) -> str:
    """A module that is a chain of layers (a TransformerEncoder's encoder layers): one node each."""
    feeds = [made[a.name] for a in _tensor_args(node)]
    if len(node.args) != 1 or node.kwargs or len(feeds) != 1 or feeds[0] is None:
        raise ImportModelError(f"cannot import {_what(node)} at {_where(node)}: it is called with a mask or more "
                               "than its input, which NN Studio's layers do not take")
    try:
        chain = expand_module(root.get_submodule(node.target))
    except Unmapped as exc:
        raise ImportModelError(f"cannot import {_what(node)} at {_where(node)}: {exc}") from None
    prev = feeds[0]
    for i, (mapped, source) in enumerate(chain):
        try:
            nid = graph.add_node(mapped.type_id, mapped.params, label=f"{node.target}.{i}"[:60]).id
            graph.connect(prev, nid)
        except NNStudioError as exc:
            raise ImportModelError(f"{_what(node)} ({_where(node)}): {exc}") from None
        sources[nid] = source
        paths[nid] = str(node.target)
        prev = nid
    return prev


def _map(node: fx.Node, root: nn.Module, graph: Graph | None = None, made: dict | None = None) -> Mapped | None:
    try:
        if node.op == "call_module":
            return map_module(root.get_submodule(node.target))
        args = tuple(a for a in node.args)
        return map_function(node.op, node.target, args, dict(node.kwargs), _rank(node, graph, made))
    except Unmapped as exc:
        raise ImportModelError(f"cannot import {_what(node)} at {_where(node)}: {exc}") from None


def _rank(node: fx.Node, graph: Graph | None, made: dict | None) -> int | None:
    """The per-sample rank of the call's first tensor, from the shapes of the graph built so far (asked only
    for the calls whose meaning depends on it)."""
    if graph is None or made is None or not (node.op == "call_method" and node.target == "mean"):
        return None
    first = next((made.get(a.name) for a in _tensor_args(node) if made.get(a.name)), None)
    if first is None:
        return None
    from nnstudio.core.shapes import infer_shapes

    info = infer_shapes(graph).nodes.get(first)
    return len(info.output.shape) if info is not None and info.output is not None else None


def _weights(graph: Graph, sources: dict[str, nn.Module]) -> dict[str, torch.Tensor] | None:
    """The compiled project's state dict with each mapped layer's weights from the module it came from."""
    from nnstudio.core.compile import compile_graph

    try:
        compiled = compile_graph(graph, seed=0)
    except NNStudioError as exc:
        raise ImportModelError(f"the imported network does not compile: {exc}") from None
    for nid, source in sources.items():
        target = compiled.module.get_submodule(nid)
        try:
            target.load_state_dict(source.state_dict())
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ImportModelError(f"the weights of {nid} do not fit its layer: {first[:200]}") from None
    return {k: v.detach().cpu().clone() for k, v in compiled.module.state_dict().items()}


def check_outputs(imported: Imported, batch: int = 2, seed: int = 0) -> float:
    """The largest absolute difference between the source module and the compiled project on random inputs
    (the import's proof)."""
    from nnstudio.core.compile import compile_graph

    compiled = compile_graph(imported.project.graph, seed=0)
    compiled.module.load_state_dict(imported.project.weights)
    compiled.module.eval()
    info = compiled.input_infos[0]
    gen = torch.Generator().manual_seed(seed)
    if info.dtype == "long":
        x = torch.randint(0, int(info.vocab or 2), (batch, *info.shape), generator=gen)
    else:
        x = torch.randn((batch, *info.shape), generator=gen)
    with torch.no_grad():
        want = imported.module(x)
        got = compiled.module(x)
    return float((want - got).abs().max())
