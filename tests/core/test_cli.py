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
    return Project(graph=g, name="tiny", dataset={"name": "spiral", "samples": 60})


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


# -- what summary and validate read ------------------------------------------------------------------------------
def _with_members(path, tmp_path, **members: bytes):
    import zipfile

    out = tmp_path / f"with_{path.name}"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("project.json", src.read("project.json"))
        for name, payload in members.items():
            dst.writestr(name.replace("_", ".", 1), payload)
    return out


def _reads(monkeypatch) -> dict[str, int]:
    """Bytes read from each member of a project file opened from now on, by member name."""
    import zipfile

    read: dict[str, int] = {}
    real = zipfile.ZipFile.open

    def opening(self, name, *args, **kwargs):
        member = getattr(name, "filename", name)
        stream = real(self, name, *args, **kwargs)
        read.setdefault(member, 0)
        inner = stream.read

        def counted(n=-1):
            data = inner(n)
            read[member] += len(data)
            return data

        stream.read = counted
        return stream

    monkeypatch.setattr(zipfile.ZipFile, "open", opening)
    return read


def _weights_of(graph: Graph) -> dict:
    from nnstudio.core.compile import compile_graph

    return {k: v.detach().clone() for k, v in compile_graph(graph, seed=0).module.state_dict().items()}


def _trained_file(tmp_path, name: str = "trained.nnstudio", fingerprint: bool = True):
    """The tiny project with weights that fit its network, and (unless ``fingerprint`` is False, as in files
    older than format 2) the fingerprint of the graph they belong to."""
    from nnstudio.core.fingerprint import fingerprint as fingerprint_of

    project = _mlp_project()
    project.weights = _weights_of(project.graph)
    project.weights_fingerprint = fingerprint_of(project.graph) if fingerprint else None
    path = tmp_path / name
    io.save_project(project, path)
    return path, project


@pytest.mark.parametrize("command, code", [("summary", 0), ("validate", 0)])
def test_summary_and_validate_read_neither_weights_nor_history(good_file, tmp_path, monkeypatch, capsys,
                                                               command, code):
    """A project.json with the weights' fingerprint decides alone; a file without one (older than format 2)
    has the first 8 bytes of its weights read (the safetensors header's length, here 0: cannot tell), never
    their 30 MB; the history is never opened."""
    trained, _ = _trained_file(tmp_path)
    junk = {"weights_safetensors": b"\0" * 30 * 1024**2, "history_json": b"{nope"}
    for source, expected in ((trained, {"project.json"}), (good_file, {"project.json", "weights.safetensors"})):
        path = _with_members(source, tmp_path, **junk)
        read = _reads(monkeypatch)
        assert main([command, str(path)]) == code
        printed = capsys.readouterr()
        assert set(read) == expected, source.name
        assert read.get("weights.safetensors", 0) <= 8, read
        assert printed.err == "" and ("tiny" in printed.out or "no problems" in printed.out)
        assert "earlier version" not in printed.out, source.name  # the fingerprint matches; the other: unknown
        monkeypatch.undo()
    # export does read them: the damaged weights are left out, and it says so
    assert main(["export", str(path), "-o", str(tmp_path / "w.safetensors")]) == 0
    assert "weights.safetensors: is 31,457,280 bytes" in capsys.readouterr().err


def test_a_name_with_lone_surrogates_is_printed_escaped(tmp_path, capsys):
    project = _mlp_project()
    project.name = "tiny \ud800 model"
    path = tmp_path / "s.nnstudio"
    io.save_project(project, path)
    assert main(["summary", str(path)]) == 0
    assert 'Model: "tiny \\ud800 model"' in capsys.readouterr().out


