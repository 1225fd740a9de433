"""Text that never spills out of its widget: a label that wraps to a few lines and ends the last one in an
ellipsis, a flat link button that elides its one line, and a progress bar that elides what it says it is doing.
Each shows the whole text as its tooltip when it had to cut it. Text from files stays plain: it is painted (never
parsed as HTML) and ``&`` is no mnemonic.

Pure Qt: the start page uses them before torch is imported.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QTextLayout
from PySide6.QtWidgets import QProgressBar, QPushButton, QSizePolicy, QWidget

from nnstudio.ui.safe_text import clean, one_line, tooltip

LINE_SEPARATOR = "\u2028"  # QTextLayout breaks a line here (it does not at "\n")


def wrap_lines(text: str, font: QFont, width: int, max_lines: int) -> tuple[list[str], bool]:
    """``text`` wrapped at ``width`` pixels in ``font`` into at most ``max_lines`` lines, the last one elided;
    and whether anything was cut."""
    metrics = QFontMetrics(font)
    text = clean(text)
    source = text.replace("\n", LINE_SEPARATOR)
    layout = QTextLayout(source, font)
    lines: list[str] = []
    cut = False
    layout.beginLayout()
    while len(lines) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(width, 1))
        start, length = line.textStart(), line.textLength()
        if len(lines) == max_lines - 1:
            rest = " ".join(source[start:].replace(LINE_SEPARATOR, " ").split())
            shown = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, max(width, 1))
            cut = shown != rest
            lines.append(shown)
            break
        lines.append(source[start:start + length].replace(LINE_SEPARATOR, "").rstrip())
    layout.endLayout()
    return lines, cut


class ElidedLabel(QWidget):
    """Plain text in up to ``lines`` lines; it reserves their height, so cards of one kind line up."""

    def __init__(self, text: str = "", lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._lines = max(1, lines)
        self._shown: list[str] = []
        self._dirty = True  # lines are laid out when next painted or asked for (shaping text costs)
        self._elided = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def shown_lines(self) -> list[str]:
        """The lines as painted (the last one with its ellipsis when the text was cut)."""
        self._layout()
        return list(self._shown)

    @property
    def elided(self) -> bool:
        """Whether the text had to be cut at the current width."""
        self._layout()
        return self._elided

    def setText(self, text: str) -> None:
        self._text = clean(text)
        self._dirty = True
        self.update()

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance(one_line(self._text)) if self._lines == 1 else 240
        return QSize(min(width, 600) + 2, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(24, self._height())

    def _height(self) -> int:
        return self.fontMetrics().lineSpacing() * self._lines + 2

    def _layout(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._shown, self._elided = wrap_lines(self._text, self.font(), self.width(), self._lines)
        self.setToolTip(tooltip(self._text) if self._elided else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._dirty = True

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self.updateGeometry()
            self._dirty = True

    def paintEvent(self, _event) -> None:
        self._layout()
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        metrics = self.fontMetrics()
        y = metrics.ascent() + 1
        for line in self._shown:
            painter.drawText(QPointF(0, y), line)
            y += metrics.lineSpacing()


class LinkButton(QPushButton):
    """A flat button whose one line of text is elided to its width (full text in the tooltip when cut)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str, tip: str = "") -> None:
        self._full, self._tip = one_line(text), tip
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        want = self.fontMetrics().horizontalAdvance(self._full) + 16
        return QSize(min(want, 700), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def _elide(self) -> None:
        room = max(self.width() - 12, 10)
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        if shown.replace("&", "&&") != self.text():
            self.setText(shown.replace("&", "&&"))  # a file name's & is shown, not a mnemonic
        cut = shown != self._full
        self.setToolTip(tooltip(self._tip) if self._tip else tooltip(self._full) if cut else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()


class ElidedProgressBar(QProgressBar):
    """A progress bar saying what is being done (``set_text(text, end)``): ``text`` is elided to the bar's width,
    ``end`` (the percentage) never is. Its format is the text shown, so ``%`` in ``text`` must be escaped."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text, self._end = "", ""

    def set_text(self, text: str, end: str = "") -> None:
        self._text, self._end = text, end
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        room = max(self.width() - 16 - metrics.horizontalAdvance(self._end), 10)
        shown = metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, room) if self._text else ""
        if self.format() != shown + self._end:
            self.setFormat(shown + self._end)
        self.setToolTip(tooltip(self._text + self._end) if shown != self._text else "")

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()
