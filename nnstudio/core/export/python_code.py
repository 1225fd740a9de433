"""Export a project as one standalone, readable PyTorch script (no nnstudio import).

The file holds, top to bottom: a header saying what it is and how to run it, the project's training settings,
the layers NN Studio adds to PyTorch (copied from ``nnstudio.core.layers.modules``), the network class (its
layers named by node id, so the app's safetensors weights load with ``strict=True``), ``predict``, the loss /
optimizer / targets, the data (generated or read exactly as the app does, or a ``load_data`` to fill in) and
a training loop that also runs under ``torchrun`` with DistributedDataParallel. ``--predict IN.npz`` runs the
network on saved inputs, which is how the tests prove the file computes what the app computes.

Before writing, the exporter runs the generated class against the app's model on the same weights: a file
that would compute something else is never written.
"""

from __future__ import annotations

import inspect
import os
import re
import textwrap
from pathlib import Path
from types import ModuleType

import torch

from nnstudio.core.compile import CompiledModel, compile_graph
from nnstudio.core.export import standalone_data, standalone_train
from nnstudio.core.export.common import ExportError, ExportResult, write_atomic
from nnstudio.core.export.formatting import wrap_long_lines
from nnstudio.core.export.model_code import (UnsupportedLayer, class_name, custom_classes, custom_source,
                                             literal, model_class)
from nnstudio.core.export.script_parts import (data_plan, header, parse_args_source, settings_source,
                                               training_functions)
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


def export_python(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    """Write ``project`` as a standalone PyTorch script to ``path`` (atomically)."""
    path = Path(path)
    source, warnings = python_source(project, path.name)
    write_atomic(path, lambda tmp: Path(tmp).write_text(source, encoding="utf-8", newline="\n"))
    return ExportResult(path, "py", warnings)


def python_source(project: Project, filename: str = "model.py") -> tuple[str, list[str]]:
    """The exported script's text and the warnings to show; checked against the app's model."""
    config = TrainConfig.from_dict(project.training)
    compiled = compile_graph(project.graph, seed=config.seed)
    title = project.name or Path(filename).stem
    taken = {c.__name__ for c in custom_classes(compiled.module)} | {"Network"}
    name = class_name(title, taken)
    try:
        network = model_class(compiled, name, title)
    except UnsupportedLayer as exc:
        raise ExportError(str(exc)) from None
    plan = data_plan(project, compiled)
    training = _copied(standalone_train, ["train", "run_predict"])
    parts = [
        _section("Settings from the project; the command line overrides the first five",
                 settings_source(config, compiled, filename)),
        _section("Layers NN Studio adds to PyTorch", _custom(compiled)),
        _section("The network", network, _model_helpers(compiled, name)),
        _section("Loss, optimizer and targets", training_functions(compiled, config)),
        _section("Data", _copied(standalone_data, plan.functions), plan.load_data),
        _section("Training and prediction", training, parse_args_source(plan.data_file, filename),
                 MAIN),
    ]
    body = "\n\n\n".join(part for part in parts if part)
    text = header(project, title, compiled, config, plan, filename) + "\n\n" + _imports(body) + "\n\n\n" + body
    text = wrap_long_lines(text.rstrip() + "\n", LIMIT)
    check_source(text, name, compiled)
    return text, plan.warnings


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


def _copied(module: ModuleType, names: list[str]) -> str:
    """The source of the functions ``names`` of ``module`` and of those they call, in the file's order."""
    skip = getattr(module, "GENERATED", frozenset())
    members = [v for v in vars(module).values()
               if inspect.isfunction(v) and v.__module__ == module.__name__ and v.__name__ not in skip]
    members.sort(key=lambda f: f.__code__.co_firstlineno)
    try:
        sources = {f.__name__: inspect.getsource(f) for f in members}
    except OSError as exc:
        raise ExportError(f"the source of {module.__name__} is not available ({exc})") from None
    wanted, todo = set(), list(names)
    while todo:
        current = todo.pop()
        if current in wanted:
            continue
        wanted.add(current)
        todo += [n for n in sources if n not in wanted and re.search(rf"\b{n}\(", sources[current])]
    return "\n\n\n".join(sources[f.__name__].rstrip() for f in members if f.__name__ in wanted)


def _imports(body: str) -> str:
    """The import block: the optional modules only when the body uses them."""
    def uses(prefix: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(prefix)}\.", body) is not None

    std = ["argparse"] + [m for m in ("csv", "math") if uses(m)] + ["os"]
    third = ["import numpy as np", "import torch", "import torch.distributed as dist"]
    if uses("F"):
        third.append("import torch.nn.functional as F")
    third += ["from safetensors.torch import load_file, save_file", "from torch import nn",
              "from torch.nn.parallel import DistributedDataParallel",
              "from torch.utils.data import DataLoader, DistributedSampler, TensorDataset"]
    return "\n".join(["from __future__ import annotations", "", *(f"import {m}" for m in std), "", *third])


def check_source(text: str, name: str, compiled: CompiledModel) -> None:
    """Run the generated class on the app model's weights and inputs; refuse code that differs."""
    try:
        code = compile(text, "<exported model>", "exec")
    except SyntaxError as exc:
        raise ExportError(f"internal error: the exported file is not valid Python ({exc}); please report "
                          "this with the project") from None
    namespace: dict = {"__name__": "nnstudio_export_check", "__file__": "model.py"}
    exec(code, namespace)  # noqa: S102 - our own generated code: definitions only below __main__
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


__all__ = ["check_source", "export_python", "python_source"]
