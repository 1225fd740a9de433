"""Embedding and recurrent layers over sequences (N, T, F)."""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import LONG, LayerSpec, Param, ShapeProblem, TensorInfo, join, require_rank
from nnstudio.core.layers.modules import Recurrent

CATEGORY = "Recurrent"


def _check_embedding(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    if x.dtype != LONG:
        raise ShapeProblem(f"Embedding expects token ids from a token Input but receives real values {x.text()}: "
                           "feed it from an Input (tokens), or use a Dense for real-valued features")
    require_rank("Embedding", x, (1,), "a sequence of token ids (N, T)", "insert a Flatten before it")
    if x.vocab is not None and x.vocab > p["vocab_size"]:
        raise ShapeProblem(f"Embedding has a vocabulary of {p['vocab_size']} but receives token ids up to "
                           f"{x.vocab - 1} {x.text()}: set its vocabulary size to at least {x.vocab}")


EMBEDDING = LayerSpec(
    type_id="embedding",
    title="Embedding",
    category=CATEGORY,
    description="Looks up a learned vector for each token id: (N, T) ids become (N, T, dimension) vectors. "
    "The vocabulary must cover every id the input can hold.",
    formula="y_t = E[x_t],  E in R^(V x d)",
    params=(
        Param("vocab_size", "int", 1000, label="Vocabulary size", minimum=2, maximum=10_000_000),
        Param("dim", "int", 128, label="Dimension", minimum=1, maximum=65_536),
    ),
    check_fn=_check_embedding,
    build_fn=lambda p, inputs: nn.Embedding(p["vocab_size"], p["dim"]),
    summary_fn=lambda p: f"{p['vocab_size']} tokens -> {p['dim']}",
    glyph="#",
)


def _recurrent_params(default_hidden: int) -> tuple[Param, ...]:
    return (
        Param("hidden_size", "int", default_hidden, label="Hidden size", minimum=1, maximum=65_536),
        Param("num_layers", "int", 1, label="Layers", minimum=1, maximum=16),
        Param("bidirectional", "bool", False),
        Param("return_sequences", "bool", False, label="Return whole sequence",
              help="On: every step's output (N, T, H). Off: the last step only (N, H)."),
        Param("dropout", "float", 0.0, minimum=0.0, maximum=0.99, help="Dropout on the input of every layer."),
    )


_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _recurrent_spec(type_id: str, title: str, kind: str, description: str, formula: str) -> LayerSpec:
    def check(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
        x = inputs[0]
        if x.dtype == LONG:
            raise ShapeProblem(f"{title} expects vectors per step but receives token ids {x.text()}: "
                               "insert an Embedding before it")
        fix = "insert a Reshape to (steps, features) before it" if len(x.shape) == 1 else ""
        require_rank(title, x, (2,), "a sequence (N, steps, features)", fix)

    def build(p: dict[str, Any], inputs: list[TensorInfo]) -> nn.Module:
        return Recurrent(kind, inputs[0].shape[-1], p["hidden_size"], p["num_layers"], p["bidirectional"],
                         p["return_sequences"], p["dropout"])

    return LayerSpec(
        type_id=type_id,
        title=title,
        category=CATEGORY,
        description=description,
        formula=formula,
        params=_recurrent_params(64),
        check_fn=check,
        build_fn=build,
        summary_fn=lambda p: join(
            f"{p['hidden_size']} units",
            f"{p['num_layers']} layers" if p["num_layers"] > 1 else "",
            "bidirectional" if p["bidirectional"] else "",
            "sequence" if p["return_sequences"] else "last step",
            f"dropout {p['dropout']:g}" if p["dropout"] else "",
        ),
        # per layer and direction: the gates, the state and the output of every step; and the dropped input
        workspace_fn=lambda p, inputs: (p["num_layers"] * (2 if p["bidirectional"] else 1) * inputs[0].shape[0]
                                        * p["hidden_size"] * (_GATES[kind] + 2) + inputs[0].shape[0]
                                        * inputs[0].shape[1]),
        glyph="↻",
    )


SIMPLE_RNN = _recurrent_spec(
    "simple_rnn", "SimpleRNN", "rnn",
    "A recurrent layer that carries a hidden state from step to step, mixing the previous state with the "
    "current input.",
    "h_t = tanh(W_hh h_(t-1) + W_xh x_t + b_h)",
)
LSTM = _recurrent_spec(
    "lstm", "LSTM", "lstm",
    "Long short-term memory: a recurrent layer whose input, forget and output gates decide what its cell "
    "state keeps, so it can carry information across many steps.",
    "i,f,o = sigmoid(W x_t + U h_(t-1) + b);  g = tanh(W_g x_t + U_g h_(t-1) + b_g);  "
    "c_t = f * c_(t-1) + i * g;  h_t = o * tanh(c_t)",
)
GRU = _recurrent_spec(
    "gru", "GRU", "gru",
    "Gated recurrent unit: a lighter LSTM with an update and a reset gate and no separate cell state.",
    "z,r = sigmoid(W x_t + U h_(t-1) + b);  n = tanh(W_n x_t + r * (U_n h_(t-1)) + b_n);  "
    "h_t = (1 - z) * n + z * h_(t-1)",
)

SPECS = [EMBEDDING, SIMPLE_RNN, LSTM, GRU]
