"""The Dataset panel with a standard dataset (small fake MNIST files, never the network): the options it shows,
the missing-files message as the panel's problem, a folder of files loading, and a download that shows its
progress, can be cancelled (leaving no file) and then runs to the end."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from nnstudio.core.data import download, standard
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.session import Session
from nnstudio.ui.panels.dataset import FILES_MISSING_TEXT

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def fake_mnist(folder, train=30, test=10) -> dict[str, bytes]:
    """The four MNIST files, gzip-compressed, as written in ``folder`` (their names end in .gz)."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [rng.integers(0, 256, (train, 28, 28), dtype=np.uint8), (np.arange(train) % 10).astype(np.uint8),
              rng.integers(0, 256, (test, 28, 28), dtype=np.uint8), (np.arange(test) % 10).astype(np.uint8)]
    files = {}
    for name, array in zip(NAMES, arrays):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        files[f"{name}.gz"] = gzip.compress(header + array.tobytes())
        (folder / f"{name}.gz").write_bytes(files[f"{name}.gz"])
    return files


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setattr(standard, "default_root", lambda: tmp_path / "user-data")  # never the real data folder
    return Session(EXAMPLES["spiral_mlp"]())


@pytest.fixture
def panel(bound_dataset_panel, session):
    return bound_dataset_panel(session, (460, 900))


def choose_mnist(panel, qtbot) -> None:
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.chooser.setCurrentIndex(panel.chooser.findData("mnist"))


def test_mnist_shows_its_options_and_the_missing_files_as_the_problem(panel, session, qtbot, tmp_path):
    choose_mnist(panel, qtbot)
    editors = panel.options.editors
    assert {"root", "download", "samples", "test_set", "max_megabytes"} <= set(editors)
    assert editors["root"].line.placeholderText() == f"empty: {tmp_path / 'user-data'}"
    assert not editors["download"].isChecked()
    assert editors["test_set"].isChecked() and editors["samples"].value() == 0
    folder = tmp_path / "user-data" / "MNIST" / "raw"
    assert panel.problems() == [(f"The MNIST files are missing: place {', '.join(NAMES)} (or the same names "
                                 f"ending in .gz) in {folder}, or turn on the dataset's option 'download' to fetch "
                                 "them")]
    assert panel.preview.empty.text() == FILES_MISSING_TEXT and not panel.files_note.isVisible()
    assert session.data_state == "invalid"


def test_a_folder_with_the_files_loads_with_the_official_test_set(panel, session, qtbot, tmp_path):
    fake_mnist(tmp_path / "mine" / "MNIST" / "raw")
    choose_mnist(panel, qtbot)
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.options.editors["root"].edited.emit(str(tmp_path / "mine"))
    assert session.data_state == "loaded" and panel.preview.kind == "images"
    assert "30 samples" in panel.summary.text() and "10 official test samples" in panel.summary.text()
    assert panel.files_note.text() == f"Files: {tmp_path / 'mine' / 'MNIST' / 'raw'}"
    assert not any("missing" in p for p in panel.problems())


def test_files_placed_by_hand_after_the_message_are_found_by_reload(panel, session, qtbot, tmp_path):
    choose_mnist(panel, qtbot)
    assert session.data_state == "invalid" and panel.reload_button.isEnabled()
    fake_mnist(tmp_path / "user-data" / "MNIST" / "raw")  # what the message said to do
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload_button.click()
    assert session.data_state == "loaded" and not any("missing" in p for p in panel.problems())


class SlowDownloader:
    """A pooch downloader that reports half of the file and then waits, asking its token (through the progress
    bar) until it is released or cancelled."""

    def __init__(self, progress) -> None:
        self.progress = progress

    def __call__(self, url, output_file, pooch, check_only=False):
        self.progress.total = 1000
        self.progress.update(500)
        started.set()
        while not release.wait(0.02):
            self.progress.update(0)  # raises LoadCancelled once Cancel was pressed
        raise AssertionError("released without a cancel")


started, release = threading.Event(), threading.Event()


def test_a_download_shows_progress_can_be_cancelled_and_then_completes(panel, session, qtbot, tmp_path,
                                                                        monkeypatch):
    files = fake_mnist(tmp_path / "mirror")
    hashes = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    monkeypatch.setitem(download.SOURCES, "mnist", ((tmp_path.joinpath("mirror").as_uri() + "/",), hashes))
    real = download._downloader
    monkeypatch.setattr(download, "_downloader", lambda url, progress: SlowDownloader(progress))
    started.clear()
    release.clear()
    choose_mnist(panel, qtbot)
    panel.options.editors["download"].setChecked(True)
    qtbot.waitUntil(started.is_set, timeout=10000)
    qtbot.waitUntil(lambda: "Downloading train-images-idx3-ubyte.gz" in panel.progress_bar.text(), timeout=10000)
    assert panel.cancel_button.isVisible() and "50%" in panel.progress_bar.text()
    assert panel.files_note.text().startswith(f"The missing files will be downloaded into {tmp_path}")
    with qtbot.waitSignal(panel.load_cancelled, timeout=5000):
        panel.cancel_button.click()
    assert session.data_state == "cancelled" and not panel.cancel_button.isVisible()
    raw = tmp_path / "user-data" / "MNIST" / "raw"
    qtbot.waitUntil(lambda: not list(raw.iterdir()), timeout=5000)  # the cancelled file is gone
    monkeypatch.setattr(download, "_downloader", real)
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        panel.reload_button.click()
    assert session.data_state == "loaded" and len(session.data) == 30
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)
    assert panel.files_note.text() == f"Files: {raw}"  # no longer "will be downloaded"
    release.set()


def test_the_digits_cnn_moves_to_mnist_in_one_click_and_undo_moves_it_back(open_window, qtbot, tmp_path,
                                                                             monkeypatch):
    """The Digits CNN example's dataset (digits at 28 x 28) is offered MNIST; one click switches, keeping the
    split, with download on; the network's Input fits it unchanged; Undo restores the digits."""
    monkeypatch.setattr(standard, "default_root", lambda: tmp_path / "user-data")
    fake_mnist(tmp_path / "user-data" / "MNIST" / "raw")  # files already there: nothing is downloaded
    w = open_window(example="digits_cnn")
    panel = w.training.dataset_panel
    qtbot.waitUntil(lambda: w.session.data_state == "loaded", timeout=10000)
    before = dict(w.session.dataset)
    assert not panel.mnist_offer.isHidden() and panel.mnist_offer.button.isEnabled()
    panel.mnist_offer.button.click()
    assert w.session.dataset["name"] == "mnist" and w.session.dataset["download"] is True
    assert w.session.dataset.get("val_fraction") == before.get("val_fraction")
    qtbot.waitUntil(lambda: w.session.data_state == "loaded", timeout=10000)
    assert panel.mnist_offer.isHidden()
    assert not [p for p in w.session.problems if "does not fit" in str(p)], w.session.problems
    w.document.undo_stack.undo()
    assert w.session.dataset == before and not panel.mnist_offer.isHidden()
