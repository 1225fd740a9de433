"""Try a trained network by hand: click a point of a 2-D dataset, draw or load an image, or type a sentence,
and see the class probabilities the network gives it (sorted, most likely first). Only with weights trained on
the network as it is now (``session.weights_status == "current"``): never with stale ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core import weights_status
from nnstudio.core.data.transforms import normalize
from nnstudio.core.weights_status import OUT_OF_DATE_TEXT
from nnstudio.ui.binding import rebind
from nnstudio.ui.panels.predict_parts import (  # noqa: F401 - resize_array & co. are used from here too
    CANVAS_SIZE,
    NOT_BUILT,
    TEXT_NEEDS_DATA,
    TRAINING,
    UNKNOWN_WEIGHTS,
    UNSUPPORTED,
    UNTRAINED,
    DrawCanvas,
    ProbabilityTable,
    class_names,
    image_file_array,
    input_mode,
    network_io,
    resize_array,
)
from nnstudio.ui.safe_text import clean, one_line, plain

MODES = ("message", "points", "image", "text")
_MAX_POINTS = 3000
_STALE = object()  # the scatter shows nothing known: fill it again


def choose_image_file(parent: QWidget | None) -> str:
    """Ask for an image file ("" when cancelled). Module-level so tests can replace it."""
    path, _ = QFileDialog.getOpenFileName(parent, "Load image", "",
                                          "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff);;All files (*)")
    return path


class PredictPanel(QWidget):
    """A view of the window's Session (``bind_session``): the input mode comes from the network's Input (and
    the data's preview for 2-D points), the class names from the last run's history or the data, the points
    and the vocabulary from ``session.data``. It predicts only while ``session.weights_status`` is "current"
    and no run is active, with a model built from the project's graph and weights when first needed and dropped
    whenever they may have changed; otherwise the inputs are disabled under a banner that says why.
    ``predict_point``, ``predict_image``, ``predict_text`` return ``{class name: probability}`` and show it."""

    predicted = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: Any = None
        self.mode = "message"
        self.classes: list[str] = []
        self.vocab: list[str] | None = None
        self.input_shape: tuple[int, ...] = ()
        self.last_result: dict[str, float] = {}
        self._input: Any = None  # the Input's TensorInfo
        self._model: Any = None  # built for (_model_key): the graph's fingerprint and the weights object
        self._model_key: tuple[Any, Any] | None = None
        self._view: tuple[Any, ...] | None = None  # what the panel shows now (to skip refreshes that change nothing)
        self._view_data: Any = None
        self._points_of: Any = _STALE  # the data the scatter shows
        self._run_seen: tuple[bool, int] | None = None
        self._loaded: np.ndarray | None = None  # an image loaded from a file, at the network's H x W

        layout = QVBoxLayout(self)
        self.title = plain(QLabel("Predict"))  # names the project: plain text
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setWordWrap(True)  # a long project name takes a second line
        layout.addWidget(self.title)
        self.banner = plain(QLabel(""))  # why the network cannot be tried now
        self.banner.setObjectName("predictBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fcf3cf; color: #7d6608; padding: 4px;")
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)

        # message page
        self.message = plain(QLabel(UNTRAINED))
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.message)

        # points page
        points = QWidget()
        pl = QVBoxLayout(points)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(_hint("Click anywhere in the plot to ask the network about that point."))
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(220)
        self.plot.setAspectLocked(True)
        self.scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen(None))
        self.plot.addItem(self.scatter)
        self.marker = pg.ScatterPlotItem(size=14, symbol="x", pen=pg.mkPen("w", width=2), brush=pg.mkBrush("w"))
        self.plot.addItem(self.marker)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        pl.addWidget(self.plot, 1)
        self.point_label = plain(QLabel(""))
        self.point_label.setWordWrap(True)
        pl.addWidget(self.point_label)
        self.stack.addWidget(points)

        # image page
        image = QWidget()
        il = QVBoxLayout(image)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(_hint("Draw a digit (white on black) or load an image."))
        self.canvas = DrawCanvas()
        self.canvas.drawn.connect(self._on_drawn)
        il.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignHCenter)
        buttons = QHBoxLayout()
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.load_button = QPushButton("Load image...")
        self.load_button.clicked.connect(self._on_load_clicked)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.load_button)
        buttons.addStretch(1)
        il.addLayout(buttons)
        il.addStretch(1)
        self.stack.addWidget(image)

        # text page
        text = QWidget()
        tl = QVBoxLayout(text)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(_hint("Type a sentence:"))
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("e.g. not good at all")
        self.text_edit.textChanged.connect(self._on_text_changed)
        self.text_edit.returnPressed.connect(lambda: self._on_text_changed(self.text_edit.text()))
        tl.addWidget(self.text_edit)
        self.tokens_label = plain(QLabel(""))
        self.tokens_label.setWordWrap(True)
        self.tokens_label.setStyleSheet("color: gray;")
        tl.addWidget(self.tokens_label)
        tl.addStretch(1)
        self.stack.addWidget(text)

        self.table = ProbabilityTable()
        self.table.setMinimumHeight(120)
        layout.addWidget(self.table, 1)
        self.error = plain(QLabel(""))
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e15759;")
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self._show_message(UNTRAINED)

    # -- the session -------------------------------------------------------------------------------------------
    def bind_session(self, session: Any) -> None:
        """Show ``session`` (a ``nnstudio.core.session.Session``) from now on."""
        rebind(self.session, session, self._handlers())
        self.session = session
        self._project_replaced()

    def _handlers(self) -> list[tuple[str, Any]]:
        return [("project_replaced", self._project_replaced), ("weights_status_changed", self._weights_changed),
                ("run_state_changed", self._run_changed), ("telemetry_changed", self._drop_model),
                ("data_changed", self._refresh), ("shapes_changed", self._refresh)]

    def _project_replaced(self, _project: Any = None) -> None:
        self._drop_model()
        self._loaded, self._points_of, self._view, self._view_data = None, _STALE, None, None
        self.last_result = {}
        self.marker.setData([], [])
        self.point_label.setText("")
        self._refresh()

    def _weights_changed(self, _status: Any = None) -> None:
        self._drop_model()
        self._refresh()

    def _run_changed(self, run: Any = None) -> None:
        run = self.session.run
        seen = (run.active, run.run)
        if seen == self._run_seen:
            return  # progress of the same run: nothing here changes
        self._run_seen = seen
        self._drop_model()  # a run stores new weights, which may be "current" as the old ones were
        self._refresh()

    def _drop_model(self, _value: Any = None) -> None:
        self._model, self._model_key = None, None

    @property
    def compiled(self) -> Any:
        """The model built for the project's weights (None until a prediction needs it)."""
        return self._model

    def reason(self) -> str | None:
        """Why the network cannot be tried now (None: it can)."""
        s = self.session
        if s is None:
            return UNTRAINED
        if s.run.active:
            return TRAINING
        status = s.weights_status
        if status == weights_status.CURRENT:
            return None
        return {weights_status.OUT_OF_DATE: OUT_OF_DATE_TEXT, weights_status.UNKNOWN: UNKNOWN_WEIGHTS}.get(
            status, UNTRAINED)

    @property
    def available(self) -> bool:
        return self.mode != "message" and self.reason() is None

    def prediction_enabled(self) -> bool:
        return self.available

    def banner_text(self) -> str:
        """Why predicting is disabled now ("" when it is not), as the banner or the message page says it."""
        return self.reason() or ""

    def title_text(self) -> str:
        return self.title.text()

    # -- what is shown -----------------------------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.mode = "message"
        self.message.setText(clean(text, 2000))
        self.stack.setCurrentIndex(0)
        self.table.setVisible(False)
        self.error.setVisible(False)

    def _refresh(self, _value: Any = None) -> None:
        """Show the session as it is now (skipped when nothing the panel shows has changed)."""
        s = self.session
        if s is None:
            return
        io = network_io(s.graph, s.info)
        data = self._data()
        self.vocab = list(data.vocab) if data is not None and data.vocab else None
        self.classes = class_names(io, s.project.history, data)
        reason = self.reason()
        mode, text = input_mode(io, data, self.vocab is not None, reason, s)
        name = one_line(s.project.name or "the network", 120)
        shape = tuple(io[0][0].shape) if io is not None and len(io[0]) == 1 else ()
        title = {"points": f"Predict with {name}: points", "text": f"Predict with {name}: text",
                 "image": f"Predict with {name}: images {shape[1:] and ' x '.join(map(str, shape[1:]))}"}.get(
            mode, f"Predict with {name}" if s.graph.nodes else "Predict")
        view = (mode, text, reason, shape, tuple(self.classes), title)
        if view == self._view and data is self._view_data:
            return
        self._view, self._view_data = view, data
        self.title.setText(title)
        self._input = io[0][0] if mode != "message" else None
        self.input_shape = shape
        self.banner.setText(clean(reason or "", 2000))
        self.banner.setVisible(bool(reason) and text != reason)
        if mode == "message":
            self.last_result = {}
            self._show_message(text)
            return
        if self.mode != mode:
            self.mode = mode
            self.stack.setCurrentIndex(MODES.index(mode))
            self.table.setRowCount(0)
            self.error.setVisible(False)
        self.table.setVisible(True)
        page = self.stack.currentWidget()
        page.setEnabled(reason is None)
        if reason is not None:  # nothing predicted before may stay on screen
            self.last_result = {}
            self.table.setRowCount(0)
            self.error.setVisible(False)
            self.marker.setData([], [])
            self.point_label.setText("")
            self.tokens_label.setText("")
        if mode == "points":
            if self._points_of is not data:
                self._fill_points(data)
        elif reason is None:  # (again) available: show what the inputs hold, with the names as they are now
            if mode == "text" and self.text_edit.text():
                self.predict_text(self.text_edit.text())
            elif mode == "image" and self.canvas.pixels.any():
                self.predict_image()

    def _data(self) -> Any:
        """The loaded data as one Dataset (the training part of a split), or None."""
        s = self.session
        if s is None or s.data_state != "loaded" or s.data is None:
            return None
        return getattr(s.data, "train", s.data)

    def _fill_points(self, data: Any) -> None:
        from nnstudio.ui.plots import class_color

        self._points_of = data
        split = self.session.data if data is not None else None
        parts = [p for p in (getattr(split, "train", split), getattr(split, "val", None),
                             getattr(split, "test", None)) if p is not None and not p.streamed]
        if not parts:
            self.scatter.setData(x=[], y=[])
            return
        x = torch.cat([p.x for p in parts])[:_MAX_POINTS].numpy()
        y = torch.cat([p.y for p in parts])[:_MAX_POINTS].numpy().reshape(len(x), -1)[:, 0].astype(int)
        cache: dict[int, Any] = {}
        brushes = [cache.setdefault(int(v), pg.mkBrush(class_color(int(v)))) for v in y]
        self.scatter.setData(x=x[:, 0], y=x[:, 1], brush=brushes)
        self.plot.autoRange()

    # -- prediction ----------------------------------------------------------------------------------------
    def _model_now(self) -> Any:
        """The model for the project's graph and weights as they are now (built when first needed)."""
        s = self.session
        key = (s.fingerprint, s.project.weights)
        if self._model is None or self._model_key is None or self._model_key[0] != key[0] \
                or self._model_key[1] is not key[1]:
            from nnstudio.core.compile import compile_graph
            from nnstudio.core.training.project_run import load_weights

            self._drop_model()
            compiled = compile_graph(s.project.graph)
            load_weights(compiled, s.project.weights)
            self._model, self._model_key = compiled, key
        return self._model

    def _probabilities(self, model: Any, x: torch.Tensor) -> dict[str, float]:
        out = model.predict(x)[0].reshape(-1).double()
        if out.numel() == 1:
            p1 = float(out[0])
            names = self.classes if len(self.classes) == 2 else ["0", "1"]
            probs = {names[1]: p1, names[0]: 1.0 - p1}
        else:
            names = self.classes if len(self.classes) == out.numel() else [str(i) for i in range(out.numel())]
            probs = {names[i]: float(out[i]) for i in range(out.numel())}
        return dict(sorted(probs.items(), key=lambda kv: -kv[1]))

    def _run(self, x: torch.Tensor) -> dict[str, float]:
        if not self.available:
            raise RuntimeError(self.reason() or self.message.text())
        history = self.session.project.history if self.session is not None else None
        try:
            if x.dim() == 4 and isinstance(history, dict):  # images as the run saw them (its normalize figures)
                x = normalize(x, history.get("normalize"))
            probs = self._probabilities(self._model_now(), x)
        except Exception as exc:  # noqa: BLE001 - any failure is shown, not raised
            self.error.setText(clean(f"Prediction failed: {exc}", 2000))
            self.error.setVisible(True)
            return {}
        self.error.setVisible(False)
        self.last_result = probs
        self.table.show_probabilities(probs)
        self.predicted.emit(probs)
        return probs

    def predict_point(self, x: float, y: float) -> dict[str, float]:
        """Class probabilities at the point (x, y); marks it in the plot."""
        self.marker.setData([x], [y])
        probs = self._run(torch.tensor([[float(x), float(y)]], dtype=torch.float32))
        if probs:
            best = next(iter(probs))
            self.point_label.setText(one_line(f"({x:.3g}, {y:.3g}): most likely {best} ({probs[best] * 100:.1f} %)",
                                              400))
        return probs

    def _on_plot_clicked(self, event: Any) -> None:
        if self.mode != "points" or not self.available or event.button() != Qt.MouseButton.LeftButton:
            return
        view = self.plot.getPlotItem().vb
        pos = event.scenePos()
        if not view.sceneBoundingRect().contains(pos):
            return
        point = view.mapSceneToView(pos)
        event.accept()
        self.predict_point(point.x(), point.y())

    def image_tensor(self) -> torch.Tensor:
        """The canvas (or the loaded image) as the network's (1, C, H, W) input in [0, 1]."""
        c, h, w = self.input_shape
        if self._loaded is not None:
            a = self._loaded
        else:
            a = resize_array(self.canvas.array(), h, w)
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]
        return t.repeat(1, c, 1, 1)

    def predict_image(self) -> dict[str, float]:
        return self._run(self.image_tensor())

    def _on_drawn(self) -> None:
        self._loaded = None
        if self.mode == "image" and self.available:
            self.predict_image()

    def load_image(self, path: str | Path) -> dict[str, float]:
        """Load a picture file (greyscale, resized to the Input's H x W) and predict it."""
        c, h, w = self.input_shape
        try:
            a = image_file_array(path, h, w)
        except Exception as exc:  # noqa: BLE001
            self.error.setText(clean(f"Cannot load {Path(path).name}: {exc}", 2000))
            self.error.setVisible(True)
            return {}
        self.canvas.set_array(a)  # shows it (and clears _loaded through drawn)
        self._loaded = a
        return self.predict_image()

    def _on_load_clicked(self) -> None:
        path = choose_image_file(self) if self.mode == "image" and self.available else ""
        if path:
            self.load_image(path)

    def text_tensor(self, text: str) -> torch.Tensor:
        """Token ids as the dataset makes them: its words, ``<unk>`` for others, padded at the start."""
        from nnstudio.core.data.text import encode, tokenize

        length = int(self.input_shape[0]) if self.input_shape else 32
        ids = encode([tokenize(text)], self.vocab or ["<pad>", "<unk>"], length)
        limit = self._input.vocab if self._input is not None else None
        if limit:
            ids = torch.where(ids >= int(limit), torch.ones_like(ids), ids)
        return ids

    def predict_text(self, text: str) -> dict[str, float]:
        from nnstudio.core.data.text import tokenize

        tokens = tokenize(text)
        index = set(self.vocab or [])
        unknown = [t for t in tokens if t not in index]
        self.tokens_label.setText(clean(f"{len(tokens)} words" + (f"; not in the vocabulary: {', '.join(unknown[:8])}"
                                                                  if unknown else ""), 1000))
        return self._run(self.text_tensor(text))

    def _on_text_changed(self, text: str) -> None:
        if self.mode == "text" and self.available:
            self.predict_text(text)


def _hint(text: str) -> QLabel:
    """A line saying what to do, wrapped in a narrow dock."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label
