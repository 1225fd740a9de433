"""The runs part of the session (issue 15): the project's kept runs, the runs the person compares, and the
sweep that is training. :class:`RunsMixin` is mixed into ``core.session.Session``; its state has one owner,
the session, and panels derive what they show from these properties and events:

- ``runs_changed(runs)``: a run was recorded, renamed, pinned or unpinned, dropped or put back, or the project
  was replaced (the value is ``project.runs``, read-only for the panels).
- ``compared_changed(ids)``: the runs whose curves the dashboard overlays (a tuple of run ids, in the runs'
  order); ids of runs that are gone leave it.
- ``sweep_changed(sweep)``: the sweep training now, or the last one (a :class:`SweepState`), or None.

Edits come as undo commands (``ui/run_commands.py``), each calling one method here that returns what undoing
it needs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Iterable

from nnstudio.core import runs as _runs
from nnstudio.core.session_state import one_line

SWEEP_POINT_STATES = ("waiting", "running", "done", "stopped", "failed")


@dataclass(frozen=True)
class SweepState:
    """A sweep of the session's project: its id, a one-line description, each point's name, state (one of
    SWEEP_POINT_STATES) and one line of text (its result, its epoch, why it failed), and whether it runs."""

    sweep_id: str
    text: str
    names: tuple[str, ...]
    states: tuple[str, ...]
    texts: tuple[str, ...]
    running: bool = True

    @property
    def done(self) -> int:
        return sum(s in ("done", "stopped", "failed") for s in self.states)

    def points(self) -> list[dict[str, str]]:
        """As the Runs panel's ``show_sweep`` takes them."""
        return [{"name": n, "state": s, "text": t} for n, s, t in zip(self.names, self.states, self.texts)]


class RunsMixin:
    """See the module's doc. Needs ``self._project``, ``self._flush()`` and ``self._refuse_while_locked()``."""

    def _reset_runs(self) -> None:
        self._runs_rev = getattr(self, "_runs_rev", 0) + 1
        self._compared: tuple[str, ...] = ()
        self._sweep: SweepState | None = None

    runs = property(lambda self: self._project.runs, doc="The project's runs, oldest first (do not change them).")
    compared = property(lambda self: self._compared, doc="The ids of the runs compared, in the runs' order.")
    sweep = property(lambda self: self._sweep, doc="The SweepState of the sweep training or last run, or None.")

    def _runs_edited(self) -> None:
        self._runs_rev += 1
        known = {r["id"] for r in self._project.runs}
        self._compared = tuple(i for i in self._compared if i in known)

    # -- comparing -------------------------------------------------------------------------------------------
    def compare(self, ids: Iterable[str]) -> None:
        """Overlay these runs' curves (ids that name no run are left out; the runs' order is kept)."""
        wanted = set(ids)
        self._compared = tuple(r["id"] for r in self._project.runs if r["id"] in wanted)
        self._flush()

    # -- editing ---------------------------------------------------------------------------------------------
    def rename_run(self, run_id: str, name: str) -> str:
        """Rename a run; returns its previous name (RunError for an empty or too long name)."""
        old = _runs.find(self._project, run_id)["name"]
        _runs.rename(self._project, run_id, name)
        self._runs_edited()
        self._flush()
        return old

    def pin_run(self, run_id: str, on: bool, weights: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Pin or unpin a run; returns the kept weights unpinning let go (to give back on undo as ``weights``,
        with ``on=True``), else None. RunError past the pinned runs' bound."""
        run = _runs.find(self._project, run_id)
        held = self._project.run_weights.get(run_id)
        _runs.pin(self._project, run_id, on)
        if on and weights is not None and run_id not in self._project.run_weights:
            self._project.run_weights[run_id] = weights
            run["weights"] = True
        self._runs_edited()
        self._flush()
        return held if not on and run_id not in self._project.run_weights else None

    def drop_runs(self, ids: Iterable[str]) -> list[tuple[int, dict[str, Any], Any]]:
        """Remove runs (RunError naming one that is not there, and nothing is removed); returns (place, run,
        kept weights or None) for each, for ``put_back_runs``. The project's own weights stay."""
        ids = list(dict.fromkeys(ids))
        for run_id in ids:
            _runs.find(self._project, run_id)
        gone = [(i, r, self._project.run_weights.get(r["id"])) for i, r in enumerate(self._project.runs)
                if r["id"] in ids]
        _runs.drop_runs(self._project, ids)
        self._runs_edited()
        self._flush()
        return gone

    def put_back_runs(self, removed: list[tuple[int, dict[str, Any], Any]]) -> None:
        """Undo ``drop_runs``: the runs come back in their places, with their kept weights."""
        for place, run, weights in sorted(removed, key=lambda item: item[0]):
            self._project.runs.insert(min(place, len(self._project.runs)), run)
            if weights is not None:
                self._project.run_weights[run["id"]] = weights
        self._runs_edited()
        self._flush()

    def run_graph(self, run_id: str) -> dict[str, Any]:
        """A copy of the graph a run trained (what Restore puts on the canvas)."""
        return copy.deepcopy(_runs.find(self._project, run_id)["graph"])

    # -- sweeps ----------------------------------------------------------------------------------------------
    def sweep_started(self, sweep_id: str, text: str, names: Iterable[str],
                      spec: dict[str, Any] | None = None) -> None:
        """A sweep of these points (their names, in order) begins; each point waits. ``spec``
        (``sweep.spec_to_dict``) becomes the project's sweep, saved with it: the dialog starts from it."""
        if spec is not None:
            self._project.sweep = copy.deepcopy(spec)
        names = tuple(one_line(n) for n in names)
        self._sweep = SweepState(sweep_id, one_line(text), names, ("waiting",) * len(names), ("",) * len(names))
        self._flush()

    def sweep_point(self, index: int, state: str, text: str = "") -> None:
        """Point ``index`` of the sweep is now ``state`` (SWEEP_POINT_STATES) with one line of ``text``."""
        s = self._sweep
        if s is None or not 0 <= index < len(s.names) or state not in SWEEP_POINT_STATES:
            return
        states, texts = list(s.states), list(s.texts)
        states[index], texts[index] = state, one_line(text)
        self._sweep = replace(s, states=tuple(states), texts=tuple(texts))
        self._flush()

    def sweep_ended(self) -> None:
        """The sweep is over (finished, stopped or failed): the points still waiting stay so."""
        if self._sweep is not None and self._sweep.running:
            self._sweep = replace(self._sweep, running=False)
            self._flush()
