"""Export a project as one standalone, readable PyTorch script (no nnstudio import).

The file holds, top to bottom: a header saying what it is and how to run it, the project's training settings,
the layers NN Studio adds to PyTorch (copied from ``nnstudio.core.layers.modules``), the network class (its
layers named by node id, so the app's safetensors weights load with ``strict=True``), ``predict``, the loss /
optimizer / targets, the data (generated or read exactly as the app does, or a ``load_data`` to fill in) and
a training loop that also runs under ``torchrun`` with DistributedDataParallel; last, the project itself as
comment lines (``embedded``) that ``nnstudio import`` reads back without running the file. ``--predict IN.npz``
runs the network on saved inputs, which is how the tests prove the file computes what the app computes.

Before writing, the exporter runs the generated class against the app's model on the same weights: a file
that would compute something else is never written. Text from the project enters the file only as escaped
literals and sanitised one-line comments and docstrings (``formatting``), and before the check runs anything,
the parsed file must have the known shape (imports, definitions, constant settings, the ``__main__`` guard):
even a bug in the escaping cannot make the export run code from a project.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import os
import re
import textwrap
import tokenize
from pathlib import Path
from types import ModuleType

import torch

from nnstudio.core.compile import CompiledModel, compile_graph
from nnstudio.core.export import standalone_data, standalone_files, standalone_standard, standalone_train
from nnstudio.core.export.common import ExportError, ExportResult, check_target, one_line, write_atomic
from nnstudio.core.export.embedded import document_or_warning, script_block
from nnstudio.core.export.formatting import wrap_long_lines
from nnstudio.core.export.model_code import UnsupportedLayer, class_name, custom_classes, custom_source, model_class
from nnstudio.core.export.script_data import data_plan
from nnstudio.core.export.script_parts import header, parse_args_source, settings_source, training_functions
from nnstudio.core.project.model import Project
from nnstudio.core.training.config import TrainConfig

LIMIT = 99  # longest line in exported files
TOLERANCE = 1e-5  # largest difference allowed between the exported class and the app's model

MAIN = '''
def main(argv=None):
    args = parse_args(argv)
    if args.predict:
        run_predict(args)
        return
    try:
        train(args)
    except NotImplementedError as exc:
        raise SystemExit(f"{exc} (see load_data() in {os.path.basename(__file__)})") from None


if __name__ == "__main__":
    main()
'''


def export_python(project: Project, path: str | os.PathLike[str],
                  base_dir: str | os.PathLike[str] | None = None) -> ExportResult:
    """Write ``project`` as a standalone PyTorch script to ``path`` (atomically). A bundled dataset's file
    (digits.npz, iris.csv ...) is written beside it, where the script reads it. ``base_dir`` (the project
    file's folder) is where the project's relative data paths start; without it they start at the script's
    folder."""
    target = check_target(path)  # a bad path is refused before any work
    source, warnings, plan = _build(project, target.name, base_dir)
    data = source.encode("utf-8")  # check_source has proved it encodes
    bundled = _bundled_file(plan.data_file, target) if plan.data_file else None
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    result = ExportResult(target, "py", warnings)
    if bundled:
        beside, content = bundled
        try:
            replaced = beside.is_file() and (beside.stat().st_size != len(content)
                                             or beside.read_bytes() != content)
        except OSError:
            replaced = True
        write_atomic(beside, lambda tmp: Path(tmp).write_bytes(content))
        what = "replaced" if replaced else "wrote"
        result.notes.append(f"{what} {one_line(beside)}: the dataset the script trains on")
    return result


def _bundled_file(name: str, target: Path) -> tuple[Path, bytes]:
    """Where the bundled file ``name`` goes (beside the script; refused before anything is written when it
    cannot be a file there) and its bytes."""
    from nnstudio.core.data.bundled import DATA

    beside = check_target(target.parent / name)
    try:
        return beside, (DATA / name).read_bytes()
    except OSError as exc:
        raise ExportError(f"the bundled {name} cannot be read ({exc.strerror or exc}): reinstall NN Studio") \
            from None


def python_source(project: Project, filename: str = "model.py",
                  base_dir: str | os.PathLike[str] | None = None) -> tuple[str, list[str]]:
    """The exported script's text and the warnings to show; checked against the app's model."""
    source, warnings, _ = _build(project, filename, base_dir)
    return source, warnings


def _build(project: Project, filename: str, base_dir: str | os.PathLike[str] | None):
    filename = filename if isinstance(filename, str) and filename else "model.py"
    config = TrainConfig.from_dict(project.training)
    compiled = compile_graph(project.graph, seed=config.seed)
    name_ = project.name if isinstance(project.name, str) else ""
    title = name_ if name_.strip() else Path(filename).stem
    plan = data_plan(project, compiled, base_dir)
    settings = settings_source(config, compiled, filename)
    custom = _custom(compiled)
    losses = training_functions(compiled, config)
    data = _copied(DATA_MODULES, plan.functions)
    training = _copied((standalone_train,), ["train", "run_predict"])
    arguments = parse_args_source(plan, filename)
    # The class must not rebind a name the rest of the file uses (a project called "F" or "Epochs").
    taken = _bound_names(settings, custom, losses, data, plan.load_data, plan.augment, training, arguments,
                         MAIN, _imports(EVERY_USE, ["Pillow", "kornia"])) | {"Network", "build_model", "predict"}
    name = class_name(title, taken)
    try:
        network = model_class(compiled, name, title)
    except UnsupportedLayer as exc:
        raise ExportError(str(exc)) from None
    parts = [
        _section("Settings from the project; the command line overrides the first five", settings),
        _section("Layers NN Studio adds to PyTorch", custom),
        _section("The network", network, _model_helpers(compiled, name)),
        _section("Loss, optimizer and targets", losses),
        _section("Data", data, plan.load_data, plan.augment),
        _section("Training and prediction", training, arguments, MAIN),
    ]
    body = "\n\n\n".join(part for part in parts if part)
    text = (header(project, title, compiled, config, plan, filename) + "\n\n" + _imports(body, plan.needs)
            + "\n\n\n" + body)
    text = wrap_long_lines(text.rstrip() + "\n", LIMIT)
    # The project, for nnstudio import: comment lines after the main guard (embedded.script_block), which
    # check_source parses with the rest, so even a bug in their escaping could not add code.
    document, not_carried = document_or_warning(project, filename)
    if document is not None:
        text += "\n\n" + script_block(document)
    check_source(text, name, compiled)
    return text, [one_line(w) for w in [*plan.warnings, *not_carried]], plan


def _bound_names(*sources: str) -> set[str]:
    """The names the top level of ``sources`` binds (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for source in sources:
        try:
            body = ast.parse(textwrap.dedent(source) or "").body
        except (SyntaxError, ValueError) as exc:  # UnicodeEncodeError included
            raise _internal(f"is not valid Python ({one_line(exc, 200)})") from None
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _section(title: str, *blocks: str) -> str:
    """A rule naming the section, then its blocks two blank lines apart."""
    body = "\n\n\n".join(b.strip() for b in blocks if b.strip())
    if not body:
        return ""
    rule = "-" * (LIMIT - len(title) - 6)
    return f"# -- {title} {rule}\n{body}"


def _custom(compiled: CompiledModel) -> str:
    classes = custom_classes(compiled.module)
    if not classes:
        return ""
    try:
        return custom_source(classes)
    except OSError as exc:  # a frozen app without the source files
        raise ExportError(f"the source of NN Studio's layers is not available ({exc}): Python export needs "
                          "nnstudio/core/layers/modules.py") from None


def _model_helpers(compiled: CompiledModel, name: str) -> str:
    act = compiled.output_activation
    if act == "softmax":
        what, apply = "Probabilities: the softmax of the network's logits", "torch.softmax(logits, dim=-1)"
    elif act == "sigmoid":
        what, apply = "Probabilities: the sigmoid of the network's logits", "torch.sigmoid(logits)"
    else:
        what, apply = "The network's outputs", "logits"
    out = "logits" if act else "outputs"
    apply = apply if act else out
    return textwrap.dedent(f'''\
        def build_model() -> nn.Module:
            """A fresh {name}; load trained weights into it with load_state_dict."""
            return {name}()


        def predict(model: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
            """{what} (eval mode, no gradients)."""
            model.eval()
            with torch.no_grad():
                {out} = model(*inputs)
            return {apply}''')


@functools.lru_cache(maxsize=None)
def _function_sources(module: ModuleType) -> dict[str, str]:
    """Name -> source of ``module``'s own functions, in the file's order (read once per module)."""
    skip = getattr(module, "GENERATED", frozenset())
    members = [v for v in vars(module).values()
               if inspect.isfunction(v) and v.__module__ == module.__name__ and v.__name__ not in skip]
    members.sort(key=lambda f: f.__code__.co_firstlineno)
    return {f.__name__: inspect.getsource(f) for f in members}


def _copied(modules: tuple[ModuleType, ...], names: list[str]) -> str:
    """The source of the functions ``names`` of ``modules`` and of those they call, in the files' order."""
    sources: dict[str, str] = {}
    for module in modules:
        try:
            sources.update(_function_sources(module))
        except OSError as exc:
            raise ExportError(f"the source of {module.__name__} is not available ({exc})") from None
    wanted, todo = set(), list(names)
    while todo:
        current = todo.pop()
        if current in wanted:
            continue
        wanted.add(current)
        todo += [n for n in sources if n not in wanted and re.search(rf"\b{n}\(", sources[current])]
    return "\n\n\n".join(source.rstrip() for name, source in sources.items() if name in wanted)


DATA_MODULES = (standalone_data, standalone_files, standalone_standard)
STANDARD_LIBRARY = ("csv", "gzip", "json", "math", "random", "re", "stat")  # imported when the file uses them
EVERY_USE = " ".join(f"{m}." for m in (*STANDARD_LIBRARY, "F")) + " Counter("


def _imports(body: str, needs: list[str]) -> str:
    """The import block: the optional modules only when the body uses them, Pillow and kornia only when the
    data plan ``needs`` them."""
    def uses(prefix: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(prefix)}\.", body) is not None

    std = ["argparse"] + [m for m in STANDARD_LIBRARY if uses(m)] + ["os"]
    std = [f"import {m}" for m in sorted(std)]
    if re.search(r"(?<![\w.])Counter\(", body):
        std.append("from collections import Counter")
    third = ["import numpy as np", "import torch", "import torch.distributed as dist"]
    if "kornia" in needs:
        third.insert(0, "import kornia.augmentation")
    if uses("F"):
        third.append("import torch.nn.functional as F")
    third += ["from torch import nn",
              "from torch.nn.parallel import DistributedDataParallel",
              "from torch.utils.data import DataLoader, DistributedSampler, TensorDataset"]
    if "Pillow" in needs:
        third.append("from PIL import Image")
    return "\n".join(["from __future__ import annotations", "", *std, "", *third])


# -- the check ------------------------------------------------------------------------------------------------
# What the generated file may import: nothing else can appear in it.
IMPORTS = frozenset({"__future__", "argparse", "collections", "csv", "gzip", "math", "os", "random", "re", "stat",
                     "numpy", "torch", "torch.distributed", "torch.nn.functional", "json",
                     "torch.nn.parallel", "torch.utils.data", "PIL", "kornia.augmentation"})


def _internal(problem: str) -> ExportError:
    return ExportError(f"internal error: the exported file {problem}; please report this with the project")


def check_source(text: str, name: str, compiled: CompiledModel) -> None:
    """Refuse a file whose shape is not the exporter's (``check_shape``), then run the generated class on the
    app model's weights and inputs and refuse code that computes something else."""
    tree = check_shape(text)
    if not any(isinstance(n, ast.ClassDef) and n.name == name for n in tree.body):
        raise _internal(f"has no class {one_line(name, 80)}")
    code = compile(tree, "<exported model>", "exec")
    namespace: dict = {"__name__": "nnstudio_export_check", "__file__": "model.py"}
    exec(code, namespace)  # noqa: S102 - checked by check_shape: only imports and definitions run here
    model = namespace[name]()
    state = compiled.module.state_dict()
    problem = ""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        problem = f"its layers do not match the app's ({str(exc).splitlines()[0]})"
    if not problem:
        was_training = compiled.module.training
        model.eval()
        compiled.module.eval()
        try:
            inputs = compiled.example_inputs(batch=3)
            with torch.no_grad():
                expected, got = compiled.module(*inputs), model(*inputs)
        finally:
            compiled.module.train(was_training)
        if expected.shape != got.shape:
            problem = f"it returns shape {tuple(got.shape)}, not {tuple(expected.shape)}"
        elif not torch.allclose(expected, got, rtol=0, atol=TOLERANCE):
            problem = f"its outputs differ by up to {float((expected - got).abs().max()):.3g}"
    if problem:
        raise ExportError(f"internal error: the exported network does not compute what the app's network "
                          f"computes: {problem}; please report this with the project")


def check_shape(text: str) -> ast.Module:
    """The parsed module when ``text`` has the shape of an exported file, else ExportError (an internal error).

    The file must encode as UTF-8 and be read as UTF-8 (no encoding declaration), and its top level may hold
    only: docstrings; imports of the modules in IMPORTS; function definitions without decorators whose
    defaults and annotations are constants or names; classes without decorators or keywords, with name bases
    and a body of a docstring and such functions; assignments of constants (numbers, strings, True / False /
    None, names such as ``torch.long``, and tuples / lists / sets / dicts of them); and last, once,
    ``if __name__ == "__main__": main()``. Executing such a module only imports those modules and defines
    things: nothing from the file runs."""
    try:
        data = text.encode("utf-8")
    except UnicodeError as exc:
        raise _internal(f"cannot be written as UTF-8 ({one_line(exc, 120)})") from None
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError as exc:
        raise _internal(f"declares an encoding Python does not know ({one_line(exc, 120)})") from None
    if encoding != "utf-8":
        raise _internal(f"declares the encoding {one_line(encoding, 40)}, not UTF-8")
    try:
        tree = ast.parse(data, "<exported model>")
    except (SyntaxError, ValueError) as exc:
        raise _internal(f"is not valid Python ({one_line(exc, 200)})") from None
    body = tree.body
    if not body or not _is_main_guard(body[-1]):
        raise _internal('does not end with if __name__ == "__main__": main()')
    for node in body[:-1]:
        problem = _top_level_problem(node)
        if problem:
            raise _internal(f"has {problem} on line {node.lineno}")
    return tree


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and not node.orelse and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
            and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)
            and len(node.test.comparators) == 1 and _is_const(node.test.comparators[0], "__main__")
            and len(node.body) == 1 and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Call) and isinstance(node.body[0].value.func, ast.Name)
            and node.body[0].value.func.id == "main" and not node.body[0].value.args
            and not node.body[0].value.keywords)


