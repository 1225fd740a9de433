"""The canvas widget: a QGraphicsView with a subtle grid, wheel zoom under the cursor, panning with the middle
button, Space + drag, Shift + wheel or the arrow keys, fit-to-view, drops of palette layers (into the wire under
the cursor, which lights up before the drop; Alt drops beside it), and a hint on what to do while the canvas is
empty.

Fit never zooms out below ``style.MIN_READABLE_ZOOM`` (the zoom at which a node's title reads): a network too
big for the viewport at that zoom is shown from its start (its inputs) or from the selection, and the rest is
scrolled to. As the Train workspace's overview (``set_overview``) the view fits the whole network whatever the
zoom: its nodes then show their larger, simpler face (type and output shape) with the health tints."""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QCursor, QFont, QKeyEvent, QPainter, QPen, QTransform, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsView, QLabel

from nnstudio.ui.canvas import style
from nnstudio.ui.canvas.layout import fit_zoom
from nnstudio.ui.canvas.scene import GraphScene
from nnstudio.ui.mime import LAYER_MIME

WORLD = style.WORLD  # the scrollable area: large enough that panning never hits an edge near the network
ROOM = 10_000.0  # room kept around the nodes when the area grows to hold nodes far out
ZOOM_STEP = 1.25
EMPTY_HINT = ("Drag a layer from the Layers panel or double-click it to add it\n"
              "\u2014 or open an example: File > Open Example\u2026")


