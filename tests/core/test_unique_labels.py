"""Two nodes never share a label: renaming to a taken name is refused, a new node with one gets the next free
number, and a file whose nodes share labels still opens, the later ones renamed and said so."""

from __future__ import annotations

import json
import zipfile

import pytest

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph, label_key, renamed_label_warnings
from nnstudio.core.project import load_project, save_project
from nnstudio.core.project.model import Project


def three() -> Graph:
    g = Graph()
    for i in (1, 2, 3):
        g.add_node("dense", node_id=f"dense_{i}")
    return g


def test_a_taken_label_is_refused_and_the_label_kept():
    g = three()
    g.set_label("dense_1", "Encoder")
    for taken in ("Encoder", "encoder", "  ENCODER "):
        with pytest.raises(GraphError) as err:
            g.set_label("dense_2", taken)
        assert str(err.value) == (f"another layer (dense_1) is already called “{taken.strip()}”: "
                                  "choose another name")
    assert g.nodes["dense_2"].label == ""
    assert g.set_label("dense_1", "encoder") == "Encoder"  # its own name in another case is fine
    g.set_label("dense_2", "")  # no name is never taken
    g.set_label("dense_3", "")
    g.set_label("dense_2", "decoder")
    assert [n.label for n in g.nodes.values()] == ["encoder", "decoder", ""]
    assert g.label_owner("DECODER").id == "dense_2" and g.label_owner("nobody") is None
    assert g.label_problem("dense_2", "decoder") is None and g.label_problem("dense_3", "decoder")


def test_a_new_node_with_a_taken_label_gets_the_next_number():
    g = three()
    g.set_label("dense_1", "hidden")
    assert g.add_node("dense", label="hidden").label == "hidden 2"
    assert g.add_node("dense", label="Hidden").label == "Hidden 3"
    assert g.add_node("dense", label="hidden 2").label == "hidden 4"
    assert g.add_node("dense", label="fresh").label == "fresh"
    keys = [label_key(n.label) for n in g.nodes.values() if n.label]
    assert len(keys) == len(set(keys))


def test_a_file_whose_nodes_share_labels_opens_with_them_renamed(tmp_path):
    nodes = [{"id": f"dense_{i}", "type": "dense", "params": {}, "position": [0, 0], "label": label}
             for i, label in enumerate(["x", "x", "x 2", "X", "", ""], start=1)]
    g = Graph.from_dict({"nodes": nodes, "edges": []})
    assert [n.label for n in g.nodes.values()] == ["x", "x 3", "x 2", "X 4", "", ""]  # no label in the file taken
    assert g.renamed_labels == [("dense_2", "x", "x 3"), ("dense_4", "X", "X 4")]
    assert renamed_label_warnings(g) == [  # one line, however many were renamed
        "two layers were called “x”: dense_2 is now called “x 3” (and 1 more layers renamed the same way); save the "
        "project to keep the new names"]
    assert Graph.from_dict(g.to_dict()).renamed_labels == []  # unique once saved

    path = tmp_path / "shared.nnstudio"
    save_project(Project(graph=Graph()), path)
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("project.json"))
    data["graph"] = {"nodes": nodes, "edges": []}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", json.dumps(data))
    loaded = load_project(path)
    assert [n.label for n in loaded.graph.nodes.values()][:4] == ["x", "x 3", "x 2", "X 4"]


def test_many_copies_of_one_label_are_numbered_in_one_pass():
    nodes = [{"id": f"n{i}", "type": "dense", "label": "same"} for i in range(3000)]
    g = Graph.from_dict({"nodes": nodes, "edges": []})
    labels = [n.label for n in g.nodes.values()]
    assert labels[:3] == ["same", "same 2", "same 3"] and labels[-1] == "same 3000"
    assert len(set(labels)) == 3000
    (warning,) = renamed_label_warnings(g)
    assert "n1 is now called “same 2”" in warning and "(and 2,998 more layers" in warning
