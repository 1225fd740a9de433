"""How much memory a network needs, worked out before anything is allocated.

Every figure comes from the modules shape inference already builds on the meta device (``shapes.py``): the
parameters and buffers each layer really declares, at their dtype, and the output each layer really returns.
Nothing here allocates a tensor. Sizes are shown in powers of 1000 (kB, MB, GB, TB).

- ``state_bytes(graph)``: the bytes of every parameter and buffer (BatchNorm running statistics, positional
  tables ...) the layers declare. An upper bound of what a saved weights member can hold (non-persistent
  buffers are counted too).
- ``estimate(graph, batch_size, optimizer)``: a ``MemoryEstimate`` of the weights, gradients, optimizer state
  and activations of a training step; ``.text()`` is one line for a person.
- ``fitting_batch(est, budget)``: the largest batch size whose training step fits a budget.
- ``check_fits(...)``: raises ``NotEnoughMemoryError`` (one plain line) when a training run, an export or a
  compile would need more memory than the device has free, or a tensor larger than torch can index.

How a training step is counted (an upper bound, deliberately simple):

    weights x 2       the model, and the copy the engine keeps of the best epoch's weights
    + gradients       one per trainable parameter
    + optimizer state per trainable parameter: Adam / AdamW 2, RMSprop 2 (square average, momentum), SGD 1
    + (activations x BACKWARD_FACTOR + inputs) x batch size

``activations`` is, per sample, the sum over the layers the model runs of their outputs (twice for a layer
whose own activation makes a second tensor) and of what some layers hold inside (an attention layer's
steps x steps weights per head, a recurrent layer's gates). ``BACKWARD_FACTOR`` is 2: the forward pass keeps
every output for the backward pass, which holds a gradient of the same size for each at its peak.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nnstudio.core.errors import GraphError, TrainingError

if TYPE_CHECKING:  # pragma: no cover
    from nnstudio.core.graph import Graph
    from nnstudio.core.shapes import GraphInfo

# Bytes per value of a per-sample tensor: "float" tensors are float32, "long" ones (token ids) int64.
ELEMENT_BYTES = {"float": 4, "long": 8}
BACKWARD_FACTOR = 2
# Optimizer state per trainable parameter, in copies of the parameter (upper bounds: SGD without momentum and
# RMSprop without momentum keep one fewer).
OPTIMIZER_STATES = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
# Copies of the weights a training run holds: the model, and the best epoch's weights kept by the engine.
TRAIN_WEIGHT_COPIES = 2
# Copies of the weights a compiled model comes with: the model, and one more (the project's saved weights
# loaded into it, or the copy the exporter builds from the generated code and checks against it).
COMPILE_WEIGHT_COPIES = 2
# Samples a compiled model is always run on without gradients (the exporter's check runs 3 example inputs).
COMPILE_BATCH = 3
# The most elements one tensor can hold: torch indexes with 64-bit integers.
MAX_NUMEL = 2**63 - 1

WHATS = ("train", "export", "compile")


class NotEnoughMemoryError(GraphError, TrainingError):
    """A network or a run that needs more memory than is available. A GraphError (compile_graph raises it)
    and a TrainingError (the training run does), so the callers of either catch it."""


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says memory ran out: torch.OutOfMemoryError on a GPU, MemoryError, or the plain
    RuntimeError torch's CPU allocator raises ("DefaultCPUAllocator: can't allocate memory")."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


# -- sizes for people ---------------------------------------------------------------------------------------
def format_bytes(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (powers of 1000)."""
    n = float(n)
    units = ("bytes", "kB", "MB", "GB", "TB", "PB", "EB")
    for unit in units:
        if abs(n) < 999.5 or unit == units[-1]:
            break
        n /= 1000
    if unit == "bytes":
        return "1 byte" if n == 1 else f"{int(n)} bytes"
    if n >= 999.5:
        return f"{n:.1e} {unit}"
    return f"{n:.1f} {unit}" if n < 9.95 else f"{n:.0f} {unit}"


