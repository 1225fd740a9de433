"""The comparison plot of several runs (ui.plots.compare): one colour per run in the order handed over, a legend
naming each run once and literally, a branch drawn from its parent's point, a message when nothing is selected,
at most MAX_COMPARED runs drawn with a note saying how many were left out."""

from __future__ import annotations

import html
import math

import numpy as np
import pytest
from PySide6.QtGui import QColor

from nnstudio.core.run_curves import MAX_COMPARED
from nnstudio.ui.plots import COLORS
from nnstudio.ui.plots.compare import NOTHING_SELECTED, CompareRunsPlot


def make_run(i: int, epochs: int = 10, start: int = 1, name: str | None = None, parent: dict | None = None,
             val: bool = True, task: str = "multiclass") -> dict:
    rows = []
    for e in range(start, start + epochs):
        loss = 1.0 / e + 0.01 * i
        row = {"epoch": e, "train_loss": loss, "train_accuracy": 1 - loss / 2}
        if val:
            row["val_loss"] = loss + 0.05
            if task == "regression":
                row.update(val_mse=loss, val_r2=1 - loss)
            else:
                row["val_accuracy"] = 1 - loss / 3
        rows.append(row)
    return {"id": f"run-{i}", "name": name or f"Run {i}", "epochs": rows, "parent": parent, "task": task}


@pytest.fixture
def plot(qtbot):
    p = CompareRunsPlot()
    qtbot.addWidget(p)
    p.resize(900, 400)
    p.show()
    qtbot.waitExposed(p)
    return p


def legend_texts(view) -> list[str]:
    return [label.text for _sample, label in view.legend.items]


def shown_texts(view) -> list[str]:
    """What the legend labels show on screen (their HTML rendered)."""
    return [label.item.toPlainText() for _sample, label in view.legend.items]


def solid(lines):
    return [line for line in lines if line.solid]


def test_three_runs_each_in_its_colour_with_a_legend(plot):
    runs = [make_run(1), make_run(2, name="<b>x</b> & y"), make_run(3, epochs=5)]
    plot.show_runs(runs)
    assert plot.said is None
    assert plot.drawn == ["run-1", "run-2", "run-3"]
    assert plot.metric_key == "val_accuracy"
    lines = solid(plot.loss_lines)
    assert [line.key for line in lines] == ["val_loss"] * 3
    for line, run, color in zip(lines, runs, COLORS[:3]):
        x, y = line.item.getData()
        assert list(x) == [row["epoch"] for row in run["epochs"]]
        assert np.allclose(y, [row["val_loss"] for row in run["epochs"]])
        assert line.item.opts["pen"].color() == QColor(color)
        assert line.item.opts["pen"].widthF() == 2.0
    dashed = [line for line in plot.loss_lines if not line.solid]
    assert [line.key for line in dashed] == ["train_loss"] * 3
    assert [line.item.opts["pen"].color().name() for line in dashed] == list(COLORS[:3])
    # one legend entry per run per view, escaped for pyqtgraph's HTML labels, shown literally
    for view in (plot.loss_view, plot.metric_view):
        assert legend_texts(view) == ["Run 1", html.escape("<b>x</b> & y", quote=False), "Run 3"]
        assert shown_texts(view) == ["Run 1", "<b>x</b> & y", "Run 3"]
    assert [line.item.opts["pen"].color().name() for line in plot.metric_lines] == list(COLORS[:3])
    assert "solid: validation" in plot.note.text() and "dashed: training" in plot.note.text()
    assert plot.metric_plot.isVisible()


def test_a_run_without_validation_draws_its_training_loss_solid(plot):
    plot.show_runs([make_run(1, val=False)])
    lines = plot.loss_lines
    assert [(line.key, line.solid) for line in lines] == [("train_loss", True)]
    assert lines[0].item.opts["pen"].style() == lines[0].item.opts["pen"].style().SolidLine
    assert plot.metric_key == "train_accuracy"
    assert "dashed" not in plot.note.text()


def test_regression_runs_compare_their_mse(plot):
    plot.show_runs([make_run(1, task="regression"), make_run(2, task="regression")])
    assert plot.metric_key == "val_mse"
    assert plot.metric_view.getAxis("left").labelText == "val MSE"
    assert len(plot.metric_lines) == 2


def test_a_branch_starts_at_the_parent_epoch(plot):
    parent = make_run(2, epochs=20)
    child = make_run(3, epochs=5, start=21, parent={"run": "run-2", "epoch": 20})
    plot.show_runs([child], all_runs=[parent, child])
    x, y = solid(plot.loss_lines)[0].item.getData()
    assert x[0] == 20 and x[1] == 21
    assert y[0] == pytest.approx(parent["epochs"][19]["val_loss"])
    assert legend_texts(plot.loss_view) == ["Run 3 (from run-2 at epoch 20)"]
    # the parent not among the project's runs: the branch starts at its own first epoch
    plot.show_runs([child])
    assert solid(plot.loss_lines)[0].item.getData()[0][0] == 21


def test_nothing_selected_says_how_to_select(plot):
    plot.show_runs([make_run(1)])
    assert plot.said is None
    plot.show_runs([])
    assert plot.said == NOTHING_SELECTED
    assert plot.drawn == [] and plot.loss_lines == [] and legend_texts(plot.loss_view) == []


