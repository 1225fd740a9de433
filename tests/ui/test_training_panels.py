"""The training panel (settings form, device, Start / Pause / Stop, progress) and the dataset panel (chooser,
options, split, preview, fit problems in plain words)."""

from __future__ import annotations

import re

import pytest
import torch

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.training.config import PARAMS, TrainConfig
from nnstudio.core.training.device import available_devices
from nnstudio.ui.panels import dataset as dataset_module
from nnstudio.ui.panels.dataset import DatasetPanel
from nnstudio.ui.panels.dataset_preview import image_grid
from nnstudio.ui.panels.training import TrainingPanel, format_eta
from nnstudio.ui.workers import training_worker
from nnstudio.ui.workers.training_worker import TrainingWorker


@pytest.fixture(autouse=True)
def one_training_thread(monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)


@pytest.fixture
def project():
    return EXAMPLES["spiral_mlp"]()


@pytest.fixture
def panel(qtbot, project):
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.set_project(project)
    return p


@pytest.fixture
def worker(qtbot):
    w = TrainingWorker()
    yield w
    assert w.wait_stopped(10)


def editor(form_owner, name):
    for form in form_owner.forms:
        if name in form.editors:
            return form, form.editors[name]
    raise KeyError(name)


# -- training panel --------------------------------------------------------------------------------------
def test_form_has_every_setting_and_shows_the_project(panel, project):
    names = {n for form in panel.forms for n in form.editors}
    assert names == {p.name for p in PARAMS}
    assert editor(panel, "lr")[1].value() == pytest.approx(0.01)
    assert editor(panel, "epochs")[1].value() == 100
    assert editor(panel, "optimizer")[1].currentData() == "adam"


def test_device_list_offers_cpu(panel):
    ids = panel.device_ids()
    assert ids[0] == "auto" and "cpu" in ids
    assert ids[1:] == [d["id"] for d in available_devices()]


def test_a_saved_device_missing_here_is_shown(panel, project):
    project.training["device"] = "cuda:7"
    panel.set_project(project)
    assert panel.device.currentData() == "cuda:7" and "not available" in panel.device.currentText()


def test_edits_write_the_project_and_emit_changed(panel, project, qtbot):
    _, lr = editor(panel, "lr")
    with qtbot.waitSignal(panel.changed):
        lr.setValue(0.05)
    assert project.training == TrainConfig.from_dict({**TrainConfig().to_dict(), "lr": 0.05,
                                                      "epochs": 100}).to_dict()
    with qtbot.waitSignal(panel.changed):
        panel.device.setCurrentIndex(panel.device.findData("cpu"))
    assert project.training["device"] == "cpu"


def test_a_refused_value_is_explained_and_not_written(panel, project, qtbot):
    form, lr = editor(panel, "lr")
    with qtbot.assertNotEmitted(panel.changed):
        lr.setValue(0.0)
    assert project.training["lr"] == 0.01
    assert form.problem("lr") == "Learning rate must be at least 1e-08, not 0"
    assert form.problems["lr"].isVisibleTo(panel)
    lr.setValue(0.02)
    assert form.problem("lr") is None and project.training["lr"] == 0.02


def test_settings_that_do_not_apply_are_greyed_out(panel):
    form, optimizer = editor(panel, "optimizer")
    assert not form.editors["momentum"].isEnabled()
    optimizer.setCurrentIndex(optimizer.findData("sgd"))
    assert form.editors["momentum"].isEnabled() and form.editors["nesterov"].isEnabled()
    sform, schedule = editor(panel, "schedule")
    assert not sform.editors["step_size"].isEnabled()
    schedule.setCurrentIndex(schedule.findData("step"))
    assert sform.editors["step_size"].isEnabled() and not sform.editors["plateau_factor"].isEnabled()


def test_auto_apply_off_only_proposes_the_edit(panel, project, qtbot):
    panel.auto_apply = False
    with qtbot.waitSignal(panel.settings_edited) as blocker:
        editor(panel, "batch_size")[1].setValue(64)
    assert blocker.args[0]["batch_size"] == 64
    assert project.training["batch_size"] == 32


