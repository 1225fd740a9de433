"""The start page and the fast start: a window started without a file shows the examples as cards (with their
pictures) and the recent files; a card opens its example as an untitled copy, "Empty network" the empty canvas;
the page steps the docks aside and brings them back. The first window is painted before torch is imported, a
card clicked while the editor still loads opens when it is there, and the loader thread makes no Qt object."""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.ui.app import Launcher, start  # noqa: E402
from nnstudio.ui.elided import ElidedLabel, LinkButton  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402
from nnstudio.ui.recent import RECENT_KEY, RecentFiles  # noqa: E402
from nnstudio.ui.start_page import ExampleCard, StartPage, read_examples  # noqa: E402

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.nnstudio"))
SPIRAL = EXAMPLES / "spiral_mlp.nnstudio"
DIGITS = EXAMPLES / "digits_cnn.nnstudio"


def quiet(w: MainWindow) -> MainWindow:
    w.errors = []
    w.show_error = lambda title, message: w.errors.append((title, message))
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    w.ask_recover = lambda item: False
    w.ask_open_path = lambda: None
    return w


@pytest.fixture
def started(qtbot, tmp_path):
    """``started(recent=[...])``: a MainWindow with its own settings, started as the app starts it without a
    file (``app.start``)."""

    def make(recent=()) -> MainWindow:
        w = quiet(MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                             autosave_folder=tmp_path / "autosave"))
        for path in recent:
            w.recent.add(path)
        qtbot.addWidget(w)
        start(w)
        qtbot.waitExposed(w)
        return w

    return make


def visible_docks(w: MainWindow) -> list[str]:
    return sorted(name for name, dock in w.docks.items() if dock.isVisible())


def test_started_without_a_file_the_window_shows_the_start_page(started, tmp_path):
    mine = tmp_path / "mine.nnstudio"
    mine.write_bytes(DIGITS.read_bytes())
    w = started(recent=[mine])
    page = w.start_page
    assert w.start_page_shown and w.central.currentWidget() is page and page.isVisible()
    assert w.windowTitle() == "NN Studio"
    assert [c.info.path for c in page.cards] and sorted(c.info.path for c in page.cards) == EXAMPLE_FILES
    names = {c.info.path.stem: c for c in page.cards}
    assert names["digits_cnn"].title.text() == "Digits CNN"
    assert "convolutional" in names["digits_cnn"].description.text()
    assert names["digits_cnn"].footer.text() == "9 layers · trains in about 5 s"
    assert all(c.picture.pixmap() is not None and not c.picture.pixmap().isNull() for c in page.cards)
    assert [b.full_text() for b in page.recent_buttons] == [f"mine.nnstudio   —   {tmp_path}"]
    assert not page.no_recent.isVisible()
    assert visible_docks(w) == []  # the page has the room; the layout is kept aside


def test_clicking_a_card_opens_that_example_as_an_untitled_copy(started, qtbot):
    w = started()
    card = w.start_page.card(SPIRAL)
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert not w.start_page_shown and w.central.currentWidget() is w.view
    assert w.document.path is None and len(w.document.graph.nodes) == 5
    assert w.windowTitle() == "Spiral MLP[*] — NN Studio"
    assert "dock_palette" in visible_docks(w) and "dock_inspector" in visible_docks(w)


def test_a_card_opens_from_the_keyboard_too(started, qtbot):
    w = started()
    card = w.start_page.card(DIGITS)
    card.setFocus()
    qtbot.keyClick(card, Qt.Key.Key_Return)
    assert w.document.path is None and "conv2d_1" in w.document.graph.nodes


def test_empty_network_shows_the_empty_canvas(started, qtbot):
    w = started()
    qtbot.mouseClick(w.start_page.empty_button, Qt.MouseButton.LeftButton)
    assert w.central.currentWidget() is w.view and w.view.isVisible()
    assert w.document.graph.nodes == {} and w.windowTitle() == "Untitled[*] — NN Studio"
    assert {"dock_palette", "dock_inspector", "dock_summary"} <= set(visible_docks(w))


