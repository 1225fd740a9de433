"""The Qt-free heart of NN Studio: graph, layers, shapes, compiler, project files.

Nothing under this package may import PySide6, pyqtgraph or nnstudio.ui (a test checks it).
"""
