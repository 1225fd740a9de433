"""What every exporter shares: the error it raises, what it returns, and atomic writing."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nnstudio.core.errors import ExportError

__all__ = ["ExportError", "ExportResult"]


@dataclass
class ExportResult:
    """Where an export wrote, in which format, and what the person should know about it."""

    path: Path
    format: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, then move it over ``path``: a failed
    export never leaves half a file. The file gets the usual permissions (0644), not mkstemp's 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
