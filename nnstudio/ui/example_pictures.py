"""The pictures of the example networks on the start page: each example's graph drawn by the real canvas
(``GraphScene``, with its inferred shapes) offscreen into an image, saved beside the example as ``NAME.png``.

    QT_QPA_PLATFORM=offscreen python -m nnstudio.ui.example_pictures [FOLDER]    # default: resources/examples

Run it again when an example or the look of the canvas changes; the PNGs are committed (the start page shows
them before torch is imported, so it cannot draw them itself). A long chain is wrapped into rows, like a line
of text, so that the picture fills the card's shape; the file keeps its own layout.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from nnstudio.core.graph import Graph
from nnstudio.core.paths import EXAMPLES
from nnstudio.core.project import load_project
from nnstudio.core.shapes import infer_shapes
from nnstudio.ui.canvas import style
from nnstudio.ui.start_page import PICTURE_SIZE

SCALE = 2  # pixels per card pixel: sharp on a high-density screen, scaled down on others
MARGIN = 18.0  # scene units of background round the network
BAND_GAP = 46.0  # scene units between two rows of a wrapped chain
MAX_BYTES = 60_000


def columns_of(graph: Graph) -> list[list[str]]:
    """The graph's node ids by column (the distinct x positions, left to right)."""
    xs = sorted({round(n.position[0]) for n in graph.nodes.values()})
    index = {x: i for i, x in enumerate(xs)}
    out: list[list[str]] = [[] for _ in xs]
    for node in graph.nodes.values():
        out[index[round(node.position[0])]].append(node.id)
    return out


def crossings(graph: Graph, columns: list[list[str]]) -> list[int]:
    """``out[i]``: how many wires run from column i or before to a column after it (a cut there splits them)."""
    where = {nid: i for i, ids in enumerate(columns) for nid in ids}
    out = [0] * len(columns)
    for edge in graph.edges:
        a, b = sorted((where[edge.src], where[edge.dst]))
        for i in range(a, b):
            out[i] += 1
    return out


def cut_rows(n: int, rows: int, crossing: list[int]) -> list[tuple[int, int]]:
    """Columns 0..n-1 cut into about ``rows`` runs of similar length, each cut where the fewest wires cross (a
    residual branch stays on one row), then nearest the even length."""
    target = math.ceil(n / rows)
    out, start = [], 0
    while start < n:
        if n - start <= target:
            out.append((start, n))
            break
        lengths = range(1, min(target + max(1, target // 3), n - start) + 1)
        length = min(lengths, key=lambda k: (crossing[start + k - 1], abs(k - target), -k))
        out.append((start, start + length))
        start += length
    return out


def wrapped_positions(graph: Graph, aspect: float) -> dict[str, tuple[float, float]]:
    """Node positions with the columns cut into rows so that the drawing fits a picture of ``aspect`` (width /
    height) at the largest scale; within a row, as in the file."""
    columns = columns_of(graph)
    if not columns:
        return {}
    xs = sorted({round(n.position[0]) for n in graph.nodes.values()})
    dx = min((b - a for a, b in zip(xs, xs[1:])), default=style.NODE_W + 40)
    top = min(n.position[1] for n in graph.nodes.values())
    height = max(n.position[1] for n in graph.nodes.values()) - top + style.NODE_H
    crossing = crossings(graph, columns)
    best: tuple[float, list[tuple[int, int]]] | None = None
    for rows in range(1, len(columns) + 1):  # the fewest rows of the largest scale: full rows first
        cuts = cut_rows(len(columns), rows, crossing)
        width = (max(b - a for a, b in cuts) - 1) * dx + style.NODE_W + 2 * MARGIN
        total = len(cuts) * height + (len(cuts) - 1) * BAND_GAP + 2 * MARGIN
        scale = min(aspect / width, 1.0 / total)
        if best is None or scale > best[0] * 1.001:
            best = (scale, cuts)
    cuts = best[1] if best else [(0, len(columns))]
    out = {}
    for row, (a, b) in enumerate(cuts):
        for i in range(a, b):
            for nid in columns[i]:
                y = graph.nodes[nid].position[1] - top
                out[nid] = ((i - a) * dx, row * (height + BAND_GAP) + y)
    return out


def render(path: Path, width: int = PICTURE_SIZE.width() * SCALE,
           height: int = PICTURE_SIZE.height() * SCALE) -> QImage:
    """The picture of the example at ``path``: its network, wrapped to the picture's shape, on a transparent
    background, ``width`` x ``height`` pixels."""
    from PySide6.QtGui import QUndoStack

    from nnstudio.ui.canvas.scene import GraphScene

    project = load_project(path, weights=False, history=False)
    graph = project.graph
    for nid, position in wrapped_positions(graph, width / height).items():
        graph.nodes[nid].position = position
    scene = GraphScene()
    stack = QUndoStack()
    scene.set_graph(graph, stack)
    scene.set_info(infer_shapes(graph))
    source = scene.itemsBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    scene.render(painter, QRectF(0, 0, width, height), source, Qt.AspectRatioMode.KeepAspectRatio)
    painter.end()
    scene.clear()
    return image


def save_small(image: QImage, target: Path, limit: int = MAX_BYTES) -> int:
    """Save ``image`` as PNG at the highest compression; if that is over ``limit`` bytes, with 256 colours.
    Returns the file's size."""
    image.save(str(target), "PNG", 0)
    if target.stat().st_size > limit:
        image.convertToFormat(QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.ThresholdAlphaDither
                              ).save(str(target), "PNG", 0)
    return target.stat().st_size


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else EXAMPLES
    app = QApplication.instance() or QApplication(["example_pictures"])
    from nnstudio.ui.theme import light_palette

    app.setStyle("Fusion")
    app.setPalette(light_palette())  # one look for both themes: the card puts it on a light ground
    for path in sorted(folder.glob("*.nnstudio")):
        target = path.with_suffix(".png")
        size = save_small(render(path), target)
        print(f"{target}: {size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
