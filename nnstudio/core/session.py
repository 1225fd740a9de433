"""The session model: one per window, the one owner of what the window shows about its project (Qt-free).

A :class:`Session` holds the project (with its path and folder), the inferred shapes, the loaded data or why
they could not be loaded, the problems (``problems.project_problems``), whether the project is ready to train,
the run (a :class:`RunState`), the status of the trained weights (``weights_status``), the latest telemetry
and the health of each layer, and the selection. Panels subscribe to its past-tense events and derive what
they show from its properties; none keeps a copy. Every method changes the state completely first and then
emits, in the order of ``EVENTS``, each event whose value really changed (once), with the new value; a handler
may read any property, and may call the session again (the events that call causes are emitted then, and not
again afterwards). After ``project_replaced`` read every property: the other events fire only for values that
differ from before the replacement.

How the symptoms of "one true state" cannot happen here:

1. A new project has no dataset, and ``data_state`` says "none" and the problems say so ("the project has no
   dataset ..."): the Dataset panel shows ``session.dataset``, never a default of its own; choosing one is
   ``set_dataset`` (an undo command), which really sets it.
2. Data that do not fit are a problem of the project, on the Input (or Output) node, from the same function
   ``nnstudio validate`` uses; readiness is "problems" then, and "checking" while the data are loading, so
   nothing says "ready" while a check is open. A load that finishes for an older dataset config or folder is
   ignored (``data_key``).
3. The weights' status comes from the fingerprint of the graph the weights were trained on against the
   current one (names and shapes for old files), recomputed on every ``graph_edited``: an edit makes them
   "out_of_date" (health is cleared, prediction should be disabled), undoing back makes them "current".
4. ``replace`` (New, Open) resets everything that belonged to the old project: the run (idle, with the summary
   of the new project's saved run if it has one, else none), the telemetry, the health, the selection and
   ``unsaved_run``.
5. On ``replace`` the health comes from the last layer statistics the history holds (``history_stats``).
6. Continue Training can be offered when ``weights_status == "current"`` (``prepare(resume=True)`` refuses
   other weights with the same judgement); ``run_started(resume=True)`` starts such a run.
7. While a run is active the session is ``locked``: ``set_dataset`` and ``set_training`` raise
   :class:`EditRefused` with ``edit_refusal()``'s words, and ``ready_to_train`` is False; the run belongs to
   one project: its progress, telemetry and result arriving after ``replace`` are dropped.
"""

from __future__ import annotations

import copy
import math
import operator
from dataclasses import replace as _replaced
from pathlib import Path
from typing import Any, Callable, Mapping

from nnstudio.core import weights_status as _weights
from nnstudio.core.events import Event
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.problems import ProjectProblem, dataset_problems, project_problems, summary_line
from nnstudio.core.project.model import Project
from nnstudio.core.session_runs import RunsMixin, SweepState
from nnstudio.core.session_state import (DATA_STATES, EVENTS, LOCKED, NO_TELEMETRY, PHASES, READINESS, DataKey,
                                         EditRefused, RunState, Telemetry, data_key_for, one_line)
from nnstudio.core.shapes import infer_shapes
from nnstudio.core.training import health as _health
from nnstudio.core.training.project_run import saved_headline


