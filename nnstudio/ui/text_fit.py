"""Text that does not fit: ``clipped_texts(root)`` lists every text on screen under ``root`` that is cut off,
one line each naming the widget, the text and the pixels it needs against the pixels it has.

A widget counts when it is shown and has room on screen: hidden widgets, pages behind a tab, and widgets
scrolled out of a scroll area's viewport are left out (text that a scroll bar reaches is not cut). Text that
is elided is fine when the whole of it is in the tooltip (an ``ElidedLabel``, a tab, a cell or a combo box
that shows "…"). Pure Qt, one pass over the widgets.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics, QTextDocument, QTextOption
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QGraphicsTextItem,
    QGraphicsView,
    QGraphicsWidget,
    QGroupBox,
    QHeaderView,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStyle,
    QTabBar,
    QTableView,
    QToolButton,
    QTreeView,
    QWidget,
)

from nnstudio.ui.elided import ElidedLabel

SLACK = 2  # px a text may overhang before it counts (antialiasing, rounding)
DOCK_BUTTONS = 50  # px a dock's title bar keeps for its float and close buttons
MAX_CELLS = 5000  # cells looked at per view (what is on screen is far less)
_MNEMONIC = re.compile(r"&(.)")


def clipped_texts(root: QWidget) -> list[str]:
    """One line per clipped text under ``root`` (``root`` included), in widget order."""
    found: list[str] = []
    if not root.isVisible():
        return found
    big = QRect(-10 ** 7, -10 ** 7, 2 * 10 ** 7, 2 * 10 ** 7)
    _walk(root, root, big, big, found)
    return found


def _walk(widget: QWidget, root: QWidget, seen: QRect, room: QRect, found: list[str]) -> None:
    """``seen``: the part of ``root`` (its coordinates) where ``widget``'s ancestors let it show; ``room``: the
    same, except that scroll areas do not cut (their content can be scrolled to)."""
    rect = QRect(widget.mapTo(root, QPoint(0, 0)), widget.size()) if widget is not root else widget.rect()
    seen = seen.intersected(rect)
    if seen.isEmpty():
        return
    room = room.intersected(rect)
    painted = widget.viewport() if isinstance(widget, QAbstractScrollArea) else widget  # the viewport covers it
    if not painted.visibleRegion().isEmpty():
        width = room.width() if room.width() < rect.width() else widget.width()
        height = room.height() if room.height() < rect.height() else widget.height()
        lines = _check(widget, width, height)
        for line in [lines] if isinstance(lines, str) else lines or ():
            found.append(_name(widget) + " " + line)
    parent = widget.parentWidget()
    if isinstance(parent, QAbstractScrollArea) and widget is parent.viewport():
        room = QRect(-10 ** 7, -10 ** 7, 2 * 10 ** 7, 2 * 10 ** 7)  # what it scrolls is not cut by it
    for child in widget.children():
        if isinstance(child, QWidget) and child.isVisible() and not child.isWindow():
            _walk(child, root, seen, room, found)


def _name(widget: QWidget) -> str:
    """``Class#objectName`` of the widget, and of the nearest named ancestors (to find it)."""
    parts = [type(widget).__name__ + (f"#{widget.objectName()}" if widget.objectName() else "")]
    parent, named = widget.parentWidget(), 0
    while parent is not None and named < 2:
        if parent.objectName() and not parent.objectName().startswith("qt_"):
            parts.append(parent.objectName())
            named += 1
        parent = parent.parentWidget()
    return parts[0] + (f" (in {'/'.join(reversed(parts[1:]))})" if len(parts) > 1 else "")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _says(text: str, needed: int, available: int) -> str | None:
    return f"{_short(text)}: needs {needed} px, has {available} px" if needed > available + SLACK else None


def _check(widget: QWidget, width: int, height: int) -> str | list[str] | None:
    if isinstance(widget, ElidedLabel):
        return _elided_label(widget, height)
    if isinstance(widget, QLabel):
        return _label(widget, width, height)
    if isinstance(widget, QAbstractButton):
        return _button(widget, width)
    if isinstance(widget, QTabBar):
        return _tabs(widget, width)
    if isinstance(widget, QComboBox):
        return _combo(widget, width)
    if isinstance(widget, QGroupBox) and widget.title():
        needed = widget.fontMetrics().horizontalAdvance(_plain(widget.title())) + 16
        return _says(widget.title(), needed + (20 if widget.isCheckable() else 0), width)
    if isinstance(widget, QDockWidget):
        return _dock(widget, width)
    if isinstance(widget, QHeaderView):
        return _header(widget)
    if isinstance(widget, QAbstractItemView):
        return _cells(widget)
    if isinstance(widget, QGraphicsView) and _is_plot(widget):
        return _plot_texts(widget)
    if isinstance(widget, QAbstractSpinBox):
        edit = widget.lineEdit()
        needed = edit.fontMetrics().horizontalAdvance(edit.text()) + 4
        return _says(edit.text(), needed, edit.width())
    if isinstance(widget, QProgressBar) and widget.isTextVisible() and widget.text():
        return _says(widget.text(), widget.fontMetrics().horizontalAdvance(widget.text()) + 8, width)
    return None


