"""No text on screen is cut off at 1024 x 700 and above: every label, button, tab, cell, plot title and legend
fits its widget or is elided with the whole text in its tooltip (``text_fit.clipped_texts``). First, that the
walker finds clipped text at all; then the window in each workspace, with each panel raised, before and after
a short run, and the start page."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.ui.elided import ElidedLabel
from nnstudio.ui.main_window import MainWindow
from nnstudio.ui.plots.fit import fit_title
from nnstudio.ui.text_fit import clipped_texts

LONG = "A label whose text is far too long for the narrow box it was given"
RIGHT_DOCKS = ("dock_inspector", "dock_dataset", "dock_training", "dock_predict")


def shown(qtbot, widget: QWidget, width: int, height: int) -> QWidget:
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(10)
    return widget


def box(*children: QWidget, width: int = 90) -> QWidget:
    outer = QWidget()
    outer.setFixedWidth(width)
    layout = QVBoxLayout(outer)
    for child in children:
        layout.addWidget(child)
    return outer


# -- the walker ---------------------------------------------------------------------------------------------
def test_a_long_label_and_a_squeezed_button_are_reported(qtbot):
    label = QLabel(LONG)
    button = QPushButton("Start training now")
    button.setObjectName("squeezed")
    button.setFixedWidth(50)
    root = shown(qtbot, box(label, button), 90, 80)
    found = clipped_texts(root)
    assert len(found) == 2, found
    assert found[0].startswith("QLabel 'A label whose") and "needs" in found[0]
    assert found[1].startswith("QPushButton#squeezed 'Start training now': needs")


def test_an_elided_label_with_its_tooltip_is_fine_a_wrapped_label_cut_at_the_bottom_is_not(qtbot):
    elided = ElidedLabel(LONG)
    wrapped = QLabel(LONG)
    wrapped.setWordWrap(True)
    wrapped.setFixedHeight(18)  # one line of several
    root = shown(qtbot, box(elided, wrapped), 90, 120)
    assert elided.elided and LONG in elided.toolTip()
    found = clipped_texts(root)
    assert len(found) == 1 and found[0].startswith("QLabel 'A label whose"), found
    elided.setToolTip("")
    elided.paintEvent = lambda _event: None  # keep it from laying out (and setting the tooltip) again
    assert any(line.startswith("ElidedLabel") and "tooltip" in line for line in clipped_texts(root))


def test_a_cell_elided_without_its_text_in_a_tooltip_is_reported(qtbot):
    table = QTableWidget(2, 1)
    table.setWordWrap(False)
    table.setItem(0, 0, QTableWidgetItem(LONG))
    table.setItem(1, 0, QTableWidgetItem(LONG))
    table.item(1, 0).setToolTip(LONG)
    table.setColumnWidth(0, 80)
    found = clipped_texts(shown(qtbot, table, 200, 150))
    assert len(found) == 1 and "cell (0, 0)" in found[0], found


def test_text_scrolled_out_of_view_or_hidden_is_not_reported(qtbot):
    content = QWidget()
    content.setFixedSize(150, 1000)
    label = QLabel(LONG, content)
    label.setGeometry(0, 900, 60, 20)
    hidden = QLabel(LONG, content)
    hidden.setGeometry(0, 0, 60, 20)
    hidden.hide()
    scroll = shown(qtbot, QScrollArea(), 180, 200)
    scroll.setWidget(content)
    qtbot.wait(10)
    assert clipped_texts(scroll) == []
    scroll.verticalScrollBar().setValue(850)
    qtbot.wait(10)
    found = clipped_texts(scroll)
    assert len(found) == 1 and found[0].startswith("QLabel 'A label whose"), found


def test_a_plot_title_wider_than_its_plot_is_reported_and_fit_title_elides_it(qtbot):
    title = "Outputs on the probe batch, the first image"
    plain, fitted = pg.PlotWidget(), pg.PlotWidget()
    plain.setObjectName("plain")
    plain.getPlotItem().setTitle(title, size="10pt")  # pyqtgraph makes the plot as wide as it, the view cuts it
    fit_title(fitted.getPlotItem(), title, "10pt")
    root = shown(qtbot, box(plain, fitted, width=160), 160, 300)  # kept: qtbot holds no reference
    found = clipped_texts(root)
    assert found and all(line.startswith("PlotWidget#plain ") for line in found), found
    assert "PlotWidget#plain plot text 'Outputs on the probe batch, the first image': needs" in found[0]
    label = fitted.getPlotItem().titleLabel
    assert label.text.endswith("…") and title in label.toolTip()


# -- the window -----------------------------------------------------------------------------------------------
@pytest.fixture
def make_window(open_window, qtbot):
    def make(size) -> MainWindow:
        w = open_window(size, "digits_cnn", f"{size[0]}.ini")
        qtbot.wait(100)
        assert (w.width(), w.height()) == size  # nothing held the window larger than the screen it is made for
        return w
    return make


def check(w: MainWindow, where: str, qtbot) -> list[str]:
    qtbot.wait(50)
    return [f"{where}: {line}" for line in clipped_texts(w)]


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_no_text_is_cut_off_in_either_workspace_or_on_the_start_page(make_window, qtbot, size):
    w = make_window(size)
    clipped = []
    nodes = list(w.document.graph.nodes)
    for node_id in nodes if size == (1024, 700) else nodes[:2]:  # the Inspector of every layer where it is tightest
        w.scene.select_nodes([node_id])
        w.docks["dock_inspector"].raise_()
        clipped += check(w, f"Build, Inspector of {node_id}", qtbot)
    for name in RIGHT_DOCKS[1:]:
        w.docks[name].raise_()
        clipped += check(w, f"Build, {name}", qtbot)
    w.workspaces.switch("train")
    clipped += check(w, "Train", qtbot)
    for name in RIGHT_DOCKS:
        w.docks[name].raise_()
        clipped += check(w, f"Train, {name}", qtbot)
    w.show_start_page()
    clipped += check(w, "start page", qtbot)
    assert not clipped, "clipped text:\n" + "\n".join(clipped)


def test_no_text_is_cut_off_during_and_after_a_short_run(make_window, qtbot):
    w = make_window((1024, 700))
    assert w.training.edit_training(dict(w.session.training, epochs=2))
    qtbot.waitUntil(lambda: w.session.readiness == "ready", timeout=20000)
    w.workspaces.switch("train")
    assert w.training.start()
    qtbot.waitUntil(lambda: w.session.run.active and w.session.run.progress > 0.05, timeout=30000)
    clipped = check(w, "Train, training", qtbot)
    qtbot.waitUntil(lambda: not w.training.worker.running, timeout=60000)
    clipped += check(w, "Train, trained", qtbot)
    grid = w.training.dashboard.grid
    for key in grid.cells:  # each plot in front of the ones it is tabbed with
        grid.show_plot(key)
        clipped += check(w, f"Train, plot {key}", qtbot)
    grid.arrange_default()
    for name in RIGHT_DOCKS:
        w.docks[name].raise_()
        clipped += check(w, f"Train, {name}", qtbot)
    w.workspaces.switch("build")
    for name in RIGHT_DOCKS:
        w.docks[name].raise_()
        clipped += check(w, f"Build, {name}", qtbot)
    assert not clipped, "clipped text:\n" + "\n".join(clipped)
