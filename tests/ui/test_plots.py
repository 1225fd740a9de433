"""The dashboard's plots: every plot receives data from a real training, redraws at the drain timer's rate
(never per batch), saves PNG and CSV, shows a saved history, and reads out values under the mouse."""

from __future__ import annotations

import csv
import io
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.model import Project
from nnstudio.core.session import Session
from nnstudio.core.training import engine, telemetry
from nnstudio.core.training.project_run import prepare
from nnstudio.core.training.reports import (
    ActivationReport,
    ActivationStats,
    BoundaryReport,
    EpochReport,
    LayerReport,
    LayerStats,
    StepReport,
)
from nnstudio.ui.dashboard import TrainingDashboard
from nnstudio.ui.plots import Rows, Series, export
from nnstudio.ui.plots.activations import mosaic
from nnstudio.ui.plots.boundary import boundary_rgba
from nnstudio.ui.workers import training_worker
from nnstudio.ui.workers.training_worker import Drained, TrainingWorker


@pytest.fixture(autouse=True)
def one_training_thread(monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)


@pytest.fixture
def dashboard(qtbot):
    d = TrainingDashboard()
    qtbot.addWidget(d)
    d.resize(1000, 650)
    d.show()
    return d


@pytest.fixture
def worker(qtbot):
    w = TrainingWorker()
    yield w
    assert w.wait_stopped(10)


def show_every_tab(d: TrainingDashboard, qtbot) -> None:
    """Bring every plot into view in turn, as a person looking at each would."""
    for key in d.grid.cells:
        d.grid.show_plot(key)
        qtbot.wait(10)