def _tip_has(tip: str, text: str) -> bool:
    """Whether the tooltip ``tip`` holds the whole of ``text`` (so that what was elided can be read there)."""
    if not tip:
        return False
    if GuiQt.mightBeRichText(tip):
        doc = QTextDocument()
        doc.setHtml(tip)
        tip = doc.toPlainText()
    return " ".join(text.split()) in " ".join(tip.split())


def _plain(text: str) -> str:
    """A button's or title's text as shown: ``&x`` is a mnemonic, ``&&`` one ampersand."""
    return _MNEMONIC.sub(r"\1", text)


# -- labels ---------------------------------------------------------------------------------------------------
def _elided_label(label: ElidedLabel, height: int) -> str | None:
    if not label.text():
        return None
    if label.elided and not _tip_has(label.toolTip(), label.text()):
        return f"{_short(label.text())}: elided without the whole text in its tooltip"
    return _says(label.text(), label.sizeHint().height(), height)  # lines it reserves, cut at the bottom


def _label(label: QLabel, width: int, height: int) -> str | None:
    text = QLabel.text(label)  # what it paints (a subclass may give its whole text as text())
    if not text or not label.pixmap().isNull():
        return None
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text))
    margins = label.contentsMargins()
    frame = label.frameWidth()
    indent = label.indent()
    if indent < 0:
        indent = label.fontMetrics().horizontalAdvance("x") // 2 if frame > 0 else 0
    room_w = width - margins.left() - margins.right() - 2 * label.margin() - indent
    room_h = height - margins.top() - margins.bottom() - 2 * label.margin()
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    if rich:
        doc.setHtml(text)
    else:
        doc.setPlainText(text)
    shown = " ".join(doc.toPlainText().split())
    if label.wordWrap():
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WordWrap)
        doc.setDefaultTextOption(option)
        doc.setTextWidth(max(room_w, 1))
        too_wide = _says(shown, int(doc.idealWidth() + 0.99), room_w)  # a word longer than the line
        if too_wide:
            return too_wide
        needed_h = label.heightForWidth(label.width()) if label.width() == width else int(doc.size().height())
        return _says(shown, needed_h, height if label.width() == width else room_h)
    if rich:
        needed = int(doc.idealWidth() + 0.99)
        lines = doc.lineCount()
    else:
        rows = text.split("\n")
        metrics = QFontMetrics(label.font())
        needed = max(metrics.horizontalAdvance(row) for row in rows)
        lines = len(rows)
    too_wide = _says(shown, needed, room_w)
    if too_wide:
        return too_wide
    if lines > 1:
        return _says(shown, lines * QFontMetrics(label.font()).lineSpacing() - 2, room_h)
    return None


# -- buttons, tabs, combo boxes, titles -----------------------------------------------------------------------
def _button(button: QAbstractButton, width: int) -> str | None:
    text = button.text()
    if not text:
        return None
    if isinstance(button, QToolButton) and button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly \
            and not button.icon().isNull():
        return None  # the text is not shown
    if "…" in text and button.toolTip():
        return None  # elided to its width, the whole text in the tooltip (elided.LinkButton)
    needed = button.sizeHint().width()
    if isinstance(button, QPushButton):  # Fusion's push buttons are at least 80 px wide: that is no text
        shown = button.fontMetrics().horizontalAdvance(_plain(text))
        icon = button.iconSize().width() + 4 if not button.icon().isNull() else 0
        menu = 14 if button.menu() is not None else 0
        needed = min(needed, shown + icon + menu + 16)
    elif isinstance(button, (QCheckBox, QRadioButton)):
        needed = min(needed, button.fontMetrics().horizontalAdvance(_plain(text)) + 24)
    return _says(text, needed, width)


