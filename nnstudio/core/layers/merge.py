"""Merge layers: several inputs, one output."""

from __future__ import annotations

from typing import Any

from nnstudio.core.layers.base import FLOAT, LayerSpec, Param, ShapeProblem, TensorInfo
from nnstudio.core.layers.modules import Add, Concat, Multiply

CATEGORY = "Merge"


def _check_floats(title: str, inputs: list[TensorInfo]) -> None:
    for i, x in enumerate(inputs, 1):
        if x.dtype != FLOAT:
            raise ShapeProblem(f"{title} input {i} is token ids {x.text()}: insert an Embedding before it")


def _check_same_shapes(title: str, inputs: list[TensorInfo]) -> None:
    _check_floats(title, inputs)
    shapes = {x.shape for x in inputs}
    if len(shapes) > 1:
        raise ShapeProblem(f"{title} needs inputs of the same shape but receives "
                           + ", ".join(x.text() for x in inputs)
                           + ": make them match, e.g. with a Dense or Conv2D on one branch")


def _check_add(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _check_same_shapes("Add", inputs)


def _check_multiply(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _check_same_shapes("Multiply", inputs)


def _check_concat(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _check_floats("Concat", inputs)
    axis = p["axis"]
    ranks = {len(x.shape) for x in inputs}
    listing = ", ".join(x.text() for x in inputs)
    if len(ranks) > 1:
        raise ShapeProblem(f"Concat needs inputs with the same number of dimensions but receives {listing}: "
                           "insert a Flatten or Reshape on one branch")
    rank = ranks.pop()
    if not -rank <= axis < rank:
        raise ShapeProblem(f"Concat axis {axis} does not exist for inputs {listing}: use an axis from "
                           f"{-rank} to {rank - 1} (-1 is the last)")
    ax = axis % rank
    others = {tuple(d for i, d in enumerate(x.shape) if i != ax) for x in inputs}
    if len(others) > 1:
        raise ShapeProblem(f"Concat on axis {axis} needs every other axis to match but receives {listing}: "
                           "join along the axis that differs, or make the other axes match")


ADD = LayerSpec(
    type_id="add",
    title="Add",
    category=CATEGORY,
    description="Sums its inputs element by element; all must have the same shape. With the identity path of a "
    "block as one input it makes a residual (skip) connection.",
    formula="y = x_1 + x_2 + ... + x_k",
    inputs=None,
    check_fn=_check_add,
    build_fn=lambda p, inputs: Add(),
    glyph="⊕",
)

MULTIPLY = LayerSpec(
    type_id="multiply",
    title="Multiply",
    category=CATEGORY,
    description="Multiplies its inputs element by element; all must have the same shape. With a Sigmoid "
    "branch as one input it makes a gate (squeeze-and-excitation, gated units).",
    formula="y = x_1 * x_2 * ... * x_k  (element-wise)",
    inputs=None,
    check_fn=_check_multiply,
    build_fn=lambda p, inputs: Multiply(),
    glyph="⊗",
    extra={"keywords": ("product", "element-wise product", "elementwise", "gate", "gating",
                        "squeeze and excitation", "hadamard", "merge")},
)

CONCAT = LayerSpec(
    type_id="concat",
    title="Concat",
    category=CATEGORY,
    description="Joins its inputs along one axis (per sample, -1 is the last: the features); every other axis "
    "must match. The inputs are taken in the order they were connected.",
    formula="y = [x_1 ; x_2 ; ... ; x_k] along the axis",
    params=(Param("axis", "int", -1, minimum=-8, maximum=7),),
    inputs=None,
    check_fn=_check_concat,
    build_fn=lambda p, inputs: Concat(p["axis"]),
    summary_fn=lambda p: "features" if p["axis"] == -1 else f"axis {p['axis']}",
    glyph="⊞",
)

SPECS = [ADD, MULTIPLY, CONCAT]