# -- what a layer needs -------------------------------------------------------------------------------------
def sample_values(spec: Any, params: dict[str, Any], inputs: list[Any], output: Any) -> tuple[int, int]:
    """(values, bytes) one sample of a layer holds in a forward pass: its output (twice when its own
    activation makes a second tensor) and what it holds inside (``spec.workspace``)."""
    if output is None:
        return 0, 0
    numel = math.prod(output.shape)
    copies = 2 if spec.activation_param and params.get("activation", "none") != "none" else 1
    inside = spec.workspace(params, inputs)
    values = numel * copies + inside
    return values, numel * copies * ELEMENT_BYTES.get(output.dtype, 4) + inside * 4


def node_problem(title: str, state: int, sample: int, largest: int = 0) -> str | None:
    """Why a layer can never be built or run on this computer, or None: its weights alone, or what one
    sample needs in it, exceed the computer's whole memory, or one of its tensors exceeds what torch can
    index. Shown on the node by ``graph.validate()``."""
    if largest > MAX_NUMEL:
        return f"{title} has a tensor of {largest:,} values, more than torch can index: make it smaller"
    total = total_memory_bytes()
    if total is None:
        return None
    if state > total:
        return (f"{title} needs {format_bytes(state)} for its weights, more than this computer's "
                f"{format_bytes(total)} of memory: make it smaller")
    if sample > total:
        return (f"{title} needs {format_bytes(sample)} for a single sample, more than this computer's "
                f"{format_bytes(total)} of memory: make its input or the layer smaller")
    return None


# -- the estimate -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryEstimate:
    """What a network needs. Bytes unless the name says otherwise; ``*_per_sample`` scale with the batch."""

    param_bytes: int
    trainable_bytes: int
    buffer_bytes: int
    activation_bytes_per_sample: int
    input_bytes_per_sample: int
    batch_size: int
    optimizer: str = "adam"
    # The largest tensor: elements of the largest parameter, and per sample of the largest activation.
    largest_param_numel: int = 0
    largest_sample_numel: int = 0
    # The node holding the most weights and the node needing the most per sample (title, bytes).
    heaviest: tuple[str, int] = ("", 0)
    widest: tuple[str, int] = ("", 0)

    @property
    def weight_bytes(self) -> int:
        return self.param_bytes + self.buffer_bytes

    @property
    def gradient_bytes(self) -> int:
        return self.trainable_bytes

    @property
    def optimizer_bytes(self) -> int:
        return self.trainable_bytes * OPTIMIZER_STATES.get(self.optimizer, 2)

    def activation_bytes(self, batch_size: int | None = None, training: bool = True) -> int:
        batch = self.batch_size if batch_size is None else batch_size
        factor = BACKWARD_FACTOR if training else 1
        return (self.activation_bytes_per_sample * factor + self.input_bytes_per_sample) * batch

    def fixed_bytes(self, what: str = "train") -> int:
        """What does not depend on the batch size."""
        if what == "train":
            return self.weight_bytes * TRAIN_WEIGHT_COPIES + self.gradient_bytes + self.optimizer_bytes
        return self.weight_bytes * COMPILE_WEIGHT_COPIES

    def per_sample_bytes(self, what: str = "train") -> int:
        factor = BACKWARD_FACTOR if what == "train" else 1
        return self.activation_bytes_per_sample * factor + self.input_bytes_per_sample

    def need(self, what: str = "train", batch_size: int | None = None) -> int:
        """Bytes for ``what``: a training step ("train") with the estimate's batch size, or a compiled
        model run once on ``COMPILE_BATCH`` samples ("compile", "export": the exporter's check)."""
        if what not in WHATS:
            raise ValueError(f"what must be one of {', '.join(WHATS)}, not {what!r}")
        if batch_size is None:
            batch_size = self.batch_size if what == "train" else COMPILE_BATCH
        return self.fixed_bytes(what) + self.per_sample_bytes(what) * batch_size

    @property
    def train_bytes(self) -> int:
        return self.need("train")

    def largest_numel(self, batch_size: int | None = None) -> int:
        batch = self.batch_size if batch_size is None else batch_size
        return max(self.largest_param_numel, self.largest_sample_numel * batch)

    def text(self) -> str:
        """One line for a person: ``about 1.2 GB to train with batch size 64: 480 MB of weights, ...``."""
        parts = [f"{format_bytes(self.weight_bytes)} of weights"]
        if self.trainable_bytes:
            parts.append(f"{format_bytes(self.gradient_bytes)} of gradients")
            parts.append(f"{format_bytes(self.optimizer_bytes)} of {_optimizer_title(self.optimizer)} state")
        parts.append(f"{format_bytes(self.activation_bytes())} of activations and inputs")
        return (f"about {format_bytes(self.train_bytes)} to train with batch size {self.batch_size}: "
                + ", ".join(parts))


