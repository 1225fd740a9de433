"""What continuing a training run exactly needs besides the weights, and how the engine puts it back.

A run ends with a :class:`TrainingState`: the position (epochs and steps done, seconds trained, the best value
so far and the epochs since it), the optimizer's state per parameter (Adam's moments, SGD's momentum buffer
...), the learning-rate schedule's state, and the random generators (torch's global one, which dropout draws
from; the CUDA one when the run was on a GPU; the engine's own generator of the batch order). It always belongs
to the weights the run kept: with ``restore_best`` (and in a stopped run) those are the best epoch's and the
state is the one taken at the end of that epoch; otherwise the last epoch's.

``engine.train(..., resume=state)`` trains ``epochs`` more epochs, numbered on from ``state.epoch``, and gives
the losses one longer run would have given (train 3 then 2 is train 5, to the last bit on the CPU). Settings
may change between runs (:func:`continue_notes` words what starts fresh, one line each):

- ``epochs``: how many more epochs this run trains.
- ``lr``: unchanged, the rate goes on where the schedule left it; changed, the new rate applies from the
  first continued epoch, and the schedule goes on from it.
- ``optimizer`` changed: the optimizer starts fresh at ``lr`` (its state belongs to another kind of
  optimizer); the weights, the schedule and the rest go on.
- ``schedule`` changed, or ``plateau`` with another ``monitor``: the schedule starts fresh. ``cosine``
  anneals over the epochs of one run (``T_max`` is ``epochs``), so a continued run starts a new cycle from
  ``lr`` (a warm restart).
- ``momentum``, ``nesterov``, ``l2``, ``step_size``, ``gamma``, ``plateau_patience``, ``plateau_factor``: the
  new values apply; the state they act on goes on.
- ``seed``: only a fresh run is seeded; a continued one draws on from the saved generators.
- ``monitor``: the best value so far (and early stopping's count) goes on only when it is the same.

A state from a file is checked for its shape (``unpack``) when the file is read and against the network
(:func:`mismatch`) before training: nothing in it becomes code, and a scheduler's state only sets the fields
that scheduler has.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nnstudio.core.text import kind as _kind
from nnstudio.core.text import short as _short
from nnstudio.core.training.config import MONITORS, OPTIMIZERS, SCHEDULES, TrainConfig

VERSION = 1  # of the layout below, stored as the metadata key "version"
OPTIMIZER_PREFIX = "optimizer."  # tensor names: optimizer.<parameter name>.<state name>
RNG_PREFIX = "rng."  # tensor names: rng.<generator>
RNG_NAMES = ("torch_cpu", "torch_cuda", "permutation")
METADATA_KEYS = ("version", "position", "optimizer", "scheduler", "scaler")
MAX_GROUPS = 64  # parameter groups of an optimizer (the engine makes one)
MAX_NAME = 1000  # characters in a parameter or state name
_MT_STATE_BYTES = int(torch.Generator().get_state().numel())  # a CPU generator's state, always this size
# The scheduler settings that come from the training settings: the run's own values apply, never the saved ones.
_SCHEDULE_SETTINGS = ("step_size", "gamma", "factor", "patience", "mode", "threshold", "threshold_mode",
                      "cooldown", "eps", "T_max", "eta_min")


class StateError(ValueError):
    """A saved training state that does not have the shape described here (the message names the field)."""


@dataclass
class TrainingState:
    epoch: int  # epochs done: the number of the epoch the state was taken at the end of (0: none)
    step: int  # optimisation steps done
    elapsed_s: float = 0.0  # seconds trained (the epoch rows' time_s goes on from it)
    monitor: str = "val_loss"  # what picked the best epoch
    best_value: float | None = None  # the best monitored value so far, and its epoch
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the best one (early stopping's count)
    # None: no optimizer state (a weights-only continuation of a file that has none).
    optimizer: str | None = None
    lr: float | None = None  # the run's ``lr`` setting
    lrs: list[float] = field(default_factory=list)  # each parameter group's rate when the state was taken
    params: list[str] = field(default_factory=list)  # the trainable parameters, in the optimizer's order
    optimizer_state: dict[str, dict[str, Any]] = field(default_factory=dict)  # by parameter: tensors, numbers
    schedule: str = "none"
    scheduler: dict[str, Any] | None = None  # the scheduler's own state_dict (JSON numbers, strings, lists)
    scaler: dict[str, Any] | None = None  # the float16 gradient scaler's state (CUDA mixed precision)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)  # uint8 generator states by RNG_NAMES

    @property
    def has_optimizer(self) -> bool:
        return self.optimizer is not None

    @property
    def tensor_bytes(self) -> int:
        tensors = [v for s in self.optimizer_state.values() for v in s.values() if isinstance(v, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in [*tensors, *self.rng.values()])


# -- taking and putting back ------------------------------------------------------------------------------------
def trainable_names(model: nn.Module) -> list[str]:
    """The names of the parameters the optimizer updates, in its order (optim.make_optimizer)."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def rng_states(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """Copies of the generators a training run draws from."""
    states = {"torch_cpu": torch.get_rng_state(), "permutation": generator.get_state()}
    if device.type == "cuda":
        states["torch_cuda"] = torch.cuda.get_rng_state(device)
    return states


def capture(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any, config: TrainConfig,
            rng: dict[str, torch.Tensor], **position: Any) -> TrainingState:
    """A TrainingState of this moment, made of copies (``position``: epoch, step, elapsed_s, monitor,
    best_value, best_epoch, bad_epochs)."""
    names = trainable_names(model)
    saved = optimizer.state_dict()
    state = {names[index]: {key: _copy(value) for key, value in values.items()}
             for index, values in saved["state"].items()}
    return TrainingState(
        **position, optimizer=config.optimizer, lr=config.lr,
        lrs=[float(g["lr"]) for g in optimizer.param_groups], params=names, optimizer_state=state,
        schedule=config.schedule, scheduler=copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None,
        scaler=copy.deepcopy(scaler.state_dict()) if scaler is not None else None,
        rng={k: v.detach().to("cpu", copy=True) for k, v in rng.items()})


def _copy(value: Any) -> Any:
    return value.detach().to("cpu", copy=True) if isinstance(value, torch.Tensor) else copy.deepcopy(value)


def continues_optimizer(state: TrainingState, config: TrainConfig) -> bool:
    return state.optimizer is not None and state.optimizer == config.optimizer


def continues_schedule(state: TrainingState, config: TrainConfig) -> bool:
    return (state.scheduler is not None and state.schedule == config.schedule and config.schedule != "cosine"
            and (config.schedule != "plateau" or state.monitor == config.monitor))


def continue_notes(state: TrainingState | None, config: TrainConfig) -> list[str]:
    """What a run continued from ``state`` with ``config`` starts fresh, one plain line each."""
    if state is None or not state.has_optimizer:
        return [("the project has no saved optimizer state (its file is older than format 2, or the state "
                 "was damaged): the weights go on, the optimizer and the schedule start fresh")]
    notes = []
    if not continues_optimizer(state, config):
        notes.append(f"the optimizer changed from {state.optimizer} to {config.optimizer}: it starts fresh; the "
                     "weights go on")
    if config.schedule == "cosine":
        notes.append("the cosine schedule anneals over the epochs of one run: it starts a new cycle from the "
                     "learning rate")
    elif config.schedule != "none" and not continues_schedule(state, config):
        why = "the monitor changed" if state.schedule == config.schedule else (
            f"it changed from {state.schedule}")
        notes.append(f"the {config.schedule} schedule starts fresh ({why})")
    return notes


def mismatch(state: TrainingState, model: nn.Module) -> str | None:
    """Why ``state`` cannot continue training ``model`` (other parameters, other shapes), or None."""
    if not state.has_optimizer:
        return None
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(state.params))
    extra = sorted(set(state.params) - set(params))
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + (
            [f"unexpected {', '.join(extra[:5])}"] if extra else [])
        return "the saved training state is for other parameters (" + "; ".join(parts) + ")"
    for name, values in state.optimizer_state.items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[name].shape:
                return (f"the saved optimizer state {name}.{key} has shape {tuple(value.shape)} but the parameter "
                        f"has {tuple(params[name].shape)}")
    return None


def restore(state: TrainingState, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            scaler: Any, generator: torch.Generator, config: TrainConfig, device: torch.device) -> None:
    """Put ``state`` back into a freshly made optimizer, scheduler, scaler and the generators (see the module's
    doc for what a changed setting does). ``mismatch`` must have said None."""
    lr_kept = state.lr == config.lr
    if continues_optimizer(state, config):
        index = {name: i for i, name in enumerate(trainable_names(model))}
        groups, first = [], 0
        for i, group in enumerate(optimizer.param_groups):
            fresh = {k: v for k, v in group.items() if k != "params"}  # this run's settings
            if lr_kept and i < len(state.lrs):
                fresh["lr"] = state.lrs[i]
            groups.append({**fresh, "params": list(range(first, first + len(group["params"])))})
            first += len(group["params"])
        saved = {index[name]: {k: v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
                               for k, v in values.items()} for name, values in state.optimizer_state.items()}
        optimizer.load_state_dict({"state": saved, "param_groups": groups})
    if scheduler is not None and continues_schedule(state, config):
        fresh = scheduler.state_dict()
        merged = {**fresh, **{k: copy.deepcopy(v) for k, v in state.scheduler.items()
                              if k in fresh and _same_kind(v, fresh[k]) and k not in _SCHEDULE_SETTINGS}}
        if not lr_kept:
            merged["base_lrs"] = fresh.get("base_lrs", merged.get("base_lrs"))
        merged["_last_lr"] = [float(g["lr"]) for g in optimizer.param_groups]
        scheduler.load_state_dict(merged)
    if scaler is not None and state.scaler:
        fresh = scaler.state_dict()
        scaler.load_state_dict({**fresh, **{k: v for k, v in state.scaler.items()
                                            if k in fresh and _same_kind(v, fresh[k])}})
    try:
        if "torch_cpu" in state.rng:
            torch.set_rng_state(state.rng["torch_cpu"])
        if "permutation" in state.rng:
            generator.set_state(state.rng["permutation"])
        if device.type == "cuda" and "torch_cuda" in state.rng:
            torch.cuda.set_rng_state(state.rng["torch_cuda"], device)
    except (RuntimeError, ValueError) as exc:
        from nnstudio.core.errors import TrainingError

        raise TrainingError(f"the saved random generator state cannot be used ({_short(str(exc), 120)}): "
                            "train without continuing") from None


def _same_kind(saved: Any, fresh: Any) -> bool:
    """Whether a saved scheduler value can stand where the fresh scheduler has ``fresh``."""
    if isinstance(fresh, bool) or isinstance(saved, bool):
        return isinstance(fresh, bool) and isinstance(saved, bool)
    if isinstance(fresh, (int, float)):
        return isinstance(saved, (int, float)) and (isinstance(fresh, float) or isinstance(saved, int))
    if isinstance(fresh, (list, tuple)):
        return isinstance(saved, list) and len(saved) == len(fresh) and all(_same_kind(s, f)
                                                                             for s, f in zip(saved, fresh))
    if fresh is None:
        return saved is None or _number(saved)
    return type(saved) is type(fresh)


# -- the file form: tensors and JSON metadata -------------------------------------------------------------------
def pack(state: TrainingState) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors (``optimizer.<parameter>.<name>``, ``rng.<generator>``) and the JSON-safe metadata objects
    (by METADATA_KEYS) that stand for ``state`` in ``training_state.safetensors``."""
    tensors: dict[str, torch.Tensor] = {}
    values: dict[str, dict[str, Any]] = {}
    for name, entries in state.optimizer_state.items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{OPTIMIZER_PREFIX}{name}.{key}"] = value
            else:
                values.setdefault(name, {})[key] = value
    for name, tensor in state.rng.items():
        tensors[f"{RNG_PREFIX}{name}"] = tensor
    meta = {
        "version": VERSION,
        "position": {"epoch": state.epoch, "step": state.step, "elapsed_s": state.elapsed_s,
                     "monitor": state.monitor, "best_value": state.best_value, "best_epoch": state.best_epoch,
                     "bad_epochs": state.bad_epochs},
        "optimizer": None if state.optimizer is None else {
            "type": state.optimizer, "lr": state.lr, "lrs": list(state.lrs), "params": list(state.params),
            "values": values},
        "scheduler": {"type": state.schedule, "state": state.scheduler},
        "scaler": state.scaler,
    }
    return tensors, meta


