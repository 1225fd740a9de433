"""The training worker: trains on its own thread, hands reports over through the buffer, pauses, resumes, stops,
turns every error into ``failed(message)`` and can train again afterwards."""

from __future__ import annotations

import time

import pytest
import torch

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.training import engine, telemetry
from nnstudio.core.training.project_run import prepare
from nnstudio.core.training.reports import StepReport
from nnstudio.ui.workers import training_worker
from nnstudio.ui.workers.training_worker import Drained, ReportBuffer, TrainingWorker, error_message

REAL_TRAINING_THREADS = training_worker.training_threads


@pytest.fixture(autouse=True)
def one_training_thread(monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)


@pytest.fixture
def worker(qtbot):
    w = TrainingWorker()
    yield w
    assert w.wait_stopped(10)


class Collector:
    """Everything a worker emitted."""

    def __init__(self, w: TrainingWorker) -> None:
        self.drains: list[Drained] = []
        self.started: list[dict] = []
        self.states: list[str] = []
        self.results, self.errors = [], []
        w.drained.connect(self.drains.append)
        w.started.connect(self.started.append)
        w.state_changed.connect(self.states.append)
        w.finished.connect(self.results.append)
        w.failed.connect(self.errors.append)

    @property
    def steps(self) -> list[StepReport]:
        return [s for d in self.drains for s in d.steps]


def long_spiral(samples: int = 600, epochs: int = 10_000):
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "classes": 3, "samples": samples}
    return prepare(project, epochs=epochs)


def test_buffer_keeps_every_step_but_only_the_latest_probe():
    buf = ReportBuffer()
    for i in range(5):
        buf.put_step(StepReport(1, 1, i + 1, 5, 1.0, 0.1, 10.0, 0.1, 0.1))
        buf.put_latest("boundary", f"probe {i}")
    d = buf.drain()
    assert [s.step for s in d.steps] == [1, 2, 3, 4, 5]
    assert d.boundary == "probe 4"
    assert not buf.drain()  # drained: empty now


def test_worker_trains_spiral_and_reports_everything(qtbot, worker, monkeypatch):
    monkeypatch.setattr(telemetry, "BUDGET", 1.0)  # measure at every chance, so a 2-epoch run has histograms
    seen = Collector(worker)
    run = prepare(EXAMPLES["spiral_mlp"](), epochs=2, telemetry_every=1)
    with qtbot.waitSignal(worker.finished, timeout=30_000) as blocker:
        worker.start(run)
        assert worker.running and worker.state == "running"
    result = blocker.args[0]
    assert result.stop_reason == "completed"
    assert len(result.history["epochs"]) == 2
    assert seen.started and seen.started[0]["task"] == "multiclass"
    assert seen.started[0]["classes"] == ["arm 1", "arm 2", "arm 3"]
    assert seen.started[0]["layers"] == ["dense_1", "dense_2", "dense_3"]
    assert [e.epoch for d in seen.drains for e in d.epochs] == [1, 2]
    assert seen.steps and seen.steps[-1].step == result.steps
    assert any(d.layers is not None for d in seen.drains)
    assert any(d.activations is not None for d in seen.drains)
    assert any(d.boundary is not None for d in seen.drains)
    assert seen.states[0] == "running" and seen.states[-1] == "idle"
    assert not worker.running and worker.last_result is result


def test_pause_then_resume(qtbot, worker):
    seen = Collector(worker)
    worker.start(long_spiral())
    qtbot.waitUntil(lambda: len(seen.steps) >= 2, timeout=15_000)
    worker.pause()
    assert worker.state == "paused" and worker.token.paused
    qtbot.wait(400)  # the step in flight may still report
    count = len(seen.steps)
    qtbot.wait(600)
    assert len(seen.steps) == count, "training went on while paused"
    worker.resume()
    assert worker.state == "running"
    qtbot.waitUntil(lambda: len(seen.steps) > count, timeout=10_000)
    with qtbot.waitSignal(worker.finished, timeout=10_000) as blocker:
        worker.stop()
    assert blocker.args[0].stop_reason == "stopped"
    assert seen.states[:3] == ["running", "paused", "running"]