class Session(RunsMixin):
    """See the module's doc (and ``core.session_runs`` for the runs, the compared runs and the sweep).
    ``history_stats(history)`` gives the last layer statistics a history holds (the shape
    ``training.health.health_from_stats`` reads) or None."""

    def __init__(self, project: Project | None = None, path: str | Path | None = None, *,
                 history_stats: Callable[[Any], Mapping[str, Any] | None] = _health.history_layer_stats) -> None:
        for name in EVENTS:
            setattr(self, name, Event(name))
        self._history_stats = history_stats
        self._generation = 0
        self._runs = 0
        self._selection: tuple[str, ...] = ()
        self._load(project if project is not None else Project(), path)
        self._emitted = {name: _value(self, name) for name in EVENTS}  # the first state is not announced

    # -- what the window reads -------------------------------------------------------------------------------
    project = property(lambda self: self._project)
    graph = property(lambda self: self._project.graph)
    path = property(lambda self: self._path, doc="Where the project is saved (None: untitled).")
    base_dir = property(lambda self: self._path.parent if self._path is not None else None,
                        doc="Where relative data paths start: the project file's folder (None: untitled).")
    info = property(lambda self: self._info, doc="The GraphInfo of the graph as it is now.")
    fingerprint = property(lambda self: self._fingerprint, doc="fingerprint(graph) as it is now.")
    data = property(lambda self: self._data, doc="The loaded data (as the window loaded them) or None.")
    data_error = property(lambda self: self._data_error, doc="Why the data could not be loaded, or None.")
    data_state = property(lambda self: self._data_state, doc="One of DATA_STATES.")
    data_key = property(lambda self: self._data_key, doc="What to load now (pass it back to data_*), or None.")
    problems = property(lambda self: self._problems, doc="Every ProjectProblem, a tuple.")
    run = property(lambda self: self._run, doc="The RunState.")
    weights_status = property(lambda self: self._weights, doc="none / current / out_of_date / unknown.")
    telemetry = property(lambda self: self._telemetry)
    health = property(lambda self: dict(self._health), doc="node id -> (level, text), a copy.")
    selection = property(lambda self: self._selection, doc="The selected node ids, a tuple.")
    unsaved_run = property(lambda self: self._unsaved_run, doc="A run was stored since the last save.")

    @property
    def dataset(self) -> dict[str, Any] | None:
        """A copy of the project's dataset config (None: none chosen)."""
        return copy.deepcopy(self._project.dataset)

    @property
    def training(self) -> dict[str, Any]:
        """A copy of the project's training settings."""
        return copy.deepcopy(self._project.training)

    @property
    def readiness(self) -> str:
        if self._problems:
            return "problems"
        return "checking" if self._data_state in ("needed", "loading", "cancelled") else "ready"

    @property
    def locked(self) -> bool:
        """A run is active: the graph, the dataset and the settings must not change."""
        return self._run.active

    def edit_refusal(self) -> str | None:
        """Why an edit of the graph, the dataset or the settings is refused now (one line), or None."""
        return LOCKED if self.locked else None

    def train_refusal(self) -> str | None:
        """Why training cannot start now (one line), or None."""
        if self.locked:
            return "training is already running"
        if self._problems:
            return "fix these problems first: " + summary_line(self._problems)
        if self._data_state == "cancelled":
            return "the data were not loaded (the load was cancelled): reload them in the Dataset panel"
        if self._data_state in ("needed", "loading"):
            return "the data are still being loaded and checked: try again in a moment"
        return None

    @property
    def ready_to_train(self) -> bool:
        return self.train_refusal() is None

    # -- the project -----------------------------------------------------------------------------------------
    def replace(self, project: Project, path: str | Path | None = None) -> None:
        """New / Open: ``project`` (saved at ``path``, None for untitled) replaces the current one, and with it
        everything that belonged to it. A run still active is dropped: its results will be ignored."""
        self._load(project, path)
        self._flush()

    def graph_edited(self) -> None:
        """The graph changed (call once per burst of ``graph.changed``): shapes, problems, weights and health
        are worked out again, and nodes that are gone leave the selection."""
        self._infer()
        self._selection = tuple(n for n in self._selection if n in self._project.graph.nodes)
        self._recheck()
        self._flush()

    def set_dataset(self, config: dict[str, Any] | None) -> dict[str, Any] | None:
        """Choose the dataset (None: none); returns the previous config (for undo). EditRefused while locked."""
        self._refuse_while_locked()
        previous = copy.deepcopy(self._project.dataset)
        self._project.dataset = copy.deepcopy(config) if config else None
        self._check_dataset()
        self._recheck()
        self._flush()
        return previous

    def set_training(self, settings: dict[str, Any] | None) -> dict[str, Any]:
        """Replace the training settings; returns the previous ones (for undo). EditRefused while locked."""
        self._refuse_while_locked()
        previous = copy.deepcopy(self._project.training)
        self._project.training = copy.deepcopy(settings) if settings else {}
        self._recheck()
        self._flush()
        return previous

    def select(self, ids: Any) -> None:
        """The selected nodes (ids not in the graph are left out; order kept, no repeats)."""
        nodes = self._project.graph.nodes
        self._selection = tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i in nodes))
        self._flush()

    def saved(self, path: str | Path) -> None:
        """The project was written to ``path``: the stored run is saved; a new folder may change the data."""
        self._path = Path(path)
        self._unsaved_run = False
        self._check_dataset()
        self._recheck()
        self._flush()

    # -- the data --------------------------------------------------------------------------------------------
    def data_loading(self, key: DataKey) -> bool:
        """The window started loading ``key`` (``data_key``). False (and nothing changes) for another key."""
        return self._data_answer(key, "loading", None, None)

    def data_loaded(self, key: DataKey, data: Any) -> bool:
        """``data`` (a DataSplit or a Dataset) were loaded for ``key``; False when ``key`` is stale."""
        return self._data_answer(key, "loaded", data, None)

    def data_failed(self, key: DataKey, message: str) -> bool:
        """Loading ``key`` failed with ``message``; False when ``key`` is stale."""
        return self._data_answer(key, "failed", None, str(message) or "the data could not be loaded")

    def reload_data(self) -> bool:
        """Ask for the data to be read again (a Reload button, a file changed on disk, after a cancel): the
        state goes back to "needed" for the same key. When the settings had problems (a file missing), they are
        looked at again: a file put in place since is found. False (nothing changes) when there is no dataset."""
        if self._data_key is None:
            if not self._project.dataset:
                return False
            self._check_dataset()
        else:
            self._data_state, self._data, self._data_error = "needed", None, None
        self._recheck()
        self._flush()
        return True

    def data_cancelled(self, key: DataKey) -> bool:
        """Loading ``key`` was cancelled: nothing is known of the data; False when ``key`` is stale."""
        return self._data_answer(key, "cancelled", None, None)

    # -- the run ---------------------------------------------------------------------------------------------
    def run_started(self, resume: bool = False) -> int:
        """A run of the current project began (the worker prepares it); returns its id, which the other run_*
        calls may pass as ``run=`` so that a late report of another run is dropped. EditRefused while a run
        is active. The graph's fingerprint now is the one its weights will be stored with."""
        if self.locked:
            raise EditRefused("training is already running")
        self._runs += 1
        self._run_fingerprint = self._fingerprint
        text = "Continuing training" if resume else "Preparing: loading the data and building the network"
        self._run = RunState("preparing", 0.0, text, self._generation, self._runs)
        self._telemetry = Telemetry(fingerprint=self._fingerprint)
        self._derive_health()
        self._flush()
        return self._runs

    def run_progress(self, progress: float, summary: str | None = None, run: int | None = None) -> bool:
        """Training goes on: ``progress`` 0..1 and the current step in one line (a preparing run now runs)."""
        if not self._active_run(run):
            return False
        phase = "running" if self._run.phase == "preparing" else self._run.phase
        value = float(progress)
        value = self._run.progress if math.isnan(value) else min(1.0, max(0.0, value))
        self._run = _replaced(self._run, phase=phase, progress=value,
                              summary=one_line(summary) if summary is not None else self._run.summary)
        self._flush()
        return True

    def run_paused(self, run: int | None = None) -> bool:
        return self._move(run, ("preparing", "running"), "paused")

    def run_resumed(self, run: int | None = None) -> bool:
        return self._move(run, ("paused",), "running")

    def run_stopping(self, run: int | None = None) -> bool:
        return self._move(run, ("preparing", "running", "paused"), "stopping")

    def run_finished(self, result: Any, trained_fingerprint: str | None = None, run: int | None = None,
                     sweep: str | None = None, name: str | None = None) -> bool:
        """The run ended with ``result`` (a TrainResult): its weights, history and the fingerprint of the graph
        they were trained on (``trained_fingerprint``, else ``result.fingerprint``, else the graph's at
        ``run_started``) are stored in the project (``project_run.store_result``, with the ``sweep`` and
        ``name`` of a sweep's run), which now has an unsaved run. False (nothing stored) when the run is not
        the current project's active run."""
        if not self._active_run(run):
            return False
        from nnstudio.core.training.project_run import headline, store_result

        notes = store_result(self._project, result, sweep, name) or []  # old runs dropped to keep it bounded
        self._runs_edited()
        self._project.weights_fingerprint = (trained_fingerprint or getattr(result, "fingerprint", None)
                                             or self._run_fingerprint)
        self._unsaved_run = True
        reason = str(getattr(result, "stop_reason", "finished")).replace("_", " ")
        done = getattr(result, "stop_reason", "") in ("completed", "early_stopping")
        text = f"Training {reason}: {headline(result, self._task())}" + "".join(f"; {n}" for n in notes)
        self._run = _replaced(self._run, phase="idle", progress=1.0 if done else self._run.progress,
                              summary=one_line(text))
        self._history_health = _health.health_from_stats(self._history_stats(self._project.history))
        self._recheck()
        self._flush()
        return True

    def run_failed(self, message: str, run: int | None = None) -> bool:
        """The run ended without a result (an error, or stopped before training began)."""
        if not self._active_run(run):
            return False
        self._run = _replaced(self._run, phase="idle", summary=one_line(f"Training failed: {message}"))
        self._derive_health()
        self._flush()
        return True

    def run_abandoned(self, run: int | None = None) -> bool:
        """The run was stopped to close or replace the project, its result not kept."""
        if not self._active_run(run):
            return False
        self._run = _replaced(self._run, phase="idle", summary="Training stopped: the weights of this run were "
                              "not kept")
        self._derive_health()
        self._flush()
        return True

    def set_telemetry(self, layers: Any = None, activations: Any = None, confusion: Any = None,
                      per_class: Any = None, epoch: int | None = None, run: int | None = None) -> bool:
        """The newest figures of the current project's run (None: that kind unchanged). Dropped (False) when
        no run of this project has started, or ``run`` is another run's id."""
        if self._run.run == 0 or (run is not None and run != self._run.run):
            return False
        if layers is None and activations is None and confusion is None and per_class is None:
            return True
        t = self._telemetry
        self._telemetry = Telemetry(
            t.layers if layers is None else layers, t.activations if activations is None else activations,
            t.confusion if confusion is None else confusion, t.per_class if per_class is None else per_class,
            t.epoch if epoch is None else epoch, t.fingerprint)
        self._derive_health()
        self._flush()
        return True

    # -- inside ----------------------------------------------------------------------------------------------
    def _load(self, project: Project, path: str | Path | None) -> None:
        self._generation += 1
        self._project, self._path = project, Path(path) if path is not None else None
        saved = saved_headline(project.history)  # a reopened project's panel says how its last run ended
        self._run = RunState(project=self._generation) if saved is None else \
            RunState(progress=saved[1], summary=one_line(saved[0]), project=self._generation)
        self._run_fingerprint: str | None = None
        self._telemetry = NO_TELEMETRY
        self._unsaved_run = False
        self._selection = ()
        self._reset_runs()
        self._history_health = _health.health_from_stats(self._history_stats(project.history))
        self._data_key: DataKey | None = None
        self._infer()
        self._check_dataset()
        self._recheck()

    def _infer(self) -> None:
        self._info = infer_shapes(self._project.graph)
        self._fingerprint = fingerprint(self._project.graph)

    def _check_dataset(self) -> None:
        """The dataset config's own problems (cached: they touch files) and what to load; stale data go."""
        config, base = self._project.dataset, self.base_dir
        self._dataset_checks = dataset_problems(config, base)
        key = None if not config or self._dataset_checks else data_key_for(config, base)
        if key is not None and key == self._data_key:
            return  # the same data: what was loaded (or is loading) stays
        self._data_key, self._data, self._data_error = key, None, None
        self._data_state = "none" if not config else "invalid" if key is None else "needed"

    def _data_answer(self, key: Any, state: str, data: Any, error: str | None) -> bool:
        if self._data_key is None or key != self._data_key:
            return False
        self._data_state, self._data, self._data_error = state, data, error
        self._recheck()
        self._flush()
        return True

    def _recheck(self) -> None:
        data = self._data if self._data_state == "loaded" else self._data_error if self._data_state == "failed" \
            else None
        self._problems = tuple(project_problems(self._project, self._info, data, self.base_dir,
                                                dataset_checks=self._dataset_checks))
        self._weights = _weights.project_status(self._project, self._fingerprint)
        self._derive_health()

    def _derive_health(self) -> None:
        """From this run's telemetry of this very graph; else, idle with current weights, from the history."""
        t = self._telemetry
        if (t.layers is not None or t.activations is not None) and t.fingerprint == self._fingerprint:
            self._health = _health.layer_health(t.layers, t.activations)
        elif not self._run.active and self._weights == _weights.CURRENT:
            self._health = dict(self._history_health)
        else:
            self._health = {}

    def _refuse_while_locked(self) -> None:
        if self.locked:
            raise EditRefused(LOCKED)

    def _active_run(self, run: int | None) -> bool:
        return self._run.active and (run is None or run == self._run.run)

    def _move(self, run: int | None, from_phases: tuple[str, ...], to: str) -> bool:
        if not self._active_run(run) or self._run.phase not in from_phases:
            return False
        self._run = _replaced(self._run, phase=to)
        self._flush()
        return True

    def _task(self) -> str:
        return next((n.params.get("task", "multiclass") for n in self._project.graph.nodes.values()
                     if n.spec.is_output), "multiclass")

    def _flush(self) -> None:
        """Emit, in ``EVENTS`` order, each event whose value differs from the one it last announced."""
        for name in EVENTS:
            get, same, announce = _WATCHED[name]
            value = get(self)
            if same(value, self._emitted[name]):
                continue
            self._emitted[name] = value
            getattr(self, name).emit(announce(self, value))


