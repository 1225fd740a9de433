"""Temporary files of atomic writes, and the sweep of those an interrupted write left behind.

A write (a project save, an export) puts its bytes in ``.NAME.XXXXXXXX.tmp`` beside its target, holds an
advisory lock on it while it works (POSIX) and renames it over the target, so a crash never leaves half a file.
A crash can leave the temporary file itself: :func:`sweep` removes those of a target (or of every ``.nnstudio``
file in a folder) that are older than ``STALE_S`` and that no running write holds -- another window, or another
process, may be saving right now.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Callable, Iterable

try:  # POSIX: a write holds an advisory lock on its temporary file, so a sweep never removes a live one
    import fcntl
except ImportError:  # Windows: an open file cannot be removed there anyway
    fcntl = None  # type: ignore[assignment]

# Whether a write can keep its temporary file open (and locked) while renaming it: Windows renames no open file.
HOLDS_LOCKS = fcntl is not None
# A temporary file is stale (its write was interrupted) once it is this old and no write holds its lock.
STALE_S = 300.0
_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{8}\.tmp")
_MAX_ENTRIES = 100_000  # of a folder looked at by one sweep


def create(target: Path) -> tuple[Path, int]:
    """A new temporary file beside ``target``: its path and a descriptor open for writing, which holds the
    file's lock until it is closed (close it after the rename). OSError as the file system raises it."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    if fcntl is not None:  # held until the descriptor is closed, or this process dies
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return tmp, fd


def sweep(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Remove the temporary files interrupted writes left: for a file, those of its own writes beside it; for a
    folder, those of writes of any ``.nnstudio`` file in it. Never raises; returns what was removed."""
    removed: list[Path] = []
    for item in paths:
        with contextlib.suppress(OSError, ValueError, TypeError):
            if not os.fspath(item):
                continue  # "" would mean the current folder
            path = Path(item)
            if path.is_dir():
                removed += _sweep(path, lambda name: name.lower().endswith(".nnstudio"))
            else:
                removed += sweep_target(path)
    return removed


def sweep_target(target: Path, now: float | None = None) -> list[Path]:
    """Remove the stale temporary files of writes of ``target`` (see the module's doc)."""
    return _sweep(target.parent, lambda name: name == target.name, now)


def _sweep(folder: Path, wanted: Callable[[str], bool], now: float | None = None) -> list[Path]:
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(itertools.islice(os.scandir(folder), _MAX_ENTRIES))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if match is None or not wanted(match["target"]):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_S and not _locked(entry.path):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _locked(path: str) -> bool:
    """Whether a running write holds ``path``'s lock (True when that cannot be told: keep the file)."""
    if fcntl is None:
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the lock taken
    return False
