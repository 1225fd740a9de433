"""Drag-and-drop and clipboard formats shared by the palette, the canvas and the edit menu, and the clipboard's
copied layers."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

# A palette item being dragged: the payload is the layer's type id, UTF-8.
LAYER_MIME = "application/x-nnstudio-layer"
# Copied nodes with their internal wires: JSON of nnstudio.ui.commands.copy_nodes().
NODES_MIME = "application/x-nnstudio-nodes"


def put_nodes(clip: dict[str, Any]) -> None:
    """Put copied nodes (``commands.copy_nodes``) on the clipboard."""
    mime = QMimeData()
    mime.setData(NODES_MIME, json.dumps(clip).encode("utf-8"))
    QGuiApplication.clipboard().setMimeData(mime)


def copied_nodes() -> dict[str, Any] | str:
    """The copied nodes on the clipboard, or why there are none to paste."""
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None or not mime.hasFormat(NODES_MIME):
        return "The clipboard holds no layers to paste"
    try:
        clip = json.loads(bytes(mime.data(NODES_MIME)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        clip = None
    return clip if isinstance(clip, dict) else "The clipboard's layers cannot be read"
