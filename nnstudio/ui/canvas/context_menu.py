"""Right-click menus on the canvas: on a layer, on a wire and on empty canvas.

``build_menu(window, scene_pos)`` makes the menu for what lies at ``scene_pos`` (tests read and trigger its
actions without showing it); an event filter on the view's viewport shows it on a context-menu event. The
actions reuse the window's slots (duplicate, delete, auto layout, fit, select all), the inspector's name field
for Rename and the quick-add search for the "Insert" and "Add" entries. Every edit is one undo step and goes
through the scene, which refuses it (with a message) while the network trains.
"""

from __future__ import annotations


from PySide6.QtCore import QEvent, QObject, QPointF
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

from nnstudio.core.graph import Edge
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas import quick_add, style
from nnstudio.ui.canvas.edge_item import EdgeItem
from nnstudio.ui.canvas.layout import free_spot


def _keys(window, name: str) -> str:
    """"\\tCtrl+D": the window action's first shortcut, shown in the menu's shortcut column (the menu's own
    actions hold no shortcut, so nothing is bound twice)."""
    action = getattr(getattr(window, "acts", None), name, None)
    shortcuts = action.shortcuts() if action is not None else []
    return "\t" + shortcuts[0].toString(QKeySequence.SequenceFormat.NativeText) if shortcuts else ""


def edge_at(scene, scene_pos: QPointF) -> Edge | None:
    for item in scene.items(scene_pos):
        if isinstance(item, EdgeItem) and item.isVisible():
            return item.edge
    return None


def build_menu(window, scene_pos: QPointF) -> QMenu:
    """The menu for what lies at ``scene_pos``: a layer's, a wire's or the empty canvas's."""
    scene = window.scene
    menu = QMenu(window.view)
    menu.setObjectName("canvasContextMenu")
    node = scene.node_at(scene_pos)
    if node is not None:
        _node_menu(window, menu, node.node_id)
        return menu
    edge = edge_at(scene, scene_pos)
    if edge is not None:
        _edge_menu(window, menu, edge, scene_pos)
        return menu
    _canvas_menu(window, menu, scene_pos)
    return menu


def _add(menu: QMenu, name: str, text: str, slot) -> None:
    action = menu.addAction(text)
    action.setObjectName(f"context_{name}")
    action.triggered.connect(lambda _checked=False: slot())


# -- on a layer ---------------------------------------------------------------------------------------------
def _node_menu(window, menu: QMenu, node_id: str) -> None:
    scene = window.scene
    if node_id not in scene.selected_node_ids():
        scene.select_nodes([node_id])  # the menu acts on what was clicked, as a left click would select it
    _add(menu, "rename", "&Rename…", lambda: rename(window, node_id))
    _add(menu, "duplicate", "D&uplicate" + _keys(window, "duplicate"), window.duplicate)
    _add(menu, "delete", "&Delete" + _keys(window, "delete"), window.delete)
    _add(menu, "disconnect", "Dis&connect All", lambda: disconnect_all(window, node_id))
    menu.addSeparator()
    _add(menu, "insert_after", "&Insert Layer After…", lambda: insert_after(window, node_id))
    menu.addSeparator()
    _add(menu, "select_upstream", "Select U&pstream", lambda: scene.select_nodes(scene.graph.upstream(node_id)))
    _add(menu, "select_downstream", "Select Do&wnstream",
         lambda: scene.select_nodes(scene.graph.downstream(node_id)))
    _add(menu, "show_summary", "Show in &Summary", lambda: show_in_summary(window, node_id))
    spec = scene.graph.nodes[node_id].spec
    for action in menu.actions():
        if action.objectName() == "context_insert_after":
            action.setEnabled(spec.has_output_port)


def rename(window, node_id: str) -> None:
    """Select the layer alone and put the cursor in the inspector's name field (Enter there renames it, one
    undo step, refused with a message when another layer has the name)."""
    scene = window.scene
    if not scene._editable() or node_id not in scene.graph.nodes:
        return
    scene.select_nodes([node_id])
    dock = window.docks.get("dock_inspector")
    if dock is not None:
        dock.show()
        dock.raise_()
    edit = window.inspector.label_edit
    edit.setFocus()
    edit.selectAll()


