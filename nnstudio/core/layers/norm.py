"""Normalisation layers."""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import LayerSpec, Param, ShapeProblem, TensorInfo, require_float
from nnstudio.core.layers.modules import SequenceBatchNorm

CATEGORY = "Normalisation & regularisation"


def _build_batchnorm(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
    x = inputs[0]
    require_float("BatchNorm", x)
    kw = {"eps": p["eps"], "momentum": p["momentum"]}
    if len(x.shape) == 1:
        return nn.BatchNorm1d(x.shape[0], **kw)
    if len(x.shape) == 2:
        return SequenceBatchNorm(x.shape[1], **kw)
    if len(x.shape) == 3:
        return nn.BatchNorm2d(x.shape[0], **kw)
    raise ShapeProblem(f"BatchNorm expects (N, F), (N, T, F) or (N, C, H, W) but receives {x.text()}")


BATCHNORM = LayerSpec(
    type_id="batchnorm",
    title="BatchNorm",
    category=CATEGORY,
    description="Normalises each feature (each channel for images) to zero mean and unit variance over the "
    "batch, then scales and shifts it with learned gamma and beta. 1-D or 2-D is chosen from the input.",
    formula="y = gamma (x - mean_batch) / sqrt(var_batch + eps) + beta",
    params=(
        Param("momentum", "float", 0.1, minimum=0.0, maximum=1.0),
        Param("eps", "float", 1e-5, label="Epsilon", minimum=1e-12, maximum=1.0),
    ),
    build_fn=_build_batchnorm,
    glyph="β",
)

LAYERNORM = LayerSpec(
    type_id="layernorm",
    title="LayerNorm",
    category=CATEGORY,
    description="Normalises the last axis of each sample (each step's features in a sequence) to zero mean "
    "and unit variance, then scales and shifts it with learned gamma and beta.",
    formula="y = gamma (x - mean(x)) / sqrt(var(x) + eps) + beta",
    params=(Param("eps", "float", 1e-5, label="Epsilon", minimum=1e-12, maximum=1.0),),
    check_fn=lambda p, inputs: require_float("LayerNorm", inputs[0]),
    build_fn=lambda p, inputs: nn.LayerNorm(inputs[0].shape[-1], eps=p["eps"]),
    shape_preserving=True,
    glyph="λ",
)

SPECS = [BATCHNORM, LAYERNORM]
