"""What the window does while it trains costs the training thread (the GUI thread holds the GIL while it works):
a plot is painted once per new draw, and a changing label re-lays out its own panel, not the window."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from nnstudio.core.training.reports import ActivationReport, ActivationStats, StepReport
from nnstudio.ui.pinned import Pinned
from nnstudio.ui.plots.activations import ActivationsPlot
from nnstudio.ui.plots.loss import LossPlot


class Counter(QObject):
    """Counts events of one type that reach the watched objects."""

    def __init__(self, kind: QEvent.Type, *watched: QObject) -> None:
        super().__init__()
        self.kind, self.count = kind, 0
        for w in watched:
            w.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == self.kind:
            self.count += 1
        return False


def settle(qtbot, rounds: int = 5) -> None:
    for _ in range(rounds):
        QApplication.processEvents()
        qtbot.wait(15)


def paints_per_draw(qtbot, plot, viewport, feed, draws: int = 6) -> list[int]:
    plot.resize(520, 320)
    plot.show()
    qtbot.waitExposed(plot)
    settle(qtbot)
    counter = Counter(QEvent.Type.Paint, viewport)
    out = []
    for i in range(draws):
        feed(i)
        plot.redraw_now()
        before = counter.count
        settle(qtbot)
        out.append(counter.count - before)
    return out


def assert_once_per_draw(counts: list[int]) -> None:
    """A draw is painted once; one that changes the plot's layout (the feature maps appear, the axis labels
    get wider) may take another paint or two, once."""
    assert sorted(counts)[len(counts) // 2] == 1, counts
    assert sum(counts) <= len(counts) + 2, counts


def test_a_curve_whose_range_changes_is_painted_once_per_draw(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    step = [0]

    def feed(i: int) -> None:  # the loss climbs out of the range at every draw: every draw moves the view
        reports = []
        for _ in range(20):
            step[0] += 1
            reports.append(StepReport(1, 2, step[0], 400, 1.0 + 0.05 * step[0], 0.01, 100.0, 0.1, 1.0))
        plot.ingest_steps(reports)

    ranges = []
    plot.item.getViewBox().sigRangeChanged.connect(lambda *_a: ranges.append(1))
    counts = paints_per_draw(qtbot, plot, plot.plot.viewport(), feed)
    assert len(ranges) >= 5  # the draws did move the view (what used to paint twice)
    assert_once_per_draw(counts)


def test_the_activation_histogram_keeps_its_range_and_paints_once(qtbot):
    plot = ActivationsPlot()
    qtbot.addWidget(plot)
    edges = np.linspace(-1.0, 1.0, 17)
    rng = np.random.default_rng(0)

    def feed(i: int) -> None:
        hist = rng.integers(0, 50, 16).astype(float)
        maps = rng.random((4, 6, 6))
        plot.ingest(ActivationReport(i + 1, {"conv": ActivationStats(hist, edges, 0.1, 0.5, 0.2, maps)}))

    counts = paints_per_draw(qtbot, plot, plot.graphics.viewport(), feed)
    vb = plot.dist.getViewBox()
    assert vb.state["autoRange"] == [False, False]  # pyqtgraph's auto-range moves the view inside paint
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 <= -1.0 and x1 >= 1.0 and y0 <= 0.0 and y1 >= 49.0  # yet every bar is in view
    assert_once_per_draw(counts)


def test_a_label_in_a_pinned_panel_does_not_re_lay_out_the_window(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    panel = QWidget()
    column = QVBoxLayout(panel)
    text = "epoch {0} · step {1} · loss {2:.4f} and a longer tail "
    status = QLabel(text.format(0, 0, 1.0))
    status.setWordWrap(True)
    column.addWidget(status)
    holder = Pinned(panel)
    QVBoxLayout(window).addWidget(holder)
    window.resize(300, 200)
    window.show()
    qtbot.waitExposed(window)
    settle(qtbot)
    assert panel.size() == holder.size()  # the panel fills its holder
    requests = Counter(QEvent.Type.LayoutRequest, window)
    for i in range(10):
        status.setText(text.format(i, i * 37, 1 / (i + 1)) * (i % 3 + 1))
        settle(qtbot, 2)
    assert requests.count == 0
    # a real change of what the panel needs does reach the window
    wide = QLabel("x")
    wide.setMinimumWidth(260)
    column.addWidget(wide)
    settle(qtbot)
    assert requests.count >= 1
    assert holder.minimumSizeHint().width() >= 260
    window.resize(320, 260)
    settle(qtbot)
    assert panel.size() == holder.size()
