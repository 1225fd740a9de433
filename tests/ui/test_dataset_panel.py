"""The dataset panel as a view of the session: chooser, options, split, preview and the session's dataset and
data problems in plain words; edits are requests (``dataset_edited``) that the session carries out."""

from __future__ import annotations

import threading

import pytest
import torch

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.problems import NO_DATASET
from nnstudio.core.project.model import Project
from nnstudio.core.session import Session
from nnstudio.core.session_state import LOCKED
from nnstudio.ui.panels import dataset as dataset_module
from nnstudio.ui.panels.dataset import PLACEHOLDER, DatasetPanel
from nnstudio.ui.panels.dataset_preview import image_grid
from nnstudio.ui.workers import data_loader, training_worker
from nnstudio.ui.workers.data_feeder import DataFeeder


@pytest.fixture(autouse=True)
def one_training_thread(monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)


@pytest.fixture
def project():
    return EXAMPLES["spiral_mlp"]()


@pytest.fixture
def session(project):
    return Session(project)


def bind(qtbot, session, wait=True) -> DatasetPanel:
    """A shown panel bound to ``session`` (its edits go straight to the session), with a feeder of its own."""
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    panel.dataset_edited.connect(session.set_dataset)
    panel.resize(420, 800)
    panel.show()
    feeder = DataFeeder(session, panel)
    if wait:
        with qtbot.waitSignal(panel.loaded, timeout=10000):
            panel.bind_session(session, feeder)
    else:
        panel.bind_session(session, feeder)
    return panel


@pytest.fixture
def dpanel(qtbot, session):
    return bind(qtbot, session)


def choose(panel, qtbot, name: str) -> None:
    """Pick ``name`` in the chooser and wait until the preview shows its data (or why there are none)."""
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.chooser.setCurrentIndex(panel.chooser.findData(name))


def shown_problems(session) -> list[str]:
    """The session's dataset and data problems as the panel words them."""
    return [p.message[0].upper() + p.message[1:] for p in session.problems if p.source in ("dataset", "data")]


def test_dataset_panel_shows_the_projects_data(dpanel, session):
    assert dpanel.chooser.currentData() == "spiral"
    assert dpanel.options.editors["classes"].value() == 3
    assert dpanel.preview.kind == "points2d"
    assert len(dpanel.preview.scatter.data) == 600
    assert "600 samples" in dpanel.summary.text() and "3 classes" in dpanel.summary.text()
    assert dpanel.problems() == [] and session.data_state == "loaded"


def test_choosing_a_dataset_that_does_not_fit_says_why(dpanel, session, qtbot):
    choose(dpanel, qtbot, "digits")
    assert session.dataset == {"name": "digits"}
    assert dpanel.preview.kind == "images"
    problems = dpanel.problems()
    assert any("images (N, 1, 8, 8)" in p and "(N, 2)" in p for p in problems)
    assert any("10 classes" in p and "3 scores" in p for p in problems)
    assert dpanel.problems_label.isVisibleTo(dpanel)


def test_the_data_problem_shown_is_the_sessions_own(dpanel, session, project, qtbot):
    """(b) The panel does not judge the fit itself: it shows the session's "data" problem, in its words."""
    choose(dpanel, qtbot, "digits")
    input_id = next(nid for nid, n in project.graph.nodes.items() if n.spec.is_input)
    fit = [p for p in session.problems if p.source == "data" and p.node_id == input_id]
    assert fit and dpanel.problems() == shown_problems(session)
    assert fit[0].message[0].upper() + fit[0].message[1:] in dpanel.problems()


def test_options_and_split_are_written_through_the_session(dpanel, session, qtbot):
    editor = dpanel.options.editors["samples"]
    with qtbot.waitSignal(dpanel.loaded, timeout=10000):
        editor.setValue(300)
    with qtbot.waitSignal(dpanel.loaded, timeout=10000):
        dpanel.split.editors["val_fraction"].setValue(0.3)
    assert session.dataset == {"name": "spiral", "classes": 3, "samples": 300, "val_fraction": 0.3}
    assert len(dpanel.preview.scatter.data) == 300
    assert dpanel.options.editors["samples"] is editor  # a value changed: the form was not built again
    with qtbot.assertNotEmitted(dpanel.dataset_edited):
        editor.setValue(5)  # below the minimum of 20
    assert "Samples must be at least 20" in dpanel.options.problem("samples")
    # the view follows the session (an undo, say), and the split survives a change of dataset
    session.set_dataset({"name": "spiral", "classes": 4, "val_fraction": 0.3})
    assert dpanel.options.editors["classes"].value() == 4 and dpanel.options.editors["samples"].value() == 600
    dpanel.chooser.setCurrentIndex(dpanel.chooser.findData("moons"))
    assert session.dataset == {"name": "moons", "val_fraction": 0.3}
    assert dpanel.chooser.currentData() == "moons" and dpanel.split.editors["val_fraction"].value() == 0.3