def disconnect_all(window, node_id: str) -> None:
    """Remove every wire into and out of the layer, as one undo step."""
    scene = window.scene
    graph = scene.graph
    wires = [e for e in graph.edges if node_id in (e.src, e.dst)]
    if not wires:
        scene.status_message.emit(f"{graph.nodes[node_id].title} has no wires to disconnect")
        return
    if scene._editable():
        cmd.delete_nodes(scene.undo_stack, graph, [], wires)


def insert_after(window, node_id: str):
    """The quick-add search, wired after the layer; the new layer goes right of it where there is room."""
    x, y = window.scene.graph.nodes[node_id].position
    sx, sy = free_spot(window.scene.graph, x + style.LAYOUT_DX, y)
    # quick-add puts a wired layer's input port at the point given: pass the port's height
    return quick_add.open_quick_add(window.view, QPointF(sx, sy + style.PORT_Y), after=node_id)


def show_in_summary(window, node_id: str) -> None:
    window.scene.select_nodes([node_id])
    dock = window.docks.get("dock_summary")
    if dock is not None:
        dock.show()
        dock.raise_()
    window.summary.select_node(node_id)


# -- on a wire ----------------------------------------------------------------------------------------------
def _edge_menu(window, menu: QMenu, edge: Edge, scene_pos: QPointF) -> None:
    scene = window.scene
    _add(menu, "insert_on_wire", "&Insert Layer…",
         lambda: quick_add.open_quick_add(window.view, scene_pos, edge=edge))
    _add(menu, "delete_wire", "&Delete Wire", lambda: delete_wire(scene, edge))


def delete_wire(scene, edge: Edge) -> None:
    if scene._editable() and scene.graph.has_edge(edge):
        cmd.delete_nodes(scene.undo_stack, scene.graph, [], [edge])


# -- on empty canvas ----------------------------------------------------------------------------------------
def _canvas_menu(window, menu: QMenu, scene_pos: QPointF) -> None:
    _add(menu, "add_layer", "&Add Layer…", lambda: quick_add.open_quick_add(window.view, scene_pos))
    _add(menu, "paste_here", "&Paste Here", lambda: paste_here(window, scene_pos))
    menu.addSeparator()
    _add(menu, "auto_layout", "Auto-&layout" + _keys(window, "auto_layout"), window.auto_layout)
    _add(menu, "fit", "&Fit Network in View" + _keys(window, "fit"), window.view.fit)
    _add(menu, "select_all", "&Select All" + _keys(window, "select_all"), window.select_all)
    has_layers = bool(window.scene.graph is not None and window.scene.graph.nodes)
    for action in menu.actions():
        if action.objectName() in ("context_fit", "context_select_all", "context_auto_layout"):
            action.setEnabled(has_layers)


def paste_here(window, scene_pos: QPointF) -> list[str]:
    """Paste the copied layers with their top-left at ``scene_pos`` (one undo step)."""
    return window.paste_at(scene_pos)


# -- showing it ---------------------------------------------------------------------------------------------
class ContextMenus(QObject):
    """Shows :func:`build_menu` on a context-menu event over the canvas (right click, the Menu key)."""

    def __init__(self, window) -> None:
        super().__init__(window.view)
        self.window = window
        window.view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ContextMenu and watched is self.window.view.viewport():
            if self.window.scene.graph is None:
                return False
            menu = build_menu(self.window, self.window.view.mapToScene(event.pos()))
            menu.exec(event.globalPos())
            menu.deleteLater()
            return True
        return False


def install(window) -> ContextMenus:
    """The canvas's context menus and the quick-add search (Tab, wires let go in space, double-clicks); once per
    window (the window installs them; a second call returns the first's)."""
    if getattr(window, "canvas_menus", None) is not None:
        return window.canvas_menus
    quick_add.install(window)
    menus = ContextMenus(window)
    window.canvas_menus = menus
    return menus
