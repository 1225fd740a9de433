"""The Build and Train workspaces: switched by the tab bar and shortcuts, each with its own remembered layout,
the plots of Train in a grid, the offer to switch when training starts, and problems without a panel of their
own while there are none."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from nnstudio.core.paths import EXAMPLES
from nnstudio.ui import workspaces as ws
from nnstudio.ui.main_window import MainWindow
from nnstudio.ui.plot_grid import FRONT


def shown_docks(w: MainWindow) -> set[str]:
    return {name for name, dock in w.docks.items() if dock.isVisible()}


@pytest.fixture
def make_window(open_window):
    def make(settings: str = "s.ini", size=(1600, 1000), example: str | None = "spiral_mlp") -> MainWindow:
        return open_window(size, example, settings)
    return make


def test_the_tab_bar_and_shortcuts_switch_between_build_and_train(make_window, qtbot):
    w = make_window()
    bar = w.workspaces.bar
    assert [bar.tabText(i) for i in range(bar.count())] == ["Build", "Train"]
    assert w.toolBarArea(w.workspaces.toolbar) == Qt.ToolBarArea.TopToolBarArea and w.workspaces.toolbar.isVisible()
    assert w.workspaces.current == ws.BUILD
    qtbot.wait(50)
    build_canvas = w.view.width() * w.view.height()
    assert {"dock_palette", "dock_inspector", "dock_summary"} <= shown_docks(w)
    assert "dock_dashboard" not in shown_docks(w)

    assert w.workspaces.actions[ws.TRAIN].shortcut().toString() == "Ctrl+2"
    w.workspaces.actions[ws.TRAIN].trigger()
    qtbot.wait(20)
    assert w.workspaces.current == ws.TRAIN and bar.currentIndex() == 1
    assert {"dock_dashboard", "dock_training"} <= shown_docks(w)
    assert not {"dock_palette", "dock_summary"} & shown_docks(w)
    assert not w.docks["dock_training"].visibleRegion().isEmpty()  # the controls in front of their tab group
    dashboard = w.docks["dock_dashboard"]
    assert dashboard.height() > 0.5 * w.height()  # the dashboard has the room
    assert w.view.height() < 0.35 * w.height()  # the canvas is an overview above the plots
    assert w.view.overview

    bar.setCurrentIndex(0)  # a click on the Build tab
    qtbot.wait(20)
    assert w.workspaces.current == ws.BUILD and not w.view.overview
    assert {"dock_palette", "dock_inspector", "dock_summary"} <= shown_docks(w)
    assert w.view.width() * w.view.height() == pytest.approx(build_canvas, rel=0.05)


def test_the_train_workspace_shows_loss_metrics_weights_and_activations_at_once(make_window, qtbot):
    for size in ((1600, 1000), (1024, 700)):
        w = make_window(settings=f"{size[0]}.ini", size=size)
        w.workspaces.switch(ws.TRAIN)
        qtbot.wait(20)
        grid = w.training.dashboard.grid
        assert grid.visible_keys() == list(FRONT), size
        for key in FRONT:
            plot = grid.cells[key].plot
            assert plot.width() >= 150 and plot.height() >= 100, (size, key, plot.size())


def test_a_plot_can_be_maximised_and_the_grid_comes_back(make_window, qtbot):
    w = make_window()
    w.workspaces.switch(ws.TRAIN)
    qtbot.wait(20)
    grid = w.training.dashboard.grid
    loss_size = grid.cells["loss"].plot.size()
    grid.cells["activations"].title_bar.button.click()
    qtbot.wait(20)
    assert grid.maximised == "activations" and grid.visible_keys() == ["activations"]
    alone = grid.cells["activations"].plot
    assert alone.width() > 1.5 * loss_size.width() and alone.height() > 1.5 * loss_size.height()
    assert w.training.dashboard.current_page() is alone  # Save as PNG takes the plot alone
    grid.cells["activations"].title_bar.button.click()
    qtbot.wait(20)
    assert grid.maximised is None and grid.visible_keys() == list(FRONT)


def test_plots_move_and_close_and_the_plots_menu_brings_them_back(make_window, qtbot):
    w = make_window()
    w.workspaces.switch(ws.TRAIN)
    grid = w.training.dashboard.grid
    grid.cells["weights"].toggleViewAction().trigger()  # closed from the Plots menu
    qtbot.wait(20)
    assert "weights" not in grid.visible_keys()
    grid.tabifyDockWidget(grid.cells["loss"], grid.cells["confusion"])  # dragged onto the loss
    grid.cells["confusion"].raise_()
    qtbot.wait(20)
    assert "confusion" in grid.visible_keys() and "loss" not in grid.visible_keys()
    arrange = next(a for a in grid.menu.actions() if a.objectName() == "action_arrange_plots")
    arrange.trigger()
    qtbot.wait(20)
    assert grid.visible_keys() == list(FRONT)


def test_each_workspace_remembers_its_layout_across_switches_and_sessions(make_window, qtbot):
    w = make_window()
    w.workspaces.switch(ws.TRAIN)
    qtbot.wait(20)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, w.docks["dock_training"])  # the person moves it
    grid = w.training.dashboard.grid
    grid.cells["metrics"].hide()
    w.workspaces.switch(ws.BUILD)
    qtbot.wait(20)
    w.docks["dock_summary"].hide()
    w.workspaces.switch(ws.TRAIN)
    qtbot.wait(20)
    assert w.dockWidgetArea(w.docks["dock_training"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert "metrics" not in grid.visible_keys()
    assert w.close()

    again = make_window()  # the same settings: the Train workspace as it was left, Build as it was
    assert again.workspaces.current == ws.TRAIN and again.workspaces.bar.currentIndex() == 1
    assert again.dockWidgetArea(again.docks["dock_training"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert "metrics" not in again.training.dashboard.grid.visible_keys()
    again.workspaces.switch(ws.BUILD)
    qtbot.wait(20)
    assert not again.docks["dock_summary"].isVisible() and again.docks["dock_palette"].isVisible()

    again.reset_layout()  # View > Reset Layouts: both workspaces as at first
    qtbot.wait(20)
    assert again.docks["dock_summary"].isVisible()
    again.workspaces.switch(ws.TRAIN)
    qtbot.wait(20)
    assert again.dockWidgetArea(again.docks["dock_training"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert again.training.dashboard.grid.visible_keys() == list(FRONT)


def test_starting_training_in_build_offers_the_train_workspace(make_window, qtbot):
    w = make_window()
    assert w.training.edit_training(dict(w.session.training, epochs=1))
    qtbot.waitUntil(lambda: w.session.readiness == "ready", timeout=20000)
    offer = w.workspaces.offer
    assert offer.isHidden()
    assert w.training.start()
    qtbot.waitUntil(lambda: offer.isVisible(), timeout=5000)
    assert w.workspaces.current == ws.BUILD  # offered, not imposed
    assert offer.findChild(QLabel).text() == ws.OFFER_TEXT
    offer.findChild(QPushButton, "offerSwitch").click()
    assert w.workspaces.current == ws.TRAIN and offer.isHidden()
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=60000)

    w.workspaces.switch(ws.BUILD)
    assert w.training.start()  # a trained project asks whether to continue: start over, here
    qtbot.waitUntil(lambda: offer.isVisible() or not w.training.worker.running, timeout=5000)
    offer.findChild(QPushButton, "offerAlways").click()
    assert w.workspaces.current == ws.TRAIN and w.workspaces.auto_switch.isChecked()
    assert w.settings.value(ws.SWITCH_SETTING) == "always"
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=60000)
    assert offer.isHidden()

    w.workspaces.switch(ws.BUILD)
    assert w.training.start()
    qtbot.waitUntil(lambda: w.workspaces.current == ws.TRAIN, timeout=5000)  # switched without asking
    assert offer.isHidden()
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=60000)


def test_problems_are_a_count_on_the_build_tab_and_in_the_status_bar_opening_the_list(make_window, qtbot):
    w = make_window()
    problems = w.docks["dock_problems"]
    assert not problems.isVisible() and w.workspaces.bar.tabText(0) == "Build"
    graph = w.document.graph
    dense = next(nid for nid, node in graph.nodes.items() if node.type_id == "dense")
    w.scene.select_nodes([dense])
    w.delete()  # the network is now broken in two
    qtbot.waitUntil(lambda: bool(w.session.problems), timeout=5000)
    count = len(w.session.problems)
    assert w.workspaces.bar.tabText(0) == f"Build ({count} problem{'s' if count != 1 else ''})"
    assert w.state_label.text() == f"{count} problem{'s' if count != 1 else ''}"
    assert not problems.isVisible()  # a count, not a panel
    w.state_label.click()
    assert problems.isVisible()
    w.document.undo_stack.undo()  # solved
    qtbot.waitUntil(lambda: not w.session.problems, timeout=5000)
    assert not problems.isVisible() and w.workspaces.bar.tabText(0) == "Build"

    w.scene.select_nodes([dense])
    w.delete()
    qtbot.waitUntil(lambda: bool(w.session.problems), timeout=5000)
    w.workspaces.switch(ws.TRAIN)
    w.workspaces.bar.tabBarClicked.emit(0)  # a click on the Build tab, with its count
    w.workspaces.bar.setCurrentIndex(0)
    qtbot.waitUntil(lambda: problems.isVisible(), timeout=2000)
    assert w.workspaces.current == ws.BUILD


def test_the_overview_shows_the_whole_network_and_build_keeps_titles_readable(make_window, qtbot):
    from nnstudio.ui.canvas import style

    w = make_window(example="digits_cnn", size=(1024, 700))
    w.workspaces.switch(ws.TRAIN)
    qtbot.wait(50)
    w.view.fit()
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert shown.contains(w.scene.nodes_rect())  # every layer in the overview
    w.workspaces.switch(ws.BUILD)
    qtbot.wait(50)
    w.view.fit()
    assert w.view.transform().m11() >= style.MIN_READABLE_ZOOM - 1e-6


def test_switching_leaves_no_stray_tab_bars_on_screen(make_window, qtbot):
    """Qt 6.11's restoreState leaves the old tab bar of every group of tabbed docks on screen (dock_tabs)."""
    from PySide6.QtWidgets import QTabBar

    w = make_window()
    for _ in range(3):
        for name in (ws.TRAIN, ws.BUILD):
            w.workspaces.switch(name)
            qtbot.wait(10)
            bars = [b for b in w.findChildren(QTabBar) if b.parent() is w and b.isVisible()]
            # one group of tabbed docks in both layouts: Inspector, Dataset, Training and Predict, on the right,
            # and Runs with them in the Train workspace
            assert len(bars) == 1, (name, [(b.geometry().getRect(), b.count()) for b in bars])
            right = next(w.docks[n] for n in ("dock_inspector", "dock_dataset", "dock_training", "dock_predict",
                                              "dock_runs") if not w.docks[n].visibleRegion().isEmpty()).geometry()
            assert abs(bars[0].x() - right.x()) <= 2 and bars[0].count() == (5 if name == ws.TRAIN else 4)
    bar = next(b for b in w.findChildren(QTabBar) if b.parent() is w and b.isVisible())
    from PySide6.QtTest import QTest

    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(bar.count() - 1).center())
    qtbot.wait(10)
    assert not w.docks["dock_predict"].visibleRegion().isEmpty()  # the bar left on screen is the working one
    assert bar.tabText(bar.count() - 1) == "Predict"


