"""Core layers: Dense, Flatten, Reshape, Identity, Dropout and the Activation node."""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from nnstudio.core.layers.activations import FORMULAS, activation_module, softmax_dim
from nnstudio.core.layers.base import (
    ACTIVATION_TITLES,
    ACTIVATIONS,
    LayerSpec,
    Param,
    ShapeProblem,
    TensorInfo,
    activation_param,
    activation_text,
    join,
    require_float,
    require_rank,
)
from nnstudio.core.layers.modules import Reshape


def _check_dense(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    require_float("Dense", x)
    require_rank("Dense", x, (1, 2), "a flat feature vector", "insert a Flatten before it")
    if p["activation"] == "softmax" and p["units"] == 1:
        raise ShapeProblem(_SOFTMAX_OF_ONE.format(title="Dense", fix="use Sigmoid for a single unit, or one unit "
                                                                     "per class"))


_SOFTMAX_OF_ONE = "{title} applies Softmax over a single value, which always gives 1 and cannot learn: {fix}"


def _check_activation(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    require_float("Activation", x)
    dim = softmax_dim(len(x.shape) + 1)  # counted with the batch dimension
    if p["function"] == "softmax" and x.shape and x.shape[dim - 1 if dim > 0 else dim] == 1:
        raise ShapeProblem(_SOFTMAX_OF_ONE.format(title="Activation", fix=f"its input {x.text()} has one class; "
                                                                           "use Sigmoid or more classes"))


DENSE = LayerSpec(
    type_id="dense",
    title="Dense",
    category="Core",
    description="A fully connected layer: every output unit is a weighted sum of all inputs plus a bias, passed "
    "through the activation. On a sequence (N, T, F) it is applied to every step.",
    formula="a = f(W a_prev + b)",
    params=(
        Param("units", "int", 64, minimum=1, maximum=1_000_000),
        Param("bias", "bool", True),
        activation_param("relu"),
    ),
    check_fn=_check_dense,
    build_fn=lambda p, inputs: nn.Linear(inputs[0].shape[-1], p["units"], bias=p["bias"]),
    summary_fn=lambda p: join(f"{p['units']} units", activation_text(p)),
    glyph="≡",
)

FLATTEN = LayerSpec(
    type_id="flatten",
    title="Flatten",
    category="Core",
    description="Turns each sample into one flat vector, e.g. feature maps (N, 64, 5, 5) into (N, 1600).",
    formula="(N, d1, d2, ...) -> (N, d1 * d2 * ...)",
    build_fn=lambda p, inputs: nn.Flatten(),
    glyph="▬",
)


def _check_reshape(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    target = p["shape"]
    size = math.prod(x.shape)
    known = math.prod(d for d in target if d != -1)
    ok = size % known == 0 if -1 in target else size == known
    if not ok:
        fix = f"choose sizes whose product divides {size}" if -1 in target else f"choose sizes whose product is {size}"
        raise ShapeProblem(
            f"Reshape cannot turn {x.text()} ({size} values per sample) into (N, "
            + ", ".join(str(d) for d in target) + f") ({known} values{' times the -1' if -1 in target else ''}): "
            + fix
        )


RESHAPE = LayerSpec(
    type_id="reshape",
    title="Reshape",
    category="Core",
    description="Gives each sample a new shape holding the same number of values; one dimension may be -1 to "
    "be worked out.",
    formula="(N, d1, ..., dk) -> (N, e1, ..., em) with d1...dk = e1...em",
    params=(Param("shape", "ints", [-1], maximum=2**62, help="The new per-sample shape, e.g. 1, 28, 28"),),
    check_fn=_check_reshape,
    build_fn=lambda p, inputs: Reshape(p["shape"]),
    summary_fn=lambda p: "to (N, " + ", ".join(str(d) for d in p["shape"]) + ")",
    glyph="⇄",
)

IDENTITY = LayerSpec(
    type_id="identity",
    title="Identity",
    category="Core",
    description="Passes its input on unchanged, whatever its shape: a placeholder where a layer may go later, "
    "or the shortcut of a block written out as a node.",
    formula="y = x",
    # No check: every tensor, token ids included, passes through as it is.
    build_fn=lambda p, inputs: nn.Identity(),
    shape_preserving=True,
    glyph="=",
    extra={"keywords": ("pass through", "passthrough", "no-op", "placeholder", "shortcut")},
)

DROPOUT = LayerSpec(
    type_id="dropout",
    title="Dropout",
    category="Normalisation & regularisation",
    description="While training, sets each value to zero with probability p and scales the rest by 1/(1-p), "
    "so the network cannot rely on any single unit. Does nothing when predicting.",
    formula="y = x * m / (1 - p),  m ~ Bernoulli(1 - p)",
    params=(Param("rate", "float", 0.5, minimum=0.0, maximum=0.99),),
    # Dropout scales by 1/(1-p), which token ids (whole numbers) cannot hold.
    check_fn=lambda p, inputs: require_float("Dropout", inputs[0]),
    build_fn=lambda p, inputs: nn.Dropout(p["rate"]),
    shape_preserving=True,
    summary_fn=lambda p: f"rate {p['rate']:g}",
    glyph="⁘",
)


def _activation_formula() -> str:
    return "; ".join(f"{ACTIVATION_TITLES[a]}: {FORMULAS[a]}" for a in ACTIVATIONS if a != "none")


ACTIVATION = LayerSpec(
    type_id="activation",
    title="Activation",
    category="Activation",
    description="Applies an activation function to every value. Softmax runs over the classes (the channels "
    "for images).",
    formula=_activation_formula(),
    params=(Param("function", "choice", "relu", choices=ACTIVATIONS),),
    check_fn=_check_activation,
    build_fn=lambda p, inputs: activation_module(p["function"], len(inputs[0].shape) + 1),
    shape_preserving=True,
    summary_fn=lambda p: ACTIVATION_TITLES[p["function"]],
    glyph="ƒ",
)

SPECS = [DENSE, FLATTEN, RESHAPE, IDENTITY, DROPOUT, ACTIVATION]
