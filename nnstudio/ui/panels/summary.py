"""The model summary, like Keras's: layer, type, output shape and parameters, with the totals below. It follows
ShapeWatcher.inferred; selecting a row asks the window to select and centre that node."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo
from nnstudio.core.summary import summary_rows
from nnstudio.ui.safe_text import one_line, tooltip

HEADERS = ("Layer", "Type", "Output shape", "Param #")
ID_ROLE = Qt.ItemDataRole.UserRole


class SummaryPanel(QWidget):
    """``node_selected(node_id)`` when the user selects a row."""

    node_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.info: GraphInfo | None = None
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setObjectName("summaryTable")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.totals = QLabel()
        self.totals.setObjectName("summaryTotals")
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals.setContentsMargins(4, 2, 4, 2)
        self.totals.setWordWrap(True)  # a narrow dock (beside the live plots) wraps the totals, never cuts them
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.update_info(None, None)

    # -- data ---------------------------------------------------------------------------------------------
    def set_graph(self, graph: Graph) -> None:
        self.graph = graph

    def update_info(self, graph: Graph | None, info: GraphInfo | None) -> None:
        if graph is not None:
            self.graph = graph
        self.info = info
        selected = self.selected_node_id()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        rows = summary_rows(self.graph, info) if (self.graph is not None and info is not None) else []
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                problem = bool(info.nodes[row.node_id].problems)
                cells = (one_line(row.name), row.type_title, one_line(row.shape), f"{row.params:,}")
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(ID_ROLE, row.node_id)
                    if c == 0 and row.name != row.node_id:
                        item.setToolTip(tooltip(row.node_id))
                    if c in (2, 3):
                        item.setFont(mono)
                    if c == 3:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if problem and c == 2:
                        item.setForeground(QBrush(QColor("#c0392b")))
                        item.setToolTip(tooltip("; ".join(info.nodes[row.node_id].problems)))
                    self.table.setItem(r, c, item)
            if selected:
                self.select_node(selected)
        total = info.total_params if info else 0
        trainable = info.trainable_params if info else 0
        self.total_params, self.trainable_params = total, trainable
        self.totals.setText(f"<b>Total&nbsp;params:</b> {total:,} &nbsp; <b>Trainable:</b> {trainable:,} "
                            f"&nbsp; <b>Non&#8209;trainable:</b> {total - trainable:,}")

    def row_count(self) -> int:
        return self.table.rowCount()

    def row_of(self, node_id: str) -> int:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(ID_ROLE) == node_id:
                return r
        return -1

    # -- selection ----------------------------------------------------------------------------------------
    def selected_node_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(ID_ROLE) if rows else None

    def select_node(self, node_id: str | None) -> None:
        """Follow the canvas selection without emitting ``node_selected``."""
        with QSignalBlocker(self.table):
            row = self.row_of(node_id) if node_id else -1
            if row < 0:
                self.table.clearSelection()
            else:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
        self.table.viewport().update()

    def _on_selection(self) -> None:
        node_id = self.selected_node_id()
        if node_id:
            self.node_selected.emit(node_id)
