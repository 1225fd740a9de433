"""Optimizers, learning-rate schedules and the L1 penalty, built from a TrainConfig."""

from __future__ import annotations

import torch
from torch import nn

from nnstudio.core.training.config import TrainConfig

# The state each optimizer keeps, in tensors the size of a parameter (besides a one-value ``step`` tensor per
# parameter): SGD its momentum buffer; Adam and AdamW the first and second moments (``exp_avg``,
# ``exp_avg_sq``; amsgrad, which would add a third, is never turned on); RMSprop the running square average and
# its momentum buffer (``square_avg``, ``momentum_buffer``; ``grad_avg`` only when centered, which is never on).
# A saved training state is bounded by this (project.io.training_state_limit); a test checks it against the
# optimizers themselves.
STATE_COPIES = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
MAX_STATE_COPIES = max(STATE_COPIES.values())


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device | None = None) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop. ``l2`` is the weight decay: added to the gradient
    (an L2 penalty) for SGD, Adam and RMSprop, decoupled from it for AdamW.

    SGD, Adam and AdamW use torch's fused kernels on the CPU and CUDA (one kernel updates every parameter,
    instead of a handful of small ops per tensor): the same maths, much less overhead for small models.
    RMSprop has no fused kernel and updates all tensors at once (foreach) instead."""
    params = [p for p in model.parameters() if p.requires_grad]
    c = config
    fused = {"fused": True} if (device is None or device.type in ("cpu", "cuda")) else {}
    if c.optimizer == "sgd":
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0,
                               weight_decay=c.l2, **fused)
    if c.optimizer == "adam":
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.l2, **fused)
    if c.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.l2, **fused)
    return torch.optim.RMSprop(params, lr=c.lr, momentum=c.momentum, weight_decay=c.l2, foreach=True)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """None, or a scheduler stepped once per epoch (reduce-on-plateau with the monitored value)."""
    c = config
    if c.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=c.step_size, gamma=c.gamma)
    if c.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=c.epochs)
    if c.schedule == "plateau":
        from nnstudio.core.training.metrics import higher_is_better

        mode = "max" if higher_is_better(c.monitor) else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=c.plateau_factor,
                                                          patience=c.plateau_patience)
    return None


def penalised_weights(model: nn.Module) -> list[torch.Tensor]:
    """The tensors the L1 penalty covers: weight matrices and kernels (2 or more dimensions), not biases or
    normalisation scales."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def l1_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([w.abs().sum() for w in weights]).sum()


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
