"""The main window's actions, menus and toolbar, and the keyboard shortcuts dialog.

``build_actions(window)`` creates every QAction (named ``action_<name>`` on the window's ``actions`` namespace),
wires it to the window's slot and lays out the menu bar and the toolbar. The window keeps the behaviour; this
module only decides names, shortcuts, icons and order.

Every item of a menu has its own mnemonic (the letter after ``&``; a test walks every menu). The view actions
(zoom, fit, auto-layout) act wherever the focus is in the window, but a key a text field types stays with the
field that has the focus (:class:`TypingGuard`): F in the Layers search box types "f", F anywhere else fits the
network in the view. Delete stays with the canvas (it deletes layers; elsewhere it is a key of the widget).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QHeaderView,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from nnstudio.ui.help import report_problem, show_guide
from nnstudio.ui.theme import tool_icon

# name -> (text, shortcuts, icon, status tip)  (the icon names are drawn by theme.tool_icon)
SPECS: dict[str, tuple[str, tuple, str, str]] = {
    "new": ("&New", (QKeySequence.StandardKey.New,), "new", "Start a new, empty network"),
    "open": ("&Open…", (QKeySequence.StandardKey.Open,), "open", "Open a project file"),
    "open_example": ("Open E&xample…", (), "examples", "Open one of the bundled example networks"),
    "save": ("&Save", (QKeySequence.StandardKey.Save,), "save", "Save the project"),
    "save_as": ("Save &As…", ("Ctrl+Shift+S",), "", "Save the project under a new name"),
    "export": ("&Export…", ("Ctrl+E",), "", "Export the network as a PyTorch script, safetensors weights, ONNX or "
               "a torch.export program"),
    "import_model": ("&Import Model…", ("Ctrl+Shift+I",), "", "Open an existing PyTorch or ONNX model as a new "
                     "project"),
    "quit": ("&Quit", ("Ctrl+Q",), "", "Quit NN Studio"),
    "cut": ("Cu&t", (QKeySequence.StandardKey.Cut,), "", "Cut the selected layers"),
    "copy": ("&Copy", (QKeySequence.StandardKey.Copy,), "", "Copy the selected layers"),
    "paste": ("&Paste", (QKeySequence.StandardKey.Paste,), "", "Paste layers from the clipboard"),
    "duplicate": ("Dupl&icate", ("Ctrl+D",), "duplicate", "Duplicate the selected layers"),
    "delete": ("&Delete", (QKeySequence.StandardKey.Delete, "Backspace"), "delete", "Delete the selected layers"),
    "select_all": ("Select &All", (QKeySequence.StandardKey.SelectAll,), "", "Select every layer"),
    "zoom_in": ("Zoom &In", (QKeySequence.StandardKey.ZoomIn, "Ctrl+="), "zoom_in", "Zoom in"),
    "zoom_out": ("Zoom &Out", (QKeySequence.StandardKey.ZoomOut,), "zoom_out", "Zoom out"),
    "fit": ("&Fit Network in View", ("F",), "fit", "Show the whole network"),
    "auto_layout": ("&Auto-layout", ("Ctrl+L",), "layout", "Arrange the layers left to right"),
    "reset_layout": ("&Reset Panel Layout", (), "", "Put every panel back where it started"),
    "guide": ("&Getting Started", (), "", "A short guide: building a network, training it, reading the dashboard"),
    "shortcuts": ("&Keyboard Shortcuts", ("F1",), "", "List the keyboard shortcuts"),
    "report_problem": ("&Report a Problem", (), "", "Open the folder of the log file, to attach it to a report"),
    "about": ("&About NN Studio", (), "", "About NN Studio"),
}
# Actions that act only when the canvas has focus (Delete deletes layers; elsewhere it is the widget's key).
CANVAS_ONLY = ("delete",)
# The view's actions: window-wide, their keys that type text guarded by TypingGuard.
VIEW_ACTIONS = ("zoom_in", "zoom_out", "fit", "auto_layout")
_COMMAND_MODIFIERS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                      | Qt.KeyboardModifier.MetaModifier)


def _explicit() -> set[str]:
    """The shortcuts the app names itself (not a platform's standard keys), in QKeySequence's portable text."""
    named = [s for _, shortcuts, _, _ in SPECS.values() for s in shortcuts if isinstance(s, str)]
    return {QKeySequence(s).toString() for s in named + list(OTHER_SHORTCUTS)}


def _sequences(shortcuts: tuple) -> list[QKeySequence]:
    """The key sequences of ``shortcuts``: a standard key expands to the platform's bindings, less any the app
    gives another action (on X11 the standard Delete also holds Ctrl+D, which is Duplicate: a key bound twice
    fires neither)."""
    taken = _explicit() - {QKeySequence(s).toString() for s in shortcuts if isinstance(s, str)}
    out: list[QKeySequence] = []
    for s in shortcuts:
        if isinstance(s, QKeySequence.StandardKey):
            out.extend(k for k in QKeySequence.keyBindings(s) or [] if k.toString() not in taken)
        else:
            out.append(QKeySequence(s))
    seen, unique = set(), []
    for seq in out:
        if seq.toString() not in seen and not seq.isEmpty():
            seen.add(seq.toString())
            unique.append(seq)
    return unique


def shortcut_clashes(window) -> dict[str, list[str]]:
    """Key sequence -> the names of the actions of ``window`` it triggers, for every sequence held by two or more
    (there should be none)."""
    owners: dict[str, list[str]] = {}
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            owners.setdefault(seq.toString(), []).append(action.objectName() or action.text())
    return {seq: names for seq, names in owners.items() if len(set(names)) > 1}


# Shortcuts of actions made elsewhere (undo/redo here, the Train menu in training_controller, frames in
# frame_commands).
OTHER_SHORTCUTS = ("Ctrl+Shift+Z", "Ctrl+Y", "F5", "Ctrl+F5", "F6", "Shift+F5", "Ctrl+G", "Ctrl+Shift+G",
                   "Ctrl+Alt+G")


def takes_typing(widget: QWidget | None) -> bool:
    """Whether ``widget`` is a field a person types into (an editable line, text, spin box or combo box)."""
    if isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return False


def _types_text(seq: QKeySequence) -> bool:
    """A one-key sequence without Ctrl, Alt or Meta: what a text field would type (F, Shift+F)."""
    return seq.count() == 1 and not (seq[0].keyboardModifiers() & _COMMAND_MODIFIERS)


class TypingGuard(QObject):
    """Lets the focused text field keep a key that also triggers one of ``actions`` (window-wide shortcuts).

    Qt asks the focus widget first (a ShortcutOverride event, passed up to its parents while nobody accepts
    it); Qt's own text fields accept the keys they type, and this filter on the window (and on its docks, which
    are windows of their own when floating) accepts the rest for any field :func:`takes_typing` names, so the
    key is typed rather than triggering the action."""

    def __init__(self, window: QWidget, actions: list[QAction]) -> None:
        super().__init__(window)
        self.actions = list(actions)
        window.installEventFilter(self)
        for dock in window.findChildren(QDockWidget):
            dock.installEventFilter(self)

    def guarded(self) -> set[str]:
        return {seq.toString() for a in self.actions for seq in a.shortcuts() if _types_text(seq)}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:
            combo = QKeySequence(event.keyCombination()).toString()
            if combo in self.guarded() and takes_typing(QApplication.focusWidget()):
                event.accept()  # the key goes to the field as a key press; the shortcut does not fire
        elif kind == QEvent.Type.ChildPolished and isinstance(event.child(), QDockWidget):
            # a dock added later (on ChildAdded it is not a QDockWidget yet); installing twice keeps one
            event.child().installEventFilter(self)
        return False


def _undo_actions(window, acts: SimpleNamespace) -> None:
    """Undo and Redo of the document's stack, disabled while a run is active (the graph, the dataset and the
    settings are locked then: undoing one of them would change what is training)."""
    stack, session = window.document.undo_stack, window.document.session
    acts.undo = QAction(tool_icon("undo"), "&Undo", window)
    acts.undo.setObjectName("action_undo")
    acts.undo.setShortcuts(_sequences((QKeySequence.StandardKey.Undo,)))
    acts.undo.triggered.connect(lambda: session.locked or stack.undo())
    acts.redo = QAction(tool_icon("redo"), "&Redo", window)
    acts.redo.setObjectName("action_redo")
    acts.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    acts.redo.triggered.connect(lambda: session.locked or stack.redo())
    for action in (acts.undo, acts.redo):
        window.addAction(action)

    def refresh(*_args) -> None:
        if not (isValid(stack) and isValid(acts.undo) and isValid(acts.redo)):
            return  # the stack says it is empty while it is being destroyed with the window
        locked = session.locked
        for action, can, text, verb in ((acts.undo, stack.canUndo(), stack.undoText(), "Undo"),
                                        (acts.redo, stack.canRedo(), stack.redoText(), "Redo")):
            action.setEnabled(can and not locked)
            action.setText(f"&{verb} {text}" if can and text else f"&{verb}")
            action.setToolTip(session.edit_refusal() if locked and can else action.text().replace("&", ""))

    for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged,
                   stack.indexChanged):
        signal.connect(refresh)
    locked = [session.locked]

    def run_changed(*_args) -> None:  # the run's progress comes four times a second: only a lock counts
        if locked[0] != session.locked:
            locked[0] = session.locked
            refresh()

    session.run_state_changed.connect(run_changed)
    refresh()


def _export(window) -> None:
    from nnstudio.ui.export_dialog import export_from_window

    export_from_window(window)


def _import(window) -> bool:
    from nnstudio.ui.import_dialog import import_interactively

    return import_interactively(window)


def build_actions(window) -> SimpleNamespace:
    """Create the actions, menus and toolbar of ``window`` (a MainWindow); returns the actions by name."""
    acts = SimpleNamespace()
    slots: dict[str, Callable[[], object]] = {
        "new": window.new_project,
        "open": window.open_dialog,
        "open_example": window.open_example,
        "save": window.save,
        "save_as": window.save_as,
        "export": lambda: _export(window),
        "import_model": lambda: _import(window),
        "quit": window.close,
        "cut": window.cut,
        "copy": window.copy,
        "paste": window.paste,
        "duplicate": window.duplicate,
        "delete": window.delete,
        "select_all": window.select_all,
        "zoom_in": window.view.zoom_in,
        "zoom_out": window.view.zoom_out,
        "fit": window.view.fit,
        "auto_layout": window.auto_layout,
        "reset_layout": window.reset_layout,
        "guide": lambda: show_guide(window),
        "shortcuts": window.show_shortcuts,
        "report_problem": lambda: report_problem(window),
        "about": window.show_about,
    }
    for name, (text, shortcuts, icon, tip) in SPECS.items():
        action = QAction(text, window)
        action.setObjectName(f"action_{name}")
        sequences = _sequences(shortcuts)
        if sequences:
            action.setShortcuts(sequences)
        if icon:
            action.setIcon(tool_icon(icon))
        action.setStatusTip(tip)
        key = f" ({sequences[0].toString(QKeySequence.SequenceFormat.NativeText)})" if sequences else ""
        action.setToolTip(text.replace("&", "").rstrip("…") + key)
        slot = slots[name]
        action.triggered.connect(lambda _checked=False, slot=slot: slot())
        if name in CANVAS_ONLY:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            window.view.addAction(action)
        else:
            window.addAction(action)
        setattr(acts, name, action)
    action_quit = acts.quit
    action_quit.setMenuRole(QAction.MenuRole.QuitRole)
    acts.about.setMenuRole(QAction.MenuRole.AboutRole)

    _undo_actions(window, acts)

    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.setObjectName("menu_file")
    file_menu.addActions([acts.new, acts.open, acts.open_example])
    acts.recent_menu = QMenu("Open &Recent", window)
    acts.recent_menu.setObjectName("menu_recent")
    acts.recent_menu.aboutToShow.connect(window.update_recent_menu)
    file_menu.addMenu(acts.recent_menu)
    file_menu.addSeparator()
    file_menu.addActions([acts.save, acts.save_as])
    file_menu.addSeparator()
    file_menu.addAction(acts.import_model)
    file_menu.addAction(acts.export)
    file_menu.addSeparator()
    file_menu.addAction(acts.quit)

    edit_menu = bar.addMenu("&Edit")
    edit_menu.setObjectName("menu_edit")
    edit_menu.addActions([acts.undo, acts.redo])
    edit_menu.addSeparator()
    edit_menu.addActions([acts.cut, acts.copy, acts.paste, acts.duplicate, acts.delete])
    edit_menu.addSeparator()
    edit_menu.addAction(acts.select_all)

    view_menu = bar.addMenu("&View")
    view_menu.setObjectName("menu_view")
    view_menu.addActions([acts.zoom_in, acts.zoom_out, acts.fit])
    view_menu.addSeparator()
    view_menu.addAction(acts.auto_layout)
    view_menu.addSeparator()
    acts.panels_menu = view_menu.addMenu("&Panels")
    acts.panels_menu.setObjectName("menu_panels")
    acts.view_menu = view_menu
    view_menu.addAction(acts.reset_layout)

    help_menu = bar.addMenu("&Help")
    help_menu.setObjectName("menu_help")
    help_menu.addActions([acts.guide, acts.shortcuts])
    help_menu.addSeparator()
    help_menu.addAction(acts.report_problem)
    help_menu.addSeparator()
    help_menu.addAction(acts.about)
    acts.menus = {"file": file_menu, "edit": edit_menu, "view": view_menu, "help": help_menu}

    toolbar = QToolBar("Main toolbar", window)
    toolbar.setObjectName("toolbar_main")
    toolbar.setIconSize(QSize(20, 20))
    toolbar.setMovable(True)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for item in (acts.new, acts.open, acts.save, None, acts.undo, acts.redo, None, acts.duplicate, acts.delete,
                 None, acts.zoom_in, acts.zoom_out, acts.fit, acts.auto_layout, None, acts.open_example):
        if item is None:
            toolbar.addSeparator()
        else:
            toolbar.addAction(item)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    acts.toolbar = toolbar
    acts.typing_guard = TypingGuard(window, [getattr(acts, name) for name in VIEW_ACTIONS])
    return acts


def refresh_icons(acts: SimpleNamespace) -> None:
    """Redraw the icons in the current palette's colours (after the system switches light/dark)."""
    for name, (_text, _keys, icon, _tip) in SPECS.items():
        if icon:
            getattr(acts, name).setIcon(tool_icon(icon))
    acts.undo.setIcon(tool_icon("undo"))
    acts.redo.setIcon(tool_icon("redo"))


