"""Attention layers over sequences (N, T, F)."""

from __future__ import annotations

from typing import Any

from torch import nn

from nnstudio.core.layers.base import LONG, LayerSpec, Param, ShapeProblem, TensorInfo, join, require_rank
from nnstudio.core.layers.modules import PositionalEncoding, SelfAttention

CATEGORY = "Attention"


def _require_sequence(title: str, x: TensorInfo) -> None:
    if x.dtype == LONG:
        raise ShapeProblem(f"{title} expects vectors per step but receives token ids {x.text()}: "
                           "insert an Embedding before it")
    require_rank(title, x, (2,), "a sequence (N, steps, features)")


def _check_attention(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _require_sequence("MultiHeadSelfAttention", inputs[0])


MHSA = LayerSpec(
    type_id="multi_head_self_attention",
    title="MultiHeadSelfAttention",
    category=CATEGORY,
    description="Every step looks at every other step: each head projects the sequence to queries, keys and "
    "values of size d_k and mixes the values by how well queries match keys; the heads are concatenated and "
    "projected back to the input's feature size.",
    formula="Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V",
    params=(
        Param("heads", "int", 4, minimum=1, maximum=256),
        Param("key_dim", "int", 32, label="Dimension per head (d_k)", minimum=1, maximum=4096),
        Param("dropout", "float", 0.0, minimum=0.0, maximum=0.99),
        Param("causal", "bool", False, help="Each step sees only itself and earlier steps."),
    ),
    check_fn=_check_attention,
    build_fn=lambda p, inputs: SelfAttention(inputs[0].shape[-1], p["heads"], p["key_dim"], p["dropout"],
                                             p["causal"]),
    summary_fn=lambda p: join(f"{p['heads']} heads x {p['key_dim']}", "causal" if p["causal"] else ""),
    # queries, keys, values and the heads' output (h T d_k each, about 5 of them), scores and weights (h T T)
    workspace_fn=lambda p, inputs: p["heads"] * inputs[0].shape[0] * (5 * p["key_dim"] + 2 * inputs[0].shape[0]),
    glyph="◈",
)


def _check_encoder(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    x = inputs[0]
    _require_sequence("TransformerEncoder", x)
    if x.shape[-1] % p["heads"]:
        raise ShapeProblem(f"TransformerEncoder needs the feature size {x.shape[-1]} to be divisible by the "
                           f"{p['heads']} heads: change the heads or the Embedding dimension")


TRANSFORMER_ENCODER = LayerSpec(
    type_id="transformer_encoder",
    title="TransformerEncoder",
    category=CATEGORY,
    description="One Transformer encoder block: multi-head self-attention and a two-layer feed-forward "
    "network, each with a residual connection, dropout and layer normalisation. Keeps the shape (N, T, F).",
    formula="y = LN(x + MHSA(x));  out = LN(y + W2 f(W1 y + b1) + b2)",
    params=(
        Param("heads", "int", 4, minimum=1, maximum=256),
        Param("ff_dim", "int", 256, label="Feed-forward size", minimum=1, maximum=65_536),
        Param("dropout", "float", 0.1, minimum=0.0, maximum=0.99),
        Param("ff_activation", "choice", "relu", label="Feed-forward activation", choices=("relu", "gelu")),
        Param("norm_first", "bool", False, label="Normalise first (pre-LN)"),
    ),
    check_fn=_check_encoder,
    build_fn=lambda p, inputs: nn.TransformerEncoderLayer(
        inputs[0].shape[-1], p["heads"], p["ff_dim"], p["dropout"], p["ff_activation"], batch_first=True,
        norm_first=p["norm_first"],
    ),
    summary_fn=lambda p: f"{p['heads']} heads, feed-forward {p['ff_dim']}",
    # attention scores and weights (h T T), the feed-forward layer (T ff, three times with its activation and
    # dropout) and about nine (T, F) tensors: projections, residuals, norms
    workspace_fn=lambda p, inputs: inputs[0].shape[0] * (2 * p["heads"] * inputs[0].shape[0] + 3 * p["ff_dim"]
                                                         + 9 * inputs[0].shape[1]),
    glyph="⊠",
)


def _check_positional(p: dict[str, Any], inputs: list[TensorInfo]) -> None:
    _require_sequence("PositionalEncoding", inputs[0])


POSITIONAL_ENCODING = LayerSpec(
    type_id="positional_encoding",
    title="PositionalEncoding",
    category=CATEGORY,
    description="Adds each step's position to its features so attention can tell the order of the steps: "
    "fixed sines and cosines of several frequencies, or a learned table.",
    formula="PE[t, 2i] = sin(t / 10000^(2i/F)),  PE[t, 2i+1] = cos(t / 10000^(2i/F));  y = x + PE",
    params=(Param("kind", "choice", "sinusoidal", choices=("sinusoidal", "learned")),),
    check_fn=_check_positional,
    build_fn=lambda p, inputs: PositionalEncoding(inputs[0].shape[0], inputs[0].shape[1], p["kind"] == "learned"),
    summary_fn=lambda p: p["kind"],
    glyph="∿",
)

SPECS = [MHSA, TRANSFORMER_ENCODER, POSITIONAL_ENCODING]
