"""Automatic layout: columns by depth (longest path from an input), left to right, wrapped into rows when the
network is too long to read in the window; or, turned a quarter, rows by depth from top to bottom, wrapped into
columns side by side (``direction=TOP_TO_BOTTOM``).

A small Sugiyama-style pass: each node goes to column = its depth; wires that skip columns get an invisible
placeholder in every column they cross, so a skip connection runs beside the nodes it jumps over instead of
through them; within a column, nodes sit at the mean height of what feeds them, pushed apart to one row step.

Then the columns are cut into bands (rows), one below the other, each read left to right like a line of text,
so that the whole network fits the viewport at a zoom where a node's title reads (``MIN_READABLE_ZOOM``) or,
when it cannot, fits its width and scrolls only downwards. Cuts go where one wire crosses (between two blocks,
never through a residual branch) when that is possible. Pure Python on the graph model (no Qt), so it is cheap
to test.
"""

from __future__ import annotations

import math
from collections import Counter

from nnstudio.core.graph import Graph
from nnstudio.ui.canvas.style import (FIT_MARGIN, GRID, LAYOUT_BAND_GAP, LAYOUT_DX, LAYOUT_DY, MIN_READABLE_ZOOM,
                                      NODE_H, NODE_W, POSITION_LIMIT, snap)

# The viewport auto layout plans for when it is not told (a file without positions is arranged before any
# view shows it): the canvas of a 1600 x 1000 window.
DEFAULT_AREA = (1100.0, 600.0)
LEFT_TO_RIGHT, TOP_TO_BOTTOM = "left_to_right", "top_to_bottom"
DIRECTIONS = (LEFT_TO_RIGHT, TOP_TO_BOTTOM)
TB_DX = NODE_W + 2 * GRID  # top to bottom: step between two nodes side by side (one depth)
TB_DY = 140.0  # top to bottom: step from one depth to the next (room for the wire between them)
_SLACK = 4.0  # pixels the view's own rounding may take off the viewport


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


def fit_zoom(width: float, height: float, area: tuple[float, float]) -> float:
    """The zoom at which a ``width`` x ``height`` scene rectangle, with FIT_MARGIN round it, fills ``area``
    (viewport pixels) without cropping. GraphView.fit uses the same rule."""
    return max(0.0, min(area[0] / (width + 2 * FIT_MARGIN), area[1] / (height + 2 * FIT_MARGIN)))


def _column_heights(graph: Graph, depth: dict[str, int], dy: float,
                    axis: int = 1) -> tuple[dict[int, list], dict[object, float]]:
    """Slots of every column (node ids and wire placeholders ("wire", edge index, column)) and their place across
    the reading direction (``axis`` of a node's position: 1, its height, when columns run left to right)."""
    columns: dict[int, list] = {}
    for nid, d in depth.items():
        columns.setdefault(d, []).append(nid)
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
            return graph.nodes[slot].position[axis] if isinstance(slot, str) else 0.0

        def rank(slot):
            is_wire = not isinstance(slot, str)
            return (wanted(slot), is_wire, order.get(slot, 0) if not is_wire else slot[1])

        if col == min(columns):  # sources: keep their current top-to-bottom order, one row apart
            slots.sort(key=lambda s: (graph.nodes[s].position[axis], order[s]))
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
    return columns, y


