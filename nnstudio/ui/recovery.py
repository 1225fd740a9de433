"""Autosave and crash recovery.

While the project has unsaved changes, a copy is written every minute to the app's data folder
(``QStandardPaths.AppDataLocation``) as ``session-<id>.nnstudio``, beside a small JSON note naming the file it
belongs to. A lock file held for the whole session tells a running app's copy from a crashed one: on start, every
copy whose lock is free (its app is gone) is offered for recovery. A clean save or a normal close removes the
session's copy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal

from nnstudio.core.errors import NNStudioError
from nnstudio.core.project import save_project
from nnstudio.ui.error_report import reason

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL_MS = 60_000
PREFIX = "session-"
MAX_NOTE_BYTES = 65_536


def default_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "autosave"


@dataclass(frozen=True)
class Recoverable:
    """An autosaved copy left by a session that did not close normally."""

    copy: Path  # the autosaved .nnstudio
    original: str | None  # the file it was a copy of, None for an untitled project
    name: str
    saved_at: float  # seconds since the epoch

    @property
    def note(self) -> Path:
        return self.copy.with_suffix(".json")

    @property
    def lock(self) -> Path:
        return self.copy.with_suffix(".lock")

    def discard(self) -> None:
        for path in (self.copy, self.note, self.lock):
            with contextlib.suppress(OSError):
                path.unlink()


def find_recoverable(folder: Path | None = None) -> list[Recoverable]:
    """Copies in ``folder`` whose session is gone (its lock is free), newest first."""
    folder = Path(folder) if folder is not None else default_folder()
    if not folder.is_dir():
        return []
    found = []
    for copy in folder.glob(f"{PREFIX}*.nnstudio"):
        lock = QLockFile(str(copy.with_suffix(".lock")))
        lock.setStaleLockTime(0)  # a lock is stale only when the process that holds it is gone
        if not lock.tryLock(0):
            continue  # another running window's copy
        lock.unlock()
        note: Any = {}
        with contextlib.suppress(OSError, ValueError, RecursionError):
            path = copy.with_suffix(".json")
            if path.stat().st_size <= MAX_NOTE_BYTES:
                note = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(note, dict):  # a damaged note: the copy is still offered, by its file's name
            note = {}
        try:
            saved_at = copy.stat().st_mtime
        except OSError:
            continue
        original = note.get("original") if isinstance(note.get("original"), str) else None
        name = note.get("name") if isinstance(note.get("name"), str) and note.get("name") else \
            (Path(original).name if original else "Untitled")
        found.append(Recoverable(copy, original, name, saved_at))
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


class Autosaver(QObject):
    """Writes the document's project to this session's copy every ``interval_ms`` while it is unsaved.

    ``autosave()`` is the timer's slot (tests call it directly); ``failed(str)`` reports a copy that could not be
    written (a full disk must not interrupt the user with a dialog every minute)."""

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, document, folder: Path | None = None, interval_ms: int = AUTOSAVE_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.folder = Path(folder) if folder is not None else default_folder()
        session = uuid.uuid4().hex[:12]
        self.path = self.folder / f"{PREFIX}{session}.nnstudio"
        self._lock: QLockFile | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        document.saved.connect(self.remove)
        document.project_replaced.connect(self.remove)

    def autosave(self) -> Path | None:
        """Write the copy now if there are unsaved changes; returns its path (None when nothing was written)."""
        if not self.document.modified:
            return None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._hold_lock()
            save_project(self.document.project, self.path)
            note = {"original": str(self.document.path) if self.document.path else None,
                    "name": self.document.display_name}
            self.path.with_suffix(".json").write_text(json.dumps(note), encoding="utf-8")
        except (OSError, NNStudioError) as exc:
            self.failed.emit(f"Autosave failed: {exc}")
            return None
        except Exception as exc:  # noqa: BLE001 - a timer slot: a dialog every minute would be worse than a line
            log.warning("autosave failed", exc_info=True)
            self.failed.emit(f"Autosave failed: {reason(exc)}")
            return None
        self.saved.emit(str(self.path))
        return self.path

    def remove(self, *_args) -> None:
        """Delete this session's copy (after a clean save, New/Open, or a normal close)."""
        for path in (self.path, self.path.with_suffix(".json")):
            with contextlib.suppress(OSError):
                path.unlink()

    def shutdown(self) -> None:
        """Normal close: stop the timer, remove the copy and release the lock."""
        self.timer.stop()
        self.remove()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _hold_lock(self) -> None:
        if self._lock is None:
            lock = QLockFile(str(self.path.with_suffix(".lock")))
            lock.setStaleLockTime(0)
            if not lock.tryLock(0):
                raise OSError(f"cannot lock {lock.fileName()}")
            self._lock = lock
