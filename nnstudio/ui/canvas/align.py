"""Align and distribute the selected layers, auto layout in a chosen direction, and the View > Arrange menu.

Every gesture here is one MoveNodesCommand (one undo step); the coordinates it changes land on the grid.
``install(window)`` adds the Arrange submenu, the minimap and its toggle, and the keyboard building keys.
"""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.layout import LEFT_TO_RIGHT, TOP_TO_BOTTOM, layered_positions

ALIGN_MODES = ("left", "centre", "right", "top", "middle", "bottom")
DISTRIBUTE_AXES = ("horizontal", "vertical")
_DIRECTION_WORDS = {LEFT_TO_RIGHT: "left to right", TOP_TO_BOTTOM: "top to bottom"}


def _push_moves(scene, moves: dict, text: str) -> bool:
    """Push one MoveNodesCommand of ``moves`` (id -> new position), leaving out nodes that stay put."""
    graph = scene.graph
    moves = {nid: (tuple(graph.nodes[nid].position), pos) for nid, pos in moves.items()
             if tuple(graph.nodes[nid].position) != tuple(pos)}
    if not moves:
        scene.status_message.emit(f"{text}: the layers are already in place")
        return False
    command = cmd.MoveNodesCommand(graph, moves)
    command.setText(text)
    scene.undo_stack.push(command)
    return True


def _selection(scene, least: int, verb: str) -> list[str] | None:
    """The selected node ids when the scene can be edited and at least ``least`` are selected; else None, with
    a message saying why."""
    if scene.graph is None:
        return None
    ids = scene.selected_node_ids()
    if len(ids) < least:
        scene.status_message.emit(f"Select {least} or more layers to {verb} them")
        return None
    if not scene._editable():  # says that the network is locked
        return None
    return ids


def align(scene, mode: str) -> bool:
    """Line the selected layers up on their left, centre or right edge (x) or their top, middle or bottom edge
    (y), as one undo step. Returns whether anything moved."""
    if mode not in ALIGN_MODES:
        raise ValueError(f"unknown alignment {mode!r}")
    ids = _selection(scene, 2, "align")
    if ids is None:
        return False
    pos = {nid: tuple(style.canvas_xy(scene.graph.nodes[nid].position)) for nid in ids}
    horizontal = mode in ("left", "centre", "right")
    axis = 0 if horizontal else 1  # every node has the same size: edges and centres line up with the corner
    lows = [p[axis] for p in pos.values()]
    if mode in ("left", "top"):
        target = min(lows)
    elif mode in ("right", "bottom"):
        target = max(lows)
    else:
        target = (min(lows) + max(lows)) / 2  # the middle of the span of their centres, less half a node
    target = style.snap(target)
    moves = {nid: ((target, p[1]) if horizontal else (p[0], target)) for nid, p in pos.items()}
    return _push_moves(scene, moves, f"Align {mode}")


def distribute(scene, axis: str) -> bool:
    """Space the selected layers evenly between the first and the last along x (``horizontal``) or y
    (``vertical``): equal gaps, each place rounded to the grid. One undo step."""
    if axis not in DISTRIBUTE_AXES:
        raise ValueError(f"unknown axis {axis!r}")
    ids = _selection(scene, 3, "distribute")
    if ids is None:
        return False
    k = 0 if axis == "horizontal" else 1
    pos = {nid: tuple(style.canvas_xy(scene.graph.nodes[nid].position)) for nid in ids}
    order = sorted(ids, key=lambda nid: (pos[nid][k], pos[nid][1 - k], nid))
    first, last = pos[order[0]][k], pos[order[-1]][k]
    step = (last - first) / (len(order) - 1)
    moves = {}
    for i, nid in enumerate(order):
        place = list(pos[nid])
        place[k] = style.snap(first + i * step)
        moves[nid] = (place[0], place[1])
    return _push_moves(scene, moves, f"Distribute {axis}ly")


def auto_layout(scene, direction: str = LEFT_TO_RIGHT) -> bool:
    """Arrange the whole network by depth, left to right or top to bottom, wrapped so that it reads in the
    view (layout.py); one undo step. Returns whether anything moved."""
    if direction not in _DIRECTION_WORDS:
        raise ValueError(f"unknown layout direction {direction!r}")
    if scene.graph is None or not scene.graph.nodes:
        scene.status_message.emit("There are no layers to arrange")
        return False
    if not scene._editable():
        return False
    positions = layered_positions(scene.graph, area=scene.view_area(), direction=direction)
    return _push_moves(scene, positions, f"Auto layout {_DIRECTION_WORDS[direction]}")


