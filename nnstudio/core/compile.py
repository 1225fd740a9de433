"""Graph -> a real ``torch.nn.Module`` (a torch.fx GraphModule) that runs the layers in topological order.

Each layer becomes a submodule named by its node id (``conv2d_1``, ``dense_2``), so weights are saved and
exported under readable, stable names. Activations chosen on a layer and Activation nodes become plain torch
function calls. For classification the model returns logits: a Softmax (multi-class, cross-entropy) or Sigmoid
(binary, binary cross-entropy) written just before the Output is folded into the loss, and ``predict`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import torch
from torch import fx, nn

from nnstudio.core import memory
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph
from nnstudio.core.layers.activations import activation_call
from nnstudio.core.layers.base import LONG, TensorInfo
from nnstudio.core.layers.io_layers import effective_loss
from nnstudio.core.shapes import infer_shapes

# The activation a classification loss already contains, per loss.
_FOLDABLE = {"cross_entropy": "softmax", "bce": "sigmoid"}


@dataclass
class CompiledModel:
    module: fx.GraphModule
    input_names: list[str]
    input_infos: list[TensorInfo]
    output_node: str
    task: str
    loss: str
    # Applied to the module's output by ``predict`` (the model returns logits for classification).
    output_activation: str | None
    # The node whose Softmax/Sigmoid was folded into the loss, if any.
    folded_from: str | None = None
    notes: list[str] = field(default_factory=list)
    # What the model returns per sample (logits for classification).
    output_info: TensorInfo | None = None
    # Graph node id -> name of the fx node holding that layer's output (after its activation), for probes.
    node_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def param_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def trainable_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def loss_fn(self) -> nn.Module:
        return make_loss(self.loss)

    def predict(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Run the model in eval mode without gradients and return probabilities (classification) or values."""
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                y = self.module(*inputs)
        finally:
            self.module.train(was_training)
        if self.output_activation == "softmax":
            return torch.softmax(y, dim=-1)
        if self.output_activation == "sigmoid":
            return torch.sigmoid(y)
        return y

    def example_inputs(self, batch: int = 2, device: str | torch.device = "cpu") -> list[torch.Tensor]:
        """Random inputs of the right shape and type (token ids within the Input's vocabulary)."""
        out = []
        for info in self.input_infos:
            if info.dtype == LONG:
                out.append(torch.randint(0, info.vocab or 2, (batch, *info.shape), device=device))
            else:
                out.append(torch.randn(batch, *info.shape, device=device))
        return out


def make_loss(name: str) -> nn.Module:
    return {
        "cross_entropy": nn.CrossEntropyLoss,
        "bce": nn.BCEWithLogitsLoss,
        "mse": nn.MSELoss,
        "mae": nn.L1Loss,
        "huber": nn.HuberLoss,
    }[name]()


def compile_graph(graph: Graph, seed: int | None = None) -> CompiledModel:
    """Build the trainable model. Raises GraphError listing the problems if the graph is not valid, and
    ``memory.NotEnoughMemoryError`` (a GraphError) before building anything when this computer has not the
    memory for the model, a second copy of its weights and a run on 3 samples (what loading saved weights or
    the exporter's check needs: ``memory.check_fits(..., what="compile")``)."""
    info = infer_shapes(graph)
    problems = info.problems()
    if problems:
        listing = "\n".join(f"  - {p.text()}" for p in problems)
        raise GraphError(f"the network cannot be built:\n{listing}")
    memory.check_fits(memory.estimate(graph, memory.COMPILE_BATCH, info=info), device="cpu", what="compile")
    output_id = next(nid for nid, n in graph.nodes.items() if n.spec.is_output)
    needed = graph.upstream(output_id)
    if seed is not None:
        torch.manual_seed(seed)

    root = nn.Module()
    fxg = fx.Graph()
    values: dict[str, fx.Node] = {}
    before_activation: dict[str, tuple[fx.Node, str]] = {}
    input_names, input_infos = [], []
    order = [nid for nid in info.order if nid in needed]
    for nid in order:
        node = graph.nodes[nid]
        spec = node.spec
        if spec.is_input:
            values[nid] = fxg.placeholder(nid)
            input_names.append(nid)
            input_infos.append(info.nodes[nid].output)
            continue
        if spec.is_output:
            continue
        wires = graph.inputs_of(nid)
        args = tuple(values[e.src] for e in wires)
        in_infos = [info.nodes[e.src].output for e in wires]
        rank = len(info.nodes[nid].output.shape) + 1
        if spec.type_id == "activation":
            act, value = node.params["function"], args[0]
        else:
            if hasattr(root, nid):  # graph.py refuses such ids; a graph assembled by hand may not
                raise GraphError(f"node id {nid!r} cannot name a layer: rename the node")
            root.add_module(nid, _build(spec, node, in_infos))
            value = fxg.call_module(nid, args)
            act = node.params.get("activation", "none") if spec.activation_param else "none"
        call = activation_call(act, rank)
        if call is not None:
            before_activation[nid] = (value, act)
            fn, kwargs = call
            value = fxg.call_function(fn, (value,), kwargs)
        values[nid] = value

    out_node = graph.nodes[output_id]
    task = out_node.params["task"]
    loss = effective_loss(out_node.params)
    src = graph.inputs_of(output_id)[0].src
    result, folded_from, notes = values[src], None, []
    output_activation = None
    if task in ("multiclass", "binary") and loss in _FOLDABLE:
        output_activation = _FOLDABLE[loss]
        pre = before_activation.get(src)
        if pre is not None and pre[1] == output_activation:
            result, folded_from = pre[0], src
            notes.append(f"the {pre[1]} of {graph.nodes[src].title} is folded into the {loss} loss and applied "
                         "when predicting")
        elif pre is not None and pre[1] in _FOLDABLE.values():
            notes.append(f"{graph.nodes[src].title} ends in {pre[1]} but the {loss} loss expects "
                         f"{output_activation} scores: its outputs are treated as raw scores")
    fxg.output(result)
    module = fx.GraphModule(root, fxg, class_name="NNStudioModel")
    module.graph.eliminate_dead_code()  # e.g. a folded Softmax that nothing else uses
    module.recompile()
    live = {n.name for n in module.graph.nodes}
    node_outputs = {}
    for nid, v in values.items():
        if v.name not in live and nid in before_activation:  # its folded activation was dropped: the logits
            v = before_activation[nid][0]
        if v.name in live:
            node_outputs[nid] = v.name
    return CompiledModel(module, input_names, input_infos, output_id, task, loss, output_activation, folded_from,
                         notes, info.nodes[src].output, node_outputs)


def _build(spec, node, in_infos) -> nn.Module:
    """The real module. An allocation that fails all the same (memory taken meanwhile by something else) is
    one plain line, not a traceback: on the CPU torch raises a bare RuntimeError for it."""
    try:
        return spec.build(node.params, in_infos)
    except (MemoryError, RuntimeError) as exc:
        if not memory.out_of_memory(exc):
            raise
        raise memory.NotEnoughMemoryError(_out_of_memory(node, exc)) from None


def _out_of_memory(node, exc: BaseException) -> str:
    available = memory.cpu_available_bytes()
    room = f" ({memory.format_bytes(available)} is available)" if available is not None else ""
    return (f"this computer ran out of memory while building {node.spec.title} {node.title}{room}: close other "
            "programs or make the network smaller")


