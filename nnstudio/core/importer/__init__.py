"""Existing models onto the canvas (``nnstudio import``, File > Import Model…): a PyTorch module traced with
torch.fx (``trace``; where fx cannot trace it, captured with torch.export: ``exported``), from a Python file or
torchvision (``sources``), or a file NN Studio exported, which carries its project
(``nnstudio.core.export.embedded``: read as data, never run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nnstudio.core.importer.trace import Imported, ImportModelError, check_outputs, import_module

__all__ = ["Imported", "ImportModelError", "check_outputs", "import_module", "import_source"]


def import_source(source: str, input_shape: Any = None, weights: str | None = None, task: str = "multiclass",
                  announce: Callable[[str], None] | None = None) -> Imported:
    """Import ``source`` (see ``sources.parse_source``). ``input_shape``: a tuple or "3,224,224"; ``announce``
    hears, before a Python file runs, that it will (``sources.RUNS_CODE``)."""
    from nnstudio.core.importer import sources

    text = str(source)
    embedded = _embedded(text) if ":" not in Path(text).name or Path(text).is_file() else None
    if embedded is not None:
        return Imported(embedded, [f"{text} carries the project that exported it: reopened as it was",
                                   *embedded.load_warnings])
    if text.lower().endswith((".safetensors", ".pt2")):
        raise ImportModelError(f"{text} carries no NN Studio project: import the model's code (FILE.py:NAME) "
                               "with --weights FILE instead")
    kind, path, name = sources.parse_source(text)
    if kind == "onnx":
        from nnstudio.core.importer.onnx_graph import import_onnx

        return import_onnx(path, task=task)
    shape = _shape(input_shape)
    if kind == "python":
        if announce is not None:
            announce(sources.RUNS_CODE.format(path=path, name=Path(path).name))
        module = sources.module_from_python(path, name)
        label = name
    else:
        module = sources.module_from_torchvision(name)
        label = name
    if weights:
        sources.load_weights(module, weights)
    return import_module(module, shape, name=label, task=task)


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    from nnstudio.cli_import import parse_shape

    return parse_shape(value)


def _embedded(path: str) -> Any:
    """The project an exported file carries, or None (no such file, another kind, no project in it)."""
    p = Path(path)
    if p.suffix.lower() not in (".py", ".onnx", ".safetensors", ".pt2") or not p.is_file():
        return None
    try:
        from nnstudio.core.export.embedded import read_embedded
    except ImportError:  # pragma: no cover - an older build without embedded projects
        return None
    return read_embedded(p)
