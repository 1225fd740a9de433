"""What a dataset is to the rest of NN Studio: in-memory tensors with their task and a description.

Every dataset (synthetic, bundled, imported) ends as a :class:`Dataset`; :func:`split` turns it into train /
validation / test parts. The training engine moves those tensors to the device once and batches them by index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

TASKS = ("multiclass", "binary", "regression")
# How a dataset is best previewed: scatter of 2-D points, grid of images, table rows, sample sentences, curve.
PREVIEWS = ("points2d", "images", "table", "text", "curve")


@dataclass
class Dataset:
    """Samples ``x`` (float32, or int64 token ids) and targets ``y``.

    ``y`` is int64 class indices of shape (N,) for classification (binary too: 0 or 1) and float32 of shape
    (N, targets) for regression. ``input_shape`` is the per-sample shape of ``x``.
    """

    name: str
    task: str
    x: torch.Tensor
    y: torch.Tensor
    classes: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    preview: str = "table"
    # For token inputs: how many distinct ids x may hold, and the words they stand for (index = id).
    vocab: list[str] | None = None
    # The text of each sample, for text datasets (sample sentences in the preview, the Predict panel).
    texts: list[str] | None = None
    # Where the data came from, for its licence and attribution.
    source: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def input_dtype(self) -> str:
        return "long" if self.x.dtype == torch.long else "float"

    @property
    def vocab_size(self) -> int | None:
        return len(self.vocab) if self.vocab is not None else None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: torch.Tensor) -> "Dataset":
        texts = [self.texts[i] for i in index.tolist()] if self.texts is not None else None
        return Dataset(self.name, self.task, self.x[index], self.y[index], self.classes, self.feature_names,
                       self.preview, self.vocab, texts, self.source)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "samples": len(self),
            "input_shape": list(self.input_shape),
            "classes": list(self.classes),
        }


@dataclass
class DataSplit:
    train: Dataset
    val: Dataset
    test: Dataset | None = None
