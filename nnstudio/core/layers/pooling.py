"""Pooling and resizing layers over images (N, C, H, W): MaxPool2D, AvgPool2D, GlobalAveragePool, the adaptive
pools and Upsample2D. They sit in the Convolution group of the palette, beside the layers they follow.

Also the checks the convolutions share (``require_image``, ``check_window``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import LayerSpec, Param, ShapeProblem, TensorInfo, require_float, require_rank
from nnstudio.core.layers.modules import GlobalAveragePool

CATEGORY = "Convolution"


def require_image(title: str, x: TensorInfo) -> None:
    require_float(title, x)
    require_rank(title, x, (3,), "images (N, channels, height, width)",
                 "insert a Reshape to (channels, height, width) before it")


def check_window(title: str, what: str, size: int, pad: int, x: TensorInfo, dilation: int = 1) -> None:
    """A window ``size`` taps wide, ``dilation`` apart, must fit in the (padded) image or signal ``x``
    (per-sample (C, H, W) or (C, L)), or torch has no position to put it."""
    spatial = x.shape[1:]
    padded = [d + 2 * pad for d in spatial]
    span = dilation * (size - 1) + 1
    if span <= min(padded):
        return
    if len(spatial) == 1:
        window, spread = f"{size}", f"{span}"
        area, padded_text, shrinks = f"signal of length {spatial[0]}", f" ({padded[0]} with padding)", "shortens"
        received = f"{what} {window} is longer than the {area}"
    else:
        window, spread = f"{size}x{size}", f"{span}x{span}"
        area, padded_text, shrinks = f"{spatial[0]}x{spatial[1]} image", f" ({padded[0]}x{padded[1]} with padding)", \
            "shrinks"
        received = f"{what} {window} is larger than the {area}"
    if dilation != 1:
        received = f"{what} {window} with dilation {dilation} spans {spread}, more than the {area}"
    what_fix = f"{what} size or dilation" if dilation != 1 else f"{what} size"
    thing = "signal" if len(spatial) == 1 else "image"
    raise ShapeProblem(
        f"{title} {received}{padded_text if pad else ''} it receives {x.text()}: use a smaller {what_fix}, add "
        f"padding or remove a layer that {shrinks} the {thing} before it"
    )


def _pool_params() -> tuple[Param, ...]:
    return (
        Param("pool_size", "int", 2, label="Pool size", minimum=1, maximum=64),
        Param("stride", "int", 0, minimum=0, maximum=64, help="0 means the same as the pool size"),
        Param("padding", "int", 0, minimum=0, maximum=32),
    )


def _pool_spec(type_id: str, title: str, cls: type[nn.Module], what: str, formula: str) -> LayerSpec:
    def check(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
        require_image(title, inputs[0])
        if p["padding"] * 2 > p["pool_size"]:
            raise ShapeProblem(
                f"{title} padding must be at most half the pool size ({p['pool_size']} // 2 = "
                f"{p['pool_size'] // 2}) but is {p['padding']}: lower the padding or enlarge the pool"
            )
        check_window(title, "pool", p["pool_size"], p["padding"], inputs[0])

    def build(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
        return cls(p["pool_size"], stride=p["stride"] or None, padding=p["padding"])

    return LayerSpec(
        type_id=type_id,
        title=title,
        category=CATEGORY,
        description=f"Keeps the {what} of each k x k window of every feature map, shrinking the map "
        "(by half with the default 2 x 2 window; ResNet's stem uses 3 x 3, stride 2, padding 1).",
        formula=formula,
        params=_pool_params(),
        check_fn=check,
        build_fn=build,
        summary_fn=lambda p: f"{p['pool_size']}x{p['pool_size']}"
        + (f", stride {p['stride']}" if p["stride"] else "")
        + (f", pad {p['padding']}" if p["padding"] else ""),
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


def _adaptive_spec(type_id: str, title: str, cls: type[nn.Module], what: str, formula: str) -> LayerSpec:
    def check(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
        require_image(title, inputs[0])

    return LayerSpec(
        type_id=type_id,
        title=title,
        category=CATEGORY,
        description=f"Keeps the {what} of each of output size x output size windows of every feature map, "
        "whatever the map's size: (N, C, H, W) -> (N, C, S, S). Output size 1 gives one value per channel "
        "(as ResNet does before its classifier); keep the result 4-D and Flatten it for a Dense.",
        formula=formula,
        params=(Param("output_size", "int", 1, label="Output size", minimum=1, maximum=4096,
                      help="The height and width of every output map"),),
        check_fn=check,
        build_fn=lambda p, inputs: cls(p["output_size"]),
        summary_fn=lambda p: f"to {p['output_size']}x{p['output_size']}",
        glyph="◫",
        extra={"keywords": ("pooling", "adaptive", "global pooling", what, "resnet")},
    )


_ADAPTIVE_WINDOW = "window (i, j) = rows floor(iH/S) .. ceil((i+1)H/S), columns floor(jW/S) .. ceil((j+1)W/S)"
ADAPTIVE_AVG_POOL2D = _adaptive_spec("adaptive_avg_pool2d", "AdaptiveAvgPool2D", nn.AdaptiveAvgPool2d, "average",
                                     f"y[c, i, j] = mean_(u,v in window (i, j)) x[c, u, v]; {_ADAPTIVE_WINDOW}")
ADAPTIVE_MAX_POOL2D = _adaptive_spec("adaptive_max_pool2d", "AdaptiveMaxPool2D", nn.AdaptiveMaxPool2d, "max",
                                     f"y[c, i, j] = max_(u,v in window (i, j)) x[c, u, v]; {_ADAPTIVE_WINDOW}")


def _check_upsample(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    require_image("Upsample2D", inputs[0])


def _build_upsample(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
    align = False if p["mode"] == "bilinear" else None  # torch refuses align_corners for nearest
    return nn.Upsample(scale_factor=p["scale_factor"], mode=p["mode"], align_corners=align)


UPSAMPLE2D = LayerSpec(
    type_id="upsample2d",
    title="Upsample2D",
    category=CATEGORY,
    description="Enlarges every feature map by a whole factor, (N, C, H, W) -> (N, C, sH, sW), without "
    "weights: 'nearest' repeats each value, 'bilinear' interpolates between neighbours (align_corners off).",
    formula="nearest: y[c, i, j] = x[c, floor(i / s), floor(j / s)]; bilinear: weighted mean of the 4 nearest "
    "x at ((i + 0.5) / s - 0.5, (j + 0.5) / s - 0.5)",
    params=(
        Param("scale_factor", "int", 2, label="Scale factor", minimum=1, maximum=16),
        Param("mode", "choice", "nearest", choices=("nearest", "bilinear")),
    ),
    check_fn=_check_upsample,
    build_fn=_build_upsample,
    summary_fn=lambda p: f"x{p['scale_factor']}, {p['mode']}",
    glyph="⤢",
    extra={"keywords": ("upsampling", "resize", "interpolate", "interpolation", "enlarge", "decoder", "nearest",
                        "bilinear", "u-net", "unet")},
)
