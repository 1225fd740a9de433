"""The start page: what the window shows while no project is open.

The bundled examples as cards (a picture of the network, what it learns, how long it trains), the recent
projects, "Empty network", "Open a project…" and a link to the getting-started guide. It is the first thing the
app paints, before torch and the editor are imported (see ``nnstudio/ui/app.py``), so this module imports only
Qt and the Qt-free, torch-free helpers ``nnstudio.core.paths`` and ``nnstudio.ui.safe_text``: a test checks it.

The page keeps no project state. It reads the examples folder (each example's ``project.json``, without the
project loader, which needs torch) and a recent-files list (any object with ``paths()``: the window's
``nnstudio.ui.recent.RecentFiles``, which imports no torch), and says what was chosen through its
signals; the window (or, while the editor loads, the launcher) does it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.paths import EXAMPLES
from nnstudio.ui.elided import ElidedLabel, LinkButton
from nnstudio.ui.safe_text import one_line, plain, tooltip

# How long each example trains, from README.md's table (the command line, on a 2-core CPU, saved settings).
TRAIN_SECONDS = {"spiral_mlp": 3, "digits_cnn": 5, "sentiment_lstm": 6, "transformer_classifier": 7,
                 "residual_mlp": 3, "optimizers_compared": 2}
# The order of the cards: from the smallest idea to the largest; examples not named here follow by name.
ORDER = ("spiral_mlp", "digits_cnn", "residual_mlp", "sentiment_lstm", "transformer_classifier")
MAX_RECENT_SHOWN = 6
MAX_PROJECT_JSON = 8_000_000  # bytes of project.json read for a card: more is not an example
CARD_WIDTH = 264
PICTURE_SIZE = QSize(CARD_WIDTH - 16, 104)  # the picture's place on a card (the PNGs are drawn for it, at 2x)
EMPTY, OPEN = "empty", "open"  # the busy keys of "Empty network" and "Open a project…"


@dataclass(frozen=True)
class ExampleInfo:
    """What a card shows of one example file."""

    path: Path
    name: str
    description: str
    layers: int
    train_seconds: int | None

    @property
    def facts(self) -> str:
        return facts_line(self.layers, self.train_seconds)


def facts_line(layers: int, train_seconds: int | None, params: int | None = None) -> str:
    """ "9 layers · 121,930 parameters · trains in about 5 s" (the parts that are known)."""
    parts = [f"{layers} layer{'s' if layers != 1 else ''}"]
    if params is not None:
        parts.append(f"{params:,} parameters")
    if train_seconds:
        parts.append(f"trains in about {train_seconds} s")
    return " · ".join(parts)


def read_example(path: Path) -> ExampleInfo | None:
    """The card of ``path`` (a ``.nnstudio`` zip) from its project.json, or None when it cannot be read. The same
    fields as the examples dialog's ``list_examples`` reads through the project loader."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = archive.getinfo("project.json")
            if entry.file_size > MAX_PROJECT_JSON:
                return None
            data = json.loads(archive.read(entry).decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RuntimeError, NotImplementedError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    name, description = data.get("name"), data.get("description")
    graph = data.get("graph") if isinstance(data.get("graph"), dict) else {}
    nodes = graph.get("nodes")
    return ExampleInfo(path, name if isinstance(name, str) and name else path.stem.replace("_", " ").title(),
                       description if isinstance(description, str) else "",
                       len(nodes) if isinstance(nodes, list) else 0, TRAIN_SECONDS.get(path.stem))


def read_examples(folder: Path = EXAMPLES) -> list[ExampleInfo]:
    """Every readable example in ``folder``, in :data:`ORDER` and then by name."""
    found = [info for info in map(read_example, sorted(Path(folder).glob("*.nnstudio"))) if info is not None]
    rank = {stem: i for i, stem in enumerate(ORDER)}
    return sorted(found, key=lambda e: (rank.get(e.path.stem, len(rank)), e.name.lower()))


def picture_pixmap(example: Path, size: QSize = PICTURE_SIZE, ratio: float = 1.0) -> QPixmap | None:
    """The picture of the example file ``example`` scaled into ``size`` (device pixel ``ratio``), or None when
    it has none."""
    picture = Path(example).with_suffix(".png")
    pixmap = QPixmap(str(picture)) if picture.is_file() else QPixmap()
    if pixmap.isNull():
        return None
    scaled = pixmap.scaled(size * ratio, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
    scaled.setDevicePixelRatio(ratio)
    return scaled


class RecentSource(Protocol):
    def paths(self) -> list[str]: ...


class ExampleCard(QFrame):
    """One example: picture, name, what it learns, its size and training time. A click, Enter or Space opens
    it (``chosen``); ``set_busy`` says it is being opened."""

    chosen = Signal(str)

    def __init__(self, info: ExampleInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.setObjectName(f"exampleCard_{info.path.stem}")
        self.setProperty("startCard", True)
        self.setFixedWidth(CARD_WIDTH)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(one_line(info.name, 120))
        self.setToolTip(tooltip(f"Open “{info.name}” as a new, untitled project\n\n{info.description}"))
        self.picture = QLabel(self)
        self.picture.setObjectName("examplePicture")
        self.picture.setFixedSize(PICTURE_SIZE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pixmap = picture_pixmap(info.path, ratio=self.devicePixelRatioF())
        if pixmap is not None:
            self.picture.setPixmap(pixmap)
        else:  # a wheel without the pictures, or an example of your own: the name stands in
            plain(self.picture).setText(one_line(info.name, 60))
        self.title = ElidedLabel(info.name, lines=1, parent=self)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.12)
        self.title.setFont(font)
        self.description = ElidedLabel(info.description or "An example network.", lines=3, parent=self)
        self.footer = ElidedLabel(info.facts, lines=1, parent=self)
        self.footer.setObjectName("exampleFacts")
        self.footer.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 10)
        layout.setSpacing(4)
        layout.addWidget(self.picture)
        layout.addSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        layout.addWidget(self.footer)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_busy(self, busy: bool, text: str = "Loading…") -> None:
        self.footer.setText(text if busy else self.info.facts)
        self.setCursor(Qt.CursorShape.BusyCursor if busy else Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()  # the release comes here only if the press was taken
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.chosen.emit(str(self.info.path))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)  # a ring for the keyboard's focus (Tab), not for a click
        self._mark_focus(event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason))

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self._mark_focus(False)

    def _mark_focus(self, on: bool) -> None:
        if bool(self.property("keyFocus")) != on:
            self.setProperty("keyFocus", on)
            self.style().unpolish(self)
            self.style().polish(self)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.chosen.emit(str(self.info.path))
            return
        super().keyPressEvent(event)


STYLE = """
QFrame[startCard="true"] { background: palette(base); border: 1px solid palette(mid); border-radius: 8px; }
QFrame[startCard="true"]:hover, QFrame[startCard="true"][keyFocus="true"] { border: 2px solid palette(highlight); }
QLabel#examplePicture { background: #f7f8fa; border-radius: 5px; color: #555; }
QPushButton[startLink="true"] { text-align: left; border: none; padding: 3px 4px; color: palette(link); }
QPushButton[startLink="true"]:hover { text-decoration: underline; }
QPushButton[startLink="true"]:disabled { color: palette(placeholder-text); }
"""


class StartPage(QWidget):
    """Signals say what the person chose; the window does it. ``example_chosen(path)``, ``recent_chosen(path)``,
    ``empty_chosen()``, ``open_chosen()``, ``guide_chosen()`` and ``back_chosen()`` (return to the open
    project, offered when the page is shown over one: ``set_back``)."""

    example_chosen = Signal(str)
    recent_chosen = Signal(str)
    empty_chosen = Signal()
    open_chosen = Signal()
    guide_chosen = Signal()
    back_chosen = Signal()

    def __init__(self, recent: RecentSource | None = None, folder: Path = EXAMPLES,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        self.setStyleSheet(STYLE)
        self.recent: RecentSource | None = recent
        self.examples = read_examples(folder)
        self.cards: list[ExampleCard] = []
        self.recent_buttons: list[LinkButton] = []
        self._busy: str | None = None
        self._columns = 0

        heading = plain(QLabel("NN Studio"))
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        heading.setFont(font)
        tagline = plain(QLabel("Build neural networks visually and watch them learn."))
        self.message = ElidedLabel("", lines=1)  # "Opening FILE…", "Loading…"
        self.message.setObjectName("startMessage")
        self.message.hide()
        self.back_button = self._link("Back to the open project", self.back_chosen.emit, "startBack")
        self.back_button.hide()

        self.empty_button = self._link("Empty network", self.empty_chosen.emit, "startEmpty",
                                       "Start a new network on an empty canvas")
        self.open_button = self._link("Open a project…", self.open_chosen.emit, "startOpen",
                                      "Open a .nnstudio project file")
        self.guide_button = self._link("Getting started guide", self.guide_chosen.emit, "startGuide",
                                       "A short walk through building, training and reading the dashboard")
        start = QVBoxLayout()
        start.setSpacing(2)
        start.addWidget(self._heading("Start"))
        for button in (self.empty_button, self.open_button, self.guide_button):
            start.addWidget(button)
        start.addStretch(1)

        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        self.no_recent = plain(QLabel("No recent projects yet: the ones you open or save appear here."))
        self.no_recent.setWordWrap(True)
        self.no_recent.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        recent = QVBoxLayout()
        recent.setSpacing(2)
        recent.addWidget(self._heading("Recent"))
        recent.addLayout(self.recent_box)
        recent.addWidget(self.no_recent)
        recent.addStretch(1)

        top = QHBoxLayout()
        top.setSpacing(48)
        top.addLayout(start, 1)
        top.addLayout(recent, 2)

        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(16)
        for info in self.examples:
            card = ExampleCard(info)
            card.chosen.connect(self.example_chosen)
            self.cards.append(card)
        examples_note = plain(QLabel("Each opens as a new, untitled copy: train it with F5 and watch the dashboard."
                                     if self.examples else f"No examples were found in {one_line(folder)}."))
        examples_note.setWordWrap(True)
        examples_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        body = QWidget()
        body.setObjectName("startBody")
        body.setMaximumWidth(5 * CARD_WIDTH + 4 * 16)
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addWidget(heading)
        column.addWidget(tagline)
        column.addWidget(self.message)
        column.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addSpacing(14)
        column.addLayout(top)
        column.addSpacing(18)
        column.addWidget(self._heading("Examples"))
        column.addWidget(examples_note)
        column.addSpacing(4)
        column.addLayout(self.grid)
        column.addStretch(1)

        holder = QWidget()
        outer = QHBoxLayout(holder)
        outer.setContentsMargins(24, 20, 24, 20)
        outer.addStretch(1)
        outer.addWidget(body, 100)
        outer.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("startScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(holder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self._arrange(3)
        self.refresh()

    # -- building -------------------------------------------------------------------------------------------
    def _heading(self, text: str) -> QLabel:
        label = plain(QLabel(text))
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        label.setFont(font)
        return label

    def _link(self, text: str, slot, name: str, tip: str = "") -> LinkButton:
        button = LinkButton(text)
        button.setObjectName(name)
        button.setProperty("startLink", True)
        button.setFlat(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        button.set_full_text(text, tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _arrange(self, columns: int) -> None:
        """Lay the cards out ``columns`` to a row (as many as the width holds: see resizeEvent)."""
        columns = max(1, min(columns, len(self.cards) or 1))
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards:
            self.grid.removeWidget(card)
        for i, card in enumerate(self.cards):
            self.grid.addWidget(card, i // columns, i % columns, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.grid.setColumnStretch(columns, 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        room = event.size().width() - 48 - self.scroll.verticalScrollBar().sizeHint().width()  # less margins
        self._arrange((room + 16) // (CARD_WIDTH + 16))

    # -- state --------------------------------------------------------------------------------------------
    def set_recent(self, recent: RecentSource | None) -> None:
        """Read the recent files from ``recent`` from now on (the window's list, once the window exists)."""
        self.recent = recent
        self.refresh()

    def refresh(self) -> None:
        """Read the recent files again (the page is shown again after a project was opened or saved)."""
        for button in self.recent_buttons:
            self.recent_box.removeWidget(button)
            button.deleteLater()
        self.recent_buttons = []
        paths = self.recent.paths()[:MAX_RECENT_SHOWN] if self.recent is not None else []
        for path in paths:
            p = Path(path)
            button = self._link(f"{p.name}   —   {p.parent}", lambda path=path: self.recent_chosen.emit(path),
                                "startRecent", path)
            self.recent_box.addWidget(button)
            self.recent_buttons.append(button)
        self.no_recent.setVisible(not paths)

    def set_guide_available(self, available: bool) -> None:
        self.guide_button.setVisible(available)

    def set_back(self, name: str | None) -> None:
        """Offer "Back to “name”" (the project the page was opened over), or nothing (None)."""
        self.back_button.setVisible(bool(name))
        if name:
            self.back_button.set_full_text(f"← Back to “{name}”")

    def set_message(self, text: str) -> None:
        """A line under the title ("Opening FILE…"); '' hides it."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def card(self, path: str | Path) -> ExampleCard | None:
        return next((c for c in self.cards if c.info.path == Path(path)), None)

    @property
    def busy(self) -> str | None:
        """What is being opened: an example's path, a recent path, :data:`EMPTY`, :data:`OPEN`, or None."""
        return self._busy

    def set_busy(self, key: str | None, text: str = "Loading…") -> None:
        """Show that ``key`` is being opened (its card says ``text``, the page has a busy cursor), or that
        nothing is (None)."""
        self._busy = key
        for card in self.cards:
            card.set_busy(key is not None and card.info.path == Path(key), text)
        if key is None:
            self.unsetCursor()
            self.set_message("")
            return
        self.setCursor(Qt.CursorShape.BusyCursor)
        if self.card(key) is None:
            shown = {EMPTY: "An empty network", OPEN: "The file dialog"}.get(key) or f"“{Path(key).name}”"
            self.set_message(f"{shown} opens as soon as NN Studio has loaded…")