def _optimizer_title(name: str) -> str:
    return {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}.get(name, str(name))


def state_bytes(graph: "Graph", info: "GraphInfo | None" = None) -> int:
    """Bytes of every parameter and buffer the graph's layers declare, at their dtype; for a graph with
    problems, of the layers that can be built. Never allocates and never raises for a bad graph."""
    from nnstudio.core.shapes import infer_shapes

    info = info or infer_shapes(graph)
    return sum(i.param_bytes + i.buffer_bytes for i in info.nodes.values())


def estimate(graph: "Graph", batch_size: int, optimizer: str = "adam",
             info: "GraphInfo | None" = None) -> MemoryEstimate:
    """What a training step with ``batch_size`` samples and ``optimizer`` needs (see the module's doc). Counts
    the layers the compiled model runs (those leading to the Output when there is one), of those that can be
    built. Never allocates and never raises for a bad graph."""
    from nnstudio.core.shapes import infer_shapes

    info = info or infer_shapes(graph)
    kept = _kept_nodes(graph)
    if any(nid not in info.nodes for nid in kept):  # shapes of an earlier graph (an edit not yet checked)
        info = infer_shapes(graph)
    params = trainable = buffers = acts = inputs = 0
    largest_param = largest_sample = 0
    heaviest, widest = ("", 0), ("", 0)
    for nid in kept:
        node, ninfo = graph.nodes[nid], info.nodes[nid]
        spec = node.spec
        params += ninfo.param_bytes
        trainable += ninfo.trainable_bytes
        buffers += ninfo.buffer_bytes
        largest_param = max(largest_param, ninfo.largest_numel)
        weight = ninfo.param_bytes + ninfo.buffer_bytes
        if weight > heaviest[1]:
            heaviest = (f"{spec.title} {node.title}", weight)
        if ninfo.output is None or spec.is_output:
            continue
        if spec.is_input:
            values = math.prod(ninfo.output.shape)
            inputs += values * ELEMENT_BYTES.get(ninfo.output.dtype, 4)
            largest_sample = max(largest_sample, values)
            continue
        values, size = ninfo.sample_values, ninfo.sample_bytes
        acts += size
        largest_sample = max(largest_sample, values)
        if size > widest[1]:
            widest = (f"{spec.title} {node.title}", size)
    return MemoryEstimate(params, trainable, buffers, acts, inputs, int(batch_size), str(optimizer),
                          largest_param, largest_sample, heaviest, widest)


def output_ancestors(graph: "Graph") -> tuple[str | None, set[str] | None]:
    """The Output node's id and the nodes with a path to it (itself included); (None, None) unless the graph
    has exactly one Output."""
    outputs = [nid for nid, n in graph.nodes.items() if n.spec.is_output]
    if len(outputs) != 1:
        return None, None
    seen, stack = {outputs[0]}, [outputs[0]]
    while stack:
        for e in graph.inputs_of(stack.pop()):
            if e.src not in seen and e.src in graph.nodes:
                seen.add(e.src)
                stack.append(e.src)
    return outputs[0], seen


def _kept_nodes(graph: "Graph") -> list[str]:
    """The nodes compile_graph builds: those with a path to the Output when there is exactly one."""
    _output, seen = output_ancestors(graph)
    return list(graph.nodes) if seen is None else [nid for nid in graph.nodes if nid in seen]


