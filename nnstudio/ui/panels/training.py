"""The training panel: the settings form (built from ``training.config.PARAMS``), the device, Start /
Pause-Resume / Stop and the progress of the run (epoch, step, ETA, samples per second).

Settings are read from and written to ``project.training`` (``TrainConfig.to_dict()``); every accepted edit
emits ``settings_edited(new_dict)`` and, when ``auto_apply`` is on (the default), writes the project and emits
``changed`` so the window can mark the document modified. A value a setting refuses is shown under the field in
plain words and not written.

Integration::

    panel = TrainingPanel(); panel.set_project(project, base_dir)
    panel.attach(worker)       # Start -> worker.start_project(project, base_dir); Pause/Resume/Stop; progress
    panel.changed -> mark the document modified (or set auto_apply False and push an undo command from
    settings_edited)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.errors import NNStudioError
from nnstudio.core.layers.base import Param
from nnstudio.core.training.config import PARAMS, TrainConfig
from nnstudio.core.training.device import available_devices
from nnstudio.ui.safe_text import clean, one_line, plain

ERROR_STYLE = "color: #c0392b;"
PROGRESS_HZ = 5
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Optimisation", ("optimizer", "lr", "momentum", "nesterov", "batch_size", "epochs")),
    ("Regularisation", ("l1", "l2", "grad_clip")),
    ("Learning-rate schedule", ("schedule", "step_size", "gamma", "plateau_patience", "plateau_factor")),
    ("Early stopping and best weights", ("early_stopping", "monitor", "patience", "min_delta", "restore_best")),
    ("Device and the rest", ("device", "mixed_precision", "seed", "telemetry_every")),
)


def _editor_for(param: Param) -> QWidget:
    from nnstudio.ui.panels.param_widgets import editor_for

    return editor_for(param)


class ParamForm(QWidget):
    """Rows of editors for typed ``Param``s, each with its problem line. ``edited(name, value)`` for values the
    Param accepts; refused values show their message under the field instead."""

    edited = Signal(str, object)

    def __init__(self, params: Iterable[Param], editor_factory: Callable[[Param], QWidget] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = {p.name: p for p in params}
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.problems: dict[str, QLabel] = {}
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: label above field
        self.form.setContentsMargins(6, 4, 6, 4)
        factory = editor_factory or _editor_for
        for p in self.params.values():
            editor = factory(p)
            editor.setObjectName(f"param_{p.name}")
            editor.edited.connect(lambda value, name=p.name: self._edited(name, value))
            label = QLabel(p.title)
            if p.help:
                label.setToolTip(p.help)
                editor.setToolTip(p.help)
            problem = plain(QLabel())  # the setting's message may quote a value from the file
            problem.setWordWrap(True)
            problem.setStyleSheet(ERROR_STYLE)
            problem.hide()
            self.form.addRow(label, editor)
            self.form.addRow(problem)
            self.editors[p.name], self.labels[p.name], self.problems[p.name] = editor, label, problem

    def set_values(self, values: dict[str, Any]) -> None:
        for name, editor in self.editors.items():
            value = values.get(name, self.params[name].default)
            editor.set_value(value)
            self.set_problem(name, self.params[name].check(value))

    def set_problem(self, name: str, message: str | None) -> None:
        label = self.problems[name]
        label.setText(clean(message or "", 1000))
        label.setVisible(bool(message))

    def problem(self, name: str) -> str | None:
        return self.problems[name].text() or None

    def set_relevant(self, name: str, on: bool) -> None:
        """Grey out a setting that has no effect with the other settings (kept, not hidden)."""
        self.editors[name].setEnabled(on)
        self.labels[name].setEnabled(on)

    def _edited(self, name: str, value: Any) -> None:
        message = self.params[name].check(value)
        self.set_problem(name, message)
        if message is None:
            self.edited.emit(name, value)


class TrainingPanel(QWidget):
    changed = Signal()  # project.training was written
    settings_edited = Signal(dict)  # the whole new training dict after an accepted edit
    start_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.project = None
        self.base_dir: str | Path | None = None
        self.worker = None
        self.auto_apply = True
        self.info: dict[str, Any] = {}
        self._progress_at = 0.0
        self._values: dict[str, Any] = TrainConfig().to_dict()

        by_name = {p.name: p for p in PARAMS}
        self.forms: list[ParamForm] = []
        self.device = QComboBox()
        self.device.setObjectName("deviceSelector")
        self.device.setToolTip("Where training runs: auto picks a CUDA GPU, then an Apple GPU, then the CPU")
        self._fill_devices()
        self.device.currentIndexChanged.connect(self._device_chosen)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        for title, names in SECTIONS:
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            params = [by_name[n] for n in names if n in by_name]
            form = ParamForm(params)
            form.edited.connect(self._edited)
            if "device" in names:
                form.form.insertRow(0, QLabel("Device"), self.device)
            box_layout.addWidget(form)
            body_layout.addWidget(box)
            self.forms.append(form)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_area = body

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startTraining")
        self.start_button.clicked.connect(self._start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseTraining")
        self.pause_button.clicked.connect(self._pause_resume)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopTraining")
        self.stop_button.clicked.connect(self._stop)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress_label = plain(QLabel("Not started"))
        self.progress_label.setWordWrap(True)
        # two lines, always: a label whose height follows its text would re-lay the panel out at every report
        self.progress_label.setFixedHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.progress_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.message = plain(QLabel())  # an error may quote the file (a path, a column name)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message)
        self._apply_state("idle")
        self._show_values()

    # -- the project ---------------------------------------------------------------------------------------
    def set_project(self, project, base_dir: str | Path | None = None) -> None:
        """Show ``project``'s training settings (a bad saved value is shown with its problem)."""
        self.project, self.base_dir = project, base_dir
        values = TrainConfig().to_dict()
        values.update(dict(project.training or {}) if project is not None else {})
        self._values = values
        self._show_values()

    def _show_values(self) -> None:
        for form in self.forms:
            form.set_values(self._values)
        self._select_device(str(self._values.get("device", "auto")))
        self._update_relevance()

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def _edited(self, name: str, value: Any) -> None:
        self._set(name, value)

    def _set(self, name: str, value: Any) -> None:
        data = dict(self._values)
        data[name] = value
        try:
            new = TrainConfig.from_dict(data).to_dict()
        except NNStudioError as exc:  # another setting (from a file) is bad: say so, keep this edit on screen
            self._show_message(str(exc))
            self._values = data
            return
        self._values = new
        self._show_message(None)
        self._update_relevance()
        self.settings_edited.emit(dict(new))
        if self.auto_apply and self.project is not None:
            self.project.training = dict(new)
            self.changed.emit()

    def _update_relevance(self) -> None:
        v = self._values
        relevant = {
            "momentum": v.get("optimizer") in ("sgd", "rmsprop"),
            "nesterov": v.get("optimizer") == "sgd",
            "step_size": v.get("schedule") == "step",
            "gamma": v.get("schedule") == "step",
            "plateau_patience": v.get("schedule") == "plateau",
            "plateau_factor": v.get("schedule") == "plateau",
            "monitor": bool(v.get("early_stopping")) or v.get("schedule") == "plateau",
            "patience": bool(v.get("early_stopping")),
            "min_delta": bool(v.get("early_stopping")),
            "mixed_precision": str(v.get("device", "auto")).startswith(("cuda", "auto")),
        }
        for form in self.forms:
            for name in form.editors:
                form.set_relevant(name, relevant.get(name, True))

    # -- device --------------------------------------------------------------------------------------------
    def _fill_devices(self) -> None:
        self.device.blockSignals(True)
        self.device.clear()
        devices = available_devices()
        best = next((d["name"] for d in devices if d["id"] != "cpu"), "CPU")
        self.device.addItem(f"Automatic ({best})", "auto")
        for d in devices:
            self.device.addItem(d["name"] if d["id"] == "cpu" else f"{d['name']} [{d['id']}]", d["id"])
        self.device.blockSignals(False)

    def device_ids(self) -> list[str]:
        return [self.device.itemData(i) for i in range(self.device.count())]

    def _select_device(self, device: str) -> None:
        self.device.blockSignals(True)
        index = self.device.findData(device)
        if index < 0:  # saved on another machine: show it, training will say it is missing
            self.device.addItem(f"{one_line(device, 100)} (not available here)", device)
            index = self.device.count() - 1
        self.device.setCurrentIndex(index)
        self.device.blockSignals(False)

    def _device_chosen(self, index: int) -> None:
        if index >= 0:
            self._set("device", self.device.itemData(index))

    # -- running -------------------------------------------------------------------------------------------
    def attach(self, worker) -> None:
        """Drive ``worker`` (a TrainingWorker): Start trains the project, Pause/Resume/Stop control it, and its
        reports move the progress bar."""
        self.worker = worker
        worker.state_changed.connect(self._apply_state)
        worker.started.connect(self._started)
        worker.drained.connect(self.show_progress)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self._apply_state(worker.state)

    def _start(self) -> None:
        self._show_message(None)
        self.start_requested.emit()
        if self.worker is not None and self.project is not None and not self.worker.running:
            self.progress.setValue(0)
            self.progress.setFormat("")
            self.progress_label.setText("Preparing: compiling the network and loading the data…")
            self.worker.start_project(self.project, base_dir=self.base_dir)

    def _pause_resume(self) -> None:
        if self.worker is None:
            return
        if self.worker.state == "paused":
            self.worker.resume()
        else:
            self.worker.pause()

    def _stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def _apply_state(self, state: str) -> None:
        running = state in ("running", "paused", "stopping")
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.settings_area.setEnabled(not running)
        if state == "paused":
            self.progress_label.setText("Paused. " + self.progress_label.text().removeprefix("Paused. "))
        elif state == "stopping":
            self.progress_label.setText("Stopping after this step…")

    def _started(self, info: dict[str, Any]) -> None:
        self.info = dict(info)
        self.progress_label.setText(f"Training on {info.get('device', '?')}: {info.get('train_samples', 0):,} "
                                    f"training samples, {info.get('val_samples', 0):,} for validation")

    def show_progress(self, contents) -> None:
        """Move the bar to the newest step report of a drain (a ``Drained``), at most PROGRESS_HZ times a
        second: text and bar updates cost the GUI thread time that the training thread waits for."""
        steps = getattr(contents, "steps", None)
        if not steps:
            return
        now = time.perf_counter()
        r = steps[-1]
        if now - self._progress_at < 1.0 / PROGRESS_HZ and r.step < r.total_steps:
            return
        self._progress_at = now
        value = int(1000 * r.progress)
        if value != self.progress.value():
            self.progress.setValue(value)
            self.progress.setFormat(f"{r.progress:.0%}")
        paused = "Paused. " if self.worker is not None and self.worker.state == "paused" else ""
        self.progress_label.setText(
            f"{paused}Epoch {r.epoch}/{r.epochs} · step {r.step:,}/{r.total_steps:,}\n"
            f"ETA {format_eta(r.eta_s)} · {r.samples_per_sec:,.0f} samples/s")

    def _finished(self, result) -> None:
        from nnstudio.core.training.project_run import headline

        words = {"completed": "Finished", "stopped": "Stopped", "early_stopping": "Stopped early"}
        epochs = len(result.history.get("epochs", []))
        if result.stop_reason == "completed":
            self.progress.setValue(1000)
            self.progress.setFormat("100%")
        self.progress_label.setText(f"{words.get(result.stop_reason, result.stop_reason)} after {epochs} "
                                    f"epoch{'s' if epochs != 1 else ''}: "
                                    f"{headline(result, self.info.get('task', 'multiclass'))}")

    def _failed(self, message: str) -> None:
        self.progress_label.setText("Training did not run to the end.")
        self._show_message(message)

    def _show_message(self, message: str | None) -> None:
        self.message.setText(clean(message or "", 2000))
        self.message.setVisible(bool(message))


def format_eta(seconds: float) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
