"""The main window: docks, menus and shortcuts, layout persistence, title, file handling with the unsaved-changes
prompt, bad files, autosave recovery, clipboard and the status bar. Every dialog is replaced by a recorder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QKeySequence  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox, QToolBar  # noqa: E402

from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.core.project import load_project  # noqa: E402
from nnstudio.ui.app import start  # noqa: E402
from nnstudio.ui.commands import MoveNodesCommand  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402
from nnstudio.ui.mime import NODES_MIME  # noqa: E402

Button = QMessageBox.StandardButton
DIGITS = EXAMPLES / "digits_cnn.nnstudio"


@pytest.fixture
def make_window(qtbot, tmp_path):
    """MainWindow factory with settings and autosave in tmp_path and every dialog replaced by a recorder.
    ``w.answer`` is what the unsaved-changes prompt answers (Discard unless a test says otherwise)."""

    def make(settings_file: str = "settings.ini") -> MainWindow:
        settings = QSettings(str(tmp_path / settings_file), QSettings.Format.IniFormat)
        w = MainWindow(settings, autosave_folder=tmp_path / "autosave")
        w.prompts, w.errors, w.save_paths, w.recover_offers = [], [], [], []
        w.answer = Button.Discard
        w.save_to = None
        w.ask_unsaved_changes = lambda: (w.prompts.append(w.document.display_name), w.answer)[1]
        w.show_error = lambda title, message: w.errors.append((title, message))
        w.ask_open_path = lambda: None
        w.ask_save_path = lambda: (w.save_paths.append(True), w.save_to)[1]
        w.ask_recover = lambda item: (w.recover_offers.append(item), False)[1]
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make


def edit(w: MainWindow, type_id: str = "dense") -> str:
    node_id = w.add_layer(type_id)
    assert node_id in w.document.graph.nodes
    return node_id


# -- structure ------------------------------------------------------------------------------------------------
def test_window_has_every_dock_in_its_area(make_window):
    w = make_window()
    areas = {
        "dock_palette": Qt.DockWidgetArea.LeftDockWidgetArea,
        "dock_inspector": Qt.DockWidgetArea.RightDockWidgetArea,
        "dock_summary": Qt.DockWidgetArea.BottomDockWidgetArea,
        "dock_problems": Qt.DockWidgetArea.BottomDockWidgetArea,
        "dock_dataset": Qt.DockWidgetArea.RightDockWidgetArea,
        "dock_training": Qt.DockWidgetArea.RightDockWidgetArea,
        "dock_dashboard": Qt.DockWidgetArea.BottomDockWidgetArea,
        "dock_predict": Qt.DockWidgetArea.RightDockWidgetArea,
        "dock_runs": Qt.DockWidgetArea.RightDockWidgetArea,
    }
    for name, area in areas.items():
        dock = w.findChild(QDockWidget, name)
        assert dock is not None, name
        assert w.dockWidgetArea(dock) == area, name
        # the dashboard and the runs have the Train workspace; problems have no panel while there are none
        assert dock.isVisible() == (name not in ("dock_dashboard", "dock_problems", "dock_runs")), name
    assert w.central.parent() is w.centralWidget() and w.central.currentWidget() is w.view  # a window made in code
    assert all(d.objectName() for d in w.findChildren(QDockWidget))
    assert all(t.objectName() for t in w.findChildren(QToolBar))
    panel_toggles = [a.text() for a in w.acts.panels_menu.actions()]
    assert panel_toggles == ["Layers", "Inspector", "Model Summary", "Problems", "Dataset", "Training",
                             "Training Dashboard", "Predict", "Runs"]


def test_menus_and_shortcuts(make_window):
    w = make_window()
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Train", "&Help"]
    expected = {
        "new": ["Ctrl+N"], "open": ["Ctrl+O"], "save": ["Ctrl+S"], "save_as": ["Ctrl+Shift+S"],
        "quit": ["Ctrl+Q"], "undo": ["Ctrl+Z"], "redo": ["Ctrl+Shift+Z", "Ctrl+Y"], "copy": ["Ctrl+C"],
        "cut": ["Ctrl+X"], "paste": ["Ctrl+V"], "duplicate": ["Ctrl+D"], "select_all": ["Ctrl+A"],
        "delete": ["Del"], "fit": ["F"], "zoom_in": ["Ctrl++"], "zoom_out": ["Ctrl+-"],
    }
    for name, keys in expected.items():
        have = [k.toString() for k in getattr(w.acts, name).shortcuts()]
        for key in keys:
            assert QKeySequence(key).toString() in have, (name, key, have)
    entries = [a for a in w.acts.menus["file"].actions() if a.text()]
    assert entries[1] is w.acts.start_page and w.acts.start_page.text() == "Start Pa&ge"  # File > Start Page
    file_menu = [a.text() for a in entries if a is not w.acts.start_page]
    assert file_menu == ["&New", "&Open…", "Open E&xample…", "Open &Recent", "&Save", "Save &As…",
                         "&Import Model…", "&Export…", "&Quit"]
    edit_menu = [a.text() for a in w.acts.menus["edit"].actions() if a.text()]
    assert edit_menu[2:] == ["Cu&t", "&Copy", "&Paste", "Dupl&icate", "&Delete", "Select &All", "&Group in Frame",
                            "U&ngroup", "Co&llapse/Expand Frame", "Connect to Ne&xt Layer", "Edit First Para&meter"]
    help_menu = [a.text() for a in w.acts.menus["help"].actions()]  # separators read as ""
    assert help_menu == ["&Getting Started", "&Keyboard Shortcuts", "", "&Report a Problem", "", "&About NN Studio"]
    toolbar = w.findChild(QToolBar, "toolbar_main")
    assert w.acts.save in toolbar.actions() and w.acts.fit in toolbar.actions()


def test_no_key_triggers_two_actions_whatever_the_platform_binds(make_window, monkeypatch):
    """On X11 the standard Delete key binding also holds Ctrl+D (Duplicate): a key bound twice fires neither.
    The platform's bindings are replaced by X11's (and a few more that clash) to prove any of them is dropped
    where the app gives the key to another action, and kept elsewhere."""
    from nnstudio.ui.actions import shortcut_clashes

    real = QKeySequence.keyBindings
    extra = {QKeySequence.StandardKey.Delete: ["Del", "Ctrl+D"], QKeySequence.StandardKey.Undo: ["Ctrl+Z", "F5"],
             QKeySequence.StandardKey.ZoomIn: ["Ctrl++", "Ctrl+Y"]}

    def bindings(key):
        return [QKeySequence(k) for k in extra[key]] if key in extra else real(key)

    monkeypatch.setattr(QKeySequence, "keyBindings", staticmethod(bindings))
    w = make_window()
    assert shortcut_clashes(w) == {}
    assert [k.toString() for k in w.acts.delete.shortcuts()] == ["Del", "Backspace"]
    assert "Ctrl+D" in [k.toString() for k in w.acts.duplicate.shortcuts()]
    assert [k.toString() for k in w.acts.undo.shortcuts()] == ["Ctrl+Z"]


def test_shortcuts_dialog_lists_the_shortcuts(make_window):
    w = make_window()
    dialog = w.show_shortcuts()
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert rows["New"] == QKeySequence("Ctrl+N").toString(QKeySequence.SequenceFormat.NativeText)
    assert "Ctrl+Y" in rows["Redo"]
    dialog.close()


def test_add_dock_for_later_panels(make_window):
    w = make_window()
    dock = w.add_dock(QLabel("training"), "Training", "dock_training", Qt.DockWidgetArea.BottomDockWidgetArea)
    assert dock.objectName() == "dock_training" and w.docks["dock_training"] is dock
    assert dock.toggleViewAction() in w.acts.panels_menu.actions()
    dock.toggleViewAction().trigger()
    assert dock.isHidden()


# -- layout -------------------------------------------------------------------------------------------------
def test_layout_is_saved_on_close_and_restored(make_window, qtbot):
    w1 = make_window()
    inspector = w1.docks["dock_inspector"]
    w1.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, inspector)
    w1.docks["dock_palette"].hide()
    w1.resize(777, 555)  # the offscreen screen is 800 x 800: restoreGeometry keeps a window inside it
    assert w1.close()

    w2 = make_window()
    assert w2.dockWidgetArea(w2.docks["dock_inspector"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert w2.docks["dock_palette"].isHidden()
    assert not w2.docks["dock_palette"].toggleViewAction().isChecked()
    assert w2.docks["dock_summary"].isVisible()
    assert (w2.width(), w2.height()) == (777, 555)

    w3 = make_window("other.ini")  # no saved layout: the default one
    assert w3.dockWidgetArea(w3.docks["dock_inspector"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert w3.docks["dock_palette"].isVisible()


def test_reset_layout_brings_panels_back(make_window):
    w = make_window()
    w.docks["dock_palette"].hide()
    w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, w.docks["dock_summary"])
    w.reset_layout()
    assert w.docks["dock_palette"].isVisible()
    assert w.dockWidgetArea(w.docks["dock_summary"]) == Qt.DockWidgetArea.BottomDockWidgetArea


# -- title and unsaved mark ---------------------------------------------------------------------------------
def test_title_shows_the_unsaved_mark(make_window, tmp_path):
    w = make_window()
    assert w.windowTitle() == "Untitled[*] — NN Studio"
    assert not w.isWindowModified()
    edit(w)
    assert w.isWindowModified()
    w.document.undo_stack.undo()
    assert not w.isWindowModified()
    w.document.undo_stack.redo()
    assert w.isWindowModified()
    w.save_to = str(tmp_path / "titled.nnstudio")
    assert w.save()
    assert not w.isWindowModified()
    assert w.windowTitle() == "titled.nnstudio[*] — NN Studio"


# -- save / open --------------------------------------------------------------------------------------------
def test_save_then_reopen_gives_the_same_graph_and_positions(make_window, tmp_path):
    w = make_window()
    first = edit(w, "input_vector")
    w.scene.select_nodes([first])
    second = edit(w, "dense")  # wired after the input
    doc = w.document
    doc.undo_stack.push(MoveNodesCommand(doc.graph, {second: (doc.graph.nodes[second].position, (420.0, 180.0))}))
    w.save_to = str(tmp_path / "two.nnstudio")
    assert w.save() and w.save_paths == [True]
    assert w.save() and w.save_paths == [True]  # has a path now: no second question

    w2 = make_window("second.ini")
    assert w2.load_file(tmp_path / "two.nnstudio")
    assert w2.document.graph.to_dict() == doc.graph.to_dict()
    assert w2.document.graph.nodes[second].position == (420.0, 180.0)
    assert w2.scene.node_item(second) is not None
    assert w2.recent.paths()[0] == str((tmp_path / "two.nnstudio").resolve())


def test_save_failure_is_reported_and_keeps_the_changes(make_window, tmp_path):
    w = make_window()
    edit(w)
    w.save_to = str(tmp_path / "no such folder" / "x.nnstudio")
    assert not w.save()
    assert w.errors and w.errors[0][0] == "Cannot save project"
    assert w.isWindowModified()


def test_bad_file_shows_the_reason_and_leaves_the_project_untouched(make_window, tmp_path):
    bad = tmp_path / "broken.nnstudio"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    w = make_window()
    node = edit(w)
    graph = w.document.graph
    assert not w.open_file(bad)
    assert len(w.errors) == 1
    title, message = w.errors[0]
    assert title == "Cannot open project" and "broken.nnstudio" in message
    assert w.document.graph is graph and list(graph.nodes) == [node]
    assert w.isWindowModified()


def test_starting_with_a_bad_file_reports_it_and_opens_empty(make_window, tmp_path):
    w = make_window()
    start(w, [str(tmp_path / "missing.nnstudio")])
    assert len(w.errors) == 1 and "does not exist" in w.errors[0][1]
    assert w.document.graph.nodes == {}
    assert w.isVisible()


def test_starting_with_a_file_opens_it(make_window, qtbot):
    w = make_window()
    start(w, [str(DIGITS)])
    assert w.errors == []
    assert w.windowTitle() == "digits_cnn.nnstudio[*] — NN Studio"
    qtbot.waitUntil(lambda: w.state_label.text() == "ready", timeout=20000)  # the data are loaded and checked first
    assert w.params_label.text() == "121,930 parameters"


def test_open_example_is_an_untitled_copy(make_window):
    w = make_window()
    w.choose_example = lambda: EXAMPLES / "spiral_mlp.nnstudio"
    assert w.open_example()
    assert w.document.path is None
    assert w.windowTitle() == "Spiral MLP[*] — NN Studio"
    assert len(w.document.graph.nodes) == 5
    assert not w.save()  # Save asks where (the recorder answers nothing)
    assert w.save_paths == [True]


def test_open_recent_menu(make_window, tmp_path):
    w = make_window()
    w.load_file(DIGITS)
    w.update_recent_menu()
    entries = [a for a in w.acts.recent_menu.actions() if a.data()]
    assert [a.data() for a in entries] == [str(DIGITS.resolve())]
    w.document.new()
    entries[0].trigger()
    assert w.document.path == DIGITS.resolve()
    clear = w.findChild(type(w.acts.new), "action_clear_recent")
    clear.trigger()
    assert w.recent.paths() == []


# -- the unsaved-changes prompt -----------------------------------------------------------------------------
def test_no_prompt_when_clean(make_window):
    w = make_window()
    assert w.new_project()
    w.ask_open_path = lambda: str(DIGITS)
    assert w.open_dialog()
    assert w.close()
    assert w.prompts == []


def test_prompt_on_new_open_and_close_when_modified(make_window, tmp_path):
    w = make_window()
    edit(w)
    w.answer = Button.Cancel
    assert not w.new_project()
    assert len(w.document.graph.nodes) == 1
    opened = []
    w.ask_open_path = lambda: (opened.append(True), str(DIGITS))[1]
    assert not w.open_dialog()
    assert opened == []  # Cancel: no file dialog either
    assert not w.close()
    assert w.isVisible()
    assert len(w.prompts) == 3

    w.answer = Button.Save
    w.save_to = str(tmp_path / "kept.nnstudio")
    assert w.open_dialog()  # saved first, then opened
    assert len(load_project(tmp_path / "kept.nnstudio").graph.nodes) == 1
    assert w.document.path == DIGITS.resolve()

    edit(w)
    w.answer = Button.Discard
    assert w.close()
    assert len(w.prompts) == 5


def test_cancelling_the_save_dialog_cancels_closing(make_window):
    w = make_window()
    edit(w)
    w.answer = Button.Save
    w.save_to = None  # the user closes the file dialog
    assert not w.close()
    assert w.isVisible() and w.isWindowModified()


# -- autosave and recovery ----------------------------------------------------------------------------------
def test_autosave_and_recovery_after_a_crash(make_window, tmp_path):
    w1 = make_window()
    assert w1.autosaver.autosave() is None  # nothing unsaved
    node = edit(w1, "conv2d")
    copy = w1.autosaver.autosave()
    assert copy is not None and copy.exists()
    assert copy.parent == tmp_path / "autosave"
    w1.autosaver._lock.unlock()  # the first window "crashes": its lock is gone, its copy stays
    w1.autosaver._lock = None

    w2 = make_window("second.ini")
    w2.ask_recover = lambda item: (w2.recover_offers.append(item), True)[1]
    assert w2.offer_recovery()
    assert len(w2.recover_offers) == 1 and w2.recover_offers[0].name == "Untitled"
    assert list(w2.document.graph.nodes) == [node]
    assert w2.isWindowModified()
    assert not copy.exists()  # the old copy is gone; w2 keeps its own
    assert w2.autosaver.path.exists()


def test_declined_recovery_discards_the_copy(make_window):
    w1 = make_window()
    edit(w1)
    copy = w1.autosaver.autosave()
    w1.autosaver._lock.unlock()
    w1.autosaver._lock = None
    w2 = make_window("second.ini")
    assert not w2.offer_recovery()
    assert len(w2.recover_offers) == 1
    assert not copy.exists()
    assert w2.document.graph.nodes == {}
    assert not w2.offer_recovery() and len(w2.recover_offers) == 1  # not offered again


# -- edit menu and status bar -------------------------------------------------------------------------------
def test_copy_paste_through_the_system_clipboard(make_window):
    w = make_window()
    node = edit(w, "dense")
    w.scene.select_nodes([node])
    w.acts.copy.trigger()
    assert QGuiApplication.clipboard().mimeData().hasFormat(NODES_MIME)
    w.acts.paste.trigger()
    assert len(w.document.graph.nodes) == 2
    w.acts.duplicate.trigger()
    assert len(w.document.graph.nodes) == 3
    w.acts.select_all.trigger()
    w.acts.cut.trigger()
    assert w.document.graph.nodes == {}
    w.acts.undo.trigger()
    assert len(w.document.graph.nodes) == 3
    assert w.close()  # our private format leaves the clipboard with the window (PySide crashes at exit otherwise)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime is None or not mime.hasFormat(NODES_MIME)


def test_status_bar_shows_parameters_and_state(make_window, qtbot):
    w = make_window()
    node = edit(w, "lstm")
    qtbot.waitUntil(lambda: "problem" in w.state_label.text())
    count = len(w.document.watcher.info.problems())
    assert w.state_label.text() == f"{count + 1} problems"  # the network's, and the project has no dataset
    assert len(w.session.problems) == count + 1
    w.scene.status_message.emit("a refused edit")
    assert w.statusBar().currentMessage() == "a refused edit"
    w.load_file(DIGITS)
    qtbot.waitUntil(lambda: w.state_label.text() == "ready", timeout=20000)  # the data are loaded and checked first
    assert node not in w.document.graph.nodes


# -- the app entry point ----------------------------------------------------------------------------------------
RUN_APP = """
import sys
from PySide6.QtCore import QTimer
from nnstudio.ui import main_window