def test_stop_mid_epoch_gives_a_stopped_result(qtbot, worker):
    run = long_spiral(samples=40_000, epochs=50)  # 1,000 steps an epoch
    steps_per_epoch = -(-len(run.split.train) // run.config.batch_size)
    seen = Collector(worker)
    worker.start(run)
    qtbot.waitUntil(lambda: bool(seen.steps), timeout=15_000)
    with qtbot.waitSignal(worker.finished, timeout=15_000) as blocker:
        worker.stop()
        assert worker.state == "stopping"
    result = blocker.args[0]
    assert result.stop_reason == "stopped"
    assert 0 < result.steps < steps_per_epoch  # stopped inside the first epoch
    assert result.state_dict  # the weights are there to keep
    assert not seen.errors


def test_errors_become_messages_and_a_new_run_succeeds(qtbot, worker, monkeypatch):
    seen = Collector(worker)
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "digits"}  # images for a 2-feature network
    with qtbot.waitSignal(worker.failed, timeout=15_000) as blocker:
        worker.start_project(project)
    assert "does not fit" in blocker.args[0] and "(N, 2)" in blocker.args[0]
    assert not worker.running and worker.state == "idle"

    def boom(*args, **kwargs):
        raise RuntimeError("something broke inside")

    monkeypatch.setattr(engine, "train", boom)
    with qtbot.waitSignal(worker.failed, timeout=15_000) as blocker:
        worker.start(prepare(EXAMPLES["spiral_mlp"](), epochs=1))
    assert blocker.args[0] == "training failed with an unexpected RuntimeError: something broke inside"

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine, "train", out_of_memory)
    with qtbot.waitSignal(worker.failed, timeout=15_000) as blocker:
        worker.start(prepare(EXAMPLES["spiral_mlp"](), epochs=1))
    assert blocker.args[0].startswith("out of memory on the training device")

    monkeypatch.undo()
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)
    with qtbot.waitSignal(worker.finished, timeout=30_000) as blocker:
        worker.start_project(EXAMPLES["spiral_mlp"](), epochs=2)
    assert blocker.args[0].stop_reason == "completed"
    assert len(seen.errors) == 3 and len(seen.results) == 1


def test_a_second_start_while_running_is_refused(qtbot, worker):
    worker.start(long_spiral())
    with pytest.raises(RuntimeError, match="already running"):
        worker.start(long_spiral())
    assert worker.wait_stopped(10)


def test_wait_stopped_joins_without_hanging_or_signals(qtbot, worker):
    seen = Collector(worker)
    worker.start(long_spiral())
    qtbot.waitUntil(lambda: bool(seen.steps), timeout=15_000)
    worker.pause()  # a paused training must wake up to stop
    t0 = time.perf_counter()
    assert worker.wait_stopped(10)
    assert time.perf_counter() - t0 < 5
    assert not worker.running and worker.state == "idle"
    qtbot.wait(200)
    assert not seen.results and not seen.errors
    assert worker.last_result is not None and worker.last_result.stop_reason == "stopped"


def test_error_messages_are_plain_words():
    from nnstudio.core.errors import DatasetError, GraphError, TrainingError

    for exc in (TrainingError("the loss became nan at step 3"), DatasetError("the file is empty"),
                GraphError("a cycle")):
        assert error_message(exc) == str(exc)
    assert "out of memory" in error_message(torch.OutOfMemoryError("x"))
    assert error_message(ValueError("")) == "training failed with an unexpected ValueError"