def shortcut_rows(acts: SimpleNamespace) -> list[tuple[str, str]]:
    """(action, shortcuts) for every action that has one, in menu order, submenus included."""
    rows: list[tuple[str, str]] = []

    def walk(menu) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
            keys = [k for k in keys if _typed(k)]
            if keys and action.text():
                rows.append((action.text().replace("&", "").rstrip("…"), " or ".join(keys)))

    for menu in acts.menus.values():
        walk(menu)
    return rows


def _typed(key: str) -> bool:
    """Whether a person types ``key`` (Ctrl+N, F, F1, Del) rather than pressing a special key (New, Cut)."""
    return "+" in key or len(key) == 1 or re.fullmatch(r"F\d+", key) is not None or key in ("Del", "Backspace")


class ShortcutsDialog(QDialog):
    """A plain table of the shortcuts (non-modal: it can stay open beside the canvas)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(420, 520)
        extra = [("Add the highlighted layer (palette)", "Enter or double-click"),
                 ("Pan the canvas", "Middle drag or Space + drag"), ("Zoom the canvas", "Mouse wheel"),
                 ("Add a layer (quick-add search)", "Tab, or double-click empty canvas"),
                 ("Add a layer wired to a port", "Drag a wire from the port and let go in space"),
                 ("Insert a layer into a wire", "Drop it on the wire (Alt: do not insert)"),
                 ("Canvas menus (layer, wire, canvas)", "Right-click"),
                 ("Select the next / previous / nearest layer", "Arrow keys (a layer selected)"),
                 ("Add that layer to the selection", "Shift+arrow key"),
                 ("Edit the first setting of the selected layer", "Enter")]
        self.table = QTableWidget(len(rows) + len(extra), 2, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for r, (name, keys) in enumerate([*rows, *extra]):
            self.table.setItem(r, 0, QTableWidgetItem(name))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
