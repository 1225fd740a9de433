"""Export a project as an ONNX model (optional extra: ``pip install nnstudio[onnx]``).

Uses torch's exporter (``torch.onnx.export(..., dynamo=True)``, which needs the ``onnx`` and ``onnxscript``
packages), imported only here and only when asked for. The model is exported in eval mode with its trained
weights (fresh ones and a warning when the project is untrained) and a dynamic batch dimension named
``batch``.

Inputs are named like the Input nodes (``input_vector_1``; float32, or int64 token ids). The single output is
named ``logits`` for classification networks: the raw scores, without the Softmax / Sigmoid that the app
folds into the loss (apply it yourself for probabilities; the model's metadata ``output_activation`` says
which). Regression networks' output is named ``output`` and holds the values as they are.

The model's metadata ``nnstudio.project`` carries the project (``embedded``) for ``nnstudio import``.

When ``onnxruntime`` is installed the written file is run once against PyTorch on the same inputs and a
difference above 1e-4 is reported as a warning. A layer the exporter cannot express is named in the error:
"cannot export transformer_encoder_1 (TransformerEncoderLayer) to ONNX: ...".
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnstudio import __version__
from nnstudio.core.compile import CompiledModel
from nnstudio.core.export import embedded
from nnstudio.core.export.common import (ExportError, ExportResult, check_target, first_failing_layer, one_line,
                                         write_atomic)
from nnstudio.core.export.weights import compiled_with_weights
from nnstudio.core.project.model import Project

INSTALL = "pip install nnstudio[onnx]"
TOLERANCE = 1e-4
EXAMPLE_BATCH = 3  # not 1: an example batch of one would let the exporter fix the batch size
LARGE_BYTES = 1_500_000_000  # protobuf's 2 GB limit: bigger models keep their weights beside the file


def check_available() -> None:
    """ExportError naming the install command when the packages the exporter needs are missing."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"ONNX export needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}"
                          f" (not installed): {INSTALL}")


def export_onnx(project: Project, path: str | os.PathLike[str], verify: bool = True) -> ExportResult:
    """Write ``project``'s network to ``path`` as ONNX. ``verify`` compares it with PyTorch in onnxruntime
    when onnxruntime is installed."""
    check_available()
    given, path = path, check_target(path)  # before any work; the large-model branch writes in place
    compiled, warnings_ = compiled_with_weights(project)
    module = compiled.module.eval()
    inputs = tuple(compiled.example_inputs(batch=EXAMPLE_BATCH))
    output_name = "logits" if compiled.output_activation else "output"
    size = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    program = _export(module, inputs, compiled, output_name)
    _describe(program, project, compiled, output_name)
    document, not_carried = embedded.document_or_warning(project, given)
    warnings_ += not_carried
    if document is not None:  # the project, for nnstudio import (embedded: ASCII JSON)
        program.model.metadata_props[embedded.KEY] = document
    external = size > LARGE_BYTES
    if external:  # the weights file is named after the model file, so it is written in place
        try:
            with _quiet():
                program.save(path, external_data=True)
        except OSError as exc:
            raise ExportError(f"cannot export to {one_line(os.fspath(given))}: {exc.strerror or exc}") from None
    else:
        write_atomic(given, lambda tmp: program.save(tmp, external_data=False))
    notes = [f"inputs {', '.join(compiled.input_names)} (dynamic batch); output {output_name}"]
    if external:
        notes.append(f"the weights are stored beside the model in {path.name}.data")
    if verify:
        warnings_ += _verify(path, module, compiled, notes)
    return ExportResult(path, "onnx", warnings_, notes)


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...], compiled: CompiledModel, output_name: str):
    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in inputs)
    try:
        with _quiet():
            return torch.onnx.export(module, inputs, None, dynamo=True, dynamic_shapes=dynamic,
                                     input_names=list(compiled.input_names), output_names=[output_name],
                                     verbose=False)
    except ImportError as exc:
        raise ExportError(f"ONNX export needs packages that are not installed ({exc}): {INSTALL}") from None
    except Exception as exc:  # the exporter raises many kinds; each becomes one message naming the layer
        raise ExportError(_explain(exc, module, inputs)) from None


