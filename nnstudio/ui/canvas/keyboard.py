"""Building with the keyboard alone: an event filter on the GraphView and two Edit menu actions.

* Arrow keys, with a layer selected, select the neighbouring layer: Right the next one downstream, Left the one
  upstream (following the wires; without one, the nearest layer that way), Up and Down the nearest above and
  below. Shift + arrow adds it to the selection. With nothing selected the arrows pan the view, as before.
* C (Edit > Connect to Next Layer) wires the selected layers in the order they were selected (with two, the
  first one's output to the other's input, like Blender's "make links"); with one selected, to the nearest
  layer right of it whose input is still free. One undo step.
* Enter or F2 (Edit > Edit First Parameter) puts the focus in the Inspector's first field; Enter (or Escape)
  there gives it back to the canvas.
Tab is left alone (quick-add).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget
from shiboken6 import isValid

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge
from nnstudio.ui import commands as cmd
from nnstudio.ui.canvas import style

ARROWS = {Qt.Key.Key_Right: "right", Qt.Key.Key_Left: "left", Qt.Key.Key_Up: "up", Qt.Key.Key_Down: "down"}
CONNECT_KEY = "C"  # F fits the view (View > Fit Network in View), so "make links" gets C for Connect
EDIT_KEYS = ("F2",)  # Enter is handled by the filter: the canvas only, never a field that takes it


def _centre(graph, nid: str) -> QPointF:
    x, y = style.canvas_xy(graph.nodes[nid].position)
    return QPointF(x + style.NODE_W / 2, y + style.NODE_H / 2)


def _name(graph, nid: str) -> str:
    node = graph.nodes[nid]
    return node.label or node.id


def _nearest(graph, nid: str, direction: str, among=None, shown=None) -> str | None:
    """The node whose centre lies in ``direction`` of ``nid``'s, nearest by distance along that way plus twice
    the distance across it (a layer straight ahead beats a closer one off to the side); only nodes ``shown``
    accepts, when given."""
    c = _centre(graph, nid)
    best, best_score = None, None
    for other in (among if among is not None else graph.nodes):
        if other == nid or (shown is not None and not shown(other)):
            continue
        d = _centre(graph, other) - c
        along, across = {"right": (d.x(), d.y()), "left": (-d.x(), d.y()),
                         "down": (d.y(), d.x()), "up": (-d.y(), d.x())}[direction]
        if along <= 0 and among is None:
            continue
        score = abs(along) + 2 * abs(across)
        if best_score is None or (score, other) < (best_score, best):
            best, best_score = other, score
    return best


def _wired(graph, nid: str, direction: str, shown) -> list[str]:
    """The layers wired after (right) or before (left) ``nid``, looking through those ``shown`` refuses (the
    layers of a collapsed frame) to the first shown ones beyond them."""
    step = ((lambda n: [e.dst for e in graph.outputs_of(n)]) if direction == "right"
            else (lambda n: [e.src for e in graph.inputs_of(n)]))
    found, seen, todo = [], {nid}, step(nid)
    while todo:
        other = todo.pop()
        if other in seen:
            continue
        seen.add(other)
        if shown is None or shown(other):
            found.append(other)
        else:
            todo.extend(step(other))
    return found


def neighbour(graph, nid: str, direction: str, shown=None) -> str | None:
    """The layer the arrow key ``direction`` goes to from ``nid``: along the wires for right (downstream) and
    left (upstream) when there are any, else the nearest layer that way. ``shown`` (a node id -> bool) leaves
    out layers the canvas does not show: the wires are followed through them."""
    wired = _wired(graph, nid, direction, shown) if direction in ("right", "left") else []
    if wired:
        return _nearest(graph, nid, direction, among=wired)
    return _nearest(graph, nid, direction, shown=shown)


def free_port(graph, dst: str) -> int:
    """The input port of ``dst`` a new wire goes to: the first free one (port 0 for a layer taking many)."""
    inputs = graph.nodes[dst].spec.inputs
    if not inputs:
        return 0
    taken = {e.dst_port for e in graph.inputs_of(dst)}
    return next((p for p in range(inputs) if p not in taken), 0)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def next_free(graph, nid: str) -> str | None:
    """The nearest layer right of ``nid`` with no wire into it yet that ``nid`` may be wired to."""
    c = _centre(graph, nid)
    free = [o for o in graph.nodes if o != nid and not graph.inputs_of(o) and _centre(graph, o).x() > c.x()
            and graph.connect_problem(nid, o, free_port(graph, o)) is None]
    return _nearest(graph, nid, "right", among=free) if free else None


def connect_next(scene, ordered: list[str]) -> bool:
    """Wire the layers ``ordered`` (the selection, in the order it was made) one after another; a single one to
    :func:`next_free`. One undo step; a refusal is said in plain words. Returns whether a wire was made."""
    graph = scene.graph
    if graph is None:
        return False
    ids = [nid for nid in ordered if nid in graph.nodes]
    if not ids:
        scene.status_message.emit("Select a layer to connect it to the next one")
        return False
    if not scene._editable():
        return False
    if len(ids) == 1:
        target = next_free(graph, ids[0])
        if target is None:
            scene.status_message.emit(f"There is no free layer right of {_name(graph, ids[0])} to connect it to")
            return False
        pairs = [(ids[0], target)]
    else:
        pairs = list(zip(ids, ids[1:]))
    pairs = [(a, b) for a, b in pairs if not any(e.src == a and e.dst == b for e in graph.inputs_of(b))]
    if not pairs:
        scene.status_message.emit("The selected layers are already connected")
        return False
    problems = [graph.connect_problem(a, b, free_port(graph, b)) for a, b in pairs]
    if all(problems):
        scene.status_message.emit(_sentence(problems[0]))
        return False
    made, refused = [], []
    stack = scene.undo_stack
    stack.beginMacro(f"Connect {len(pairs)} wire{'s' if len(pairs) != 1 else ''}" if len(pairs) > 1
                     else f"Connect {pairs[0][0]} to {pairs[0][1]}")
    try:
        for a, b in pairs:  # at least one was possible (checked above), so the macro is not empty
            try:
                stack.push(cmd.ConnectCommand(graph, a, b, free_port(graph, b)))
                made.append(Edge(a, b))
            except GraphError as exc:
                refused.append(str(exc))
    finally:
        stack.endMacro()
    if refused:
        scene.status_message.emit(f"Connected {len(made)}; not connected: {refused[0]}")
    if len(ids) == 1:
        scene.select_nodes([pairs[0][1]])  # C again goes on building from the new end
    return True


def edit_first_parameter(window) -> bool:
    """Put the focus in the Inspector's first field (the first parameter; the name when there is none) for the
    one selected layer. Returns whether a field got the focus."""
    scene = window.scene
    ids = scene.selected_node_ids()
    if len(ids) != 1:
        scene.status_message.emit("Select one layer to edit its settings" if ids
                                  else "Select a layer to edit its settings")
        return False
    if not scene._editable():
        return False
    inspector = window.inspector
    if inspector.node_id != ids[0]:
        inspector.show_node(ids[0])
    dock = getattr(window, "docks", {}).get("dock_inspector")
    if dock is not None:
        dock.show()
        dock.raise_()
    field = next(iter(inspector.editors.values()), None) or inspector.label_edit
    field.setFocus(Qt.FocusReason.ShortcutFocusReason)
    if isinstance(field, (QLineEdit, QAbstractSpinBox)):
        field.selectAll()
    BackToCanvas(field, window.view)
    return True


class BackToCanvas(QObject):
    """After Enter or F2 took the focus to a field, Enter (the value is set) or Escape in it gives the focus back
    to the canvas, so that building goes on by keyboard: Tab, the next layer, Enter. Once, then it goes."""

    KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)

    def __init__(self, field, view) -> None:
        super().__init__(field)
        self.view = view
        self.watched = [field, *field.findChildren(QWidget)]
        for widget in self.watched:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.KeyPress and event.key() in self.KEYS:
            QTimer.singleShot(0, self._back)  # after the field has taken the value
        elif event.type() == QEvent.Type.FocusOut and not any(w.hasFocus() for w in self.watched):
            QTimer.singleShot(0, self._done)  # the person went elsewhere: nothing to give back
        return False

    def _back(self) -> None:
        if isValid(self.view):
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        self._done()

    def _done(self) -> None:
        for widget in self.watched:
            if isValid(widget):
                widget.removeEventFilter(self)
        if isValid(self):
            self.deleteLater()


class KeyboardNav(QObject):
    """The arrow keys and Enter on the canvas (an event filter on the GraphView), and the selection's order."""

    def __init__(self, view, window=None) -> None:
        super().__init__(view)
        self.view, self.window = view, window
        self.scene = view.graph_scene()
        self.order: list[str] = []  # the selected node ids, oldest first
        self._own_key = False  # the key being pressed went to the canvas first
        self.scene.selectionChanged.connect(self._on_selection_changed)
        view.installEventFilter(self)

    def _on_selection_changed(self) -> None:
        try:
            selected = self.scene.selected_node_ids()
        except RuntimeError:  # the scene is being destroyed with its window: its items are already gone
            self.order = []
            return
        now = set(selected)
        self.order = [nid for nid in self.order if nid in now] + [nid for nid in selected if nid not in self.order]

    def selection(self) -> list[str]:
        self._on_selection_changed()
        return list(self.order)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is not self.view or kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            return False
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if kind == QEvent.Type.ShortcutOverride:
            # A key the canvas itself had: not one a field over it (a frame's name) let through after using it
            self._own_key = QApplication.focusWidget() is self.view
            return False
        own, self._own_key = self._own_key, False
        if not own:
            return False
        if key in ARROWS and mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
            return self.step(ARROWS[key], extend=mods == Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not mods and self.window is not None:
            if self.scene.selected_node_ids():
                edit_first_parameter(self.window)
                return True
        return False

    def _shown(self, nid: str) -> bool:
        item = self.scene.node_item(nid)
        return item is not None and item.isVisible()

    def step(self, direction: str, extend: bool = False) -> bool:
        """Select the neighbour of the newest selected layer; False (the key pans) when none is selected."""
        order = self.selection()
        graph = self.scene.graph
        if not order or graph is None:
            return False
        current = order[-1]
        target = neighbour(graph, current, direction, shown=self._shown)
        if target is None:
            self.scene.status_message.emit(f"There is no layer {_WAYS[direction]} {_name(graph, current)}")
            return True
        if extend:
            item = self.scene.node_item(target)
            if item is not None:
                item.setSelected(True)
        else:
            self.scene.select_nodes([target])
        item = self.scene.node_item(target)
        if item is not None:
            self.view.ensureVisible(item, 40, 40)
        return True


_WAYS = {"right": "after", "left": "before", "up": "above", "down": "below"}


def install(window) -> dict[str, QAction]:
    """The keyboard filter on ``window.view`` and Edit > Connect to Next Layer (C) and Edit First Parameter
    (F2), both acting while the canvas has the focus. Returns the actions by name."""
    nav = KeyboardNav(window.view, window)
    connect = QAction("Connect to Ne&xt Layer", window)
    connect.setObjectName("action_connect_next")
    connect.setStatusTip("Wire the selected layers in the order they were selected (one: to the next free layer)")
    connect.setShortcut(QKeySequence(CONNECT_KEY))
    connect.triggered.connect(lambda _checked=False: connect_next(window.scene, nav.selection()))
    edit = QAction("Edit First Para&meter", window)
    edit.setObjectName("action_edit_first_parameter")
    edit.setStatusTip("Put the cursor in the selected layer's first setting in the Inspector (also Enter)")
    edit.setShortcuts([QKeySequence(k) for k in EDIT_KEYS])
    edit.triggered.connect(lambda _checked=False: edit_first_parameter(window))
    menu = window.acts.menus["edit"]
    menu.addSeparator()
    for action in (connect, edit):
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.view.addAction(action)
        menu.addAction(action)
    return {"connect_next": connect, "edit_first_parameter": edit, "keyboard_nav": nav}