def test_a_recent_entry_opens_its_file(started, qtbot, tmp_path):
    mine = tmp_path / "mine.nnstudio"
    mine.write_bytes(DIGITS.read_bytes())
    w = started(recent=[mine])
    qtbot.mouseClick(w.start_page.recent_buttons[0], Qt.MouseButton.LeftButton)
    assert w.document.path == mine.resolve() and not w.start_page_shown


def test_file_start_page_shows_it_over_a_project_and_back_returns(started, qtbot):
    w = started()
    w.load_file(DIGITS)
    assert not w.start_page_shown
    action = w.findChild(QAction, "action_start_page")
    assert action in w.acts.menus["file"].actions()
    action.trigger()
    page = w.start_page
    assert w.start_page_shown and page.back_button.isVisible() and "digits_cnn" in page.back_button.full_text()
    assert w.windowTitle() == "digits_cnn.nnstudio[*] — NN Studio"  # the project is still open
    qtbot.mouseClick(page.back_button, Qt.MouseButton.LeftButton)
    assert not w.start_page_shown and w.document.path == DIGITS.resolve()
    assert "dock_palette" in visible_docks(w)


def test_an_edit_or_a_new_project_ends_the_start_page(started):
    w = started()
    w.add_layer("dense")  # e.g. from the Layers panel shown through View > Panels
    assert not w.start_page_shown and len(w.document.graph.nodes) == 1
    w.show_start_page()
    w.acts.new.trigger()
    assert not w.start_page_shown and w.document.graph.nodes == {}


def test_closing_on_the_start_page_saves_the_docks_layout(started, tmp_path, qtbot):
    w = started()
    w.close()
    again = quiet(MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                             autosave_folder=tmp_path / "autosave"))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert {"dock_palette", "dock_inspector", "dock_summary"} <= set(visible_docks(again))


def test_a_command_line_file_that_fails_to_open_leaves_the_start_page(make_window_for_start):
    w = make_window_for_start
    start(w, [str(EXAMPLES / "missing.nnstudio")])
    assert len(w.errors) == 1 and w.start_page_shown


@pytest.fixture
def make_window_for_start(qtbot, tmp_path):
    w = quiet(MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                         autosave_folder=tmp_path / "autosave"))
    qtbot.addWidget(w)
    return w


# -- what the page reads --------------------------------------------------------------------------------------
def test_cards_read_what_the_examples_dialog_reads():
    from nnstudio.ui.panels.examples_dialog import list_examples

    assert read_examples()[0].path == SPIRAL  # the simplest first
    ours = {e.path: (e.name, e.description, e.layers) for e in read_examples()}
    theirs = {e.path: (e.name, e.description, e.layers) for e in list_examples()}
    assert ours == theirs


def test_the_page_reads_the_recent_files_where_the_window_keeps_them(tmp_path, qtbot):
    from nnstudio.ui.document import RecentFiles

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    RecentFiles(settings).add(DIGITS)  # as the window keeps them
    page = StartPage(RecentFiles(settings), folder=tmp_path)  # as the first window reads them, without torch
    qtbot.addWidget(page)
    assert page.recent.paths() == [str(DIGITS.resolve())]


def test_an_unreadable_example_is_left_out_and_one_without_a_picture_shows_its_name(qtbot, tmp_path):
    (tmp_path / "broken.nnstudio").write_text("not a zip")
    (tmp_path / "mine.nnstudio").write_bytes(SPIRAL.read_bytes())
    page = StartPage(None, folder=tmp_path)
    qtbot.addWidget(page)
    assert [c.info.path.name for c in page.cards] == ["mine.nnstudio"]
    card = page.cards[0]
    assert card.picture.text() == "Spiral MLP" and card.picture.textFormat() == Qt.TextFormat.PlainText


def test_every_example_has_a_small_picture():
    for path in EXAMPLE_FILES:
        picture = path.with_suffix(".png")
        assert picture.is_file(), picture
        assert picture.stat().st_size < 60_000, picture