@contextlib.contextmanager
def _quiet():
    """The exporter prints graphs, progress and warnings; none of it is for the person exporting."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo",
                                                     "torch._export", "torch.fx")]
    levels = [lg.level for lg in loggers]
    sink = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _explain(exc: BaseException, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str:
    """A one-line reason, naming the layer that failed: from the exporter's message when it names one,
    else by exporting each layer on its own."""
    reason = _reason(exc)
    match = re.search(r"call_module\[target=([A-Za-z_][A-Za-z0-9_]*)\]", str(exc))
    layer = match.group(1) if match and hasattr(module, match.group(1)) else _failing_layer(module, inputs)
    if layer is None:
        return f"the network cannot be exported to ONNX: {reason}"
    kind = type(getattr(module, layer)).__name__
    return f"cannot export {layer} ({kind}) to ONNX: {reason}"


def _reason(exc: BaseException) -> str:
    """The first line of the innermost cause: what went wrong, without the exporter's advice."""
    inner = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner).strip() or type(inner).__name__
    summary = re.search(r"## Exception summary\s+(?:<class '[^']*'>: )?(.+)", str(exc))
    if inner is exc and summary:
        text = summary.group(1)
    line = re.sub(r"\x1b\[[0-9;]*m", "", text.splitlines()[0]).strip()
    line = line if len(line) <= 300 else line[:297] + "..."
    if "data-dependent" in line or "DataDependent" in type(inner).__name__:
        return ("it decides what to compute from the values of its input (data-dependent control flow), "
                f"which an ONNX graph cannot express ({line})")
    return line


def _failing_layer(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
    """Export the submodules one at a time on the inputs they receive; the first that fails."""
    def try_layer(child: nn.Module, args: tuple[Any, ...]) -> None:
        dynamic = tuple({0: torch.export.Dim("batch")} if isinstance(a, torch.Tensor) else None for a in args)
        with _quiet():
            torch.onnx.export(child, args, None, dynamo=True, dynamic_shapes=dynamic, verbose=False)

    return first_failing_layer(module, inputs, try_layer)


def _describe(program: Any, project: Project, compiled: CompiledModel, output_name: str) -> None:
    """Name the model and record what its output is in the ONNX metadata (best effort). The project's name
    goes in as one printable line (protobuf strings must be valid UTF-8: a lone surrogate is escaped)."""
    name = one_line(project.name, 200) if isinstance(project.name, str) and project.name.strip() else "network"
    try:
        model = program.model
        model.producer_name = "NN Studio"
        model.producer_version = __version__
        model.doc_string = name + (
            f": {output_name} are raw scores; apply {compiled.output_activation} for probabilities"
            if compiled.output_activation else "")
        model.metadata_props["output_activation"] = compiled.output_activation or "none"
        model.metadata_props["task"] = compiled.task
    except AttributeError:
        pass


def _verify(path: Path, module: nn.Module, compiled: CompiledModel, notes: list[str]) -> list[str]:
    """Run the file in onnxruntime (if installed) against PyTorch on a fresh batch of five."""
    if importlib.util.find_spec("onnxruntime") is None:
        notes.append("not checked in onnxruntime (not installed)")
        return []
    import onnxruntime

    inputs = compiled.example_inputs(batch=5)
    with torch.no_grad():
        expected = module(*inputs).numpy()
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {n: x.numpy() for n, x in zip(compiled.input_names, inputs)})[0]
    except Exception as exc:  # noqa: BLE001 - a runtime that cannot run the file is worth a warning, not a crash
        return [f"onnxruntime cannot run the exported file: {str(exc).splitlines()[0]}"]
    diff = float(abs(got - expected).max()) if got.shape == expected.shape else float("inf")
    if diff > TOLERANCE:
        return [f"onnxruntime's outputs differ from PyTorch's by up to {diff:.3g}"]
    notes.append(f"checked in onnxruntime: largest difference from PyTorch {diff:.2g}")
    return []
