"""Saving what the dashboard shows: a plot as PNG (a picture of the widget, as a person sees it) and the training
history as CSV (one row per epoch). Every file dialog goes through :func:`ask_save_path`, which tests patch."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

PNG_FILTER = "PNG image (*.png)"
CSV_FILTER = "CSV table (*.csv)"


def ask_save_path(parent: QWidget | None, caption: str, suggested: str, file_filter: str) -> str | None:
    """The one file dialog of the plots: a path chosen by the user, or None when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, caption, suggested, file_filter)
    return path or None


def _with_suffix(path: str | Path, suffix: str) -> Path:
    p = Path(path)
    return p if p.suffix.lower() == suffix else p.with_name(p.name + suffix)


def save_png(widget: QWidget, path: str | Path) -> Path:
    """A picture of ``widget`` as it looks on screen; raises OSError when it cannot be written."""
    target = _with_suffix(path, ".png")
    if not widget.grab().save(str(target), "PNG"):
        raise OSError(f"could not write the image {target}: check the folder exists and can be written to")
    return target


def history_rows(history: dict[str, Any] | Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Epoch rows from a project's history dict ({"epochs": [...]}) or from a list of rows. A history from a file
    may have any shape: what is not a list of objects gives no rows."""
    if isinstance(history, dict):
        history = history.get("epochs", [])
    if history is None or isinstance(history, (str, bytes, dict)) or not isinstance(history, Iterable):
        return []
    return [{str(k): v for k, v in r.items()} for r in history if isinstance(r, dict)]


def history_csv(history: dict[str, Any] | Iterable[dict[str, Any]] | None) -> str:
    """CSV text: a header (epoch first, then every column in the order it first appears) and one row per
    epoch; a value an epoch lacks is left empty."""
    rows = history_rows(history)
    columns: list[str] = ["epoch"]
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def save_history_csv(history: dict[str, Any] | Iterable[dict[str, Any]] | None, path: str | Path) -> Path:
    target = _with_suffix(path, ".csv")
    target.write_text(history_csv(history), encoding="utf-8")
    return target


def save_png_dialog(parent: QWidget | None, widget: QWidget, suggested: str) -> Path | None:
    """Ask where, then save ``widget`` as PNG; None when cancelled."""
    path = ask_save_path(parent, "Save plot as PNG", suggested, PNG_FILTER)
    return save_png(widget, path) if path else None


def save_csv_dialog(parent: QWidget | None, history: Any, suggested: str = "history.csv") -> Path | None:
    path = ask_save_path(parent, "Save training history as CSV", suggested, CSV_FILTER)
    return save_history_csv(history, path) if path else None
