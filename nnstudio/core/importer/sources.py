"""Where an imported model comes from: a Python file and a name in it (``net.py:Net``), a torchvision
architecture (``torchvision:resnet18``), with weights from a safetensors file or a PyTorch state dict (read with
``torch.load(weights_only=True)``, never as a pickle of objects).

Importing a Python file runs its code, as ``python net.py`` would: ``RUNS_CODE`` says so in the words the command
line and the dialog show before doing it. A project file never carries code; these are the user's own files,
opened on their explicit request.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnstudio.core.importer.trace import ImportModelError

RUNS_CODE = ("importing {path} runs the Python code in it, as `python {name}` would: import only files you trust")
MAX_WEIGHTS_BYTES = 8 * 1024**3  # a weights file larger than this is refused before it is read


def parse_source(text: str) -> tuple[str, str, str]:
    """``"net.py:Net"`` -> ("python", "net.py", "Net"); ``"torchvision:resnet18"`` -> ("torchvision", "", name);
    a path ending in .onnx -> ("onnx", path, ""); anything else is an ImportModelError saying what to write."""
    text = str(text).strip()
    if text.startswith("torchvision:"):
        name = text.split(":", 1)[1].strip()
        if not name.isidentifier():
            raise ImportModelError(f"torchvision:{name!r}: give an architecture name such as torchvision:resnet18")
        return "torchvision", "", name
    if text.lower().endswith(".onnx"):
        return "onnx", text, ""
    path, sep, name = text.rpartition(":")
    if sep and path.lower().endswith(".py") and name.strip().isidentifier():
        return "python", path, name.strip()
    if text.lower().endswith(".py"):
        raise ImportModelError(f"{text}: also name the model in it, e.g. {text}:Net (a class with a no-argument "
                               "constructor, or a function that returns the module)")
    raise ImportModelError(f"{text}: give FILE.py:NAME, torchvision:ARCHITECTURE or a .onnx file")


def _regular_file(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ImportModelError(f"{p}: the {what} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImportModelError(f"{p}: the {what} is not a regular file (a folder, device or pipe)")
    return p


def module_from_python(path: str | os.PathLike[str], name: str) -> nn.Module:
    """Run ``path`` (see RUNS_CODE) and build ``name`` from it: a class called with no arguments, or a function
    returning an nn.Module. Every error is an ImportModelError naming the file."""
    p = _regular_file(path, "Python file")
    module_name = f"nnstudio_import_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, p)
    if spec is None or spec.loader is None:
        raise ImportModelError(f"{p}: not a Python file that can be imported")
    code = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = code
    try:
        spec.loader.exec_module(code)
    except BaseException as exc:  # noqa: BLE001 - the user's code failed: their error, in one line
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImportModelError(f"{p}: running it failed: {type(exc).__name__}: {_first(exc)}") from None
    thing = getattr(code, name, None)
    if thing is None:
        found = sorted(k for k, v in vars(code).items() if isinstance(v, type) and issubclass(v, nn.Module)
                       and v.__module__ == module_name)
        raise ImportModelError(f"{p} has no {name!r}" + (f" (its modules: {', '.join(found[:8])})" if found else ""))
    try:
        built = thing() if callable(thing) else thing
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImportModelError(f"{p}: {name}() failed: {type(exc).__name__}: {_first(exc)} (it must take no "
                               "arguments)") from None
    if not isinstance(built, nn.Module):
        raise ImportModelError(f"{p}: {name} gives a {type(built).__name__}, not a torch.nn.Module")
    return built


def module_from_torchvision(name: str) -> nn.Module:
    """``torchvision.models.<name>(weights=None)``; a clear error where torchvision is missing or broken."""
    try:
        import torchvision.models as models
    except Exception as exc:  # noqa: BLE001 - not installed, or built for another torch
        raise ImportModelError(f"torchvision:{name} needs torchvision, which cannot be imported here "
                               f"({_first(exc)}): install the torchvision that matches your torch") from None
    build = getattr(models, name, None)
    if not callable(build):
        raise ImportModelError(f"torchvision has no architecture {name!r} (e.g. resnet18, mobilenet_v2)")
    return build(weights=None)


def load_weights(module: nn.Module, path: str | os.PathLike[str]) -> None:
    """Put the weights of ``path`` into ``module``: safetensors, or a state dict saved with torch.save (read
    with weights_only=True; a ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped)."""
    p = _regular_file(path, "weights file")
    if p.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ImportModelError(f"{p}: the weights file is larger than {MAX_WEIGHTS_BYTES // 1024**3} GB")
    try:
        if p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - not a weights file, or one holding objects
        raise ImportModelError(f"{p}: not a safetensors file or a saved state dict ({_first(exc)})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImportModelError(f"{p}: holds no state dict (names to tensors)")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}  # saved from DDP
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ImportModelError(f"{p}: the weights do not fit the model: {_first(exc)}") from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
