"""The block layout: an imported network's collapsed blocks are one slot each with their layers folded under the
box; an opened block's layers get slots of their own on one row, and what follows makes room."""

from __future__ import annotations

import sys
from pathlib import Path

from nnstudio.core import block_layout
from nnstudio.core.importer import import_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchvision_models import resnet18  # noqa: E402


def _imported():
    graph = import_module(resnet18(num_classes=10), (3, 32, 32)).project.graph
    return graph, {f.label.split(" ")[0]: f.id for f in graph.frames.values()}


def _boxes(graph, positions):
    """Each shown card's spot: a layer outside collapsed frames, or a collapsed frame's first layer."""
    hidden = {nid for f in graph.frames.values() if f.collapsed for nid in f.members}
    shown = [positions[nid] for nid in graph.nodes if nid not in hidden]
    return shown + [positions[f.members[0]] for f in graph.frames.values() if f.collapsed]


def test_an_import_is_laid_out_with_its_blocks_folded():
    graph, frames = _imported()
    assert block_layout.laid_out(graph)
    assert all(block_layout.folded(graph, fid) for fid in frames.values())
    spots = _boxes(graph, {nid: tuple(n.position) for nid, n in graph.nodes.items()})
    assert len(set(spots)) == len(spots)  # no two boxes on one spot


def test_an_opened_block_gets_a_row_of_its_own_and_closing_gives_the_room_back():
    graph, frames = _imported()
    before = {nid: tuple(n.position) for nid, n in graph.nodes.items()}
    block = frames["layer2.0"]  # the block with a downsample branch
    graph.update_frame(block, collapsed=False)
    after = block_layout.positions(graph)
    members = graph.frames[block].members
    spots = [after[nid] for nid in members]
    assert len(set(spots)) == len(members)  # unfolded: each layer has its own spot
    main_row = min(y for _, y in spots)
    row_of = [y for _, y in spots]
    assert row_of.count(main_row) >= 7 and len(set(row_of)) == 2  # the chain on one row, the shortcut under it
    xs = sorted(x for x, y in spots if y == main_row)
    assert all(b - a == block_layout.STEP_X for a, b in zip(xs, xs[1:]))  # side by side, not wrapped
    assert len(set(_boxes(graph, after))) == len(_boxes(graph, after))  # nothing else lies on them
    graph.update_frame(block, collapsed=True)
    assert block_layout.positions(graph) == before


def test_moved_layers_are_not_the_block_layout():
    graph, _ = _imported()
    nid = next(iter(graph.nodes))
    x, y = graph.nodes[nid].position
    graph.move_node(nid, (x + 5, y))
    assert not block_layout.laid_out(graph)
