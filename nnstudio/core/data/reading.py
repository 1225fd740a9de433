"""Reading the user's files safely: only regular files and folders, within a size limit, cancellable.

* :func:`open_regular` opens a dataset file only when it is a regular file. A device (``/dev/zero``), a FIFO or
  a socket is refused with one line naming the option and the path, and is never opened for reading: the path
  is looked at first (``stat``), then opened non-blocking (a FIFO would block in ``open``) and looked at again
  through the open descriptor (``fstat``), so swapping the file for a FIFO between the two is caught too.
* Every importer takes the option ``max_megabytes`` (:data:`MAX_MEGABYTES` by default): the most the file may
  weigh and the most the data may take in memory, checked before anything large is allocated.
* A :class:`LoadToken` lets another thread cancel a load and hear how far it got. The importers ask the token
  of the current load (:func:`current_token`; :func:`using` sets it for a thread) between rows, images and
  chunks, so the same importers serve the command line (no token: never cancelled) and the GUI's loader thread.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from nnstudio.core.errors import DatasetError

# The default of every importer's ``max_megabytes`` option: generous, but finite.
MAX_MEGABYTES = 2048
MAX_MEGABYTES_LIMIT = 1024 * 1024  # the option's own ceiling: 1 TB
MEGABYTE = 1024 * 1024
CHUNK_BYTES = 4 * MEGABYTE  # data are read (and the token asked) in pieces of this size


class LoadCancelled(DatasetError):
    """The load was cancelled through its :class:`LoadToken` (a plain message, like every DatasetError)."""

    def __init__(self, message: str = "loading the data was cancelled") -> None:
        super().__init__(message)


class LoadToken:
    """Thread-safe: one thread loads and calls :meth:`check` / :meth:`report`; another may :meth:`cancel` and
    read :attr:`progress`."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._progress: tuple[int, int, str] = (0, 0, "")

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise :class:`LoadCancelled` when the load has been cancelled."""
        if self._cancelled.is_set():
            raise LoadCancelled()

    def report(self, done: int, total: int, what: str) -> None:
        """``done`` of ``total`` units (bytes, rows, images) of the step ``what`` ("reading data.csv"); also
        checks for cancellation."""
        with self._lock:
            self._progress = (int(done), int(total), what)
        self.check()

    @property
    def progress(self) -> tuple[int, int, str]:
        """(done, total, what) as last reported; total 0 when not known yet."""
        with self._lock:
            return self._progress


_NEVER = LoadToken()  # the token of a load nobody can cancel (the command line, tests)
_local = threading.local()


def current_token() -> LoadToken:
    """The token of the load running on this thread (one that is never cancelled when none was set)."""
    return getattr(_local, "token", None) or _NEVER


@contextlib.contextmanager
def using(token: LoadToken | None) -> Iterator[LoadToken]:
    """Make ``token`` the current thread's load token for the ``with`` block (None: keep the current one)."""
    previous = getattr(_local, "token", None)
    if token is not None:
        _local.token = token
    try:
        yield current_token()
    finally:
        _local.token = previous


# -- how things are named in messages --------------------------------------------------------------------------
def shown(path: Path | str) -> str:
    """A path as messages show it: as it is when printable, else quoted with escapes (one line, always)."""
    text = str(path)
    return text if text.isprintable() else ascii(text)


def size_text(count: float) -> str:
    """A byte count in words: ``"512 bytes"``, ``"3.4 MB"``, ``"8 TB"`` (1 MB = 1024 x 1024 bytes)."""
    count = float(count)
    if count < 1024:
        return f"{int(count):,} bytes"
    for unit in ("kB", "MB", "GB", "TB", "PB", "EB"):
        count /= 1024
        if count < 1024 or unit == "EB":
            return f"{count:,.1f} {unit}" if count < 10 else f"{count:,.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def limit_bytes(max_megabytes: int) -> int:
    return int(max_megabytes) * MEGABYTE


def check_limit(needed: float, max_megabytes: int, what: str) -> None:
    """Refuse (before allocating) when ``needed`` bytes exceed the ``max_megabytes`` option.

    ``what`` says what would take them: ``"data.csv is"`` or ``"the images would take"``."""
    if needed > limit_bytes(max_megabytes):
        raise DatasetError(f"{what} {size_text(needed)}, more than the dataset's limit of {max_megabytes:,} MB "
                           f"(option 'max_megabytes'): raise the limit to read it, or use less data")


def kind_of(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, ValueError):  # e.g. an embedded NUL character in the path
        return str(exc)
    return exc.strerror or str(exc)


def _stat(path: Path, option: str, follow: bool = True) -> os.stat_result:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{shown(path)}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"the dataset's option {option!r}: {shown(path)} cannot be read "
                           f"({_reason(exc)})") from None


def refuse_special(path: Path, mode: int, option: str) -> None:
    """Raise the one-line refusal for a device, FIFO or socket given as the dataset's ``option``."""
    raise DatasetError(f"the dataset's option {option!r}: {shown(path)} is a {kind_of(mode)}, not a regular "
                       "file; NN Studio reads data only from regular files")


def open_regular(path: Path, option: str = "path", what: str = "file",
                 max_megabytes: int = MAX_MEGABYTES) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading in binary when it is a regular file within the size limit: (file, size).

    A folder is refused as "is a folder, not a {what}"; a device, FIFO or socket is refused without being
    opened for reading (see the module's notes on the race)."""
    path = Path(path)
    info = _stat(path, option)
    if stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"{shown(path)} is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        refuse_special(path, info.st_mode, option)
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{shown(path)}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"the dataset's option {option!r}: {shown(path)} cannot be read "
                           f"({_reason(exc)})") from None
    try:
        info = os.fstat(fd)  # what was really opened: the path may have been swapped after the stat
        if stat.S_ISDIR(info.st_mode):
            raise DatasetError(f"{shown(path)} is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            refuse_special(path, info.st_mode, option)
        check_limit(info.st_size, max_megabytes, f"{shown(path.name)} is")
        if hasattr(os, "set_blocking") and getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # no effect on a regular file's reads; plain behaviour for what follows
        return os.fdopen(fd, "rb"), int(info.st_size)
    except BaseException:
        os.close(fd)
        raise


def check_folder(path: Path, option: str = "path") -> None:
    """``path`` must be a folder (a link to one is fine): otherwise one line naming the option and the path."""
    path = Path(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{shown(path)}: no such folder") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"the dataset's option {option!r}: {shown(path)} cannot be read "
                           f"({_reason(exc)})") from None
    if stat.S_ISREG(info.st_mode):
        raise DatasetError(f"{shown(path)} is a file; choose the folder that holds one subfolder per class")
    if not stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"the dataset's option {option!r}: {shown(path)} is a {kind_of(info.st_mode)}, "
                           "not a folder")


def entry_mode(path: Path) -> int | None:
    """The kind of what ``path`` names, following links (``stat.S_IFMT`` bits); None for a broken link."""
    try:
        return stat.S_IFMT(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def read_chunks(file: BinaryIO, into: memoryview, token: LoadToken, done: int, total: int, what: str,
                on_short: Callable[[int], DatasetError]) -> int:
    """Fill ``into`` (bytes) from ``file`` in :data:`CHUNK_BYTES` pieces, reporting progress to ``token``
    (``done`` of ``total`` before this call); ``on_short(read)`` makes the error for a file that ends early.
    Returns the new ``done``."""
    filled, size = 0, len(into)
    while filled < size:
        count = file.readinto(into[filled:filled + CHUNK_BYTES])
        if not count:
            raise on_short(filled)
        filled += count
        done += count
        token.report(done, total, what)
    return done