def unpack(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> TrainingState:
    """The TrainingState that ``pack`` made, from a file: raises StateError naming the field that is wrong."""
    version = meta.get("version")
    if version != VERSION:
        raise StateError(f"version: must be {VERSION}, not {_short(version)}")
    pos = _object(meta.get("position"), "position")
    epoch = _whole(pos.get("epoch"), 0, "position.epoch")
    step = _whole(pos.get("step"), 0, "position.step")
    elapsed = pos.get("elapsed_s", 0.0)
    if not (_number(elapsed) and math.isfinite(elapsed) and elapsed >= 0):
        raise StateError(f"position.elapsed_s: must be a number >= 0, not {_kind(elapsed)}")
    monitor = pos.get("monitor", "val_loss")
    if monitor not in MONITORS:
        raise StateError(f"position.monitor: must be one of {', '.join(MONITORS)}, not {_short(monitor)}")
    best_value = pos.get("best_value")
    if best_value is not None and not _number(best_value):
        raise StateError(f"position.best_value: must be a number or null, not {_kind(best_value)}")
    best_epoch = pos.get("best_epoch")
    if best_epoch is not None:
        best_epoch = _whole(best_epoch, 1, "position.best_epoch")
    bad = _whole(pos.get("bad_epochs", 0), 0, "position.bad_epochs")
    state = TrainingState(epoch, step, float(elapsed), monitor, None if best_value is None else float(best_value),
                          best_epoch, bad)
    _unpack_optimizer(state, meta.get("optimizer"), tensors)
    sched = _object(meta.get("scheduler", {"type": "none", "state": None}), "scheduler")
    if sched.get("type", "none") not in SCHEDULES:
        raise StateError(f"scheduler.type: must be one of {', '.join(SCHEDULES)}, not {_short(sched.get('type'))}")
    state.schedule = sched.get("type", "none")
    if sched.get("state") is not None:
        state.scheduler = _flat_object(sched["state"], "scheduler.state")
    if meta.get("scaler") is not None:
        state.scaler = _flat_object(meta["scaler"], "scaler")
    for name, tensor in tensors.items():
        if not name.startswith(RNG_PREFIX):
            continue
        which = name[len(RNG_PREFIX):]
        if which not in RNG_NAMES:
            raise StateError(f"{_short(name)}: is not a tensor of a training state")
        if tensor.dtype != torch.uint8 or tensor.dim() != 1:
            raise StateError(f"{name}: must be a list of bytes (uint8), not a {tensor.dtype} tensor of shape "
                             f"{tuple(tensor.shape)}")
        if which != "torch_cuda" and tensor.numel() != _MT_STATE_BYTES:
            raise StateError(f"{name}: holds {tensor.numel():,} bytes; a generator's state has {_MT_STATE_BYTES:,}")
        state.rng[which] = tensor
    return state


def _unpack_optimizer(state: TrainingState, opt: Any, tensors: dict[str, torch.Tensor]) -> None:
    names = [n for n in tensors if n.startswith(OPTIMIZER_PREFIX)]
    if opt is None:
        if names:
            raise StateError(f"{_short(names[0])}: optimizer state without an optimizer")
        return
    opt = _object(opt, "optimizer")
    if opt.get("type") not in OPTIMIZERS:
        raise StateError(f"optimizer.type: must be one of {', '.join(OPTIMIZERS)}, not {_short(opt.get('type'))}")
    lr = opt.get("lr")
    if not (_number(lr) and math.isfinite(lr) and lr > 0):
        raise StateError(f"optimizer.lr: must be a number > 0, not {_kind(lr)}")
    lrs = opt.get("lrs", [])
    if not (isinstance(lrs, list) and len(lrs) <= MAX_GROUPS and all(_number(v) and math.isfinite(v) for v in lrs)):
        raise StateError(f"optimizer.lrs: must be a list of at most {MAX_GROUPS} numbers")
    params = opt.get("params", [])
    if not (isinstance(params, list) and all(_name_ok(p) for p in params)):
        raise StateError("optimizer.params: must be a list of parameter names")
    if len(set(params)) != len(params):
        raise StateError("optimizer.params: names a parameter twice")
    known = set(params)
    state.optimizer, state.lr, state.lrs, state.params = opt["type"], float(lr), [float(v) for v in lrs], params
    values = _object(opt.get("values", {}), "optimizer.values")
    for param, entries in values.items():
        if param not in known:
            raise StateError(f"optimizer.values: {_short(param)} is not one of optimizer.params")
        entries = _object(entries, f"optimizer.values.{param}")
        for key, value in entries.items():
            if not _name_ok(key) or not (value is None or _number(value)):
                raise StateError(f"optimizer.values.{param}.{_short(key)}: must be a number or null, "
                                 f"not {_kind(value)}")
            state.optimizer_state.setdefault(param, {})[key] = value
    for name in names:
        param, _, key = name[len(OPTIMIZER_PREFIX):].rpartition(".")
        if param not in known or not key:
            raise StateError(f"{_short(name)}: names no parameter of optimizer.params")
        tensor = tensors[name]
        if not tensor.is_floating_point():
            raise StateError(f"{name}: must be a float tensor, not {tensor.dtype}")
        state.optimizer_state.setdefault(param, {})[key] = tensor


def _object(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateError(f"{field_name}: must be an object, not {_kind(value)}")
    return value


def _flat_object(value: Any, field_name: str) -> dict[str, Any]:
    """An object of numbers, strings, booleans, nulls and lists of those (a scheduler's or scaler's state)."""
    value = _object(value, field_name)
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        if not _name_ok(key) or not all(v is None or isinstance(v, (str, int, float, bool)) for v in items):
            raise StateError(f"{field_name}.{_short(key)}: must be a number, string, boolean, null or a list of "
                             f"those, not {_kind(item)}")
    return value


def _whole(value: Any, minimum: int, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StateError(f"{field_name}: must be a whole number >= {minimum}, not {_kind(value)}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name_ok(name: Any) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME
