"""The model summary, like Keras's: layer, type, output shape and parameters, and at the training batch size each
layer's forward FLOPs and the activation memory it keeps for backward (``core.costs``), with the parameter and
training-memory totals below. It follows ShapeWatcher.inferred; the training settings come in through
``set_training``. Selecting a row asks the window to select and centre that node."""

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

from nnstudio.core import memory
from nnstudio.core.costs import format_flops
from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo
from nnstudio.core.summary import ACTS_NOTE, FLOPS_NOTE, summary_rows, training_totals
from nnstudio.ui.safe_text import one_line, rich, tooltip

HEADERS = ("Layer", "Type", "Output shape", "Param #", "FLOPs", "Act. memory")
NUMBER_COLUMNS = (3, 4, 5)
DEFAULT_BATCH = 32  # TrainConfig's default, until the window says what the project trains with
ID_ROLE = Qt.ItemDataRole.UserRole


class SummaryPanel(QWidget):
    """``node_selected(node_id)`` when the user selects a row."""

    node_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.info: GraphInfo | None = None
        self.batch_size = DEFAULT_BATCH
        self.optimizer = "adam"
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
        # Six columns do not fit a narrow dock: each is as wide as its text and the table scrolls sideways,
        # so no name is cut; the last one takes what room is left.
        for col in range(len(HEADERS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._set_header_tips()
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

    def set_training(self, batch_size: int, optimizer: str = "adam") -> None:
        """The project's training batch size and optimizer: the costs and totals are shown for them."""
        batch, optimizer = max(1, int(batch_size)), str(optimizer)
        if (batch, optimizer) == (self.batch_size, self.optimizer):
            return
        self.batch_size, self.optimizer = batch, optimizer
        self._set_header_tips()
        self.update_info(None, self.info)

    def _set_header_tips(self) -> None:
        notes = {4: f"{FLOPS_NOTE}, at the training batch size ({self.batch_size:,})",
                 5: f"{ACTS_NOTE}, at the training batch size ({self.batch_size:,})"}
        for col, note in notes.items():
            item = self.table.horizontalHeaderItem(col)
            if item is not None:
                item.setToolTip(tooltip(note))

    def update_info(self, graph: Graph | None, info: GraphInfo | None) -> None:
        if graph is not None:
            self.graph = graph
        self.info = info
        selected = self.selected_node_id()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        known = self.graph is not None and info is not None
        rows = summary_rows(self.graph, info, self.batch_size) if known else []
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                problem = bool(info.nodes[row.node_id].problems)
                cells = (one_line(row.name), row.type_title, one_line(row.shape), f"{row.params:,}",
                         "\u2014" if row.flops is None else format_flops(row.flops),
                         "\u2014" if row.saved_bytes is None else memory.format_bytes(row.saved_bytes))
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(ID_ROLE, row.node_id)
                    if c == 0 and row.name != row.node_id:
                        item.setToolTip(tooltip(row.node_id))
                    if c >= 2:
                        item.setFont(mono)
                    if c in NUMBER_COLUMNS:
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
        text = (f"<b>Total&nbsp;params:</b> {total:,} &nbsp; <b>Trainable:</b> {trainable:,} "
                f"&nbsp; <b>Non&#8209;trainable:</b> {total - trainable:,}")
        self.training = training_totals(self.graph, self.batch_size, self.optimizer, info) \
            if known and info.ok else None
        if self.training is not None:
            t, fb = self.training, memory.format_bytes
            text += (f"<br><b>Training&nbsp;memory</b> at batch&nbsp;size {t.batch_size:,}: "
                     f"parameters {fb(t.parameters)} &nbsp; gradients {fb(t.gradients)} &nbsp; "
                     f"{rich(memory._optimizer_title(t.optimizer))}&nbsp;state {fb(t.optimizer_state)} &nbsp; "
                     f"activations {fb(t.activations)} &nbsp; <b>total {fb(t.total)}</b> &nbsp; "
                     f"<b>FLOPs:</b> {format_flops(t.flops)} per batch")
        self.totals.setText(text)
        self.totals.setToolTip(tooltip(f"parameters: {memory.TRAIN_WEIGHT_COPIES} copies (the model and the best "
                                       "epoch's weights); activations: the layer outputs with their gradients, "
                                       "and the inputs, as the memory check counts them"))

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
