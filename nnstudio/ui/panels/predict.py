"""Try a trained network by hand: click a point of a 2-D dataset, draw or load an image, or type a sentence,
and see the class probabilities the network gives it (sorted, most likely first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import torch
import torch.nn.functional as F
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.layers.base import LONG
from nnstudio.ui.safe_text import clean, one_line, plain

UNTRAINED = "Train the network first to try it"
UNSUPPORTED = "Predict needs 2-D points, images or text"
CANVAS_SIZE = 28
MODES = ("message", "points", "image", "text")
_MAX_POINTS = 3000


def choose_image_file(parent: QWidget | None) -> str:
    """Ask for an image file ("" when cancelled). Module-level so tests can replace it."""
    path, _ = QFileDialog.getOpenFileName(parent, "Load image", "",
                                          "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff);;All files (*)")
    return path


def image_file_array(path: str | Path, height: int, width: int) -> np.ndarray:
    """A picture file as an (height, width) float32 greyscale array in [0, 1]."""
    from PIL import Image

    with Image.open(path) as img:
        grey = img.convert("L").resize((width, height), Image.BILINEAR)
        return np.asarray(grey, dtype=np.float32) / 255.0


def resize_array(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D [0, 1] array. Shrinking averages areas and then stretches the result back to a peak of 1 (a
    thin stroke would otherwise fade: the bundled 8 x 8 digits have full-brightness strokes); growing is
    bilinear, as the bundled digits are grown to 28 x 28."""
    if a.shape == (height, width):
        return a.astype(np.float32)
    t = torch.from_numpy(a.astype(np.float32))[None, None]
    if height <= a.shape[0] and width <= a.shape[1]:
        out = F.interpolate(t, size=(height, width), mode="area")
        peak = float(out.max())
        if peak > 0:
            out = out / peak
    else:
        out = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
    return out.clamp_(0.0, 1.0)[0, 0].numpy()


class DrawCanvas(QWidget):
    """A square of ``size`` x ``size`` logical pixels, drawn white on black with the mouse (a soft round brush).
    ``drawn`` is emitted when a stroke ends (mouse release, ``draw_line``, ``clear``, ``set_array``)."""

    drawn = Signal()

    def __init__(self, size: int = CANVAS_SIZE, scale: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_px = size
        self.scale = scale
        self.brush_radius = 1.3
        self.pixels = np.zeros((size, size), dtype=np.float32)
        self._last: QPointF | None = None
        self.setFixedSize(size * scale, size * scale)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the mouse (white on black); the prediction updates when you let go")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.size_px * self.scale, self.size_px * self.scale)

    # -- drawing -------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.pixels[:] = 0.0
        self.update()
        self.drawn.emit()

    def set_array(self, a: np.ndarray) -> None:
        """Show a [0, 1] array (resized to the canvas)."""
        self.pixels = resize_array(np.asarray(a, dtype=np.float32), self.size_px, self.size_px).copy()
        self.update()
        self.drawn.emit()

    def array(self) -> np.ndarray:
        return self.pixels.copy()

    def _stamp(self, x: float, y: float) -> None:
        r = self.brush_radius
        ys, xs = np.mgrid[0:self.size_px, 0:self.size_px]
        d = np.hypot(xs + 0.5 - x, ys + 0.5 - y)
        ink = np.clip(1.0 - (d - r) / 1.0, 0.0, 1.0)  # full inside the radius, fading over one pixel
        np.maximum(self.pixels, ink.astype(np.float32), out=self.pixels)

    def _segment(self, x0: float, y0: float, x1: float, y1: float) -> None:
        steps = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) * 3)))
        for i in range(steps + 1):
            t = i / steps
            self._stamp(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
        self.update()

    def draw_line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Draw one stroke between two points in logical pixels (0 .. size) and end it (emits ``drawn``)."""
        self._segment(x0, y0, x1, y1)
        self.drawn.emit()

    def _logical(self, pos: QPointF) -> tuple[float, float]:
        return pos.x() / self.scale, pos.y() / self.scale

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position()
            x, y = self._logical(self._last)
            self._segment(x, y, x, y)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            pos = event.position()
            x0, y0 = self._logical(self._last)
            x1, y1 = self._logical(pos)
            self._segment(x0, y0, x1, y1)
            self._last = pos
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None and event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self.drawn.emit()
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        grey = (self.pixels * 255).clip(0, 255).astype(np.uint8)
        grey = np.ascontiguousarray(grey)
        image = QImage(grey.data, self.size_px, self.size_px, self.size_px, QImage.Format.Format_Grayscale8)
        painter = QPainter(self)
        painter.drawImage(QRectF(0, 0, self.width(), self.height()), image)
        painter.setPen(QColor("#555555"))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
        painter.end()


class ProbabilityTable(QTableWidget):
    """Class name, probability and a bar per class, most likely first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["Class", "Probability", ""])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def show_probabilities(self, probs: dict[str, float]) -> None:
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        self.setRowCount(len(ranked))
        for row, (name, p) in enumerate(ranked):
            self.setItem(row, 0, QTableWidgetItem(one_line(name, 200)))
            item = QTableWidgetItem(f"{p * 100:.1f} %")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, 1, item)
            bar = self.cellWidget(row, 2)
            if not isinstance(bar, QProgressBar):  # reuse the bars: replaced ones linger until deleted later
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setTextVisible(False)
                bar.setMaximumHeight(14)
                self.setCellWidget(row, 2, bar)
            bar.setValue(int(round(p * 1000)))

    def rows(self) -> list[tuple[str, str]]:
        return [(self.item(r, 0).text(), self.item(r, 1).text()) for r in range(self.rowCount())]


