"""Convolution and pooling layers over images (N, C, H, W)."""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import (
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
from nnstudio.core.layers.modules import GlobalAveragePool

CATEGORY = "Convolution"


def _require_image(title: str, x: TensorInfo) -> None:
    require_float(title, x)
    fix = "insert a Reshape to (channels, height, width) before it" if len(x.shape) == 1 else ""
    require_rank(title, x, (3,), "images (N, channels, height, width)", fix)


def _check_window(title: str, what: str, size: int, pad: int, x: TensorInfo) -> None:
    """A k x k window must fit in the (padded) image, or torch has no position to put it."""
    height, width = x.shape[1] + 2 * pad, x.shape[2] + 2 * pad
    if size > min(height, width):
        padded = f" ({height}x{width} with padding)" if pad else ""
        raise ShapeProblem(
            f"{title} {what} {size}x{size} is larger than the {x.shape[1]}x{x.shape[2]} image{padded} it receives "
            f"{x.text()}: use a smaller {what} size, add padding or remove a layer that shrinks the image before it"
        )


def _check_conv(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _require_image("Conv2D", inputs[0])
    if p["padding"] == "same" and p["stride"] != 1:
        raise ShapeProblem(
            f"Conv2D padding 'same' needs stride 1 but stride is {p['stride']}: set stride to 1 or padding to "
            "'valid' or a number"
        )
    if p["padding"] != "same":
        _check_window("Conv2D", "kernel", p["kernel_size"], 0 if p["padding"] == "valid" else p["padding"], inputs[0])


def _build_conv(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
    padding = 0 if p["padding"] == "valid" else p["padding"]
    return nn.Conv2d(
        inputs[0].shape[0], p["filters"], p["kernel_size"], stride=p["stride"], padding=padding, bias=p["bias"]
    )


def _padding_text(p: dict[str, Any]) -> str:
    pad = p["padding"]
    return "" if pad in ("valid", 0) else ("same" if pad == "same" else f"pad {pad}")


CONV2D = LayerSpec(
    type_id="conv2d",
    title="Conv2D",
    category=CATEGORY,
    description="Slides learned k x k filters over the image; each filter produces one feature map. Padding "
    "'valid' adds none (the map shrinks by k - 1), 'same' keeps the size (stride 1), a number pads every side.",
    formula="y[f, i, j] = f(b_f + sum_c sum_(u,v) W[f, c, u, v] x[c, s*i + u, s*j + v])",
    params=(
        Param("filters", "int", 32, minimum=1, maximum=65_536),
        Param("kernel_size", "int", 3, label="Kernel size", minimum=1, maximum=64),
        Param("stride", "int", 1, minimum=1, maximum=64),
        Param("padding", "padding", "valid", maximum=256),
        Param("bias", "bool", True),
        activation_param("relu"),
    ),
    check_fn=_check_conv,
    build_fn=_build_conv,
    summary_fn=lambda p: join(
        f"{p['filters']} filters {p['kernel_size']}x{p['kernel_size']}",
        f"stride {p['stride']}" if p["stride"] != 1 else "",
        _padding_text(p),
        activation_text(p),
    ),
    glyph="▩",
)


def _pool_params() -> tuple[Param, ...]:
    return (
        Param("pool_size", "int", 2, label="Pool size", minimum=1, maximum=64),
        Param("stride", "int", 0, minimum=0, maximum=64, help="0 means the same as the pool size"),
        Param("padding", "int", 0, minimum=0, maximum=32),
    )


def _pool_spec(type_id: str, title: str, cls: type[nn.Module], what: str, formula: str) -> LayerSpec:
    def check(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
        _require_image(title, inputs[0])
        if p["padding"] * 2 > p["pool_size"]:
            raise ShapeProblem(
                f"{title} padding must be at most half the pool size ({p['pool_size']} // 2 = "
                f"{p['pool_size'] // 2}) but is {p['padding']}: lower the padding or enlarge the pool"
            )
        _check_window(title, "pool", p["pool_size"], p["padding"], inputs[0])

    def build(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
        return cls(p["pool_size"], stride=p["stride"] or None, padding=p["padding"])

    return LayerSpec(
        type_id=type_id,
        title=title,
        category=CATEGORY,
        description=f"Keeps the {what} of each k x k window of every feature map, shrinking the map "
        "(by half with the default 2 x 2 window).",
        formula=formula,
        params=_pool_params(),
        check_fn=check,
        build_fn=build,
        summary_fn=lambda p: f"{p['pool_size']}x{p['pool_size']}"
        + (f", stride {p['stride']}" if p["stride"] else ""),
        glyph="▣",
    )


MAXPOOL2D = _pool_spec("maxpool2d", "MaxPool2D", nn.MaxPool2d, "largest value",
                       "y[c, i, j] = max_(u,v in window) x[c, s*i + u, s*j + v]")
AVGPOOL2D = _pool_spec("avgpool2d", "AvgPool2D", nn.AvgPool2d, "average",
                       "y[c, i, j] = mean_(u,v in window) x[c, s*i + u, s*j + v]")


def _check_gap(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    require_float("GlobalAveragePool", x)
    require_rank("GlobalAveragePool", x, (2, 3), "images (N, C, H, W) or sequences (N, T, F)")


GLOBAL_AVG_POOL = LayerSpec(
    type_id="global_avg_pool",
    title="GlobalAveragePool",
    category=CATEGORY,
    description="Averages each feature map over all positions, (N, C, H, W) -> (N, C); on a sequence it "
    "averages over the steps, (N, T, F) -> (N, F).",
    formula="y[c] = (1 / HW) sum_(i,j) x[c, i, j]",
    check_fn=_check_gap,
    build_fn=lambda p, inputs: GlobalAveragePool(),
    glyph="▢",
)

SPECS = [CONV2D, MAXPOOL2D, AVGPOOL2D, GLOBAL_AVG_POOL]