def _is_const(node: ast.AST, value: object) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value


def _top_level_problem(node: ast.stmt) -> str | None:
    """Why ``node`` may not stand at the top level of an exported file (None when it may)."""
    if isinstance(node, ast.Expr):
        return None if _is_docstring(node) else "an expression that would run"
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module not in IMPORTS or any(a.name == "*" for a in node.names):
            return f"an import from {one_line(node.module, 60)}"
        return None
    if isinstance(node, ast.Import):
        bad = [a.name for a in node.names if a.name not in IMPORTS]
        return f"an import of {one_line(bad[0], 60)}" if bad else None
    if isinstance(node, ast.FunctionDef):
        return _function_problem(node)
    if isinstance(node, ast.ClassDef):
        if node.decorator_list or node.keywords or not all(_is_name(b) for b in node.bases):
            return f"a class {node.name} with decorators, keywords or computed bases"
        for item in node.body:
            if isinstance(item, ast.Expr) and _is_docstring(item):
                continue
            if not isinstance(item, ast.FunctionDef):
                return f"a statement in the body of class {node.name}"
            problem = _function_problem(item)
            if problem:
                return problem
        return None
    if isinstance(node, ast.Assign):
        if all(isinstance(t, ast.Name) for t in node.targets) and _is_constant(node.value):
            return None
        return "an assignment of something other than a constant"
    if isinstance(node, ast.AnnAssign):
        if isinstance(node.target, ast.Name) and _is_name(node.annotation) and (
                node.value is None or _is_constant(node.value)):
            return None
        return "an assignment of something other than a constant"
    return f"a {type(node).__name__} statement"


