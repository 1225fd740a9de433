"""Two workspaces of the main window, switched by the tab bar at its top (View > Build / Train, Ctrl+1 / Ctrl+2):

- **Build** gives the canvas the room: the layer palette left, the Inspector (with the Dataset, Training and
  Predict panels tabbed behind it) right, the model summary below. Problems have no panel of their own here
  while there are none: their count is on the Build tab and in the status bar, and either opens the list.
- **Train** gives the dashboard the room: its plots in a grid across the bottom (``plot_grid``), the training
  controls right (Predict tabbed behind them) and the canvas above as a small overview of the whole network,
  with the health tints.

A workspace is a layout of the same docks (``QMainWindow.saveState``): switching keeps the one left and restores
the other, so each remembers how the person arranged it, across sessions too (``save`` / ``restore``). View >
Reset Layouts puts both back. When training starts in Build, a bar above the canvas offers to switch (or to
switch from now on, which View > Switch to Train When Training Starts turns off again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QObject, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QTabBar, QToolBar, QToolButton

from nnstudio.ui import dock_tabs

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow

BUILD, TRAIN = "build", "train"
NAMES = (BUILD, TRAIN)
TITLES = {BUILD: "Build", TRAIN: "Train"}
SHORTCUTS = {BUILD: "Ctrl+1", TRAIN: "Ctrl+2"}
LAYOUT_VERSION = 3  # of the saved layouts: bump when the set of docks changes (older layouts are then ignored)
# The docks each default layout shows (the others are hidden, each in the place it comes back to).
SHOWN = {BUILD: ("dock_palette", "dock_inspector", "dock_dataset", "dock_training", "dock_predict", "dock_summary"),
         TRAIN: ("dock_inspector", "dock_dataset", "dock_training", "dock_predict", "dock_dashboard", "dock_runs")}
RIGHT_MIN = 310  # the right column's least width: its four tabs (Inspector ... Predict) read whole
RIGHT_MIN_TRAIN = 370  # and with the fifth, Runs, which the Train workspace shows
SWITCH_SETTING = "workspace/switch_on_train"  # "ask" (the default) or "always"
OFFER_TEXT = "Training has started. The Train workspace shows its plots side by side, with room to read them."
OFFER_STYLE = ("QFrame#trainOffer { background: #e8f0fb; border-bottom: 1px solid #9db8dc; }"
               "QFrame#trainOffer QLabel { color: #1d3a5f; }")


class Workspaces(QObject):
    """The window's workspaces: ``current`` (BUILD or TRAIN), ``switch(name)``; ``changed(name)`` after."""

    changed = Signal(str)

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.current = BUILD
        self.layouts: dict[str, QByteArray | None] = {BUILD: None, TRAIN: None}
        self._sizes_pending: str | None = None  # a default layout whose dock sizes wait for the window's size
        self._problems = 0

        self.bar = QTabBar()
        self.bar.setObjectName("workspaceTabs")
        self.bar.setDrawBase(False)
        self.bar.setExpanding(False)
        for name in NAMES:
            self.bar.addTab(TITLES[name])
        self.bar.setTabToolTip(0, f"The network: layers, wiring, settings ({SHORTCUTS[BUILD]})")
        self.bar.setTabToolTip(1, f"Training: the plots side by side, the network as an overview ({SHORTCUTS[TRAIN]})")
        self.bar.currentChanged.connect(lambda index: self.switch(NAMES[index]))
        self.bar.tabBarClicked.connect(self._tab_clicked)
        self.toolbar = QToolBar("Workspaces", window)
        self.toolbar.setObjectName("toolbar_workspaces")
        self.toolbar.setMovable(False)
        self.toolbar.setFloatable(False)
        self.toolbar.toggleViewAction().setVisible(False)  # the only way between the workspaces: always there
        self.toolbar.addWidget(self.bar)

        self.actions: dict[str, QAction] = {}
        for name in NAMES:
            action = QAction(f"&{TITLES[name]} Workspace", window)
            action.setObjectName(f"action_workspace_{name}")
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setCheckable(True)
            action.setStatusTip(self.bar.tabToolTip(NAMES.index(name)))
            action.triggered.connect(lambda _checked=False, name=name: self.switch(name))
            window.addAction(action)
            self.actions[name] = action
        self.actions[BUILD].setChecked(True)
        self.auto_switch = QAction("S&witch to Train When Training Starts", window)
        self.auto_switch.setObjectName("action_auto_switch")
        self.auto_switch.setCheckable(True)
        self.auto_switch.setChecked(window.settings.value(SWITCH_SETTING, "ask") == "always")
        self.auto_switch.toggled.connect(
            lambda on: window.settings.setValue(SWITCH_SETTING, "always" if on else "ask"))
        self.offer = self._offer_bar()
        window.insertToolBar(window.acts.toolbar, self.toolbar)  # first at the top, before the main toolbar
        self._structure = window.saveState(LAYOUT_VERSION)  # where every dock was put: both layouts keep it
        window.session.run_state_changed.connect(self._run_changed)
        window.session.problems_changed.connect(self.show_problem_count)
        self._was_active = False

    # -- the bar that offers to switch --------------------------------------------------------------------
    def _offer_bar(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("trainOffer")
        frame.setStyleSheet(OFFER_STYLE)
        label = QLabel(OFFER_TEXT)
        label.setWordWrap(True)
        switch = QPushButton("Switch to Train")
        switch.setObjectName("offerSwitch")
        switch.setDefault(True)
        switch.clicked.connect(lambda: self.switch(TRAIN))
        always = QPushButton("Always Switch")
        always.setObjectName("offerAlways")
        always.setToolTip("Switch to Train whenever training starts (View menu: turn it off again)")
        always.clicked.connect(self._always)
        close = QToolButton()
        close.setObjectName("offerClose")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Stay in Build")
        close.clicked.connect(lambda: frame.hide())
        row = QHBoxLayout(frame)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(label, 1)
        row.addWidget(switch)
        row.addWidget(always)
        row.addWidget(close)
        frame.hide()
        return frame

    def _always(self) -> None:
        self.auto_switch.setChecked(True)
        self.switch(TRAIN)

    def _run_changed(self, run) -> None:
        """A run that starts in Build offers the Train workspace (or switches, when the person chose that)."""
        active = bool(run.active)
        if active and not self._was_active and self.current == BUILD:
            if self.auto_switch.isChecked():
                self.switch(TRAIN)
            else:
                self.offer.show()
        elif not active:
            self.offer.hide()
        self._was_active = active

    # -- problems -----------------------------------------------------------------------------------------
    def show_problem_count(self, *_args) -> None:
        """The Build tab counts the problems (the status bar does too); a click on either opens the list, and
        the list closes when the last problem is solved (problems take no room while there are none). An empty
        canvas counts none, as the status bar says "empty": a new network is not yet a problem."""
        session = self.window.session
        had, count = self._problems, len(session.problems) if session.graph.nodes else 0
        self._problems = count
        text = TITLES[BUILD] if not count else f"{TITLES[BUILD]} ({count} problem{'s' if count != 1 else ''})"
        if self.bar.tabText(0) != text:
            self.bar.setTabText(0, text)
            self.bar.setTabTextColor(0, Qt.GlobalColor.darkRed if count else self.bar.palette().windowText().color())
        dock = self.window.docks.get("dock_problems")
        if had and not count and not self.window.document.warnings and dock is not None and not dock.isFloating():
            dock.hide()

    def show_problems(self) -> None:
        """Open the Problems list."""
        dock = self.window.docks.get("dock_problems")
        if dock is not None:
            dock.show()
            dock.raise_()

    def _tab_clicked(self, index: int) -> None:
        if NAMES[index] == BUILD and self._problems:
            QTimer.singleShot(0, self.show_problems)  # after the switch that the click also makes

    def add_to_menu(self, menu, reset: QAction) -> None:
        """View > Build / Train Workspace and the switch on training, first in ``menu``; ``reset`` (View >
        Reset Layouts) now puts both workspaces back."""
        first = menu.actions()[0] if menu.actions() else None
        for action in (*self.actions.values(), self.auto_switch):
            menu.insertAction(first, action)
        menu.insertSeparator(first)
        reset.setText("&Reset Layouts")
        reset.setStatusTip("Put the panels and plots of both workspaces back where they started")

    # -- switching ----------------------------------------------------------------------------------------
    def switch(self, name: str) -> None:
        window = self.window
        if name not in NAMES:
            raise ValueError(f"no workspace {name!r}")
        if window.start_page_shown:
            window.hide_start_page()
        if name != self.current:
            self.layouts[self.current] = window.saveState(LAYOUT_VERSION)
            self.current = name
            layout = self.layouts[name]
            if layout is None or not dock_tabs.restore(window, layout, LAYOUT_VERSION):
                self.apply_default(name)
            if name == TRAIN:
                self.offer.hide()
        self._show_current()
        window.fit_soon()
        self.changed.emit(name)

    def _show_current(self) -> None:
        """The tab bar, the View menu and the canvas (an overview in Train) follow ``current``."""
        with QSignalBlocker(self.bar):
            self.bar.setCurrentIndex(NAMES.index(self.current))
        for other, action in self.actions.items():
            action.setChecked(other == self.current)
        self.window.view.set_overview(self.current == TRAIN)

    def apply_default(self, name: str) -> None:
        """Lay the docks out as ``name`` first shows them (the dock sizes once the window has its size)."""
        window, docks = self.window, self.window.docks
        for dock in docks.values():
            dock.setFloating(False)
        self.toolbar.show()
        window.acts.toolbar.show()
        # Both layouts keep every dock where the window first put it (palette left; Inspector, Dataset,
        # Training and Predict tabbed right; summary, problems and dashboard below) and differ in what is
        # shown and how big: Qt leaves stray tab bars on screen when code moves tabbed docks between groups.
        dock_tabs.restore(window, self._structure, LAYOUT_VERSION)
        front = "dock_inspector" if name == BUILD else "dock_training"
        shown = set(SHOWN[name])
        for dock_name, dock in docks.items():
            dock.setVisible(dock_name in shown or dock_name not in _KNOWN)
        docks[front].raise_()
        self._sizes_pending = name
        if window.isVisible():
            self.apply_default_sizes()

    def apply_default_sizes(self) -> None:
        """The dock sizes of the default layout just applied (they need the window laid out at its size)."""
        name, self._sizes_pending = self._sizes_pending, None
        if name is None:
            return
        window, docks = self.window, self.window.docks
        width, height = window.width(), window.height()
        if name == BUILD:
            window.resizeDocks([docks["dock_palette"], docks["dock_inspector"]],
                               [max(180, width // 6), max(RIGHT_MIN, width // 4)], Qt.Orientation.Horizontal)
            window.resizeDocks([docks["dock_summary"]], [max(160, height // 4)], Qt.Orientation.Vertical)
        else:
            window.resizeDocks([docks["dock_training"]], [max(RIGHT_MIN_TRAIN, width // 5)], Qt.Orientation.Horizontal)
            window.resizeDocks([docks["dock_dashboard"]], [int(height * 0.62)], Qt.Orientation.Vertical)

    @property
    def sizes_pending(self) -> bool:
        return self._sizes_pending is not None

    def reset(self) -> None:
        """View > Reset Layouts: both workspaces and the plot grid as they first were."""
        self.layouts = {BUILD: None, TRAIN: None}
        self.window.training.dashboard.grid.arrange_default()
        self.apply_default(self.current)
        self.window.fit_soon()

    # -- kept across sessions -----------------------------------------------------------------------------
    def save(self, settings, current_layout: QByteArray) -> None:
        """Into ``settings``: which workspace is shown, each one's layout (``current_layout`` for the one
        shown) and the plot grid's arrangement."""
        layouts = dict(self.layouts, **{self.current: current_layout})
        settings.setValue("window/workspace", self.current)
        for name in NAMES:
            settings.setValue(f"window/layout_{name}", layouts[name] if layouts[name] is not None else QByteArray())
        settings.setValue("window/plot_grid", self.window.training.dashboard.grid.save_state())

    def restore(self, settings) -> bool:
        """The layouts saved by ``save``; True when the shown workspace's layout was restored (else its
        default layout is applied)."""
        for name in NAMES:
            value = settings.value(f"window/layout_{name}")
            self.layouts[name] = value if isinstance(value, QByteArray) and not value.isEmpty() else None
        self.window.training.dashboard.grid.restore_state(settings.value("window/plot_grid"))
        name = settings.value("window/workspace", BUILD)
        name = name if name in NAMES else BUILD
        self.current = name
        layout = self.layouts[name]
        restored = layout is not None and dock_tabs.restore(self.window, layout, LAYOUT_VERSION)
        if not restored:
            self.apply_default(name)
        self._show_current()
        return restored


# the docks the default layouts place (a dock added later by another part keeps wherever add_dock put it)
_KNOWN = {"dock_palette", "dock_inspector", "dock_dataset", "dock_training", "dock_predict", "dock_summary",
          "dock_problems", "dock_dashboard", "dock_runs"}