# -- the check ----------------------------------------------------------------------------------------------
def check_fits(need: "MemoryEstimate | Graph", batch_size: int | None = None, device: Any = "cpu",
               what: str = "train", *, optimizer: str = "adam", data_bytes: int = 0,
               available: int | None = None) -> MemoryEstimate:
    """Raise NotEnoughMemoryError unless ``what`` fits on ``device``; returns the estimate it checked.

    ``what``: "train" (a training step with ``batch_size``, see the module's doc), "export" and "compile" (the
    compiled model, one more copy of its weights and a run on ``batch_size`` samples, by default
    ``COMPILE_BATCH``: what the exporter's check needs). ``data_bytes``: data that will sit on the device too
    (the engine keeps the whole dataset there). ``available``: the budget in bytes, for tests; by default the
    device's free memory (``available_bytes``). No budget known: only the tensor-size limit is checked."""
    if what not in WHATS:
        raise ValueError(f"what must be one of {', '.join(WHATS)}, not {what!r}")
    est = need if isinstance(need, MemoryEstimate) else estimate(need, batch_size or 1, optimizer)
    batch = int(batch_size if batch_size is not None else (est.batch_size if what == "train" else COMPILE_BATCH))
    doing = _doing(what, batch)
    largest = est.largest_numel(batch)
    if largest > MAX_NUMEL:
        raise NotEnoughMemoryError(f"{doing} needs a tensor of {largest:,} values, more than torch can index "
                                   f"(at most {MAX_NUMEL:,}): make the network smaller or the batch size lower")
    total = est.need(what, batch) + int(data_bytes)
    budget = available_bytes(device) if available is None else int(available)
    if budget is None or total <= budget:
        return est
    where = _device_text(device)
    detail = _breakdown(est, what, batch, data_bytes)
    fixed = est.fixed_bytes(what) + int(data_bytes)
    fits = fitting_batch(est, budget, data_bytes) if what == "train" else 0
    if 1 <= fits < batch and est.need("compile") <= budget:  # building the model (3 samples) must fit too
        fix = f"use a batch size of at most {fits:,}"
    elif fixed > budget and data_bytes > est.fixed_bytes(what):
        fix = "use less data or train on the CPU"
    else:
        fix = _smaller_fix(est, "weights" if fixed > budget else "activations")
    raise NotEnoughMemoryError(f"{doing} needs about {format_bytes(total)} ({detail}) but {where} has "
                               f"{format_bytes(budget)} available: {fix}")


