"""The Dataset panel's offer to move the digits CNN onto MNIST in one click.

The bundled digits at 28 x 28 are 1,797 scans resized from 8 x 8: enough to see a CNN learn, small for a real
test. When a project uses them at that size (the Digits CNN example does), the panel offers MNIST, whose images
have the same shape, so the network fits it unchanged; the click is one undoable dataset edit, with download on
(it shows progress and can be cancelled; files already in the data folder are used as they are).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from nnstudio.core.data.registry import SPLIT_KEYS

OFFER_TEXT = "Train on the real thing: MNIST has 60,000 handwritten digits of the same 28 x 28 size."


def offered(config: dict[str, Any] | None) -> bool:
    """Whether ``config`` is the digits at MNIST's size."""
    return bool(config) and config.get("name") == "digits" and config.get("size") == 28


def mnist_config(config: dict[str, Any]) -> dict[str, Any]:
    """MNIST instead of ``config``, keeping its split settings."""
    return {"name": "mnist", "download": True, **{k: v for k, v in config.items() if k in SPLIT_KEYS}}


class MnistOffer(QWidget):
    """A line and a button; ``chosen(config)`` carries the new dataset config."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mnistOffer")
        self._config: dict[str, Any] | None = None
        self.label = QLabel(OFFER_TEXT)
        self.label.setWordWrap(True)
        self.button = QPushButton("Use MNIST")
        self.button.setObjectName("useMnist")
        self.button.setToolTip("Switch this project's dataset to MNIST (about 11 MB, downloaded once into your "
                               "data folder); Undo switches back")
        self.button.clicked.connect(self._clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    def show_for(self, config: dict[str, Any] | None, editable: bool) -> None:
        self._config = dict(config) if offered(config) else None
        self.setVisible(self._config is not None)
        self.button.setEnabled(editable)

    def _clicked(self) -> None:
        if self._config is not None:
            self.chosen.emit(mnist_config(self._config))
