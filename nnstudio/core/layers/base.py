"""What every layer spec is made of: typed parameters and the spec itself.

A spec describes one layer type: its stable ``type_id``, where it sits in the palette, what it computes
(description and formula), its parameters, how many inputs it takes, and how to build the real torch module
for given input shapes. Shapes are never computed by formula here: ``nnstudio.core.shapes`` builds the module
on the meta device and runs a meta tensor through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from torch import nn

from nnstudio.core.text import short as _short

# Per-sample tensor description handed to specs: shape without the batch dimension, and "float" or "long".
FLOAT = "float"
LONG = "long"


@dataclass(frozen=True)
class TensorInfo:
    """``vocab``: for token ids, how many distinct ids the tensor can hold (ids are 0 .. vocab - 1), so an
    Embedding can check that its table covers them. Not part of equality: shapes compare as before."""

    shape: tuple[int, ...]
    dtype: str = FLOAT
    vocab: int | None = field(default=None, compare=False)

    def text(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: Sequence[int]) -> str:
    """``(64, 5, 5)`` -> ``"(N, 64, 5, 5)"``: the batch dimension is shown as N."""
    return "(" + ", ".join(["N", *(str(int(d)) for d in shape)]) + ")"


MAX_INTS = 16  # the most values an ``ints`` parameter holds (a Reshape to 16 axes is plenty)
SUMMARY_LIMIT = 80  # the longest node-face summary, in characters


@dataclass(frozen=True)
class Param:
    """One typed layer parameter.

    kind is one of ``int``, ``float``, ``bool``, ``choice``, ``padding`` ("valid", "same" or an int >= 0)
    and ``ints`` (a list of ints, e.g. a target shape).
    """

    name: str
    kind: str
    default: Any
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable for this parameter, or None when it is."""
        name = self.title
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{name} must be true or false, not {_short(value)}"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{name} must be a whole number, not {_short(value)}"
            return self._check_range(value)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                return f"{name} must be a finite number, not {_short(value)}"
            return self._check_range(value)
        if self.kind == "choice":
            if value not in self.choices:
                return f"{name} must be one of {', '.join(self.choices)}, not {_short(value)}"
            return None
        if self.kind == "padding":
            if value in ("valid", "same"):
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"{name} must be 'valid', 'same' or a whole number >= 0, not {_short(value)}"
            return self._check_range(value)
        if self.kind == "ints":
            if not isinstance(value, list) or not value or any(
                isinstance(v, bool) or not isinstance(v, int) or (v < 1 and v != -1) for v in value
            ):
                return f"{name} must be a list of positive whole numbers (one may be -1), not {_short(value)}"
            if len(value) > MAX_INTS:
                return f"{name} may hold at most {MAX_INTS} values, not {len(value):,}"
            if value.count(-1) > 1:
                return f"{name} may contain -1 only once, not {_short(value)}"
            if self.maximum is not None and any(v > self.maximum for v in value):
                return f"{name} values must be at most {_num(self.maximum)}, not {_short(value)}"
            return None
        raise ValueError(f"unknown parameter kind {self.kind!r}")  # a bug in a spec, not user input

    def _check_range(self, value: float) -> str | None:
        if self.minimum is not None and value < self.minimum:
            return f"{self.title} must be at least {_num(self.minimum)}, not {_num(value)}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.title} must be at most {_num(self.maximum)}, not {_num(value)}"
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.title}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.help:
            out["help"] = self.help
        return out


def _num(value: float) -> str:
    if isinstance(value, int):
        return _short(value)
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


class ShapeProblem(Exception):
    """Raised by a spec's ``check`` or ``build``: the message is shown on the node as it is."""


# Activation choices offered by layers and by the Activation node.
ACTIVATIONS = ("none", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "silu", "relu6",
               "hardswish", "hardsigmoid")