def _value(s: Session, name: str) -> Any:
    return _WATCHED[name][0](s)


def _plain(s: Session, value: Any) -> Any:
    return value


# event -> (what it watches, how two values are compared, what it hands to its handlers)
_WATCHED: dict[str, tuple[Callable[[Session], Any], Callable[[Any, Any], bool], Callable[[Session, Any], Any]]] = {
    "project_replaced": (lambda s: s._generation, operator.eq, lambda s, v: s._project),
    "path_changed": (lambda s: s._path, operator.eq, _plain),
    "shapes_changed": (lambda s: s._info, lambda a, b: a is b or a == b, _plain),
    "dataset_changed": (lambda s: s.dataset, operator.eq, _plain),
    "training_changed": (lambda s: s.training, operator.eq, _plain),
    "data_changed": (lambda s: (s._data_state, s._data_key, s._data_error, s._data),
                     lambda a, b: a[:3] == b[:3] and a[3] is b[3], lambda s, v: v[0]),
    "weights_status_changed": (lambda s: s._weights, operator.eq, _plain),
    "problems_changed": (lambda s: s._problems, operator.eq, _plain),
    "readiness_changed": (lambda s: s.readiness, operator.eq, _plain),
    "run_state_changed": (lambda s: s._run, operator.eq, _plain),
    "telemetry_changed": (lambda s: s._telemetry, operator.is_, _plain),
    "health_changed": (lambda s: s.health, operator.eq, _plain),
    "selection_changed": (lambda s: s._selection, operator.eq, _plain),
    "unsaved_run_changed": (lambda s: s._unsaved_run, operator.eq, _plain),
    "runs_changed": (lambda s: s._runs_rev, operator.eq, lambda s, v: s._project.runs),
    "compared_changed": (lambda s: s._compared, operator.eq, _plain),
    "sweep_changed": (lambda s: s._sweep, operator.eq, _plain),
}
assert set(_WATCHED) == set(EVENTS)


__all__ = ["DATA_STATES", "EVENTS", "PHASES", "READINESS", "EditRefused", "ProjectProblem", "RunState", "Session",
           "SweepState", "Telemetry"]
