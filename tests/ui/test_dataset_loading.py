"""The Dataset panel's load never blocks: progress while it reads, Cancel that frees the panel at once (even from
a read stuck in the operating system), and a window that closes without waiting for a read."""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402

from nnstudio.core.examples import EXAMPLES  # noqa: E402
from nnstudio.ui.panels.dataset import CANCELLED_TEXT, DatasetPanel  # noqa: E402
from nnstudio.ui.workers import data_loader  # noqa: E402

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
def panel(qtbot):
    p = DatasetPanel()
    qtbot.addWidget(p)
    p.resize(420, 800)
    p.show()
    project = EXAMPLES["spiral_mlp"]()
    with qtbot.waitSignal(p.loaded, timeout=10000):
        p.set_project(project)
    return p


def test_the_panel_shows_progress_and_cancel_only_while_loading(panel, stuck, qtbot):
    assert not panel.cancel_button.isVisibleTo(panel) and panel.reload_button.isVisibleTo(panel)
    panel.config = {"name": "moons"}
    panel.reload()
    assert stuck.started.wait(10)
    assert panel.loading and panel.cancel_button.isVisibleTo(panel) and panel.progress_bar.isVisibleTo(panel)
    assert not panel.reload_button.isVisibleTo(panel)
    qtbot.waitUntil(lambda: panel.progress_bar.value() == 250, timeout=5000)
    assert panel.progress_bar.format() == "reading x\u066av.csv: 25%"  # a file's % is not the bar's placeholder
    assert panel.progress_bar.text() == "reading x\u066av.csv: 25%"


def test_a_stuck_load_is_cancelled_and_the_panel_is_usable_at_once(panel, stuck, qtbot):
    panel.config = {"name": "moons"}
    panel.reload()
    assert stuck.started.wait(10)
    with qtbot.waitSignal(panel.load_cancelled, timeout=1000):
        panel.cancel_button.click()  # answered before click() returns: nothing waits for the stuck read
    assert not panel.loading and panel.data is None and panel.preview.empty.text() == CANCELLED_TEXT
    assert stuck.tokens[0].cancelled and stuck.threads[0].is_alive()
    assert panel.reload_button.isVisibleTo(panel) and not panel.cancel_button.isVisibleTo(panel)
    assert panel.problems() == []
    # usable at once: another dataset loads and shows while the stuck read is still stuck
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.chooser.setCurrentIndex(panel.chooser.findData("circles"))
        panel.reload()
    assert panel.data is not None and panel.data.name == "circles" and stuck.threads[0].is_alive()
    stuck.release.set()
    assert panel.loader.wait(10_000)
    qtbot.wait(100)  # the cancelled read's answer is never shown
    assert panel.data.name == "circles" and panel.preview.kind == "points2d"


def test_reload_after_a_cancel_reads_again(panel, stuck, qtbot):
    panel.config = {"name": "moons"}
    panel.reload()
    assert stuck.started.wait(10)
    panel.cancel()
    stuck.release.set()
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload_button.click()
    assert panel.data is not None and panel.data.name == "moons" and len(stuck.tokens) == 2


def test_a_cooperative_read_ends_its_thread_when_cancelled(panel, qtbot, monkeypatch):
    threads = []

    def endless(config, base_dir=None, token=None):
        threads.append(threading.current_thread())
        while True:  # a huge file: the importers ask the token between rows, images and chunks
            token.report(0, 0, "reading rows")
            time.sleep(0.001)

    monkeypatch.setattr(data_loader, "load_dataset", endless)
    with qtbot.waitSignal(panel.loader.progress, timeout=10000):
        panel.reload()
    assert panel.progress_bar.maximum() == 0  # busy: the total is not known
    panel.cancel()
    threads[0].join(10)
    assert not threads[0].is_alive() and not panel.loading


def test_the_main_window_closes_without_waiting_for_a_stuck_read(qtbot, tmp_path, stuck):
    from nnstudio.ui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_folder=tmp_path / "autosave")
    w.ask_unsaved_changes = lambda: pytest.fail("nothing was changed")
    w.show()  # not given to qtbot: the test deletes the window itself
    dataset_panel = w.training.dataset_panel
    qtbot.waitUntil(lambda: not dataset_panel.loading, timeout=10000)
    dataset_panel.config = {"name": "moons"}
    dataset_panel.reload()
    assert stuck.started.wait(10)
    assert w.close()
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert stuck.threads[0].is_alive() and stuck.tokens[0].cancelled  # closed and deleted; the read left behind


def test_the_memory_limit_is_in_the_form_of_every_importer(panel, qtbot):
    for name in ("csv", "npz", "image_folder", "text_csv"):
        panel.chooser.setCurrentIndex(panel.chooser.findData(name))
        editor = panel.options.editors["max_megabytes"]
        assert editor.value() == 2048, name
    with qtbot.waitSignal(panel.dataset_edited) as blocker:
        panel.options.editors["max_megabytes"].setValue(4096)
    assert blocker.args[0]["max_megabytes"] == 4096 and panel.project.dataset["max_megabytes"] == 4096
    with qtbot.assertNotEmitted(panel.dataset_edited):
        panel.options.editors["max_megabytes"].setValue(2 * 1024 * 1024)
    assert "Memory limit (MB) must be at most 1048576" in panel.options.problem("max_megabytes")


def test_column_names_from_a_file_are_shown_literally_on_the_preview_axes(panel, qtbot, tmp_path):
    """pyqtgraph renders axis labels as HTML: a column named <b>..</b> or <img ..> must show as typed."""
    path = tmp_path / "points.csv"
    path.write_text("<b>bold</b>,<img src=x>,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)))
    panel.config = {"name": "csv", "path": str(path)}
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload()
    plot = panel.preview.plot.getPlotItem()
    assert panel.preview.kind == "points2d"
    assert plot.getAxis("bottom").labelText == "&lt;b&gt;bold&lt;/b&gt;"
    assert plot.getAxis("left").labelText == "&lt;img src=x&gt;"