@dataclass
class LayerSpec:
    """The description of one layer type. Instances live in ``registry``."""

    type_id: str
    title: str
    category: str
    description: str
    formula: str
    params: tuple[Param, ...] = ()
    # Number of input wires: 0 for inputs, 1 for most layers, None for "two or more" (merges).
    inputs: int | None = 1
    has_output_port: bool = True
    build_fn: Callable[[dict[str, Any], list[TensorInfo]], nn.Module] | None = None
    # Optional check run before building, raising ShapeProblem with a friendly message.
    check_fn: Callable[[dict[str, Any], list[TensorInfo]], None] | None = None
    # A short text of the key parameters for the node face, e.g. "32 filters 3x3, ReLU".
    summary_fn: Callable[[dict[str, Any]], str] | None = None
    # For input specs: the per-sample tensor the node produces.
    source_fn: Callable[[dict[str, Any]], TensorInfo] | None = None
    # Optional: how many float values per sample the layer holds inside its forward pass besides its output
    # (an attention layer's steps x steps weights per head, a recurrent layer's gates), for memory estimates.
    workspace_fn: Callable[[dict[str, Any], list[TensorInfo]], int] | None = None
    glyph: str = ""
    # The output has the input's shape for every float input the check accepts (elementwise or per-sample
    # layers): shape inference then builds the module for its parameter count but skips running it. A test
    # holds every spec that says so to what the module really returns.
    shape_preserving: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    # -- parameters -------------------------------------------------------------------------------------
    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: _copy(p.default) for p in self.params}

    def with_defaults(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """The full config: defaults overlaid with the given values (unknown names kept for reporting)."""
        config = self.defaults()
        config.update({k: _copy(v) for k, v in (params or {}).items()})
        return config

    def param_problems(self, params: dict[str, Any]) -> list[str]:
        known = {p.name for p in self.params}
        listing = ", ".join(p.name for p in self.params) or "none"
        problems = [
            f"{self.title} has no parameter {name!r} (its parameters: {listing})" for name in params if name not in known
        ]
        for p in self.params:
            if p.name in params:
                msg = p.check(params[p.name])
                if msg:
                    problems.append(msg)
        return problems

    # -- behaviour --------------------------------------------------------------------------------------
    @property
    def is_input(self) -> bool:
        return self.source_fn is not None

    @property
    def is_output(self) -> bool:
        return not self.has_output_port

    @property
    def activation_param(self) -> bool:
        return any(p.name == "activation" for p in self.params)

    def summary(self, params: dict[str, Any]) -> str:
        """A short text of the key parameters for the node face. Never raises: a value the parameter does
        not accept (from a file) is shown as "?", and a summary that cannot be made at all is empty."""
        if not self.summary_fn:
            return ""
        try:
            values = self.defaults()
            values.update(params)
            for p in self.params:
                if p.check(values[p.name]) is not None:
                    values[p.name] = UNKNOWN
            text = " ".join(str(self.summary_fn(values)).split())  # one line
            return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."
        except Exception:  # noqa: BLE001 - a face without its summary rather than a crash
            return ""

    def workspace(self, params: dict[str, Any], inputs: list[TensorInfo]) -> int:
        """Values per sample held inside the forward pass besides the output (see ``workspace_fn``)."""
        return int(self.workspace_fn(params, inputs)) if self.workspace_fn else 0

    def build(self, params: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
        if self.check_fn is not None:
            self.check_fn(params, inputs)
        assert self.build_fn is not None, f"{self.type_id} has no build function"
        return self.build_fn(params, inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type_id": self.type_id,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "formula": self.formula,
            "inputs": self.inputs,
            "params": [p.to_dict() for p in self.params],
        }


class _Unknown:
    """A parameter value the parameter does not accept, as a node's summary shows it: "?" in any format,
    true, equal only to itself and neither smaller nor larger than anything."""

    def __format__(self, spec: str) -> str:
        return "?"

    def __str__(self) -> str:
        return "?"

    __repr__ = __str__

    def __lt__(self, other: Any) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__


UNKNOWN = _Unknown()


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


# -- helpers shared by the spec modules ------------------------------------------------------------------
def activation_param(default: str = "none") -> Param:
    return Param("activation", "choice", default, choices=ACTIVATIONS, help="Applied to the layer's output.")


def activation_text(params: dict[str, Any]) -> str:
    act = params.get("activation", "none")
    return "" if act in (None, "none") else ACTIVATION_TITLES.get(act, str(act))


ACTIVATION_TITLES = {
    "none": "none",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softmax": "Softmax",
    "gelu": "GELU",
    "elu": "ELU",
    "silu": "SiLU",
    "relu6": "ReLU6",
    "hardswish": "Hardswish",
    "hardsigmoid": "Hardsigmoid",
}


def join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def one_input(inputs: list[TensorInfo]) -> TensorInfo:
    return inputs[0]


def require_float(title: str, x: TensorInfo) -> None:
    if x.dtype != FLOAT:
        raise ShapeProblem(
            f"{title} expects real-valued features but receives token ids {x.text()}: insert an Embedding before it"
        )


def require_rank(title: str, x: TensorInfo, ranks: Sequence[int], what: str, fix: str = "") -> None:
    if len(x.shape) not in ranks:
        msg = f"{title} expects {what} but receives {x.text()}"
        raise ShapeProblem(msg + (f": {fix}" if fix else ""))