def test_lone_surrogates_reach_a_real_stdout_escaped(tmp_path):
    project = _mlp_project()
    project.name = "x\udcffy"
    path = tmp_path / "s.nnstudio"
    io.save_project(project, path)
    done = subprocess.run([sys.executable, "-m", "nnstudio", "summary", str(path)], capture_output=True,
                          timeout=120, env={**__import__("os").environ, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert b'Model: "x\\udcffy"' in done.stdout and b"Traceback" not in done.stderr


# -- commands and the app ----------------------------------------------------------------------------------------
@pytest.fixture
def gui_calls(monkeypatch):
    calls = []
    monkeypatch.setattr("nnstudio.cli._gui", lambda argv: (calls.append(list(argv)), 0)[1])
    return calls


@pytest.mark.parametrize("argv, hint", [(["trian", "x.nnstudio"], "did you mean 'train'?"), (["sumary"], "'summary'"),
                                        (["frobnicate"], ""), ([""], "")])
def test_an_unknown_command_is_an_error_not_the_window(argv, hint, gui_calls, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert gui_calls == []
    assert err.count("\n") == 1 and err.startswith("nnstudio: error: unknown command")
    assert "summary, validate, train, export" in err and hint in err


def test_a_path_opens_the_window(good_file, tmp_path, gui_calls, monkeypatch):
    other = tmp_path / "project.zip"
    other.write_bytes(good_file.read_bytes())
    monkeypatch.chdir(tmp_path)
    for argv in ([str(good_file)], [str(other)], ["not_yet_there.nnstudio"], ["SHOUTING.NNSTUDIO"], []):
        assert main(argv) == 0
    assert gui_calls == [[str(good_file)], [str(other)], ["not_yet_there.nnstudio"], ["SHOUTING.NNSTUDIO"], []]


@pytest.mark.parametrize("what, expected", [("folder", "is a folder, not a project file"),
                                            ("device", "is a device, pipe or socket, not a project file")])
def test_a_folder_or_a_device_is_refused_in_one_line_without_a_window(tmp_path, gui_calls, capsys, what, expected):
    path = str(tmp_path) if what == "folder" else "/dev/zero"
    assert main([path]) == 2 and gui_calls == []
    err = capsys.readouterr().err
    assert err == f"nnstudio: error: '{path}' {expected}\n"


# -- no traceback, ever ------------------------------------------------------------------------------------------
def _failing_validate(monkeypatch, exc: BaseException):
    from nnstudio import cli

    def boom(args):
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "validate", (cli.COMMANDS["validate"][0], boom, cli.COMMANDS["validate"][2]))


@pytest.mark.parametrize("exc, expected", [
    (RuntimeError("boom\nsecond line\u2028third"), "nnstudio: internal error: RuntimeError: boom second line third; "
                                                   "run with NNSTUDIO_DEBUG=1 for the traceback"),
    (MemoryError(), "nnstudio: internal error: out of memory; run with NNSTUDIO_DEBUG=1 for the traceback"),
    (RecursionError("maximum recursion depth exceeded"), "nnstudio: internal error: RecursionError: maximum "
                                                          "recursion depth exceeded; run with NNSTUDIO_DEBUG=1"),
    (ValueError("x" * 1000), "nnstudio: internal error: ValueError: " + "x" * 200),
])
def test_unexpected_errors_are_one_line_exit_2(good_file, monkeypatch, capsys, exc, expected):
    monkeypatch.delenv("NNSTUDIO_DEBUG", raising=False)
    _failing_validate(monkeypatch, exc)
    assert main(["validate", str(good_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert len(err) < 450


def test_the_traceback_on_request(good_file, monkeypatch, capsys):
    monkeypatch.setenv("NNSTUDIO_DEBUG", "1")
    _failing_validate(monkeypatch, RuntimeError("boom"))
    assert main(["validate", str(good_file)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("nnstudio: internal error: RuntimeError")


def test_ctrl_c_is_130(good_file, monkeypatch, capsys):
    _failing_validate(monkeypatch, KeyboardInterrupt())
    assert main(["validate", str(good_file)]) == 130
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("exc, expected", [
    (OSError(28, "No space left on device"), "nnstudio: error: No space left on device\n"),
    (OSError(13, "Permission denied", "/some/where.nnstudio"), "nnstudio: error: '/some/where.nnstudio': Permission "
                                                               "denied\n"),
])
def test_os_errors_are_one_line(good_file, monkeypatch, capsys, exc, expected):
    _failing_validate(monkeypatch, exc)
    assert main(["validate", str(good_file)]) == 2
    assert capsys.readouterr().err == expected


def test_a_path_with_a_line_break_stays_on_one_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "two\nlines\u2028.nnstudio")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "does not exist" in err


# -- memory ------------------------------------------------------------------------------------------------------
def test_validate_and_summary_say_what_training_needs(good_file, capsys):
    assert main(["validate", str(good_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("memory: about ") and "to train with batch size 32" in out[-2]
    assert main(["summary", str(good_file)]) == 0
    assert any(line.startswith("Memory: about ") for line in capsys.readouterr().out.splitlines())


def test_a_network_too_large_for_this_computer_is_a_problem(tmp_path, capsys):
    """Each layer fits, the whole does not: a 64 x 4096 x 4096 image through a convolution needs about a TB."""
    g = Graph()
    i = g.add_node("input_image", {"channels": 64, "height": 4096, "width": 4096})
    c = g.add_node("conv2d", {"filters": 64})
    p = g.add_node("global_avg_pool", {})
    d = g.add_node("dense", {"units": 3})
    out = g.add_node("output", {"task": "multiclass"})
    for a, b in ((i, c), (c, p), (p, d), (d, out)):
        g.connect(a.id, b.id)
    path = tmp_path / "huge.nnstudio"
    io.save_project(Project(graph=g), path)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("(network): training with batch size 32 needs about ") for line in lines)
    assert lines[-1].endswith(f"problem(s) in {path}")


def test_summary_prints_names_from_the_file_as_one_inert_line(tmp_path, capsys):
    """A label or name holding terminal control codes or line breaks cannot steer the terminal or break the
    table: each becomes one printable line."""
    project = _mlp_project()
    project.name = "evil\x1b[2J\rname"
    first = next(iter(project.graph.nodes))
    project.graph.set_label(first, "two\nlines\u2028" + "x" * 500)
    path = tmp_path / "s.nnstudio"
    io.save_project(project, path)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u2028" not in out
    assert 'Model: "evil\\x1b[2J name"' in out
    row = next(line for line in out.splitlines() if line.startswith("two lines"))
    assert len(row) < 200 and "..." in row


def test_validate_reports_a_dataset_that_cannot_be_read(tmp_path, capsys):
    """The data are judged without reading them: a device, a missing file, a bad option."""
    project = _mlp_project()
    path = tmp_path / "d.nnstudio"
    for dataset, needle in (({"name": "csv", "path": "/dev/zero"}, "/dev/zero"),
                            ({"name": "csv", "path": "missing.csv"}, "missing.csv"),
                            ({"name": "spiral", "samples": "many"}, "samples")):
        project.dataset = dataset
        io.save_project(project, path)
        assert main(["validate", str(path)]) == 1
        out = capsys.readouterr().out
        line = next(line for line in out.splitlines() if line.startswith("(dataset): "))
        assert needle in line
    project.dataset = {"name": "spiral"}
    io.save_project(project, path)
    assert main(["validate", str(path)]) == 0
    assert "(dataset)" not in capsys.readouterr().out


# -- every problem of the project (problems.project_problems), and the weights' status ----------------------------
def _saved(tmp_path, project: Project, name: str = "p.nnstudio"):
    path = tmp_path / name
    io.save_project(project, path)
    return path


def test_validate_lists_data_that_do_not_fit_on_their_nodes_and_exits_1(tmp_path, capsys):
    """Loaded as training loads them: 8 x 8 digit images do not fit a 2-feature Input, nor 10 classes 3 scores
    (this file validated clean before: the data were never looked at)."""
    project = _mlp_project()
    project.dataset = {"name": "digits"}
    path = _saved(tmp_path, project)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("input_vector_1: the digits dataset gives images (N, 1, 8, 8) but the Input node "
                               "expects (N, 2)"), lines
    assert lines[1].startswith("output_1: the dataset has 10 classes but the Output receives 3 scores"), lines
    assert lines[-1] == f"2 problem(s) in {path}"


def test_validate_without_a_dataset_says_what_to_choose_and_exits_1(tmp_path, capsys):
    project = _mlp_project()
    project.dataset = None
    path = _saved(tmp_path, project)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '(dataset): the project has no dataset: choose one (e.g. "spiral" or "digits") first'
    assert lines[1].startswith("memory: about ") and lines[-1] == f"1 problem(s) in {path}"


def test_validate_lists_settings_that_do_not_check(tmp_path, capsys):
    project = _mlp_project()
    project.training = {"epochs": 0, "device": "tpu"}
    path = _saved(tmp_path, project)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("(settings): training setting 'epochs': ") and lines[-1].startswith("1 problem(s)")


def test_validate_lists_data_that_cannot_be_loaded(tmp_path, capsys):
    """The file is there (check_dataset passes) but holds no rows: only loading it tells."""
    (tmp_path / "rows.csv").write_text("a,b\n")
    project = _mlp_project()
    project.dataset = {"name": "csv", "path": "rows.csv"}
    path = _saved(tmp_path, project)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("(dataset): ") and "no data rows" in lines[0], lines


def _edited_after_training(tmp_path, fingerprint: bool, change: dict):
    """A trained file whose dense_1 was then changed (``change``), weights and fingerprint kept as trained."""
    path, project = _trained_file(tmp_path, "edited.nnstudio", fingerprint)
    project.graph.set_params("dense_1", change)
    io.save_project(project, path)
    return path


def test_validate_summary_and_export_say_when_the_weights_are_out_of_date(tmp_path, capsys):
    """A note (exit unaffected) in validate and summary, one warning when export writes the weights; none for
    weights that belong to the network, nor for the script, which carries no weights."""
    note = "note: the saved weights were trained on an earlier version of the network: train again"
    current, _ = _trained_file(tmp_path)
    edited = _edited_after_training(tmp_path, True, {"activation": "tanh"})  # same shapes: only the fingerprint
    for path, out_of_date in ((current, False), (edited, True)):
        assert main(["validate", str(path)]) == 0
        assert (note in capsys.readouterr().out.splitlines()) == out_of_date, path.name
        assert main(["summary", str(path)]) == 0
        assert (note.replace("note", "Note") in capsys.readouterr().out.splitlines()) == out_of_date, path.name
        assert main(["export", str(path), "-o", str(tmp_path / "w.safetensors")]) == 0
        err = capsys.readouterr().err
        expected = ["warning: the exported weights were trained on an earlier version of the network: train again "
                    "for weights that match it"] if out_of_date else []
        assert err.splitlines() == expected, path.name
        assert main(["export", str(path), "-o", str(tmp_path / "m.py")]) == 0
        assert "earlier version" not in capsys.readouterr().err


def test_an_old_file_without_a_fingerprint_is_judged_by_its_weights_names_and_shapes(tmp_path, capsys):
    current, _ = _trained_file(tmp_path, fingerprint=False)
    assert main(["validate", str(current)]) == 0
    assert "earlier version" not in capsys.readouterr().out
    resized = _edited_after_training(tmp_path, False, {"units": 8})  # dense_1's weights no longer fit
    assert main(["validate", str(resized)]) == 0
    assert "note: the saved weights were trained on an earlier version" in capsys.readouterr().out


def test_train_refuses_a_project_with_problems_in_one_line(bad_graph_file, capsys):
    before = bad_graph_file.read_bytes()
    assert main(["train", str(bad_graph_file), "--epochs", "1", "-q"]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("nnstudio: error: cannot train: dense_1: Dense needs an input")
    assert printed.err.count("\n") == 1 and printed.out == ""
    assert bad_graph_file.read_bytes() == before