class GraphView(QGraphicsView):
    def __init__(self, scene: GraphScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, False)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSceneRect(world_rect())
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._space = False
        self.overview = False  # fit shows the whole network, below the readable zoom if it must
        self._pan_from: QPointF | None = None
        # True from a fit until the person zooms or scrolls: till then a resized canvas fits again, so a window
        # made smaller (or larger) keeps the whole network in view rather than a cut-off corner of it
        self.follows_fit = False
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._taken_over)  # a scroll bar moved by hand (not by setValue)
        self._was_empty: bool | None = None
        self._banner = QLabel("Locked while training \u2014 stop training to edit", self)
        self._banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._banner.setWordWrap(True)  # a narrow canvas (an overview strip) gets two lines, never a cut one
        self._banner.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._banner.setStyleSheet(
            "QLabel { background: rgba(214, 140, 20, 225); color: white; font-weight: bold;"
            " border-radius: 6px; padding: 4px 12px; }")
        self._banner.hide()
        scene.locked_changed.connect(self._on_locked_changed)
        scene.extent_changed.connect(self.update_scene_rect)
        self._on_locked_changed(scene.locked)
        self.update_scene_rect()

    def graph_scene(self) -> GraphScene:
        return self.scene()  # type: ignore[return-value]

    # -- zoom and pan ---------------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor`` within the zoom limits, keeping the scene point under ``anchor`` (viewport
        coordinates; default the centre) where it is."""
        self.follows_fit = False
        current = self.zoom()
        target = min(style.MAX_ZOOM, max(style.MIN_ZOOM, current * factor))
        if math.isclose(target, current):
            return
        if anchor is None:
            self.scale(target / current, target / current)
            return
        before = self.mapToScene(anchor.toPoint())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(target / current, target / current)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        after = self.mapToScene(anchor.toPoint())
        self._scroll_by_scene(before - after)

    def _scroll_by_scene(self, delta: QPointF) -> None:
        z = self.zoom()
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(delta.x() * z))
        v.setValue(v.value() + round(delta.y() * z))

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def reset_zoom(self) -> None:
        self.zoom_by(1.0 / self.zoom())

    def update_scene_rect(self) -> None:
        """The scrollable area: WORLD around the origin, grown to hold every node with ROOM around it (so each
        node of a file can be scrolled to, however far out the file placed it)."""
        rect = world_rect()
        nodes = self.graph_scene().nodes_rect()
        if not nodes.isNull():
            needed = nodes.adjusted(-ROOM, -ROOM, ROOM, ROOM)
            if not rect.contains(needed):
                rect = rect.united(needed)
        if rect != self.sceneRect():
            self.setSceneRect(rect)
        empty = self.empty_hint_shown()
        if empty != self._was_empty:  # the hint appears or goes: repaint the whole viewport, not just items
            self._was_empty = empty
            self.viewport().update()

    def fit(self) -> None:
        """Show every node, with a margin, at the largest zoom that holds them, but never below
        MIN_READABLE_ZOOM (titles must read; as an overview, MIN_ZOOM) nor above MAX_FIT_ZOOM (a small graph is not blown up). When even
        the readable zoom cannot hold them, the view starts where the network does (or at the selection) and
        the rest is scrolled to."""
        self.update_scene_rect()
        rect = self.graph_scene().nodes_rect()
        if rect.isNull() or not all(math.isfinite(v) for v in (rect.left(), rect.top(), rect.width(),
                                                                rect.height())):
            self.resetTransform()
            self.centerOn(0, 0)
            return
        vp = self.viewport().rect()
        area = (max(1, vp.width() - 4), max(1, vp.height() - 4))  # as fitInView: a little room for rounding
        z = fit_zoom(rect.width(), rect.height(), area)
        floor = style.MIN_ZOOM if self.overview else max(style.MIN_READABLE_ZOOM, style.MIN_ZOOM)
        z = min(style.MAX_FIT_ZOOM, style.MAX_ZOOM, max(floor, z))
        self.setTransform(QTransform.fromScale(z, z))
        self.centerOn(self.fit_centre(rect, vp.width() / z, vp.height() / z))
        self.follows_fit = True

    def _taken_over(self, *_args) -> None:
        self.follows_fit = False

    def set_overview(self, on: bool) -> None:
        """Whether fit shows the whole network at any zoom (the Train workspace's overview) or keeps titles
        readable (Build)."""
        self.overview = bool(on)
        self._place_banner()

    def fit_centre(self, rect: QRectF, width: float, height: float) -> QPointF:
        """Where fit() centres a ``width`` x ``height`` view of the nodes in ``rect``: the middle of ``rect``
        along each axis it fits in; along an axis it does not fit in, the start of the selection (or its middle
        when the selection fits), else the start of the network's inputs, kept within ``rect``."""
        scene = self.graph_scene()
        m = style.FIT_MARGIN
        selected = QRectF()
        for nid in scene.selected_node_ids():
            selected = selected.united(scene.node_item(nid).sceneBoundingRect())
        anchor = selected if not selected.isNull() else self._sources_rect(rect)

        def axis(lo: float, hi: float, a_lo: float, a_hi: float, length: float, selection: bool) -> float:
            if hi - lo + 2 * m <= length:
                return (lo + hi) / 2
            if selection and a_hi - a_lo + 2 * m <= length:
                return (a_lo + a_hi) / 2
            start = a_lo - m
            if not selection:
                start = max(lo - m, min(start, hi + m - length))
            return start + length / 2

        is_sel = not selected.isNull()
        return QPointF(axis(rect.left(), rect.right(), anchor.left(), anchor.right(), width, is_sel),
                       axis(rect.top(), rect.bottom(), anchor.top(), anchor.bottom(), height, is_sel))

    def _sources_rect(self, rect: QRectF) -> QRectF:
        """Where the network starts: the nodes nothing feeds (its inputs); ``rect`` when there is no graph."""
        scene = self.graph_scene()
        graph = scene.graph
        if graph is None:
            return rect
        out = QRectF()
        for item in scene.node_items():
            if item.node_id in graph.nodes and not graph.inputs_of(item.node_id):
                out = out.united(item.sceneBoundingRect())
        return out if not out.isNull() else rect

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self.empty_hint_shown():  # the hint stays put: repaint rather than move the viewport's pixels
            self.viewport().update()

    def center_on_node(self, node_id: str) -> None:
        item = self.graph_scene().node_item(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel zooms under the cursor; Shift + wheel scrolls up and down, a sideways wheel or swipe
        scrolls sideways (a network larger than the view at a readable zoom is scrolled, not shrunk)."""
        self.follows_fit = False
        delta = event.angleDelta()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift or (delta.x() and not delta.y()):
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            if shift and delta.y():
                v.setValue(v.value() - delta.y())
            if delta.x():
                h.setValue(h.value() - delta.x())
            event.accept()
            return
        steps = delta.y() / 120.0
        if not steps:
            event.ignore()
            return
        self.zoom_by(1.2 ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.follows_fit = False
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._set_pan_cursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _set_pan_cursor(self) -> None:
        if self._space:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    # -- keys -----------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        scene = self.graph_scene()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.setDragMode(QGraphicsView.DragMode.NoDrag)
                self._set_pan_cursor()
            event.accept()
        elif key == Qt.Key.Key_F and not ctrl:
            self.fit()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            scene.delete_selection()
        elif ctrl and key == Qt.Key.Key_D:
            scene.duplicate_selection()
        elif ctrl and key == Qt.Key.Key_A:
            scene.select_all()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self._set_pan_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        if self._space:  # the Space release may go to another widget
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self._set_pan_cursor()
        super().focusOutEvent(event)

    # -- drops from the palette -----------------------------------------------------------------------------
    def _accepts(self, event) -> bool:
        return event.mimeData().hasFormat(LAYER_MIME) and not self.graph_scene().locked

    # Other drags (a project file, say) are ignored so that the window around the canvas can take them.
    def dragEnterEvent(self, event) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
            self.graph_scene().set_drop_edge(self._wire_under_drop(event))  # the wire it would go into
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.graph_scene().set_drop_edge(None)
        super().dragLeaveEvent(event)

    def _wire_under_drop(self, event):
        """The wire under a palette drag (none while Alt is held: drop beside it, not into it)."""
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            return None
        return self.graph_scene().edge_near(self.mapToScene(event.position().toPoint()), self.zoom())

    def dropEvent(self, event) -> None:
        scene = self.graph_scene()
        wire = self._wire_under_drop(event) if self._accepts(event) else None
        scene.set_drop_edge(None)
        if not self._accepts(event):
            event.ignore()
            return
        type_id = bytes(event.mimeData().data(LAYER_MIME)).decode("utf-8").strip()
        pos = self.mapToScene(event.position().toPoint())
        added = None
        if wire is not None:  # into the wire, centred on the cursor; refused: dropped there unwired
            added = scene.insert_on_edge(wire.edge, type_id=type_id,
                                         scene_pos=pos - QPointF(style.NODE_W / 2, style.PORT_Y))
        if added is None:
            added = scene.add_node(type_id, pos)
        if added is not None:
            event.acceptProposedAction()
            self.setFocus()
        else:
            event.ignore()

    def cursor_scene_pos(self) -> QPointF | None:
        """The scene point under the mouse cursor, or None when the cursor is not over the canvas."""
        vp = self.viewport()
        local = vp.mapFromGlobal(QCursor.pos())
        if not self.isVisible() or not vp.rect().contains(local):
            return None
        return self.mapToScene(local)

    # -- painting -------------------------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self.graph_scene().theme
        painter.fillRect(rect, theme.canvas)
        z = self.zoom()
        step = style.GRID
        while step * z < 10:  # never draw lines closer than 10 screen pixels
            step *= 5
        major = step * 5
        for spacing, color in ((step, theme.grid_minor), (major, theme.grid_major)):
            left = math.floor(rect.left() / spacing) * spacing
            top = math.floor(rect.top() / spacing) * spacing
            lines = [QLineF(x, rect.top(), x, rect.bottom()) for x in _frange(left, rect.right(), spacing)]
            lines += [QLineF(rect.left(), y, rect.right(), y) for y in _frange(top, rect.bottom(), spacing)]
            pen = QPen(color, 0)  # cosmetic: one device pixel at any zoom
            painter.setPen(pen)
            painter.drawLines(lines)

    def empty_hint_shown(self) -> bool:
        """Whether the view paints the hint on what to do (the canvas has no nodes)."""
        return not self.graph_scene().node_items()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """The empty canvas's hint, in viewport pixels (it does not zoom), centred, in the muted text colour."""
        if not self.empty_hint_shown():
            return
        painter.save()
        painter.resetTransform()
        vp = QRectF(self.viewport().rect())
        width = min(vp.width() - 32, 560.0)
        box = QRectF(vp.center().x() - width / 2, vp.top() + 16, width, vp.height() - 32)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.15 if font.pointSizeF() > 0 else 11)
        painter.setFont(font)
        painter.setPen(self.graph_scene().theme.muted)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), EMPTY_HINT)
        painter.restore()

    def _on_locked_changed(self, locked: bool) -> None:
        self._banner.setVisible(locked)
        self._place_banner()
        self.viewport().update()

    def _place_banner(self) -> None:
        self._banner.setMaximumWidth(max(60, self.width() - 8))
        self._banner.adjustSize()
        x = (self.width() - self._banner.width()) // 2
        # as an overview (a strip above the plots) the banner goes below the network, not over its first row
        y = self.height() - self._banner.height() - 6 if self.overview else 10
        self._banner.move(max(4, x), max(4, y))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_banner()
        graph = self.graph_scene().graph
        if (self.overview or self.follows_fit) and graph is not None and graph.nodes:
            self.fit()  # an overview shows the whole network at whatever size its strip gets


def world_rect() -> QRectF:
    return QRectF(-WORLD / 2, -WORLD / 2, WORLD, WORLD)


def _frange(start: float, stop: float, step: float):
    x = start
    while x <= stop:
        yield x
        x += step
