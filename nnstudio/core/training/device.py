"""Choosing the device to train on, with a clear error before training when it is not there."""

from __future__ import annotations

import re

import torch

from nnstudio.core.errors import TrainingError


def available_devices() -> list[dict[str, str]]:
    """Every device this machine can train on: id, and a name for people (with memory for CUDA)."""
    devices = [{"id": "cpu", "name": "CPU"}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append({"id": f"cuda:{i}", "name": f"{props.name} ({props.total_memory / 2**30:.1f} GiB)"})
    if _mps_available():
        devices.append({"id": "mps", "name": "Apple GPU (MPS)"})
    return devices


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU. Anything else must exist on this machine."""
    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match:
        if not torch.cuda.is_available():
            raise TrainingError(f"device {name!r} is not available: this machine has no CUDA GPU that this torch "
                                "build can use; choose cpu or auto")
        index = int(match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            listing = ", ".join(f"cuda:{i}" for i in range(count))
            raise TrainingError(f"device {name!r} is not available: this machine has {count} CUDA device(s) "
                                f"({listing})")
        return torch.device("cuda", index)
    if text == "mps":
        if not _mps_available():
            raise TrainingError("device 'mps' is not available: it needs an Apple-silicon Mac; choose cpu or auto")
        return torch.device("mps")
    raise TrainingError(f"device {name!r} is not known: use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
