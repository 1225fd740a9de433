"""Text that fits a small plot: titles elided to their plot's width, a statistics line that shows as many of its
parts as fit, and axis labels that step aside when a plot is too small for them. Whatever is cut is in a
tooltip. pyqtgraph otherwise makes a plot as wide as its title, and the view cuts the plot off.
"""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QTextDocument
from PySide6.QtWidgets import QGraphicsGridLayout, QLabel, QSizePolicy, QWidget

from nnstudio.ui.elided import wrap_lines
from nnstudio.ui.safe_text import tooltip

SEPARATOR = " · "
COMPACT_TITLE_ROW = 20  # px of a title row in a compact plot (pyqtgraph's own is 30)


def fit_title(item: pg.PlotItem, text: str, size: str) -> None:
    """Give ``item`` the title ``text`` (``size``: a CSS font size in pt), elided to the plot's width now and
    whenever the plot is resized, the whole title in the tooltip when it is cut. ``item.full_title`` is it."""
    if getattr(item, "full_title", None) == text and getattr(item, "title_size", None) == size:
        return  # drawn at every frame: nothing to do
    item.full_title = text
    item.title_size = size
    label = item.titleLabel
    if not getattr(label, "loose", False):
        label.loose = True
        original = label.updateMin

        def update_min() -> None:  # the label may be narrower than its text: it is elided to what it gets
            original()
            label.setMinimumWidth(0)

        label.updateMin = update_min
        item.getViewBox().sigResized.connect(lambda *_args: _elide_title(item))
    item.setTitle(text, size=size)
    if getattr(item, "compact", False):
        _title_row(item, COMPACT_TITLE_ROW)
    _elide_title(item)


def _elide_title(item: pg.PlotItem) -> None:
    text = getattr(item, "full_title", "")
    room = int(item.getViewBox().width())
    font = QFont(item.titleLabel.item.font())
    font.setPointSizeF(float(str(item.title_size).rstrip("pt") or 10))
    shown = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, room) if room > 0 else text
    label = item.titleLabel
    if label.text != shown:
        label.setText(shown)
    label.setToolTip(tooltip(text) if shown != text else "")


def compact_axes(plots: list[pg.PlotItem], compact: bool) -> None:
    """Axis labels off and lower title rows when ``compact`` (a plot too small for them; the titles say what is
    drawn), on again when there is room."""
    for plot in plots:
        if getattr(plot, "compact", None) == compact:
            continue
        plot.compact = compact
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            if axis.labelText:
                axis.showLabel(not compact)
        if plot.titleLabel.isVisible():
            _title_row(plot, COMPACT_TITLE_ROW if compact else 30)


def place(layout: QGraphicsGridLayout, cells: dict[pg.PlotItem, tuple[int, int] | None]) -> None:
    """Put each plot of ``cells`` in its (row, column) of ``layout``; a plot placed at None is hidden."""
    for plot in cells:
        for i in range(layout.count()):
            if layout.itemAt(i) is plot:
                layout.removeAt(i)
                break
    for plot, at in cells.items():
        plot.setVisible(at is not None)
        if at is not None:
            layout.addItem(plot, *at)


def _title_row(plot: pg.PlotItem, height: int) -> None:
    plot.titleLabel.setMaximumHeight(height)
    plot.layout.setRowFixedHeight(0, height)


class StatsLine(QLabel):
    """A measurement's statistics in ``lines`` lines of fixed height: rich-text parts joined by " · ", as many
    as fit at the label's width and then "…", every part in the tooltip. ``text()`` is the whole text;
    ``shown()`` what is painted."""

    def __init__(self, text: str = "", lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parts: list[str] = []
        self._lines = lines
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 6)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setAutoFillBackground(True)  # opaque: its new text repaints the label, not the docks behind it
        self.set_parts([html.escape(text)] if text else [])

    def set_parts(self, parts: list[str]) -> None:
        self._parts = [p for p in parts if p]
        self._fit()

    def text(self) -> str:
        return SEPARATOR.join(self._parts)

    def shown(self) -> str:
        return QLabel.text(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = self.contentsRect().width() - 2 * self.margin()
        room = self._lines * self.fontMetrics().lineSpacing() + 2
        parts = self._parts
        shown = SEPARATOR.join(parts)
        for count in range(len(parts), 0, -1):
            shown = SEPARATOR.join(parts[:count]) + (" …" if count < len(parts) else "")
            if self._height(shown, width) <= room:
                break
        else:
            if parts:  # not even the first part fits: it alone, elided, as plain text
                lines, _cut = wrap_lines(_plain(parts[0]), self.font(), width, self._lines)
                shown = "<br>".join(html.escape(line) for line in lines)
        if QLabel.text(self) != shown:
            QLabel.setText(self, shown)
        whole = _plain(SEPARATOR.join(parts))
        self.setToolTip(tooltip(whole) if _plain(shown) != whole else "")

    def _height(self, markup: str, width: int) -> float:
        doc = QTextDocument()
        doc.setDefaultFont(self.font())
        doc.setDocumentMargin(0)
        doc.setHtml(markup)
        doc.setTextWidth(max(width, 1))
        return doc.size().height() if doc.idealWidth() <= width + 1 else 10 ** 6


def _plain(markup: str) -> str:
    doc = QTextDocument()
    doc.setHtml(markup)
    return " ".join(doc.toPlainText().split())