def test_start_pause_resume_stop_and_progress(panel, project, worker, qtbot):
    project.training["epochs"] = 100_000
    project.dataset = {"name": "spiral", "classes": 3, "samples": 3000}
    panel.set_project(project)
    panel.attach(worker)
    assert panel.start_button.isEnabled() and not panel.pause_button.isEnabled()
    with qtbot.waitSignal(panel.start_requested):
        panel.start_button.click()
    assert worker.running
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.settings_area.isEnabled()  # no edits while training
    qtbot.waitUntil(lambda: "samples/s" in panel.progress_label.text(), timeout=15_000)
    assert re.match(r"Epoch \d+/100000 · step [\d,]+/7,500,000\nETA [\d:]+ · [\d,]+ samples/s$",
                    panel.progress_label.text())
    assert 0 <= panel.progress.value() < 1000
    panel.pause_button.click()
    assert worker.state == "paused" and panel.pause_button.text() == "Resume"
    assert panel.progress_label.text().startswith("Paused.")
    panel.pause_button.click()
    assert worker.state == "running" and panel.pause_button.text() == "Pause"
    with qtbot.waitSignal(worker.finished, timeout=15_000) as blocker:
        panel.stop_button.click()
    assert blocker.args[0].stop_reason == "stopped"
    qtbot.wait(10)
    assert panel.start_button.isEnabled() and panel.settings_area.isEnabled()
    assert panel.progress_label.text().startswith("Stopped after")


def test_a_full_run_from_the_panel(panel, project, worker, qtbot):
    editor(panel, "epochs")[1].setValue(2)
    panel.attach(worker)
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        panel.start_button.click()
    assert panel.progress.value() == 1000
    assert panel.progress_label.text().startswith("Finished after 2 epochs: val_accuracy=")


def test_a_failed_start_shows_the_message(panel, project, worker, qtbot):
    project.dataset = {"name": "iris"}
    panel.attach(worker)
    with qtbot.waitSignal(worker.failed, timeout=15_000):
        panel.start_button.click()
    assert panel.message.isVisibleTo(panel)
    assert "set the Input's features to 4" in panel.message.text()
    assert panel.start_button.isEnabled()


def test_eta_format():
    assert format_eta(5) == "0:05" and format_eta(3725) == "1:02:05" and format_eta(float("nan")) == "–"


# -- dataset panel ---------------------------------------------------------------------------------------
def reload(panel, qtbot):
    """Load the panel's data now (on the loader's thread) and wait until the preview shows them."""
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload()


@pytest.fixture
def dpanel(qtbot, project):
    p = DatasetPanel()
    qtbot.addWidget(p)
    p.resize(420, 800)
    p.show()
    with qtbot.waitSignal(p.loaded, timeout=10000):
        p.set_project(project)
    return p


def test_dataset_panel_shows_the_projects_data(dpanel):
    assert dpanel.chooser.currentData() == "spiral"
    assert dpanel.options.editors["classes"].value() == 3
    assert dpanel.preview.kind == "points2d"
    assert len(dpanel.preview.scatter.data) == 600
    assert "600 samples" in dpanel.summary.text() and "3 classes" in dpanel.summary.text()
    assert dpanel.problems() == []


def test_choosing_a_dataset_that_does_not_fit_says_why(dpanel, project, qtbot):
    with qtbot.waitSignal(dpanel.changed):
        dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("digits"))
    reload(dpanel, qtbot)
    assert project.dataset == {"name": "digits"}
    assert dpanel.preview.kind == "images"
    problems = dpanel.problems()
    assert any("images (N, 1, 8, 8)" in p and "(N, 2)" in p for p in problems)
    assert any("10 classes" in p and "3 scores" in p for p in problems)
    assert dpanel.problems_label.isVisibleTo(dpanel)


def test_options_and_split_are_written(dpanel, project, qtbot):
    with qtbot.waitSignal(dpanel.changed):
        dpanel.options.editors["samples"].setValue(300)
    with qtbot.waitSignal(dpanel.changed):
        dpanel.split.editors["val_fraction"].setValue(0.3)
    assert project.dataset == {"name": "spiral", "classes": 3, "samples": 300, "val_fraction": 0.3}
    qtbot.waitUntil(lambda: len(dpanel.preview.scatter.data) == 300, timeout=3000)  # reloaded after a pause
    with qtbot.assertNotEmitted(dpanel.changed):
        dpanel.options.editors["samples"].setValue(5)  # below the minimum of 20
    assert "Samples must be at least 20" in dpanel.options.problem("samples")
    # the split survives a change of dataset
    dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("moons"))
    assert project.dataset == {"name": "moons", "val_fraction": 0.3}


def test_previews_for_tables_texts_and_curves(dpanel, qtbot):
    for name, kind in (("iris", "table"), ("sentiment", "text"), ("sine", "curve")):
        dpanel.chooser.setCurrentIndex(dpanel.chooser.findData(name))
        reload(dpanel, qtbot)
        assert dpanel.preview.kind == kind, name
    dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("sentiment"))
    reload(dpanel, qtbot)
    assert dpanel.preview.texts.count() == 40 and dpanel.preview.texts.item(0).text().startswith("[")
    dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("iris"))
    reload(dpanel, qtbot)
    assert dpanel.preview.table.rowCount() == 50
    assert dpanel.preview.table.horizontalHeaderItem(1).text() == "sepal length (cm)"