# -- the window's actions -------------------------------------------------------------------------------------
# name -> (text, shortcut, status tip); the shortcuts act while the canvas has the focus
ARRANGE = {
    "align_left": ("Align &Left", "Ctrl+Shift+Left", "Line the selected layers up on their left edges"),
    "align_centre": ("Align &Centre", "", "Line the selected layers up on their centres, one above another"),
    "align_right": ("Align &Right", "Ctrl+Shift+Right", "Line the selected layers up on their right edges"),
    "align_top": ("Align &Top", "Ctrl+Shift+Up", "Line the selected layers up on their top edges"),
    "align_middle": ("Align &Middle", "", "Line the selected layers up on their middles, side by side"),
    "align_bottom": ("Align &Bottom", "Ctrl+Shift+Down", "Line the selected layers up on their bottom edges"),
    "distribute_horizontal": ("Distribute &Horizontally", "", "Equal gaps between the selected layers, across"),
    "distribute_vertical": ("Distribute &Vertically", "", "Equal gaps between the selected layers, down"),
    "layout_left_to_right": ("&Auto Layout Left to Right", "", "Arrange the layers in columns, left to right"),
    "layout_top_to_bottom": ("Auto Layout Top to Bott&om", "Ctrl+Shift+L",
                             "Arrange the layers in rows, from top to bottom"),
}


def _slot(window, name: str):
    scene, view = window.scene, window.view
    if name.startswith("align_"):
        return lambda: align(scene, name[len("align_"):])
    if name.startswith("distribute_"):
        return lambda: distribute(scene, name[len("distribute_"):])
    direction = LEFT_TO_RIGHT if name == "layout_left_to_right" else TOP_TO_BOTTOM
    return lambda: auto_layout(scene, direction) and view.fit()


def install(window) -> SimpleNamespace:
    """Add View > Arrange (align, distribute, auto layout both ways), View > Show Minimap, the minimap itself
    and the keyboard building keys (keyboard.py) to ``window``; returns the new actions by name (also set on
    ``window.acts``)."""
    from nnstudio.ui.canvas.keyboard import install as install_keys
    from nnstudio.ui.canvas.minimap import Minimap

    if getattr(window, "arrange_actions", None) is not None:  # once per window
        return window.arrange_actions
    acts = window.acts
    out = SimpleNamespace()
    window.arrange_actions = out
    menu = QMenu("Arra&nge", window)
    menu.setObjectName("menu_arrange")
    for name, (text, shortcut, tip) in ARRANGE.items():
        action = QAction(text, window)
        action.setObjectName(f"action_{name}")
        action.setStatusTip(tip)
        native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText) if shortcut else ""
        action.setToolTip(text.replace("&", "") + (f" ({native})" if native else ""))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if name.startswith(("align_", "distribute_")):  # arrow keys type in text fields: only on the canvas
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            window.view.addAction(action)
        else:
            window.addAction(action)
        action.triggered.connect(lambda _checked=False, slot=_slot(window, name): slot())
        menu.addAction(action)
        if name in ("align_bottom", "distribute_vertical"):
            menu.addSeparator()
        setattr(out, name, action)

    view_menu = acts.menus["view"]
    after = _action_after(view_menu, acts.auto_layout)
    out.arrange_menu = menu
    view_menu.insertMenu(after, menu)

    out.minimap_widget = Minimap(window.view)
    out.minimap = QAction("Show &Minimap", window)
    out.minimap.setObjectName("action_minimap")
    out.minimap.setCheckable(True)
    out.minimap.setChecked(out.minimap_widget.enabled)
    out.minimap.setShortcut(QKeySequence("Ctrl+Shift+M"))
    out.minimap.setStatusTip("A small map of the whole network in a corner of the canvas, when it does not fit")
    out.minimap.toggled.connect(out.minimap_widget.set_enabled)
    window.addAction(out.minimap)
    view_menu.insertAction(_action_after(view_menu, acts.fit), out.minimap)

    for name, action in install_keys(window).items():
        setattr(out, name, action)
    for name, value in vars(out).items():
        setattr(acts, name, value)
    return out


def _action_after(menu: QMenu, action: QAction) -> QAction | None:
    """The item that follows ``action`` in ``menu`` (None: the end), so that something can go right after it."""
    items = menu.actions()
    if action in items:
        i = items.index(action)
        return items[i + 1] if i + 1 < len(items) else None
    return None
