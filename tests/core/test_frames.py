"""Frames in the model and in the file: events, deletion of a member and its undo, validation of what a file
holds, the 2 -> 3 upgrade, the format-3 fixture and exact round trips."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest

from nnstudio.core.errors import GraphError, ProjectFileError
from nnstudio.core.export.python_code import python_source
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import MAX_FRAME_LABEL, Graph
from nnstudio.core.project import migrations
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def graph() -> Graph:
    g = Graph()
    ids = [g.add_node("input_vector", {"features": 4}).id, g.add_node("dense", {"units": 8}).id,
           g.add_node("dense", {"units": 3}).id, g.add_node("output").id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def recorder(graph: Graph) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for name in ("frame_added", "frame_removed", "frame_changed"):
        getattr(graph, name).connect(lambda f, name=name: seen.append((name, f.id)))
    return seen


def test_add_update_remove_emit_events(graph):
    seen = recorder(graph)
    frame = graph.add_frame(["dense_1", "dense_2"], "Block")
    assert frame.id == "frame_1" and graph.frame_of("dense_2") is frame and graph.frame_of("output_1") is None
    old = graph.update_frame("frame_1", label="Renamed", collapsed=True)
    assert old == {"label": "Block", "collapsed": False} and frame.label == "Renamed" and frame.collapsed
    assert graph.remove_frame("frame_1") is frame and graph.frames == {}
    assert seen == [("frame_added", "frame_1"), ("frame_changed", "frame_1"), ("frame_removed", "frame_1")]


@pytest.mark.parametrize("members, kwargs, words", [
    ([], {}, "at least one layer"),
    (["dense_9"], {}, "'dense_9', which does not exist"),
    (["dense_1", "dense_1"], {}, "names a layer twice"),
    (["dense_1"], {"color": "blue"}, "#rrggbb"),
    (["dense_1"], {"label": "x" * (MAX_FRAME_LABEL + 1)}, f"at most {MAX_FRAME_LABEL}"),
    (["dense_1"], {"label": 5}, "must be text"),
    (["dense_1"], {"frame_id": "1bad"}, "letters, digits and _"),
])
def test_bad_frames_are_refused_in_plain_words(graph, members, kwargs, words):
    with pytest.raises(GraphError, match=words.replace("(", r"\(").replace("#", "#")):
        graph.add_frame(members, **kwargs)
    assert graph.frames == {}


def test_a_node_is_in_at_most_one_frame(graph):
    graph.add_frame(["dense_1"], "A")
    with pytest.raises(GraphError, match="already in frame “A”"):
        graph.add_frame(["dense_1", "dense_2"])
    with pytest.raises(GraphError, match="there is already a frame"):
        graph.add_frame(["dense_2"], frame_id="frame_1")


def test_deleting_a_member_and_undoing_restores_membership_and_order(graph):
    graph.add_frame(["input_vector_1", "dense_1", "dense_2"], "Block")
    before = graph.frames_to_list()
    node, edges = graph.remove_node("dense_1")
    assert graph.frames["frame_1"].members == ["input_vector_1", "dense_2"]
    graph.insert_node(node, edges)
    assert graph.frames_to_list() == before


def test_deleting_every_member_removes_the_frame_and_undo_brings_it_back(graph):
    graph.add_frame(["dense_1", "dense_2"], "Block", "#112233", collapsed=True)
    before = graph.frames_to_list()
    seen = recorder(graph)
    first = graph.remove_node("dense_1")
    second = graph.remove_node("dense_2")
    assert graph.frames == {} and seen[-1] == ("frame_removed", "frame_1")
    graph.insert_node(*second)  # undo in reverse order, as a macro does
    graph.insert_node(*first)
    assert graph.frames_to_list() == before


def test_a_new_node_with_an_old_id_does_not_join_the_old_frame(graph):
    graph.add_frame(["dense_1", "dense_2"])
    graph.remove_node("dense_1")
    graph.add_node("dense", node_id="dense_1")
    assert graph.frames["frame_1"].members == ["dense_2"]


def test_frames_do_not_change_the_fingerprint_or_the_code(graph):
    def code(source: str) -> str:  # the script without the project it carries (comment lines, export.embedded)
        head, marker, block = source.partition("# --- NN Studio project")
        assert marker and all(line.startswith("# ") for line in block.splitlines()[1:] if line)
        return head

    before_fp, before_code = fingerprint(graph), code(python_source(Project(graph=graph))[0])
    graph.add_frame(["dense_1"], "x'''); import os; os.system('rm -rf /') #")
    assert fingerprint(graph) == before_fp and code(python_source(Project(graph=graph))[0]) == before_code


def test_copy_keeps_frames_independent(graph):
    graph.add_frame(["dense_1"], "A")
    twin = graph.copy()
    assert twin.frames_to_list() == graph.frames_to_list()
    twin.update_frame("frame_1", label="B")
    assert graph.frames["frame_1"].label == "A"


# -- the file ----------------------------------------------------------------------------------------------------
def test_frames_round_trip_exactly(graph, tmp_path):
    graph.add_frame(["dense_1", "input_vector_1"], "Feature <b>block</b> & “quotes”", "#A0b1C2", collapsed=True)
    graph.add_frame(["output_1"], "", frame_id="head")
    path = tmp_path / "p.nnstudio"
    save_project(Project(graph=graph), path)
    loaded = load_project(path)
    assert loaded.graph.frames_to_list() == graph.frames_to_list()
    save_project(loaded, tmp_path / "q.nnstudio")
    assert (tmp_path / "q.nnstudio").read_bytes() == path.read_bytes()


def _file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.nnstudio"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", json.dumps(data))
    return path


BASE = {"format_version": 3, "graph": {"nodes": [{"id": "d", "type": "dense"}, {"id": "e", "type": "dense"}],
                                       "edges": []},
        "frames": [{"id": "f", "label": "L", "color": "#123456", "nodes": ["d"], "collapsed": False}]}


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d["frames"][0].update(nodes=["d", "zz"]), "frames[0].nodes[1]", "'zz', which does not exist"),
    (lambda d: d["frames"].append({"id": "f", "nodes": ["e"]}), "frames[1].id", "used twice"),
    (lambda d: d["frames"].append({"id": "g", "nodes": ["d"]}), "frames[1].nodes[0]", "in frame 'f' too"),
    (lambda d: d["frames"][0].update(color="#12345"), "frames[0].color", "not a colour"),
    (lambda d: d["frames"][0].update(label="y" * 201), "frames[0].label", "201 characters long"),
    (lambda d: d["frames"][0].update(nodes=[]), "frames[0].nodes", "at least one node"),
    (lambda d: d["frames"][0].update(collapsed="yes"), "frames[0].collapsed", "true or false"),
    (lambda d: d["frames"][0].update(code="print()"), "frames[0].code", "not a field"),
    (lambda d: d["frames"][0].update(id="9x"), "frames[0].id", "not a valid id"),
])
def test_bad_frames_in_a_file_name_the_frame_and_field(tmp_path, change, field, words):
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ProjectFileError) as info:
        load_project(_file(tmp_path, data))
    assert info.value.field == field and words in info.value.detail, str(info.value)
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_a_format_2_file_upgrades_to_no_frames():
    data = {"format_version": 2, "graph": {"nodes": [], "edges": []}, "weights_fingerprint": None}
    snapshot = copy.deepcopy(data)
    assert migrations.MIGRATIONS[2](data) == {**snapshot, "frames": []}
    assert data == snapshot
    assert migrations.migrate(data) == {**snapshot, "frames": [], "sweep": None,
                                        "format_version": migrations.CURRENT_VERSION}
    project = load_project(DATA_DIR / "project_v2.nnstudio")
    assert project.graph.frames == {} and project.load_warnings == []


def test_the_v3_fixture_holds_frames_and_every_member():
    path = DATA_DIR / "project_v3.nnstudio"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["history.json", "project.json", "training_state.safetensors",
                                              "weights.safetensors"]
        data = json.loads(archive.read("project.json"))
    assert data["format_version"] == 3
    project = load_project(path)
    assert project.load_warnings == [] and project.weights_fingerprint == fingerprint(project.graph)
    assert project.graph.frames_to_list() == [
        {"id": "frame_1", "label": "Hidden block", "color": "#3c9d5d", "nodes": ["dense_1", "dropout_1"],
         "collapsed": False},
        {"id": "frame_2", "label": "Head <b>not bold</b>", "color": "#d98b3a", "nodes": ["dense_2", "output_1"],
         "collapsed": True},
    ]
    assert project.graph.frames_to_list() == data["frames"]
