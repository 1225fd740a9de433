"""The Runs panel: rows in the data's order, rename / pin / delete / restore / branch / export asked through
signals, differing settings highlighted, compared runs coloured as the compare plot colours them, a sweep's row
selecting its runs, busy state, the sweep's progress and results, hostile names shown literally, and a narrow
dock still usable."""

from __future__ import annotations

import html
import re

import pytest
from PySide6.QtCore import QEvent, QPoint, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QToolBar, QToolButton

from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.project.model import Project
from nnstudio.core.runs import runs_table
from nnstudio.ui.panels.runs import (
    BATCH,
    BEST,
    EMPTY_TEXT,
    GRAPH,
    GRAPH_CHANGED_TIP,
    LR,
    NAME,
    OPTIMIZER,
    PINNED,
    STARTED,
    SWATCH_ROLE,
    RunsPanel,
)
from nnstudio.ui.plots import COLORS

HOSTILE = "<b>bold</b> & <i>x</i>\nline two"


def _text(tip: str) -> str:
    """A tooltip as a person reads it (tags gone, entities undone)."""
    return html.unescape(re.sub(r"<[^>]+>", "\n", tip))


def _editor(panel) -> QLineEdit | None:
    """The open Name editor (closed editors are deleted first: they linger until the event loop runs)."""
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return panel.tree.findChild(QLineEdit)


def _run(number: int, settings: dict, accuracies=(0.5, 0.7), **extra) -> dict:
    epochs = [{"epoch": i + 1, "train_loss": 1.0 - a, "val_loss": 1.2 - a, "val_accuracy": a}
              for i, a in enumerate(accuracies)]
    run = {"id": f"run-{number}", "name": f"Run {number}", "started": "2026-12-01T23:40:12Z", "duration_s": 12.5,
           "device": "cpu", "settings": dict(settings), "dataset": None, "fingerprint": None, "graph": {},
           "epochs": epochs, "step_loss": [], "task": "multiclass", "classes": [], "confusion": None, "final": {},
           "best_epoch": None, "stop_reason": "completed", "pinned": False, "weights": False, "parent": None,
           "sweep": None}
    run.update(extra)
    return run


BASE = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 2, "seed": 0}


@pytest.fixture
def project(chain_graph):
    p = Project(graph=chain_graph)
    now = fingerprint(chain_graph)
    p.runs = [
        _run(1, BASE, fingerprint=now),
        _run(2, {**BASE, "lr": 0.001, "l2": 0.0001}, (0.6, 0.912), fingerprint="0" * 64),
        _run(3, {**BASE, "lr": 0.001, "l2": 0.0001}, (0.95,), parent={"run": "run-2", "epoch": 2}, pinned=True,
             weights=True),
        _run(4, {**BASE, "optimizer": "sgd"}, (0.4,), sweep="sweep-1", name="optimizer=sgd seed 0 (sweep-1)"),
        _run(5, {**BASE, "optimizer": "rmsprop"}, (0.45,), sweep="sweep-1", weights=True,
             name="optimizer=rmsprop seed 0 (sweep-1)"),
    ]
    return p


@pytest.fixture
def panel(qtbot, project):
    w = RunsPanel()
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    qtbot.waitExposed(w)
    w.show_runs(runs_table(project), project.runs)
    return w


def test_rows_in_the_data_order_with_their_numbers(panel):
    assert [panel.tree.topLevelItem(i).text(NAME) for i in range(panel.tree.topLevelItemCount())] == [
        "Run 1", "Run 2", "Run 3", "sweep-1 (2 runs)"]
    group = panel.group_item("sweep-1")
    assert [group.child(i).text(NAME) for i in range(group.childCount())] == [
        "optimizer=sgd seed 0", "optimizer=rmsprop seed 0"] and group.isExpanded()  # under sweep-1: said once
    run2 = panel.item("run-2")
    assert panel.tree.headerItem().text(BEST) == "Best val acc" and run2.text(BEST) == "0.912"
    assert run2.text(LR) == "0.001" and run2.text(OPTIMIZER) == "adam" and run2.text(BATCH) == "32"
    assert panel.item("run-1").text(GRAPH) == "" and run2.text(GRAPH) == "changed"
    assert _text(run2.toolTip(GRAPH)).strip() == GRAPH_CHANGED_TIP and panel.item("run-3").text(GRAPH) == "?"
    assert panel.item("run-3").text(PINNED) and not run2.text(PINNED)
    assert ":" in panel.item("run-1").text(STARTED)
    assert "Branched from run-2 at epoch 2" in _text(panel.item("run-3").toolTip(NAME))
    assert group.text(BEST) == "0.450"


