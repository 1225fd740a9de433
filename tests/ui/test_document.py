"""The open document (Project + path + undo stack + shape watcher), the recent-files list and autosave."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import zipfile  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from nnstudio.core.errors import ProjectFileError  # noqa: E402
from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.core.project import load_project  # noqa: E402
from nnstudio.core.project.migrations import CURRENT_VERSION  # noqa: E402
from nnstudio.ui.commands import AddNodeCommand, ConnectCommand, MoveNodesCommand  # noqa: E402
from nnstudio.ui.document import MAX_RECENT, Document, RecentFiles  # noqa: E402
from nnstudio.ui.recovery import Autosaver, find_recoverable  # noqa: E402


@pytest.fixture
def doc(qapp):
    d = Document()
    yield d
    d.undo_stack.clear()


def build_chain(doc: Document) -> None:
    g, s = doc.graph, doc.undo_stack
    s.push(AddNodeCommand(g, "input_vector", (0, 0), {"features": 3}, node_id="input_vector_1"))
    s.push(AddNodeCommand(g, "dense", (240, 20), {"units": 5}, node_id="dense_1"))
    s.push(AddNodeCommand(g, "output", (480, 40), node_id="output_1"))
    s.push(ConnectCommand(g, "input_vector_1", "dense_1"))
    s.push(ConnectCommand(g, "dense_1", "output_1"))
    s.push(MoveNodesCommand(g, {"dense_1": ((240, 20), (260, 60))}))


def test_new_document_is_clean_and_untitled(doc):
    assert not doc.modified
    assert doc.path is None
    assert doc.display_name == "Untitled"
    assert doc.graph.nodes == {}


def test_edit_marks_modified_and_undo_back_to_clean(doc, qtbot):
    with qtbot.waitSignal(doc.modified_changed) as sig:
        doc.undo_stack.push(AddNodeCommand(doc.graph, "dense", (0, 0)))
    assert sig.args == [True]
    assert doc.modified
    doc.undo_stack.undo()
    assert not doc.modified


def test_save_then_open_gives_the_same_graph_and_positions(doc, tmp_path, qtbot):
    build_chain(doc)
    target = tmp_path / "net"  # no suffix: .nnstudio is added
    with qtbot.waitSignal(doc.saved):
        doc.save_as(target)
    assert doc.path == (tmp_path / "net.nnstudio").resolve()
    assert not doc.modified
    assert doc.display_name == "net.nnstudio"
    assert doc.project.name == "net"

    other = Document()
    other.open(doc.path)
    assert other.graph.to_dict() == doc.graph.to_dict()
    assert other.graph.nodes["dense_1"].position == (260.0, 60.0)
    assert other.watcher.info is not None and other.watcher.info.total_params == 3 * 5 + 5


def test_save_writes_to_the_current_path(doc, tmp_path):
    assert doc.save() is False  # untitled: the caller must ask for a path
    build_chain(doc)
    doc.save_as(tmp_path / "a.nnstudio")
    doc.undo_stack.undo()
    assert doc.modified
    assert doc.save() is True
    assert not doc.modified
    assert "dense_1" in load_project(tmp_path / "a.nnstudio").graph.nodes
    assert load_project(tmp_path / "a.nnstudio").graph.nodes["dense_1"].position == (240.0, 20.0)


def test_opening_a_bad_file_raises_and_leaves_the_project_untouched(doc, tmp_path):
    build_chain(doc)
    project, before = doc.project, doc.graph.to_dict()
    bad = tmp_path / "bad.nnstudio"
    bad.write_text("this is not a zip archive")
    with pytest.raises(ProjectFileError) as err:
        doc.open(bad)
    assert "bad.nnstudio" in str(err.value)
    assert doc.project is project
    assert doc.graph.to_dict() == before
    assert doc.modified  # the unsaved edits are still there
    assert doc.undo_stack.count() == 6


def test_opening_a_file_with_a_bad_field_names_the_field(doc, tmp_path):
    bad = tmp_path / "field.nnstudio"
    with zipfile.ZipFile(bad, "w") as z:
        data = {"format_version": CURRENT_VERSION, "graph": {"nodes": 5, "edges": []}}
        z.writestr("project.json", json.dumps(data))
    with pytest.raises(ProjectFileError) as err:
        doc.open(bad)
    assert "nodes" in str(err.value)


def test_open_copy_is_untitled_and_recover_stays_unsaved(doc, tmp_path):
    example = EXAMPLES / "digits_cnn.nnstudio"
    doc.open_copy(example)
    assert doc.path is None and not doc.modified
    assert doc.display_name == "Digits CNN"
    assert len(doc.graph.nodes) == 9

    doc.recover(example, original=str(tmp_path / "mine.nnstudio"))
    assert doc.modified
    assert doc.path == tmp_path / "mine.nnstudio"


def test_replacing_the_project_tells_views_before_the_shapes_arrive(doc, qtbot):
    order = []
    doc.project_replaced.connect(lambda p: order.append(("replaced", p.graph)))
    doc.watcher.inferred.connect(lambda info: order.append(("inferred", doc.graph)))
    doc.open(EXAMPLES / "spiral_mlp.nnstudio")
    assert [o[0] for o in order][:2] == ["replaced", "inferred"]
    assert order[1][1] is doc.graph


def test_recent_files_newest_first_without_duplicates_and_capped(tmp_path, qapp):
    recent = RecentFiles(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert recent.paths() == []
    for i in range(MAX_RECENT + 3):
        recent.add(tmp_path / f"p{i}.nnstudio")
    recent.add(tmp_path / "p5.nnstudio")
    paths = recent.paths()
    assert len(paths) == MAX_RECENT
    assert paths[0].endswith("p5.nnstudio")
    assert paths.count(str((tmp_path / "p5.nnstudio").resolve())) == 1
    again = RecentFiles(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert again.paths() == paths  # kept in the settings file
    recent.clear()
    assert recent.paths() == []


def test_autosave_writes_only_while_modified(doc, tmp_path):
    saver = Autosaver(doc, folder=tmp_path / "auto")
    assert saver.timer.interval() == 60_000 and saver.timer.isActive()
    assert saver.autosave() is None
    assert not saver.path.exists()
    build_chain(doc)
    written = saver.autosave()
    assert written == saver.path and saver.path.exists()
    assert load_project(saver.path).graph.to_dict() == doc.graph.to_dict()
    # the copy of a running session is not offered for recovery
    assert find_recoverable(tmp_path / "auto") == []
    saver.shutdown()
    assert not saver.path.exists()


def test_a_clean_save_removes_the_autosaved_copy(doc, tmp_path):
    saver = Autosaver(doc, folder=tmp_path / "auto")
    build_chain(doc)
    saver.autosave()
    assert saver.path.exists()
    doc.save_as(tmp_path / "saved.nnstudio")
    assert not saver.path.exists()
    saver.shutdown()


def test_a_crashed_sessions_copy_is_recoverable(doc, tmp_path):
    saver = Autosaver(doc, folder=tmp_path / "auto")
    build_chain(doc)
    doc.save_as(tmp_path / "orig.nnstudio")
    doc.undo_stack.undo()  # an unsaved change
    saver.autosave()
    saver._lock.unlock()  # the process dies: the lock goes, the copy stays
    saver._lock = None
    found = find_recoverable(tmp_path / "auto")
    assert len(found) == 1
    item = found[0]
    assert item.copy == saver.path
    assert item.original == str((tmp_path / "orig.nnstudio").resolve())
    assert item.name == "orig.nnstudio"
    fresh = Document()
    fresh.recover(item.copy, item.original)
    assert fresh.graph.to_dict() == doc.graph.to_dict()
    assert fresh.modified
    item.discard()
    assert find_recoverable(tmp_path / "auto") == []
