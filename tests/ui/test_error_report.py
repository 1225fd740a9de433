"""Every failure is one clear line: an uncaught exception (in a slot, in a thread, a traceback logged by a worker)
becomes a non-modal dialog with one plain line and the traceback under Details, the traceback goes to the log
file, nothing reaches the terminal, and the app keeps running. A training run that fails (even for lack of
memory) is a dialog and the window stays usable."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QLabel, QMessageBox  # noqa: E402

from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.ui.error_report import ErrorReporter, reason  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def reporter(qapp, tmp_path):
    r = ErrorReporter(tmp_path / "log").install()
    yield r
    r.uninstall()
    r.close_dialogs()


def _raise(exc: BaseException):
    def slot() -> None:
        raise exc
    return slot


def test_a_slot_that_raises_shows_one_plain_line_and_logs_the_traceback(reporter, qtbot, capfd):
    QTimer.singleShot(0, _raise(ValueError('<b>bad</b> value from "x.csv"\nsecond line of the message')))
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)
    box = reporter.dialogs[0]
    assert box.text() == 'Something went wrong: ValueError: <b>bad</b> value from "x.csv"'
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in box.findChildren(QLabel)
               if label.text())
    assert "Traceback" in box.detailedText() and "second line of the message" in box.detailedText()
    assert str(reporter.log_path) in box.informativeText()
    assert box.isVisible() and not box.isModal()  # the window behind it stays usable
    log = reporter.log_path.read_text(encoding="utf-8")
    assert "Traceback" in log and "ValueError" in log and "in slot" in log
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_app_keeps_running_and_reports_the_next_failure(reporter, qtbot):
    QTimer.singleShot(0, _raise(KeyError("first")))
    qtbot.waitUntil(lambda: reporter.count == 1)
    QTimer.singleShot(0, _raise(KeyError("first")))  # the same failure again: logged, one dialog
    qtbot.waitUntil(lambda: reporter.count == 2)
    assert len(reporter.dialogs) == 1
    QTimer.singleShot(0, _raise(ZeroDivisionError("second")))
    qtbot.waitUntil(lambda: reporter.count == 3)
    assert [d.text() for d in reporter.dialogs] == ["Something went wrong: KeyError: 'first'",
                                                   "Something went wrong: ZeroDivisionError: second"]
    assert reporter.log_path.read_text(encoding="utf-8").count("Traceback") == 3
    reporter.dialogs[0].close()
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)


def test_an_exception_ending_a_thread_is_shown_on_the_gui_thread(reporter, qtbot, capfd):
    thread = threading.Thread(target=_raise(MemoryError()), name="reader")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)
    box = reporter.dialogs[0]
    assert box.text() == "Something went wrong: the computer ran out of memory (MemoryError)"
    assert box.thread() is qtbot_app_thread()
    assert "thread reader" in reporter.log_path.read_text(encoding="utf-8")
    assert capfd.readouterr().err == ""


def qtbot_app_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_tracebacks_the_workers_log_go_to_the_log_file(reporter):
    try:
        raise RuntimeError("the data could not be read")
    except RuntimeError:
        logging.getLogger("nnstudio.ui.workers.training_worker").warning("training failed", exc_info=True)
    text = reporter.log_path.read_text(encoding="utf-8")
    assert "training failed" in text and "Traceback" in text and "the data could not be read" in text


def test_uninstall_gives_the_hooks_back(qapp, tmp_path):
    before = (sys.excepthook, threading.excepthook)
    r = ErrorReporter(tmp_path).install()
    assert sys.excepthook == r.excepthook and threading.excepthook == r.thread_excepthook
    r.uninstall()
    assert (sys.excepthook, threading.excepthook) == before


def test_reason_is_one_line():
    assert reason(ValueError("")) == "ValueError"
    assert reason(OSError("a\nb")) == "OSError: a"
    assert reason(ValueError("x" * 10_000)).endswith("\u2026") and len(reason(ValueError("x" * 10_000))) < 300
    assert reason(ValueError("bad \ud800 name")) == "ValueError: bad \ufffd name"


RUN_APP = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from nnstudio.ui import main_window

original = main_window.MainWindow.offer_recovery

def boom():
    raise ValueError("a slot failed")

def check(self):
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorReport" and w.isVisible()]
    print("DIALOGS", len(boxes), boxes[0].text() if boxes else "")
    self.close()
    QApplication.quit()

def offer_then_fail(self):
    result = original(self)
    QTimer.singleShot(0, boom)
    QTimer.singleShot(200, lambda: check(self))
    return result

main_window.MainWindow.offer_recovery = offer_then_fail
from nnstudio.cli import main
sys.exit(main([]))
"""


def test_the_app_shows_an_uncaught_exception_instead_of_printing_it(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", RUN_APP], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "DIALOGS 1 Something went wrong: ValueError: a slot failed" in done.stdout
    assert "Traceback" not in done.stderr and "a slot failed" not in done.stderr
    logs = list((tmp_path / "data").rglob("nnstudio.log"))
    assert logs and "Traceback" in logs[0].read_text(encoding="utf-8")


# -- a training run that fails -----------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_folder=tmp_path / "autosave")
    w.errors = []
    w.show_error = lambda title, message: w.errors.append((title, message))
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    w.ask_question = lambda _title, _text: QMessageBox.StandardButton.Yes  # closing while a run ends
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_running_out_of_memory_in_training_is_a_dialog_and_the_window_stays_usable(window, qtbot, monkeypatch):
    from nnstudio.core.training import engine

    def no_memory(*_args, **_kwargs):
        raise MemoryError()

    monkeypatch.setattr(engine, "train", no_memory)
    assert window.load_file(EXAMPLES / "spiral_mlp.nnstudio")
    qtbot.waitUntil(lambda: window.session.readiness == "ready", timeout=20_000)
    window.training.start()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=60_000)
    title, message = window.errors[0]
    assert title == "Training failed" and "\n" not in message and "memory" in message.lower()
    qtbot.waitUntil(lambda: window.training.worker.state == "idle")
    assert not window.scene.locked
    assert window.add_layer("dense") in window.document.graph.nodes  # still editable