def test_the_loss_column_when_no_run_has_accuracy(qtbot):
    run = _run(1, BASE)
    for row in run["epochs"]:
        del row["val_accuracy"]
    w = RunsPanel()
    qtbot.addWidget(w)
    w.show_runs(runs_table(Project(runs=[run])), [run])
    assert w.tree.headerItem().text(BEST) == "Best val loss" and w.item("run-1").text(BEST) == "0.5"


def test_empty_project_says_how_to_start(qtbot):
    w = RunsPanel()
    qtbot.addWidget(w)
    w.show_runs([], [])
    assert w.stack.currentWidget() is w.empty and w.empty.text() == EMPTY_TEXT
    assert not w.action("csv").isEnabled() and w.action("sweep").isEnabled()


def test_only_the_settings_that_differ_are_bold_and_tinted(panel):
    run2, run3 = panel.item("run-2"), panel.item("run-3")
    assert run2.font(LR).bold() and run2.background(LR).color().alpha() > 0
    assert not run2.font(OPTIMIZER).bold() and not run2.font(BATCH).bold() and not run2.font(NAME).bold()
    assert not any(run3.font(c).bold() for c in (LR, OPTIMIZER, BATCH))
    assert "Differs from the previous run: l2, lr" in _text(run2.toolTip(NAME))
    assert panel.item("run-4").font(OPTIMIZER).bold() and not panel.item("run-4").font(BATCH).bold()


def test_rename_emits_only_a_changed_nonblank_name(panel, qtbot):
    names = []
    panel.rename_requested.connect(lambda run_id, name: names.append((run_id, name)))
    item = panel.item("run-2")
    for text in ("  ", "Run 2", "  tuned lr  "):
        panel.tree.editItem(item, NAME)
        editor = _editor(panel)
        assert editor is not None and editor.isVisible()
        editor.setText(text)
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: panel.tree.state() != panel.tree.State.EditingState)  # Return commits queued
    assert names == [("run-2", "tuned lr")]
    assert item.text(NAME) == "Run 2"  # a pure view: the controller's show_runs shows the new name
    panel.tree.editItem(item, NAME)
    editor = _editor(panel)
    editor.setText("never")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: panel.tree.state() != panel.tree.State.EditingState)
    assert names == [("run-2", "tuned lr")]


def test_only_the_name_cell_opens_an_editor(panel, qtbot):
    item = panel.item("run-1")
    rect = panel.tree.visualItemRect(item)
    x = sum(panel.tree.header().sectionSize(c) for c in range(OPTIMIZER)) + 5
    qtbot.mouseDClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, rect.center().y()))
    assert panel.tree.state() != panel.tree.State.EditingState
    panel.set_selected(["run-1"])
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_F2)
    assert panel.tree.state() == panel.tree.State.EditingState
    assert panel.tree.currentColumn() == NAME


def test_selection_emits_in_table_order_and_swatches_follow_the_colours(panel, qtbot):
    seen = []
    panel.compare_changed.connect(seen.append)
    panel.item("run-3").setSelected(True)
    panel.item("run-1").setSelected(True)
    assert seen[-1] == ["run-1", "run-3"] and panel.selected_ids() == ["run-1", "run-3"]
    assert panel.item("run-1").data(NAME, SWATCH_ROLE) == COLORS[0]
    assert panel.item("run-3").data(NAME, SWATCH_ROLE) == COLORS[1]
    assert panel.item("run-2").data(NAME, SWATCH_ROLE) is None
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected):  # the highlight does not tint the swatch
        image = panel.item("run-3").icon(NAME).pixmap(QSize(12, 12), mode).toImage()
        assert QColor(image.pixel(6, 6)).name() == COLORS[1]
    count = len(seen)
    panel.show_runs(runs_table_of(panel), list(panel._runs_by_id.values()))  # same runs again: no signal
    assert len(seen) == count and panel.selected_ids() == ["run-1", "run-3"]
    panel.set_selected(["run-2"])
    assert seen[-1] == ["run-2"] and panel.item("run-2").data(NAME, SWATCH_ROLE) == COLORS[0]


def runs_table_of(panel):
    return list(panel._rows)


def test_a_deleted_selected_run_leaves_the_selection(panel, project):
    seen = []
    panel.set_selected(["run-1", "run-2"])
    panel.compare_changed.connect(seen.append)
    del project.runs[0]
    panel.show_runs(runs_table(project), project.runs)
    assert seen == [["run-2"]]


