"""Loading the session's data never blocks: the DataFeeder loads once per burst of edits and only the newest
answer counts; the Dataset panel shows progress while it reads and a Cancel that frees it at once (even from a
read stuck in the operating system); a window closes without waiting for a read."""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.session import Session
from nnstudio.ui.panels.dataset import CANCELLED_TEXT
from nnstudio.ui.workers import data_loader
from nnstudio.ui.workers.data_feeder import DataFeeder

REAL = data_loader.load_dataset


class Stuck:
    """A test double for load_dataset: the load of ``stuck_name`` blocks on an Event without looking at its token
    (a read stuck in the operating system) after reporting some progress; other loads are real."""

    def __init__(self, stuck_name: str = "moons", progress: tuple[int, int, str] = (1, 4, "reading x%v.csv")) -> None:
        self.stuck_name, self.progress = stuck_name, progress
        self.release, self.started = threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []
        self.tokens = []

    def __call__(self, config, base_dir=None, token=None):
        if config.get("name") != self.stuck_name:
            return REAL(config, base_dir=base_dir, token=token)
        self.threads.append(threading.current_thread())
        self.tokens.append(token)
        token.report(*self.progress)
        self.started.set()
        assert self.release.wait(30)
        return REAL(config, base_dir=base_dir)

    def finish(self) -> None:
        self.release.set()
        for t in self.threads:
            t.join(10)
        assert not any(t.is_alive() for t in self.threads)


@pytest.fixture
def stuck(monkeypatch):
    double = Stuck()
    monkeypatch.setattr(data_loader, "load_dataset", double)
    yield double
    double.finish()


@pytest.fixture
def session():
    return Session(EXAMPLES["spiral_mlp"]())


@pytest.fixture
def panel(bound_dataset_panel, session):
    return bound_dataset_panel(session)


@pytest.fixture
def feeder(qtbot, session):
    f = DataFeeder(session)
    yield f
    f.shutdown()
    f.deleteLater()


def start_stuck(session, stuck, qtbot) -> None:
    """Ask for the stuck dataset and wait until its read has begun (the feeder starts it from the event loop)."""
    session.set_dataset({"name": stuck.stuck_name})
    qtbot.waitUntil(stuck.started.is_set, timeout=10000)


def test_the_panel_shows_progress_and_cancel_only_while_loading(panel, session, stuck, qtbot):
    assert not panel.cancel_button.isVisibleTo(panel) and panel.reload_button.isVisibleTo(panel)
    start_stuck(session, stuck, qtbot)
    assert panel.loading and panel.cancel_button.isVisibleTo(panel) and panel.progress_bar.isVisibleTo(panel)
    assert not panel.reload_button.isVisibleTo(panel) and session.data_state == "loading"
    qtbot.waitUntil(lambda: panel.progress_bar.value() == 250, timeout=5000)
    assert panel.progress_bar.format() == "reading x\u066av.csv: 25%"  # a file's % is not the bar's placeholder
    assert panel.progress_bar.text() == "reading x\u066av.csv: 25%"


def test_a_stuck_load_is_cancelled_and_the_panel_is_usable_at_once(panel, session, stuck, qtbot):
    start_stuck(session, stuck, qtbot)
    with qtbot.waitSignal(panel.load_cancelled, timeout=1000):
        panel.cancel_button.click()  # answered before click() returns: nothing waits for the stuck read
    assert not panel.loading and session.data is None and session.data_state == "cancelled"
    assert panel.preview.empty.text() == CANCELLED_TEXT
    assert stuck.tokens[0].cancelled and stuck.threads[0].is_alive()
    assert panel.reload_button.isVisibleTo(panel) and not panel.cancel_button.isVisibleTo(panel)
    assert panel.reload_button.isEnabled() and panel.problems() == []
    # usable at once: another dataset loads and shows while the stuck read is still stuck
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.chooser.setCurrentIndex(panel.chooser.findData("circles"))
    assert session.data is not None and session.data.name == "circles" and stuck.threads[0].is_alive()
    stuck.release.set()
    assert panel.feeder.loader.wait(10_000)
    qtbot.wait(100)  # the cancelled read's answer is never shown
    assert session.data.name == "circles" and panel.preview.kind == "points2d"


def test_reload_after_a_cancel_reads_again(panel, session, stuck, qtbot):
    start_stuck(session, stuck, qtbot)
    panel.cancel()
    stuck.release.set()
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload_button.click()
    assert session.data is not None and session.data.name == "moons" and len(stuck.tokens) == 2
    assert panel.preview.kind == "points2d"


def test_a_cooperative_read_ends_its_thread_when_cancelled(panel, qtbot, monkeypatch):
    threads = []

    def endless(config, base_dir=None, token=None):
        threads.append(threading.current_thread())
        while True:  # a huge file: the importers ask the token between rows, images and chunks
            token.report(0, 0, "reading rows")
            time.sleep(0.001)

    monkeypatch.setattr(data_loader, "load_dataset", endless)
    with qtbot.waitSignal(panel.feeder.progress, timeout=10000):
        panel.reload()
    assert panel.progress_bar.maximum() == 0  # busy: the total is not known
    panel.cancel()
    threads[0].join(10)
    assert not threads[0].is_alive() and not panel.loading