def _tabs(bar: QTabBar, width: int) -> str | None:
    if bar.count() == 0:
        return None
    horizontal = bar.shape() in (QTabBar.Shape.RoundedNorth, QTabBar.Shape.RoundedSouth,
                                 QTabBar.Shape.TriangularNorth, QTabBar.Shape.TriangularSouth)
    length = width if horizontal else bar.height()
    shown = [i for i in range(bar.count()) if bar.isTabVisible(i)]
    total = sum(bar.tabSizeHint(i).width() if horizontal else bar.tabSizeHint(i).height() for i in shown)
    if total > length + SLACK:  # the tabs are elided, or scroll
        return f"tabs {[_plain(bar.tabText(i)) for i in shown]}: need {total} px, have {length} px"
    for i in shown:
        want, got = bar.tabSizeHint(i), bar.tabRect(i)
        need, have = (want.width(), got.width()) if horizontal else (want.height(), got.height())
        if need > have + SLACK and not _tip_has(bar.tabToolTip(i), _plain(bar.tabText(i))):
            return f"tab {_short(bar.tabText(i))}: needs {need} px, has {have} px, elided without a tooltip"
    return None


def _combo(combo: QComboBox, width: int) -> str | None:
    if combo.isEditable() or not combo.currentText():
        return None
    text = combo.currentText()
    icon = combo.iconSize().width() + 4 if not combo.itemIcon(combo.currentIndex()).isNull() else 0
    needed = combo.fontMetrics().horizontalAdvance(text) + icon + 30
    line = _says(text, needed, width)
    return None if line and _tip_has(combo.toolTip(), text) and "…" in _painted_combo_text(combo, width) else line


def _painted_combo_text(combo: QComboBox, width: int) -> str:
    """What a combo box that elides (by setting its items' text) shows; its own text otherwise."""
    return combo.currentText() if "…" in combo.currentText() else combo.fontMetrics().elidedText(
        combo.currentText(), Qt.TextElideMode.ElideRight, max(width - 30, 1))


def _dock(dock: QDockWidget, width: int) -> str | None:
    if dock.titleBarWidget() is not None or not dock.windowTitle() or dock.isFloating():
        return None
    title = dock.windowTitle()
    metrics = QFontMetrics(dock.font())
    return _says(title, metrics.horizontalAdvance(_plain(title)) + DOCK_BUTTONS, width)


# -- item views -----------------------------------------------------------------------------------------------
def _header(header: QHeaderView) -> list[str]:
    model, lines = header.model(), []
    if model is None or header.isHidden():
        return lines
    horizontal = header.orientation() == Qt.Orientation.Horizontal
    length = header.viewport().width() if horizontal else header.viewport().height()
    first, last = header.logicalIndexAt(0), header.logicalIndexAt(length - 1)
    if first < 0:
        return lines
    last = last if last >= 0 else header.count() - 1
    visual = range(header.visualIndex(first), header.visualIndex(last) + 1)
    metrics = QFontMetrics(header.font())
    margin = 2 * header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    for v in visual:
        logical = header.logicalIndex(v)
        if header.isSectionHidden(logical):
            continue
        text = model.headerData(logical, header.orientation(), Qt.ItemDataRole.DisplayRole)
        if text is None or not str(text):
            continue
        size = header.sectionSize(logical) if horizontal else header.width()
        needed = metrics.horizontalAdvance(str(text)) + margin
        if horizontal and header.isSortIndicatorShown() and header.sortIndicatorSection() == logical:
            needed += 14
        tip = model.headerData(logical, header.orientation(), Qt.ItemDataRole.ToolTipRole)
        line = _says(str(text), needed, size)
        if line and not _tip_has(str(tip or ""), str(text)):
            lines.append(f"header {line}")
    return lines


def _cells(view: QAbstractItemView) -> list[str]:
    model, lines = view.model(), []
    if model is None:
        return lines
    port = view.viewport().rect()
    padding = _cell_padding(view)
    for index in _visible_indexes(view, port):
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is None or isinstance(text, bool):
            continue
        text = str(text)
        if not text:
            continue
        rect = view.visualRect(index)
        if view.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff:
            rect = rect.intersected(QRect(rect.left(), rect.top(), port.right() - rect.left() + 1, rect.height()))
        font = index.data(Qt.ItemDataRole.FontRole)
        metrics = QFontMetrics(font if isinstance(font, QFont) else view.font())
        needed = max(metrics.horizontalAdvance(row) for row in text.split("\n")) + padding
        if index.data(Qt.ItemDataRole.DecorationRole) is not None:
            needed += view.iconSize().width() + 4 if view.iconSize().width() > 0 else 20
        if index.data(Qt.ItemDataRole.CheckStateRole) is not None:
            needed += 20
        line = _says(text, needed, rect.width())
        if line and getattr(view, "wordWrap", lambda: False)() and "\n" not in text:
            wrapped = metrics.boundingRect(QRect(0, 0, max(rect.width() - padding, 1), 10 ** 6),
                                           int(Qt.TextFlag.TextWordWrap), text)
            if wrapped.width() <= rect.width() - padding + SLACK and wrapped.height() <= rect.height() + SLACK:
                line = None  # wrapped onto lines that the row has room for
        if line and not _tip_has(str(index.data(Qt.ItemDataRole.ToolTipRole) or ""), text):
            lines.append(f"cell ({index.row()}, {index.column()}) {line}, elided without the whole text in its tooltip")
    return lines


