"""The quick-add search: a small popup of layers at a point of the canvas (Tab, a double-click on empty canvas,
a wire let go in empty space, the context menus).

Typing filters the list by title and type id; the arrow keys move; Enter or a click places the layer there,
wired after the wire's node (or before it, for a wire dragged back from an input, or into a wire); Escape
closes it. The list comes from ``nnstudio.core.suggest``: what fits first, the usual choices on top. Each
placement is one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QCursor, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from nnstudio.core import suggest
from nnstudio.core.graph import Edge
from nnstudio.core.layers.registry import get_spec
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.layout import free_spot, overlaps

ROLE = Qt.ItemDataRole.UserRole
MAX_ROWS = 14
MOVE_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)


class QuickAdd(QFrame):
    """The popup. ``after``: wire the new layer after this node; ``before``: wire it into this node's input;
    ``edge``: put it into this wire. ``placed`` holds the ids of the nodes it added (empty until then)."""

    def __init__(self, view, scene_pos: QPointF, after: str | None = None, before: str | None = None,
                 edge: Edge | None = None) -> None:
        super().__init__(view, Qt.WindowType.Popup)
        self.setObjectName("quickAdd")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.view, self.scene = view, view.scene()
        self.scene_pos = QPointF(scene_pos)
        self.after, self.before, self.edge = after, before, edge
        self.placed: list[str] = []
        self.entries = self._entries()
        self.search = QLineEdit(self)
        self.search.setObjectName("quickAddSearch")
        self.search.setPlaceholderText(self._placeholder())
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("quickAddList")
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay in the search field
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self.refilter)
        self.search.installEventFilter(self)
        self.list.itemClicked.connect(self._on_clicked)
        self.setMinimumWidth(280)
        self.refilter("")

    # -- the list -------------------------------------------------------------------------------------------
    def _entries(self) -> list[suggest.Suggestion]:
        graph, info = self.scene.graph, self.scene.info
        if self.edge is not None:
            return suggest.between(graph, info, self.edge.src, self.edge.dst)
        if self.after is not None:
            return suggest.after(graph, info, self.after)
        if self.before is not None:
            return suggest.before(graph, info, self.before)
        return suggest.catalogue()

    def _placeholder(self) -> str:
        graph = self.scene.graph
        if self.edge is not None:
            return "Insert into the wire: search layers"
        for nid, word in ((self.after, "after"), (self.before, "before")):
            if nid is not None and nid in graph.nodes:
                return f"Add {word} {graph.nodes[nid].title}: search layers"
        return "Add a layer: search"

    def refilter(self, text: str) -> None:
        """Show the entries whose title or type id holds ``text``; those that do not fit appear only while
        searching, greyed out, with the reason as their tooltip."""
        self.list.clear()
        for entry in self.entries:
            if not entry.matches(text) or (not entry.fits and not text.strip()):
                continue
            item = QListWidgetItem(entry.title if entry.fits else f"{entry.title}  (does not fit)")
            item.setData(ROLE, entry)
            item.setToolTip(entry.note or ", ".join(entry.type_ids))
            if not entry.fits:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
        self._move_to(0, 1)
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows (at most MAX_ROWS, then it scrolls): a short list is a short popup."""
        row = self.list.sizeHintForRow(0) if self.list.count() else self.list.fontMetrics().height() + 4
        rows = max(1, min(self.list.count(), MAX_ROWS))
        self.list.setFixedHeight(rows * row + 2 * self.list.frameWidth())
        self.adjustSize()

    def visible_titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def current_entry(self) -> suggest.Suggestion | None:
        item = self.list.currentItem()
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return None
        return item.data(ROLE)

    def _move_to(self, row: int, step: int) -> None:
        """Make the nearest enabled row from ``row`` (searching in direction ``step``) the current one."""
        count = self.list.count()
        row = max(0, min(row, count - 1))
        while 0 <= row < count:
            if self.list.item(row).flags() & Qt.ItemFlag.ItemIsEnabled:
                self.list.setCurrentRow(row)
                return
            row += step
        if step > 0 and count and self.list.currentRow() < 0:
            self.list.setCurrentRow(-1)

    # -- keys and clicks ------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in MOVE_KEYS:
                jump = 8 if key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown) else 1
                step = -1 if key in (Qt.Key.Key_Up, Qt.Key.Key_PageUp) else 1
                self._move_to(self.list.currentRow() + step * jump, step)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose(self.current_entry())
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        if item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.choose(item.data(ROLE))

    # -- placing --------------------------------------------------------------------------------------------
    def choose(self, entry: suggest.Suggestion | None) -> list[str]:
        """Place ``entry`` (one undo step) and close; None (nothing fits the search): say so, stay open."""
        if entry is None:
            self.scene.status_message.emit("No layer matches the search: change the text or press Escape")
            return []
        self.close()
        if not self.scene._editable():
            return []
        self.placed = self._place(entry)
        return self.placed

    def _place(self, entry: suggest.Suggestion) -> list[str]:
        scene, graph = self.scene, self.scene.graph
        if self.edge is not None:
            nid = scene.insert_on_edge(self.edge, type_id=entry.type_id)
            return [nid] if nid else []
        x, y = self.scene_pos.x(), self.scene_pos.y()
        after = self.after if self.after in graph.nodes else None
        before = self.before if self.before in graph.nodes else None
        if after is not None:
            top_left = QPointF(x, y - style.PORT_Y)  # its input port where the wire was let go
        elif before is not None:
            top_left = QPointF(x - style.NODE_W, y - style.PORT_Y)
        else:
            top_left = QPointF(x - style.NODE_W / 2, y - style.NODE_H / 2)
        if overlaps(graph, top_left.x(), top_left.y()):
            # Tab pressed again and again at one place: each new layer goes right of the one it follows
            if after is not None:
                ax, ay = graph.nodes[after].position
                top_left = QPointF(ax + style.LAYOUT_DX, ay)
            top_left = QPointF(*free_spot(graph, top_left.x(), top_left.y()))
        stack = scene.undo_stack
        names = f" {suggest.ARROW} ".join(get_spec(t).title for t in entry.type_ids)
        ids: list[str] = []
        stack.beginMacro(f"Add {names}")
        try:
            for i, type_id in enumerate(entry.type_ids):
                pos = QPointF(top_left.x() + i * style.LAYOUT_DX, top_left.y())
                nid = scene.add_node(type_id, pos, after=ids[-1] if ids else after)
                if nid is None:
                    break
                ids.append(nid)
            if ids and before is not None:
                problem = graph.connect_problem(ids[-1], before)
                if problem is None:
                    stack.push(cmd.ConnectCommand(graph, ids[-1], before))
                else:
                    scene.status_message.emit(f"Added {names} but did not wire it: {problem}")
        finally:
            stack.endMacro()
        if ids:
            scene.select_nodes([ids[-1]])
            item = scene.node_item(ids[-1])
            if item is not None:  # the view follows a chain built past its edge
                self.view.ensureVisible(item, 40, 40)
        return ids

    def popup_at(self, scene_pos: QPointF) -> None:
        """Show the popup with its top-left at ``scene_pos`` (kept on the screen) and the search focused."""
        point = self.view.viewport().mapToGlobal(self.view.mapFromScene(scene_pos))
        screen = QGuiApplication.screenAt(point) or QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            point = QPoint(max(area.left(), min(point.x(), area.right() - self.width())),
                           max(area.top(), min(point.y(), area.bottom() - self.height())))
        self.move(point)
        self.show()
        self.search.setFocus(Qt.FocusReason.PopupFocusReason)