def data_len(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def train(qtbot, worker, dashboard, run):
    dashboard.connect_worker(worker)
    with qtbot.waitSignal(worker.finished, timeout=60_000) as blocker:
        worker.start(run)
    return blocker.args[0]


def test_spiral_training_fills_every_plot(qtbot, worker, dashboard, monkeypatch):
    monkeypatch.setattr(telemetry, "BUDGET", 1.0)
    result = train(qtbot, worker, dashboard, prepare(EXAMPLES["spiral_mlp"](), epochs=2, telemetry_every=1))
    show_every_tab(dashboard, qtbot)
    d = dashboard
    steps = len(d.loss.raw)
    assert steps >= 2 and data_len(d.loss.raw_curve) == steps and data_len(d.loss.smooth_curve) == steps
    assert data_len(d.loss.val_curve) == 2  # one validation point per epoch
    assert d.loss.val_curve.getData()[0].tolist() == [1.0, 2.0]
    assert d.loss.raw.x[-1] == pytest.approx(2.0)  # x is in epochs: the last step ends epoch 2
    lengths = {k: data_len(c) for k, c in d.metrics.curves.items()}
    assert lengths.pop("running_accuracy") == 0  # the run ended: only what a reopened project shows stays
    assert lengths == {"val_accuracy": 2, "train_accuracy": 2, "val_f1_macro": 2}
    assert data_len(d.lr.curve) == steps and set(d.lr.lr.y.tolist()) == {0.01}
    # weights: current histogram and a heatmap with one row per measurement and 40 fixed bins
    assert d.histograms.current == "dense_1"
    heat = d.histograms.weights.heat.image
    assert heat.shape[1] == telemetry.BINS and heat.shape[0] == len(d.histograms.history["dense_1"].steps) >= 1
    assert len(d.histograms.weights.bars.opts["height"]) == telemetry.BINS
    assert d.histograms.grads.heat.image.shape[1] == telemetry.BINS
    assert "weight norm" in d.histograms.stats.text()
    # activations of the chosen layer, no feature maps for dense layers
    assert d.activations.layers.ids() == ["dense_1", "dense_2", "dense_3"]
    assert len(d.activations.bars.opts["height"]) == telemetry.BINS
    assert "dead units" in d.activations.stats.text()
    assert not d.activations.maps_plot.isVisible()
    # decision boundary: a 64 x 64 RGBA image and the training points
    assert d.boundary.available
    assert d.boundary.image.image.shape == (telemetry.GRID, telemetry.GRID, 4)
    assert len(d.boundary.scatter.data) == len(prepare(EXAMPLES["spiral_mlp"](), epochs=1).split.train)
    # confusion matrix of the last epoch and its table (3 classes + the macro average)
    assert d.confusion.image.image.shape == (3, 3)
    assert d.confusion.matrix.sum() == sum(r["support"] for r in d.confusion.per_class)
    assert d.confusion.table.rowCount() == 4
    assert (d.confusion.counts.counts == d.confusion.matrix).all()  # the counts written in the cells
    assert len(d.rows) == 2 == len(result.history["epochs"])


def test_digits_cnn_shows_feature_maps_and_hides_the_boundary(qtbot, worker, dashboard, monkeypatch):
    monkeypatch.setattr(telemetry, "BUDGET", 1.0)
    train(qtbot, worker, dashboard, prepare(EXAMPLES["digits_cnn"](), epochs=1, telemetry_every=10))
    d = dashboard
    d.select_layer("conv2d_1")
    d.grid.show_plot("activations")
    qtbot.wait(10)
    assert d.activations.current == "conv2d_1" and d.histograms.current == "conv2d_1"
    assert d.activations.maps_plot.isVisible()
    # 16 maps of 26 x 26 in a 4 x 4 mosaic with 1-pixel gaps
    assert d.activations.maps.image.shape == (4 * 27 - 1, 4 * 27 - 1)
    assert not d.boundary.available
    assert "(N, 1, 28, 28)" in d.boundary.message.text()
    d.grid.show_plot("confusion")
    qtbot.wait(10)
    assert d.confusion.image.image.shape == (10, 10)
    assert d.histograms.layers.ids() == ["conv2d_1", "conv2d_2", "dense_1", "dense_2"]


def test_plots_redraw_at_the_timer_rate_not_per_batch(qtbot, worker, dashboard, monkeypatch):
    monkeypatch.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)  # a step report for every batch
    project = EXAMPLES["spiral_mlp"]()
    run = prepare(project, epochs=100_000)
    dashboard.connect_worker(worker)
    calls: list[float] = []
    original = dashboard.loss.smooth_curve.setData

    def counting(*args, **kwargs):
        calls.append(time.perf_counter())
        return original(*args, **kwargs)

    monkeypatch.setattr(dashboard.loss.smooth_curve, "setData", counting)
    worker.start(run)
    qtbot.waitUntil(lambda: len(dashboard.loss.raw) > 0, timeout=15_000)
    t0, n0, reports0 = time.perf_counter(), len(calls), len(dashboard.loss.raw)
    qtbot.wait(1500)
    elapsed, drawn, reports = time.perf_counter() - t0, len(calls) - n0, len(dashboard.loss.raw) - reports0
    assert worker.wait_stopped(10)
    assert reports > 3 * drawn, "the run must produce many more reports than redraws for this test to mean much"
    print(f"{reports} reports, {drawn} redraws in {elapsed:.2f} s")
    # the drain timer runs at 20 Hz and the drawing budget may space frames out further (to 5 Hz)
    assert 2 <= drawn / elapsed <= 30, f"{drawn / elapsed:.1f} redraws a second"


def test_hidden_plots_do_not_redraw_until_shown(dashboard, qtbot):
    d = dashboard
    assert "confusion" not in d.grid.visible_keys()  # behind the metrics, at first
    d.feed(fake_drain(epochs=[1]))
    before = d.confusion.draws
    d.feed(fake_drain(epochs=[2]))
    assert d.confusion.draws == before  # out of view: stored, not drawn
    d.grid.show_plot("confusion")
    qtbot.wait(10)
    assert d.confusion.draws == before + 1
    assert "epoch 2" in d.confusion.caption.text()


# -- synthetic reports ---------------------------------------------------------------------------------------
def fake_epoch(epoch: int) -> EpochReport:
    values = {"epoch": epoch, "train_loss": 1.0 / epoch, "lr": 0.01, "train_accuracy": 0.5 + 0.1 * epoch,
              "val_loss": 1.2 / epoch, "val_accuracy": 0.4 + 0.1 * epoch, "time_s": 0.5 * epoch}
    return EpochReport(epoch, 3, values, [[5, 1], [2, 4]],
                       [{"precision": 0.7, "recall": 0.8, "f1": 0.75, "support": 6},
                        {"precision": 0.8, "recall": 0.67, "f1": 0.73, "support": 6}])


def fake_drain(epochs=(1,), steps=(), start=None) -> Drained:
    return Drained(start=start, epochs=[fake_epoch(e) for e in epochs],
                   steps=[StepReport(1, 3, s, 30, 1.0 / s, 0.01, 100.0, 0.1 * s, 1.0) for s in steps])


