"""The dashboard derives from the session: reopening a trained project redraws every tab from its saved history
(step-level loss, confusion matrix, histograms, activations), a tab the history cannot redraw says why, an edit
of the network shows the out-of-date banner, a new project shows nothing of the old one, and what a finished
run leaves on screen is what reopening the saved project shows."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project
from nnstudio.core.session import Session
from nnstudio.core.training import engine, telemetry
from nnstudio.core.training.project_run import prepare, store_result, train_prepared
from nnstudio.core.weights_status import OUT_OF_DATE_TEXT
from nnstudio.ui.dashboard import NO_TRAINING, TrainingDashboard
from nnstudio.ui.plots import saved
from nnstudio.ui.workers.training_worker import BufferCallback, ReportBuffer, run_info

FIXTURES = Path(__file__).parent.parent / "data"


def spiral_project() -> Project:
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "classes": 3, "samples": 150}
    project.training.update(epochs=3, batch_size=16, lr=0.03, telemetry_every=2, seed=0)
    return project


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny spiral network trained for three epochs (every step reported, telemetry measured), as the
    window's worker would have drained it: (the project before training, the drained reports, the result, the
    path of the trained project saved)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)
            mp.setattr(telemetry, "BUDGET", 1.0)
            project = spiral_project()
            prepared = prepare(project)
            buffer = ReportBuffer()
            result = train_prepared(prepared, [BufferCallback(buffer, run_info(prepared))])
    finally:
        torch.set_num_threads(before)
    done = copy.deepcopy(project)
    store_result(done, result)
    path = tmp_path_factory.mktemp("trained") / "spiral.nnstudio"
    save_project(done, path)
    return project, buffer.drain(), result, path


@pytest.fixture
def make_dashboard(qtbot):
    def make() -> TrainingDashboard:
        d = TrainingDashboard()
        qtbot.addWidget(d)
        d.resize(1000, 650)
        d.show()
        return d
    return make


def reopened(path: Path) -> Session:
    return Session(load_project(path), path)


def drawn(d: TrainingDashboard, qtbot) -> TrainingDashboard:
    """Every tab drawn, as after the person looked at each."""
    for key in d.grid.cells:
        d.grid.show_plot(key)
        qtbot.wait(5)
    d.refresh(force=True)
    return d


def data_len(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def test_reopening_a_trained_project_redraws_every_tab(trained, make_dashboard, qtbot):
    _project, _drained, _result, path = trained
    session = reopened(path)
    history = session.project.history
    d = make_dashboard()
    d.bind_session(session)
    drawn(d, qtbot)
    # the step-level loss, as the live run drew it: every step at its epoch position, and the validation loss
    assert d.curves_page.said is None and d.loss.note.isHidden()
    assert len(d.loss.raw) == len(history["step_loss"]) == history["steps"] > 3
    assert data_len(d.loss.raw_curve) == len(d.loss.raw) and data_len(d.loss.smooth_curve) == len(d.loss.raw)
    assert d.loss.raw.x[-1] == pytest.approx(3.0) and data_len(d.loss.val_curve) == 3
    assert data_len(d.metrics.curves["val_accuracy"]) == 3 and data_len(d.lr.curve) == 3
    # the confusion matrix and per-class table of the weights kept
    assert d.confusion.said is None
    assert d.confusion.matrix.tolist() == history["confusion"]
    assert (d.confusion.counts.counts == np.array(history["confusion"])).all()
    assert d.confusion.table.rowCount() == 4 and d.confusion.table.item(0, 0).text() == history["classes"][0]
    assert "weights kept" in d.confusion.caption.text()
    # the last weight and gradient histograms, and the activations
    assert d.histograms.said is None and d.histograms.layers.ids() == ["dense_1", "dense_2", "dense_3"]
    saved_dense = history["layers"]["layers"]["dense_1"]
    assert d.histograms.weights.bars.opts["height"].tolist() == saved_dense["weight_hist"]
    assert d.histograms.weights.heat.image.shape == (1, len(saved_dense["weight_hist"]))
    assert "weight norm" in d.histograms.stats.text()
    assert d.activations.said is None and d.activations.layers.ids() == list(history["activations"]["layers"])
    assert d.activations.bars.opts["height"].tolist() == history["activations"]["layers"]["dense_1"]["hist"]
    assert "dead units" in d.activations.stats.text()
    # what a history cannot keep says so
    assert d.boundary.said == saved.BOUNDARY_NOT_SAVED
    assert "Trained for 3 epochs" in d.status.text() and d.banner.isHidden()
    assert len(d.rows) == 3
    assert d.step_loss_points() == history["steps"] and d.confusion_total() == sum(map(sum, history["confusion"]))
    assert d.histogram_layers() == ["dense_1", "dense_2", "dense_3"] and d.banner_text() == ""


def without(history: dict, *keys: str) -> dict:
    old = copy.deepcopy(history)
    for key in keys:
        old.pop(key, None)
    return old


def test_an_older_history_says_in_each_tab_what_it_cannot_redraw(trained, make_dashboard, qtbot):
    _project, _drained, _result, path = trained
    project = load_project(path)
    project.history = without(project.history, "step_loss", "layers", "activations", "confusion", "per_class",
                              "task", "classes")
    d = make_dashboard()
    d.bind_session(Session(project, path))
    drawn(d, qtbot)
    # the curves: the training loss per epoch, and a line saying why not per step
    assert d.curves_page.said is None and not d.loss.note.isHidden()
    assert "step-level loss is not saved" in d.loss.note.text() and "older NN Studio" in d.loss.note.text()
    assert len(d.loss.raw) == 0 and data_len(d.loss.smooth_curve) == 3 and data_len(d.loss.val_curve) == 3
    for plot, words in ((d.confusion, "confusion matrix is not saved"), (d.histograms, "layer statistics are not"),
                        (d.activations, "activations are not saved")):
        assert plot.said and words in plot.said and "older NN Studio" in plot.said, plot.title
    assert d.confusion.matrix is None and d.histograms.history == {} and d.activations.latest == {}


def test_a_format_1_file_says_why_in_every_tab(make_dashboard, qtbot):
    path = FIXTURES / "project_v1.nnstudio"
    d = make_dashboard()
    d.bind_session(reopened(path))
    drawn(d, qtbot)
    assert d.curves_page.said == saved.sentence(saved.OLDER_FORM)
    assert "not saved" in d.confusion.said and "not saved" in d.histograms.said and "not saved" in d.activations.said
    assert d.boundary.said == saved.BOUNDARY_NOT_SAVED


def test_trained_weights_without_their_history_say_so(trained, make_dashboard, qtbot):
    project = load_project(trained[3])
    project.history = None  # as when opening left a damaged history out
    d = make_dashboard()
    d.bind_session(Session(project))
    for said in (d.curves_page.said, d.confusion.said, d.histograms.said, d.activations.said, d.boundary.said):
        assert said == saved.NO_HISTORY
    assert d.status.text() == saved.NO_HISTORY


def test_a_history_that_cannot_be_read_says_so(make_dashboard, qtbot):
    d = make_dashboard()
    d.bind_session(Session(Project(history={"epochs": "x"})))
    drawn(d, qtbot)
    for said in (d.curves_page.said, d.confusion.said, d.histograms.said, d.activations.said):
        assert said and "cannot be read" in said and "epochs" in said
    assert d.status.text() == "This project's training history cannot be shown."


def test_an_edit_of_the_network_shows_the_out_of_date_banner_and_undo_hides_it(trained, make_dashboard, qtbot):
    _project, _drained, _result, path = trained
    session = reopened(path)
    d = make_dashboard()
    d.bind_session(session)
    assert session.weights_status == "current" and d.banner.isHidden() and d.banner_text() == ""
    steps = len(d.loss.raw)
    old = session.graph.set_params("dense_1", {"units": 9})
    session.graph_edited()
    assert session.weights_status == "out_of_date"
    assert not d.banner.isHidden() and d.banner_text() == OUT_OF_DATE_TEXT
    assert len(d.loss.raw) == steps and d.confusion.matrix is not None  # the earlier network's history stays
    session.graph.set_params("dense_1", old)  # undo
    session.graph_edited()
    assert session.weights_status == "current" and d.banner.isHidden() and d.banner_text() == ""


def test_a_new_project_leaves_nothing_of_the_trained_one(trained, make_dashboard, qtbot):
    _project, _drained, _result, path = trained
    session = reopened(path)
    d = make_dashboard()
    d.bind_session(session)
    session.graph.set_params("dense_1", {"units": 9})
    session.graph_edited()
    assert not d.banner.isHidden()
    session.replace(Project())
    drawn(d, qtbot)
    assert d.banner.isHidden() and d.source == "none" and d.rows == []
    assert len(d.loss.raw) == len(d.loss.smooth) == len(d.loss.val) == 0 and data_len(d.loss.smooth_curve) == 0
    assert d.confusion.matrix is None and d.histograms.history == {} and d.activations.latest == {}
    assert d.curves_page.said == saved.UNTRAINED["curves"] and d.confusion.said == saved.UNTRAINED["confusion"]
    assert d.histograms.said == saved.UNTRAINED["layers"] and d.activations.said == saved.UNTRAINED["activations"]
    assert d.status.text() == NO_TRAINING


def test_a_finished_run_shows_what_reopening_the_saved_project_shows(trained, make_dashboard, qtbot, tmp_path):
    project, drained, result, _path = trained
    session = Session(copy.deepcopy(project))
    live = make_dashboard()
    live.bind_session(session)
    assert live.curves_page.said == saved.UNTRAINED["curves"]
    run = session.run_started()
    live.reset(drained.start)  # the controller does it on the worker's started
    live.feed(drained)
    assert live.source == "run" and live.curves_page.said is None and live.confusion.said is None
    assert session.run_finished(result, run=run)
    live.finish(result)
    path = tmp_path / "trained.nnstudio"
    save_project(session.project, path)
    session.saved(path)
    again = make_dashboard()
    again.bind_session(reopened(path))
    drawn(live, qtbot)
    drawn(again, qtbot)
    history = result.history
    # the confusion matrix of the weights kept, in both (the live one of the last epoch was replaced)
    assert live.confusion.matrix.tolist() == again.confusion.matrix.tolist() == history["confusion"]
    assert live.confusion.per_class == again.confusion.per_class
    assert live.confusion.caption.text() == again.confusion.caption.text()
    # the same last histograms and activations of every layer
    assert set(live.histograms.history) == set(again.histograms.history) == set(history["layers"]["layers"])
    for node_id, kept in again.histograms.history.items():
        mine = live.histograms.history[node_id]
        assert mine.steps[-1] == kept.steps[-1] == history["layers"]["step"]
        for key in ("weight_hist", "grad_hist", "weight_edges", "grad_edges"):
            assert np.allclose(getattr(mine.latest, key), getattr(kept.latest, key)), (node_id, key)
    assert set(live.activations.latest) == set(again.activations.latest)
    for node_id, kept in again.activations.latest.items():
        assert np.allclose(live.activations.latest[node_id].hist, kept.hist), node_id
    assert live.activations.step == again.activations.step
    # the step-level loss: every step, live and saved
    assert 0 < len(live.loss.raw) <= 10 * len(again.loss.raw) and len(again.loss.raw) <= 10 * len(live.loss.raw)
    assert len(again.loss.raw) == result.steps
    assert [r["epoch"] for r in live.rows] == [r["epoch"] for r in again.rows] == [1, 2, 3]
    assert live.banner.isHidden() and again.banner.isHidden()
    assert "Training finished after 3 epochs" in live.status.text()


def test_a_failed_run_keeps_its_plots_and_a_new_project_clears_them(trained, make_dashboard, qtbot):
    project, drained, _result, _path = trained
    session = Session(copy.deepcopy(project))
    d = make_dashboard()
    d.bind_session(session)
    session.run_started()
    d.feed(drained)
    session.run_failed("out of memory")
    d.fail("out of memory")
    assert d.source == "run" and len(d.loss.raw) > 0 and d.curves_page.said is None
    assert "Training failed: out of memory" in d.status.text()
    session.replace(Project())
    assert len(d.loss.raw) == 0 and d.status.text() == NO_TRAINING


def test_the_saved_figures_replace_the_live_ones_where_they_differ(trained, make_dashboard, qtbot):
    """The weights kept may be an earlier epoch's (restore_best), their figures measured after the last live
    report, and a continued run's history longer than the run: what stays on screen is the saved history's."""
    project, drained, result, _path = trained
    history = copy.deepcopy(result.history)
    history["confusion"] = [[9, 1, 0], [0, 10, 0], [0, 0, 10]]
    history["layers"]["step"] = history["activations"]["step"] = result.steps + 1
    history["epochs"] = [dict(r, epoch=r["epoch"]) for r in history["epochs"]] + [
        dict(history["epochs"][-1], epoch=4)]
    kept = copy.copy(result)
    kept.history = history
    session = Session(copy.deepcopy(project))
    d = make_dashboard()
    d.bind_session(session)
    session.run_started()
    d.feed(drained)
    rows = len(d.histograms.history["dense_1"].steps)
    assert session.run_finished(kept)
    d.finish(kept)
    drawn(d, qtbot)
    assert d.confusion.matrix.tolist() == history["confusion"] and "weights kept" in d.confusion.caption.text()
    assert len(d.histograms.history["dense_1"].steps) == rows + 1  # the live history over time stays
    assert d.histograms.last_step == d.activations.step == result.steps + 1
    assert [r["epoch"] for r in d.rows] == [1, 2, 3, 4] and data_len(d.loss.val_curve) == 4
    assert len(d.loss.raw) == len(history["step_loss"])
    assert d.source == "history"
    session.graph.set_params("dense_1", {"units": 9})
    session.graph_edited()
    assert not d.banner.isHidden()  # the finished run's plots are now the history of an earlier network


@pytest.mark.parametrize("history", [
    {"epochs": "x"}, {"epochs": [1, "a", None]}, {"epochs": [{"epoch": "one"}, {"epoch": 1e308}]},
    {"epochs": [{"epoch": 1, "train_loss": "low"}], "stop_reason": ["a"]}, [], "text", 5,
    {"epochs": [{"epoch": 10**400, "train_loss": 0.5}]}, {"step_loss": [[1, 0.5, 1.0]], "task": "binary"},
    {"epochs": [{"epoch": 1, "train_loss": float("nan"), "val_loss": float("inf")}]},
])
def test_a_history_of_any_shape_draws_or_says_why_in_every_tab(history, make_dashboard, qtbot):
    d = make_dashboard()
    d.bind_session(Session(Project(history=history)))
    drawn(d, qtbot)
    assert d.status.text()
    shown = {"curves": (d.curves_page.said or d.loss.said, len(d.loss.smooth) + len(d.loss.val)),
             "confusion": (d.confusion.said, d.confusion.matrix is not None),
             "layers": (d.histograms.said, bool(d.histograms.history)),
             "activations": (d.activations.said, bool(d.activations.latest)), "boundary": (d.boundary.said, False)}
    for tab, (said, has_data) in shown.items():
        assert bool(said) != bool(has_data), f"{tab}: {said!r} with data {has_data}"
