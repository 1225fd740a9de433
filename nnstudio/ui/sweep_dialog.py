"""The sweep dialog: which settings to sweep and their values, grid or random draws, and the seeds.

Each row is a setting (a training setting, or the rate of one of the network's Dropout layers) and its values,
typed as on the command line (``sgd, adam, rmsprop``; ``0.01, 0.001``). The line under the rows always says what
OK would start ("12 runs: 6 points x 2 seeds") or, in red, the first thing wrong (the same words as
``nnstudio sweep``), and OK is enabled only when the sweep is valid. ``spec()`` gives the checked SweepSpec.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from nnstudio.core.errors import NNStudioError, TrainingError
from nnstudio.core.sweep import DROPOUT, MAX_POINTS, MAX_SEEDS, SWEEPABLE, SweepSpec, check, parse_set
from nnstudio.ui import safe_text
from nnstudio.ui.panels.training import ERROR_STYLE

# What a new dialog offers first: the reference notes' comparison of optimizers.
FIRST_ROW = ("optimizer", "sgd, adam, rmsprop")


def setting_names(graph: Any) -> list[str]:
    """The settings a sweep can change: the training settings, then ``dropout:<id>`` per Dropout layer."""
    names = sorted(SWEEPABLE)
    if graph is not None:
        names += [f"{DROPOUT}{nid}" for nid, node in graph.nodes.items() if node.type_id == "dropout"]
    return names


class SweepDialog(QDialog):
    def __init__(self, graph: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.setObjectName("sweepDialog")
        self.graph = graph
        self.first_seed = 0  # the first run's seed (a loaded sweep keeps its own)
        self.rows: list[tuple[QComboBox, QLineEdit, QPushButton]] = []
        self.grid = QGridLayout()
        self.grid.addWidget(QLabel("Setting"), 0, 0)
        self.grid.addWidget(QLabel("Values (separated by commas)"), 0, 1)
        self.add_button = QPushButton("Add Setting")
        self.add_button.clicked.connect(lambda: self.add_row())
        self.grid_mode = QRadioButton("Every combination (grid)")
        self.random_mode = QRadioButton("Random draws:")
        self.grid_mode.setChecked(True)
        self.draws = QSpinBox()
        self.draws.setRange(1, MAX_POINTS)
        self.draws.setValue(8)
        self.seeds = QSpinBox()
        self.seeds.setRange(1, MAX_SEEDS)
        self.seeds.setValue(1)
        self.seeds.setToolTip("Each point trains once per seed; the results show the mean and spread")
        self.status = safe_text.plain(QLabel())
        self.status.setObjectName("sweepStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run Sweep")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for widget in (self.grid_mode, self.random_mode):
            widget.toggled.connect(self.refresh)
        for box in (self.draws, self.seeds):
            box.valueChanged.connect(self.refresh)

        mode = QHBoxLayout()
        mode.addWidget(self.grid_mode)
        mode.addWidget(self.random_mode)
        mode.addWidget(self.draws)
        mode.addStretch(1)
        form = QFormLayout()
        form.addRow("Points", mode)
        form.addRow("Seeds per point", self.seeds)
        layout = QVBoxLayout(self)
        layout.addLayout(self.grid)
        layout.addWidget(self.add_button)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.add_row(*FIRST_ROW)

    def add_row(self, name: str = "lr", values: str = "") -> None:
        chooser = QComboBox()
        chooser.addItems(setting_names(self.graph))
        chooser.setCurrentText(name)
        line = QLineEdit(values)
        line.setPlaceholderText("e.g. 0.01, 0.001")
        remove = QPushButton("Remove")
        row = (chooser, line, remove)
        remove.clicked.connect(lambda: self.remove_row(row))
        chooser.currentTextChanged.connect(self.refresh)
        line.textChanged.connect(self.refresh)
        at = len(self.rows) + 1
        for column, widget in enumerate(row):
            self.grid.addWidget(widget, at, column)
        self.rows.append(row)
        self.refresh()

    def load(self, spec: SweepSpec) -> None:
        """Show ``spec`` (the project's saved sweep): its settings and values, mode, draws and seeds."""
        for row in list(self.rows):
            self.remove_row(row)
        for name, values in spec.values.items():
            self.add_row(name, ", ".join(f"{v:g}" if isinstance(v, float) else str(v).lower()
                                         if isinstance(v, bool) else str(v) for v in values))
        (self.random_mode if spec.mode == "random" else self.grid_mode).setChecked(True)
        if spec.mode == "random":
            self.draws.setValue(spec.draws)
        self.seeds.setValue(spec.seeds)
        self.first_seed = spec.seed
        self.refresh()

    def remove_row(self, row: tuple[QComboBox, QLineEdit, QPushButton]) -> None:
        if row in self.rows:
            self.rows.remove(row)
            for widget in row:
                self.grid.removeWidget(widget)
                widget.hide()  # now: a dialog's own loop (exec) does not delete it until it returns
                widget.deleteLater()
        self.refresh()

    def spec(self) -> SweepSpec:
        """The checked sweep the rows describe; NNStudioError (TrainingError) with the first problem."""
        values: dict[str, list[Any]] = {}
        for chooser, line, _ in self.rows:
            name, parsed = parse_set(f"{chooser.currentText()}={line.text()}", self.graph)
            if name in values:
                raise TrainingError(f"sweep setting {name!r} is in two rows: put its values in one")
            values[name] = parsed
        mode = "random" if self.random_mode.isChecked() else "grid"
        return check(SweepSpec(values, mode, self.draws.value() if mode == "random" else 0, self.seeds.value(),
                               self.first_seed), self.graph)

    def refresh(self, *_args: Any) -> None:
        self.draws.setEnabled(self.random_mode.isChecked())
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            spec = self.spec()
        except NNStudioError as exc:
            self.status.setStyleSheet(ERROR_STYLE)
            safe_text.set_plain(self.status, str(exc))
            ok.setEnabled(False)
            return
        points = spec.draws if spec.mode == "random" else math.prod(len(v) for v in spec.values.values())
        runs = points * spec.seeds
        self.status.setStyleSheet("")
        safe_text.set_plain(self.status, f"{runs:,} run{'s' if runs != 1 else ''}: {points:,} point"
                                         f"{'s' if points != 1 else ''} x {spec.seeds} seed{'s' if spec.seeds != 1 else ''}")
        ok.setEnabled(True)