def _function_problem(node: ast.FunctionDef) -> str | None:
    if node.decorator_list:
        return f"a decorated function {node.name}"
    a = node.args
    defaults = [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if not all(_is_constant(d) for d in defaults):
        return f"a function {node.name} whose default arguments are not constants"
    arguments = [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x is not None)]
    annotations = [x.annotation for x in arguments if x.annotation is not None]
    if node.returns is not None:
        annotations.append(node.returns)
    if not all(_is_annotation(x) for x in annotations):
        return f"a function {node.name} whose annotations are not names"
    return None


def _is_docstring(node: ast.Expr) -> bool:
    return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_name(node: ast.AST) -> bool:
    """``torch``, ``nn.Module``, ``torch.long``: a name or a chain of attributes of one."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _is_constant(node: ast.AST) -> bool:
    """A literal (a negative number included), a name, or a tuple / list / set / dict of those."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float, complex)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_constant(k) for k in node.keys) and all(
            _is_constant(v) for v in node.values)
    return _is_name(node)


def _is_annotation(node: ast.AST) -> bool:
    """Names, constants, ``X | Y`` and ``X[Y, Z]`` of those (annotations are evaluated when a file has no
    ``from __future__ import annotations``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_annotation(node.left) and _is_annotation(node.right)
    if isinstance(node, ast.Subscript):
        return _is_annotation(node.value) and _is_annotation(node.slice)
    if isinstance(node, ast.Tuple):
        return all(_is_annotation(e) for e in node.elts)
    return isinstance(node, ast.Constant) or _is_name(node)


__all__ = ["check_shape", "check_source", "export_python", "python_source"]
