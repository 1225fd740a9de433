"""Turning a dataset's targets into what the model's loss expects, with a clear error when they cannot fit."""

from __future__ import annotations

import torch

from nnstudio.core.compile import CompiledModel
from nnstudio.core.errors import DatasetError


def prepare_targets(y: torch.Tensor, compiled: CompiledModel, num_classes: int, part: str) -> torch.Tensor:
    """Class indices for cross-entropy, 0/1 floats shaped like the output for binary cross-entropy, float
    values shaped like the output for regression losses (one-hot rows when a classification uses one)."""
    out_shape = tuple(compiled.output_info.shape)
    task, loss = compiled.task, compiled.loss
    if task in ("multiclass", "binary"):
        if y.is_floating_point() and not torch.equal(y, y.round()):
            raise DatasetError(f"the {part} targets are fractional values but the Output is {task} "
                               "classification: choose a regression Output or a classification dataset")
        labels = y.reshape(-1).long()
        if labels.numel() != y.shape[0]:
            raise DatasetError(f"the {part} targets hold {y.shape[1:]} values per sample; classification needs one "
                               "class label per sample")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            top = int(labels.max())
            raise DatasetError(
                f"the {part} data have class labels from {int(labels.min())} to {top} but the Output "
                + (f"receives {out_shape[-1]} scores (one per class): give the last layer {top + 1} units"
                   if task == "multiclass" else "is binary and takes labels 0 and 1: choose a multi-class Output")
            )
        if task == "multiclass" and loss == "cross_entropy":
            return labels
        if task == "binary":
            return labels.float().reshape(y.shape[0], *out_shape)
        return torch.nn.functional.one_hot(labels, num_classes).float()
    values = y.float()
    if values.dim() == 1:
        values = values.unsqueeze(1)
    if tuple(values.shape[1:]) != out_shape:
        raise DatasetError(f"the {part} targets have {tuple(values.shape[1:])} values per sample but the Output "
                           f"receives {out_shape}: give the last layer {values.shape[1]} units")
    return values
