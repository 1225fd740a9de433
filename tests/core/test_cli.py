"""The headless command line: summary, validate, --version, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from torch import nn

from nnstudio import __version__
from nnstudio.cli import main
from nnstudio.core.graph import Graph
from nnstudio.core.project import Project

io = pytest.importorskip("nnstudio.core.project.io")


def _mlp_project() -> Project:
    g = Graph()
    i = g.add_node("input_vector", {"features": 2})
    h = g.add_node("dense", {"units": 16})
    o = g.add_node("dense", {"units": 3, "activation": "softmax"})
    out = g.add_node("output", {"task": "multiclass"})
    for a, b in ((i, h), (h, o), (o, out)):
        g.connect(a.id, b.id)
    return Project(graph=g, name="tiny")


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "tiny.nnstudio"
    io.save_project(_mlp_project(), path)
    return path


@pytest.fixture
def bad_graph_file(tmp_path):
    project = _mlp_project()
    g = project.graph
    g.disconnect(g.inputs_of("dense_1")[0])  # dense_1 now has no input
    path = tmp_path / "broken.nnstudio"
    io.save_project(project, path)
    return path


def test_summary_prints_every_layer_and_keras_totals(good_file, capsys):
    assert main(["summary", str(good_file)]) == 0
    out = capsys.readouterr().out
    expected = sum(p.numel() for p in nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 3)).parameters())
    assert f"Total params: {expected:,}" in out
    assert f"Trainable params: {expected:,}" in out
    for name, shape in (("input_vector_1", "(N, 2)"), ("dense_1", "(N, 16)"), ("dense_2", "(N, 3)")):
        row = next(line for line in out.splitlines() if line.startswith(name))
        assert shape in row
    assert 'Model: "tiny"' in out


def test_summary_separates_thousands(tmp_path, capsys):
    g = Graph()
    i = g.add_node("input_vector", {"features": 100})
    d = g.add_node("dense", {"units": 100})
    o = g.add_node("output", {"task": "regression"})
    g.connect(i.id, d.id)
    g.connect(d.id, o.id)
    path = tmp_path / "wide.nnstudio"
    io.save_project(Project(graph=g), path)
    assert main(["summary", str(path)]) == 0
    assert "Total params: 10,100" in capsys.readouterr().out


def test_validate_clean_file_exits_0(good_file, capsys):
    assert main(["validate", str(good_file)]) == 0
    assert "no problems" in capsys.readouterr().out


def test_validate_reports_problem_with_its_node_and_exits_1(bad_graph_file, capsys):
    assert main(["validate", str(bad_graph_file)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("dense_1:") and "needs an input" in line for line in lines)


@pytest.mark.parametrize("command", ["summary", "validate"])
def test_missing_file_is_one_line_exit_2(tmp_path, command, capsys):
    missing = tmp_path / "nope.nnstudio"
    assert main([command, str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "nope.nnstudio" in err and "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_damaged_file_is_one_line_exit_2(tmp_path, content, capsys):
    path = tmp_path / "damaged.nnstudio"
    path.write_bytes(content)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged.nnstudio" in err


def test_unknown_option_exit_2(capsys):
    assert main(["summary"]) == 2
    assert "FILE" in capsys.readouterr().err


def test_version_through_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "nnstudio", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"nnstudio {__version__}"


def test_validate_through_python_dash_m(bad_graph_file):
    done = subprocess.run([sys.executable, "-m", "nnstudio", "validate", str(bad_graph_file)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "dense_1" in done.stdout