def test_an_edit_the_session_does_not_take_is_not_shown(qtbot, session):
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.bind_session(session, DataFeeder(session, panel))  # nobody carries out its edits
    with qtbot.waitSignal(panel.dataset_edited) as edit:
        panel.chooser.setCurrentIndex(panel.chooser.findData("moons"))
    assert edit.args[0] == {"name": "moons"}
    assert panel.chooser.currentData() == "spiral" and session.dataset == {"name": "spiral", "classes": 3}


def test_previews_for_tables_texts_and_curves(dpanel, qtbot):
    for name, kind in (("iris", "table"), ("sentiment", "text"), ("sine", "curve")):
        choose(dpanel, qtbot, name)
        assert dpanel.preview.kind == kind, name
    choose(dpanel, qtbot, "sentiment")
    assert dpanel.preview.texts.count() == 40 and dpanel.preview.texts.item(0).text().startswith("[")
    choose(dpanel, qtbot, "iris")
    assert dpanel.preview.table.rowCount() == 50
    assert dpanel.preview.table.horizontalHeaderItem(1).text() == "sepal length (cm)"


def test_import_uses_the_file_picker(dpanel, session, tmp_path, monkeypatch, qtbot):
    path = tmp_path / "points.csv"
    path.write_text("a,b,c,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{i},{'yes' if i % 2 else 'no'}\n"
                                              for i in range(40)))
    picked = []

    def fake_choose(parent, kind, caption, start=""):
        picked.append(kind)
        return str(path)

    monkeypatch.setattr(dataset_module, "choose_path", fake_choose)
    choose(dpanel, qtbot, "csv")
    assert session.data_state == "invalid"  # nothing to read yet
    assert dpanel.preview.kind == "none" and "Browse" in dpanel.preview.empty.text()
    assert dpanel.problems() == shown_problems(session) and dpanel.problems()
    with qtbot.waitSignal(dpanel.loaded, timeout=10000):
        dpanel.options.editors["path"].browse.click()
    assert picked == ["file"]
    assert session.dataset["path"] == str(path)
    assert dpanel.preview.kind == "table" and dpanel.preview.table.rowCount() == 40
    # a file that is not there: a plain message, not a crash
    dpanel.options.editors["path"].line.setText(str(tmp_path / "missing.csv"))
    dpanel.options.editors["path"].line.editingFinished.emit()
    assert session.dataset["path"].endswith("missing.csv")
    assert dpanel.problems() and "missing.csv" in dpanel.problems()[0]
    assert dpanel.preview.kind == "none"


def test_graph_edits_recheck_the_fit(dpanel, session, project):
    input_id = next(nid for nid, n in project.graph.nodes.items() if n.spec.is_input)
    project.graph.set_params(input_id, {"features": 4})
    session.graph_edited()
    assert dpanel.problems() and "Input node expects (N, 4)" in dpanel.problems()[0]
    assert dpanel.problems() == shown_problems(session)
    project.graph.set_params(input_id, {"features": 2})
    session.graph_edited()
    assert dpanel.problems() == []


def test_a_project_without_a_dataset_shows_the_placeholder_and_choosing_spiral_sets_it(qtbot, project):
    """(a) Issue 11, symptom 1: no "Spiral" of the panel's own, and choosing Spiral really sets it."""
    project.dataset = None
    session = Session(project)
    panel = bind(qtbot, session)
    assert panel.chooser.currentIndex() == 0 and panel.chooser.currentText() == PLACEHOLDER
    assert panel.chooser.currentData() is None
    assert panel.options is None and not panel.options_box.isVisibleTo(panel)
    assert not panel.split_box.isVisibleTo(panel)
    assert panel.preview.kind == "none" and "no dataset" in panel.preview.empty.text()
    assert panel.problems() == [NO_DATASET[0].upper() + NO_DATASET[1:]]
    choose(panel, qtbot, "spiral")
    assert session.dataset == {"name": "spiral"} and session.data_state == "loaded"
    assert panel.preview.kind == "points2d" and panel.options.editors["classes"].value() == 3
    assert panel.problems() == []


