"""One editor widget per parameter kind, all with the same small interface: ``set_value(v)`` shows a model value
without emitting, and ``edited(value)`` reports what the user entered -- as entered, even when it is invalid, so
the Param's own check (through SetParamsCommand) gives the message. Nothing is clamped silently: spin boxes get a
range far wider than the Param's."""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from nnstudio.core.layers.base import ACTIVATION_TITLES, Param
from nnstudio.ui.safe_text import one_line

INT_LIMIT = 2_000_000_000  # inside Qt's 32-bit spin box range, far outside any Param's
FLOAT_LIMIT = 1e15
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def float_text(value: float) -> str:
    """Short, exact enough, and scientific for tiny or huge values: 0.5, 1e-05, 0.001."""
    if value == 0:
        return "0"
    text = f"{value:.6g}"
    return text


class IntEditor(QSpinBox):
    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(-INT_LIMIT, INT_LIMIT)
        self.setKeyboardTracking(False)  # one edit when Enter is pressed or focus leaves, not per digit
        self.setAccelerated(True)
        self.setMinimumWidth(90)
        self.valueChanged.connect(self.edited.emit)

    def sizeHint(self):  # the wide range would make the box as wide as "-2000000000"
        hint = super().sizeHint()
        hint.setWidth(min(hint.width(), 120))
        return hint

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setValue(int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0)


class FloatEditor(QDoubleSpinBox):
    """Shows values like 0.5 or 1e-05 and accepts scientific input. A Param whose range spans many orders of
    magnitude (eps: 1e-12 .. 1) steps by factors of 10; others by a round fraction of their range."""

    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)  # keep precision: the text is formatted by textFromValue
        self.setRange(-FLOAT_LIMIT, FLOAT_LIMIT)
        self.setKeyboardTracking(False)
        self.setMinimumWidth(90)
        lo, hi = param.minimum, param.maximum
        self.logarithmic = bool(lo is not None and lo > 0 and hi is not None and hi / lo >= 1e4)
        self.setSingleStep(_nice_step(lo, hi))
        self.valueChanged.connect(self.edited.emit)

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setWidth(min(hint.width(), 120))
        return hint

    def textFromValue(self, value: float) -> str:
        return float_text(value)

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        s = text.strip()
        if _FLOAT_RE.match(s):
            return QValidator.State.Acceptable, text, pos
        if s == "" or re.match(r"^[+-]?(\d*\.?\d*)([eE][+-]?\d*)?$", s):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def fixup(self, text: str) -> str:
        return text

    def stepBy(self, steps: int) -> None:
        if self.logarithmic and self.value() > 0:
            self.setValue(float(f"{self.value() * 10.0 ** steps:.6g}"))
        else:
            self.setValue(round(self.value() + steps * self.singleStep(), 12))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            self.setValue(float(value) if ok else 0.0)


def _nice_step(lo: float | None, hi: float | None) -> float:
    if lo is None or hi is None or hi <= lo:
        return 0.1
    raw = (hi - lo) / 20
    exponent = math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * 10**exponent:
            return factor * 10**exponent
    return 10 ** (exponent + 1)


class BoolEditor(QCheckBox):
    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggled.connect(self.edited.emit)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setChecked(bool(value))


class ChoiceEditor(QComboBox):
    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        titles = ACTIVATION_TITLES if param.name in ("activation", "function") else {}
        for choice in param.choices:
            self.addItem(titles.get(choice, choice.replace("_", " ")), choice)
        self.currentIndexChanged.connect(self._commit)

    def _commit(self, index: int) -> None:
        self.edited.emit(self.itemData(index))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            index = self.findData(value)
            if index < 0:  # a value from a file that is not a choice: show it, so the problem is visible
                self.addItem(one_line(value, 100), value)
                index = self.count() - 1
            self.setCurrentIndex(index)


class PaddingEditor(QComboBox):
    """'valid', 'same' or a number typed in."""

    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItems(["valid", "same"])
        self.lineEdit().setPlaceholderText("valid, same or a number")
        self.lineEdit().editingFinished.connect(self._commit)
        self.activated.connect(self._commit)

    def _commit(self, *_args) -> None:
        self.edited.emit(parse_padding(self.currentText()))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self), QSignalBlocker(self.lineEdit()):
            self.setEditText(str(value))


def parse_padding(text: str) -> Any:
    s = text.strip().lower()
    if s in ("valid", "same"):
        return s
    try:
        return int(s)
    except ValueError:
        return text.strip()  # refused by the Param with its own message


class IntsEditor(QLineEdit):
    """A list of whole numbers typed as "1, 28, 28"."""

    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("e.g. 1, 28, 28")
        self.editingFinished.connect(self._commit)

    def _commit(self) -> None:
        self.edited.emit(parse_ints(self.text()))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setText(", ".join(str(v) for v in value) if isinstance(value, list) else str(value))


def parse_ints(text: str) -> Any:
    # "1, 28, 28", "1 28 28" and "1x28x28" all mean [1, 28, 28]; anything else is passed on to be refused
    parts = [p for p in re.split(r"\s*[,;]\s*|\s+|(?<=\d)\s*[x×]\s*(?=[-\d])", text.strip()) if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        return text.strip()  # refused by the Param with its own message


EDITORS = {
    "int": IntEditor,
    "float": FloatEditor,
    "bool": BoolEditor,
    "choice": ChoiceEditor,
    "padding": PaddingEditor,
    "ints": IntsEditor,
}


def editor_for(param: Param, parent: QWidget | None = None) -> QWidget:
    return EDITORS[param.kind](param, parent)