def test_selecting_or_dropping_a_layer_brings_the_inspector_forward(make_window, qtbot):
    w = make_window()
    inspector = w.docks["dock_inspector"]
    w.docks["dock_dataset"].raise_()
    qtbot.wait(10)
    assert inspector.visibleRegion().isEmpty()  # behind the Dataset panel
    dense = next(nid for nid, node in w.document.graph.nodes.items() if node.type_id == "dense")
    w.scene.select_nodes([dense])
    qtbot.wait(10)
    assert not inspector.visibleRegion().isEmpty() and w.inspector.node_id == dense
    w.docks["dock_training"].raise_()
    qtbot.wait(10)
    added = w.add_layer("dropout")  # as a double-click in the palette (a drop selects the new layer too)
    qtbot.wait(10)
    assert added and not inspector.visibleRegion().isEmpty()


def test_an_example_too_long_for_one_readable_row_opens_in_rows(make_window, qtbot):
    from nnstudio.ui.canvas import style

    w = make_window(size=(1024, 700), example=None)
    assert w.open_example_file(EXAMPLES / "digits_cnn.nnstudio")
    qtbot.wait(50)
    rows = {node.position[1] for node in w.document.graph.nodes.values()}
    assert len(rows) >= 2  # the nine layers no longer stand in one row
    assert not w.document.modified and not w.document.undo_stack.canUndo()  # a fresh copy, nothing to undo
    w.view.fit()
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert w.view.transform().m11() >= style.MIN_READABLE_ZOOM - 1e-6
    assert shown.contains(w.scene.nodes_rect())  # readable and whole