original = main_window.MainWindow.offer_recovery

def offer_then_quit(self):
    result = original(self)
    print("TITLE", self.windowTitle(), len(self.document.graph.nodes), self.windowIcon().isNull())
    print("START PAGE", self.start_page_shown)
    QTimer.singleShot(0, self.close)
    return result

main_window.MainWindow.offer_recovery = offer_then_quit
main_window.MainWindow.show_error = lambda self, title, message: print("ERROR", message)
main_window.MainWindow.ask_recover = lambda self, item: print("RECOVER?", item.name) or False
from nnstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_app(tmp_path, *args: str):
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-c", RUN_APP, *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_nnstudio_file_opens_the_window_with_it(tmp_path):
    done = _run_app(tmp_path, str(DIGITS))
    assert done.returncode == 0, done.stderr
    assert "TITLE digits_cnn.nnstudio[*] — NN Studio 9 False" in done.stdout and "START PAGE False" in done.stdout
    assert "ERROR" not in done.stdout
    settings = list((tmp_path / "config").rglob("*.conf"))
    assert settings and "window" in settings[0].read_text()  # the layout is kept for the next run


def test_nnstudio_with_a_bad_file_reports_it_and_opens_empty(tmp_path):
    done = _run_app(tmp_path, str(tmp_path / "nope.nnstudio"))
    assert done.returncode == 0, done.stderr
    assert "ERROR" in done.stdout and "does not exist" in done.stdout
    assert "TITLE NN Studio 0" in done.stdout and "START PAGE True" in done.stdout  # the start page instead


def test_nnstudio_without_a_file_shows_the_start_page(tmp_path):
    done = _run_app(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "TITLE NN Studio 0 False" in done.stdout and "START PAGE True" in done.stdout