def test_the_sweep_row_selects_its_runs(panel):
    seen = []
    panel.compare_changed.connect(seen.append)
    group = panel.group_item("sweep-1")
    group.setSelected(True)
    assert panel.selected_ids() == ["run-4", "run-5"] and seen[-1] == ["run-4", "run-5"]
    group.setSelected(False)  # unselecting the sweep's row unselects its runs
    assert panel.selected_ids() == []
    panel.set_selected(["run-4", "run-5"])
    assert group.isSelected()
    panel.item("run-4").setSelected(False)
    assert not group.isSelected() and panel.selected_ids() == ["run-5"]


def test_delete_asks_and_emits_only_when_confirmed(panel, qtbot):
    asked, deleted = [], []
    answer = [False]
    panel.confirm = lambda title, text: asked.append(text) or answer[0]
    panel.delete_requested.connect(deleted.append)
    panel.set_selected(["run-1", "run-2"])
    panel.action("delete").trigger()
    assert deleted == [] and "2 runs" in asked[0] and "Edit > Undo brings them back" in asked[0]
    assert "cannot be undone" not in asked[0]
    answer[0] = True
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)
    assert deleted == [["run-1", "run-2"]] and len(asked) == 2


def test_actions_follow_the_selection(panel):
    acts = panel.action
    assert not acts("restore").isEnabled() and not acts("delete").isEnabled() and acts("csv").isEnabled()
    panel.set_selected(["run-2"])
    assert acts("restore").isEnabled() and acts("pin").isEnabled() and acts("pin").text() == "Pin"
    assert not acts("branch").isEnabled() and "kept no weights" in _text(acts("branch").toolTip())
    panel.set_selected(["run-3"])
    assert acts("branch").isEnabled() and acts("pin").text() == "Unpin"
    panel.set_selected(["run-3", "run-5"])
    assert not acts("restore").isEnabled() and not acts("pin").isEnabled() and acts("delete").isEnabled()
    many = [_run(i, BASE, pinned=True) for i in range(1, 21)] + [_run(21, BASE)]
    panel.show_runs(runs_table(Project(runs=many)), many)
    panel.set_selected(["run-21"])
    assert not acts("pin").isEnabled() and "At most 20 runs" in _text(acts("pin").toolTip())
    panel.set_selected(["run-20"])
    assert acts("pin").isEnabled() and acts("pin").text() == "Unpin"
    menu = panel.context_menu()
    assert [a.objectName() for a in menu.actions() if a.objectName()][:3] == [
        "action_runs_restore", "action_runs_branch", "action_runs_pin"]


def test_the_requests_carry_the_ids(panel):
    got = []
    for signal in ("restore_requested", "branch_requested", "pin_requested", "export_csv_requested"):
        getattr(panel, signal).connect(lambda *args, s=signal: got.append((s, *args)))
    panel.action("csv").trigger()
    panel.set_selected(["run-3"])
    for name in ("restore", "branch", "pin", "csv"):
        panel.action(name).trigger()
    assert got == [("export_csv_requested", ["run-1", "run-2", "run-3", "run-4", "run-5"]),
                   ("restore_requested", "run-3"), ("branch_requested", "run-3"), ("pin_requested", "run-3", False),
                   ("export_csv_requested", ["run-3"])]


def test_busy_disables_what_changes_the_project(panel):
    panel.set_selected(["run-3"])
    panel.set_busy("Training: wait for the run to end")
    for name in ("restore", "branch", "delete", "pin", "sweep"):
        assert not panel.action(name).isEnabled(), name
        assert "wait for the run to end" in _text(panel.action(name).toolTip())
    assert panel.action("csv").isEnabled()
    panel.set_selected(["run-1", "run-2"])
    assert panel.selected_ids() == ["run-1", "run-2"] and not panel.action("delete").isEnabled()
    panel.set_busy(None)
    assert panel.action("delete").isEnabled() and panel.action("sweep").isEnabled()
    assert not panel.action("restore").isEnabled()


def test_sweep_progress_shows_states_and_stop(panel, qtbot):
    assert not panel.sweep.isVisibleTo(panel)
    points = [{"name": "optimizer=sgd seed 0", "state": "done", "text": "val_accuracy 0.912"},
              {"name": "optimizer=adam seed 0", "state": "running", "text": "epoch 3/30"},
              {"name": HOSTILE, "state": "waiting", "text": ""}]
    panel.show_sweep("sweep-2", points, True)
    assert panel.sweep.isVisibleTo(panel) and panel.sweep.states() == ["done", "running", "waiting"]
    assert "epoch 3/30" in panel.sweep.list.item(1).text()
    assert panel.sweep.list.item(2).text().startswith("<b>bold</b> & <i>x</i> line two")
    assert panel.sweep.stop.isVisibleTo(panel)
    with qtbot.waitSignal(panel.stop_sweep_requested, timeout=1000):
        qtbot.mouseClick(panel.sweep.stop, Qt.MouseButton.LeftButton)
    points[1]["state"] = "stopped"
    panel.show_sweep("sweep-2", points, False)
    assert not panel.sweep.stop.isVisibleTo(panel) and "1 stopped" in panel.sweep.title.text()
    panel.show_sweep(None, [], False)
    assert not panel.sweep.isVisibleTo(panel)