def test_the_main_window_closes_without_waiting_for_a_stuck_read(qtbot, tmp_path, stuck):
    from nnstudio.ui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_folder=tmp_path / "autosave")
    w.ask_unsaved_changes = lambda: True  # the dataset was changed below; nothing is to be saved
    w.show()  # not given to qtbot: the test deletes the window itself
    session, feeder = w.document.session, w.training.dataset_panel.feeder
    qtbot.waitUntil(lambda: not feeder.busy and session.data_state not in ("needed", "loading"), timeout=10000)
    start_stuck(session, stuck, qtbot)
    assert feeder.busy
    assert w.close()
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert stuck.threads[0].is_alive() and stuck.tokens[0].cancelled  # closed and deleted; the read left behind


def test_the_memory_limit_is_in_the_form_of_every_importer(panel, session, qtbot):
    for name in ("csv", "npz", "image_folder", "text_csv"):
        panel.chooser.setCurrentIndex(panel.chooser.findData(name))
        editor = panel.options.editors["max_megabytes"]
        assert editor.value() == 2048, name
    with qtbot.waitSignal(panel.dataset_edited) as blocker:
        panel.options.editors["max_megabytes"].setValue(4096)
    assert blocker.args[0]["max_megabytes"] == 4096 and session.dataset["max_megabytes"] == 4096
    with qtbot.assertNotEmitted(panel.dataset_edited):
        panel.options.editors["max_megabytes"].setValue(2 * 1024 * 1024)
    assert "Memory limit (MB) must be at most 1048576" in panel.options.problem("max_megabytes")


def test_column_names_from_a_file_are_shown_literally_on_the_preview_axes(panel, session, qtbot, tmp_path):
    """pyqtgraph renders axis labels as HTML: a column named <b>..</b> or <img ..> must show as typed."""
    path = tmp_path / "points.csv"
    path.write_text("<b>bold</b>,<img src=x>,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)))
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        session.set_dataset({"name": "csv", "path": str(path)})
    plot = panel.preview.plot.getPlotItem()
    assert panel.preview.kind == "points2d"
    assert plot.getAxis("bottom").labelText == "&lt;b&gt;bold&lt;/b&gt;"
    assert plot.getAxis("left").labelText == "&lt;img src=x&gt;"


# -- the feeder on its own (e) ----------------------------------------------------------------------------------
def test_the_feeder_loads_once_for_a_burst_of_edits(session, feeder, qtbot, monkeypatch):
    asked = []

    def counting(config, base_dir=None, token=None):
        asked.append(dict(config))
        return REAL(config, base_dir=base_dir, token=token)

    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)
    monkeypatch.setattr(data_loader, "load_dataset", counting)
    busy = []
    feeder.busy_changed.connect(busy.append)
    for samples in (100, 200, 300):  # one burst: the event loop does not run in between
        session.set_dataset({"name": "spiral", "samples": samples})
    assert session.data_state == "needed" and not feeder.busy and asked == []
    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)
    assert asked == [{"name": "spiral", "samples": 300}] and len(session.data) == 300
    assert busy == [True, False]


def test_the_feeder_ignores_a_stale_answer(session, feeder, stuck, qtbot):
    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)
    start_stuck(session, stuck, qtbot)
    stale = feeder.loader.latest  # the request of the stuck read
    assert feeder.busy and session.data_state == "loading"
    session.set_dataset({"name": "circles"})  # the new "needed" cancels the stuck load
    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)
    data = session.data
    assert data.name == "circles" and stuck.tokens[0].cancelled and not feeder.busy
    feeder.loader.loaded.emit(stale, "stale")  # a late answer of the older request
    feeder.loader.failed.emit(stale, "stale")
    assert session.data is data and session.data_state == "loaded"
    stuck.release.set()
    assert feeder.loader.wait(10_000)
    qtbot.wait(100)  # the stuck read's own answer, if it came, reaches nobody
    assert session.data is data


def test_the_feeder_stops_a_load_that_is_no_longer_wanted(session, feeder, stuck, qtbot):
    start_stuck(session, stuck, qtbot)
    session.set_dataset(None)  # no dataset any more: nothing to load
    assert not feeder.busy and stuck.tokens[0].cancelled and session.data_state == "none"
    session.set_dataset({"name": "spiral"})
    feeder.cancel()  # before the load began: the session hears it was cancelled
    assert session.data_state == "cancelled" and not feeder.busy
    qtbot.wait(50)
    assert session.data_state == "cancelled"
    with qtbot.waitSignal(feeder.busy_changed, timeout=5000):
        feeder.reload()
    qtbot.waitUntil(lambda: session.data_state == "loaded", timeout=10000)


def test_a_shut_down_feeder_no_longer_listens(session, qtbot):
    feeder = DataFeeder(session)
    qtbot.waitUntil(lambda: feeder.busy or session.data_state == "loaded", timeout=5000)
    feeder.shutdown()
    assert not feeder.busy
    session.set_dataset({"name": "moons"})
    qtbot.wait(50)
    assert session.data_state == "needed" and not feeder.busy
    feeder.deleteLater()
