"""``nnstudio export FILE --format py|onnx|safetensors -o OUT``: writes, says where, one-line errors, exit 2."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from safetensors.torch import load_file

from nnstudio.cli import main
from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.io import save_project

HAS_ONNX = all(importlib.util.find_spec(n) for n in ("onnx", "onnxscript"))


@pytest.fixture
def trained_file(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.weights = dict(compile_graph(project.graph, seed=8).module.state_dict())
    path = tmp_path / "spiral.nnstudio"
    save_project(project, path)
    return path


@pytest.fixture
def untrained_file(tmp_path):
    path = tmp_path / "fresh.nnstudio"
    save_project(EXAMPLES["residual_mlp"](), path)
    return path


def test_python_export_writes_and_says_where(trained_file, tmp_path, capsys):
    out = tmp_path / "model.py"
    assert main(["export", str(trained_file), "--format", "py", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == f"wrote {out} (py)" and printed.err == ""
    assert "class SpiralMLP(nn.Module):" in out.read_text()


def test_the_format_comes_from_the_extension(trained_file, tmp_path, capsys):
    out = tmp_path / "weights.safetensors"
    assert main(["export", str(trained_file), "-o", str(out)]) == 0
    assert "(safetensors)" in capsys.readouterr().out
    assert set(load_file(out)) == {f"dense_{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}


def test_untrained_project_exports_with_a_warning(untrained_file, tmp_path, capsys):
    assert main(["export", str(untrained_file), "--format", "safetensors", "-o", str(tmp_path / "w.bin")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: the project is not trained")


def test_without_output_the_file_is_named_after_the_project(trained_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(trained_file), "--format", "py"]) == 0
    assert (tmp_path / "spiral.py").exists()


@pytest.mark.parametrize("argv, expected", [
    (["-o", "model.txt"], "nnstudio: error: cannot tell the export format from 'model.txt'"),
    ([], "nnstudio export: give -o OUT"),
    (["--format", "keras", "-o", "m.py"], "invalid choice: 'keras'"),
])
def test_usage_errors_are_one_line_and_exit_2(trained_file, tmp_path, monkeypatch, capsys, argv, expected):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(trained_file), *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1


def test_a_missing_project_file_is_exit_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothere.nnstudio"), "-o", str(tmp_path / "m.py")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_weights_that_do_not_fit_are_exit_2(tmp_path, capsys):
    project = EXAMPLES["spiral_mlp"]()
    project.weights = {"dense_1.weight": torch.zeros(16, 2)}
    path = tmp_path / "bad.nnstudio"
    save_project(project, path)
    assert main(["export", str(path), "-o", str(tmp_path / "w.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnstudio: error: the saved weights do not belong to this network")
    assert not (tmp_path / "w.safetensors").exists()


@pytest.mark.skipif(not HAS_ONNX, reason="ONNX export needs the optional extra: pip install nnstudio[onnx]")
def test_onnx_export_from_the_command_line(trained_file, tmp_path, capfd):
    out = tmp_path / "model.onnx"
    assert main(["export", str(trained_file), "--format", "onnx", "-o", str(out)]) == 0
    printed = capfd.readouterr()  # file-descriptor level: nothing the exporter prints gets through
    lines = printed.out.strip().splitlines()  # what was written, then the export's notes
    assert lines[0] == f"wrote {out} (onnx)" and any(n.startswith("checked in onnxruntime") for n in lines[1:])
    assert printed.err == ""
    assert out.stat().st_size > 1000


def test_onnx_missing_is_a_clear_error(trained_file, tmp_path, monkeypatch, capsys):
    import nnstudio.core.export.onnx as onnx_export

    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxscript") else real(name, *a))
    assert main(["export", str(trained_file), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "pip install nnstudio[onnx]" in err and len(err.strip().splitlines()) == 1


# -- refused before any work ---------------------------------------------------------------------------------------
@pytest.fixture
def nothing_loaded(monkeypatch):
    """Records every project the command loads: a refused output must come before any."""
    import nnstudio.core.project.io as project_io

    loads = []
    real = project_io.load_project
    monkeypatch.setattr(project_io, "load_project", lambda *a, **k: (loads.append(a), real(*a, **k))[1])
    return loads


@pytest.mark.parametrize("output, reason", [
    ("", "-o is an empty file name"),
    ("{tmp}", "is a folder"),
    ("{tmp}/", "names a folder"),
    ("{tmp}/missing/model.py", "the folder '{tmp}/missing' does not exist"),
    ("/dev/null", "device, pipe or socket"),
    ("/dev/full", "device, pipe or socket"),
    ("{tmp}/spiral.nnstudio", "is the project being exported"),
    ("{tmp}/link.py", "is the project being exported"),
])
def test_a_bad_output_is_refused_before_any_work(trained_file, tmp_path, capsys, nothing_loaded, output, reason):
    if output.startswith("/dev/") and not __import__("os").path.exists(output):
        pytest.skip(f"no {output} here")
    (tmp_path / "link.py").symlink_to(trained_file)
    output, reason = output.format(tmp=tmp_path), reason.format(tmp=tmp_path)
    before = trained_file.read_bytes()
    assert main(["export", str(trained_file), "--format", "py", "-o", output]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1 and reason in printed.err
    assert printed.err.startswith("nnstudio export: ") and ".tmp" not in printed.err
    if output:
        assert repr(output) in printed.err
    assert nothing_loaded == [] and trained_file.read_bytes() == before


def test_the_default_output_may_not_be_the_project_either(tmp_path, monkeypatch, capsys, nothing_loaded):
    project = EXAMPLES["spiral_mlp"]()
    path = tmp_path / "model.py"  # a project file named like the script export would write
    save_project(project, path)
    before = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["export", "model.py", "--format", "py"]) == 2
    err = capsys.readouterr().err
    assert "'model.py' is the project being exported" in err and err.count("\n") == 1
    assert nothing_loaded == [] and path.read_bytes() == before


def test_export_reads_no_history(trained_file, tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(trained_file, "a") as archive:
        archive.writestr("history.json", b'{"epochs": 7}')
    assert main(["export", str(trained_file), "-o", str(tmp_path / "w.safetensors")]) == 0
    assert capsys.readouterr().err == ""
