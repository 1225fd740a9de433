"""A model summary like Keras's: one row per layer with its output shape and parameter count."""

from __future__ import annotations

from dataclasses import dataclass

from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo, infer_shapes
from nnstudio.core.text import one_line

NAME_LIMIT = 80  # characters of a layer's or the model's name in the table


@dataclass(frozen=True)
class SummaryRow:
    node_id: str
    name: str
    type_title: str
    shape: str
    params: int


def summary_rows(graph: Graph, info: GraphInfo | None = None) -> list[SummaryRow]:
    """Rows in the order the layers run (nodes on a cycle last)."""
    info = info or infer_shapes(graph)
    rows = []
    for nid in info.order_all():
        node = graph.nodes[nid]
        ninfo = info.nodes[nid]
        rows.append(SummaryRow(nid, node.title, node.spec.title, ninfo.shape_text, ninfo.params))
    return rows


def format_summary(graph: Graph, title: str = "", info: GraphInfo | None = None) -> str:
    info = info or infer_shapes(graph)
    rows = summary_rows(graph, info)
    # Names come from the file: one printable line each, so a label cannot break the table or steer a terminal.
    cells = [(f"{one_line(r.name, NAME_LIMIT)} ({r.type_title})", r.shape, f"{r.params:,}") for r in rows]
    head = ("Layer (type)", "Output shape", "Param #")
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) if cells else len(head[i]) for i in range(3)]
    line = "  ".join(["{:<%d}" % widths[0], "{:<%d}" % widths[1], "{:>%d}" % widths[2]])
    rule = "=" * (sum(widths) + 4)
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
    return "\n".join(out)
