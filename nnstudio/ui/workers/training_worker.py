"""Training off the GUI thread (with ``data_loader``, the only places NN Studio creates threads).

``TrainingWorker`` runs :func:`nnstudio.core.training.engine.train` on a ``QThread``. The engine calls a
:class:`BufferCallback` on that thread, which appends the reports to a :class:`ReportBuffer` (a lock and a few
lists, nothing else); a ``QTimer`` on the GUI thread drains the buffer about twenty times a second and emits
``drained(Drained)``, which the dashboard draws. Plots therefore redraw at the timer's rate, never once per batch.

Pause, resume and stop go through the engine's :class:`ControlToken`. Every error (the core's plain-message
errors, out of memory, anything else) ends as ``failed(message)``; the worker can start again afterwards.
``start_project`` reads the data before training, on a daemon helper of the training thread, under a
:class:`LoadToken`: Stop (and ``wait_stopped``) cancel that read between its rows, images or chunks (a read stuck
in the operating system is left behind after a second), and the run ends as ``failed(STOPPED_WHILE_LOADING)``
with nothing trained.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from nnstudio.core.data.reading import LoadCancelled, LoadToken, using
from nnstudio.core.errors import NNStudioError, TrainingError
from nnstudio.core.training.project_run import train_prepared
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.reports import (
    ActivationReport,
    BoundaryReport,
    EpochReport,
    LayerReport,
    StepReport,
    TrainResult,
)

log = logging.getLogger(__name__)

DRAIN_INTERVAL_MS = 50  # the GUI takes what training produced twenty times a second
STOPPED_WHILE_LOADING = "training was stopped while the data were loading: nothing was trained"
PREPARE_POLL_S = 0.05  # how often the training thread looks for a stop while the data are read
PREPARE_GRACE_S = 1.0  # how long a cancelled read may take to end before it is left behind


def training_threads() -> int:
    """Threads torch may use for training: every core but one, which the GUI keeps."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


@dataclass
class Drained:
    """What the training thread produced since the last drain: every step and epoch report, but only the latest
    layer, activation and boundary report (the plots show the newest picture; the histogram history keeps one
    row per drain)."""

    start: dict[str, Any] | None = None
    steps: list[StepReport] = field(default_factory=list)
    epochs: list[EpochReport] = field(default_factory=list)
    layers: LayerReport | None = None
    activations: ActivationReport | None = None
    boundary: BoundaryReport | None = None

    def __bool__(self) -> bool:
        return bool(self.start is not None or self.steps or self.epochs or self.layers is not None
                    or self.activations is not None or self.boundary is not None)


class ReportBuffer:
    """Thread-safe hand-over between the training thread (``put_*``) and the GUI thread (``drain``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = Drained()

    def put_start(self, info: dict[str, Any]) -> None:
        with self._lock:
            self._pending.start = dict(info)

    def put_step(self, report: StepReport) -> None:
        with self._lock:
            self._pending.steps.append(report)

    def put_epoch(self, report: EpochReport) -> None:
        with self._lock:
            self._pending.epochs.append(report)

    def put_latest(self, kind: str, report: Any) -> None:
        """``kind`` is "layers", "activations" or "boundary"; an older undrained report of that kind is dropped."""
        with self._lock:
            setattr(self._pending, kind, report)

    def drain(self) -> Drained:
        with self._lock:
            out, self._pending = self._pending, Drained()
        return out


class BufferCallback(Callback):
    """The engine's callback: puts every report into the buffer and returns at once (reports are copies)."""

    def __init__(self, buffer: ReportBuffer, extra_info: dict[str, Any] | None = None) -> None:
        self.buffer = buffer
        self.extra_info = dict(extra_info or {})

    def on_start(self, info: dict[str, Any]) -> None:
        self.buffer.put_start({**info, **self.extra_info})

    def on_step(self, report: StepReport) -> None:
        self.buffer.put_step(report)

    def on_epoch(self, report: EpochReport) -> None:
        self.buffer.put_epoch(report)

    def on_layers(self, report: LayerReport) -> None:
        self.buffer.put_latest("layers", report)

    def on_activations(self, report: ActivationReport) -> None:
        self.buffer.put_latest("activations", report)

    def on_boundary(self, report: BoundaryReport) -> None:
        self.buffer.put_latest("boundary", report)


