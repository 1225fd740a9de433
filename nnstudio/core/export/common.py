"""What every exporter shares: the error it raises, what it returns, atomic writing, and one-line text."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nnstudio.core import tempfiles
from nnstudio.core.errors import ExportError
from nnstudio.core.text import one_line

__all__ = ["ExportError", "ExportResult", "check_target", "one_line", "write_atomic"]


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


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``path`` (``core.tempfiles``: locked while it is
    written), then move it over ``path``: a failed export never leaves half a file. Temporary files an earlier,
    interrupted write of the same target left behind are removed first. A target that cannot be written (missing
    folder, a folder, a device, no permission, a full disk) is an ExportError naming ``path``, never the
    temporary file."""
    given = path
    path = check_target(path)
    tempfiles.sweep_target(path)
    try:
        tmp, fd = tempfiles.create(path)
    except OSError as exc:
        raise ExportError(f"cannot export to {shown(given)}: {exc.strerror or exc}") from None
    try:
        try:
            write(str(tmp))
            if not tempfiles.HOLDS_LOCKS:  # Windows renames no open file
                os.close(fd)
                fd = -1
            os.replace(tmp, path)
        finally:
            if fd >= 0:
                os.close(fd)  # after the rename: the lock is held until then
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot export to {shown(given)}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def first_failing_layer(module, inputs: tuple, try_layer: Callable[..., None]) -> str | None:
    """The first child of ``module`` (a compiled model) that ``try_layer(child, args)`` fails on, each tried
    on the arguments it receives in a forward pass of ``inputs``; a child the pass never reached is the one it
    stopped at. None when every child passes (the failure is the network's as a whole)."""
    import torch

    seen: dict[str, tuple] = {}
    hooks = [child.register_forward_pre_hook(lambda m, args, name=name: seen.setdefault(name, args))
             for name, child in module.named_children()]
    try:
        with torch.no_grad():
            module(*inputs)
    except Exception:  # noqa: BLE001 - the layers that ran before the failure are still recorded
        pass
    finally:
        for hook in hooks:
            hook.remove()
    for name, child in module.named_children():
        if name not in seen:
            return name  # the forward pass itself stopped here
        try:
            with torch.no_grad():
                try_layer(child, seen[name])
        except Exception:  # noqa: BLE001 - this layer is the one that cannot be exported
            return name
    return None
