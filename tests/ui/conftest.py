"""UI tests run headless: the offscreen platform must be chosen before the QApplication exists."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtGui import QUndoStack  # noqa: E402

from nnstudio.core.graph import Graph  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path):
    """A shown MainWindow with its settings and autosave in tmp_path; discarding unsaved work is the answer to
    every prompt and an error dialog fails the test. A module may define its own ``window`` instead."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from nnstudio.ui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), tmp_path / "autosave")
    w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    w.show_error = lambda title, message: pytest.fail(f"unexpected error dialog: {message}")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def open_window(qtbot, tmp_path):
    """``open_window(size=(1600, 1000), example="spiral_mlp", settings="s.ini")`` -> a shown MainWindow of that
    size with the example loaded (None: none), its settings in tmp_path/settings; unsaved work is discarded,
    training starts over when asked, and an error dialog fails the test."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from nnstudio.core.paths import EXAMPLES
    from nnstudio.ui.main_window import MainWindow

    def make(size=(1600, 1000), example: str | None = "spiral_mlp", settings: str = "s.ini"):
        w = MainWindow(QSettings(str(tmp_path / settings), QSettings.Format.IniFormat), tmp_path / "auto")
        w.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
        w.ask_continue = lambda epochs: "restart"
        w.show_error = lambda title, message: pytest.fail(f"unexpected error dialog: {message}")
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        if example:
            assert w.load_file(EXAMPLES / f"{example}.nnstudio")
        return w
    return make


@pytest.fixture
def stack(qapp):
    s = QUndoStack()
    yield s
    s.clear()


@pytest.fixture
def chain_graph() -> Graph:
    """Input -> Dense -> Dense -> Output, laid out left to right on the grid."""
    g = Graph()
    prev = None
    for i, (type_id, params) in enumerate([("input_vector", {"features": 4}), ("dense", {"units": 8}),
                                            ("dense", {"units": 3, "activation": "softmax"}),
                                            ("output", {"task": "multiclass"})]):
        node = g.add_node(type_id, params, position=(i * 240.0, 0.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    return g


class Canvas:
    """A shown GraphView on a GraphScene of ``graph`` at 100 % zoom, with a ShapeWatcher attached."""

    def __init__(self, qtbot, graph: Graph, stack: QUndoStack) -> None:
        from nnstudio.ui.canvas import GraphScene, GraphView
        from nnstudio.core.project.model import Project
        from nnstudio.core.session import Session
        from nnstudio.ui.inference import ShapeWatcher

        self.graph, self.stack = graph, stack
        self.scene = GraphScene()
        self.scene.set_graph(graph, stack)
        self.watcher = ShapeWatcher(Session(Project(graph=graph)))
        self.scene.attach(self.watcher)
        self.view = GraphView(self.scene)
        qtbot.addWidget(self.view)
        self.view.resize(1000, 500)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.view.centerOn(self.scene.nodes_rect().center() if graph.nodes else self.view.sceneRect().center())

    def to_view(self, scene_point):
        """Viewport coordinates of a scene point (what QTest mouse functions take)."""
        return self.view.mapFromScene(scene_point)

    def port(self, node_id: str, output: bool):
        item = self.scene.node_item(node_id)
        return item.out_port if output else item.in_port


@pytest.fixture
def make_canvas(qtbot, stack):
    """``make_canvas(graph)`` -> a shown Canvas of ``graph``."""
    return lambda graph: Canvas(qtbot, graph, stack)


@pytest.fixture
def canvas(make_canvas, chain_graph) -> Canvas:
    return make_canvas(chain_graph)


@pytest.fixture
def bound_dataset_panel(qtbot):
    """``bound_dataset_panel(session, size=(420, 800))`` -> a shown DatasetPanel bound to ``session`` (its edits
    go to the session) with a DataFeeder, once it shows the data's first settled state."""
    from nnstudio.ui.panels.dataset import DatasetPanel
    from nnstudio.ui.workers.data_feeder import DataFeeder

    def make(session, size=(420, 800)):
        p = DatasetPanel()
        qtbot.addWidget(p)
        p.dataset_edited.connect(session.set_dataset)
        p.resize(*size)
        p.show()
        with qtbot.waitSignal(p.loaded, timeout=10000):
            p.bind_session(session, DataFeeder(session, p))
        return p
    return make
