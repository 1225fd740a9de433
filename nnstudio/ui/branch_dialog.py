"""Branch a new run from a kept run: how many more epochs, and the settings to go on with (the run's own to
start with: lower the learning rate after epoch 20, change the optimizer ...). The line under the fields says
what OK starts, or in red the first value that is wrong; ``overrides()`` gives the settings the branch trains with.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from nnstudio.core.errors import TrainingError
from nnstudio.core.training.config import PARAMS
from nnstudio.ui import safe_text
from nnstudio.ui.panels.training import ERROR_STYLE

_PARAM = {p.name: p for p in PARAMS}


class BranchDialog(QDialog):
    """``run``: the run dict to branch from; ``epoch``: the epoch its kept weights are of."""

    def __init__(self, run: dict[str, Any], epoch: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Branch from Run")
        self.setObjectName("branchDialog")
        settings = run.get("settings") if isinstance(run.get("settings"), dict) else {}
        self.run, self.epoch = run, int(epoch)
        head = safe_text.plain(QLabel())
        head.setWordWrap(True)
        safe_text.set_plain(head, f"A new run starts from the weights of “{safe_text.one_line(run.get('name', ''))}” "
                                  f"after epoch {self.epoch}, and goes on with these settings. The run itself is "
                                  "kept as it is.")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, int(_PARAM["epochs"].maximum))
        self.epochs.setValue(max(1, int(settings.get("epochs", 10) or 10)))
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(_PARAM["optimizer"].choices))
        self.optimizer.setCurrentText(str(settings.get("optimizer", _PARAM["optimizer"].default)))
        self.lr = QLineEdit(f"{float(settings.get('lr', _PARAM['lr'].default)):g}")
        self.batch = QSpinBox()
        self.batch.setRange(1, int(_PARAM["batch_size"].maximum))
        self.batch.setValue(int(settings.get("batch_size", _PARAM["batch_size"].default)))
        self.status = safe_text.plain(QLabel())
        self.status.setObjectName("branchStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train Branch")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("More epochs", self.epochs)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.lr.textChanged.connect(self.refresh)
        for box in (self.epochs, self.batch):
            box.valueChanged.connect(self.refresh)
        self.optimizer.currentTextChanged.connect(self.refresh)
        self.refresh()

    def overrides(self) -> dict[str, Any]:
        """The settings the branch trains with; TrainingError naming the first bad one."""
        try:
            lr = float(self.lr.text().strip())
        except ValueError:
            raise TrainingError(f"Learning rate: {safe_text.one_line(self.lr.text())[:40]!r} is not a number") from None
        values = {"epochs": self.epochs.value(), "optimizer": self.optimizer.currentText(), "lr": lr,
                  "batch_size": self.batch.value()}
        for name, value in values.items():
            problem = _PARAM[name].check(value)
            if problem:
                raise TrainingError(problem)
        return values

    def refresh(self, *_args: Any) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            values = self.overrides()
        except TrainingError as exc:
            self.status.setStyleSheet(ERROR_STYLE)
            safe_text.set_plain(self.status, str(exc))
            ok.setEnabled(False)
            return
        self.status.setStyleSheet("")
        last = self.epoch + values["epochs"]
        safe_text.set_plain(self.status, f"Trains epochs {self.epoch + 1} to {last} with {values['optimizer']}, "
                                         f"learning rate {values['lr']:g}, batch size {values['batch_size']}.")
        ok.setEnabled(True)
