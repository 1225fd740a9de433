"""File > Export...: ask where and in which format, export the project, and say what went wrong or what to know.

    result = export_project_interactively(window, project, "spiral_mlp")

The questions go through two module-level functions, :func:`ask_export_path` (the save dialog) and
:func:`show_message` (a message box), so tests replace them instead of running a blocking dialog. The format is
the one the file's extension names (``.py``, ``.safetensors``, ``.onnx``, ``.pt2``: a torch.export program); a
name without one of those gets the extension of the file type chosen in the dialog.

The network is checked first (:func:`export_problems`: its own problems, then whether this computer can hold
it): a network that cannot be exported gets one message listing why, a line each, and no file dialog.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from nnstudio.core.errors import NNStudioError
from nnstudio.core.export import FORMATS, ExportResult, export
from nnstudio.core.project.model import Project
from nnstudio.core.weights_status import EXPORT_OUT_OF_DATE as STALE_WEIGHTS
from nnstudio.core.weights_status import OUT_OF_DATE
from nnstudio.ui.error_report import reason
from nnstudio.ui.safe_text import message_box, one_line, safe_stem

log = logging.getLogger(__name__)
TITLE = "Export"
# format -> the dialog's file type (the order is the dialog's order; the first is the default)
FILTERS = {
    "py": "PyTorch script (*.py)",
    "safetensors": "Weights, safetensors (*.safetensors)",
    "onnx": "ONNX model (*.onnx)",
    "pt2": "PyTorch program, torch.export (*.pt2)",
}
DEFAULT_FORMAT = "py"


def ask_export_path(parent: QWidget | None, suggested: str, filters: str, selected_filter: str) -> tuple[str, str]:
    """The save dialog: (path, chosen file type), ("", "") when cancelled. Tests replace this function."""
    path, chosen = QFileDialog.getSaveFileName(parent, "Export Project", suggested, filters, selected_filter)
    return path, chosen


def show_message(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, details: str = "") -> None:
    """A modal message box, all plain text (an error quoting a file is shown, never rendered). Tests replace
    this function."""
    message_box(parent, icon, title, text, details).exec()


def resolve_target(path: str | os.PathLike[str], chosen_filter: str) -> tuple[Path, str]:
    """The file to write and its format: the extension decides when it names a format; otherwise the chosen
    file type does, and its extension is added to the name."""
    path = Path(path)
    for fmt, ext in FORMATS.items():
        if path.suffix.lower() == ext:
            return path, fmt
    fmt = next((f for f, text in FILTERS.items() if text == chosen_filter), DEFAULT_FORMAT)
    return path.with_name(path.name + FORMATS[fmt]), fmt


MAX_LISTED = 12  # problems listed in the message; the Problems panel has them all


def export_problems(project: Project) -> list[str]:
    """Why ``project``'s network cannot be exported, one line each (empty when it can): the network's own
    problems (as the Problems panel lists them, on the layer's name), else not enough memory to build it."""
    from nnstudio.core.shapes import infer_shapes

    graph = project.graph
    problems = infer_shapes(graph).problems()
    if problems:
        return [f"{graph.nodes[p.node_id].title}: {p.message}" if p.node_id in graph.nodes else p.message
                for p in problems]
    from nnstudio.core.memory import check_fits

    try:
        check_fits(graph, None, "cpu", what="export")
    except NNStudioError as exc:  # NotEnoughMemoryError
        return [str(exc)]
    return []


def problems_text(problems: list[str]) -> str:
    """The message for a network that cannot be exported: what to do, then the problems, one line each."""
    lines = [f"• {one_line(p, 300)}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"… and {len(problems) - MAX_LISTED:,} more: see the Problems panel")
    what = "this problem" if len(problems) == 1 else f"these {len(problems)} problems"
    return f"The network cannot be exported yet. Fix {what} first:\n\n" + "\n".join(lines)


def export_project_interactively(parent: QWidget | None, project: Project, suggested_name: str,
                                 start_dir: str | os.PathLike[str] | None = None,
                                 format: str | None = None, weights_status: str | None = None) -> ExportResult | None:
    """Ask for a file, export ``project`` there and report: the ExportResult, or None when the person cancelled
    or the export failed (the reason was shown). Warnings (an untrained network, weights trained on an earlier
    version of the network: ``weights_status`` "out_of_date" ...) are shown after a successful export. A network
    with problems is not asked about: the problems are shown (:func:`export_problems`) and None returned."""
    problems = export_problems(project)
    if problems:
        show_message(parent, QMessageBox.Icon.Warning, TITLE, problems_text(problems))
        return None
    fmt = format if format in FORMATS else DEFAULT_FORMAT
    stem = safe_stem(suggested_name)
    suggested = str(Path(start_dir) / f"{stem}{FORMATS[fmt]}") if start_dir else f"{stem}{FORMATS[fmt]}"
    path, chosen = ask_export_path(parent, suggested, ";;".join(FILTERS.values()), FILTERS[fmt])
    if not path:
        return None
    target, fmt = resolve_target(path, chosen or FILTERS[fmt])
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        result = export(project, target, fmt, base_dir=start_dir)
    except NNStudioError as exc:  # ExportError and the graph / training errors under it: a plain message
        _restore_cursor()
        show_message(parent, QMessageBox.Icon.Critical, "Export failed", f"Cannot export to {target}.",
                     str(exc))
        return None
    except OSError as exc:  # a folder that is not writable, a full disk ...
        _restore_cursor()
        show_message(parent, QMessageBox.Icon.Critical, "Export failed", f"Cannot write {target}.",
                     exc.strerror or str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - anything a project can cause is one line, never a traceback
        _restore_cursor()
        log.error("exporting to %s failed", target, exc_info=exc)
        show_message(parent, QMessageBox.Icon.Critical, "Export failed", f"Cannot export to {target}.",
                     reason(exc))
        return None
    _restore_cursor()
    warnings = list(result.warnings)
    if weights_status == OUT_OF_DATE and fmt != "py":  # the script carries no weights
        warnings.append(STALE_WEIGHTS)
    if warnings:
        lines = [f"• {w}" for w in warnings] + [f"• {n}" for n in result.notes]
        what = "a warning" if len(warnings) == 1 else "warnings"
        show_message(parent, QMessageBox.Icon.Warning, TITLE, f"Exported {result.path.name}, with {what}:",
                     "\n".join(lines))
    return result


def _restore_cursor() -> None:
    if QApplication.overrideCursor() is not None:
        QApplication.restoreOverrideCursor()


__all__ = ["FILTERS", "ask_export_path", "export_problems", "export_project_interactively", "problems_text",
           "resolve_target", "show_message"]


def export_from_window(window) -> None:
    """File > Export…: the window's project, named after its file, with the weights' status."""
    doc = window.document
    result = export_project_interactively(
        window, doc.project, doc.path.stem if doc.path else (doc.project.name or "model"),
        start_dir=doc.path.parent if doc.path else None, weights_status=window.session.weights_status)
    if result:
        window.show_status(f"Exported {result.path.name}", 5000)
