"""An imported model's shape on the canvas: its repeated blocks (a ResNet's BasicBlocks, a MobileNet's inverted
residuals) framed and collapsed under their module path (laid out by ``nnstudio.core.block_layout``).

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