def test_feed_routes_every_kind_of_report(dashboard, qtbot):
    d = dashboard
    rng = np.random.default_rng(0)
    edges = np.linspace(-1, 1, 41)
    stats = LayerStats(rng.integers(0, 9, 40).astype(float), edges, rng.integers(0, 9, 40).astype(float), edges,
                       1.5, 0.2, 0.01)
    act = ActivationStats(rng.integers(0, 9, 40).astype(float), edges, 0.1, 0.5, 0.25,
                          rng.normal(size=(3, 5, 5)).astype(np.float32))
    grid = np.linspace(-1, 1, 8)
    boundary = BoundaryReport(7, grid, grid, rng.integers(0, 2, (8, 8)), rng.uniform(0.5, 1, (8, 8)),
                              rng.normal(size=(20, 2)), rng.integers(0, 2, 20))
    info = {"task": "binary", "classes": ["no", "yes"], "layers": ["dense_1"], "watched": ["dense_1"],
            "input_shape": [2]}
    d.feed([Drained(start=info, steps=[StepReport(1, 3, s, 30, 1.0 / s, 0.01, 100.0, 0.1, 1.0) for s in (1, 2, 3)],
                    layers=LayerReport(5, {"dense_1": stats}),
                    activations=ActivationReport(5, {"dense_1": act}), boundary=boundary),
            fake_drain(epochs=[1, 2])])
    show_every_tab(d, qtbot)
    assert d.loss.raw.x.tolist() == [0.1, 0.2, 0.30000000000000004] or np.allclose(d.loss.raw.x, [0.1, 0.2, 0.3])
    assert data_len(d.loss.val_curve) == 2
    assert d.histograms.weights.heat.image.shape == (1, 40)
    assert d.activations.maps.image.shape == (2 * 6 - 1, 2 * 6 - 1)  # 3 maps in a 2 x 2 grid
    assert d.boundary.image.image.shape == (8, 8, 4)
    assert d.confusion.image.image.shape == (2, 2)
    assert d.confusion.table.item(0, 0).text() == "no"
    assert "Epoch 1/3 · step 3/30" in d.status.text()
    d.reset()
    show_every_tab(d, qtbot)
    assert len(d.loss.raw) == 0 and d.rows == [] and d.confusion.matrix is None
    assert d.boundary.image.image is None


def test_png_and_csv_saving(dashboard, tmp_path, qtbot, monkeypatch):
    d = dashboard
    d.feed(fake_drain(epochs=[1, 2, 3], steps=range(1, 31)))
    qtbot.wait(10)
    csv_path = d.save_csv(str(tmp_path / "history"))
    assert csv_path.name == "history.csv"
    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert rows[0] == ["epoch", "train_loss", "lr", "train_accuracy", "val_loss", "val_accuracy", "time_s"]
    assert len(rows) == 1 + 3  # header + one row per epoch
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert float(rows[2][4]) == pytest.approx(0.6)
    png = d.save_png(str(tmp_path / "curves.png"))
    image = QImage(str(png))
    assert not image.isNull()
    assert (image.width(), image.height()) == (d.current_page().width(), d.current_page().height())
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 10, "the picture is blank"

    # through the dialog function: a chosen path is written, a cancelled dialog writes nothing
    asked = []

    def fake_dialog(parent, caption, suggested, file_filter):
        asked.append((caption, suggested, file_filter))
        return str(tmp_path / "chosen.png") if "PNG" in caption else None

    monkeypatch.setattr(export, "ask_save_path", fake_dialog)
    d.grid.toggle_maximised("confusion")
    d.png_button.click()
    assert (tmp_path / "chosen.png").exists()
    assert asked[0][1] == "confusion.png"
    assert QImage(str(tmp_path / "chosen.png")).width() == d.confusion.width()  # the maximised plot alone
    d.csv_button.click()
    assert asked[1][2] == export.CSV_FILTER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chosen.png", "curves.png", "history.csv"]


def test_history_csv_handles_missing_values():
    text = export.history_csv({"epochs": [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.25,
                                                                             "val_loss": 0.3}]})
    assert text.splitlines() == ["epoch,train_loss,val_loss", "1,0.5,", "2,0.25,0.3"]
    assert export.history_csv(None) == "epoch\n"