def test_a_card_clicked_while_loading_says_so(qtbot):
    info = read_examples()[0]
    card = ExampleCard(info)
    qtbot.addWidget(card)
    card.set_busy(True)
    assert card.footer.text() == "Loading…" and card.cursor().shape() == Qt.CursorShape.BusyCursor
    card.set_busy(False)
    assert card.footer.text() == info.facts


def test_long_text_is_elided_with_its_whole_text_as_tooltip(qtbot):
    label = ElidedLabel("word " * 200, lines=2)
    qtbot.addWidget(label)
    label.resize(200, 40)
    assert label.elided and len(label.shown_lines()) == 2 and label.shown_lines()[-1].endswith("…")
    assert "word word" in label.toolTip()
    short = ElidedLabel("short", lines=2)
    qtbot.addWidget(short)
    short.resize(200, 40)
    assert not short.elided and short.toolTip() == ""
    button = LinkButton("R&D net.nnstudio")
    qtbot.addWidget(button)
    button.resize(400, 30)
    assert button.text() == "R&&D net.nnstudio"  # the & is shown, not a mnemonic


# -- the fast start -------------------------------------------------------------------------------------------
def test_a_card_clicked_before_the_editor_is_there_opens_when_it_is(qtbot, tmp_path):
    launcher = Launcher([], QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), tmp_path / "auto")
    launcher.show()
    assert launcher.window is None
    card = launcher.page.card(DIGITS)
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(launcher.page.card(SPIRAL), Qt.MouseButton.LeftButton)  # the last click counts
    assert launcher.page.busy == str(SPIRAL) and launcher.page.card(SPIRAL).footer.text() == "Loading…"
    assert launcher.page.card(DIGITS).footer.text() != "Loading…"
    qtbot.waitUntil(lambda: launcher.window is not None and bool(launcher.window.document.graph.nodes),
                    timeout=30_000)
    w = launcher.window
    qtbot.addWidget(w)
    assert w.document.path is None and len(w.document.graph.nodes) == 5  # the spiral, as an untitled copy
    assert w.start_page is launcher.page and launcher.page.busy is None
    qtbot.waitUntil(lambda: not launcher.first.isVisible())
    w.close()


RUN_FIRST_WINDOW = """
import json, os, sys
from nnstudio.cli import main
main([])
"""


def test_the_first_window_is_painted_before_torch_is_imported(tmp_path):
    report = tmp_path / "paint.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"),
               NNSTUDIO_REPORT_FIRST_PAINT=str(report))
    done = subprocess.run([sys.executable, "-c", RUN_FIRST_WINDOW], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["torch_imported"] is False and data["time"] > 0


LOAD_IN_A_THREAD = """
import gc, sys, threading
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication
app = QApplication([])
assert "torch" not in sys.modules
from nnstudio.ui.app import EditorLoader
loader = EditorLoader()
loader.start()
loader.wait(300)
assert loader.error is None, loader.error
assert "torch" in sys.modules and "nnstudio.ui.main_window" in sys.modules
strays = [type(o).__name__ for o in gc.get_objects() if isinstance(o, QObject) and o.thread() is not app.thread()]
print("STRAYS", strays)
"""


def test_the_loader_thread_only_imports_and_makes_no_qt_object(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", LOAD_IN_A_THREAD], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "STRAYS []" in done.stdout


def test_a_hostile_example_and_recent_name_are_shown_as_the_text_they_are(qtbot, tmp_path):
    from nnstudio.core.project import Project, save_project

    text = '<b>bold</b> &amp; <a href="file:///etc/passwd">x</a>\u202e'
    save_project(Project(name=text, description=f"{text}\nsecond line"), tmp_path / "evil.nnstudio")
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(RECENT_KEY, [str(tmp_path / "R&D <b>net.nnstudio")])
    page = StartPage(RecentFiles(settings), folder=tmp_path)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    card = page.cards[0]
    assert card.title.text().startswith("<b>bold</b> &amp; <a href=") and card.title.text().endswith("\ufffd")
    assert "second line" in card.description.text()
    assert "&lt;b&gt;bold" in card.toolTip()  # a tooltip is rich text: escaped, so it shows the characters
    assert page.recent_buttons[0].text().startswith("R&&D <b>net.nnstudio   —   ")