def test_the_editors_are_locked_while_a_run_is_active(dpanel, session):
    """(c) While training runs the dataset cannot change: the editors are disabled, a note says why."""
    editors = (dpanel.chooser, dpanel.options.editors["samples"], dpanel.split.editors["val_fraction"],
               dpanel.reload_button)
    assert all(w.isEnabled() for w in editors) and not dpanel.lock_note.isVisibleTo(dpanel)
    run = session.run_started()
    assert not any(w.isEnabled() for w in editors)
    assert dpanel.lock_note.isVisibleTo(dpanel) and LOCKED in dpanel.lock_note.text()
    assert session.run_failed("x", run=run)
    assert all(w.isEnabled() for w in editors) and not dpanel.lock_note.isVisibleTo(dpanel)


def test_the_browse_button_is_locked_too(dpanel, session, qtbot):
    choose(dpanel, qtbot, "csv")
    session.run_started()
    assert not dpanel.options.editors["path"].browse.isEnabled()
    assert not dpanel.options.editors["max_megabytes"].isEnabled()


def test_a_new_project_shows_the_placeholder_not_the_old_dataset(dpanel, session, qtbot):
    """(d) After New the panel shows the new project's (missing) dataset, nothing of the old one."""
    with qtbot.waitSignal(dpanel.loaded, timeout=1000):
        session.replace(Project())
    assert dpanel.chooser.currentIndex() == 0 and dpanel.chooser.currentText() == PLACEHOLDER
    assert dpanel.options is None and dpanel.preview.kind == "none" and dpanel.summary.text() == ""
    assert "no dataset" in dpanel.preview.empty.text()
    with qtbot.waitSignal(dpanel.loaded, timeout=10000):
        session.replace(EXAMPLES["spiral_mlp"]())
    assert dpanel.chooser.currentData() == "spiral" and dpanel.preview.kind == "points2d"


def test_an_unknown_dataset_name_is_explained(qtbot, project):
    project.dataset = {"name": "<b>nope</b>"}
    panel = bind(qtbot, Session(project))
    assert panel.chooser.currentIndex() == -1 and not panel.options_box.isVisibleTo(panel)
    assert "“<b>nope</b>” is not a dataset NN Studio knows" in panel.description.text()
    assert panel.preview.kind == "none" and panel.problems()


def test_image_grid_shapes():
    grid, cols = image_grid(torch.rand(10, 1, 4, 4).numpy(), 10)
    assert cols == 8 and grid.shape == (2 * 5, 8 * 5, 3)


def test_data_load_off_the_gui_thread_and_only_the_newest_is_shown(dpanel, session, qtbot, monkeypatch):
    """A slow file does not freeze the window, and options changed meanwhile win over the slow load."""
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
    session.set_dataset({"name": "spiral", "samples": 100})
    qtbot.waitUntil(lambda: dpanel.loading, timeout=5000)
    assert "Loading" in dpanel.preview.empty.text() and session.data_state == "loading"
    qtbot.wait(50)  # the event loop runs while the file is read
    session.set_dataset({"name": "spiral", "samples": 200})
    qtbot.waitUntil(lambda: len(tokens) == 2, timeout=5000)
    assert tokens[0].cancelled  # the newer request cancelled the older read
    release.set()
    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)
    assert not dpanel.loading and len(dpanel.preview.scatter.data) == 200
    assert dpanel.feeder.loader.wait(5000)
    qtbot.wait(100)  # the stale answer (100 samples) would arrive now; it must never be shown
    assert len(dpanel.preview.scatter.data) == 200 and session.data.x.shape[0] == 200
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_closing_the_panel_never_waits_for_a_stuck_read(qtbot, session, monkeypatch):
    from PySide6.QtCore import QCoreApplication, QEvent

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
    panel.bind_session(session, DataFeeder(session, panel))
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert panel.loading
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
    session.set_dataset({"name": "moons"})  # nor does the session call the panel or its feeder
    qtbot.wait(50)
    assert session.data_state == "needed"
