"""At start the app removes what interrupted saves left beside its recent files and in its autosave folder, and
nothing else."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402

from nnstudio.core.project import Project, save_project  # noqa: E402
from nnstudio.core import tempfiles  # noqa: E402
from nnstudio.ui.app import start  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402


def leftover(folder, target: str, age_s: float, hex_part: str = "00ff00ff"):
    path = folder / f".{target}.{hex_part}.tmp"
    path.write_bytes(b"half a zip")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_start_sweeps_recent_folders_and_the_autosave_folder(qtbot, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    recent = work / "mine.nnstudio"
    save_project(Project(), recent)
    autosave = tmp_path / "autosave"
    autosave.mkdir()
    old = tempfiles.STALE_S + 60
    gone = [leftover(work, "mine.nnstudio", old), leftover(autosave, "session-0123456789ab.nnstudio", old)]
    kept = [leftover(work, "mine.nnstudio", 1, "11112222"),  # a save in another window, still running
            leftover(work, "someone_else.nnstudio", old), leftover(autosave, "notes.txt", old)]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, autosave_folder=autosave)
    window.ask_recover = lambda item: False
    window.show_error = lambda title, message: None
    qtbot.addWidget(window)
    window.recent.add(recent)
    start(window)
    assert [p.exists() for p in gone] == [False, False]
    assert all(p.exists() for p in kept) and recent.exists()
