"""A sweep in the window: its points train one after another on the training worker, each as an ordinary run
of the project (``TrainingController``), and land as runs grouped under the sweep. The session owns what is
shown (``sweep_started`` / ``sweep_point`` / ``sweep_ended``: the Runs panel's progress list); this runner only
holds the plan and starts the next point the moment the last one ends, so the project stays locked from the
first point to the last. Stop ends the point that trains (its run is kept, as any stopped run) and the sweep.
A point that fails (its batch does not fit in memory, say) is marked failed and the sweep goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nnstudio.core.sweep import SweepSpec, apply, expand, next_sweep_id, point_name, spec_text, spec_to_dict
from nnstudio.core.training.project_run import headline

if TYPE_CHECKING:
    from nnstudio.ui.training_controller import TrainingController


class SweepRunner:
    def __init__(self, controller: "TrainingController") -> None:
        self.controller = controller
        self.sweep_id: str | None = None
        self.points: list[dict[str, Any]] = []
        self.names: list[str] = []
        self.index = -1
        self.stopping = False

    @property
    def active(self) -> bool:
        return self.sweep_id is not None

    def start(self, spec: SweepSpec) -> bool:
        """Train every point of ``spec`` (checked: TrainingError names a bad one). False when none started."""
        session = self.controller.session
        self.points = expand(spec, session.graph)
        self.sweep_id = next_sweep_id(session.runs)
        self.names = [point_name(self.sweep_id, p) for p in self.points]
        self.index, self.stopping = -1, False
        short = [n.rsplit(" (", 1)[0] for n in self.names]
        session.sweep_started(self.sweep_id, spec_text(spec), short, spec_to_dict(spec))
        return self._next()

    def stop(self) -> None:
        """Stop the point that trains and leave the rest untrained."""
        if self.active:
            self.stopping = True
            self.controller.worker.stop()

    def _next(self) -> bool:
        session, c = self.controller.session, self.controller
        self.index += 1
        if self.stopping or self.index >= len(self.points):
            self._end()
            return False
        i = self.index
        session.sweep_point(i, "running", "preparing")
        twin = apply(session.project, self.points[i])
        if not c.begin_run(twin, resume=False, quiet=True):
            session.sweep_point(i, "failed", session.run.summary)
            return self._next()
        return True

    # -- what the controller hands over ------------------------------------------------------------------
    def progress(self, epoch: int, epochs: int) -> None:
        if self.active and self.index >= 0:
            self.controller.session.sweep_point(self.index, "running", f"epoch {epoch}/{epochs}")

    def finished(self, result: Any) -> None:
        c, i = self.controller, self.index
        session = c.session
        session.run_finished(result, run=c.run_id, sweep=self.sweep_id, name=self.names[i])
        stopped = getattr(result, "stop_reason", "") == "stopped"
        task = result.history.get("task") if isinstance(getattr(result, "history", None), dict) else None
        session.sweep_point(i, "stopped" if stopped else "done", headline(result, str(task)))
        session.compare([r["id"] for r in session.runs if r.get("sweep") == self.sweep_id])
        if stopped:
            self.stopping = True
        self._next()

    def failed(self, message: str) -> None:
        c, i = self.controller, self.index
        c.session.run_failed(message, run=c.run_id)
        c.session.sweep_point(i, "stopped" if self.stopping else "failed", message)
        self._next()

    def abandon(self) -> None:
        """The window closes or replaces the project mid-sweep: the sweep ends here."""
        self.stopping = True
        self._end()

    def _end(self) -> None:
        session = self.controller.session
        sweep_id = self.sweep_id
        self.sweep_id = None
        if sweep_id is None:
            return
        done = sum(s == "done" for s in (session.sweep.states if session.sweep else ()))
        session.sweep_ended()
        self.controller.window.show_status(
            f"Sweep {sweep_id}: {done} of {len(self.points)} runs trained"
            f"{' (stopped)' if self.stopping else ''}", 20000)
