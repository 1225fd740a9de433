"""Two details of the dashboard's plots: the loss axis never goes below zero (a log scale excepted), and the
activation histogram of a layer whose Softmax / Sigmoid is folded into the loss says that it shows logits."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnstudio.core.compile import _FOLDABLE, compile_graph  # noqa: E402
from nnstudio.core.graph import Graph  # noqa: E402
from nnstudio.core.training.reports import ActivationReport, ActivationStats, StepReport  # noqa: E402
from nnstudio.ui.plots.activations import DIST_TITLE, FOLDED_BY_LOSS, ActivationsPlot, folded_layers  # noqa: E402
from nnstudio.ui.plots.loss import LossPlot, MetricsPlot  # noqa: E402


def steps(losses) -> list[StepReport]:
    n = len(losses)
    return [StepReport(1, 1, i + 1, n, float(v), 0.01, 100.0, 1.0, 1.0) for i, v in enumerate(losses)]


@pytest.fixture
def loss_plot(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def y_range(plot) -> tuple[float, float]:
    lo, hi = plot.item.getViewBox().viewRange()[1]
    return float(lo), float(hi)


def test_the_loss_axis_stops_at_zero(loss_plot):
    loss_plot.ingest_steps(steps([0.8, 0.3, 0.05, 0.0, 0.0]))
    loss_plot.refresh(force=True)
    lo, hi = y_range(loss_plot)
    assert lo == 0.0 and hi >= 0.8  # the fit's padding below the lowest loss stops at 0, the top keeps its own
    loss_plot.ingest_steps(steps([0.02, 0.01]))  # later reports are fitted the same way
    loss_plot.refresh(force=True)
    assert y_range(loss_plot)[0] == 0.0


def test_a_log_scale_shows_losses_below_one(loss_plot):
    loss_plot.ingest_steps(steps([1.0, 0.1, 0.01, 0.001]))
    loss_plot.set_log(True)
    assert y_range(loss_plot)[0] < -2.5  # log10 of 0.001 is -3: no floor at 0
    loss_plot.set_log(False)
    assert y_range(loss_plot)[0] == 0.0


def test_other_curves_keep_their_negative_values(qtbot):
    from nnstudio.ui.dashboard import TrainingDashboard

    board = TrainingDashboard()  # as the metrics plot lives in the window (a lone top-level one painted after
    qtbot.addWidget(board)       # other plots were gone crashed inside Qt's QGraphicsView painting)
    board.resize(700, 500)
    board.show()
    qtbot.waitExposed(board)
    plot = board.metrics  # R² can be below zero
    assert isinstance(plot, MetricsPlot)
    plot.ingest_epochs([{"epoch": 1, "val_r2": -0.5}, {"epoch": 2, "val_r2": 0.2}])
    plot.refresh(force=True)
    assert y_range(plot)[0] < -0.5


# -- folded activations ------------------------------------------------------------------------------------------
def classifier(task: str = "multiclass", act: str = "softmax", loss: str = "auto", node: bool = False) -> Graph:
    g = Graph()
    g.add_node("input_vector", {"features": 2}, node_id="input_vector_1")
    g.add_node("dense", {"units": 8, "activation": "relu"}, node_id="dense_1")
    last = "dense_2"
    g.add_node("dense", {"units": 3 if task == "multiclass" else 1, "activation": "none" if node else act},
               node_id="dense_2")
    g.connect("input_vector_1", "dense_1")
    g.connect("dense_1", "dense_2")
    if node:
        g.add_node("activation", {"function": act}, node_id="activation_1")
        g.connect("dense_2", "activation_1")
        last = "activation_1"
    g.add_node("output", {"task": task, "loss": loss}, node_id="output_1")
    g.connect(last, "output_1")
    return g


@pytest.mark.parametrize("graph, expected", [
    (classifier(), {"dense_2": ("softmax", "cross_entropy")}),
    (classifier("binary", "sigmoid"), {"dense_2": ("sigmoid", "bce")}),
    (classifier(node=True), {"activation_1": ("softmax", "cross_entropy")}),
    (classifier(act="relu"), {}),
    (classifier(act="sigmoid"), {}),  # a Sigmoid before the cross-entropy is not folded (compile says why)
    (classifier("regression", "none", "mse"), {}),
])
def test_the_folded_layer_is_the_one_compile_folds(graph, expected):
    assert FOLDED_BY_LOSS == _FOLDABLE
    assert folded_layers(graph) == expected
    folded = compile_graph(graph).folded_from
    assert ({folded} if folded else set()) == set(expected)


def test_a_graph_with_bad_values_folds_nothing():
    g = classifier()
    g.nodes["output_1"].params["task"] = ["multiclass"]  # as a hostile file may hold it
    assert folded_layers(g) == {}
    assert folded_layers(Graph()) == {}


def stats() -> ActivationStats:
    edges = np.linspace(-3.0, 3.0, 11)
    return ActivationStats(np.arange(10, dtype=float), edges, 0.1, 1.2, None)


def test_the_histogram_of_a_folded_layer_says_it_shows_logits(qtbot):
    plot = ActivationsPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 500)
    plot.show()
    plot.set_graph(classifier())
    plot.set_layers(["dense_1", "dense_2"])
    plot.ingest(ActivationReport(7, {"dense_1": stats(), "dense_2": stats()}))
    plot.select_layer("dense_2")
    plot.refresh(force=True)
    assert plot.dist.titleLabel.text.startswith("Logits on the probe batch (before the Softmax)")
    assert "logits: its Softmax is applied in the cross-entropy loss" in plot.stats.text()
    plot.select_layer("dense_1")
    plot.refresh(force=True)
    assert plot.dist.titleLabel.text == DIST_TITLE and "logits" not in plot.stats.text()
    plot.set_graph(classifier(act="relu"))  # the network changed: nothing is folded any more
    plot.select_layer("dense_2")
    plot.refresh(force=True)
    assert plot.dist.titleLabel.text == DIST_TITLE