def test_results_show_mean_and_std(panel):
    assert not panel.results.isVisibleTo(panel)
    rows = [{"optimizer": "sgd", "lr": 0.001, "runs": 2, "val_accuracy_mean": 0.9123, "val_accuracy_std": 0.0041,
             "val_loss_mean": 0.31234, "val_loss_std": 0.0123},
            {"optimizer": "adam", "lr": 0.01, "runs": 2, "val_accuracy_mean": 0.95, "val_accuracy_std": 0.0,
             "val_loss_mean": 0.2, "val_loss_std": 0.001}]
    panel.show_results("sweep-1", rows)
    r = panel.results
    assert r.isVisibleTo(panel) and r.columns == ["optimizer", "lr", "runs", "val_accuracy", "val_loss"]
    assert r.cell(0, "val_accuracy") == "0.912 ± 0.004" and r.cell(0, "val_loss") == "0.3123 ± 0.012"
    assert r.cell(0, "lr") == "0.001" and r.cell(1, "runs") == "2"
    assert r.table.topLevelItem(1).font(3).bold() and not r.table.topLevelItem(0).font(3).bold()
    panel.show_results(None, [])
    assert not r.isVisibleTo(panel)


def test_a_hostile_name_is_shown_literally(panel, project, qtbot):
    project.runs[0]["name"] = HOSTILE
    panel.show_runs(runs_table(project), project.runs)
    item = panel.item("run-1")
    assert item.text(NAME) == "<b>bold</b> & <i>x</i> line two"
    assert "<b>bold</b> & <i>x</i>" in _text(item.toolTip(NAME))
    asked = []
    panel.confirm = lambda title, text: asked.append(text) or False
    panel.set_selected(["run-1"])
    panel.action("delete").trigger()
    assert "“<b>bold</b> & <i>x</i> line two”" in asked[0]


def test_a_narrow_dock_keeps_the_table_and_toolbar_usable(qtbot, project):
    w = RunsPanel()
    qtbot.addWidget(w)
    w.resize(280, 600)
    w.show()
    qtbot.waitExposed(w)
    w.show_runs(runs_table(project), project.runs)
    w.show_sweep("sweep-1", [{"name": "optimizer=sgd seed 0 (sweep-1)", "state": "running", "text": "epoch 1/2"}],
                 True)
    w.show_results("sweep-1", [{"optimizer": "sgd", "runs": 1, "val_accuracy_mean": 0.4, "val_accuracy_std": 0.0}])
    QApplication.processEvents()
    assert w.width() <= 300 and w.tree.width() >= 250
    assert w.tree.header().sectionViewportPosition(BEST) < w.tree.viewport().width()  # Name and Best show
    toolbar = w.findChild(QToolBar)
    extension = toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    visible = [toolbar.widgetForAction(a) for a in toolbar.actions()]
    assert any(b is not None and b.isVisible() for b in visible)
    assert extension is not None and extension.isVisible()  # the rest folds into the extension menu
    assert toolbar.geometry().right() <= w.width()
    w.grab().save("/tmp/runs_panel_narrow.png")


def test_the_delete_key_is_the_tables_own(panel):
    event = QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel.tree, event)
    assert event.isAccepted()  # a window-wide Delete shortcut does not take the table's key


def test_a_new_run_is_scrolled_into_view(qtbot):
    runs = [_run(i, BASE) for i in range(1, 40)]
    w = RunsPanel()
    qtbot.addWidget(w)
    w.resize(400, 260)
    w.show()
    qtbot.waitExposed(w)
    w.show_runs(runs_table(Project(runs=runs[:-1])), runs[:-1])
    w.tree.scrollToTop()
    w.show_runs(runs_table(Project(runs=runs)), runs)

    def shown() -> bool:
        rect = w.tree.visualItemRect(w.item("run-39"))
        return rect.isValid() and w.tree.viewport().rect().contains(rect.bottomLeft())
    qtbot.waitUntil(shown, timeout=2000)
    assert not w.tree.visualItemRect(w.item("run-1")).intersects(w.tree.viewport().rect())