def test_a_run_without_epochs_is_named_in_the_note(plot):
    empty = {"id": "run-3", "name": "Run 3", "epochs": [], "parent": None}
    plot.show_runs([make_run(1), empty, make_run(4)])
    assert plot.drawn == ["run-1", "run-4"]
    assert "run-3 has no finished epoch" in plot.note.text()
    # the colours stay those of the runs' places in the selection
    assert [line.item.opts["pen"].color().name() for line in solid(plot.loss_lines)] == [COLORS[0], COLORS[2]]
    plot.show_runs([empty])
    assert plot.said and "finished epoch" in plot.said


def test_more_than_the_limit_draws_the_first_ones_and_says_so(plot):
    runs = [make_run(i, epochs=30) for i in range(1, 26)]
    plot.show_runs(runs)
    assert plot.drawn == [f"run-{i}" for i in range(1, MAX_COMPARED + 1)]
    assert len(solid(plot.loss_lines)) == MAX_COMPARED
    assert len(legend_texts(plot.loss_view)) == MAX_COMPARED
    assert "5 of the 25 runs selected are left out" in plot.note.text()
    colors = [line.item.opts["pen"].color().name() for line in solid(plot.loss_lines)]
    assert colors == [COLORS[i % len(COLORS)] for i in range(MAX_COMPARED)]
    # fewer runs next: the curves no longer used are emptied, the legend shrinks
    plot.show_runs(runs[:2])
    assert len(legend_texts(plot.loss_view)) == 2
    drawn = [item for item in plot.loss_view.listDataItems() if item.getData()[0] is not None
             and len(item.getData()[0])]
    assert len(drawn) == 4  # two runs, validation and training each
    assert "left out" not in plot.note.text()


def test_malformed_rows_are_skipped_not_raised(plot):
    odd = {"id": "run-9", "name": None, "parent": {"run": 3}, "epochs": [
        None, {"epoch": "x", "val_loss": 1.0}, {"epoch": 1, "val_loss": math.nan, "train_loss": 0.5},
        {"epoch": 2, "val_loss": 0.4, "val_accuracy": True}, {"epoch": 3, "val_loss": 10**400}]}
    plot.show_runs([odd])
    assert plot.drawn == ["run-9"]
    assert legend_texts(plot.loss_view) == ["run-9"]
    keys = {line.key: list(line.x) for line in plot.loss_lines}
    assert keys == {"val_loss": [2.0], "train_loss": [1.0]}


def test_hover_names_the_run(plot):
    plot.show_runs([make_run(1), make_run(2, name="second & <i>")])
    y = plot.loss_lines[-2].y[3]  # run 2's validation loss at epoch 4
    text = plot.describe(plot.loss_pool, 4.1, float(y))
    assert text.splitlines()[0] == "second & <i>"
    assert "epoch 4" in text and "val loss" in text
    assert plot.describe(plot.loss_pool, 50.0, 0.0) is None


def test_a_narrow_plot_elides_the_legend_names(plot, qtbot):
    long = "a rather long run name that will not fit " * 2
    plot.show_runs([make_run(1, name=long), make_run(2)])
    assert shown_texts(plot.loss_view)[0] == long.strip()[:60 - 1] + "\u2026"
    plot.resize(330, 300)
    qtbot.waitUntil(lambda: shown_texts(plot.loss_view)[0] != long.strip()[:60 - 1] + "\u2026")
    shown = shown_texts(plot.loss_view)[0]
    assert shown.endswith("\u2026") and long.startswith(shown[:-1])
    assert shown_texts(plot.loss_view)[1] == "Run 2"
    assert plot.loss_pool.names[0] == long.strip()[:59] + "\u2026"  # the whole name is kept


def test_the_legend_follows_the_palette(plot, qtbot):
    from PySide6.QtGui import QPalette

    plot.show_runs([make_run(1), make_run(2)])
    palette = QPalette(plot.palette())
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1f22"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#dadada"))
    plot.setPalette(palette)
    qtbot.waitUntil(lambda: all("#dadada" in label.item.toHtml().lower()
                                for _s, label in plot.loss_view.legend.items))
    assert plot.loss_plot.backgroundBrush().color() == QColor("#1e1f22")


def test_a_small_plot_of_many_runs_names_them_in_a_key_under_the_curves(plot, qtbot):
    runs = [{**make_run(i, name=f"optimizer=sgd seed {i} (sweep-1)"), "sweep": "sweep-1"} for i in range(5)]
    runs.append(make_run(5, name="<i>mine</i>"))
    plot.resize(900, 400)
    plot.show_runs(runs)
    assert not plot.key.isVisible() and plot.loss_view.legend.isVisible()  # room: the legends inside
    assert shown_texts(plot.loss_view)[0] == "optimizer=sgd seed 0"  # the sweep's tail is left out
    plot.resize(420, 200)
    qtbot.waitUntil(lambda: plot.key.isVisible(), timeout=2000)
    assert not plot.loss_view.legend.isVisible() and not plot.metric_view.legend.isVisible()
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(plot.key.text())
    shown = doc.toPlainText()
    assert "optimizer=sgd seed 4" in shown and "<i>mine</i>" in shown and "(sweep-1)" not in shown
    assert f'color:{COLORS[5]}' in plot.key.text()
    plot.resize(900, 400)
    qtbot.waitUntil(lambda: not plot.key.isVisible(), timeout=2000)
    assert plot.loss_view.legend.isVisible()