def test_import_uses_the_file_picker(dpanel, project, tmp_path, monkeypatch, qtbot):
    path = tmp_path / "points.csv"
    path.write_text("a,b,c,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{i},{'yes' if i % 2 else 'no'}\n"
                                              for i in range(40)))
    picked = []

    def fake_choose(parent, kind, caption, start=""):
        picked.append(kind)
        return str(path)

    monkeypatch.setattr(dataset_module, "choose_path", fake_choose)
    dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("csv"))
    reload(dpanel, qtbot)
    assert dpanel.preview.kind == "none" and "Browse" in dpanel.preview.empty.text()
    dpanel.options.editors["path"].browse.click()
    reload(dpanel, qtbot)
    assert picked == ["file"]
    assert project.dataset["path"] == str(path)
    assert dpanel.preview.kind == "table" and dpanel.preview.table.rowCount() == 40
    # a file that is not there: a plain message, not a crash
    dpanel.options.editors["path"].line.setText(str(tmp_path / "missing.csv"))
    dpanel.options.editors["path"].line.editingFinished.emit()
    reload(dpanel, qtbot)
    assert dpanel.problems() and "missing.csv" in dpanel.problems()[0]
    assert dpanel.preview.kind == "none"


def test_graph_edits_recheck_the_fit(dpanel, project, qtbot):
    input_id = next(nid for nid, n in project.graph.nodes.items() if n.spec.is_input)
    project.graph.set_params(input_id, {"features": 4})
    qtbot.waitUntil(lambda: bool(dpanel.problems()), timeout=3000)
    assert "Input node expects (N, 4)" in dpanel.problems()[0]
    project.graph.set_params(input_id, {"features": 2})
    qtbot.waitUntil(lambda: not dpanel.problems(), timeout=3000)


def test_image_grid_shapes():
    grid, cols = image_grid(torch.rand(10, 1, 4, 4).numpy(), 10)
    assert cols == 8 and grid.shape == (2 * 5, 8 * 5, 3)


def test_data_load_off_the_gui_thread_and_only_the_newest_is_shown(dpanel, project, qtbot, monkeypatch):
    """A slow file does not freeze the window, and options changed meanwhile win over the slow load."""
    import threading

    from nnstudio.ui.workers import data_loader

    release = threading.Event()
    real = data_loader.load_dataset
    threads, tokens = [], []

    def slow_load(config, base_dir=None, token=None):
        threads.append(threading.current_thread())
        tokens.append(token)
        if config.get("samples") == 100:
            assert release.wait(10)
        return real(config, base_dir=base_dir, token=token)

    monkeypatch.setattr(data_loader, "load_dataset", slow_load)
    dpanel.config = {**dpanel.config, "samples": 100}
    dpanel.reload()
    assert dpanel.loading and "Loading" in dpanel.preview.empty.text()
    qtbot.wait(50)  # the event loop runs while the file is read
    with qtbot.waitSignal(dpanel.loaded, timeout=10000):
        dpanel.config = {**dpanel.config, "samples": 200}
        dpanel.reload()
        assert tokens[0].cancelled  # the newer request cancelled the older read
        release.set()
    assert not dpanel.loading and len(dpanel.preview.scatter.data) == 200
    assert dpanel.loader.wait(5000)
    qtbot.wait(100)  # the stale answer (100 samples) would arrive now; it must never be shown
    assert len(dpanel.preview.scatter.data) == 200 and dpanel.data.x.shape[0] == 200
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_closing_the_panel_never_waits_for_a_stuck_read(qtbot, project, monkeypatch):
    import threading

    from PySide6.QtCore import QCoreApplication, QEvent

    from nnstudio.ui.workers import data_loader

    release, started = threading.Event(), threading.Event()
    real = data_loader.load_dataset
    seen = {}

    def stuck_load(config, base_dir=None, token=None):
        seen["token"], seen["thread"] = token, threading.current_thread()
        started.set()
        assert release.wait(30)  # stuck in the operating system: the token is not even looked at
        return real(config, base_dir=base_dir, token=token)

    monkeypatch.setattr(data_loader, "load_dataset", stuck_load)
    panel = DatasetPanel()
    panel.set_project(project)
    assert panel.loading and started.wait(5)
    try:
        panel.close()
        panel.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # deleting does not wait
        assert seen["thread"].is_alive() and seen["token"].cancelled
    finally:
        release.set()
    seen["thread"].join(10)
    assert not seen["thread"].is_alive()
    qtbot.wait(100)  # the answer to a panel that is gone reaches nobody, and nothing breaks