class PredictPanel(QWidget):
    """``set_project(project, base_dir)`` picks the input mode from the network's Input and the dataset;
    ``predict_point``, ``predict_image``, ``predict_text`` return ``{class name: probability}`` and show it."""

    predicted = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.base_dir: str | Path | None = None
        self.compiled: Any = None
        self.dataset: Any = None
        self.mode = "message"
        self.classes: list[str] = []
        self.vocab: list[str] | None = None
        self.input_shape: tuple[int, ...] = ()
        self.last_result: dict[str, float] = {}
        self._loaded: np.ndarray | None = None  # an image loaded from a file, at the network's H x W

        layout = QVBoxLayout(self)
        self.title = plain(QLabel("Predict"))  # names the project: plain text
        self.title.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.title)
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
        pl.addWidget(QLabel("Click anywhere in the plot to ask the network about that point."))
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
        pl.addWidget(self.point_label)
        self.stack.addWidget(points)

        # image page
        image = QWidget()
        il = QVBoxLayout(image)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(QLabel("Draw a digit (white on black) or load an image."))
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
        tl.addWidget(QLabel("Type a sentence:"))
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

    # -- project -------------------------------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.mode = "message"
        self.message.setText(clean(text, 2000))
        self.stack.setCurrentIndex(0)
        self.table.setVisible(False)
        self.error.setVisible(False)

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        self.stack.setCurrentIndex(MODES.index(mode))
        self.table.setVisible(True)
        self.table.setRowCount(0)
        self.error.setVisible(False)

    def set_project(self, project: Any, base_dir: str | Path | None = None) -> None:
        self.project = project
        self.base_dir = base_dir
        self.compiled = None
        self.dataset = None
        self.last_result = {}
        self._loaded = None
        if project is None or getattr(project, "weights", None) is None:
            self._show_message(UNTRAINED)
            return
        try:
            from nnstudio.core.compile import compile_graph
            from nnstudio.core.training.project_run import load_weights

            compiled = compile_graph(project.graph)
            load_weights(compiled, project.weights)
        except Exception as exc:  # noqa: BLE001 - any failure is shown, not raised
            self._show_message(f"Cannot run the network: {exc}")
            return
        self.compiled = compiled
        if len(compiled.input_infos) != 1 or compiled.task == "regression":
            self._show_message(UNSUPPORTED)
            return
        info = compiled.input_infos[0]
        self.input_shape = tuple(info.shape)
        try:
            from nnstudio.core.data.registry import load_dataset

            self.dataset = load_dataset(project.dataset, base_dir) if project.dataset else None
        except Exception as exc:  # noqa: BLE001
            self.dataset = None
            dataset_error = str(exc)
        else:
            dataset_error = ""
        n_out = int(compiled.output_info.shape[-1]) if compiled.output_info and compiled.output_info.shape else 1
        classes = list(self.dataset.classes) if self.dataset is not None and self.dataset.classes else []
        if not classes:
            classes = [str(i) for i in range(max(2, n_out))]
        self.classes = classes
        self.vocab = list(self.dataset.vocab) if self.dataset is not None and self.dataset.vocab else None
        preview = self.dataset.preview if self.dataset is not None else ""
        name = one_line(getattr(project, "name", "") or "the network", 120)
        if info.dtype == LONG:
            if self.vocab is None:
                self._show_message(UNSUPPORTED + (f" (the dataset could not be loaded: {dataset_error})"
                                                  if dataset_error else ""))
                return
            self._set_mode("text")
            self.title.setText(f"Predict with {name}: text")
            self.tokens_label.setText("")
            if self.text_edit.text():
                self.predict_text(self.text_edit.text())
        elif self.input_shape == (2,) and preview == "points2d":
            self._set_mode("points")
            self.title.setText(f"Predict with {name}: points")
            self._fill_points()
            self.marker.setData([], [])
            self.point_label.setText("")
        elif len(self.input_shape) == 3 and self.input_shape[0] in (1, 3):
            self._set_mode("image")
            self.title.setText(f"Predict with {name}: images {self.input_shape[1]} x {self.input_shape[2]}")
            if self.canvas.pixels.any():
                self.predict_image()
        else:
            self._show_message(UNSUPPORTED)

    def _fill_points(self) -> None:
        from nnstudio.ui.plots import class_color

        x = self.dataset.x[:_MAX_POINTS].numpy()
        y = self.dataset.y[:_MAX_POINTS].numpy().reshape(len(x), -1)[:, 0].astype(int)
        cache: dict[int, Any] = {}
        brushes = [cache.setdefault(int(v), pg.mkBrush(class_color(int(v)))) for v in y]
        self.scatter.setData(x=x[:, 0], y=x[:, 1], brush=brushes)
        self.plot.autoRange()

    # -- prediction ----------------------------------------------------------------------------------------
    def _probabilities(self, x: torch.Tensor) -> dict[str, float]:
        out = self.compiled.predict(x)[0].reshape(-1).double()
        if out.numel() == 1:
            p1 = float(out[0])
            names = self.classes if len(self.classes) == 2 else ["0", "1"]
            probs = {names[1]: p1, names[0]: 1.0 - p1}
        else:
            names = self.classes if len(self.classes) == out.numel() else [str(i) for i in range(out.numel())]
            probs = {names[i]: float(out[i]) for i in range(out.numel())}
        return dict(sorted(probs.items(), key=lambda kv: -kv[1]))

    def _run(self, x: torch.Tensor) -> dict[str, float]:
        if self.compiled is None:
            raise RuntimeError(UNTRAINED)
        try:
            probs = self._probabilities(x)
        except Exception as exc:  # noqa: BLE001
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
        if self.mode != "points" or event.button() != Qt.MouseButton.LeftButton:
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
        if self.mode == "image" and self.compiled is not None:
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
        path = choose_image_file(self)
        if path:
            self.load_image(path)

    def text_tensor(self, text: str) -> torch.Tensor:
        """Token ids as the dataset makes them: its words, ``<unk>`` for others, padded at the start."""
        from nnstudio.core.data.text import encode, tokenize

        length = int(self.input_shape[0]) if self.input_shape else 32
        ids = encode([tokenize(text)], self.vocab or ["<pad>", "<unk>"], length)
        limit = self.compiled.input_infos[0].vocab if self.compiled is not None else None
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
        if self.mode == "text" and self.compiled is not None:
            self.predict_text(text)
