"""A holder that keeps one widget at exactly its own size, so that what changes inside the widget while it trains
(a status line's text, a plot's statistics) re-lays out that widget alone.

Qt passes a layout request from any widget whose size is not fixed up through every parent to the window, and
a main window re-lays out all of its docks for it (creating an animation per dock each time): with a few labels
changing several times a second, that was a large part of what the window cost the training thread. A widget
of fixed size stops the request, so the holder fixes its widget's size to its own and passes on only what the
layouts above need to know: a change of the least size the widget needs. (A docked panel's preferred size
sizes its dock when the dock is added, not later: the person sizes docks.)
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize
from PySide6.QtWidgets import QWidget


class Pinned(QWidget):
    """Holds ``inner`` (a widget with a layout) at the holder's size; the holder's size hints and policy are the
    inner widget's, and its minimum and maximum sizes those the inner widget had when it was pinned."""

    def __init__(self, inner: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inner = inner
        self.setObjectName(f"{inner.objectName() or type(inner).__name__}Holder")
        self.setSizePolicy(inner.sizePolicy())
        self.setMinimumSize(inner.minimumSize())
        self.setMaximumSize(inner.maximumSize())
        self.setFocusProxy(inner)
        inner.setParent(self)
        inner.move(0, 0)
        inner.setFixedSize(self.size())
        inner.show()
        self._hints = self._read()
        inner.installEventFilter(self)

    def _read(self) -> tuple[QSize, bool]:
        return self.inner.minimumSizeHint(), self.inner.hasHeightForWidth()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.inner.sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.inner.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return self.inner.hasHeightForWidth()

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self.inner.heightForWidth(width)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.inner.setFixedSize(event.size())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.inner and event.type() == QEvent.Type.LayoutRequest:
            hints = self._read()
            if hints != self._hints:  # the least size the widget needs changed: the layouts above must know
                self._hints = hints
                self.updateGeometry()
        return False
