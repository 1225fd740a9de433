"""What a dataset is to the rest of NN Studio: in-memory tensors with their task and a description.

Every dataset (synthetic, bundled, imported) ends as a :class:`Dataset`; :func:`split` turns it into train /
validation / test parts. The training engine moves those tensors to the device once and batches them by index.

Data larger than memory are *streamed*: the dataset's ``stream`` (``data.stream.Stream``) reads the samples in
batches when training asks for them, and ``x`` is then a tensor on the ``meta`` device, which has the shape and
dtype of the samples but no values (so ``len``, ``input_shape`` and ``subset`` work as for any dataset, while
anything that needs the values must ask :meth:`Dataset.samples`). ``y`` is always in memory: labels are small.
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
    # For streamed data (x is then a meta tensor): what reads the samples; see the module's doc.
    stream: Any = None
    # The transform and storage options of an image dataset (data.transforms.TRANSFORM_PARAMS), checked.
    transforms: dict[str, Any] = field(default_factory=dict)

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

    @property
    def streamed(self) -> bool:
        """Whether the samples are read in batches when needed (``x`` holds no values)."""
        return self.stream is not None

    def samples(self, index: torch.Tensor | list[int] | slice) -> torch.Tensor:
        """The samples at ``index`` as a tensor on the CPU (float32 in [0, 1] for images), read from the
        stream for streamed data: what a preview or a prediction panel shows. Keep ``index`` small."""
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        index = torch.as_tensor(index, dtype=torch.long)
        if self.stream is not None:
            return self.stream.read(index)
        return self.x[index]

    def subset(self, index: torch.Tensor) -> "Dataset":
        texts = [self.texts[i] for i in index.tolist()] if self.texts is not None else None
        stream = self.stream.subset(index) if self.stream is not None else None
        return Dataset(self.name, self.task, self.x[index], self.y[index], self.classes, self.feature_names,
                       self.preview, self.vocab, texts, self.source, stream, dict(self.transforms))

    def resident_bytes(self) -> int:
        """What the samples and targets take in memory now (a streamed set's samples take none)."""
        x = 0 if self.stream is not None else self.x.numel() * self.x.element_size()
        return x + self.y.numel() * self.y.element_size()

    def decoded_bytes(self) -> int:
        """What the samples and targets take as whole tensors, streamed or not (float32 images: N x C x H x W x 4)."""
        return self.x.numel() * self.x.element_size() + self.y.numel() * self.y.element_size()

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
