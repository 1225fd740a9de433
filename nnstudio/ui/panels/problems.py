"""The problems list: every problem of the project (``session.problems``: the network's, the settings', the
dataset's and whether the data fit), ``node id: message``, after what opening the file left out or changed
(``set_file_warnings``). Clicking a problem asks the window to select and centre its node."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from typing import Sequence

from nnstudio.core.problems import ProjectProblem
from nnstudio.ui.safe_text import clean, tooltip

ID_ROLE = Qt.ItemDataRole.UserRole
_WHERE = {"graph": "Network", "memory": "Memory", "settings": "Training settings", "dataset": "Dataset",
          "data": "Data"}
_CALM = {"ready": "No problems: the project is ready to train.",
         "checking": "Checking: the data are being loaded to see whether they fit the network…",
         "training": "Training: the network, the dataset and the settings are locked until the run ends."}


class ProblemsPanel(QWidget):
    """``node_selected(node_id)`` when a problem that belongs to a node is clicked or activated."""

    node_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems: list[ProjectProblem] = []
        self.file_warnings: list[str] = []
        self._readiness: str | None = None
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
        self.show_problems((), None)

    def bind_session(self, session) -> None:
        """Show ``session``'s problems from now on (its problems, readiness and replaced project)."""
        def show(*_args) -> None:
            self.show_problems(session.problems, "training" if session.locked else session.readiness)

        def run_changed(*_args) -> None:  # the run's progress comes four times a second: only a lock counts
            if (self._readiness == "training") != session.locked:
                show()

        for event in (session.project_replaced, session.problems_changed, session.readiness_changed):
            event.connect(show)
        session.run_state_changed.connect(run_changed)
        show()

    def set_file_warnings(self, warnings: list[str]) -> None:
        """What opening the project's file left out or changed (shown first, until the next project)."""
        self.file_warnings = [str(w) for w in warnings]
        self.show_problems(self.problems, self._readiness)

    def show_problems(self, problems: Sequence[ProjectProblem], readiness: str | None) -> None:
        """The session's problems and readiness ("ready", "problems", "checking", or "training" while a run is
        active; None: nothing to say yet)."""
        self._readiness = readiness
        self.problems = list(problems)
        style = self.style()
        warn = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        ok = style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        wait = style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload)
        with QSignalBlocker(self.list):
            self.list.clear()
            for warning in self.file_warnings:
                item = QListWidgetItem(warn, clean(f"File: {warning}", 1000))
                item.setData(ID_ROLE, "")
                item.setToolTip(tooltip(warning))
                self.list.addItem(item)
            for problem in self.problems:
                text = problem.text() if problem.node_id else f"{_WHERE.get(problem.source, 'Project')}: " \
                    f"{problem.message}"
                item = QListWidgetItem(warn, clean(text, 1000))
                item.setData(ID_ROLE, problem.node_id or "")
                item.setToolTip(tooltip(problem.message))
                self.list.addItem(item)
            if not self.problems and readiness in _CALM:
                item = QListWidgetItem(wait if readiness == "checking" else ok, _CALM[readiness])
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
