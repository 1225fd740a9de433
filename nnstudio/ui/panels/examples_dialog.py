"""Open Example...: a small gallery of the bundled example projects: each with the picture of its network (the
start page's, ``resources/examples/NAME.png``), its size, how long it trains and what it learns. The chosen one
opens as a new untitled copy, so Save asks where to write it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.errors import NNStudioError
from nnstudio.core.paths import EXAMPLES
from nnstudio.core.project import load_project
from nnstudio.core.shapes import infer_shapes
from nnstudio.ui.safe_text import clean, one_line, plain, tooltip
from nnstudio.ui.start_page import PICTURE_SIZE, TRAIN_SECONDS, facts_line, picture_pixmap

PATH_ROLE = Qt.ItemDataRole.UserRole
THUMBNAIL = QSize(72, 30)


@dataclass(frozen=True)
class Example:
    path: Path
    name: str
    description: str
    layers: int
    params: int | None


def list_examples(folder: Path = EXAMPLES) -> list[Example]:
    """Every readable ``*.nnstudio`` in ``folder``, by name (an unreadable one is left out)."""
    out = []
    for path in sorted(Path(folder).glob("*.nnstudio")):
        try:
            project = load_project(path)
            info = infer_shapes(project.graph)
        except (NNStudioError, OSError, ValueError, TypeError, MemoryError):
            continue
        out.append(Example(path, project.name or path.stem.replace("_", " ").title(), project.description,
                           len(project.graph.nodes), info.total_params if info.ok else None))
    return sorted(out, key=lambda e: e.name.lower())


class ExamplesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, folder: Path = EXAMPLES) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open Example")
        self.resize(820, 460)
        self.examples = list_examples(folder)
        self.list = QListWidget(self)
        self.list.setObjectName("examplesList")
        self.list.setIconSize(THUMBNAIL)
        self.list.setMinimumWidth(260)
        self.list.setSpacing(2)
        ratio = self.devicePixelRatioF()
        for ex in self.examples:
            item = QListWidgetItem(one_line(ex.name, 120))
            thumbnail = picture_pixmap(ex.path, THUMBNAIL, ratio)
            if thumbnail is not None:
                item.setIcon(QIcon(thumbnail))
            item.setData(PATH_ROLE, str(ex.path))
            item.setToolTip(tooltip(ex.path.name))
            self.list.addItem(item)
        self.picture = QLabel()
        self.picture.setObjectName("examplePicture")
        self.picture.setFixedSize(PICTURE_SIZE * 1.6)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("background: #f7f8fa; border-radius: 5px;")
        self.title = plain(QLabel())  # an example's name, facts and description are shown as plain text
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.facts = plain(QLabel())
        self.description = plain(QLabel())
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        right = QVBoxLayout()
        right.addWidget(self.picture)
        right.addWidget(self.title)
        right.addWidget(self.facts)
        right.addSpacing(6)
        right.addWidget(self.description, 1)
        body = QHBoxLayout()
        body.addWidget(self.list)
        body.addLayout(right, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Example networks to explore. Each opens as a new, untitled copy."))
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        if self.examples:
            self.list.setCurrentRow(0)
        else:
            self.description.setText(clean(f"No examples were found in {folder}."))
            self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(False)

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.examples):
            return
        ex = self.examples[row]
        self.title.setText(one_line(ex.name, 200))
        facts = facts_line(ex.layers, TRAIN_SECONDS.get(ex.path.stem), ex.params)
        if ex.params is None:
            facts += " · has problems to fix"
        self.facts.setText(one_line(f"{facts} · {ex.path.name}"))
        self.description.setText(clean(ex.description or ""))
        pixmap = picture_pixmap(ex.path, self.picture.size(), self.devicePixelRatioF())
        self.picture.setVisible(pixmap is not None)
        if pixmap is not None:
            self.picture.setPixmap(pixmap)

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        return Path(item.data(PATH_ROLE)) if item is not None else None

    @classmethod
    def choose(cls, parent: QWidget | None = None) -> Path | None:
        """Show the gallery (modal); the chosen example's path, or None when cancelled."""
        dialog = cls(parent)
        return dialog.selected_path() if dialog.exec() == QDialog.DialogCode.Accepted else None
