"""Every export carries its project: read_embedded reopens exactly the project that wrote a .py, .onnx,
.safetensors or .pt2 file, reads a script as text without ever running it, and treats the carried project as a
project file's project.json is treated (hostile, checked, bounded)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os

import pytest
import torch
from safetensors.torch import save_file

from nnstudio.core.compile import compile_graph
from nnstudio.core.errors import ProjectFileError
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import embedded, export, read_embedded
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import Graph
from nnstudio.core.project.model import Project

HAS_ONNX = all(importlib.util.find_spec(n) is not None for n in ("onnx", "onnxscript"))
FORMATS = ["py", "safetensors", "pt2", *(["onnx"] if HAS_ONNX else [])]
MARKER_FILE = "RAN"
MARK = embedded.MARKER.format(version=5)
HOSTILE = ('"""\nopen("RAN", "w").close()\n"""  \'\'\' \r\n' + MARK + "\n# {}\n" + "\u2028\u2029\x85\x00\x7f"
           "\ud800 \\ é 漢字 🙂 #")


def trained(stem: str) -> Project:
    project = EXAMPLES[stem]()
    compiled = compile_graph(project.graph, seed=7)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    project.weights_fingerprint = fingerprint(project.graph)
    return project


def same_project(back: Project, project: Project) -> None:
    assert back.name == project.name and back.description == project.description
    assert back.graph.to_dict() == project.graph.to_dict()
    assert back.graph.frames_to_list() == project.graph.frames_to_list()
    assert back.training == project.training and back.dataset == project.dataset and back.sweep == project.sweep


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stem", ["spiral_mlp", "sentiment_lstm", "optimizers_compared"])
def test_each_export_reopens_the_project_that_wrote_it(fmt, stem, tmp_path):
    project = trained(stem)
    export(project, tmp_path / f"m.{fmt}")
    back = read_embedded(tmp_path / f"m.{fmt}")
    assert back is not None and back.load_warnings == []
    same_project(back, project)
    if fmt == "safetensors":  # the weights in the file are the project's
        assert set(back.weights) == set(project.weights)
        assert all(torch.equal(back.weights[k], project.weights[k]) for k in project.weights)
        assert back.weights_fingerprint == project.weights_fingerprint
    else:
        assert back.weights is None and back.weights_fingerprint is None


def test_an_untrained_projects_fresh_weights_are_not_taken_for_its_own(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    export(project, tmp_path / "w.safetensors")
    back = read_embedded(tmp_path / "w.safetensors")
    same_project(back, project)
    assert back.weights is None and back.weights_fingerprint is None


def hostile_project() -> Project:
    graph = Graph()
    a = graph.add_node("input_vector", {"features": 3}, label=HOSTILE).id
    d = graph.add_node("dense", {"units": 4}, label=HOSTILE + "2").id
    o = graph.add_node("output", {"task": "multiclass"}).id
    graph.connect(a, d)
    graph.connect(d, o)
    return Project(graph=graph, name=HOSTILE, description=HOSTILE * 3, training={"epochs": 1},
                   dataset={"name": "spiral", "classes": 4})


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_names_come_back_as_they_were(fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = hostile_project()
    export(project, tmp_path / f"m.{fmt}")
    back = read_embedded(tmp_path / f"m.{fmt}")
    same_project(back, project)
    assert not (tmp_path / MARKER_FILE).exists()


def test_the_scripts_block_is_inert_comment_lines(tmp_path):
    project = hostile_project()
    export(project, tmp_path / "m.py")
    text = (tmp_path / "m.py").read_text(encoding="utf-8")
    lines = text.split("\n")
    start = max(i for i, line in enumerate(lines) if line == MARK)
    block = [line for line in lines[start + 1:] if line]
    assert block and all(line.startswith("# ") and line.isascii() and line.isprintable() and len(line) <= 99
                         for line in block)
    assert lines[start - 2:start] == ["", ""] and lines[start - 4:start - 2] == ['if __name__ == "__main__":',
                                                                                 "    main()"]
    # The block is only comments: the module without it is the same code.
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse("\n".join(lines[:start])))
    assert json.loads("".join(line[2:] for line in block))["name"] == HOSTILE


def test_a_script_is_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = EXAMPLES["spiral_mlp"]()
    block = embedded.script_block(embedded.project_document(project))
    harmful = tmp_path / "harm.py"
    harmful.write_text(f"import os\nopen({str(tmp_path / MARKER_FILE)!r}, 'w').close()\n"
                       "raise SystemExit('ran')\n\n" + block, encoding="utf-8")
    back = read_embedded(harmful)
    same_project(back, project)
    assert not (tmp_path / MARKER_FILE).exists()


def exported_script(tmp_path) -> tuple[list[str], int]:
    export(EXAMPLES["digits_cnn"](), tmp_path / "m.py")
    lines = (tmp_path / "m.py").read_text(encoding="utf-8").split("\n")
    return lines, max(i for i, line in enumerate(lines) if line == MARK)


def test_a_damaged_block_is_one_line_naming_the_file_and_the_line(tmp_path):
    lines, start = exported_script(tmp_path)
    middle = next(i for i in range(start + 3, len(lines)) if '":' in lines[i])  # a key ends on this line
    lines[middle] = lines[middle].replace('":', '"=', 1)
    (tmp_path / "m.py").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ProjectFileError) as info:
        read_embedded(tmp_path / "m.py")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'm.py'}: line {middle + 1}: the NN Studio project block is damaged")
    assert "\n" not in message and "not valid JSON" in message


def test_a_cut_block_and_a_foreign_character_are_refused(tmp_path):
    lines, start = exported_script(tmp_path)
    (tmp_path / "m.py").write_text("\n".join(lines[:-3]), encoding="utf-8")  # its last lines are gone
    with pytest.raises(ProjectFileError, match="damaged"):
        read_embedded(tmp_path / "m.py")
    lines[start + 2] = "# é" + lines[start + 2][3:]
    (tmp_path / "m.py").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ProjectFileError, match=f"line {start + 3}: .*characters"):
        read_embedded(tmp_path / "m.py")
    (tmp_path / "m.py").write_text("\n".join(lines[:start + 1]), encoding="utf-8")
    with pytest.raises(ProjectFileError, match="empty"):
        read_embedded(tmp_path / "m.py")


def test_the_block_is_checked_as_project_json_is(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    data = json.loads(embedded.project_document(project))
    data["graph"]["edges"].append({"from": "nowhere", "to": "dense_1"})
    (tmp_path / "m.py").write_text(embedded.script_block(json.dumps(data, separators=(",", ":"))))
    with pytest.raises(ProjectFileError, match="nowhere"):
        read_embedded(tmp_path / "m.py")
    data = json.loads(embedded.project_document(project))
    data["format_version"] = 99
    text = embedded.script_block(json.dumps(data)).replace(MARK, embedded.MARKER.format(version=99))
    (tmp_path / "m.py").write_text(text)
    with pytest.raises(ProjectFileError, match="format_version"):  # newer than this app: refused
        read_embedded(tmp_path / "m.py")
    (tmp_path / "m.py").write_text(embedded.script_block(json.dumps(data)))
    with pytest.raises(ProjectFileError, match="marker says format 5"):
        read_embedded(tmp_path / "m.py")


def test_files_without_a_project_give_none(tmp_path):
    (tmp_path / "plain.py").write_text("print('hello')\n# --- NN Studio project ---\n")
    assert read_embedded(tmp_path / "plain.py") is None
    save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    assert read_embedded(tmp_path / "plain.safetensors") is None
    (tmp_path / "notes.txt").write_text(embedded.script_block(embedded.project_document(Project())))
    assert read_embedded(tmp_path / "notes.txt") is None  # not a kind of file an export writes


def test_what_is_not_a_readable_file_is_refused_unread(tmp_path):
    big = tmp_path / "big.py"
    with open(big, "wb") as file:
        file.truncate(embedded.MAX_SCRIPT_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ProjectFileError, match="not read"):
        read_embedded(big)
    (tmp_path / "folder.py").mkdir()
    with pytest.raises(ProjectFileError, match="folder"):
        read_embedded(tmp_path / "folder.py")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.py")
        with pytest.raises(ProjectFileError, match="pipe"):
            read_embedded(tmp_path / "fifo.py")
    with pytest.raises(ProjectFileError, match="does not exist"):
        read_embedded(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ProjectFileError, match="not a valid safetensors file"):
        read_embedded(tmp_path / "bad.safetensors")
    (tmp_path / "bad.pt2").write_bytes(b"not a zip")
    with pytest.raises(ProjectFileError, match="not a zip"):
        read_embedded(tmp_path / "bad.pt2")


def test_weights_that_do_not_fit_the_graph_leave_the_project_without_them(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    metadata = {embedded.KEY: embedded.project_document(project), embedded.WEIGHTS_KEY: "trained"}
    save_file({"dense_1.weight": torch.zeros(4000, 4000)}, tmp_path / "w.safetensors", metadata=metadata)
    back = read_embedded(tmp_path / "w.safetensors")
    same_project(back, project)
    assert back.weights is None and len(back.load_warnings) == 1 and "without its trained weights" in \
        back.load_warnings[0]


def test_a_project_that_cannot_be_saved_is_exported_without_it_and_a_warning(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.sweep = {"not": "a sweep"}
    for fmt in ("py", "safetensors"):
        result = export(project, tmp_path / f"m.{fmt}")
        assert any("does not carry the project" in w for w in result.warnings)
        assert read_embedded(tmp_path / f"m.{fmt}") is None
