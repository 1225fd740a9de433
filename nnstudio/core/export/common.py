"""What every exporter shares: the error it raises, what it returns, atomic writing, and one-line text."""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nnstudio.core.errors import ExportError
from nnstudio.core.text import one_line

__all__ = ["ExportError", "ExportResult", "check_target", "one_line", "write_atomic"]

# A temporary file of ours that is older than this is left over from an interrupted export and removed; a
# younger one may belong to an export of the same file that is still running.
STALE_AFTER_S = 60.0


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a message shows it (one printable line, even for names that are not valid UTF-8)."""
    return one_line(os.fspath(path))


@dataclass
class ExportResult:
    """Where an export wrote, in which format, and what the person should know about it."""

    path: Path
    format: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path when a file can be written there; else ExportError naming the path as given: an
    empty name, a missing folder, a folder, a device, a FIFO or a socket is refused."""
    raw = os.fspath(path)
    if not raw:
        raise ExportError("cannot export to an empty file name: give the file to write, e.g. -o model.py")
    path = Path(raw)
    if raw.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise ExportError(f"cannot export to {shown(raw)}: it names a folder, not a file")
    parent = path.parent
    if not parent.exists():
        raise ExportError(f"cannot export to {shown(raw)}: the folder {shown(parent)} does not exist")
    if not parent.is_dir():
        raise ExportError(f"cannot export to {shown(raw)}: {shown(parent)} is not a folder")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path  # a new file (or a dangling link, which the export replaces)
    except OSError as exc:
        raise ExportError(f"cannot export to {shown(raw)}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL, or a lone surrogate the file system cannot encode
        raise ExportError(f"cannot export to {shown(raw)}: the name holds characters a file name cannot "
                          "hold") from None
    if stat.S_ISDIR(mode):
        raise ExportError(f"cannot export to {shown(raw)}: it is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ExportError(f"cannot export to {shown(raw)}: it is a device, pipe or socket, not a regular file")
    return path


def temp_pattern(path: Path) -> re.Pattern[str]:
    """The names ``write_atomic`` gives its temporary files for ``path`` (mkstemp's eight random characters)."""
    return re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temps(path: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary files an interrupted export of ``path`` left beside it: only regular files named
    as ``write_atomic`` names them for this very target, older than STALE_AFTER_S. Returns what was removed."""
    pattern = temp_pattern(path)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_AFTER_S:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, then move it over ``path``: a failed
    export never leaves half a file. The file gets the usual permissions (0644), not mkstemp's 0600. Temporary
    files an earlier, interrupted export of the same target left behind are removed first. A target that
    cannot be written (missing folder, a folder, a device, no permission, a full disk) is an ExportError
    naming ``path``, never the temporary file."""
    given = path
    path = check_target(path)
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot export to {shown(given)}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot export to {shown(given)}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