def test_the_overview_follows_the_size_of_its_strip(make_window, qtbot):
    w = make_window(example="digits_cnn", size=(1600, 1000))
    w.workspaces.switch(ws.TRAIN)
    qtbot.wait(50)
    w.resize(1024, 700)  # the window gets smaller: the overview strip too
    qtbot.wait(50)
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert shown.contains(w.scene.nodes_rect())


def test_a_run_trained_in_build_is_drawn_when_train_is_opened(make_window, qtbot):
    """The plots are not drawn while Build hides them; opening Train afterwards draws the whole run."""
    w = make_window()
    assert w.training.edit_training(dict(w.session.training, epochs=2))
    qtbot.waitUntil(lambda: w.session.readiness == "ready", timeout=20000)
    assert w.training.start()
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=60000)
    loss = w.training.dashboard.loss
    assert loss.draws == 0  # hidden behind Build the whole run
    w.workspaces.switch(ws.TRAIN)
    qtbot.waitUntil(lambda: loss.draws > 0, timeout=5000)
    (x0, x1), _y = loss.item.getViewBox().viewRange()
    assert x0 <= 0.0 and x1 >= 2.0  # the two epochs are in view
    assert len(loss.raw_curve.xData) > 0 and len(loss.val_curve.xData) == 2  # steps, and both epochs


def test_an_empty_network_counts_no_problems_until_it_has_a_layer(open_window, qtbot):
    """The status bar says "empty" and the Build tab agrees; the first layer brings the count."""
    w = open_window(example=None)
    assert w.new_project()  # the start page's "Empty network"
    qtbot.waitUntil(lambda: w.state_label.text() == "empty", timeout=5000)
    assert w.session.problems  # no Input, no Output, no dataset: true, and not worth a red count yet
    assert w.workspaces.bar.tabText(0) == "Build"
    w.add_layer("dense")
    qtbot.waitUntil(lambda: w.workspaces.bar.tabText(0) != "Build", timeout=5000)
    count = len(w.session.problems)
    assert w.workspaces.bar.tabText(0) == f"Build ({count} problems)" and count >= 3