def fitting_batch(est: MemoryEstimate, budget: int, data_bytes: int = 0) -> int:
    """The largest batch size whose training step fits ``budget`` bytes (with ``data_bytes`` of data on the
    device too); 0 when not even the weights, gradients and optimizer state fit. What the memory problem
    proposes ("use a batch size of at most N") and what the summary shows."""
    fixed = est.fixed_bytes("train") + int(data_bytes)
    per_sample = est.per_sample_bytes("train")
    if fixed > budget:
        return 0
    if not per_sample:
        return MAX_NUMEL
    return int((budget - fixed) // per_sample)


def _doing(what: str, batch: int) -> str:
    if what == "train":
        return f"training with batch size {batch:,}"
    if what == "export":
        return "exporting the network (building it twice and checking it on 3 samples)"
    return "building the network"


def _breakdown(est: MemoryEstimate, what: str, batch: int, data_bytes: int) -> str:
    copies = TRAIN_WEIGHT_COPIES if what == "train" else COMPILE_WEIGHT_COPIES
    parts = [f"{format_bytes(est.weight_bytes * copies)} of weights"]
    if what == "train" and est.trainable_bytes:
        parts.append(f"{format_bytes(est.gradient_bytes + est.optimizer_bytes)} of gradients and "
                     f"{_optimizer_title(est.optimizer)} state")
    parts.append(f"{format_bytes(est.per_sample_bytes(what) * batch)} of activations")
    if data_bytes:
        parts.append(f"{format_bytes(data_bytes)} of data")
    return ", ".join(parts)


def _smaller_fix(est: MemoryEstimate, kind: str) -> str:
    name, size = est.heaviest if kind == "weights" else est.widest
    if not name:
        return "make the network smaller"
    holds = "of weights" if kind == "weights" else "per sample"
    return f"make the network smaller ({name} needs {format_bytes(size)} {holds})"


def _device_text(device: Any) -> str:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return str(device)
    if dev.type == "cpu":
        return "this computer"
    return f"{dev}"


# -- budgets ------------------------------------------------------------------------------------------------
def available_bytes(device: Any = "cpu") -> int | None:
    """Free memory of ``device`` in bytes, or None when it cannot be found out.

    CUDA: ``torch.cuda.mem_get_info`` plus what torch's allocator holds cached but unused in this process.
    MPS: torch's recommended maximum less what the driver holds, else the CPU's figure (shared memory).
    CPU: ``cpu_available_bytes``."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return None
    try:
        if dev.type == "cuda":
            index = dev.index if dev.index is not None else torch.cuda.current_device()
            free, _total = torch.cuda.mem_get_info(index)
            cached = torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index)
            return int(free) + max(0, int(cached))
        if dev.type == "mps":
            mps = getattr(torch, "mps", None)
            if mps is not None and hasattr(mps, "recommended_max_memory"):
                return max(0, int(mps.recommended_max_memory()) - int(mps.driver_allocated_memory()))
    except Exception:  # noqa: BLE001 - a driver that cannot answer: no budget rather than a crash
        return None
    return cpu_available_bytes()


def cpu_available_bytes() -> int | None:
    """Memory the CPU can still give this process, in bytes, or None when unknown.

    Linux: ``MemAvailable`` (free memory plus the page cache the kernel can reclaim) plus free swap, from
    /proc/meminfo; without it ``os.sysconf("SC_AVPHYS_PAGES")`` (free pages only). Windows:
    ``GlobalMemoryStatusEx``'s available physical memory. macOS and others: ``SC_PHYS_PAGES``, the whole
    memory (they do not report the available part through sysconf). A container's cgroup limit, where one
    is set, lowers the figure."""
    found = _meminfo_available()
    if found is None:
        found = _sysconf_bytes("SC_AVPHYS_PAGES")
    if found is None:
        found = _windows_memory(available=True)
    if found is None:
        found = _sysconf_bytes("SC_PHYS_PAGES")
    room = _cgroup_room()
    if room is not None:
        found = room if found is None else min(found, room)
    return found


@functools.lru_cache(maxsize=1)
def total_memory_bytes() -> int | None:
    """This computer's whole memory (``SC_PHYS_PAGES``; Windows ``GlobalMemoryStatusEx``), lowered by a
    cgroup limit; None when unknown. What a single layer can never exceed (``node_problem``)."""
    found = _sysconf_bytes("SC_PHYS_PAGES")
    if found is None:
        found = _windows_memory(available=False)
    limit = _cgroup_limit()
    if limit is not None:
        found = limit if found is None else min(found, limit)
    return found


def _sysconf_bytes(name: str) -> int | None:
    try:
        pages, size = os.sysconf(name), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return int(pages) * int(size) if pages > 0 and size > 0 else None


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[name.strip()] = int(fields[0]) * 1024
    if "MemAvailable" not in values:
        return None
    return values["MemAvailable"] + values.get("SwapFree", 0)


def _cgroup_file(name: str) -> int | None:
    for folder in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory"):
        try:
            text = Path(folder, name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit():
            value = int(text)
            return value if value < 2**60 else None  # cgroup v1 writes a huge number for "no limit"
        return None  # "max": no limit
    return None


def _cgroup_limit() -> int | None:
    return _cgroup_file("memory.max") or _cgroup_file("memory.limit_in_bytes")


def _cgroup_room() -> int | None:
    limit = _cgroup_limit()
    if limit is None:
        return None
    used = _cgroup_file("memory.current") or _cgroup_file("memory.usage_in_bytes") or 0
    return max(0, limit - used)


def _windows_memory(available: bool) -> int | None:
    if sys.platform != "win32":
        return None
    try:
        import ctypes

        class _Status(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = _Status()
        status.dwLength = ctypes.sizeof(_Status)
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return None
        return int(status.ullAvailPhys if available else status.ullTotalPhys)
    except Exception:  # noqa: BLE001
        return None