def _wrap(n: int, bands: int, crossing: list[int]) -> list[tuple[int, int]]:
    """Cut columns 0..n-1 into about ``bands`` runs of similar length; each cut prefers the fewest crossing wires
    (``crossing[i]``: wires from column i or before to a column after it), then the length nearest the target."""
    target = math.ceil(n / bands)
    hi = target + max(1, target // 3)
    out, start = [], 0
    while start < n:
        if n - start <= target:
            out.append((start, n))
            break
        lengths = range(1, min(hi, n - start - 1) + 1)  # the rest is longer than a row: leave some for the next
        length = min(lengths, key=lambda k: (crossing[start + k - 1], abs(k - target), -k))
        out.append((start, start + length))
        start += length
    return out


def _band_step(col_top: list[float], col_bottom: list[float], a: int, b: int) -> float:
    """From the top of the band of columns a..b-1 to the top of the next one: its height and the gap, on the grid."""
    return math.ceil((max(col_bottom[a:b]) - min(col_top[a:b]) + LAYOUT_BAND_GAP) / GRID) * GRID


def plan_bands(n: int, crossing: list[int], col_top: list[float], col_bottom: list[float], dx: float,
               area: tuple[float, float], node_w: float = NODE_W) -> list[tuple[int, int]]:
    """Which columns go on which row. Of the ways to cut the columns: the fewest rows whose cuts split no branch
    and that fit ``area`` at a readable zoom; else the same among those whose width fits (the view then scrolls
    down); else one column per row."""
    area = (max(1.0, area[0] - _SLACK), max(1.0, area[1] - _SLACK))
    seen, options = set(), []
    for bands in range(1, n + 1):
        cuts = tuple(_wrap(n, bands, crossing))
        if cuts in seen:
            continue
        seen.add(cuts)
        width = (max(b - a for a, b in cuts) - 1) * dx + node_w
        height = sum(_band_step(col_top, col_bottom, a, b) for a, b in cuts[:-1]) \
            + max(col_bottom[cuts[-1][0]:]) - min(col_top[cuts[-1][0]:])
        split = sum(crossing[b - 1] - 1 for _, b in cuts[:-1])  # wires cut beyond the one a chain must
        options.append((split, len(cuts), width, height, cuts))
    readable = [o for o in options if fit_zoom(o[2], o[3], area) >= MIN_READABLE_ZOOM]
    if not readable:
        readable = [o for o in options if (o[2] + 2 * FIT_MARGIN) * MIN_READABLE_ZOOM <= area[0]]
    if not readable:
        return [(i, i + 1) for i in range(n)]
    return list(min(readable, key=lambda o: (o[0], o[1]))[4])


def layered_positions(graph: Graph, dx: float | None = None, dy: float | None = None,
                      area: tuple[float, float] | None = None,
                      direction: str = LEFT_TO_RIGHT) -> dict[str, tuple[float, float]]:
    """Top-left position of every node, for a viewport of ``area`` pixels (width, height; DEFAULT_AREA when
    None). ``dx`` / ``dy``: the steps along x and y (by default LAYOUT_DX / LAYOUT_DY left to right, TB_DX /
    TB_DY top to bottom). The layout keeps the graph's current top-left corner."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown layout direction {direction!r}")
    if not graph.nodes:
        return {}
    down = direction == TOP_TO_BOTTOM
    dx = dx if dx is not None else (TB_DX if down else LAYOUT_DX)
    dy = dy if dy is not None else (TB_DY if down else LAYOUT_DY)
    area = area or DEFAULT_AREA
    # Top to bottom is left to right with the axes swapped: "along" is the reading direction, "across" the other.
    step_along, step_across = (dy, dx) if down else (dx, dy)
    size_along, size_across = (NODE_H, NODE_W) if down else (NODE_W, NODE_H)
    depth = depths(graph)
    columns, y = _column_heights(graph, depth, step_across, axis=0 if down else 1)
    keys = sorted(columns)
    index = {col: i for i, col in enumerate(keys)}
    n = len(keys)
    col_top = [min(y[s] for s in columns[c]) for c in keys]
    col_bottom = [max(y[s] for s in columns[c]) + size_across for c in keys]
    starts = [0] * (n + 1)  # crossing[i] = wires from a column <= i to one > i (a running sum of starts - ends)
    for e in graph.edges:
        a, b = index[depth[e.src]], index[depth[e.dst]]
        if b > a:
            starts[a] += 1
            starts[b] -= 1
    crossing, running = [], 0
    for i in range(n):
        running += starts[i]
        crossing.append(running)
    bands = plan_bands(n, crossing, col_top, col_bottom, step_along, (area[1], area[0]) if down else area,
                       node_w=size_along)

    x0 = snap(min(n.position[0] for n in graph.nodes.values()), GRID)
    y0 = snap(min(n.position[1] for n in graph.nodes.values()), GRID)
    band_of, band_y, offset = {}, {}, 0.0
    for k, (a, b) in enumerate(bands):
        band_y[k] = offset - min(col_top[a:b])
        offset += _band_step(col_top, col_bottom, a, b)
        for i in range(a, b):
            band_of[i] = k
    out = {}
    for nid in graph.nodes:
        i = index[depth[nid]]
        k = band_of[i]
        along, across = (i - bands[k][0]) * step_along, snap(y[nid] + band_y[k], GRID)
        out[nid] = (x0 + across, y0 + along) if down else (x0 + along, y0 + across)
    return out


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


def overlaps(graph: Graph, x: float, y: float) -> bool:
    """A new node with its top-left at (x, y) would cover part of an existing one."""
    return any(abs(bx - x) < NODE_W and abs(by - y) < NODE_H for bx, by in (n.position for n in graph.nodes.values()))


def free_spot(graph: Graph, x: float, y: float) -> tuple[float, float]:
    """(x, y) moved down until a new node there overlaps none."""
    for _ in range(200):
        if not overlaps(graph, x, y):
            break
        y += NODE_H + 35
    return x, y
