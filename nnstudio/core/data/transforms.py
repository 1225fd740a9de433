"""Transforms of image datasets, applied to batches on the device while training, and the storage option.

Every image dataset accepts :data:`TRANSFORM_PARAMS` in its dataset dict:

* ``hflip``, ``crop_padding``, ``rotation``: random augmentations with ``kornia.augmentation``
  (RandomHorizontalFlip with p = 0.5; RandomCrop of the original size after zero padding; RandomRotation by an
  angle drawn uniformly from [-rotation, rotation], bilinear, corners filled with 0), in that order, applied to
  *training* batches only, fresh for every batch; validation and test data are never augmented.
* ``normalize`` ``mean_std``: ``(x - mean) / std`` per channel, the mean and the (population) standard
  deviation measured on the training part (all of it in memory; at most :data:`NORM_SAMPLES` images spread
  evenly over it when streamed), applied to every part after the augmentations. A channel whose deviation is
  below 1e-6 is only shifted. The figures go into the run's history (``"normalize"``), for whatever feeds the
  trained network other images later (:func:`normalize`).
* ``storage``: ``auto``, ``memory`` or ``stream`` (see ``data.stream``).

Determinism: kornia's augmentations take no generator; they draw their parameters from torch's global CPU
generator (kornia samples them on the CPU, then moves them to the batch's device). The engine seeds that
generator from the run's seed and a continued run restores its state (``training.resume``), so a run with
augmentations repeats exactly on the CPU, continued or not.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.layers.base import Param

STORAGE_CHOICES = ("auto", "memory", "stream")
NORMALIZE_CHOICES = ("none", "mean_std")
TRANSFORM_PARAMS: tuple[Param, ...] = (
    Param("hflip", "bool", False, label="Random horizontal flip",
          help="Mirror half of the training images, left to right, at random (never validation or test)."),
    Param("crop_padding", "int", 0, label="Random crop padding", minimum=0, maximum=16,
          help="Pad training images with this many black pixels, then crop the original size at a random "
               "place; 0 for none."),
    Param("rotation", "float", 0.0, label="Random rotation (degrees)", minimum=0.0, maximum=180.0,
          help="Turn training images by a random angle between -rotation and +rotation; 0 for none."),
    Param("normalize", "choice", "none", label="Normalize", choices=NORMALIZE_CHOICES,
          help="mean_std: subtract each channel's mean and divide by its standard deviation, both measured on "
               "the training part; applied to every part."),
    Param("storage", "choice", "auto", label="Storage", choices=STORAGE_CHOICES,
          help="memory: the whole dataset as tensors on the training device; stream: read in batches by "
               "worker processes while training; auto: stream when the decoded images would take more than a "
               "quarter of the free memory."),
)
TRANSFORM_KEYS = tuple(p.name for p in TRANSFORM_PARAMS)
NORM_SAMPLES = 2048  # images a streamed training part's mean and deviation are measured on, at most
_CHUNK = 512  # images measured at a time
_MIN_STD = 1e-6


def transform_options(options: dict[str, Any]) -> dict[str, Any]:
    """The transform and storage options among a dataset's checked options."""
    return {k: options[k] for k in TRANSFORM_KEYS if k in options}


def augments(options: dict[str, Any]) -> bool:
    return bool(options.get("hflip")) or options.get("crop_padding", 0) > 0 or options.get("rotation", 0) > 0


def augmenter(options: dict[str, Any], height: int, width: int) -> torch.nn.Module | None:
    """The kornia augmentations the options ask for, as one module (None when they ask for none)."""
    if not augments(options):
        return None
    import kornia.augmentation as K

    steps: list[torch.nn.Module] = []
    if options.get("crop_padding", 0) > 0:
        steps.append(K.RandomCrop((height, width), padding=int(options["crop_padding"]), fill=0, p=1.0))
    if options.get("hflip"):
        steps.append(K.RandomHorizontalFlip(p=0.5))
    if options.get("rotation", 0) > 0:
        steps.append(K.RandomRotation(degrees=float(options["rotation"]), p=1.0))
    return torch.nn.Sequential(*steps)


def channel_stats(dataset: Dataset, limit: int | None = None) -> tuple[list[float], list[float]]:
    """Per-channel (mean, population standard deviation) of an image dataset's samples, in float64: all of
    them in memory, at most ``limit`` (NORM_SAMPLES) spread evenly over a streamed one."""
    n = len(dataset)
    if dataset.x.dim() != 4 or n == 0:
        raise ValueError("channel statistics need images (N, C, H, W)")
    limit = NORM_SAMPLES if limit is None else limit
    if dataset.streamed and n > limit:
        positions = torch.linspace(0, n - 1, limit).round().long().unique()
        read: Callable[[torch.Tensor], torch.Tensor] = dataset.samples
    else:
        positions = torch.arange(n)
        read = dataset.samples if dataset.streamed else (lambda index: dataset.x[index])
    channels = int(dataset.x.shape[1])
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for i in range(0, len(positions), _CHUNK):
        x = read(positions[i:i + _CHUNK]).to("cpu", torch.float64)
        total += x.sum(dim=(0, 2, 3))
        squares += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    var = (squares / count - mean * mean).clamp_min(0.0)
    std = [s if s >= _MIN_STD else 1.0 for s in var.sqrt().tolist()]
    return mean.tolist(), std


def normalize(x: torch.Tensor, stats: dict[str, Any] | None) -> torch.Tensor:
    """``(x - mean) / std`` per channel with a run's saved ``{"mean": [...], "std": [...]}`` (None: x as it is);
    for feeding a trained network images of one's own."""
    if not stats:
        return x
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mean = torch.tensor(stats["mean"], dtype=x.dtype, device=x.device).reshape(shape)
    std = torch.tensor(stats["std"], dtype=x.dtype, device=x.device).reshape(shape)
    return (x - mean) / std


class BatchTransforms:
    """What the engine applies to the batches of a run on ``device``: :meth:`train` (augment, then
    normalise) to training batches, :meth:`eval` (normalise) to every other batch."""

    def __init__(self, options: dict[str, Any], train: Dataset, device: torch.device) -> None:
        images = train.x.dim() == 4
        self.augment = augmenter(options, int(train.x.shape[2]), int(train.x.shape[3])) if images else None
        if self.augment is not None:
            self.augment.to(device)
        self.stats = None
        if images and options.get("normalize") == "mean_std" and len(train):
            mean, std = channel_stats(train)
            self.stats = {"mean": mean, "std": std}
        shape = (1, -1, 1, 1)
        self.mean = None if self.stats is None else torch.tensor(self.stats["mean"], device=device).reshape(shape)
        self.std = None if self.stats is None else torch.tensor(self.stats["std"], device=device).reshape(shape)

    @property
    def active(self) -> bool:
        return self.augment is not None or self.stats is not None

    def train(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4 \
                else torch.contiguous_format
            with torch.no_grad():
                x = self.augment(x).contiguous(memory_format=layout)
        return self.eval(x)

    def eval(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is None:
            return x
        return (x - self.mean) / self.std