def open_quick_add(view, scene_pos: QPointF, after: str | None = None, before: str | None = None,
                   edge: Edge | None = None) -> QuickAdd | None:
    """Open the quick-add search at ``scene_pos``. With no wire given and one node selected, the new layer is
    wired after that node. None (and a status message) while the canvas is locked."""
    scene = view.scene()
    if not scene._editable():
        return None
    if after is None and before is None and edge is None:
        ids = scene.selected_node_ids()
        if len(ids) == 1 and scene.graph.nodes[ids[0]].spec.has_output_port:
            after = ids[0]
    popup = QuickAdd(view, scene_pos, after=after, before=before, edge=edge)
    popup.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    popup.popup_at(scene_pos)
    return popup


class QuickAddHooks(QObject):
    """Opens the quick-add search from the canvas: Tab on the view (at the cursor), a wire let go in empty
    space, a double-click on empty canvas. ``popup`` is the last one opened."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.popup: QuickAdd | None = None
        view.installEventFilter(self)
        scene = view.scene()
        scene.wire_released_in_space.connect(self.on_wire_released)
        scene.quick_add_requested.connect(self.on_requested)

    def open(self, scene_pos: QPointF, **wires) -> QuickAdd | None:
        self.popup = open_quick_add(self.view, scene_pos, **wires)
        return self.popup

    def on_wire_released(self, node_id: str, end: str, scene_pos: QPointF) -> QuickAdd | None:
        if end == "out":
            return self.open(scene_pos, after=node_id)
        return self.open(scene_pos, before=node_id)

    def on_requested(self, scene_pos: QPointF) -> QuickAdd | None:
        return self.open(scene_pos)

    def cursor_scene_pos(self) -> QPointF:
        """Where the mouse is over the canvas, or the middle of the view when it is elsewhere."""
        vp = self.view.viewport()
        point = vp.mapFromGlobal(QCursor.pos())
        if not vp.rect().contains(point):
            point = vp.rect().center()
        return self.view.mapToScene(point)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.view and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.open(self.cursor_scene_pos())
            return True  # Tab would otherwise move the focus out of the canvas
        return False


def install(window) -> QuickAddHooks:
    """Hook the quick-add search to ``window``'s canvas, once; the hooks live as long as the view."""
    if getattr(window, "quick_add_hooks", None) is not None:
        return window.quick_add_hooks
    hooks = QuickAddHooks(window.view)
    window.quick_add_hooks = hooks
    return hooks
