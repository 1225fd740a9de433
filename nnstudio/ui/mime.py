"""Drag-and-drop and clipboard formats shared by the palette, the canvas and the edit menu."""

# A palette item being dragged: the payload is the layer's type id, UTF-8.
LAYER_MIME = "application/x-nnstudio-layer"
# Copied nodes with their internal wires: JSON of nnstudio.ui.commands.copy_nodes().
NODES_MIME = "application/x-nnstudio-nodes"