def test_a_saved_history_shows_a_trained_projects_curves(dashboard, qtbot):
    history = {"epochs": [fake_epoch(e).values for e in (1, 2, 3, 4)], "stop_reason": "early_stopping",
               "classes": ["a", "b"]}
    dashboard.bind_session(Session(Project(history=history)))
    qtbot.wait(10)
    assert data_len(dashboard.loss.smooth_curve) == 4  # training loss per epoch
    assert data_len(dashboard.loss.val_curve) == 4
    assert data_len(dashboard.metrics.curves["val_accuracy"]) == 4
    assert data_len(dashboard.lr.curve) == 0  # tabbed behind the loss: drawn when it is shown
    dashboard.grid.show_plot("lr")
    qtbot.wait(10)
    assert data_len(dashboard.lr.curve) == 4
    assert "4 epochs (early stopping)" in dashboard.status.text()
    assert len(dashboard.rows) == 4


def test_log_scale_and_hover_readout(dashboard, qtbot):
    d = dashboard
    d.feed(fake_drain(epochs=[1, 2, 3], steps=range(1, 31)))
    qtbot.wait(10)
    text = d.loss.describe(2.0, 0.5)
    assert "epoch 2.00" in text and "validation 0.6" in text
    assert d.metrics.describe(3.2, 0.0).splitlines()[0] == "epoch 3"
    # a mouse move over the plot shows the label at the nearest values; outside it hides it
    vb = d.loss.item.getViewBox()
    scene_pos = vb.mapViewToScene(vb.viewRect().center())
    d.loss.readout.moved(scene_pos)
    assert d.loss.readout.label.isVisible() and "training" in d.loss.readout.label.toPlainText()
    d.loss.readout.moved(QPointF(-500.0, -500.0))
    assert not d.loss.readout.label.isVisible()
    d.loss.set_log(True)
    assert d.loss.item.getAxis("left").logMode and d.loss.log
    d.loss.log_box.setChecked(False)
    assert not d.loss.item.getAxis("left").logMode


def test_layer_choice_is_shared_and_reported(dashboard, qtbot):
    d = dashboard
    d.reset({"layers": ["dense_1", "dense_2"], "watched": ["dense_1", "dense_2", "flatten_1"]})
    with qtbot.waitSignal(d.layer_selected) as blocker:
        d.activations.layers.setCurrentRow(1)
    assert blocker.args == ["dense_2"]
    assert d.histograms.current == "dense_2"
    d.select_layer("flatten_1")  # no weights: the histogram keeps its layer
    assert d.activations.current == "flatten_1" and d.histograms.current == "dense_2"


def test_buffers_grow_by_doubling():
    s = Series(capacity=2)
    for i in range(5):
        s.append(i, i * i)
    assert s.x.tolist() == [0, 1, 2, 3, 4] and s.y.dtype == np.float64 and len(s._x) == 8
    assert s.nearest(2.4) == 2 and s.nearest(99) == 4
    r = Rows(3, capacity=1)
    for i in range(3):
        r.append(np.full(3, i))
    assert r.data.shape == (3, 3) and r.data[:, 0].tolist() == [0, 1, 2]


def test_boundary_colours_and_mosaic():
    rgba = boundary_rgba(np.array([[0, 1]]), np.array([[1.0, 0.5]]), classes=2)
    assert rgba.shape == (1, 2, 4)
    assert rgba[0, 0, 3] > rgba[0, 1, 3]  # certain -> opaque, chance -> faint
    assert tuple(rgba[0, 0, :3]) != tuple(rgba[0, 1, :3])
    m = mosaic(np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3))
    assert m.shape == (2, 7) and np.isnan(m[:, 3]).all() and m[0, 0] == 0 and m[1, 2] == 1


