"""A model summary like Keras's: one row per layer with its output shape and parameter count; at a batch size,
also its forward FLOPs and the activation memory it keeps for backward (``costs.py``), and the training-memory
totals (parameters, gradients, optimizer state, activations) that the memory problem checks (``memory.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo, infer_shapes
from nnstudio.core.text import one_line

NAME_LIMIT = 80  # characters of a layer's or the model's name in the table
FLOPS_NOTE = ("forward FLOPs of the whole batch, as torch's FlopCounterMode counts them: matrix products, "
              "convolutions and attention, a multiply-add as 2 FLOPs (element-wise layers such as BatchNorm, "
              "activations and pooling count 0)")
ACTS_NOTE = "bytes autograd keeps for the backward pass, for the whole batch (the layer's weights not included)"


@dataclass(frozen=True)
class SummaryRow:
    node_id: str
    name: str
    type_title: str
    shape: str
    params: int
    # At the batch size the rows were made for; None when not asked for or the layer cannot be built.
    flops: int | None = None
    saved_bytes: int | None = None


@dataclass(frozen=True)
class TrainingTotals:
    """Bytes a training step needs, as ``memory.estimate`` counts them; ``total`` is what the memory problem
    compares with the device's free memory. ``parameters`` counts every copy of the weights a run holds."""

    batch_size: int
    optimizer: str
    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    total: int
    flops: int  # forward FLOPs of one batch, summed over the layers


def summary_rows(graph: Graph, info: GraphInfo | None = None, batch_size: int | None = None) -> list[SummaryRow]:
    """Rows in the order the layers run (nodes on a cycle last); with ``batch_size``, with their costs."""
    info = info or infer_shapes(graph)
    cost = {}
    if batch_size is not None:
        from nnstudio.core.costs import node_costs

        cost = node_costs(graph, batch_size, info)
    rows = []
    for nid in info.order_all():
        if nid not in graph.nodes or nid not in info.nodes:  # shapes of an earlier graph: the next ones come
            continue
        node = graph.nodes[nid]
        ninfo = info.nodes[nid]
        c = cost.get(nid)
        rows.append(SummaryRow(nid, node.title, node.spec.title, ninfo.shape_text, ninfo.params,
                               c.flops if c else None, c.saved_bytes if c else None))
    return rows


def training_totals(graph: Graph, batch_size: int, optimizer: str = "adam",
                    info: GraphInfo | None = None) -> TrainingTotals:
    """The training-memory totals at ``batch_size`` with ``optimizer`` (``memory.estimate``'s figures)."""
    from nnstudio.core import memory
    from nnstudio.core.costs import node_costs, total_flops

    info = info or infer_shapes(graph)
    est = memory.estimate(graph, batch_size, optimizer, info=info)
    return TrainingTotals(int(batch_size), str(optimizer), est.weight_bytes * memory.TRAIN_WEIGHT_COPIES,
                          est.gradient_bytes, est.optimizer_bytes, est.activation_bytes(), est.train_bytes,
                          total_flops(node_costs(graph, batch_size, info)))


def totals_lines(totals: TrainingTotals) -> list[str]:
    """The totals as lines for a terminal (the CLI) or a label (the panel)."""
    from nnstudio.core import memory
    from nnstudio.core.costs import format_flops

    fb = memory.format_bytes
    copies = memory.TRAIN_WEIGHT_COPIES
    title = memory._optimizer_title(totals.optimizer)
    return [
        f"Training memory at batch size {totals.batch_size:,} with {title}:",
        f"  parameters:      {fb(totals.parameters)} ({copies} copies: the model and the best epoch's weights)",
        f"  gradients:       {fb(totals.gradients)}",
        (f"  optimizer state: {fb(totals.optimizer_state)} ({memory.OPTIMIZER_STATES.get(totals.optimizer, 2)} "
         "per trainable parameter)"),
        f"  activations:     {fb(totals.activations)} (layer outputs with their gradients, and the inputs)",
        f"  total:           {fb(totals.total)}",
        f"Forward FLOPs per batch: {format_flops(totals.flops)}",
    ]


def format_summary(graph: Graph, title: str = "", info: GraphInfo | None = None, batch_size: int | None = None,
                   optimizer: str = "adam") -> str:
    """The table; with ``batch_size`` also the FLOPs and activation-memory columns and the training totals."""
    from nnstudio.core.costs import format_flops
    from nnstudio.core.memory import format_bytes

    info = info or infer_shapes(graph)
    rows = summary_rows(graph, info, batch_size)
    costs = batch_size is not None
    # Names come from the file: one printable line each, so a label cannot break the table or steer a terminal.
    cells = []
    for r in rows:
        cell = [f"{one_line(r.name, NAME_LIMIT)} ({r.type_title})", r.shape, f"{r.params:,}"]
        if costs:
            cell += ["-" if r.flops is None else format_flops(r.flops),
                     "-" if r.saved_bytes is None else format_bytes(r.saved_bytes)]
        cells.append(tuple(cell))
    head = ("Layer (type)", "Output shape", "Param #") + (("FLOPs", "Act. memory") if costs else ())
    n = len(head)
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) if cells else len(head[i]) for i in range(n)]
    line = "  ".join([f"{{:<{widths[0]}}}", f"{{:<{widths[1]}}}"] + [f"{{:>{w}}}" for w in widths[2:]])
    rule = "=" * (sum(widths) + 2 * (n - 1))
    out = []
    if title:
        out.append(f'Model: "{one_line(title, NAME_LIMIT)}"')
    out += [line.format(*head), rule]
    out += [line.format(*c) for c in cells]
    out += [
        rule,
        f"Total params: {info.total_params:,}",
        f"Trainable params: {info.trainable_params:,}",
        f"Non-trainable params: {info.total_params - info.trainable_params:,}",
    ]
    if costs:
        out.append(f"FLOPs: {FLOPS_NOTE}, at batch size {int(batch_size):,}; Act. memory: {ACTS_NOTE}")
        if info.ok:
            out += totals_lines(training_totals(graph, batch_size, optimizer, info))
    return "\n".join(out)
