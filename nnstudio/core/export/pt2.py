"""Export a project as a ``torch.export`` program (.pt2): the network as an ahead-of-time graph with its weights,
which ``torch.export.load(path).module()`` runs without NN Studio (and which AOTInductor or ExecuTorch compile).

The program is traced in eval mode with the project's trained weights (fresh ones and a warning when it is
untrained) and a dynamic batch dimension named ``batch`` on every input; a network whose layers fix the batch
size is exported for the example batch size, with a warning. Inputs are the Input nodes in order (float32, or
int64 token ids); the output is the network's raw scores for classification (the Softmax / Sigmoid the app
folds into the loss is not applied) or its values for regression.

The project itself goes into the archive's extra files (``nnstudio.project.json``, see ``embedded``). A layer
``torch.export`` cannot trace is an ExportError naming it: "cannot export lstm_1 (LSTM) as a torch.export
program: ...".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnstudio.core.export import embedded
from nnstudio.core.export.common import ExportError, ExportResult, check_target, first_failing_layer, write_atomic
from nnstudio.core.export.onnx import _quiet
from nnstudio.core.export.weights import compiled_with_weights
from nnstudio.core.project.model import Project

EXAMPLE_BATCH = 3  # not 1 (or 2): a batch the tracer would specialise on
EXTRA_FILE = embedded.PT2_EXTRA_FILE


def export_pt2(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    """Write ``project``'s network to ``path`` as a torch.export program (atomically)."""
    check_target(path)  # before any work: a bad path is refused at once
    compiled, warnings = compiled_with_weights(project)
    module = compiled.module.eval()
    inputs = tuple(compiled.example_inputs(batch=EXAMPLE_BATCH))
    program, dynamic = _export(module, inputs)
    if not dynamic:
        warnings.append(f"the network fixes its batch size: the program takes batches of {EXAMPLE_BATCH} only")
    document, not_carried = embedded.document_or_warning(project, path)
    warnings += not_carried
    extra = {EXTRA_FILE: document} if document is not None else None

    def save(tmp: str) -> None:  # to an open file: a path would name the archive's folder after the temporary file
        with open(tmp, "wb") as file, _quiet():
            torch.export.save(program, file, extra_files=extra)

    written = write_atomic(path, save)
    batch = "dynamic batch" if dynamic else f"batch of {EXAMPLE_BATCH}"
    notes = [f"inputs {', '.join(compiled.input_names)} ({batch}); load it with torch.export.load(path).module()"]
    if compiled.output_activation:
        notes.append(f"the output is raw scores: apply {compiled.output_activation} for probabilities")
    return ExportResult(Path(written), "pt2", warnings, notes)


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[Any, bool]:
    """The exported program and whether its batch size is dynamic: dynamic first, fixed when a layer pins
    the batch size; ExportError naming the layer when neither works."""
    batch = torch.export.Dim("batch")
    error: BaseException | None = None
    for shapes in (tuple({0: batch} for _ in inputs), None):
        try:
            with _quiet(), torch.no_grad():
                return torch.export.export(module, inputs, dynamic_shapes=shapes), shapes is not None
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; each becomes one message
            error = exc
    raise ExportError(_explain(error, module, inputs))


def _explain(exc: BaseException, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str:
    reason = _reason(exc)
    layer = _failing_layer(module, inputs)
    if layer is None:
        return f"the network cannot be exported as a torch.export program: {reason}"
    kind = type(getattr(module, layer)).__name__
    return f"cannot export {layer} ({kind}) as a torch.export program: {reason}"


def _reason(exc: BaseException) -> str:
    """The first line of the innermost cause, without colour codes, at most 300 characters."""
    inner = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner).strip() or type(inner).__name__
    line = re.sub(r"\x1b\[[0-9;]*m", "", text.splitlines()[0]).strip()
    line = line if len(line) <= 300 else line[:297] + "..."
    if "data-dependent" in line.lower() or "DataDependent" in type(inner).__name__:
        return f"it decides what to compute from the values of its input (data-dependent control flow): {line}"
    return line


def _failing_layer(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
    """Export the layers one at a time on the inputs they receive; the first that fails."""
    def try_layer(child: nn.Module, args: tuple[Any, ...]) -> None:
        with _quiet():
            torch.export.export(child, args)

    return first_failing_layer(module, inputs, try_layer)


__all__ = ["EXTRA_FILE", "export_pt2"]
