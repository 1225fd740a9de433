"""Tells the session of graph edits, once per burst (a macro such as paste or delete emits many events), and
hands its inferred shapes to the Qt views that want a signal."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from nnstudio.core.graph import Graph
from nnstudio.core.session import Session
from nnstudio.core.shapes import GraphInfo


class ShapeWatcher(QObject):
    """Follows ``session``'s graph: every burst of ``graph.changed`` becomes one ``session.graph_edited()``
    (coalesced to one per event-loop turn). ``inferred(GraphInfo)`` after each of them, and on ``announce``
    after a project replaced the graph (labels are not in the GraphInfo: a view of them listens here, not to the session's
    ``shapes_changed``). ``info`` is always the session's latest result."""

    inferred = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._graph: Graph | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        session.project_replaced.connect(self._on_replaced)
        self._follow(session.graph)

    @property
    def graph(self) -> Graph:
        return self.session.graph

    @property
    def info(self) -> GraphInfo:
        return self.session.info

    @property
    def pending(self) -> bool:
        """An edit the session has not been told of yet (it is, at the next turn of the event loop)."""
        return self._timer.isActive()

    def _follow(self, graph: Graph) -> None:
        if self._graph is not None:
            self._graph.changed.disconnect(self._on_changed)
        self._graph = graph
        graph.changed.connect(self._on_changed)

    def _on_replaced(self, _project=None) -> None:
        self._timer.stop()  # edits of the old graph are gone with it
        self._follow(self.session.graph)

    def announce(self) -> None:
        """Hand the session's shapes to the views (the document does, once they are bound to a new graph)."""
        self.inferred.emit(self.session.info)

    def _on_changed(self, *_args) -> None:
        self._timer.start()

    def refresh(self) -> GraphInfo:
        """Tell the session now (tests and code that need the result at once call this directly)."""
        self._timer.stop()
        self.session.graph_edited()
        self.inferred.emit(self.session.info)
        return self.session.info