def test_view_ranges_change_rarely_and_respect_the_user(dashboard, qtbot):
    d = dashboard
    changes = []
    d.loss.item.getViewBox().sigRangeChanged.connect(lambda *a: changes.append(1))
    for step in range(1, 301):
        d.loss.ingest_steps([StepReport(1 + step // 30, 10, step, 300, 2.0 / step ** 0.5, 0.01, 1e3, 0.1, 1.0)])
        d.loss.refresh(force=True)
    assert 0 < len(changes) <= 20, f"{len(changes)} range changes for 300 points"
    (x0, x1), (y0, y1) = d.loss.item.getViewBox().viewRange()
    assert x0 <= 0 and x1 >= 10 and y1 >= d.loss.raw.y.max() and y0 <= d.loss.raw.y.min()
    # once the user pans or zooms, new data do not move the view
    d.loss.item.getViewBox().sigRangeChangedManually.emit([True, True])
    before = d.loss.item.getViewBox().viewRange()
    d.loss.ingest_steps([StepReport(10, 10, 301, 300, 50.0, 0.01, 1e3, 0.1, 1.0)])
    d.loss.refresh(force=True)
    assert d.loss.item.getViewBox().viewRange() == before
    d.reset()  # a new run: the range follows the data again
    assert not d.loss.range.user


def test_drawing_keeps_within_its_budget(dashboard, qtbot, monkeypatch):
    from nnstudio.ui import dashboard as dashboard_module
    from nnstudio.ui.plots import PaintClock

    d = dashboard
    qtbot.wait(300)
    d.feed(fake_drain(epochs=[1], steps=[1]))
    frames = d.frames
    assert frames >= 1
    PaintClock.spent += 0.02  # as if painting that frame took 20 ms of the GUI thread
    d.feed(fake_drain(epochs=[2], steps=[2]))
    d._frame()  # the next frame's cost now includes those 20 ms
    assert d.frame_cost >= 0.02
    frames = d.frames
    d.feed(fake_drain(epochs=[3], steps=[3]))
    assert d.frames == frames, "drew again before the budget allowed"
    wait = min(dashboard_module.FRAME_MAX_S, 0.02 / dashboard_module.DRAW_BUDGET)
    qtbot.waitUntil(lambda: d.frames == frames + 1, timeout=int(wait * 1000) + 500)
    assert data_len(d.loss.val_curve) == 3  # the deferred frame drew what had arrived


def test_draw_budget_bounds_the_share_of_any_window_and_allows_bursts():
    from nnstudio.ui.dashboard import DrawBudget

    budget = DrawBudget(share=0.1, window=1.0, min_gap=0.05, max_gap=10.0)
    frames, t = [], 0.0
    for i in range(200):  # steady frames of 30 ms: about 0.1 / 0.03 = 3.3 a second
        frames.append((t, 0.03))
        t = budget.next_frame(t, 0.03)
    for start, _cost in frames:
        spent = sum(c for s, c in frames if start - 1.0 + 1e-9 < s <= start)
        assert spent <= 0.1 + 1e-9, f"{spent:.3f} s drawn in the second before {start:.2f}"
    rate = len(frames) / frames[-1][0]
    assert 2.9 < rate < 3.5, rate
    # one costly frame (a tab shown) does not slow the cheap frames after it
    budget = DrawBudget(share=0.1, window=1.0, min_gap=0.05, max_gap=10.0)
    t = budget.next_frame(100.0, 0.05)
    gaps = []
    for _ in range(10):
        nxt = budget.next_frame(t, 0.002)
        gaps.append(nxt - t)
        t = nxt
    assert max(gaps) == pytest.approx(0.05)
    # a frame over the whole budget: the next waits the longest gap, no more
    budget = DrawBudget(share=0.1, window=1.0, min_gap=0.05, max_gap=0.2)
    assert budget.next_frame(5.0, 0.5) == pytest.approx(5.2)


class FakeClock:
    """A ``time`` module for the dashboard and its plots whose clock moves only when the test says so: what a
    loaded machine does to the wall clock cannot change what the test sees."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def thread_time(self) -> float:
        return 0.0


def test_slow_plots_redraw_less_often_but_draw_their_last_data(dashboard, qtbot, monkeypatch):
    from nnstudio.ui import dashboard as dashboard_module
    from nnstudio.ui import plots

    clock = FakeClock()
    monkeypatch.setattr(plots, "time", clock)
    monkeypatch.setattr(dashboard_module, "time", clock)
    d = dashboard
    qtbot.wait(50)
    draws = d.metrics.draws
    for e in range(1, 11):  # ten short epochs in a tenth of a second
        clock.now += 0.01
        d._next_frame = 0.0
        d.feed(fake_drain(epochs=[e], steps=[e]))
    assert d.loss.draws >= 10  # the live curve follows every frame
    assert d.metrics.draws - draws <= 1, "the per-epoch metrics were redrawn at every frame"
    assert data_len(d.metrics.curves["val_accuracy"]) < 10
    # no more reports (a pause, the end): the metrics still show the last epoch once their interval has passed
    clock.now += d.metrics.min_interval_s
    qtbot.waitUntil(lambda: data_len(d.metrics.curves["val_accuracy"]) == 10, timeout=2000)


def test_y_range_grows_with_headroom_and_narrows_rarely(dashboard, qtbot, monkeypatch):
    from nnstudio.ui import plots

    d = dashboard
    clock = [1000.0]
    monkeypatch.setattr(plots.time, "perf_counter", lambda: clock[0])
    rng = d.loss.range
    rng.update(1.0, 0.5, 1.0)
    low, high = rng.y
    rng.update(1.1, 0.5, 1.5)  # a value above the range: it grows at once, beyond the value
    assert rng.y[0] == low and rng.y[1] > 1.5 + 0.2 * 1.0
    narrowed = []
    for i in range(20):  # the loss falls fast: the range narrows at most once a second
        clock[0] += 0.1
        before = rng.y
        rng.update(1.2 + i * 0.01, 0.5, 0.5 + 0.4 * 0.8 ** i)
        if rng.y != before:
            narrowed.append(clock[0])
    assert 1 <= len(narrowed) <= 3
    assert all(b - a >= rng.NARROW_EVERY_S - 1e-9 for a, b in zip(narrowed, narrowed[1:]))


def test_what_the_person_does_redraws_at_once_even_when_a_plot_is_throttled(dashboard, qtbot):
    d = dashboard
    qtbot.wait(50)
    d.feed(fake_drain(epochs=[1, 2], steps=[1, 2]))
    d.metrics.mark_dirty()
    d.metrics.unthrottle()
    assert d.metrics.refresh()
    d.metrics.mark_dirty()
    assert not d.metrics.refresh()  # drawn just now: a new epoch's redraw is held back
    draws = d.metrics.draws
    d.metrics.log_box.click()  # but a click on "Log scale" right after a frame redraws at once
    assert d.metrics.log and d.metrics.draws == draws + 1
    d.histograms.set_layers(["dense_1", "dense_2"])
    d.histograms.mark_dirty()
    d.histograms.unthrottle()
    d.grid.show_plot("weights")
    qtbot.wait(20)
    draws = d.histograms.draws
    d.histograms.select_layer("dense_2")  # a layer chosen on the canvas
    assert d.histograms.draws == draws + 1


def test_the_metrics_show_the_running_accuracy_of_the_epoch_under_way(dashboard, qtbot):
    d = dashboard
    steps = [StepReport(1 + (s - 1) // 10, 3, s, 30, 1.0, 0.01, 100.0, 0.1, 1.0, accuracy=s / 100) for s in range(1, 16)]
    d.feed(Drained(steps=steps))
    qtbot.wait(10)
    running = d.metrics.series["running_accuracy"]
    assert running.y.tolist() == pytest.approx([s / 100 for s in range(11, 16)])  # epoch 2 only, from its start
    assert running.x[0] == pytest.approx(11 / 10) and data_len(d.metrics.curves["running_accuracy"]) == 5
    d.feed(Drained(steps=[StepReport(2, 3, 16, 30, 1.0, 0.01, 100.0, 0.1, 1.0)]))  # a regression: no accuracy
    assert len(running) == 5
    d.finish(SimpleNamespace(history={"epochs": []}, stop_reason="stopped", steps=16, device="cpu"))
    assert len(running) == 0 and data_len(d.metrics.curves["running_accuracy"]) == 0


def test_the_engine_reports_the_running_accuracy_ending_on_the_epochs_value():
    from nnstudio.core.training.control import Callback

    class Steps(Callback):
        def __init__(self):
            self.steps = []

        def on_step(self, r):
            self.steps.append(r)

    run = prepare(EXAMPLES["spiral_mlp"](), epochs=2)
    listener = Steps()
    result = engine.train(run.compiled, run.split, run.config, [listener])
    last_of_epoch = {r.epoch: r for r in listener.steps}  # the last report of each epoch
    for row in result.history["epochs"]:
        assert last_of_epoch[row["epoch"]].accuracy == pytest.approx(row["train_accuracy"])
    assert all(0.0 <= r.accuracy <= 1.0 for r in listener.steps)
