"""Convolution layers: Conv2D over images (N, C, H, W), Conv1D over signals (N, C, L) and ConvTranspose2D.

Each builds the PyTorch module of the same name, so a model imported from PyTorch keeps its weights as they
are. The checks here only say, in words, why torch would refuse a setting (a window that does not fit, groups
that do not divide the channels); the output shapes themselves come from running the module on the meta device.
"""

from __future__ import annotations

import math
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
from nnstudio.core.layers.pooling import (
    ADAPTIVE_AVG_POOL2D,
    ADAPTIVE_MAX_POOL2D,
    AVGPOOL2D,
    CATEGORY,
    GLOBAL_AVG_POOL,
    MAXPOOL2D,
    UPSAMPLE2D,
    check_window,
    require_image,
)

# The keywords the palette's search finds these layers by (palette.keywords reads spec.extra["keywords"]).
_CONV_WORDS = ("convolution", "convolutional", "cnn", "filters", "kernel", "feature maps")


def _require_signal(title: str, x: TensorInfo) -> None:
    require_float(title, x)
    fix = {1: "insert a Reshape to (channels, length) before it", 3: "use Conv2D for images"}.get(len(x.shape), "")
    require_rank(title, x, (2,), "signals (N, channels, length)", fix)


def _check_same(title: str, p: dict[str, Any]) -> None:
    if p["padding"] == "same" and p["stride"] != 1:
        raise ShapeProblem(
            f"{title} padding 'same' needs stride 1 but stride is {p['stride']}: set stride to 1 or padding to "
            "'valid' or a number"
        )


def _check_groups(title: str, p: dict[str, Any], x: TensorInfo) -> None:
    """torch splits the input channels and the filters into ``groups`` equal groups: both must divide."""
    groups, filters, channels = p["groups"], p["filters"], x.shape[0]
    if filters % groups or channels % groups:
        raise ShapeProblem(
            f"{title} groups {groups} must divide both its {filters} filters and the {channels} input channels "
            f"it receives {x.text()}: choose groups that divides both, e.g. {math.gcd(filters, channels)}"
        )


def _padding(p: dict[str, Any]) -> int | str:
    return 0 if p["padding"] == "valid" else p["padding"]


def _check_conv(title: str, p: dict[str, Any], x: TensorInfo) -> None:
    _check_same(title, p)
    _check_groups(title, p, x)
    if p["padding"] != "same":
        check_window(title, "kernel", p["kernel_size"], _padding(p), x, p["dilation"])


