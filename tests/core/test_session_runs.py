"""The session owns the runs, the compared runs and the sweep: each edit emits once, undoing data come back,
compared ids follow the runs, and a replaced project starts with none compared and no sweep."""

from __future__ import annotations

import pytest

from nnstudio.core.project.model import Project
from nnstudio.core.runs import RunError
from nnstudio.core.session import Session

from tests.core.test_session import Recorder, loaded, spiral_project, trained


@pytest.fixture
def session():
    s = loaded(Session(spiral_project()))
    for _ in range(3):
        trained(s)
    return s


def test_each_recorded_run_is_announced_with_the_projects_runs(session):
    recorder = Recorder(session)
    trained(session)
    runs_events = [arg for name, arg, _ in recorder.seen if name == "runs_changed"]
    assert len(runs_events) == 1 and runs_events[0] is session.project.runs
    assert [r["id"] for r in session.runs] == ["run-1", "run-2", "run-3", "run-4"]


def test_compared_runs_keep_the_runs_order_and_lose_the_dropped_ones(session):
    recorder = Recorder(session)
    session.compare(["run-3", "nope", "run-1"])
    assert session.compared == ("run-1", "run-3")
    session.compare(["run-1", "run-3"])  # the same: nothing emitted
    assert [n for n, *_ in recorder.seen] == ["compared_changed"]
    session.drop_runs(["run-1"])
    assert session.compared == ("run-3",)
    session.replace(Project())
    assert session.compared == () and session.sweep is None


def test_rename_pin_and_drop_give_back_what_undo_needs(session):
    assert session.rename_run("run-2", "Lower lr") == "Run 2" and session.runs[1]["name"] == "Lower lr"
    with pytest.raises(RunError, match="cannot be empty"):
        session.rename_run("run-2", "  ")
    session.pin_run("run-1", True)
    assert session.pin_run("run-1", True) is None  # pinned again: nothing let go
    weights = session.project.run_weights.get("run-1")
    assert weights is None  # run-1 lost its weights when run-2 came (it was not pinned then)
    latest = session.runs[-1]["id"]
    session.pin_run("run-2", True)
    held = session.project.run_weights.get("run-2")
    assert held is None  # run-2's weights went when run-3 was recorded
    # pin the latest, record another, unpin it: the weights it lets go come back on undo
    session.pin_run(latest, True)
    trained(session)
    kept = session.project.run_weights[latest]
    let_go = session.pin_run(latest, False)
    assert let_go is kept and latest not in session.project.run_weights
    session.pin_run(latest, True, weights=let_go)
    assert session.project.run_weights[latest] is kept and session.runs[2]["weights"] is True
    removed = session.drop_runs(["run-1", latest])
    assert [r["id"] for r in session.runs] == ["run-2", "run-4"]
    session.put_back_runs(removed)
    assert [r["id"] for r in session.runs] == ["run-1", "run-2", "run-3", "run-4"]
    assert session.project.run_weights[latest] is kept
    with pytest.raises(RunError, match="there is no run 'run-9'"):
        session.drop_runs(["run-2", "run-9"])
    assert len(session.runs) == 4  # nothing removed


def test_a_sweep_state_follows_its_points(session):
    recorder = Recorder(session)
    session.sweep_started("sweep-1", "optimizer: sgd, adam", ["optimizer=sgd seed 0", "optimizer=adam seed 0"])
    session.sweep_point(0, "running", "epoch 1/3")
    session.sweep_point(0, "done", "val_accuracy 0.910")
    session.sweep_point(5, "done")  # no such point: ignored
    session.sweep_point(1, "exploded")  # no such state: ignored
    session.sweep_ended()
    s = session.sweep
    assert s.states == ("done", "waiting") and s.texts == ("val_accuracy 0.910", "") and not s.running
    assert s.done == 1 and s.points()[0] == {"name": "optimizer=sgd seed 0", "state": "done",
                                             "text": "val_accuracy 0.910"}
    assert [n for n, *_ in recorder.seen] == ["sweep_changed"] * 4


def test_a_sweeps_run_is_stored_with_its_sweep_and_name(session):
    run = session.run_started()
    from tests.core.test_session import result_for

    assert session.run_finished(result_for(session.graph), run=run, sweep="sweep-2", name="lr=0.1 seed 0 (sweep-2)")
    assert (session.runs[-1]["sweep"], session.runs[-1]["name"]) == ("sweep-2", "lr=0.1 seed 0 (sweep-2)")
