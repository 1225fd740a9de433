"""The pieces of the Predict panel that do not depend on the session: the drawing canvas, the table of
probabilities, picture files and arrays at the network's size, and what a network takes and gives (read from
the shapes already inferred)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from nnstudio.core.layers.base import LONG
from nnstudio.ui.safe_text import one_line

CANVAS_SIZE = 28
UNTRAINED = "Train the network first to try it"
UNSUPPORTED = "Predict needs 2-D points, images or text"
TRAINING = "Training is running: try the network when it ends"
UNKNOWN_WEIGHTS = "the saved weights cannot be checked against the network as it is now: train again to try it"
NOT_BUILT = "The network cannot be built as it is: see the Problems panel"
TEXT_NEEDS_DATA = "Predicting text needs the dataset's vocabulary"


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


def network_io(graph: Any, info: Any) -> tuple[list[Any], str, int] | None:
    """What the network takes and gives, from the shapes already inferred (nothing is built): the Inputs that
    feed the (first) Output, as TensorInfos, the Output's task and the number of scores; None when the network
    cannot be built as it is."""
    out_id = next((nid for nid, n in graph.nodes.items() if n.spec.is_output), None)
    if out_id is None or info is None or not info.ok:
        return None
    wires = graph.inputs_of(out_id)
    if not wires or info.nodes.get(wires[0].src) is None or info.nodes[wires[0].src].output is None:
        return None
    needed, todo = {out_id}, [out_id]
    while todo:
        for edge in graph.inputs_of(todo.pop()):
            if edge.src not in needed:
                needed.add(edge.src)
                todo.append(edge.src)
    inputs = [info.nodes[nid].output for nid in info.order if nid in needed and graph.nodes[nid].spec.is_input]
    scores = info.nodes[wires[0].src].output.shape
    return inputs, str(graph.nodes[out_id].params.get("task", "multiclass")), int(scores[-1]) if scores else 1


def class_names(io: Any, history: Any, data: Any) -> list[str]:
    """The names of the network's classes: the last run's (what the weights learnt), else the data's, when
    their number fits the outputs; else numbers."""
    if io is None:
        return []
    outputs = io[2]
    want = 2 if outputs == 1 else outputs
    saved = history.get("classes") if isinstance(history, dict) else None
    for names in (saved, list(data.classes) if data is not None and data.classes else None):
        if isinstance(names, list) and len(names) == want:
            return [str(n) for n in names]
    return [str(i) for i in range(max(2, outputs))]


def input_mode(io: Any, data: Any, has_vocab: bool, reason: str | None, session: Any) -> tuple[str, str]:
    """The Predict panel's mode ("message", "points", "image" or "text") for a network that takes and gives
    ``io`` (``network_io``), the loaded ``data`` (a Dataset or None) and why it cannot predict now
    (``reason``), and for "message" the words to show."""
    if reason == UNTRAINED:
        return "message", UNTRAINED
    if io is None:
        return "message", reason or NOT_BUILT
    inputs, task, _outputs = io
    if len(inputs) != 1 or task == "regression":
        return "message", UNSUPPORTED
    info = inputs[0]
    shape = tuple(info.shape)
    if info.dtype == LONG:
        if has_vocab:
            return "text", ""
        return "message", UNSUPPORTED if data is not None else f"{TEXT_NEEDS_DATA}: {data_situation(session)}"
    if shape == (2,) and (data is None or data.preview == "points2d"):
        return "points", ""
    if len(shape) == 3 and shape[0] in (1, 3):
        return "image", ""
    return "message", UNSUPPORTED


def data_situation(session: Any) -> str:
    """Why the session has no data to use, in a few words."""
    state = session.data_state
    if state == "failed":
        return f"the data could not be loaded: {session.data_error}"
    return {"none": "the project has no dataset", "invalid": "the dataset settings have problems",
            "cancelled": "loading the data was cancelled: reload them in the Dataset panel"}.get(
        state, "the data are being loaded")
