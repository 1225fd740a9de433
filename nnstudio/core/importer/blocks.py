"""An imported model's shape on the canvas: its repeated blocks (a ResNet's BasicBlocks, a MobileNet's inverted
residuals) framed and collapsed under their module path, and the layers laid out left to right by depth.

A block is a submodule whose class the model uses at least twice and that is not a plain container
(``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``); each layer goes into the outermost block it belongs
to, so frames never overlap. A 60-layer ResNet opens as a row of a dozen boxes.
"""

from __future__ import annotations

from collections import Counter

from torch import nn

from nnstudio.core.graph import Graph

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
COLORS = ("#5b8dd9", "#3c9d5d", "#c0803a", "#8e6bbf", "#c25b7a", "#4f9aa8")
STEP_X, STEP_Y = 220.0, 120.0


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def frame_blocks(graph: Graph, paths: dict[str, str], root: nn.Module) -> list[str]:
    """Frame the nodes of each repeated block (``paths``: node id -> the module path its call came from).
    Returns one note saying how many blocks were framed (none: no note)."""
    modules = dict(root.named_modules())
    candidates: dict[str, type] = {}
    for path in set(paths.values()):
        for prefix in _prefixes(path):
            module = modules.get(prefix)
            if module is not None and not isinstance(module, CONTAINERS) and any(True for _ in module.children()):
                candidates[prefix] = type(module)
    repeated = Counter(candidates.values())
    members: dict[str, list[str]] = {}
    for nid, path in paths.items():
        block = next((p for p in _prefixes(path) if p in candidates and repeated[candidates[p]] >= 2), None)
        if block is not None:
            members.setdefault(block, []).append(nid)
    classes = sorted({candidates[b] for b in members}, key=lambda c: c.__name__)
    for block, ids in members.items():
        color = COLORS[classes.index(candidates[block]) % len(COLORS)]
        graph.add_frame(ids, f"{block} ({candidates[block].__name__})"[:200], color, collapsed=True)
    if not members:
        return []
    names = ", ".join(sorted({c.__name__ for c in classes}))
    return [f"{len(members)} repeated blocks ({names}) are framed and collapsed: double-click a frame to open it"]


def lay_out(graph: Graph, columns: int = 6) -> None:
    """Each unit (a layer, or a framed block shown as one box) gets a slot: columns by depth among the units,
    wrapped every ``columns`` columns into rows read like text, branches stacked in their column. A block's
    layers sit from its slot onwards by their depth inside the block (View > Arrange lays an opened block out
    among the rest)."""
    unit_of = {nid: frame.id for frame in graph.frames.values() for nid in frame.members}
    order = graph.topological_order()
    depth: dict[str, int] = {}  # unit -> depth among units
    for nid in order:
        unit = unit_of.get(nid, nid)
        d = max((depth[unit_of.get(e.src, e.src)] + 1 for e in graph.inputs_of(nid)
                 if unit_of.get(e.src, e.src) != unit and unit_of.get(e.src, e.src) in depth), default=0)
        depth[unit] = max(depth.get(unit, 0), d)
    rows: Counter[int] = Counter()
    slot: dict[str, tuple[int, int]] = {}
    for nid in order:
        unit = unit_of.get(nid, nid)
        if unit not in slot:
            slot[unit] = (depth[unit], rows[depth[unit]])
            rows[depth[unit]] += 1
    band_rows = [max((rows[d] for d in range(b, b + columns)), default=1)
                 for b in range(0, max(depth.values(), default=0) + 1, columns)]
    band_top = [sum(band_rows[:i]) * STEP_Y + i * STEP_Y for i in range(len(band_rows))]
    inner: dict[str, int] = {}  # a block's layer -> its depth inside the block
    placed: Counter[tuple[str, int]] = Counter()
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
        graph.move_node(nid, (x, y))
