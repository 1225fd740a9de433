"""The training panel: the settings form (built from ``training.config.PARAMS``), the device, Start /
Pause-Resume / Stop and the progress of the run (epoch, step, ETA, samples per second).

A view of the window's Session (``bind_session``): the form shows ``session.training`` (again on
``training_changed`` and ``project_replaced``, leaving alone the editors whose value did not change, so typing
and focus survive); an accepted edit only emits ``settings_edited(new_dict)``, the whole new training dict,
which the controller turns into an undo command. A value a setting refuses is explained under the field and
not sent. The buttons only ask (``start_requested``, ``pause_requested`` for Pause and Resume,
``stop_requested``); they, the bar and the state line follow ``session.run``, and while a run is active the
form is disabled under ``session.edit_refusal()``. ``attach(worker)`` adds the worker's epoch / step / ETA line
while the run is active.
"""

from __future__ import annotations

import time
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
from nnstudio.ui.binding import rebind
from nnstudio.ui.safe_text import clean, one_line, plain, tooltip

ERROR_STYLE = "color: #c0392b;"
NOTE_STYLE = "color: #b9770e;"
PROGRESS_HZ = 5
NOT_STARTED = "Not started"
STOPPING = "Stopping after this step…"
START_TIP = "Train the network with these settings (F5)"
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Optimisation", ("optimizer", "lr", "momentum", "nesterov", "batch_size", "epochs")),
    ("Regularisation", ("l1", "l2", "grad_clip")),
    ("Learning-rate schedule", ("schedule", "step_size", "gamma", "plateau_patience", "plateau_factor")),
    ("Early stopping and best weights", ("early_stopping", "monitor", "patience", "min_delta", "restore_best")),
    ("Device and the rest", ("device", "mixed_precision", "seed", "telemetry_every")),
)
_MAX_HEIGHT = 16777215  # Qt's QWIDGETSIZE_MAX


def _editor_for(param: Param) -> QWidget:
    from nnstudio.ui.panels.param_widgets import editor_for

    return editor_for(param)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


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
        self._shown: dict[str, Any] = {}  # what each editor shows (set, or entered by the person)
        self._model: dict[str, Any] = {}  # the values last given to show
        self._refused: dict[str, Any] = {}  # name -> the value shown before a refused entry
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
        """Show ``values`` in every editor (a missing one: its default), each with its problem."""
        self._refused.clear()
        for name, editor in self.editors.items():
            value = values.get(name, self.params[name].default)
            editor.set_value(value)
            self._shown[name] = self._model[name] = value
            self.set_problem(name, self.params[name].check(value))

    def update_values(self, values: dict[str, Any]) -> None:
        """Like ``set_values``, but an editor that already shows its value is not touched (the person may be
        typing in it), and a refused entry stays with its message while the value it would replace stays."""
        for name, editor in self.editors.items():
            value = values.get(name, self.params[name].default)
            self._model[name] = value
            if name in self._refused:
                if _same(self._refused[name], value):
                    continue
                del self._refused[name]
            if name not in self._shown or not _same(self._shown[name], value):
                editor.set_value(value)
                self._shown[name] = value
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
        self._shown[name] = value
        message = self.params[name].check(value)
        self.set_problem(name, message)
        if message is None:
            self._refused.pop(name, None)
            self.edited.emit(name, value)
        else:
            self._refused.setdefault(name, self._model.get(name, self.params[name].default))


