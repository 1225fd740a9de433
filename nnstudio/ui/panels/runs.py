"""The Runs panel (issue 15): every training run of the project in a table, oldest first, to compare them.

A pure view: a controller feeds it ``core.runs.runs_table(project)`` rows and the run dicts (:meth:`show_runs`),
a sweep's progress (:meth:`show_sweep`) and results (:meth:`show_results`), and the panel emits signals asking
for changes (rename, pin, delete, restore, branch, export, sweep); it never changes the project itself.

The table: Name (editable with a double-click or F2; a colour swatch when the run is compared, the same colour the
dashboard's compare plot gives it), the best validation accuracy (or loss), the settings (the ones that differ from
the previous run bold on a tint), when it started, how long it took, whether the network was edited since, and a
pin. The runs of one sweep sit under a row of their own; selecting it selects them. Below the table, in a vertical
splitter, the sweep's progress and its results (runs_sweep.py), each hidden while empty.

Run names come from a file: the table shows them as plain text (tree items never interpret markup), tooltips go
through ``safe_text.tooltip`` and dialogs through ``safe_text.message_box``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QIcon,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.runs import MAX_PINNED, MAX_RUN_NAME
from nnstudio.ui.panels.runs_sweep import (
    SweepProgress,
    SweepResults,
    format_accuracy,
    format_duration,
    format_loss,
    format_lr,
    format_setting,
    format_started,
    pin_mark,
    real,
    run_tip,
    swatch_pixmap,
)
from nnstudio.ui.plots import COLORS
from nnstudio.ui.safe_text import message_box, one_line, plain_label, tooltip

ID_ROLE = Qt.ItemDataRole.UserRole  # a run row: its id; a sweep's row: ""
GROUP_ROLE = Qt.ItemDataRole.UserRole + 1  # a sweep's row: the sweep id
SWATCH_ROLE = Qt.ItemDataRole.UserRole + 2  # a compared run: its colour ("#4e79a7"); None otherwise
COLUMNS = ("Name", "Best val acc", "Epochs", "Optimizer", "LR", "Batch", "Stop", "Started", "Duration", "Graph",
           "Pinned")
NAME, BEST, EPOCHS, OPTIMIZER, LR, BATCH, STOP, STARTED, DURATION, GRAPH, PINNED = range(len(COLUMNS))
SETTING_COLUMNS = {"optimizer": OPTIMIZER, "lr": LR, "batch_size": BATCH, "epochs": EPOCHS}
EMPTY_TEXT = "No runs yet: press Train (F5). Every run is kept here to compare."
GRAPH_CHANGED_TIP = "The network was edited since this run; Restore puts this run's network back"
GRAPH_UNKNOWN_TIP = "Not known: this run's network or the current one cannot be fingerprinted"
DIFFERS_TINT = QColor(240, 170, 30, 60)  # soft amber, readable on light and dark palettes
_STOP = {"completed": "completed", "stopped": "stopped", "early_stopping": "early stop"}
_HEADER_TIPS = {"Epochs": "Epochs trained", "LR": "Learning rate", "Batch": "Batch size",
                "Stop": "Why the run ended", "Started": "When the run started (local time)",
                "Graph": "Whether the network was edited since the run", "Pinned": "A pinned run keeps its weights"}
_BUSY_ACTIONS = ("restore", "branch", "delete", "pin", "sweep")


class _NameDelegate(QStyledItemDelegate):
    """Edits only a run's Name; committing asks the panel (the model is never written: the controller's
    show_runs shows the new name), Escape cancels."""

    def __init__(self, panel: RunsPanel) -> None:
        super().__init__(panel.tree)
        self.panel = panel

    def createEditor(self, parent, option, index):
        if index.column() != NAME or not index.data(ID_ROLE):
            return None
        editor = QLineEdit(parent)
        editor.setMaxLength(MAX_RUN_NAME)
        return editor

    def setEditorData(self, editor, index) -> None:
        row = self.panel._rows_by_id.get(index.data(ID_ROLE)) or {}
        editor.setText(one_line(row.get("name", ""), MAX_RUN_NAME))
        editor.selectAll()

    def setModelData(self, editor, model, index) -> None:
        self.panel._commit_name(index.data(ID_ROLE), editor.text())


class RunsPanel(QWidget):
    """The runs of a project; see the module docstring. Signals ask the controller for changes."""

    rename_requested = Signal(str, str)
    pin_requested = Signal(str, bool)
    delete_requested = Signal(list)
    restore_requested = Signal(str)
    branch_requested = Signal(str)
    compare_changed = Signal(list)
    export_csv_requested = Signal(list)
    sweep_requested = Signal()
    offer_accepted = Signal()               # the offer bar's "Run Sweep" (the project's saved sweep, one click)
    stop_sweep_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self._rows: list[dict] = []
        self._rows_by_id: dict[str, dict] = {}
        self._runs_by_id: dict[str, dict] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._groups_on: set[str] = set()
        self._compare: list[str] = []
        self._busy: str | None = None
        self._best_key = "best_val_accuracy"
        self._syncing = False
        self.actions_by_name: dict[str, QAction] = {}
        self.toolbar = QToolBar("Runs", self)
        self.toolbar.setObjectName("runsToolbar")
        self.toolbar.setIconSize(QSize(16, 16))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for name, text, slot in (("restore", "Restore", self._restore), ("branch", "Branch…", self._branch),
                                 ("pin", "Pin", self._pin), ("delete", "Delete", self._delete),
                                 ("csv", "Export CSV…", self._export), ("sweep", "Sweep…", self.sweep_requested.emit)):
            action = QAction(text, self)
            action.setObjectName(f"action_runs_{name}")
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            self.actions_by_name[name] = action
            self.toolbar.addAction(action)
        self.rename_action = QAction("Rename", self)
        self.rename_action.setObjectName("action_runs_rename")
        self.rename_action.triggered.connect(self.edit_name)

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("runsTable")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        for i, column in enumerate(COLUMNS):
            if column in _HEADER_TIPS:
                self.tree.headerItem().setToolTip(i, _HEADER_TIPS[column])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # double-click / F2 on Name only
        self.tree.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setIconSize(QSize(12, 12))
        self.tree.setIndentation(14)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._fitting, self._user_sized, self._name_width = False, False, 110
        self.tree.header().sectionResized.connect(self._on_section_resized)
        self.tree.setItemDelegate(_NameDelegate(self))
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.installEventFilter(self)
        self.empty = plain_label(EMPTY_TEXT, self)
        self.empty.setObjectName("runsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setMargin(8)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)

        self.sweep = SweepProgress(self)
        self.sweep.stop_requested.connect(self.stop_sweep_requested)
        self.results = SweepResults(self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("runsSplitter")
        for widget in (self.stack, self.sweep, self.results):
            self.splitter.addWidget(widget)
        self.splitter.setCollapsible(0, False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self._offer_bar())
        layout.addWidget(self.splitter, 1)
        self.show_runs([], [])
        self.show_sweep(None, [], False)
        self.show_results(None, [])

    # -- feeding -----------------------------------------------------------------------------------------------
    def show_runs(self, rows: list[dict], runs: list[dict]) -> None:
        """Rebuild the table from runs_table rows and the run dicts; keep the selection of the runs still there
        (compare_changed only when it changed) and scroll to the newest run when one was added."""
        before, keep = set(self._items), self.selected_ids()
        self._rows = [r for r in rows or [] if isinstance(r, dict) and isinstance(r.get("id"), str)]
        self._rows_by_id = {r["id"]: r for r in self._rows}
        self._runs_by_id = {r["id"]: r for r in runs or [] if isinstance(r, dict) and isinstance(r.get("id"), str)}
        accuracy = any(real(r.get("best_val_accuracy")) for r in self._rows)
        self._best_key = "best_val_accuracy" if accuracy or not any(real(r.get("best_val_loss")) for r in
                                                                    self._rows) else "best_val_loss"
        self.tree.headerItem().setText(BEST, "Best val acc" if self._best_key == "best_val_accuracy" else
                                       "Best val loss")
        self._syncing = True
        try:
            self.tree.clear()
            self._items, self._groups, self._groups_on = {}, {}, set()
            for row in self._rows:
                parent = None
                sweep = row.get("sweep")
                if isinstance(sweep, str) and sweep:
                    parent = self._groups.get(sweep) or self._group_item(sweep)
                item = QTreeWidgetItem(parent) if parent is not None else QTreeWidgetItem(self.tree)
                self._fill(item, row)
                self._items[row["id"]] = item
            for sweep, group in self._groups.items():
                self._fill_group(group, sweep)
                group.setExpanded(True)
            for run_id in keep:
                if run_id in self._items:
                    self._items[run_id].setSelected(True)
            self._sync_groups()
        finally:
            self._syncing = False
        self.stack.setCurrentWidget(self.tree if self._rows else self.empty)
        self._fit_columns()
        if self._rows and set(self._items) - before:
            self._scroll_to(self._rows[-1]["id"])
            QTimer.singleShot(0, lambda run_id=self._rows[-1]["id"]: self._scroll_to(run_id))  # after the layout
        self._selection_settled()

    def _scroll_to(self, run_id: str) -> None:
        item = self._items.get(run_id)
        if item is not None:
            self.tree.scrollToItem(item)

    def _offer_bar(self) -> QFrame:
        self.offer = QFrame(self)
        self.offer.setObjectName("runsOffer")
        self.offer.setStyleSheet("QFrame#runsOffer { background: #e8f0fb; border: 1px solid #9db8dc; }"
                                 "QFrame#runsOffer QLabel { color: #1d3a5f; }")
        self.offer_text = plain_label("", self.offer)
        self.offer_text.setWordWrap(True)
        self.offer_button = QPushButton("Run Sweep", self.offer)
        self.offer_button.setObjectName("runsOfferButton")
        self.offer_button.clicked.connect(self.offer_accepted)
        row = QHBoxLayout(self.offer)
        row.setContentsMargins(6, 4, 6, 4)
        row.addWidget(self.offer_text, 1)
        row.addWidget(self.offer_button, 0, Qt.AlignmentFlag.AlignTop)
        self.offer.setVisible(False)
        return self.offer

    def show_offer(self, text: str | None) -> None:
        """A sweep the project comes with, offered in one click ("Run Sweep"); None: no offer."""
        if text:
            self.offer_text.setText(one_line(text, 400))
        self.offer.setVisible(bool(text))

    def show_sweep(self, sweep_id: str | None, points: list[dict], running: bool) -> None:
        """A sweep's progress: its points with their states, Stop while ``running``; hidden when there is none."""
        self.sweep.show_sweep(sweep_id, points, running)

    def show_results(self, sweep_id: str | None, rows: list[dict]) -> None:
        """A sweep's results table (core.sweep.results_table rows); hidden when there are none."""
        self.results.show_results(sweep_id, rows)

    def set_busy(self, why: str | None) -> None:
        """While training runs (``why`` says so) Restore, Branch, Delete, Pin and Sweep are off; None: back on."""
        self._busy = one_line(why, 300) if why else None
        self._update_actions()

    # -- selection ---------------------------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        """The selected runs' ids in table order (oldest first)."""
        return [run_id for run_id in self._order() if self._items[run_id].isSelected()]

    def set_selected(self, ids: list[str]) -> None:
        """Select exactly these runs (unknown ids are ignored); compare_changed when that changes the selection."""
        wanted = set(ids or [])
        self._syncing = True
        try:
            self.tree.clearSelection()
            for run_id in self._order():
                if run_id in wanted:
                    self._items[run_id].setSelected(True)
            self._sync_groups()
        finally:
            self._syncing = False
        self._selection_settled()

    def _order(self) -> list[str]:
        out: list[str] = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.data(0, ID_ROLE):
                out.append(top.data(0, ID_ROLE))
            out.extend(top.child(j).data(0, ID_ROLE) for j in range(top.childCount()))
        return out

    def _on_selection(self) -> None:
        """A sweep's row selected selects its runs; unselected (with all its runs still selected) unselects them.
        Then a sweep's row is selected exactly when all its runs are."""
        if self._syncing:
            return
        self._syncing = True
        try:
            for sweep, group in self._groups.items():
                children = [group.child(i) for i in range(group.childCount())]
                if group.isSelected() and sweep not in self._groups_on:
                    for child in children:
                        child.setSelected(True)
                elif not group.isSelected() and sweep in self._groups_on and all(c.isSelected() for c in children):
                    for child in children:
                        child.setSelected(False)
            self._sync_groups()
        finally:
            self._syncing = False
        self._selection_settled()

    def _sync_groups(self) -> None:
        for group in self._groups.values():
            children = [group.child(i) for i in range(group.childCount())]
            group.setSelected(bool(children) and all(c.isSelected() for c in children))
        self._groups_on = {s for s, g in self._groups.items() if g.isSelected()}

    def _selection_settled(self) -> None:
        ids = self.selected_ids()
        colours = {run_id: COLORS[i % len(COLORS)] for i, run_id in enumerate(ids)}
        for run_id, item in self._items.items():
            colour = colours.get(run_id)
            item.setData(NAME, SWATCH_ROLE, colour)
            icon = QIcon(swatch_pixmap(colour))
            icon.addPixmap(swatch_pixmap(colour), QIcon.Mode.Selected)  # the true colour, not tinted by the highlight
            item.setIcon(NAME, icon)
        self._update_actions()
        if ids != self._compare:
            self._compare = ids
            self.compare_changed.emit(list(ids))

    # -- rows ----------------------------------------------------------------------------------------------------
    def _group_item(self, sweep: str) -> QTreeWidgetItem:
        group = QTreeWidgetItem(self.tree)
        group.setData(0, ID_ROLE, "")
        group.setData(0, GROUP_ROLE, sweep)
        group.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
        self._groups[sweep] = group
        return group

    def _fill_group(self, group: QTreeWidgetItem, sweep: str) -> None:
        rows = [self._rows_by_id[group.child(i).data(0, ID_ROLE)] for i in range(group.childCount())]
        count = len(rows)
        group.setText(NAME, one_line(f"{sweep} ({count} run{'s' if count != 1 else ''})", 100))
        values = [r.get(self._best_key) for r in rows if real(r.get(self._best_key))]
        if values:
            pick = max if self._best_key == "best_val_accuracy" else min
            group.setText(BEST, self._best_text(pick(values)))
        group.setText(STARTED, format_started(rows[0].get("started"))[0] if rows else "")
        durations = [r["duration_s"] for r in rows if real(r.get("duration_s"))]
        group.setText(DURATION, format_duration(sum(durations)) if durations else "")
        tip = tooltip(f"The {count} run{'s' if count != 1 else ''} of {sweep}: select this row to compare them all")
        for column in range(len(COLUMNS)):
            group.setToolTip(column, tip)
            if column in (BEST, EPOCHS, LR, BATCH, DURATION):
                group.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def _best_text(self, value: Any) -> str:
        return format_accuracy(value) if self._best_key == "best_val_accuracy" else format_loss(value)

    def _fill(self, item: QTreeWidgetItem, row: dict) -> None:
        run = self._runs_by_id.get(row["id"], {})
        item.setData(0, ID_ROLE, row["id"])
        item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsEditable)
        started, started_full = format_started(row.get("started"))
        graph = row.get("graph_changed")
        name = one_line(row.get("name", ""), MAX_RUN_NAME)
        sweep = row.get("sweep")
        if isinstance(sweep, str) and sweep and name.endswith(f" ({sweep})"):
            name = name[: -len(sweep) - 3]  # under its sweep's row, the sweep need not be said again
        texts = {
            NAME: name, BEST: self._best_text(row.get(self._best_key)),
            EPOCHS: str(row["epochs"]) if real(row.get("epochs")) else "",
            OPTIMIZER: format_setting("optimizer", row.get("optimizer")), LR: format_lr(row.get("lr")),
            BATCH: format_setting("batch_size", row.get("batch_size")),
            STOP: _STOP.get(row.get("stop_reason"), one_line(row.get("stop_reason") or "", 40)),
            STARTED: started, DURATION: format_duration(row.get("duration_s")),
            GRAPH: "changed" if graph is True else "" if graph is False else "?",
            PINNED: pin_mark(self) if row.get("pinned") else "",
        }
        for column, text in texts.items():
            item.setText(column, text)
        for column in (BEST, EPOCHS, LR, BATCH, DURATION):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        differs = [str(d) for d in row.get("differs") or []]
        for setting, column in SETTING_COLUMNS.items():
            if setting in differs:
                font = item.font(column)
                font.setBold(True)
                item.setFont(column, font)
                item.setBackground(column, QBrush(DIFFERS_TINT))
        tip = tooltip(run_tip(row, run, differs, started_full))
        for column in range(len(COLUMNS)):
            item.setToolTip(column, tip)
        if graph is True:
            item.setToolTip(GRAPH, tooltip(GRAPH_CHANGED_TIP))
        elif graph is None:
            item.setToolTip(GRAPH, tooltip(GRAPH_UNKNOWN_TIP))

    def _fit_columns(self) -> None:
        """Every column to its contents, then Name narrowed so the best value still shows in a narrow dock."""
        self._fitting = True
        try:
            header = self.tree.header()
            header.resizeSections(QHeaderView.ResizeMode.ResizeToContents)
            self._name_width = header.sectionSize(NAME)
            self._fit_name()
        finally:
            self._fitting = False

    def _fit_name(self) -> None:
        header = self.tree.header()
        room = self.tree.viewport().width() - header.sectionSize(BEST) - 4
        self._fitting = True
        try:
            header.resizeSection(NAME, max(110, min(self._name_width, 240, room)))
        finally:
            self._fitting = False

    def _on_section_resized(self, index: int, _old: int, _new: int) -> None:
        if index == NAME and not self._fitting:
            self._user_sized = True  # the person chose the width: resizing the dock keeps it

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._user_sized:
            self._fit_name()

    # -- actions -----------------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        ids = self.selected_ids()
        row = self._rows_by_id.get(ids[0]) if len(ids) == 1 else None
        name = one_line(row.get("name", ""), 60) if row else ""
        acts = self.actions_by_name
        full = sum(bool(r.get("pinned")) for r in self._rows) >= MAX_PINNED
        states = {
            "restore": (row is not None, f"Put the network and training settings of {name} on the canvas" if row
                        else "Select one run to put its network and settings on the canvas"),
            "branch": (row is not None and bool(row.get("weights")),
                       "Select one run to train a new run from its kept weights" if row is None else
                       f"Train a new run from the kept weights of {name}" if row.get("weights") else
                       f"{name} kept no weights: only pinned runs and the latest one keep theirs (pin a run to "
                       "keep its weights)"),
            "pin": (row is not None and (bool(row.get("pinned")) or not full),
                    "Select one run to pin it (a pinned run keeps its weights)" if row is None else
                    f"Unpin {name}: it loses its kept weights unless it is the latest run" if row.get("pinned")
                    else f"At most {MAX_PINNED} runs can be pinned: unpin one first" if full
                    else f"Pin {name}: it and its weights are kept when newer runs come"),
            "delete": (bool(ids), f"Delete the {len(ids)} selected run{'s' if len(ids) != 1 else ''} and their kept "
                       "weights (Delete key)" if ids else "Select the runs to delete"),
            "csv": (bool(self._rows), "Export the epochs of the selected runs (all runs when none is selected) to "
                    "a CSV file" if self._rows else "No runs to export yet"),
            "sweep": (True, "Train the network over a grid of settings, each point over one or more seeds"),
        }
        acts["pin"].setText("Unpin" if row is not None and row.get("pinned") else "Pin")
        for key, (enabled, tip) in states.items():
            if self._busy is not None and key in _BUSY_ACTIONS:
                enabled, tip = False, self._busy
            acts[key].setEnabled(enabled)
            acts[key].setToolTip(tooltip(tip))
        self.rename_action.setEnabled(row is not None)
        self.offer_button.setEnabled(self._busy is None)
        self.offer_button.setToolTip(tooltip(self._busy or "Train the sweep this project comes with"))

    def action(self, name: str) -> QAction:
        """The action ``name`` (restore, branch, pin, delete, csv, sweep)."""
        return self.actions_by_name[name]

    def _one(self) -> str | None:
        ids = self.selected_ids()
        return ids[0] if len(ids) == 1 else None

    def _restore(self) -> None:
        if self.action("restore").isEnabled() and self._one():
            self.restore_requested.emit(self._one())

    def _branch(self) -> None:
        if self.action("branch").isEnabled() and self._one():
            self.branch_requested.emit(self._one())

    def _pin(self) -> None:
        run_id = self._one()
        if self.action("pin").isEnabled() and run_id:
            self.pin_requested.emit(run_id, not self._rows_by_id[run_id].get("pinned"))

    def _delete(self) -> None:
        ids = self.selected_ids()
        if not ids or not self.action("delete").isEnabled():
            return
        if len(ids) == 1:
            name = one_line(self._rows_by_id[ids[0]].get("name", ""), 80)
            text = f"Delete the run “{name}” and its kept weights?\n\nEdit > Undo brings it back."
        else:
            text = f"Delete {len(ids)} runs and their kept weights?\n\nEdit > Undo brings them back."
        if self.confirm("Delete runs", text):
            self.delete_requested.emit(ids)

    def _export(self) -> None:
        if self.action("csv").isEnabled():
            self.export_csv_requested.emit(self.selected_ids() or [r["id"] for r in self._rows])

    def confirm(self, title: str, text: str) -> bool:
        """Ask Yes/No (tests replace this); the text is shown as plain text."""
        box = message_box(self, QMessageBox.Icon.Question, title, text,
                          buttons=QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          default=QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def context_menu(self) -> QMenu:
        """The rows' context menu: the toolbar's actions and Rename."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        acts = self.actions_by_name
        for entry in (acts["restore"], acts["branch"], acts["pin"], self.rename_action, None, acts["delete"], None,
                      acts["csv"], acts["sweep"]):
            menu.addSeparator() if entry is None else menu.addAction(entry)
        return menu

    def _context_menu(self, pos) -> None:
        self.context_menu().exec(self.tree.viewport().mapToGlobal(pos))

    # -- editing the name ------------------------------------------------------------------------------------------
    def edit_name(self) -> None:
        """Start editing the Name of the current (or only selected) run."""
        run_id = self._one()
        current = self.tree.currentItem()
        item = self._items.get(run_id) if run_id else current if current is not None and current.data(0, ID_ROLE) \
            else None
        if item is not None:
            self.tree.setCurrentItem(item, NAME)
            self.tree.editItem(item, NAME)

    def _on_double_click(self, item: QTreeWidgetItem, column: int) -> None:
        if column == NAME and item.data(0, ID_ROLE):
            self.tree.editItem(item, NAME)

    def _commit_name(self, run_id: Any, text: str) -> None:
        row = self._rows_by_id.get(run_id)
        new = one_line(text, MAX_RUN_NAME).strip()
        if row is not None and new and new != one_line(row.get("name", ""), MAX_RUN_NAME).strip():
            self.rename_requested.emit(run_id, new)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The table's own keys: Delete/Backspace delete the selection, F2 renames (no window shortcut)."""
        if watched is self.tree and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            key = event.key()
            plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
            if plain and key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_F2):
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()
                    return True
                self._delete() if key != Qt.Key.Key_F2 else self.edit_name()
                return True
        return super().eventFilter(watched, event)

    # -- for tests and the controller ------------------------------------------------------------------------
    def item(self, run_id: str) -> QTreeWidgetItem | None:
        return self._items.get(run_id)

    def group_item(self, sweep_id: str) -> QTreeWidgetItem | None:
        return self._groups.get(sweep_id)