def test_training_threads_leave_the_gui_a_core(monkeypatch):
    for cores, expected in ((1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr(training_worker.os, "sched_getaffinity", lambda pid, n=cores: set(range(n)),
                            raising=False)
        assert REAL_TRAINING_THREADS() == expected


def test_the_training_thread_uses_the_thread_count(qtbot, worker, monkeypatch):
    monkeypatch.setattr(training_worker, "training_threads", lambda: 2)
    real_train, seen = engine.train, []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(engine, "train", spy)
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        worker.start(prepare(EXAMPLES["spiral_mlp"](), epochs=1))
    assert seen == [2]


def test_start_project_trains_a_snapshot(qtbot, worker):
    project = EXAMPLES["spiral_mlp"]()
    with qtbot.waitSignal(worker.finished, timeout=30_000) as blocker:
        worker.start_project(project, epochs=1)
        # edits made while training runs do not reach the run
        dense = next(nid for nid, n in project.graph.nodes.items() if n.type_id == "dense")
        project.graph.set_params(dense, {"units": 5})
        project.dataset["name"] = "digits"
    assert blocker.args[0].state_dict["dense_1.weight"].shape[0] == 16
    assert project.weights is None and project.history is None  # the caller stores the result


def _endless_spiral(monkeypatch):
    """Make the spiral dataset a read that never ends by itself (it asks its load token between rows, as the
    importers do); returns the list of tokens it was read under and an Event set when reading began."""
    import dataclasses
    import threading

    from nnstudio.core.data import DATASETS
    from nnstudio.core.data.reading import current_token

    started, tokens = threading.Event(), []

    def endless(**options):
        token = current_token()
        tokens.append(token)
        started.set()
        while True:
            token.report(0, 0, "reading rows")
            time.sleep(0.002)

    monkeypatch.setitem(DATASETS, "spiral", dataclasses.replace(DATASETS["spiral"], loader=endless))
    return tokens, started


def test_stop_while_the_data_load_cancels_the_read(qtbot, worker, monkeypatch):
    tokens, started = _endless_spiral(monkeypatch)
    seen = Collector(worker)
    worker.start_project(EXAMPLES["spiral_mlp"](), epochs=1)
    assert started.wait(15) and worker.state == "running"
    with qtbot.waitSignal(worker.failed, timeout=15_000) as blocker:
        worker.stop()
        assert worker.state == "stopping"
    assert blocker.args[0] == training_worker.STOPPED_WHILE_LOADING
    assert tokens[0].cancelled and not worker.running and worker.state == "idle"
    assert not seen.results and not seen.started
    monkeypatch.undo()
    monkeypatch.setattr(training_worker, "training_threads", lambda: 1)
    with qtbot.waitSignal(worker.finished, timeout=30_000):  # the next run reads under a fresh token
        worker.start_project(EXAMPLES["spiral_mlp"](), epochs=1)
    assert not worker.load_token.cancelled


def test_wait_stopped_cancels_a_data_load_and_joins(qtbot, worker, monkeypatch):
    tokens, started = _endless_spiral(monkeypatch)
    seen = Collector(worker)
    worker.start_project(EXAMPLES["spiral_mlp"](), epochs=1)
    assert started.wait(15)
    assert worker.wait_stopped(10)
    assert tokens[0].cancelled and not worker.running
    qtbot.wait(100)
    assert not seen.results and not seen.errors  # a run ended this way emits nothing


def test_stop_leaves_a_read_stuck_in_the_system_behind(qtbot, worker, monkeypatch):
    """A read that never looks at its token (stuck in the operating system): Stop still ends the run, and
    the training thread does not wait for the read."""
    import dataclasses
    import threading

    from nnstudio.core.data import DATASETS

    release, started, threads = threading.Event(), threading.Event(), []

    def stuck(**options):
        threads.append(threading.current_thread())
        started.set()
        assert release.wait(60)
        raise RuntimeError("released")

    monkeypatch.setitem(DATASETS, "spiral", dataclasses.replace(DATASETS["spiral"], loader=stuck))
    try:
        worker.start_project(EXAMPLES["spiral_mlp"](), epochs=1)
        assert started.wait(15)
        with qtbot.waitSignal(worker.failed, timeout=15_000) as blocker:
            worker.stop()
        assert blocker.args[0] == training_worker.STOPPED_WHILE_LOADING
        assert not worker.running and threads[0].is_alive() and threads[0].daemon
    finally:
        release.set()
    threads[0].join(10)
    assert not threads[0].is_alive()
