"""Input nodes (one per kind of data) and the Output node that names the task and its loss."""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import FLOAT, LONG, LayerSpec, Param, ShapeProblem, TensorInfo

CATEGORY = "Input/Output"

TASKS = ("multiclass", "binary", "regression")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "mae", "huber")
# The loss each task uses when the Output node's loss is "auto".
DEFAULT_LOSS = {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}


def _size(name: str, default: int, label: str = "", maximum: int = 1_000_000) -> Param:
    return Param(name, "int", default, label=label, minimum=1, maximum=maximum)


INPUT_VECTOR = LayerSpec(
    type_id="input_vector",
    title="Input (vector)",
    category=CATEGORY,
    description="A feature vector per sample, such as the two coordinates of a point or the columns of a table.",
    formula="x in R^n",
    params=(_size("features", 2),),
    inputs=0,
    source_fn=lambda p: TensorInfo((p["features"],), FLOAT),
    summary_fn=lambda p: f"{p['features']} features",
    glyph="▭",
)

INPUT_IMAGE = LayerSpec(
    type_id="input_image",
    title="Input (image)",
    category=CATEGORY,
    description="An image per sample, channels first: 1 channel for greyscale, 3 for colour.",
    formula="x in R^(C x H x W)",
    params=(_size("channels", 1, maximum=64), _size("height", 28, maximum=4096), _size("width", 28, maximum=4096)),
    inputs=0,
    source_fn=lambda p: TensorInfo((p["channels"], p["height"], p["width"]), FLOAT),
    summary_fn=lambda p: f"{p['channels']}x{p['height']}x{p['width']}",
    glyph="▦",
)

INPUT_TOKENS = LayerSpec(
    type_id="input_tokens",
    title="Input (tokens)",
    category=CATEGORY,
    description="A sequence of token ids per sample (words or characters numbered 0 .. vocabulary size - 1). "
    "Feed it to an Embedding.",
    formula="x in {0, ..., V-1}^T",
    params=(_size("length", 32, maximum=100_000), Param("vocab_size", "int", 1000, label="Vocabulary size",
                                                       minimum=2, maximum=10_000_000)),
    inputs=0,
    source_fn=lambda p: TensorInfo((p["length"],), LONG, vocab=p["vocab_size"]),
    summary_fn=lambda p: f"{p['length']} tokens, vocabulary {p['vocab_size']}",
    glyph="¶",
)

INPUT_SEQUENCE = LayerSpec(
    type_id="input_sequence",
    title="Input (sequence)",
    category=CATEGORY,
    description="A sequence of feature vectors per sample, such as a time series with several channels.",
    formula="x in R^(T x F)",
    params=(_size("steps", 16, maximum=100_000), _size("features", 1)),
    inputs=0,
    source_fn=lambda p: TensorInfo((p["steps"], p["features"]), FLOAT),
    summary_fn=lambda p: f"{p['steps']} steps x {p['features']}",
    glyph="≋",
)


def _check_output(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    task = p["task"]
    if x.dtype != FLOAT:
        raise ShapeProblem(f"Output expects predictions but receives token ids {x.text()}")
    if task == "multiclass":
        if len(x.shape) != 1 or x.shape[0] < 2:
            raise ShapeProblem(
                f"a multi-class Output expects one score per class, (N, classes) with at least 2 classes, "
                f"but receives {x.text()}: "
                + ("insert a Flatten and a Dense with one unit per class" if len(x.shape) > 1
                   else "end with a Dense of one unit per class, or choose the binary task for two classes")
            )
    elif task == "binary":
        if x.shape not in ((1,),):
            raise ShapeProblem(f"a binary Output expects one score per sample, (N, 1), but receives {x.text()}: "
                               + ("end with a Dense of 1 unit" if len(x.shape) == 1
                                  else "insert a Flatten and a Dense of 1 unit"))
    elif len(x.shape) != 1:
        raise ShapeProblem(f"a regression Output expects (N, targets) but receives {x.text()}: insert a Flatten")


def _output_summary(p: dict[str, Any]) -> str:
    loss = p["loss"] if p["loss"] != "auto" else DEFAULT_LOSS[p["task"]]
    return f"{p['task']}, {loss.replace('_', '-')} loss"


OUTPUT = LayerSpec(
    type_id="output",
    title="Output",
    category=CATEGORY,
    description="The network's prediction and the loss it is trained with. Multi-class uses cross-entropy, "
    "binary uses binary cross-entropy and regression mean squared error unless another loss is chosen. A Softmax "
    "(multi-class) or Sigmoid (binary) just before it is folded into the loss for numerical stability and applied "
    "again when predicting.",
    formula="cross-entropy L = -sum_i y_i log(y^_i);  MSE L = (1/n) sum_i (y_i - y^_i)^2",
    params=(Param("task", "choice", "multiclass", choices=TASKS), Param("loss", "choice", "auto", choices=LOSSES)),
    inputs=1,
    has_output_port=False,
    check_fn=_check_output,
    build_fn=lambda p, inputs: nn.Identity(),
    summary_fn=_output_summary,
    glyph="◎",
)

SPECS = [INPUT_VECTOR, INPUT_IMAGE, INPUT_TOKENS, INPUT_SEQUENCE, OUTPUT]


def effective_loss(params: dict[str, Any]) -> str:
    return params["loss"] if params.get("loss", "auto") != "auto" else DEFAULT_LOSS[params["task"]]
