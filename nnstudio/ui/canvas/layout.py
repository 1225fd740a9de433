"""Automatic layout: columns by depth (longest path from an input), left to right.

A small Sugiyama-style pass: each node goes to column = its depth; wires that skip columns get an invisible
placeholder in every column they cross, so a skip connection runs beside the nodes it jumps over instead of
through them; within a column, nodes sit at the mean height of what feeds them, pushed apart to one row step.
Pure Python on the graph model (no Qt), so it is cheap to test.
"""

from __future__ import annotations

import math
from collections import Counter

from nnstudio.core.graph import Graph
from nnstudio.ui.canvas.style import GRID, LAYOUT_DX, LAYOUT_DY, POSITION_LIMIT, snap


def depths(graph: Graph) -> dict[str, int]:
    """Column of every node: 0 for nodes without inputs, else 1 + the deepest input. Nodes on or after a cycle
    go one column past the rest."""
    depth: dict[str, int] = {}
    for nid in graph.topological_order():
        depth[nid] = max((depth[e.src] + 1 for e in graph.inputs_of(nid) if e.src in depth), default=0)
    last = max(depth.values(), default=-1) + 1
    for nid in graph.nodes:
        depth.setdefault(nid, last)
    return depth


def layered_positions(graph: Graph, dx: float = LAYOUT_DX, dy: float = LAYOUT_DY) -> dict[str, tuple[float, float]]:
    """Top-left position of every node. The layout keeps the graph's current top-left corner."""
    if not graph.nodes:
        return {}
    depth = depths(graph)
    columns: dict[int, list] = {}
    for nid, d in depth.items():
        columns.setdefault(d, []).append(nid)
    # Placeholders for wires that span more than one column: key ("wire", index, column).
    feeds: dict[object, list] = {nid: [] for nid in graph.nodes}  # slot -> slots in the previous column
    for i, e in enumerate(graph.edges):
        a, b = depth[e.src], depth[e.dst]
        prev: object = e.src
        for col in range(a + 1, b):
            slot = ("wire", i, col)
            columns[col].append(slot)
            feeds[slot] = [prev]
            prev = slot
        if b > a:
            feeds[e.dst].append(prev)

    y: dict[object, float] = {}
    order = {nid: i for i, nid in enumerate(graph.nodes)}
    for col in sorted(columns):
        slots = columns[col]

        def wanted(slot) -> float:
            ys = [y[s] for s in feeds.get(slot, []) if s in y]
            if ys:
                return sum(ys) / len(ys)
            return graph.nodes[slot].position[1] if isinstance(slot, str) else 0.0

        def rank(slot):
            is_wire = not isinstance(slot, str)
            return (wanted(slot), is_wire, order.get(slot, 0) if not is_wire else slot[1])

        if col == min(columns):  # sources: keep their current top-to-bottom order, one row apart
            slots.sort(key=lambda s: (graph.nodes[s].position[1], order[s]))
            for i, s in enumerate(slots):
                y[s] = (i - (len(slots) - 1) / 2) * dy
            continue
        slots.sort(key=rank)
        want = [wanted(s) for s in slots]
        placed: list[float] = []
        for w in want:
            v = snap(w, GRID)
            if placed and v < placed[-1] + dy:
                v = placed[-1] + dy
            placed.append(v)
        shift = snap(sum(want) / len(want) - sum(placed) / len(placed), GRID)
        for s, v in zip(slots, placed):
            y[s] = v + shift

    x0 = snap(min(n.position[0] for n in graph.nodes.values()), GRID)
    y0 = snap(min(n.position[1] for n in graph.nodes.values()), GRID)
    top = min(y[nid] for nid in graph.nodes)
    return {nid: (x0 + depth[nid] * dx, y0 + snap(y[nid] - top, GRID)) for nid in graph.nodes}


def layout_problem(graph: Graph) -> str | None:
    """Why the positions a file gives cannot be shown as they are (None when they can): layers placed beyond
    POSITION_LIMIT (or at a non-finite coordinate), or several layers on exactly the same spot (a file written
    without positions puts every layer at the origin)."""
    far = sum(1 for n in graph.nodes.values()
              if not all(math.isfinite(v) and abs(v) <= POSITION_LIMIT for v in n.position))
    if far:
        return (f"{far} layer{'s were' if far != 1 else ' was'} placed far off the canvas "
                f"(more than {POSITION_LIMIT:,.0f} from its centre)")
    spots = Counter(tuple(n.position) for n in graph.nodes.values())
    stacked = sum(count for count in spots.values() if count > 1)
    if stacked:
        return f"{stacked} layers were placed exactly on top of one another"
    return None


def repair_layout(graph: Graph) -> str | None:
    """Arrange ``graph`` again (columns by depth, from the origin) when :func:`layout_problem` finds its positions
    unusable; returns what was wrong and done, in one line, or None when nothing was changed. Moves the nodes
    directly (call it before any view or undo stack follows the graph)."""
    problem = layout_problem(graph)
    if problem is None:
        return None
    for i, nid in enumerate(list(graph.nodes)):  # finite first, keeping the file's order from top to bottom
        graph.move_node(nid, (0.0, float(i)))
    for nid, pos in layered_positions(graph).items():
        graph.move_node(nid, pos)
    return f"{problem}: they were arranged again (save the project to keep the new places)"
