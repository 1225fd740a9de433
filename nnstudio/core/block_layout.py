"""Where a network's layers go when collapsed frames count as one box each: the importer's layout, and the room an
opened block gets when its layers lie folded under its box (Edit > Collapse/Expand Frame). No Qt, no torch."""

from __future__ import annotations

from collections import Counter

from nnstudio.core.graph import Graph

STEP_X, STEP_Y = 220.0, 120.0


def lay_out(graph: Graph, columns: int = 6) -> None:
    """Place every layer where ``positions`` says."""
    for nid, xy in positions(graph, columns).items():
        graph.move_node(nid, xy)


def positions(graph: Graph, columns: int = 6) -> dict[str, tuple[float, float]]:
    """Each unit (a layer, or a collapsed frame shown as one box) gets a slot: columns by depth among the units,
    wrapped every ``columns`` columns into rows read like text, branches stacked in their column. A collapsed
    block's layers sit folded from its slot onwards by their depth inside the block, in order; an open block's
    layers have slots of their own, kept on one row (it starts a new row where it would not fit, and the rows
    are as wide as the widest open block)."""
    unit_of = {nid: frame.id for frame in graph.frames.values() if frame.collapsed for nid in frame.members}
    order = graph.topological_order()
    depth: dict[str, int] = {}  # unit -> depth among units
    for nid in order:
        unit = unit_of.get(nid, nid)
        d = max((depth[unit_of.get(e.src, e.src)] + 1 for e in graph.inputs_of(nid)
                 if unit_of.get(e.src, e.src) != unit and unit_of.get(e.src, e.src) in depth), default=0)
        depth[unit] = max(depth.get(unit, 0), d)
    spans: dict[int, int] = {}  # first column of an open block -> its width in columns
    for frame in graph.frames.values():
        cols = [depth[nid] for nid in frame.members if nid in depth and not frame.collapsed]
        if cols:
            spans[min(cols)] = max(spans.get(min(cols), 0), max(cols) - min(cols) + 1)
    columns = max([columns, *spans.values()])
    column = _wrapped(max(depth.values(), default=0), spans, columns)
    rows: Counter[int] = Counter()
    slot: dict[str, tuple[int, int]] = {}
    for nid in order:
        unit = unit_of.get(nid, nid)
        if unit not in slot:
            col = column[depth[unit]]
            slot[unit] = (col, rows[col])
            rows[col] += 1
    band_rows = [max((rows[d] for d in range(b, b + columns)), default=1)
                 for b in range(0, max(column.values(), default=0) + 1, columns)]
    band_top = [sum(band_rows[:i]) * STEP_Y + i * STEP_Y for i in range(len(band_rows))]
    inner: dict[str, int] = {}  # a block's layer -> its depth inside the block
    placed: Counter[tuple[str, int]] = Counter()
    out: dict[str, tuple[float, float]] = {}
    for nid in order:
        unit = unit_of.get(nid, nid)
        col, row = slot[unit]
        x, y = (col % columns) * STEP_X, band_top[col // columns] + row * STEP_Y
        if unit != nid:
            k = max((inner[e.src] + 1 for e in graph.inputs_of(nid) if e.src in inner and unit_of.get(e.src) == unit),
                    default=0)
            inner[nid] = k
            x, y = x + k * 24.0, y + placed[(unit, k)] * 18.0  # folded up under the box, in order
            placed[(unit, k)] += 1
        out[nid] = (x, y)
    return out


def _wrapped(last: int, spans: dict[int, int], columns: int) -> dict[int, int]:
    """Depth -> column on the wrapped rows: an open block that would cross the end of a row starts the next."""
    column: dict[int, int] = {}
    shift = 0
    for d in range(last + 1):
        width = spans.get(d, 1)
        at = (d + shift) % columns
        if at + width > columns:
            shift += columns - at
        column[d] = d + shift
    return column


def folded(graph: Graph, frame_id: str) -> bool:
    """Whether a frame's layers lie folded on one another (as an imported block's do until it is opened)."""
    spots = sorted(tuple(graph.nodes[nid].position) for nid in graph.frames[frame_id].members)
    return any(abs(a[0] - b[0]) < STEP_X / 2 and abs(a[1] - b[1]) < STEP_Y / 2 for a, b in zip(spots, spots[1:]))


def laid_out(graph: Graph) -> bool:
    """Whether every layer is where ``positions`` puts it (nobody has moved one since)."""
    want = positions(graph)
    return bool(want) and all(abs(graph.nodes[nid].position[0] - x) < 0.5 and abs(graph.nodes[nid].position[1] - y)
                              < 0.5 for nid, (x, y) in want.items())