def _check_conv2d(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    require_image("Conv2D", inputs[0])
    _check_conv("Conv2D", p, inputs[0])


def _check_conv1d(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _require_signal("Conv1D", inputs[0])
    _check_conv("Conv1D", p, inputs[0])


def _conv_builder(cls: type[nn.Module]):
    def build(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
        # .get: a spec dict from before dilation and groups existed still builds (with torch's defaults)
        return cls(inputs[0].shape[0], p["filters"], p["kernel_size"], stride=p["stride"], padding=_padding(p),
                   dilation=p.get("dilation", 1), groups=p.get("groups", 1), bias=p["bias"])
    return build


def _padding_text(p: dict[str, Any]) -> str:
    pad = p["padding"]
    return "" if pad in ("valid", 0) else ("same" if pad == "same" else f"pad {pad}")


def _conv_summary(p: dict[str, Any], window: str) -> str:
    return join(
        f"{p['filters']} filters {window}",
        f"stride {p['stride']}" if p["stride"] != 1 else "",
        _padding_text(p),
        f"dilation {p['dilation']}" if p["dilation"] != 1 else "",
        f"groups {p['groups']}" if p["groups"] != 1 else "",
        activation_text(p),
    )


def _conv_params(activation: str = "relu") -> tuple[Param, ...]:
    return (
        Param("filters", "int", 32, minimum=1, maximum=65_536),
        Param("kernel_size", "int", 3, label="Kernel size", minimum=1, maximum=64),
        Param("stride", "int", 1, minimum=1, maximum=64),
        Param("padding", "padding", "valid", maximum=256),
        Param("dilation", "int", 1, minimum=1, maximum=64,
              help="Spacing between the kernel's taps: 2 spreads a 3-wide kernel over 5 positions"),
        Param("groups", "int", 1, minimum=1, maximum=65_536,
              help="Split the channels into groups convolved separately; groups = input channels is a "
                   "depthwise convolution. Filters and input channels must both be divisible by it"),
        Param("bias", "bool", True),
        activation_param(activation),
    )


CONV2D = LayerSpec(
    type_id="conv2d",
    title="Conv2D",
    category=CATEGORY,
    description="Slides learned k x k filters over the image; each filter produces one feature map. Padding "
    "'valid' adds none (the map shrinks by k - 1), 'same' keeps the size (stride 1), a number pads every side. "
    "Dilation spaces the kernel's taps; groups split the channels (groups = channels: depthwise).",
    formula="y[f, i, j] = f(b_f + sum_c sum_(u,v) W[f, c, u, v] x[c, s*i + d*u, s*j + d*v])",
    params=_conv_params(),
    check_fn=_check_conv2d,
    build_fn=_conv_builder(nn.Conv2d),
    summary_fn=lambda p: _conv_summary(p, f"{p['kernel_size']}x{p['kernel_size']}"),
    glyph="▩",
)

CONV1D = LayerSpec(
    type_id="conv1d",
    title="Conv1D",
    category=CATEGORY,
    description="Slides learned filters k values wide along a signal (N, channels, length), channels first as "
    "in PyTorch; each filter produces one output channel. On an Input sequence (N, steps, features) the steps "
    "are the channels. Padding, dilation and groups work as in Conv2D.",
    formula="y[f, i] = f(b_f + sum_c sum_u W[f, c, u] x[c, s*i + d*u])",
    params=_conv_params(),
    check_fn=_check_conv1d,
    build_fn=_conv_builder(nn.Conv1d),
    summary_fn=lambda p: _conv_summary(p, f"width {p['kernel_size']}"),
    glyph="┅",
    extra={"keywords": (*_CONV_WORDS, "1d", "signal", "audio", "temporal")},
)


def _transposed_size(size: int, p: dict[str, Any]) -> int:
    return (size - 1) * p["stride"] - 2 * p["padding"] + p["kernel_size"] + p["output_padding"]


def _check_transpose(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    require_image("ConvTranspose2D", x)
    _check_groups("ConvTranspose2D", p, x)
    if p["output_padding"] >= p["stride"]:  # torch: smaller than the stride or the dilation (here always 1)
        raise ShapeProblem(
            f"ConvTranspose2D output padding {p['output_padding']} must be smaller than its stride "
            f"{p['stride']}: lower the output padding or raise the stride"
        )
    height, width = (_transposed_size(d, p) for d in x.shape[1:])
    if min(height, width) < 1:
        raise ShapeProblem(
            f"ConvTranspose2D padding {p['padding']} trims more than it makes from the {x.shape[1]}x{x.shape[2]} "
            f"image it receives {x.text()} (it would be {height}x{width}): lower the padding or enlarge the kernel"
        )


def _build_transpose(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
    return nn.ConvTranspose2d(inputs[0].shape[0], p["filters"], p["kernel_size"], stride=p["stride"],
                              padding=p["padding"], output_padding=p["output_padding"], groups=p["groups"],
                              bias=p["bias"])


CONV_TRANSPOSE2D = LayerSpec(
    type_id="conv_transpose2d",
    title="ConvTranspose2D",
    category=CATEGORY,
    description="Learned upsampling (a 'deconvolution'): every input value stamps a learned k x k filter onto "
    "the output, s pixels apart, so stride 2 doubles the height and width. Padding trims the border; output "
    "padding adds rows and columns on one side to reach an exact size.",
    formula="H_out = (H - 1) s - 2 p + k + output_padding;  "
    "y[f, s*i + u, s*j + v] += W[c, f, u, v] x[c, i, j], then f(y + b_f)",
    params=(
        Param("filters", "int", 32, minimum=1, maximum=65_536),
        Param("kernel_size", "int", 2, label="Kernel size", minimum=1, maximum=64),
        Param("stride", "int", 2, minimum=1, maximum=64),
        Param("padding", "int", 0, minimum=0, maximum=256),
        Param("output_padding", "int", 0, label="Output padding", minimum=0, maximum=63,
              help="Extra rows and columns on one side of the output; must be smaller than the stride"),
        Param("groups", "int", 1, minimum=1, maximum=65_536,
              help="Filters and input channels must both be divisible by it"),
        Param("bias", "bool", True),
        activation_param("none"),
    ),
    check_fn=_check_transpose,
    build_fn=_build_transpose,
    summary_fn=lambda p: join(
        f"{p['filters']} filters {p['kernel_size']}x{p['kernel_size']}",
        f"stride {p['stride']}" if p["stride"] != 1 else "",
        f"pad {p['padding']}" if p["padding"] else "",
        f"output pad {p['output_padding']}" if p["output_padding"] else "",
        f"groups {p['groups']}" if p["groups"] != 1 else "",
        activation_text(p),
    ),
    glyph="⊡",
    extra={"keywords": ("transposed convolution", "deconvolution", "upsample", "upsampling", "decoder",
                        "u-net", "unet", "learned upsampling")},
)

SPECS = [CONV2D, CONV1D, CONV_TRANSPOSE2D, MAXPOOL2D, AVGPOOL2D, GLOBAL_AVG_POOL, ADAPTIVE_AVG_POOL2D,
         ADAPTIVE_MAX_POOL2D, UPSAMPLE2D]
