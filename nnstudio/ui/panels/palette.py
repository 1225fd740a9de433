"""The layer palette: layers grouped by category, a search box that filters as you type, drag a layer onto the
canvas (LAYER_MIME with the type id) or double-click it to add it at the centre of the view."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.layers.base import LayerSpec
from nnstudio.core.layers.registry import by_category
from nnstudio.ui.mime import LAYER_MIME
from nnstudio.ui.theme import category_color, glyph_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1


def tooltip(spec: LayerSpec) -> str:
    formula = spec.formula.replace("&", "&amp;").replace("<", "&lt;")
    return (f"<b>{spec.title}</b> <span style='color:gray'>({spec.type_id})</span>"
            f"<p style='white-space:normal'>{spec.description}</p><p><code>{formula}</code></p>")


class _LayerTree(QTreeWidget):
    """A tree whose layer items drag out as LAYER_MIME (payload: the type id in UTF-8)."""

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        for item in items:
            type_id = item.data(0, TYPE_ROLE)
            if type_id:
                mime.setData(LAYER_MIME, str(type_id).encode("utf-8"))
                mime.setText(str(type_id))
                break
        return mime


class PalettePanel(QWidget):
    """``layer_activated(type_id)`` on double-click or Enter on a layer."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("paletteSearch")
        self.tree = _LayerTree(self)
        self.tree.setObjectName("paletteTree")
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(22, 22))
        self.tree.setIndentation(10)
        self.tree.setUniformRowHeights(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setExpandsOnDoubleClick(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._populate()
        self.search.textChanged.connect(self.set_filter)
        self.tree.itemActivated.connect(self._on_activated)
        self.search.returnPressed.connect(self._on_search_return)

    def _populate(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        for category, specs in by_category().items():
            if not specs:
                continue
            group = QTreeWidgetItem(self.tree, [category])
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setToolTip(0, f"{len(specs)} layer{'s' if len(specs) != 1 else ''}")
            for spec in specs:
                item = QTreeWidgetItem(group, [spec.title])
                item.setData(0, TYPE_ROLE, spec.type_id)
                item.setData(0, SEARCH_ROLE, f"{spec.title}\n{spec.type_id}\n{spec.description}".lower())
                item.setIcon(0, glyph_icon(spec.glyph, category_color(category), 32, spec.title[:1]))
                item.setToolTip(0, tooltip(spec))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
            group.setExpanded(True)

    # -- queries (tests and the main window) ---------------------------------------------------------------
    def layer_items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out.extend(group.child(j) for j in range(group.childCount()))
        return out

    def visible_type_ids(self) -> list[str]:
        return [it.data(0, TYPE_ROLE) for it in self.layer_items() if not it.isHidden() and not it.parent().isHidden()]

    def item_for(self, type_id: str) -> QTreeWidgetItem | None:
        return next((it for it in self.layer_items() if it.data(0, TYPE_ROLE) == type_id), None)

    def selected_type_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, TYPE_ROLE) if items else None

    # -- behaviour ----------------------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Show only layers whose title, type id or description contains every word of ``text``."""
        words = text.lower().split()
        first: QTreeWidgetItem | None = None
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            shown = 0
            for j in range(group.childCount()):
                item = group.child(j)
                haystack = item.data(0, SEARCH_ROLE)
                match = all(w in haystack for w in words)
                item.setHidden(not match)
                if match:
                    shown += 1
                    first = first or item
            group.setHidden(shown == 0)
            if words and shown:
                group.setExpanded(True)
        if words and first is not None:
            self.tree.setCurrentItem(first)

    def activate(self, type_id: str) -> None:
        self.layer_activated.emit(type_id)

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layer_activated.emit(str(type_id))

    def _on_search_return(self) -> None:
        """Enter in the search box adds the highlighted (or first shown) layer."""
        type_id = self.selected_type_id() or next(iter(self.visible_type_ids()), None)
        if type_id:
            self.layer_activated.emit(type_id)
