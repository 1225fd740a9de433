"""Activation functions: one table used by the Activation node, by layers' activation choice, and by export."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from nnstudio.core.layers.base import ACTIVATION_TITLES, ACTIVATIONS  # noqa: F401  (re-exported)

# name -> (formula shown to the user, function applied in the compiled model, module used for inference)
FORMULAS = {
    "none": "f(x) = x",
    "relu": "f(x) = max(0, x)",
    "leaky_relu": "f(x) = x if x > 0 else 0.01 x",
    "sigmoid": "f(x) = 1 / (1 + e^(-x))",
    "tanh": "f(x) = (e^x - e^(-x)) / (e^x + e^(-x))",
    "softmax": "f(x_i) = e^(x_i) / sum_j e^(x_j)",
    "gelu": "f(x) = x * Phi(x), Phi the standard normal CDF",
    "elu": "f(x) = x if x > 0 else e^x - 1",
    "silu": "f(x) = x * sigmoid(x)",
    "relu6": "f(x) = min(max(0, x), 6)",
    "hardswish": "f(x) = x * min(max(0, x + 3), 6) / 6",
    "hardsigmoid": "f(x) = min(max(0, x + 3), 6) / 6",
}


def softmax_dim(rank: int) -> int:
    """Softmax runs over channels for images (N, C, H, W) and over the last axis otherwise."""
    return 1 if rank == 4 else -1


def activation_call(name: str, rank: int) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """The torch function and keyword arguments applying activation ``name`` to a tensor of ``rank`` dims
    (batch included); None for "none"."""
    table: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "relu": (torch.relu, {}),
        "leaky_relu": (F.leaky_relu, {"negative_slope": 0.01}),
        "sigmoid": (torch.sigmoid, {}),
        "tanh": (torch.tanh, {}),
        "softmax": (torch.softmax, {"dim": softmax_dim(rank)}),
        "gelu": (F.gelu, {}),
        "elu": (F.elu, {"alpha": 1.0}),
        "silu": (F.silu, {}),
        "relu6": (F.relu6, {}),
        "hardswish": (F.hardswish, {}),
        "hardsigmoid": (F.hardsigmoid, {}),
    }
    if name == "none":
        return None
    return table[name]


def activation_module(name: str, rank: int) -> nn.Module:
    """The same activation as an ``nn.Module`` (for shape inference and the Activation node)."""
    return {
        "none": lambda: nn.Identity(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "softmax": lambda: nn.Softmax(dim=softmax_dim(rank)),
        "gelu": lambda: nn.GELU(),
        "elu": lambda: nn.ELU(1.0),
        "silu": lambda: nn.SiLU(),
        "relu6": lambda: nn.ReLU6(),
        "hardswish": lambda: nn.Hardswish(),
        "hardsigmoid": lambda: nn.Hardsigmoid(),
    }[name]()
