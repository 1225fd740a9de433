"""The dashboard's plots as a grid the person can rearrange: each plot is a dock of a small inner QMainWindow
(no central widget), so a plot can be dragged beside, above or onto (tabbed with) another, floated, closed
(the Plots menu brings it back) or maximised (the button in its title bar, or a double-click on the title),
which hides the others until it is restored. The arrangement is ``save_state`` / ``restore_state``: the window
keeps it with the Train workspace's layout.

The default arrangement shows the loss, the metrics, the weight histograms and the activations at once, two by
two, with the learning rate, the confusion matrix, the decision boundary and the runs compared tabbed behind
them.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStyle,
    QToolButton,
    QWidget,
)

from nnstudio.ui import dock_tabs
from nnstudio.ui.elided import ElidedLabel
from nnstudio.ui.pinned import Pinned

GRID_VERSION = 2  # of save_state: bump when the set of plots changes
# (key, neighbour): in the default arrangement, ``key`` is tabbed behind ``neighbour``
TABBED_BEHIND = (("lr", "loss"), ("confusion", "metrics"), ("boundary", "activations"), ("compare", "weights"))
FRONT = ("loss", "metrics", "weights", "activations")  # the two-by-two grid, row by row


class CellTitle(QWidget):
    """A plot's title bar: its name (elided, the whole name as tooltip) and a maximise / restore button. Mouse
    presses it does not use go to the dock, which moves it as a native title bar would."""

    def __init__(self, title: str, on_maximise, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plotCellTitle")
        self.label = ElidedLabel(title)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = QToolButton()
        self.button.setObjectName("plotMaximise")
        self.button.setAutoRaise(True)
        self.button.clicked.connect(on_maximise)
        self._on_maximise = on_maximise
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 1, 2, 1)
        row.setSpacing(4)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.row = row
        self.set_maximised(False)

    def add_control(self, widget: QWidget) -> None:
        """Put one of the plot's own controls (a Log scale box) in the title bar, left of the button."""
        self.row.insertWidget(self.row.count() - 1, widget)

    def set_maximised(self, maximised: bool) -> None:
        icon = QStyle.StandardPixmap.SP_TitleBarNormalButton if maximised else QStyle.StandardPixmap.SP_TitleBarMaxButton
        self.button.setIcon(self.style().standardIcon(icon))
        self.button.setToolTip("Show every plot again" if maximised else "Show this plot alone (double-click the title)")

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._on_maximise()
        event.accept()


class PlotCell(QDockWidget):
    def __init__(self, key: str, title: str, widget: QWidget, grid: "PlotGrid") -> None:
        super().__init__(title.replace("&", "&&"), grid)  # a tab shows the window title: & is no mnemonic
        self.key = key
        self.plot = widget
        self.setObjectName(f"plot_{key}")
        self.setWidget(Pinned(widget))  # a plot's new statistics re-lay out that plot, not the whole grid
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.title_bar = CellTitle(title, lambda: grid.toggle_maximised(key), self)
        self.setTitleBarWidget(self.title_bar)
        self.toggleViewAction().setText(title.replace("&", "&&"))


class PlotGrid(QMainWindow):
    """``visible_changed()`` when a plot comes into view or leaves it (the dashboard then draws what is new)."""

    visible_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plotGrid")
        self.setWindowFlags(Qt.WindowType.Widget)
        self.setDockOptions(QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks
                            | QMainWindow.DockOption.AnimatedDocks)
        self.setDocumentMode(True)
        self.cells: dict[str, PlotCell] = {}
        self.maximised: str | None = None
        self._before_maximise: QByteArray | None = None
        self.menu = QMenu("Plots", self)

    def add(self, key: str, title: str, widget: QWidget) -> PlotCell:
        cell = PlotCell(key, title, widget, self)
        self.cells[key] = cell
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, cell)
        cell.visibilityChanged.connect(lambda _visible: self.visible_changed.emit())
        self.menu.addAction(cell.toggleViewAction())
        return cell

    def finish_menu(self) -> None:
        """The Plots menu's last items (after every plot's toggle)."""
        self.menu.addSeparator()
        action = QAction("&Arrange as at First", self.menu)
        action.setObjectName("action_arrange_plots")
        action.triggered.connect(self.arrange_default)
        self.menu.addAction(action)

    # -- arrangement ---------------------------------------------------------------------------------------
    def arrange_default(self) -> None:
        """Loss and metrics above the weights and activations, the other plots tabbed behind them."""
        self._set_maximised(None)
        cells = self.cells
        for cell in cells.values():
            cell.setFloating(False)
            self.removeDockWidget(cell)
        a, b, c, d = (cells[k] for k in FRONT)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, a)
        self.splitDockWidget(a, b, Qt.Orientation.Horizontal)
        self.splitDockWidget(a, c, Qt.Orientation.Vertical)
        self.splitDockWidget(b, d, Qt.Orientation.Vertical)
        for key, neighbour in TABBED_BEHIND:
            self.tabifyDockWidget(cells[neighbour], cells[key])
        for cell in cells.values():
            cell.show()
        for key in FRONT:
            cells[key].raise_()
        self.resizeDocks([a, b], [1, 1], Qt.Orientation.Horizontal)
        self.resizeDocks([a, c], [1, 1], Qt.Orientation.Vertical)

    def show_plot(self, key: str) -> None:
        """Bring ``key``'s plot into view (shown again if closed, in front of the plots it is tabbed with)."""
        cell = self.cells[key]
        if self.maximised not in (None, key):
            self._set_maximised(None)
        cell.show()
        cell.raise_()

    def toggle_maximised(self, key: str) -> None:
        self._set_maximised(None if self.maximised == key else key)

    def _set_maximised(self, key: str | None) -> None:
        if key == self.maximised:
            return
        if self.maximised is not None and self._before_maximise is not None:
            self.cells[self.maximised].title_bar.set_maximised(False)
            state, self._before_maximise = self._before_maximise, None
            self.maximised = None
            dock_tabs.restore(self, state, GRID_VERSION)
        if key is not None:
            self._before_maximise = self.saveState(GRID_VERSION)
            self.maximised = key
            cell = self.cells[key]
            cell.setFloating(False)
            for other in self.cells.values():
                if other is not cell:
                    other.hide()
            cell.show()
            cell.title_bar.set_maximised(True)
        self.visible_changed.emit()

    def save_state(self) -> QByteArray:
        """The arrangement (the one under a maximised plot)."""
        return QByteArray(self._before_maximise) if self._before_maximise is not None else self.saveState(GRID_VERSION)

    def restore_state(self, state) -> bool:
        self._set_maximised(None)
        return isinstance(state, QByteArray) and not state.isEmpty() and dock_tabs.restore(self, state, GRID_VERSION)

    # -- what is on screen ---------------------------------------------------------------------------------
    def visible_keys(self) -> list[str]:
        """The plots on screen now: shown, not behind another plot's tab, with room to draw."""
        return [key for key, cell in self.cells.items()
                if cell.plot.isVisible() and not cell.plot.visibleRegion().isEmpty()]
