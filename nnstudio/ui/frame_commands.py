"""Undoable frame edits and the Edit menu's frame actions. Each command calls one graph method and holds only
model data; a gesture that needs several (grouping nodes that were in other frames) is one macro.

``install(window)`` attaches a FrameLayer to the window's scene and adds Group in Frame (Ctrl+G), Ungroup
(Ctrl+Shift+G) and Collapse/Expand Frame (Ctrl+Alt+G) to the Edit menu.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence, QUndoCommand

from nnstudio.core import block_layout
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import MAX_FRAME_LABEL, MAX_FRAMES, Frame, Graph
from nnstudio.ui.canvas.frame_item import FrameItem, FrameLayer
from nnstudio.ui.commands import MoveNodesCommand
from nnstudio.ui.safe_text import menu_text, one_line

COLORS = ("#5b8dd9", "#3c9d5d", "#d98b3a", "#9b6bd1", "#d0568e", "#3aa6b9")


class AddFrameCommand(QUndoCommand):
    """A new frame around some nodes; refused (GraphError) before the stack sees it when it cannot be made."""

    def __init__(self, graph: Graph, members: list[str], label: str = "", color: str | None = None,
                 frame_id: str | None = None) -> None:
        super().__init__()
        self.graph, self.members, self.label = graph, list(members), label
        self.frame_id = frame_id or graph.new_frame_id()
        self.color = color or COLORS[(len(graph.frames)) % len(COLORS)]
        self.setText(menu_text(f"Group {len(self.members)} layers in a frame", 80))

    def redo(self) -> None:
        self.graph.add_frame(self.members, self.label, self.color, self.frame_id)

    def undo(self) -> None:
        self.graph.remove_frame(self.frame_id)


class RemoveFrameCommand(QUndoCommand):
    """Remove a frame (its nodes stay); undo puts back the same frame."""

    def __init__(self, graph: Graph, frame_id: str) -> None:
        super().__init__()
        frame = graph.frame(frame_id)
        self.graph, self.saved = graph, Frame(frame.id, frame.label, frame.color, list(frame.members),
                                              frame.collapsed)
        self.setText(menu_text(f"Ungroup {frame.label or frame.id}", 80))

    def redo(self) -> None:
        self.graph.remove_frame(self.saved.id)

    def undo(self) -> None:
        s = self.saved
        self.graph.add_frame(s.members, s.label, s.color, s.id, s.collapsed)


class UpdateFrameCommand(QUndoCommand):
    """Rename, recolour, collapse or expand a frame, or change its members."""

    def __init__(self, graph: Graph, frame_id: str, text: str, **changes: Any) -> None:
        super().__init__()
        frame = graph.frame(frame_id)
        new = {"label": frame.label, "color": frame.color, "members": frame.members, **changes}
        problem = graph.frame_problem(new["members"], new["label"], new["color"], frame_id)
        if problem:
            raise GraphError(problem)
        self.graph, self.frame_id, self.new = graph, frame_id, changes
        self.old = {k: (list(v) if isinstance(v, list) else v) for k, v in
                    ((k, getattr(frame, k)) for k in changes)}
        self.setText(menu_text(text, 80))

    def redo(self) -> None:
        self.graph.update_frame(self.frame_id, **self.new)

    def undo(self) -> None:
        self.graph.update_frame(self.frame_id, **self.old)


# -- gestures on a scene ----------------------------------------------------------------------------------------
def selected_frames(scene, layer: FrameLayer) -> list[str]:
    """Frames the user means: selected frame items, then the frames of selected nodes."""
    graph = scene.graph
    ids = [i.frame_id for i in scene.selectedItems() if isinstance(i, FrameItem) and i.frame_id in graph.frames]
    for nid in scene.selected_node_ids():
        frame = graph.frame_of(nid)
        if frame is not None:
            ids.append(frame.id)
    return list(dict.fromkeys(ids))


def group_selection(scene, layer: FrameLayer, label: str | None = None) -> str | None:
    """A frame around the selected nodes (taken out of frames they were in), as one undo step."""
    if not scene._editable():
        return None
    graph, stack = scene.graph, scene.undo_stack
    ids = scene.selected_node_ids()
    if not ids:
        scene.status_message.emit("Select the layers to group in a frame first")
        return None
    olds = list(dict.fromkeys(f.id for nid in ids if (f := graph.frame_of(nid)) is not None))
    if len(graph.frames) >= MAX_FRAMES and not olds:
        scene.status_message.emit(f"The network already has {MAX_FRAMES:,} frames, the most NN Studio handles")
        return None
    frame_id = graph.new_frame_id()
    label = label if label is not None else f"Frame {frame_id.rpartition('_')[2]}"
    words = f"{len(ids)} layer{'s' if len(ids) != 1 else ''}"
    stack.beginMacro(f"Group {words} in a frame")
    try:
        for old in olds:  # a layer is in one frame at most: it leaves the one it was in
            rest = [m for m in graph.frames[old].members if m not in ids]
            stack.push(UpdateFrameCommand(graph, old, "Leave frame", members=rest) if rest
                       else RemoveFrameCommand(graph, old))
        stack.push(AddFrameCommand(graph, ids, label, frame_id=frame_id))
    finally:
        stack.endMacro()
    scene.status_message.emit(f"Grouped {words} in a frame")
    return frame_id


def ungroup(scene, layer: FrameLayer) -> list[str]:
    """Remove the selected frames (their nodes stay, expanded), as one undo step."""
    if not scene._editable():
        return []
    frames = selected_frames(scene, layer)
    if not frames:
        scene.status_message.emit("Select a frame, or a layer in one, to ungroup it")
        return []
    stack, graph = scene.undo_stack, scene.graph
    stack.beginMacro(f"Ungroup {len(frames)} frame{'s' if len(frames) != 1 else ''}")
    try:
        for frame_id in frames:
            stack.push(RemoveFrameCommand(graph, frame_id))
    finally:
        stack.endMacro()
    return frames


def toggle_collapsed(scene, layer: FrameLayer, frame_ids: list[str] | None = None) -> list[str]:
    """Collapse the selected frames (or expand them, when the first is collapsed), as one undo step."""
    if not scene._editable():
        return []
    frames = frame_ids if frame_ids is not None else selected_frames(scene, layer)
    if not frames:
        scene.status_message.emit("Select a frame, or a layer in one, to collapse or expand it")
        return []
    graph, stack = scene.graph, scene.undo_stack
    collapse = not graph.frames[frames[0]].collapsed
    verb = "Collapse" if collapse else "Expand"
    tidy = block_layout.laid_out(graph)  # the layers are where the block layout put them: it may move them
    stack.beginMacro(f"{verb} frame{'s' if len(frames) != 1 else ''}")
    try:
        for frame_id in frames:
            if graph.frames[frame_id].collapsed != collapse:
                stack.push(UpdateFrameCommand(graph, frame_id, f"{verb} frame", collapsed=collapse))
        if tidy or not collapse and any(block_layout.folded(graph, f) for f in frames):
            _lay_out_blocks(graph, stack)
    finally:
        stack.endMacro()
    for frame_id in frames:  # the box is what is selected now (its nodes are hidden), or the frame again
        item = layer.items.get(frame_id)
        if item is not None:
            item.setSelected(True)
    return frames


def _lay_out_blocks(graph, stack) -> None:
    """Lay the network out again with its blocks as they now are (part of the same undo step): an opened block
    whose layers lay folded (an imported one) gets room, and a closed one gives its room back, when the layers
    were where the block layout puts them (an imported network nobody has moved by hand)."""
    moves = {nid: (tuple(graph.nodes[nid].position), xy) for nid, xy in block_layout.positions(graph).items()
             if tuple(graph.nodes[nid].position) != tuple(xy)}
    if moves:
        stack.push(MoveNodesCommand(graph, moves))


def rename(scene, layer: FrameLayer, frame_id: str, text: str) -> bool:
    label = one_line(text, MAX_FRAME_LABEL + 1).strip()
    if not scene._editable() or frame_id not in scene.graph.frames:
        return False
    if label == scene.graph.frames[frame_id].label:
        return False
    try:
        command = UpdateFrameCommand(scene.graph, frame_id, "Rename frame", label=label)
    except GraphError as exc:
        scene.status_message.emit(str(exc))
        return False
    scene.undo_stack.push(command)
    return True


# -- the window ---------------------------------------------------------------------------------------------------
ACTIONS = {  # name -> (text, shortcut, status tip)
    "group_frame": ("&Group in Frame", "Ctrl+G", "Put a labelled frame around the selected layers"),
    "ungroup_frame": ("U&ngroup", "Ctrl+Shift+G", "Remove the selected frames; their layers stay"),
    "collapse_frame": ("Co&llapse/Expand Frame", "Ctrl+Alt+G", "Show the selected frames as one box, or open them"),
}


def install(window) -> FrameLayer:
    """Attach a FrameLayer to ``window.scene`` and add the frame actions to the Edit menu, once per window;
    returns the layer."""
    if getattr(window, "frame_layer", None) is not None:
        return window.frame_layer
    scene = window.scene
    layer = FrameLayer(scene, window)
    window.frame_layer = layer

    def on_edit(kind: str, frame_id: str, *args) -> None:
        if kind == "toggle":
            toggle_collapsed(scene, layer, [frame_id])
        elif kind == "rename":
            rename(scene, layer, frame_id, *args)

    layer.on_edit = on_edit
    slots = {"group_frame": lambda: group_selection(scene, layer), "ungroup_frame": lambda: ungroup(scene, layer),
             "collapse_frame": lambda: toggle_collapsed(scene, layer)}
    menu = window.acts.menus["edit"]
    menu.addSeparator()
    for name, (text, key, tip) in ACTIONS.items():
        action = QAction(text, window)
        action.setObjectName(f"action_{name}")
        action.setShortcut(QKeySequence(key))
        action.setStatusTip(tip)
        action.setToolTip(f"{text.replace('&', '')} ({key})")
        action.triggered.connect(lambda _checked=False, slot=slots[name]: slot())
        window.addAction(action)
        menu.addAction(action)
        setattr(window.acts, name, action)
    return layer