def _cell_padding(view: QAbstractItemView) -> int:
    """What Qt's item delegate keeps either side of a cell's text (its focus frame margin and a pixel)."""
    return 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)


def _columns(model, parent) -> int:
    try:
        return model.columnCount(parent)
    except TypeError:  # a QAbstractListModel hides it from Python: one column
        return 1


def _visible_indexes(view: QAbstractItemView, port: QRect):
    model, root = view.model(), view.rootIndex()
    columns = range(_columns(model, root))
    if isinstance(view, QTreeView):
        index, count = view.indexAt(QPoint(1, 1)), 0
        if not index.isValid():
            index = view.indexAt(QPoint(view.indentation() + 1, 1))
        while index.isValid() and count < MAX_CELLS:
            row_rect = view.visualRect(index)
            if row_rect.top() > port.bottom():
                break
            for column in range(_columns(model, index.parent())):
                if not view.isColumnHidden(column):
                    count += 1
                    yield index.siblingAtColumn(column)
            index = view.indexBelow(index)
        return
    if isinstance(view, QTableView):
        top, bottom = view.rowAt(0), view.rowAt(port.height() - 1)
        left, right = view.columnAt(0), view.columnAt(port.width() - 1)
        if top < 0 or left < 0:
            return
        bottom = bottom if bottom >= 0 else model.rowCount(root) - 1
        right = right if right >= 0 else _columns(model, root) - 1
        for row in range(top, bottom + 1):
            if view.isRowHidden(row):
                continue
            for column in range(left, right + 1):
                if not view.isColumnHidden(column):
                    yield model.index(row, column, root)
        return
    for row in range(min(model.rowCount(root), MAX_CELLS)):
        if isinstance(view, QListView) and view.isRowHidden(row):
            continue
        for column in columns:
            index = model.index(row, column, root)
            if view.visualRect(index).intersects(port):
                yield index


# -- plots (pyqtgraph's titles, axis labels and legends: text items in a graphics scene) ------------------------
def _is_plot(view: QGraphicsView) -> bool:
    """A pyqtgraph view (the canvas is a QGraphicsView too, with items scrolled out of view on purpose)."""
    return any(cls.__module__.startswith("pyqtgraph") for cls in type(view).__mro__)


def _plot_texts(view: QGraphicsView) -> list[str]:
    scene, lines = view.scene(), []
    if scene is None:
        return lines
    port = QRectF(view.viewport().rect()).adjusted(-SLACK, -SLACK, SLACK, SLACK)
    for item in scene.items():
        if isinstance(item, QGraphicsWidget) and item.parentItem() is None and item.isVisible() \
                and QGraphicsWidget.layout(item) is not None:  # a plot, or a grid of them, larger than the view
            size = item.size()
            if size.width() > port.width() or size.height() > port.height():
                lines.append(f"plots need {int(size.width())}x{int(size.height())} px, the view has "
                             f"{view.viewport().width()}x{view.viewport().height()} px")
        if not isinstance(item, QGraphicsTextItem) or not item.isVisible():
            continue
        text = item.toPlainText().strip()
        if not text:
            continue
        margin = item.document().documentMargin()
        box = item.boundingRect().adjusted(margin, margin, -margin, -margin)
        on_view = view.mapFromScene(item.mapToScene(box)).boundingRect()
        if not QRectF(on_view).intersects(port):
            continue  # a plot that is not shown (its page hidden, the view scrolled)
        owner = item.parentItem()
        tip = owner.toolTip() if owner is not None else ""
        if "…" in text and _tip_has(tip, text.replace("…", "").strip()):
            continue  # elided, the whole text in the tooltip
        if not port.contains(QRectF(on_view)):
            inside = QRectF(on_view).intersected(port)
            lines.append(f"plot text {_short(text)}: needs {on_view.width()}x{on_view.height()} px, "
                         f"{int(inside.width())}x{int(inside.height())} px of it on screen")
            continue
        if isinstance(owner, QGraphicsWidget):
            shown = item.mapRectToParent(box)
            bounds = QRectF(owner.rect()).adjusted(-SLACK - 5, -SLACK - 5, SLACK + 5, SLACK + 5)  # axes nudge theirs
            if not bounds.contains(shown):
                size = owner.rect()
                lines.append(f"plot text {_short(text)}: needs {int(shown.width())}x{int(shown.height())} px, its "
                             f"{type(owner).__name__} has {int(size.width())}x{int(size.height())} px")
    return lines
