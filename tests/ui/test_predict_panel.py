"""The Predict panel as a view of the Session: points, drawn/loaded images and typed text through the project's
weights, only while they are "current" and no run is active; a banner says why otherwise (symptoms 3 and 4 of
issue 11: no prediction with stale weights, nothing of the old project after New)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from nnstudio.core import examples
from nnstudio.core.compile import compile_graph
from nnstudio.core.data.registry import load_split
from nnstudio.core.project.model import Project
from nnstudio.core.session import Session
from nnstudio.core.training.project_run import load_weights
from nnstudio.core.training.reports import TrainResult
from nnstudio.core.weights_status import OUT_OF_DATE_TEXT
from nnstudio.ui.panels import predict as predict_mod
from nnstudio.ui.panels.predict import (
    TEXT_NEEDS_DATA,
    TRAINING,
    UNKNOWN_WEIGHTS,
    UNSUPPORTED,
    UNTRAINED,
    PredictPanel,
)

ARMS = ["arm 1", "arm 2", "arm 3"]


def _with_initial_weights(project):
    """Weights as an old file has them: no fingerprint, judged by their names and shapes."""
    project.weights = {k: v.detach().clone() for k, v in compile_graph(project.graph, seed=0).module.state_dict()
                       .items()}
    return project


def loaded(session: Session) -> Session:
    key = session.data_key
    assert session.data_loading(key) and session.data_loaded(key, load_split(session.project.dataset))
    return session


def finish(session: Session, result: TrainResult) -> Session:
    run = session.run_started()
    assert session.run_finished(result, run=run)
    return session


def result_of(graph, seed: int) -> TrainResult:
    weights = {k: v.detach().clone() for k, v in compile_graph(graph, seed=seed).module.state_dict().items()}
    return TrainResult(history={"epochs": [{"epoch": 1, "train_loss": 0.4, "val_accuracy": 1.0}]},
                       state_dict=weights, stop_reason="completed", best_epoch=1, final={"val_accuracy": 1.0})


@pytest.fixture(scope="module")
def spiral_result():
    """A real short run of the spiral example (its weights, history and fingerprint)."""
    from nnstudio.core.training.project_run import prepare, train_prepared

    torch.set_num_threads(1)
    return train_prepared(prepare(examples.spiral_mlp(), epochs=3))


@pytest.fixture
def trained(spiral_result):
    return finish(loaded(Session(examples.spiral_mlp())), spiral_result)


def _panel(qtbot, session) -> PredictPanel:
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 620)
    panel.bind_session(session)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_untrained_project_says_train_first(qtbot):
    panel = _panel(qtbot, loaded(Session(examples.spiral_mlp())))
    assert panel.mode == "message" and not panel.available
    assert panel.message.text() == UNTRAINED
    with pytest.raises(RuntimeError):
        panel.predict_point(0.0, 0.0)


def test_weights_of_another_network_are_out_of_date(qtbot):
    project = examples.spiral_mlp()
    project.weights = {"nope": torch.zeros(1)}  # an old file's weights whose names do not fit
    panel = _panel(qtbot, loaded(Session(project)))
    assert panel.mode == "points" and not panel.available
    assert panel.banner.isVisibleTo(panel) and panel.banner.text() == OUT_OF_DATE_TEXT
    assert not panel.plot.isEnabled()
    with pytest.raises(RuntimeError):
        panel.predict_point(0.0, 0.0)


def test_weights_that_cannot_be_checked_say_so(qtbot):
    project = _with_initial_weights(examples.spiral_mlp())
    project.graph.disconnect(project.graph.inputs_of("output_1")[0])  # cannot be built: cannot be compared
    session = Session(project)
    assert session.weights_status == "unknown"
    panel = _panel(qtbot, session)
    assert panel.mode == "message" and panel.message.text() == UNKNOWN_WEIGHTS


def test_point_prediction(qtbot, trained):
    panel = _panel(qtbot, trained)
    assert panel.mode == "points" and panel.available and not panel.banner.isVisibleTo(panel)
    assert panel.title.text() == "Predict with Spiral MLP: points"
    assert panel.classes == ARMS
    assert len(panel.scatter.data) == 600  # the training and the validation points, from session.data
    probs = panel.predict_point(0.3, -0.2)
    assert set(probs) == set(ARMS)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(probs.values()) == sorted(probs.values(), reverse=True)
    assert panel.table.rowCount() == 3
    assert panel.table.rows()[0][0] == next(iter(probs))
    panel.grab().save("/tmp/predict_points.png")


def test_class_names_come_from_the_history_without_data(qtbot, spiral_result):
    panel = _panel(qtbot, finish(loaded(Session(examples.spiral_mlp())), spiral_result))
    session = Session(panel.session.project)  # the trained project, its data not loaded (yet)
    panel.bind_session(session)
    assert session.data_state == "needed" and panel.classes == ARMS and panel.available
    assert len(panel.scatter.data) == 0
    loaded(session)
    assert len(panel.scatter.data) == 600


def test_plot_click_predicts(qtbot, trained):
    panel = _panel(qtbot, trained)
    vb = panel.plot.getPlotItem().vb
    scene_pos = vb.mapViewToScene(vb.viewRect().center())
    widget_pos = panel.plot.mapFromScene(scene_pos)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    if not panel.last_result:  # pyqtgraph reports a click on release after a short wait on some platforms
        qtbot.wait(50)
    assert panel.last_result
    assert sum(panel.last_result.values()) == pytest.approx(1.0, abs=1e-5)
    x, y = panel.marker.getData()
    centre = vb.viewRect().center()
    assert x[0] == pytest.approx(centre.x(), abs=0.05) and y[0] == pytest.approx(centre.y(), abs=0.05)


def test_an_edit_of_the_network_stops_prediction_and_undoing_it_brings_it_back(qtbot, trained):
    panel = _panel(qtbot, trained)
    before = panel.predict_point(0.3, -0.2)
    old = trained.graph.set_params("dense_1", {"units": 17})
    trained.graph_edited()
    assert trained.weights_status == "out_of_date"
    assert not panel.available and panel.compiled is None
    assert panel.banner.isVisibleTo(panel) and panel.banner.text() == OUT_OF_DATE_TEXT
    assert panel.banner_text() == OUT_OF_DATE_TEXT and not panel.prediction_enabled()
    assert not panel.plot.isEnabled() and not panel.table.rowCount() and panel.last_result == {}
    assert panel.point_label.text() == "" and len(panel.marker.getData()[0]) == 0
    with pytest.raises(RuntimeError, match="earlier version"):
        panel.predict_point(0.3, -0.2)
    trained.graph.set_params("dense_1", old)  # undo
    trained.graph_edited()
    assert trained.weights_status == "current" and panel.prediction_enabled() and panel.banner_text() == ""
    assert not panel.banner.isVisibleTo(panel) and panel.plot.isEnabled()
    assert panel.predict_point(0.3, -0.2) == pytest.approx(before)


def test_a_new_run_disables_prediction_and_its_weights_are_used_after(qtbot, trained):
    panel = _panel(qtbot, trained)
    first = panel.predict_point(0.3, -0.2)
    run = trained.run_started()
    assert not panel.available and panel.banner.text() == TRAINING and not panel.plot.isEnabled()
    other = result_of(trained.graph, seed=5)
    assert trained.run_finished(other, run=run) and trained.weights_status == "current"
    assert panel.available
    probs = panel.predict_point(0.3, -0.2)
    assert probs != pytest.approx(first)  # not the model built for the first weights
    model = compile_graph(trained.graph)
    load_weights(model, other.state_dict)
    expected = model.predict(torch.tensor([[0.3, -0.2]]))[0]
    assert sorted(probs.values()) == pytest.approx(sorted(float(v) for v in expected), abs=1e-6)


def test_a_new_project_shows_nothing_of_the_old_one(qtbot, trained):
    panel = _panel(qtbot, trained)
    panel.predict_point(0.3, -0.2)
    trained.replace(Project())
    assert panel.mode == "message" and panel.message.text() == UNTRAINED
    assert panel.title_text() == "Predict"
    assert panel.classes == [] and panel.last_result == {} and not panel.table.isVisibleTo(panel)
    assert panel.compiled is None


def test_image_drawing_predicts(qtbot):
    panel = _panel(qtbot, Session(_with_initial_weights(examples.digits_cnn())))
    assert panel.mode == "image" and panel.available
    assert panel.title.text() == "Predict with Digits CNN: images 28 x 28"
    with qtbot.waitSignal(panel.predicted):
        panel.canvas.draw_line(14, 4, 14, 24)
    probs = panel.last_result
    assert len(probs) == 10 and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert panel.canvas.pixels.max() == pytest.approx(1.0)
    assert panel.image_tensor().shape == (1, 1, 28, 28)
    direct = panel.predict_image()
    assert direct == pytest.approx(probs)
    panel.grab().save("/tmp/predict_image.png")


def test_a_drawing_is_predicted_again_when_the_weights_fit_again(qtbot):
    session = Session(_with_initial_weights(examples.digits_cnn()))
    panel = _panel(qtbot, session)
    panel.canvas.draw_line(14, 4, 14, 24)
    before = dict(panel.last_result)
    conv = next(nid for nid, n in session.graph.nodes.items() if n.type_id.startswith("conv"))
    old = session.graph.set_params(conv, {"filters": session.graph.nodes[conv].params["filters"] + 1})
    session.graph_edited()
    assert not panel.available and panel.last_result == {} and not panel.canvas.isEnabled()
    session.graph.set_params(conv, old)
    session.graph_edited()
    assert panel.available and panel.last_result == pytest.approx(before)


def test_image_mouse_stroke(qtbot):
    panel = _panel(qtbot, Session(_with_initial_weights(examples.digits_cnn())))
    c = panel.canvas
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    qtbot.mouseMove(c, QPoint(120, 160))
    with qtbot.waitSignal(panel.predicted):
        qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(120, 160))
    assert c.pixels[40 // c.scale, 40 // c.scale] > 0.5
    assert len(panel.last_result) == 10
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert not c.pixels.any()


def test_downscale_for_8x8_digits():
    a = np.zeros((28, 28), dtype=np.float32)
    a[4:24, 13:15] = 1.0
    small = predict_mod.resize_array(a, 8, 8)
    assert small.shape == (8, 8) and small.max() == pytest.approx(1.0) and small.min() >= 0.0


def test_load_image(qtbot, tmp_path, monkeypatch):
    from PIL import Image

    img = np.full((50, 40), 0, dtype=np.uint8)
    img[10:40, 18:22] = 255
    path = tmp_path / "digit.png"
    Image.fromarray(img).convert("RGB").save(path)
    panel = _panel(qtbot, Session(_with_initial_weights(examples.digits_cnn())))
    monkeypatch.setattr(predict_mod, "choose_image_file", lambda parent: str(path))
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    t = panel.image_tensor()
    assert t.shape == (1, 1, 28, 28) and float(t.max()) == pytest.approx(1.0) and float(t.min()) == 0.0
    assert len(panel.last_result) == 10


def test_text_prediction_uses_the_sessions_vocabulary(qtbot):
    session = Session(_with_initial_weights(examples.sentiment_lstm()))
    panel = _panel(qtbot, session)
    assert panel.mode == "message"  # the panel does not load the data itself
    assert panel.message.text() == f"{TEXT_NEEDS_DATA}: the data are being loaded"
    loaded(session)
    assert panel.mode == "text" and panel.available
    probs = panel.predict_text("not good")
    assert len(probs) == 2 and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert set(probs) == {"negative", "positive"}
    ids = panel.text_tensor("not good")
    assert ids.shape == (1, 32) and int(ids[0, 0]) == 0 and int(ids[0, -1]) != 0
    panel.text_edit.setText("a wonderful film")
    assert panel.table.rowCount() == 2
    panel.grab().save("/tmp/predict_text.png")


def test_text_whose_data_failed_says_why(qtbot):
    session = Session(_with_initial_weights(examples.sentiment_lstm()))
    panel = _panel(qtbot, session)
    session.data_failed(session.data_key, "sentiment.csv is missing")
    assert panel.message.text() == f"{TEXT_NEEDS_DATA}: the data could not be loaded: sentiment.csv is missing"


def test_unsupported_input(qtbot, chain_graph):
    project = _with_initial_weights(Project(graph=chain_graph, name="Iris", dataset={"name": "iris"}))
    panel = _panel(qtbot, Session(project))
    assert panel.mode == "message"
    assert panel.message.text() == UNSUPPORTED
