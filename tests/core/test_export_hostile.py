"""Nothing from a project file ever runs: hostile text in every string field of a project (its name,
description, node labels, dataset options, training device, the output file's name) leaves the exported
script's structure exactly what it is for a plain project, nothing runs at export time or when the script
runs, and the script still computes the app's outputs. The payloads used act visibly (they create a marker
file) in the places the exporter puts text, as ``test_the_payloads_are_live`` proves, so these tests fail
if any of them gets through."""

from __future__ import annotations

import ast
import functools
import io
import os
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from nnstudio import cli
from nnstudio.core.compile import compile_graph
from nnstudio.core.export import ExportError, export_python, export_weights
from nnstudio.core import tempfiles
from nnstudio.core.export.common import check_target, one_line, write_atomic
from nnstudio.core.export.formatting import comment, comment_text, docstring_text, identifier, literal
from nnstudio.core.export.python_code import check_shape, check_source, python_source
from nnstudio.core.export.script_data import _stub
from nnstudio.core.graph import Graph
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project

sys.path.insert(0, str(Path(__file__).parent))
from test_export_python import TOLERANCE, run_blocked  # noqa: E402

MARKER = "HOSTILE_RAN"  # relative: every test runs in its tmp_path
RUN = f"open({MARKER!r}, 'w').close()"

# Text that breaks out of a comment, a docstring or a string literal when put in bare, then runs RUN.
PAYLOADS = [
    "\n" + RUN + "  #",
    "\r" + RUN + "  #",
    "\r\n" + RUN + "  #",
    '"""\n' + RUN + '\n"""',
    '"""; ' + RUN + '; """',
    '"; ' + RUN + '; "',
    "'; " + RUN + "; '",
    '\\"; ' + RUN + "  #",  # for an escaping that forgets backslashes: \" becomes \\" and ends the string
    "-*- coding: utf-7 -*- +AAo-" + RUN + "+AAo-#",  # on line 1, a coding declaration makes +AAo- a newline
]
HOSTILE = [
    '"', "'", '"""', "'''", "'''\n" + RUN + "\n'''", "`", "\\", "trailing backslash\\", '\\"',
    "\\\n" + RUN, "\n", "\r", "\r\n", "\x00", "\t", "\x0b", "\x0c", "\x1c\x1d\x1e", "\x85", "\u2028" + RUN,
    "\u2029", "\ud800", "\udcff", "\ufeff", "\u202e", "#", "# comment", "{}", "{0}", "{x!r}",
    "{" + RUN + "}", "%s", "%(x)s", "$(touch HOSTILE_RAN)", "é ü 漢字 🙂", "x" * 5000, "word " * 1000,
    *PAYLOADS,
]
ALL = "".join(HOSTILE) + "\\"  # every one of them in one field, ending in a backslash


def ids(values):
    return [ascii(v)[:40] for v in values]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / MARKER).exists(), "hostile text from the project ran"


def network(labels=("", "", "")) -> Graph:
    graph = Graph()
    a = graph.add_node("input_vector", {"features": 3}, label=labels[0]).id
    d = graph.add_node("dense", {"units": 5, "activation": "tanh"}, label=labels[1]).id
    o = graph.add_node("output", {"task": "multiclass"}, label=labels[2]).id
    graph.connect(a, d)
    graph.connect(d, o)
    return graph


def hostile_project(text: str) -> Project:
    """Every string field of a project holding ``text``."""
    device = text if text.strip() else "cpu"
    return Project(graph=network((text, text + "1", text + "2")), name=text, description=text,
                   training={"device": device, "epochs": 1},
                   dataset={"name": "text_csv", "path": text, "text_column": text, "label_column": text})


def plain_project() -> Project:
    return Project(graph=network(), name="Plain", description="A plain network.", training={"epochs": 1},
                   dataset={"name": "text_csv", "path": "reviews.csv", "text_column": "text",
                            "label_column": "label"})


@functools.lru_cache(maxsize=1)
def plain_skeleton() -> str:
    return skeleton(python_source(plain_project(), "model.py")[0])


@functools.lru_cache(maxsize=1)
def stub_skeleton() -> str:
    """A plain project whose dataset settings cannot be used: load_data() is a stub to fill in."""
    project = plain_project()
    project.dataset = {"name": "no such set"}
    return skeleton(python_source(project, "model.py")[0])