class TrainingPanel(QWidget):
    """See the module's doc. ``bind_session(session)`` once; ``attach(worker)`` for the live detail line."""

    settings_edited = Signal(dict)  # the whole new training dict after an accepted edit
    start_requested = Signal()
    pause_requested = Signal()  # Pause, or Resume while paused: the controller tells them apart
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.session: Any = None
        self._pending: dict[str, Any] = {}  # accepted edits not sent: another setting (from a file) is bad
        self._detail = ""  # the worker's newest epoch / step / ETA line for the active run
        self._detail_run = 0
        self._progress_at = 0.0

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
            form.edited.connect(self._set)
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
        self.lock_note = plain(QLabel())  # why the settings cannot be changed now
        self.lock_note.setObjectName("trainingLockNote")
        self.lock_note.setWordWrap(True)
        self.lock_note.setStyleSheet(NOTE_STYLE)
        self.lock_note.hide()

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startTraining")
        self.start_button.clicked.connect(self._start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseTraining")
        self.pause_button.clicked.connect(self.pause_requested.emit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopTraining")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setAutoFillBackground(True)  # opaque: its progress repaints the bar, not the dock behind it
        self.progress_label = plain(QLabel(NOT_STARTED))  # a failure's message may quote the file
        self.progress_label.setWordWrap(True)
        self._two_lines = 2 * self.progress_label.fontMetrics().lineSpacing() + 4
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.progress_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.progress_label.setAutoFillBackground(True)  # opaque: a report repaints the label, not the dock
        self.message = plain(QLabel())  # a settings error may quote the file
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.lock_note)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        self._show_values(full=True)
        self._show_run()

    # -- the session ---------------------------------------------------------------------------------------
    def bind_session(self, session) -> None:
        """Show ``session`` (a ``nnstudio.core.session.Session``) from now on."""
        rebind(self.session, session, self._handlers())
        self.session = session
        self._project_replaced()

    def _handlers(self) -> list[tuple[str, Callable[[Any], None]]]:
        return [("project_replaced", self._project_replaced), ("training_changed", self._training_changed),
                ("run_state_changed", self._run_changed), ("readiness_changed", self._refusal_changed),
                ("data_changed", self._refusal_changed)]

    def _project_replaced(self, _project: Any = None) -> None:
        self._pending.clear()
        self._detail, self._detail_run = "", 0
        self._show_message(None)
        self._show_values(full=True)
        self._show_run()

    def _training_changed(self, _training: Any = None) -> None:
        self._pending.clear()
        self._show_message(None)
        self._show_values()

    def _run_changed(self, _run: Any = None) -> None:
        self._show_run()

    def _refusal_changed(self, _value: Any = None) -> None:
        self._show_start_tip()

    # -- the settings ----------------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The settings the form shows: the session's (over the defaults) and edits not yet sent."""
        values = TrainConfig().to_dict()
        if self.session is not None:
            values.update(self.session.training or {})
        values.update(self._pending)
        return values

    def _show_values(self, full: bool = False) -> None:
        values = self.values()
        for form in self.forms:
            if full:
                form.set_values(values)
            else:
                form.update_values(values)
        self._select_device(str(values.get("device", "auto")))
        self._update_relevance(values)

    def _set(self, name: str, value: Any) -> None:
        data = self.values()
        data[name] = value
        try:
            new = TrainConfig.from_dict(data).to_dict()
        except NNStudioError as exc:  # another setting (from a file) is bad: say so, keep this edit on screen
            self._pending[name] = value
            self._show_message(str(exc))
            self._update_relevance(data)
            return
        self._pending.clear()
        self._show_message(None)
        self.settings_edited.emit(dict(new))
        self._show_values()  # what the session holds now: the edit, once the controller applied it

    def _update_relevance(self, v: dict[str, Any]) -> None:
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
        if self.device.currentData() == device:
            return
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

    # -- the run -----------------------------------------------------------------------------------------------
    def attach(self, worker) -> None:
        """Take the live detail line (device and samples, then epoch, step, ETA and speed) from ``worker`` (a
        TrainingWorker) while the session's run is active. The buttons still follow the session only."""
        worker.started.connect(self._started)
        worker.drained.connect(self.show_progress)

    def _start(self) -> None:
        self._show_message(None)
        self.start_requested.emit()

    def _run(self):
        return self.session.run if self.session is not None else None

    def _show_run(self) -> None:
        """Buttons, bar and state line from ``session.run``; the form is locked while it is active."""
        run = self._run()
        phase = run.phase if run is not None else "idle"
        active = phase != "idle"
        if not active or (run is not None and run.run != self._detail_run):
            self._detail = ""  # an ended (or another) run's detail must not stay on screen
        self.start_button.setEnabled(not active)
        self.pause_button.setEnabled(phase in ("preparing", "running", "paused"))
        self.pause_button.setText("Resume" if phase == "paused" else "Pause")
        self.stop_button.setEnabled(phase in ("preparing", "running", "paused"))
        refusal = self.session.edit_refusal() if self.session is not None else None
        self.settings_area.setEnabled(not refusal)
        self.lock_note.setText(clean(refusal or "", 400))
        self.lock_note.setVisible(bool(refusal))
        if run is None or (not active and run.run == 0 and not run.summary):
            value, text = 0, ""
        else:
            value, text = round(1000 * run.progress), f"{run.progress:.0%}"
        if self.progress.value() != value:
            self.progress.setValue(value)
        self.progress.setFormat(text)
        self._show_state_line()
        self._show_start_tip()

    def _show_state_line(self) -> None:
        run = self._run()
        phase = run.phase if run is not None else "idle"
        summary = run.summary if run is not None else ""
        if phase == "idle":
            text = summary or NOT_STARTED
        elif phase == "stopping":
            text = STOPPING
        else:
            text = self._detail or summary
            if phase == "paused":
                text = "Paused. " + text
        text = clean(text, 2000)
        if phase == "idle":  # room for a whole message; while running, two lines so that reports do not re-lay out
            self.progress_label.setMinimumHeight(self._two_lines)
            self.progress_label.setMaximumHeight(_MAX_HEIGHT)
        else:
            self.progress_label.setFixedHeight(self._two_lines)
        if self.progress_label.text() != text:
            self.progress_label.setText(text)
            self.progress_label.setToolTip(tooltip(text))

    def _show_start_tip(self) -> None:
        refusal = self.session.train_refusal() if self.session is not None else None
        self.start_button.setToolTip(tooltip(refusal) if refusal else START_TIP)

    def _live_run(self) -> int:
        run = self._run()
        return run.run if run is not None and run.active else 0

    def _started(self, info: dict[str, Any]) -> None:
        run = self._live_run()
        if not run:
            return
        self._detail, self._detail_run = (f"Training on {info.get('device', '?')}: "
                                          f"{info.get('train_samples', 0):,} training samples, "
                                          f"{info.get('val_samples', 0):,} for validation"), run
        self._show_state_line()

    def show_progress(self, contents) -> None:
        """The newest step report of a drain (a ``Drained``) as the detail line, at most PROGRESS_HZ times a
        second (text updates cost the GUI thread time that the training thread waits for); only while the
        session's run is active."""
        steps = getattr(contents, "steps", None)
        run = self._live_run()
        if not steps or not run:
            return
        now = time.perf_counter()
        r = steps[-1]
        if now - self._progress_at < 1.0 / PROGRESS_HZ and r.step < r.total_steps:
            return
        self._progress_at = now
        self._detail, self._detail_run = (f"Epoch {r.epoch}/{r.epochs} · step {r.step:,}/{r.total_steps:,}\n"
                                          f"ETA {format_eta(r.eta_s)} · {r.samples_per_sec:,.0f} samples/s"), run
        self._show_state_line()

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
