"""Where the engine's batches come from: one *feed* per part of the data, of one of two kinds.

* :class:`MemoryFeed` (small data, the fast path): the part's tensors sit on the device; a batch is an index
  into them. Exactly what the engine always did.
* :class:`StreamFeed` (``Dataset.streamed``): the part's samples are read batch by batch (``data.stream``: by
  DataLoader workers for an image folder, from a uint8 array otherwise), copied to the device and made float
  there. Only the labels are held whole.

Both walk the same permutation, drawn by the engine from the run's generator, so a streamed run and an
in-memory one of the same data see the same batches, and a continued run the batches the longer run would have.
"""

from __future__ import annotations

from typing import Iterator

import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.stream import BatchReader, to_float
from nnstudio.core.training.telemetry import PROBE_SAMPLES

# Samples of a streamed (or normalised) training part that telemetry probes: all it measures on. (The boundary
# plot's points come from 2-D data, which are never streamed or normalised.)
PROBE = PROBE_SAMPLES


class MemoryFeed:
    """A part's whole tensors on the device."""

    streamed = False

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.n = int(x.shape[0])

    def train_batches(self, perm: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = perm.to(self.x.device)
        for b in range(0, self.n, batch_size):
            idx = perm[b:b + batch_size]
            yield self.x[idx], self.y[idx]

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(0, self.n, batch_size):
            yield self.x[i:i + batch_size], self.y[i:i + batch_size]

    def head(self) -> tuple[torch.Tensor, torch.Tensor]:
        """What telemetry probes: the whole part (views; the boundary plot spans all of its points)."""
        return self.x, self.y

    def close(self) -> None:
        pass


class StreamFeed:
    """A streamed part: samples read through ``reader`` (shared by the parts of one source), labels on the
    device."""

    streamed = True

    def __init__(self, part: Dataset, y: torch.Tensor, reader: BatchReader, device: torch.device) -> None:
        self.part, self.y, self.reader, self.device = part, y, reader, device
        self.n = len(part)
        self.images = part.x.dim() == 4

    def _to_device(self, raw: torch.Tensor) -> torch.Tensor:
        x = to_float(raw.to(self.device, non_blocking=True))
        if self.images:  # the layout the in-memory path uses for images (see the engine)
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_batches(self, perm: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = perm.cpu()
        positions = self.part.stream.positions(perm)
        plan = [positions[b:b + batch_size] for b in range(0, self.n, batch_size)]
        perm_on_device = perm.to(self.y.device)
        for b, raw in enumerate(self.reader.read(plan)):
            idx = perm_on_device[b * batch_size:(b + 1) * batch_size]
            yield self._to_device(raw), self.y[idx]

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        positions = self.part.stream.positions(torch.arange(self.n))
        plan = [positions[i:i + batch_size] for i in range(0, self.n, batch_size)]
        for b, raw in enumerate(self.reader.read(plan)):
            yield self._to_device(raw), self.y[b * batch_size:(b + 1) * batch_size]

    def head(self, count: int = PROBE) -> tuple[torch.Tensor, torch.Tensor]:
        """What telemetry probes: the part's first ``count`` samples, read now."""
        count = min(count, self.n)
        return self._to_device(self.part.samples(torch.arange(count))), self.y[:count]

    def close(self) -> None:
        self.reader.close()