@functools.lru_cache(maxsize=1)
def compiled_network():
    return compile_graph(network())


def skeleton(text: str) -> str:
    """The module's structure: its syntax tree with every constant (docstrings, strings, numbers) and the
    network class's name blanked out. Equal skeletons: the same code, whatever the text in it."""
    tree = ast.parse(text)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)
               and any(isinstance(b, ast.Attribute) and b.attr == "Module" for b in n.bases)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = None
        elif isinstance(node, ast.ClassDef) and node.name in classes:
            node.name = "NETWORK"
        elif isinstance(node, ast.Name) and node.id in classes:
            node.id = "NETWORK"
    return ast.dump(tree)


def header_lines(text: str) -> list[str]:
    return text.split("\n\n", 1)[0].split("\n")


# -- the payloads are real -------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", PAYLOADS, ids=ids(PAYLOADS))
def test_the_payloads_are_live(payload, in_tmp):
    """Put in bare, as the exporter used to, each payload runs in at least one of the places text goes."""
    naive = [f"# {payload}: a PyTorch network\nx = 1\n", f'class C:\n    """{payload}: returns"""\n',
             f'x = "{payload}"\n', f"x = '{payload}'\n", 'x = "%s"\n' % payload.replace('"', '\\"')]
    for source in naive:
        try:
            exec(compile(source.encode("utf-8", "surrogatepass"), "naive", "exec"), {})  # noqa: S102
        except (SyntaxError, ValueError, NameError, TypeError):
            pass
    assert (in_tmp / MARKER).exists()
    (in_tmp / MARKER).unlink()


# -- the helpers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE, ids=ids(HOSTILE))
def test_literal_reads_back_as_the_same_string_on_one_line(text):
    for value in (text, [text, 1], (text,), {text: (text, -2.5, None, True)}):
        written = literal(value)
        assert len(written.splitlines()) == 1 and written.isprintable()
        written.encode("utf-8")
        assert ast.literal_eval(written) == value


@pytest.mark.parametrize("text", HOSTILE, ids=ids(HOSTILE))
def test_comments_and_docstrings_hold_any_text_as_one_inert_line(text):
    line = comment(text)
    assert len(line.splitlines()) == 1 and line.isprintable() and line.startswith("#")
    source = f"{line}\n{line}\nx = 1\n".encode("utf-8")
    assert tokenize.detect_encoding(io.BytesIO(source).readline)[0] == "utf-8"
    assert ast.dump(ast.parse(source)) == ast.dump(ast.parse("x = 1\n"))

    doc = docstring_text(text)
    source = f'def f():\n    """{doc}"""\n'
    (body,) = ast.parse(source.encode("utf-8")).body[0].body
    assert isinstance(body, ast.Expr) and body.value.value == comment_text(text)
    assert len(doc.splitlines()) == 1 and doc.isprintable()


def test_one_line_escapes_what_cannot_be_shown_and_keeps_what_can():
    assert one_line("a\nb\r\nc\u2028d\x85e\tf") == "a b  c d e f"
    assert one_line("nul\x00 surrogate\ud800 bom\ufeff") == "nul\\x00 surrogate\\ud800 bom\\ufeff"
    assert one_line("Spiral MLP é 漢字") == "Spiral MLP é 漢字"
    assert one_line("x" * 50, limit=10) == "xxxxxxx..."
    assert comment_text("-*- coding: latin-1 -*-") == "-*- coding : latin-1 -*-"


@pytest.mark.parametrize("name", ["", "1x", "a-b", "a b", "class", "é", "x\n", None, "a.b"], ids=ascii)
def test_identifier_refuses_anything_but_an_ascii_name(name):
    with pytest.raises(ExportError, match="internal error"):
        identifier(name)
    assert identifier("dense_1") == "dense_1"


@pytest.mark.parametrize("why", HOSTILE, ids=ids(HOSTILE))
def test_the_load_data_stub_keeps_any_reason_in_its_comments(why):
    tree = ast.parse(_stub(compiled_network(), why).encode("utf-8"))
    (function,) = tree.body
    assert [type(s).__name__ for s in function.body] == ["Expr", "Raise"]


