"""The Predict panel: points, drawn/loaded images and typed text through a trained (or untrained-weights)
network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from nnstudio.core import examples
from nnstudio.core.compile import compile_graph
from nnstudio.ui.panels import predict as predict_mod
from nnstudio.ui.panels.predict import UNSUPPORTED, UNTRAINED, PredictPanel


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _with_initial_weights(project):
    project.weights = {k: v.detach().clone() for k, v in compile_graph(project.graph, seed=0).module.state_dict()
                       .items()}
    return project


@pytest.fixture(scope="module")
def trained_spiral():
    from nnstudio.core.training import engine
    from nnstudio.core.training.project_run import prepare, store_result

    torch.set_num_threads(1)
    project = examples.spiral_mlp()
    run = prepare(project, epochs=3)
    store_result(project, engine.train(run.compiled, run.split, run.config))
    return project


def _panel(qtbot, project) -> PredictPanel:
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 620)
    panel.set_project(project)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_untrained_project_says_train_first(qtbot):
    panel = _panel(qtbot, examples.spiral_mlp())
    assert panel.mode == "message"
    assert panel.message.text() == UNTRAINED


def test_wrong_weights_show_the_message(qtbot):
    project = examples.spiral_mlp()
    project.weights = {"nope": torch.zeros(1)}
    panel = _panel(qtbot, project)
    assert panel.mode == "message"
    assert "do not belong" in panel.message.text()


def test_point_prediction(qtbot, trained_spiral):
    panel = _panel(qtbot, trained_spiral)
    assert panel.mode == "points"
    probs = panel.predict_point(0.3, -0.2)
    assert set(probs) == set(panel.classes) and len(probs) == 3
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(probs.values()) == sorted(probs.values(), reverse=True)
    assert panel.table.rowCount() == 3
    assert panel.table.rows()[0][0] == next(iter(probs))
    panel.grab().save("/tmp/predict_points.png")


def test_plot_click_predicts(qtbot, trained_spiral):
    panel = _panel(qtbot, trained_spiral)
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


def test_image_drawing_predicts(qtbot):
    panel = _panel(qtbot, _with_initial_weights(examples.digits_cnn()))
    assert panel.mode == "image"
    with qtbot.waitSignal(panel.predicted):
        panel.canvas.draw_line(14, 4, 14, 24)
    probs = panel.last_result
    assert len(probs) == 10 and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert panel.canvas.pixels.max() == pytest.approx(1.0)
    assert panel.image_tensor().shape == (1, 1, 28, 28)
    direct = panel.predict_image()
    assert direct == pytest.approx(probs)
    panel.grab().save("/tmp/predict_image.png")


def test_image_mouse_stroke(qtbot):
    panel = _panel(qtbot, _with_initial_weights(examples.digits_cnn()))
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
    panel = _panel(qtbot, _with_initial_weights(examples.digits_cnn()))
    monkeypatch.setattr(predict_mod, "choose_image_file", lambda parent: str(path))
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    t = panel.image_tensor()
    assert t.shape == (1, 1, 28, 28) and float(t.max()) == pytest.approx(1.0) and float(t.min()) == 0.0
    assert len(panel.last_result) == 10


def test_text_prediction(qtbot):
    panel = _panel(qtbot, _with_initial_weights(examples.sentiment_lstm()))
    assert panel.mode == "text"
    probs = panel.predict_text("not good")
    assert len(probs) == 2 and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    ids = panel.text_tensor("not good")
    assert ids.shape == (1, 32) and int(ids[0, 0]) == 0 and int(ids[0, -1]) != 0
    panel.text_edit.setText("a wonderful film")
    assert panel.table.rowCount() == 2
    panel.grab().save("/tmp/predict_text.png")


def test_unsupported_input(qtbot, chain_graph):
    from nnstudio.core.project.model import Project

    project = _with_initial_weights(Project(graph=chain_graph, name="Iris", dataset={"name": "iris"}))
    panel = _panel(qtbot, project)
    assert panel.mode == "message"
    assert panel.message.text() == UNSUPPORTED