def error_message(exc: BaseException) -> str:
    """The plain words a person sees when training fails."""
    if isinstance(exc, NNStudioError):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError):  # torch.cuda.OutOfMemoryError is the same class
        return "out of memory on the training device: lower the batch size, use a smaller network or train on the CPU"
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory: lower the batch size or use less data"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"training failed with an unexpected {type(exc).__name__}" + (f": {text}" if text else "")


def run_info(prepared: Any) -> dict[str, Any]:
    """What the dashboard needs to know before the first report: task, class names, layers, input kind."""
    compiled, split = prepared.compiled, prepared.split
    layers = [nid for nid, mod in compiled.module.named_children()
              if any(p.requires_grad for p in mod.parameters())]
    return {
        "task": compiled.task,
        "classes": list(split.train.classes),
        "layers": layers,
        "watched": [nid for nid in compiled.node_outputs if nid not in compiled.input_names],
        "preview": split.train.preview,
        "input_shape": list(split.train.input_shape),
        "epochs": prepared.config.epochs,
        "resume": prepared.resume is not None,
        "notes": list(getattr(prepared, "notes", []) or []),  # what continuing starts fresh, one line each
    }


def _prepare_stoppably(prepare_run, token: ControlToken, load_token: LoadToken) -> Any:
    """``prepare_run()`` (which reads the data) on a daemon helper thread, under ``load_token``, while this
    thread watches ``token``: on a stop the read is cancelled, and if it does not end within
    :data:`PREPARE_GRACE_S` (a read stuck in the operating system) it is left behind, so that the training
    thread, and with it the window, never waits for it. Raises TrainingError(STOPPED_WHILE_LOADING) then."""
    box: dict[str, Any] = {}
    threads = torch.get_num_threads()  # the training thread's count, for the helper too

    def run() -> None:
        torch.set_num_threads(threads)
        try:
            with using(load_token):  # the importers ask this token between rows, images and chunks
                box["prepared"] = prepare_run()
        except BaseException as exc:  # noqa: BLE001 - handed to the training thread below
            box["error"] = exc

    helper = threading.Thread(target=run, name="nnstudio-prepare", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(PREPARE_POLL_S)
        if token.stopped and helper.is_alive():
            load_token.cancel()
            helper.join(PREPARE_GRACE_S)
            if helper.is_alive():
                raise TrainingError(STOPPED_WHILE_LOADING)
    error = box.get("error")
    if isinstance(error, LoadCancelled) or (error is None and token.stopped):
        raise TrainingError(STOPPED_WHILE_LOADING)
    if error is not None:
        raise error
    return box["prepared"]


class _TrainThread(QThread):
    """Runs one training. The result or the error is kept for the GUI thread to read after ``finished``."""

    def __init__(self, target, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._target = target
        self.result: TrainResult | None = None
        self.error: str | None = None
        self.threads = training_threads()

    def run(self) -> None:  # on the new thread
        torch.set_num_threads(self.threads)  # per thread under OpenMP: the GUI thread keeps a core
        try:
            self.result = self._target()
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            log.warning("training failed", exc_info=True)
            self.error = error_message(exc)


class TrainingWorker(QObject):
    """Start, pause, resume and stop training; hear about it through signals on the GUI thread.

    Signals: ``started(dict)`` as training begins (the engine's start info plus :func:`run_info`),
    ``drained(Drained)`` about twenty times a second while reports arrive, ``state_changed(str)`` ("running",
    "paused", "stopping", "idle"), and at the end exactly one of ``finished(TrainResult)`` or ``failed(str)``.
    """

    started = Signal(dict)
    drained = Signal(object)
    state_changed = Signal(str)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, interval_ms: int = DRAIN_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.buffer = ReportBuffer()
        self.token = ControlToken()
        self.load_token = LoadToken()  # the data read before training (start_project); cancelled by stop()
        self._thread: _TrainThread | None = None
        self._state = "idle"
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.drain)
        self.last_result: TrainResult | None = None

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    # -- starting ------------------------------------------------------------------------------------------
    def start(self, prepared: Any) -> None:
        """Train a :class:`PreparedRun` (``project_run.prepare``) on the training thread."""
        info = run_info(prepared)
        self._launch(lambda cb, token: train_prepared(prepared, [cb], token), info)

    def start_project(self, project: Any, base_dir: str | Path | None = None, resume: bool = False,
                      dataset: Any = None, **overrides: Any) -> None:
        """Prepare (compile, load the data, check they fit) and train, all on the training thread, so a slow
        dataset does not freeze the window and a dataset that does not fit ends as ``failed(message)``.
        ``dataset``: the project's data as the window already loaded them (not read again; they are only read
        by training). The project itself is never changed; the caller stores the result
        (``project_run.store_result``)."""
        from nnstudio.core.training.project_run import prepare

        # a snapshot taken here, on the GUI thread: the user may edit the graph while the training thread reads it
        snapshot = dataclasses.replace(project, graph=project.graph.copy(), training=copy.deepcopy(project.training),
                                       dataset=copy.deepcopy(project.dataset))

        load_token = LoadToken()

        def target(cb: BufferCallback, token: ControlToken) -> TrainResult:
            prepared = _prepare_stoppably(
                lambda: prepare(snapshot, resume=resume, base_dir=base_dir, dataset=dataset, **overrides),
                token, load_token)
            cb.extra_info = run_info(prepared)
            return train_prepared(prepared, [cb], token)

        self._launch(target, {}, load_token)

    def _launch(self, target, info: dict[str, Any], load_token: LoadToken | None = None) -> None:
        if self._thread is not None:
            raise RuntimeError("training is already running: stop it first")
        self.buffer = ReportBuffer()
        self.token = ControlToken()
        self.load_token = load_token or LoadToken()
        callback = BufferCallback(self.buffer, info)
        token = self.token
        thread = _TrainThread(lambda: target(callback, token), self)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        self.last_result = None
        self._set_state("running")
        self.timer.start()
        thread.start()

    # -- control -------------------------------------------------------------------------------------------
    def pause(self) -> None:
        if self._thread is not None and not self.token.stopped:
            self.token.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self._thread is not None and not self.token.stopped:
            self.token.resume()
            self._set_state("running")

    def stop(self) -> None:
        """Ask training to stop before its next step; ``finished`` follows with stop_reason "stopped". While the
        data are still being read (``start_project``) the read is cancelled and ``failed`` follows instead."""
        if self._thread is not None:
            self.token.stop()
            self.load_token.cancel()  # a read of the data still going on ends at its next row / image / chunk
            self._set_state("stopping")

    def wait_stopped(self, timeout: float = 10.0) -> bool:
        """Stop and join the training thread (for closing the window mid-training). True when it ended in time.
        No signal is emitted for a run ended this way."""
        thread = self._thread
        if thread is None:
            return True
        self.token.stop()
        self.load_token.cancel()
        done = thread.wait(max(0, int(timeout * 1000)))
        if done:
            try:
                thread.finished.disconnect(self._on_thread_finished)
            except (RuntimeError, TypeError):
                pass
            self.timer.stop()
            self._thread = None
            self.last_result = thread.result
            thread.deleteLater()
            self._set_state("idle")
        return done

    # -- GUI thread ----------------------------------------------------------------------------------------
    def drain(self) -> Drained:
        """Take what training produced; emits ``started`` for the start info and ``drained`` when not empty."""
        contents = self.buffer.drain()
        if contents.start is not None:
            self.started.emit(dict(contents.start))
        if contents:
            self.drained.emit(contents)
        return contents

    def _on_thread_finished(self) -> None:
        thread, self._thread = self._thread, None
        self.timer.stop()
        self.drain()  # the last reports before the end
        self._set_state("idle")
        if thread is None:
            return
        thread.deleteLater()
        if thread.error is not None:
            self.failed.emit(thread.error)
        elif thread.result is not None:
            self.last_result = thread.result
            self.finished.emit(thread.result)
        else:  # pragma: no cover - run() always sets one of them
            self.failed.emit("training ended without a result")