# -- every field of a project, exported ------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE, ids=ids(HOSTILE))
def test_hostile_text_in_every_field_leaves_the_script_as_it_is(text):
    source, warnings = python_source(hostile_project(text), f"{text}.py")  # check_source ran it: nothing ran
    assert skeleton(source) == plain_skeleton()
    check_shape(source)
    source.encode("utf-8")
    assert all(line.startswith("#") for line in header_lines(source))
    assert all(w.isprintable() for w in warnings)


def test_errors_quoting_hostile_dataset_options_stay_in_comments():
    for dataset in ({"name": "text_csv", ALL: 1, "task": ALL}, {"name": ALL}, {"name": "csv", "path": ALL,
                                                                                "target": 3}):
        project = hostile_project(ALL)
        project.dataset = dataset
        source, warnings = python_source(project, "model.py")
        assert skeleton(source) == stub_skeleton()
        assert len(warnings) == 1 and warnings[0].isprintable()


@pytest.mark.parametrize("name", ["F", "torch", "EPOCHS", "Input Dtypes", "DataLoader", "Network", "predict"])
def test_the_network_class_never_rebinds_a_name_the_file_uses(name):
    project = plain_project()
    project.name = name
    bound = []
    for node in ast.parse(python_source(project)[0]).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            bound.append(node.name)
        elif isinstance(node, ast.Assign):
            bound += [t.id for t in node.targets]
    assert len(bound) == len(set(bound)), sorted(n for n in bound if bound.count(n) > 1)


