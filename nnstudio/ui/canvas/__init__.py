"""The node-editor canvas: GraphScene (items driven by graph events) and GraphView (zoom, pan, drops)."""

from nnstudio.ui.canvas.scene import GraphScene
from nnstudio.ui.canvas.view import GraphView

__all__ = ["GraphScene", "GraphView"]
