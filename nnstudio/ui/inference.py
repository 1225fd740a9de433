"""Keeps shapes, parameter counts and problems current: listens to the graph, re-infers once per burst of
edits (a macro such as paste or delete emits many events) and tells every view."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo, infer_shapes


class ShapeWatcher(QObject):
    """``inferred(GraphInfo)`` after every change of the graph (coalesced to one inference per event-loop
    turn). ``info`` is always the latest result."""

    inferred = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.info: GraphInfo | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)

    def set_graph(self, graph: Graph) -> None:
        if self.graph is not None:
            self.graph.changed.disconnect(self._on_changed)
        self.graph = graph
        graph.changed.connect(self._on_changed)
        self.refresh()

    def _on_changed(self) -> None:
        self._timer.start()

    def refresh(self) -> GraphInfo | None:
        """Infer now (tests and code that need the result at once call this directly)."""
        self._timer.stop()
        if self.graph is None:
            return None
        self.info = infer_shapes(self.graph)
        self.inferred.emit(self.info)
        return self.info