# -- the structure check itself ----------------------------------------------------------------------------------
MAIN = '\n\nif __name__ == "__main__":\n    main()\n'
REFUSED = {
    "a top-level call": f"{RUN}\n",
    "a decorator": "@print\ndef f():\n    pass\n",
    "a default argument that calls": f"def f(x={RUN}):\n    pass\n",
    "an annotation that calls": f"def f(x: {RUN}):\n    pass\n",
    "a class body statement": f"class C:\n    {RUN}\n",
    "a class keyword": "class C(metaclass=type):\n    pass\n",
    "a computed base": f"class C({RUN}):\n    pass\n",
    "an unknown import": "import subprocess\n",
    "a star import": "from os import *\n",
    "a relative import": "from . import x\n",
    "an assignment of a call": f"X = {RUN}\n",
    "an f-string": "X = f'{1}'\n",
    "a with block": "with open('x'):\n    pass\n",
    "a second guard": 'if __name__ == "__main__":\n    main()\n',
    "a coding declaration": "# coding: latin-1\nX = 1\n",
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_check_shape_refuses_anything_that_would_run(what):
    with pytest.raises(ExportError, match="^internal error: the exported file .*please report"):
        check_shape(REFUSED[what] + MAIN)


def test_check_shape_refuses_a_file_without_the_guard_or_with_more_in_it():
    for source in ("X = 1\n", "X = 1\nif __name__ == '__main__':\n    main()\n    main()\n",
                   "if __name__ == '__main__':\n    import os\n", "X = 1\nmain()\n", "X = '\ud800'" + MAIN):
        with pytest.raises(ExportError, match="internal error"):
            check_shape(source)


def test_check_shape_accepts_what_exported_files_hold():
    check_shape('"""doc"""\nfrom __future__ import annotations\nimport torch\nfrom torch import nn\n'
                "X = -1\nY = {'a': torch.long, 'b': (1, 2.5, None)}\nZ: dict = {}\n"
                "def f(a: int = 3, *b, c: torch.Tensor | None = None, **d) -> dict[str, int]:\n    print(a)\n"
                "class C(nn.Module):\n    '''doc'''\n    def g(self):\n        return open('x')\n" + MAIN)


def test_check_source_runs_nothing_from_a_module_of_the_wrong_shape(in_tmp):
    project = plain_project()
    source, _ = python_source(project)
    compiled = compile_graph(project.graph, seed=0)
    with pytest.raises(ExportError, match="internal error"):
        check_source(source.replace("\nEPOCHS = ", f"\n{RUN}\nEPOCHS = ", 1), "Plain", compiled)
    assert not (in_tmp / MARKER).exists()


# -- through the command line, and the script run --------------------------------------------------------------
def test_a_hostile_project_file_exports_and_runs_inert(in_tmp):
    torch.set_num_threads(1)
    project = hostile_project(ALL)
    project.name = PAYLOADS[-1]  # the coding declaration: its effect depends on being on line 1
    project.graph = network(tuple(PAYLOADS[3:6]))
    compiled = compile_graph(project.graph, seed=5)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    save_project(project, in_tmp / "hostile.nnstudio")
    assert "\"\"\"" in load_project(in_tmp / "hostile.nnstudio").description
    script = '"q\'\\ \n\r#{}%s \u2028$(x).py'

    assert cli.main(["export", "hostile.nnstudio", "-o", script]) == 0
    assert cli.main(["export", "hostile.nnstudio", "-o", "w.safetensors"]) == 0
    assert not (in_tmp / MARKER).exists()
    text = (in_tmp / script).read_text(encoding="utf-8")
    assert skeleton(text) == plain_skeleton()
    assert header_lines(text)[0].startswith("# -*- coding : utf-7 -*- +AAo-open(")

    compiled.module.eval()
    inputs = compiled.example_inputs(batch=4)
    np.savez(in_tmp / "in.npz", **{n: x.numpy() for n, x in zip(compiled.input_names, inputs)})
    done = run_blocked(in_tmp / script, "--weights", "w.safetensors", "--predict", "in.npz", "--output",
                       "out.npz", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert not (in_tmp / MARKER).exists()
    with np.load(in_tmp / "out.npz") as out, torch.no_grad():
        assert np.abs(out["outputs"] - compiled.module(*inputs).numpy()).max() <= TOLERANCE


def test_weights_metadata_holds_any_name(in_tmp):
    project = hostile_project(ALL)
    export_weights(project, in_tmp / "w.safetensors")
    with safe_open(in_tmp / "w.safetensors", framework="pt") as f:
        name = f.metadata()["project"]
    assert name == one_line(ALL, 200) and "\\ud800" in name


# -- writing the file ----------------------------------------------------------------------------------------------
def test_an_interrupted_exports_temporary_files_are_removed_next_time(in_tmp):
    target = in_tmp / "model.py"
    old, young = in_tmp / ".model.py.abcd1234.tmp", in_tmp / ".model.py.0123beef.tmp"
    others = [in_tmp / ".other.py.abcd1234.tmp", in_tmp / ".model.py.abc.tmp", in_tmp / "model.py.abcd1234.tmp",
              in_tmp / ".model.pyXabcd1234.tmp"]
    for path in (old, young, *others):
        path.write_text("left over")
    folder = in_tmp / ".model.py.9999aaaa.tmp"
    folder.mkdir()
    past = 1_000_000.0
    for path in (old, *others, folder):
        os.utime(path, (past, past))
    os.utime(young, (past + 2 * tempfiles.STALE_S, past + 2 * tempfiles.STALE_S))

    assert tempfiles.sweep_target(target, now=past + 2 * tempfiles.STALE_S + 1) == [old]
    assert young.exists() and folder.is_dir() and all(p.exists() for p in others)

    young.touch()
    os.utime(young, (past, past))
    export_python(plain_project(), target)
    assert not young.exists() and all(p.exists() for p in others)
    assert sorted(p.name for p in in_tmp.glob(".model.py.*")) == sorted([".model.py.abc.tmp", folder.name])


@pytest.mark.parametrize("where", ["missing folder", "folder", "device", "empty", "trailing slash", "nul"])
def test_a_target_that_cannot_be_a_file_is_refused_naming_it(where, in_tmp):
    path = {"missing folder": "no/such/folder/model.py", "folder": str(in_tmp), "device": os.devnull,
            "empty": "", "trailing slash": "model.py/", "nul": "mo\x00del.py"}[where]
    with pytest.raises(ExportError) as caught:
        export_python(plain_project(), path)
    message = str(caught.value)
    assert one_line(path) in message and ".tmp" not in message and "\n" not in message
    assert list(in_tmp.iterdir()) == []


def test_a_write_that_fails_names_the_target_not_the_temporary_file(in_tmp):
    def full(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device", tmp)

    with pytest.raises(ExportError, match=r"^cannot export to out\.py: No space left on device$"):
        write_atomic("out.py", full)
    assert list(in_tmp.iterdir()) == []
    assert check_target("out.py") == Path("out.py")
