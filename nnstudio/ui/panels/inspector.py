"""The inspector: the selected layer's name, parameters, shape, description and formula, and for an activation a
plot of f(x) and f'(x).

Every change goes through the undo stack as one SetParamsCommand (or SetLabelCommand). A value the layer refuses
never reaches the stack: the layer's own message is shown above the form and the editor goes back to the value
the layer holds. So does a name another layer already has (two layers never share a name). The editors follow the model (``params_changed``/``label_changed``), so undo and redo show up here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph, Node
from nnstudio.core.layers.activations import FORMULAS
from nnstudio.core.layers.base import ACTIVATION_TITLES
from nnstudio.core.shapes import GraphInfo
from nnstudio.ui.commands import SetLabelCommand, SetParamsCommand
from nnstudio.ui.panels.activation_plot import ActivationPlot
from nnstudio.ui.panels.param_widgets import editor_for
from nnstudio.ui.safe_text import clean, one_line, plain, rich
from nnstudio.ui.theme import category_color, glyph_icon


def activation_of(node: Node) -> str | None:
    """The activation a node applies: the Activation node's function or a layer's ``activation`` param."""
    if node.type_id == "activation":
        act = node.params.get("function")
    elif node.spec.activation_param:
        act = node.params.get("activation")
    else:
        return None
    return act if isinstance(act, str) else None  # a bad value from a file is the layer's problem, not a crash


def _section(text: str) -> QLabel:
    label = QLabel(text.upper())
    font = label.font()
    font.setPointSizeF(max(font.pointSizeF() * 0.82, 7.0))
    font.setBold(True)
    font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setContentsMargins(0, 8, 0, 2)
    return label


class InspectorPanel(QWidget):
    """``status_message(str)`` carries refusals to the status bar too."""

    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.stack = None
        self.node_id: str | None = None
        self.editors: dict[str, QWidget] = {}
        self._info: GraphInfo | None = None
        self._locked = False

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.setSpacing(4)

        self.placeholder = QLabel("Select a layer on the canvas to see and edit its settings.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.placeholder.setMinimumHeight(80)
        lay.addWidget(self.placeholder)

        self.content = QWidget()
        lay.addWidget(self.content)
        lay.addStretch(1)
        c = QVBoxLayout(self.content)
        c.setContentsMargins(0, 0, 0, 0)
        c.setSpacing(4)

        head = QHBoxLayout()
        self.icon = QLabel()
        self.icon.setFixedSize(QSize(34, 34))
        self.title = plain(QLabel())  # a label from a file: plain text, wrapped rather than widening the dock
        self.title.setWordWrap(True)
        tfont = self.title.font()
        tfont.setPointSizeF(tfont.pointSizeF() * 1.3)
        tfont.setBold(True)
        self.title.setFont(tfont)
        self.subtitle = plain(QLabel())
        self.subtitle.setWordWrap(True)
        self.subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.title)
        names.addWidget(self.subtitle)
        head.addWidget(self.icon)
        head.addLayout(names, 1)
        c.addLayout(head)

        self.error = plain(QLabel())  # the layer's message may quote a value from the file
        self.error.setObjectName("inspectorError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("QLabel#inspectorError { background: #fdecea; color: #8a1c12; "
                                 "border: 1px solid #f5c2bd; border-radius: 4px; padding: 6px; }")
        self.error.hide()
        c.addWidget(self.error)

        c.addWidget(_section("Layer"))
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setHorizontalSpacing(10)
        self.form.setVerticalSpacing(6)
        self.label_edit = QLineEdit()  # re-created with the form for every node
        c.addLayout(self.form)

        self.shape_label = QLabel()
        self.shape_label.setWordWrap(True)
        self.shape_label.setTextFormat(Qt.TextFormat.RichText)
        c.addWidget(self.shape_label)

        self.plot_title = _section("Activation")
        self.plot = ActivationPlot()
        self.plot.setMinimumHeight(180)
        c.addWidget(self.plot_title)
        c.addWidget(self.plot)

        c.addWidget(_section("About"))
        self.description = plain(QLabel())
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        c.addWidget(self.description)
        self.formula = plain(QLabel())
        self.formula.setObjectName("formula")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.formula.setFont(mono)
        self.formula.setStyleSheet("QLabel#formula { border-radius: 4px; padding: 6px; "
                                   "background: palette(alternate-base); border: 1px solid palette(midlight); }")
        c.addWidget(self.formula)
        self.show_node(None)

    # -- binding ------------------------------------------------------------------------------------------
    def set_graph(self, graph: Graph, undo_stack) -> None:
        if self.graph is not None:
            self.graph.params_changed.disconnect(self._on_node_changed)
            self.graph.label_changed.disconnect(self._on_node_changed)
            self.graph.node_removed.disconnect(self._on_node_removed)
        self.graph, self.stack = graph, undo_stack
        graph.params_changed.connect(self._on_node_changed)
        graph.label_changed.connect(self._on_node_changed)
        graph.node_removed.connect(self._on_node_removed)
        self.show_node(None)

    def set_locked(self, locked: bool) -> None:
        """While the network trains its settings are shown but cannot be changed."""
        self._locked = bool(locked)
        self._apply_lock()

    def _apply_lock(self) -> None:
        self.label_edit.setEnabled(not self._locked)
        for editor in self.editors.values():
            editor.setEnabled(not self._locked)

    def set_info(self, info: GraphInfo | None) -> None:
        self._info = info
        self._update_shape()

    # -- what is shown ------------------------------------------------------------------------------------
    def show_node(self, node_id: str | None, selected: int | None = None) -> None:
        """Show ``node_id`` (None: nothing selected, or ``selected`` layers, more than one)."""
        node = self.graph.nodes.get(node_id) if (self.graph is not None and node_id) else None
        self.node_id = node.id if node else None
        self.error.hide()
        if node is None:
            self.content.hide()
            self.placeholder.setText(
                f"{selected} layers selected: select one to edit it." if selected and selected > 1
                else "Select a layer on the canvas to see and edit its settings.")
            self.placeholder.show()
            return
        self.placeholder.hide()
        self._build_form(node)
        self._apply_lock()
        self._refresh(node)
        self.content.show()

    def _build_form(self, node: Node) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)  # deletes the old editors (the label edit is re-created below)
        self.editors = {}
        self.label_edit = QLineEdit()
        self.label_edit.setObjectName("labelEdit")
        self.label_edit.setToolTip("A name shown on the node; the id stays the same.")
        self.label_edit.editingFinished.connect(self._on_label_edited)
        self.form.addRow("Name", self.label_edit)
        for param in node.spec.params:
            editor = editor_for(param)
            editor.setObjectName(f"param_{param.name}")
            tip = param.help or ""
            if param.minimum is not None or param.maximum is not None:
                lo = "" if param.minimum is None else f"{param.minimum:g}"
                hi = "" if param.maximum is None else f"{param.maximum:g}"
                tip = (tip + "\n" if tip else "") + f"Range: {lo or '…'} to {hi or '…'}"
            editor.setToolTip(tip)
            editor.param_name = param.name
            editor.edited.connect(self._on_edited)
            self.editors[param.name] = editor
            self.form.addRow(param.title, editor)
        spec = node.spec
        self.icon.setPixmap(glyph_icon(spec.glyph, category_color(spec.category), 34, spec.title[:1]).pixmap(34, 34))

    def _refresh(self, node: Node) -> None:
        spec = node.spec
        self.title.setText(clean(node.label or spec.title, 500))
        self.subtitle.setText(one_line(f"{spec.title} · {node.id}" if node.label else f"{node.id} · {spec.category}"))
        with QSignalBlocker(self.label_edit):
            # the whole label, however long (QLineEdit would cut it at 32,767 characters and save that)
            self.label_edit.setMaxLength(max(32767, len(node.label)))
            self.label_edit.setText(node.label)
            self.label_edit.setPlaceholderText(one_line(node.id))
        for name, editor in self.editors.items():
            editor.set_value(node.params.get(name))
        act = activation_of(node)
        self.plot_title.setVisible(act is not None)
        self.plot.setVisible(act is not None)
        if act is not None and act in FORMULAS:
            self.plot.set_activation(act)
            self.plot_title.setText(f"ACTIVATION · {ACTIVATION_TITLES.get(act, act).upper()}")
        self.description.setText(spec.description)
        formula = FORMULAS.get(act, "") if node.type_id == "activation" else spec.formula
        if node.type_id != "activation" and act not in (None, "none") and act in FORMULAS:
            formula += f"\nf = {ACTIVATION_TITLES.get(act, act)}: {FORMULAS[act]}"
        self.formula.setText(formula)
        self.formula.setVisible(bool(formula))
        self._update_shape()

    def _update_shape(self) -> None:
        if self.node_id is None or self._info is None or self.node_id not in self._info.nodes:
            self.shape_label.setText("")
            return
        ni = self._info.nodes[self.node_id]
        parts = [f"Output <b>{rich(ni.shape_text, 300)}</b>", f"{ni.params:,} parameters"]
        text = " &nbsp;·&nbsp; ".join(parts)
        if ni.problems:
            text += "".join(f"<br><span style='color:#c0392b'>⚠ {rich(p, 1000)}</span>" for p in ni.problems)
        self.shape_label.setText(text)

    # -- edits --------------------------------------------------------------------------------------------
    def apply(self, name: str, value: Any) -> bool:
        """Push one SetParamsCommand; a refused value shows the layer's message. Returns whether it applied."""
        if self.graph is None or self.node_id is None or self.stack is None:
            return False
        node = self.graph.nodes[self.node_id]
        if self._locked:
            self.editors[name].set_value(node.params.get(name))
            return False
        if name in node.params and node.params[name] == value and type(node.params[name]) is type(value):
            return False
        try:
            command = SetParamsCommand(self.graph, self.node_id, {name: value})
        except GraphError as exc:
            self.show_error(str(exc))
            self.editors[name].set_value(node.params.get(name))  # the editor shows what the layer holds
            return False
        self.error.hide()
        self.stack.push(command)
        return True

    def _on_edited(self, value: Any) -> None:
        editor = self.sender()
        name = getattr(editor, "param_name", None)
        if name is not None and self.editors.get(name) is editor:
            self.apply(name, value)

    def show_error(self, message: str) -> None:
        self.error.setText(clean(message, 1000))
        self.error.show()
        self.status_message.emit(message)

    def _on_label_edited(self) -> None:
        if self.graph is None or self.node_id is None or self.stack is None or self._locked:
            return
        node = self.graph.nodes[self.node_id]
        text = self.label_edit.text().strip()
        if text == node.label:
            return
        try:
            command = SetLabelCommand(self.graph, self.node_id, text)
        except GraphError as exc:  # another layer has the name: said here and in the status bar
            message = str(exc)
            self.show_error(message[:1].upper() + message[1:])  # "Another layer (dense_2) is already called …"
            with QSignalBlocker(self.label_edit):
                self.label_edit.setText(node.label)  # the editor shows the name the layer keeps
            return
        self.error.hide()
        self.stack.push(command)

    def _on_node_changed(self, node: Node) -> None:
        if node.id == self.node_id:
            self._refresh(node)

    def _on_node_removed(self, node: Node) -> None:
        if node.id == self.node_id:
            self.show_node(None)
