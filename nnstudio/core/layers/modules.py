"""Small torch modules for layers that PyTorch has no single module for.

Plain PyTorch only (no nnstudio imports), so code export can copy them into a standalone file.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Reshape(nn.Module):
    """Reshape each sample to ``shape`` (the batch dimension is kept)."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class GlobalAveragePool(nn.Module):
    """Average over every position: (N, C, H, W) -> (N, C) for images, (N, T, F) -> (N, F) for sequences."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            return x.mean(dim=(2, 3))
        return x.mean(dim=1)


class SequenceBatchNorm(nn.Module):
    """Batch normalisation of the features of a sequence (N, T, F), normalising each feature over N and T."""

    def __init__(self, features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(features, eps=eps, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class Recurrent(nn.Module):
    """SimpleRNN / LSTM / GRU over (N, T, F) with the batch first.

    ``dropout`` drops inputs of every recurrent layer: the first through ``input_dropout``, the rest through
    the torch module's own dropout between layers. Returns the whole sequence (N, T, H*D) or the last step
    (N, H*D), where D is 2 when bidirectional (the forward direction's last step and the backward direction's
    first step, i.e. each direction's final state).
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        return_sequences: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.input_dropout = nn.Dropout(dropout)
        self.rnn = cls(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.return_sequences = return_sequences
        self.bidirectional = bidirectional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(self.input_dropout(x))
        if self.return_sequences:
            return out
        h_n = state[0] if isinstance(state, tuple) else state
        if self.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return h_n[-1]


class SelfAttention(nn.Module):
    """Multi-head self-attention: softmax(Q K^T / sqrt(d_k)) V per head, heads concatenated and projected back
    to the input's feature size."""

    def __init__(self, features: int, heads: int, key_dim: int, dropout: float = 0.0, causal: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.causal = causal
        self.qkv = nn.Linear(features, 3 * heads * key_dim)
        self.out = nn.Linear(heads * key_dim, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, self.key_dim).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=self.causal
        )
        return self.out(y.transpose(1, 2).reshape(n, t, self.heads * self.key_dim))


class PositionalEncoding(nn.Module):
    """Adds position information to a sequence (N, T, F): fixed sines and cosines, or a learned table."""

    def __init__(self, steps: int, features: int, learned: bool = False) -> None:
        super().__init__()
        self.learned = learned
        if learned:
            self.table = nn.Parameter(torch.zeros(steps, features))
            nn.init.normal_(self.table, std=0.02)
        else:
            self.register_buffer("table", sinusoidal_table(steps, features), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]]


def sinusoidal_table(steps: int, features: int) -> torch.Tensor:
    """PE[t, 2i] = sin(t / 10000^(2i/F)), PE[t, 2i+1] = cos(t / 10000^(2i/F))."""
    position = torch.arange(steps, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, features, 2, dtype=torch.float32) * (-math.log(10000.0) / features))
    table = torch.zeros(steps, features)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : features // 2]
    return table


class Add(nn.Module):
    """Element-wise sum of all inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of all inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenate all inputs along ``dim`` (a per-sample axis; -1 is the last)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim if self.dim < 0 else self.dim + 1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
