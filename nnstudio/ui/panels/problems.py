"""The problems list: every problem of the network, ``node id: message``, after what opening the file left out
or changed (``set_file_warnings``). Clicking a problem asks the window to select and centre its node."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from nnstudio.core.graph import Problem
from nnstudio.core.shapes import GraphInfo
from nnstudio.ui.safe_text import clean, tooltip

ID_ROLE = Qt.ItemDataRole.UserRole


class ProblemsPanel(QWidget):
    """``node_selected(node_id)`` when a problem that belongs to a node is clicked or activated."""

    node_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems: list[Problem] = []
        self.file_warnings: list[str] = []
        self._info: GraphInfo | None = None
        self.list = QListWidget(self)
        self.list.setObjectName("problemsList")
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setUniformItemSizes(False)
        self.list.setIconSize(QSize(16, 16))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._on_item)
        self.list.itemActivated.connect(self._on_item)
        self.update_info(None)

    def set_file_warnings(self, warnings: list[str]) -> None:
        """What opening the project's file left out or changed (shown first, until the next project)."""
        self.file_warnings = [str(w) for w in warnings]
        self.update_info(self._info)

    def update_info(self, info: GraphInfo | None) -> None:
        self._info = info
        self.problems = info.problems() if info is not None else []
        style = self.style()
        warn = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        ok = style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        with QSignalBlocker(self.list):
            self.list.clear()
            for warning in self.file_warnings:
                item = QListWidgetItem(warn, clean(f"File: {warning}", 1000))
                item.setData(ID_ROLE, "")
                item.setToolTip(tooltip(warning))
                self.list.addItem(item)
            for problem in self.problems:
                text = problem.text() if problem.node_id else f"Network: {problem.message}"
                item = QListWidgetItem(warn, clean(text, 1000))
                item.setData(ID_ROLE, problem.node_id or "")
                item.setToolTip(tooltip(problem.message))
                self.list.addItem(item)
            if not self.problems and info is not None:
                item = QListWidgetItem(ok, "No problems: the network is ready to train.")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.list.addItem(item)

    def count(self) -> int:
        return len(self.problems)

    def item_for(self, node_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == node_id:
                return self.list.item(i)
        return None

    def _on_item(self, item: QListWidgetItem) -> None:
        node_id = item.data(ID_ROLE)
        if node_id:
            self.node_selected.emit(node_id)
