"""Exporting a project: a standalone PyTorch script, safetensors weights, an ONNX model or a torch.export program.

    export_python(project, "model.py")            one readable .py file, no nnstudio import; it carries its
                                                  data (a bundled set's file is written beside it)
    export_weights(project, "model.safetensors")  the weights that file (and the app) loads
    export_onnx(project, "model.onnx")            needs the optional extra: pip install nnstudio[onnx]
    export_pt2(project, "model.pt2")              a torch.export program: torch.export.load(path).module()
    export(project, path, format=None)            any of them; the format defaults to path's extension

Each returns an ExportResult (the path written and warnings to show) or raises ExportError (a plain
message). ONNX support is imported only when ONNX export is asked for.

Every export carries the project itself (``embedded``): ``read_embedded(path)`` gives back the Project a .py,
.onnx, .safetensors or .pt2 export was written from (None when the file carries none), reading a script as
text and never running it.
"""

from __future__ import annotations

import os
from pathlib import Path

from nnstudio.core.export.common import ExportError, ExportResult
from nnstudio.core.project.model import Project

# format -> file extension
FORMATS = {"py": ".py", "safetensors": ".safetensors", "onnx": ".onnx", "pt2": ".pt2"}


def export_python(project: Project, path: str | os.PathLike[str],
                  base_dir: str | os.PathLike[str] | None = None) -> ExportResult:
    from nnstudio.core.export.python_code import export_python as run

    return run(project, path, base_dir)


def export_weights(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    from nnstudio.core.export.weights import export_weights as run

    return run(project, path)


def export_onnx(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    from nnstudio.core.export.onnx import export_onnx as run

    return run(project, path)


def export_pt2(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    from nnstudio.core.export.pt2 import export_pt2 as run

    return run(project, path)


def read_embedded(path: str | os.PathLike[str]) -> Project | None:
    """The project an exported .py, .onnx, .safetensors or .pt2 file carries (None when none); ProjectFileError
    when it is damaged. A script is read as text, never run."""
    from nnstudio.core.export.embedded import read_embedded as run

    return run(path)


def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format asked for, or the one ``path``'s extension names; ExportError when neither says."""
    if format is not None:
        if format not in FORMATS:
            raise ExportError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    for name, ext in FORMATS.items():
        if suffix == ext:
            return name
    raise ExportError(f"cannot tell the export format from {Path(path).name!r}: give --format "
                      f"({', '.join(FORMATS)}) or an output ending in {', '.join(FORMATS.values())}")


def export(project: Project, path: str | os.PathLike[str], format: str | None = None,
           base_dir: str | os.PathLike[str] | None = None) -> ExportResult:
    """Export ``project`` to ``path`` in ``format`` (py, safetensors, onnx or pt2; default: the extension). A
    network this computer cannot hold is refused before anything is built (memory.NotEnoughMemoryError).
    ``base_dir`` (the project file's folder) is where the Python script's relative data paths start."""
    from nnstudio.core.memory import check_fits

    chosen = format_for(path, format)
    check_fits(project.graph, None, "cpu", what="export")
    if chosen == "py":
        return export_python(project, path, base_dir)
    runner = {"safetensors": export_weights, "onnx": export_onnx, "pt2": export_pt2}[chosen]
    return runner(project, path)


__all__ = ["FORMATS", "ExportError", "ExportResult", "export", "export_onnx", "export_pt2", "export_python",
           "export_weights", "format_for", "read_embedded"]
