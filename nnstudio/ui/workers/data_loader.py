"""Loading a dataset off the GUI thread, for the dataset panel's preview; cancellable, and never waited for.

A large imported CSV or image folder can take seconds to read; the window must not freeze meanwhile.
``DataLoader.load(config, base_dir)`` returns a request number at once and later emits, on the GUI thread,
``loaded(number, Dataset)`` or ``failed(number, message)``; ``progress(number, done, total, what)`` while it
reads. Only the newest request is answered: a new ``load`` cancels the one before it, and :meth:`cancel`
cancels the newest at once (``cancelled(number)`` is emitted before it returns), so the panel is usable again
immediately whatever the read is doing.

Each request reads on a daemon thread of its own, which touches no Qt object: it fills in a plain :class:`_Job`
and a :class:`LoadToken` (the core importers check that token between rows, images and chunks, and stop soon
after it is cancelled). A timer on the GUI thread collects the outcome. So closing the panel or quitting the app
never waits for a read, even one stuck in the operating system: the thread is cancelled and left behind, and
its result, if it ever comes, reaches nobody.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from nnstudio.core.data.reading import LoadCancelled, LoadToken
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.errors import NNStudioError

log = logging.getLogger(__name__)

POLL_MS = 40  # how often the GUI thread looks for the outcome and the progress of a running load


def load_message(exc: BaseException) -> str:
    """The plain words shown when the data cannot be loaded."""
    if isinstance(exc, NNStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory reading the data: lower the dataset's size or its memory limit"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"the data could not be read ({type(exc).__name__}{': ' + text if text else ''})"


class _Job:
    """One request: filled in by its thread, read by the GUI thread once ``done`` is set."""

    def __init__(self, number: int, config: dict[str, Any], base_dir: Path | None) -> None:
        self.number, self.config, self.base_dir = number, config, base_dir
        self.token = LoadToken()
        self.done = threading.Event()
        self.outcome: tuple[str, Any] = ("failed", "the data could not be read")
        self.thread: threading.Thread | None = None

    def run(self) -> None:  # on the job's own thread
        try:
            data = load_dataset(self.config, base_dir=self.base_dir, token=self.token)
        except LoadCancelled:
            self.outcome = ("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - a broken file must not break the panel (or the thread)
            if not isinstance(exc, NNStudioError):
                log.warning("loading the dataset failed", exc_info=True)
            self.outcome = ("failed", load_message(exc))
        else:
            self.outcome = ("cancelled", None) if self.token.cancelled else ("loaded", data)
        finally:
            self.done.set()


def _cancel_all(jobs: dict[int, _Job], *_args: Any) -> None:
    for job in list(jobs.values()):
        job.token.cancel()
    jobs.clear()


class DataLoader(QObject):
    """``load`` a dataset configuration in the background; ``loaded`` / ``failed`` say how it went."""

    loaded = Signal(int, object)  # request number, Dataset
    failed = Signal(int, str)  # request number, message
    cancelled = Signal(int)  # request number
    progress = Signal(int, int, int, str)  # request number, done, total (0: unknown), what is being done

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest = 0
        self._jobs: dict[int, _Job] = {}  # requests whose outcome is still to be told (the newest, at most)
        self._threads: list[threading.Thread] = []  # every thread started and not known to have ended
        self._shown_progress: tuple[int, int, str] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        # Deleted with its panel: cancel what still reads (the threads themselves are never waited for).
        self.destroyed.connect(functools.partial(_cancel_all, self._jobs))

    @property
    def busy(self) -> bool:
        """A request is being read and its answer is still to come."""
        return bool(self._jobs)

    def load(self, config: dict[str, Any], base_dir: str | Path | None = None) -> int:
        """Start loading a copy of ``config`` (cancelling the request before it); the request number that
        ``loaded`` / ``failed`` will carry."""
        _cancel_all(self._jobs)
        self.latest += 1
        job = _Job(self.latest, dict(config), Path(base_dir) if base_dir is not None else None)
        job.thread = threading.Thread(target=job.run, name=f"nnstudio-data-{job.number}", daemon=True)
        self._jobs[job.number] = job
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(job.thread)
        self._shown_progress = None
        job.thread.start()
        self.timer.start()
        return job.number

    def cancel(self) -> int | None:
        """Cancel the running request: ``cancelled(number)`` is emitted now and no other answer follows. The
        number, or None when nothing was loading."""
        job = self._jobs.get(self.latest)
        _cancel_all(self._jobs)
        self.timer.stop()
        if job is None:
            return None
        self.cancelled.emit(job.number)
        return job.number

    def shutdown(self) -> None:
        """Cancel everything and answer nothing more (the panel closes); never waits."""
        _cancel_all(self._jobs)
        self.timer.stop()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every read this loader started has ended (tests); True when they did in time. The
        answer is delivered by the timer afterwards, as always."""
        timeout = None if timeout_ms < 0 else timeout_ms / 1000
        for thread in list(self._threads):
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        return not self._threads

    def progress_of(self, number: int) -> tuple[int, int, str] | None:
        job = self._jobs.get(number)
        return job.token.progress if job is not None else None

    def _poll(self) -> None:  # on the GUI thread
        job = self._jobs.get(self.latest)
        if job is None:
            self.timer.stop()
            return
        if not job.done.is_set():
            progress = job.token.progress
            if progress != self._shown_progress and progress[2]:
                self._shown_progress = progress
                self.progress.emit(job.number, *progress)
            return
        del self._jobs[job.number]
        self.timer.stop()
        kind, value = job.outcome
        if kind == "loaded":
            self.loaded.emit(job.number, value)
        elif kind == "failed":
            self.failed.emit(job.number, value)
        else:
            self.cancelled.emit(job.number)
