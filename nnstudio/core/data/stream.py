"""Streamed datasets: samples read in batches while training, for data larger than memory.

A streamed :class:`Dataset` holds its labels and a :class:`Stream`, and its ``x`` is a tensor on the ``meta``
device (shape and dtype, no values). A stream is a *source* read by position (the files of an image folder, or
a uint8 array, memory-mapped where the file allows) and the positions of one part (``subset`` composes them, so
the split's parts share one source). Two sources:

* :class:`ImageFiles`: an image folder's files, decoded in DataLoader worker processes (:func:`worker_count`
  of them, each :data:`PREFETCH` batches ahead, kept for the whole run), one batch per task;
* :class:`ImageArray`: a (N, C, H, W) uint8 (or float32) array, read in the training process (a memory-mapped
  file reads only the rows asked for).

Batches travel as uint8 where the images are 8-bit and become float32 in [0, 1] on the device
(:func:`to_float`): the same values as the in-memory path, a quarter of the bytes to copy.

Whether a dataset streams is its ``storage`` option: ``memory``, ``stream``, or ``auto``, which streams when the
decoded samples (N x C x H x W x 4 bytes) exceed :func:`memory_budget`: a quarter (:data:`BUDGET_SHARE`) of the
memory free on the training device, and on a GPU also at most a quarter of the computer's (the data are read
there first). :func:`storage_plan` says which and why, for the Dataset panel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification
from nnstudio.core.data.reading import size_text
from nnstudio.core.errors import DatasetError

BUDGET_SHARE = 0.25  # auto streams data whose decoded size is more than this share of the free memory
MAX_WORKERS = 4  # decoding processes at most (fewer on a small computer: one core is left to training)
PREFETCH = 2  # batches each worker decodes ahead (DataLoader's prefetch_factor): memory stays bounded
# The fixed sizes of the standard sets (schema: x float32 (N, C, H, W)), as (train, test, C, H, W).
STANDARD_SIZES = {"mnist": (60_000, 10_000, 1, 28, 28), "fashion_mnist": (60_000, 10_000, 1, 28, 28),
                  "kmnist": (60_000, 10_000, 1, 28, 28), "cifar10": (50_000, 10_000, 3, 32, 32)}


# -- sources ----------------------------------------------------------------------------------------------------
class ImageArray:
    """Images in a (N, C, H, W) array, uint8 (0..255, divided by 255 on the device) or float32; a
    ``numpy.memmap`` is read row by row as batches ask."""

    in_workers = False

    def __init__(self, array: np.ndarray) -> None:
        if array.ndim != 4 or array.dtype not in (np.uint8, np.float32):
            raise DatasetError(f"a streamed image array must be uint8 or float32 (N, C, H, W), not "
                               f"{array.dtype} {tuple(array.shape)}")
        self.array = array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.array.shape[1:])

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        order = np.argsort(positions, kind="stable")  # rows in file order, then back to the order asked
        rows = np.asarray(self.array[positions[order]])
        out = np.empty_like(rows)
        out[order] = rows
        return torch.from_numpy(out)


class ImageFiles:
    """An image folder's files, decoded with ``images.read_for_stream`` when a batch asks for them."""

    in_workers = True

    def __init__(self, files: Sequence[str], channels: int, height: int, width: int, max_megabytes: int) -> None:
        self.files = list(files)
        self.channels, self.height, self.width, self.max_megabytes = channels, height, width, max_megabytes

    def __len__(self) -> int:
        return len(self.files)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.channels, self.height, self.width)

    def fetch(self, positions: np.ndarray) -> torch.Tensor:
        from nnstudio.core.data.images import read_for_stream

        pixels = [read_for_stream(Path(self.files[int(i)]), self.channels, self.height, self.width,
                                  self.max_megabytes) for i in positions]
        if all(p.dtype == np.uint8 for p in pixels):
            return torch.from_numpy(np.stack(pixels)) if pixels else torch.empty((0, *self.sample_shape),
                                                                                 dtype=torch.uint8)
        return torch.from_numpy(np.stack([p.astype(np.float32) / 255.0 if p.dtype == np.uint8 else p
                                          for p in pixels]))


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """A fetched batch as float32 in [0, 1]: uint8 bytes divided by 255 (where the batch is, so on the device)."""
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()


class Stream:
    """A source and the positions in it of one part's samples (all of them when ``index`` is None)."""

    def __init__(self, source: Any, index: torch.Tensor | None = None) -> None:
        self.source = source
        self.index = torch.arange(len(source)) if index is None else index.to(torch.long)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def subset(self, index: torch.Tensor) -> "Stream":
        return Stream(self.source, self.index[torch.as_tensor(index, dtype=torch.long)])

    def positions(self, order: torch.Tensor) -> np.ndarray:
        """The source positions of this part's samples ``order``."""
        return self.index[order.cpu()].numpy()

    def read(self, index: torch.Tensor) -> torch.Tensor:
        """Samples of this part as float32 on the CPU, read now in this process (previews, statistics)."""
        return to_float(self.source.fetch(self.positions(index)))


def streamed_dataset(name: str, source: Any, labels: torch.Tensor, classes: Sequence[str],
                     source_text: str = "") -> Dataset:
    """A classification dataset of images read from ``source`` when needed (``x`` a meta tensor)."""
    x = torch.empty((len(source), *source.sample_shape), dtype=torch.float32, device="meta")
    data = classification(name, x, labels, classes, preview="images", source=source_text)
    data.stream = Stream(source)
    return data


def from_uint8_arrays(name: str, images: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                      source_text: str = "") -> Dataset:
    """A streamed dataset over uint8 (N, C, H, W) images (memory-mapped or not): for the standard sets."""
    if len(images) != len(labels):
        raise DatasetError(f"{name}: {len(images):,} images but {len(labels):,} labels")
    return streamed_dataset(name, ImageArray(images), torch.from_numpy(np.asarray(labels, dtype=np.int64)),
                            classes, source_text)


def streamed_copy(dataset: Dataset) -> Dataset:
    """An in-memory image dataset served the streamed way (its tensor as the source): ``storage`` "stream" for
    data that are in memory anyway (the bundled digits). Other datasets are refused."""
    if dataset.streamed:
        return dataset
    if dataset.x.dim() != 4 or dataset.x.dtype != torch.float32:
        raise DatasetError(f"the {dataset.name} dataset is not images and cannot be streamed: set storage to memory")
    copy = streamed_dataset(dataset.name, ImageArray(dataset.x.numpy()), dataset.y, dataset.classes, dataset.source)
    copy.task, copy.transforms = dataset.task, dict(dataset.transforms)
    return copy


# -- reading batches while training ------------------------------------------------------------------------------
def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count() -> int:
    """Decoding processes for a run: the usable cores less one (for training), between 1 and MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, usable_cores() - 1))


def training_threads(workers: int) -> int:
    """torch's thread count for a run whose images ``workers`` processes decode: the current count, lowered so
    that training and decoding together use no more than the usable cores (at least one thread). OpenMP threads
    that share a core with a decoding process wait on each other and slow both."""
    return max(1, min(torch.get_num_threads(), usable_cores() - workers))


class _Batches(torch.utils.data.Dataset):
    """What a worker runs: one whole batch per item (one decoded tensor crosses processes, not N). A refused
    image comes back as its message, so the run ends with that one line rather than a worker's traceback."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, positions: Any) -> Any:
        try:
            return self.source.fetch(np.asarray(positions, dtype=np.int64))
        except DatasetError as exc:
            return str(exc)


class _Plan(torch.utils.data.Sampler):
    """The batches of the next pass, set before each one (the sampler lives in the training process)."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # a decoding process needs no thread pool of its own


class BatchReader:
    """Reads batches of one source for a run: in worker processes (kept between passes) for sources that decode
    files, in this process for arrays. ``workers`` None: :func:`worker_count`; 0: in this process."""

    def __init__(self, source: Any, device: torch.device, workers: int | None = None) -> None:
        self.source, self.device = source, device
        self.pin = device.type == "cuda"
        count = (worker_count() if workers is None else int(workers)) if source.in_workers else 0
        self.workers = count
        self.plan = _Plan()
        self.loader = None
        if count > 0:
            # A private generator: making the workers' seed must not draw from torch's global one, which the
            # run's dropout and augmentations use (streamed and in-memory runs then draw the same numbers).
            self.loader = torch.utils.data.DataLoader(
                _Batches(source), sampler=self.plan, batch_size=None, num_workers=count, prefetch_factor=PREFETCH,
                persistent_workers=True, pin_memory=self.pin, worker_init_fn=_worker_init,
                generator=torch.Generator().manual_seed(0))

    def read(self, batches: list[np.ndarray]) -> Iterator[torch.Tensor]:
        """The batches (source positions) as tensors on the CPU, in order; pinned for a GPU."""
        if self.loader is None:
            for positions in batches:
                batch = self.source.fetch(positions)
                yield batch.pin_memory() if self.pin else batch
            return
        self.plan.batches = list(batches)
        iterator = iter(self.loader)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except RuntimeError as exc:  # a worker killed (out of memory, a signal): one line, not a traceback
                if "DataLoader worker" not in str(exc):
                    raise
                first = str(exc).strip().splitlines()[0]
                raise DatasetError(f"a process reading the images stopped ({first}): lower the batch size or set "
                                   "the dataset's storage to memory") from None
            if isinstance(batch, str):
                raise DatasetError(batch)
            yield batch

    def close(self) -> None:
        """Stop the workers now (they would also end with the reader)."""
        loader, self.loader = self.loader, None
        iterator = getattr(loader, "_iterator", None)
        if iterator is not None:
            iterator._shutdown_workers()


# -- memory or stream -------------------------------------------------------------------------------------------
def memory_budget(device: Any = "cpu") -> tuple[int | None, str]:
    """(bytes, what they are) that a dataset may take decoded before ``auto`` streams it; None when unknown."""
    from nnstudio.core import memory

    dev = torch.device(device) if not isinstance(device, torch.device) else device
    cpu = memory.available_bytes("cpu")
    if dev.type == "cpu":
        return (None if cpu is None else int(cpu * BUDGET_SHARE)), "a quarter of the memory free on this computer"
    free = memory.available_bytes(dev)
    found = [b for b in (free, cpu) if b is not None]
    return (int(min(found) * BUDGET_SHARE) if found else None), f"a quarter of the memory free on {dev}"


def choose(storage: str, decoded: int | None, device: Any = "cpu") -> tuple[str, str]:
    """(``"memory"`` or ``"stream"``, why) for the ``storage`` option and the decoded size in bytes: ``auto``
    streams beyond :func:`memory_budget`. (Data kept in memory still answer to their ``max_megabytes``.)"""
    if storage in ("memory", "stream"):
        return storage, f"storage is set to {storage}"
    if decoded is None:
        return "memory", "only image datasets can be streamed"
    budget, words = memory_budget(device)
    if budget is None:
        return "memory", f"{size_text(decoded)} decoded; the free memory is unknown, so it is kept in memory"
    if decoded > budget:
        return "stream", f"{size_text(decoded)} decoded is more than the {size_text(budget)} budget ({words})"
    return "memory", f"{size_text(decoded)} decoded fits the {size_text(budget)} budget ({words})"


def decoded_estimate(name: str, options: dict[str, Any]) -> int | None:
    """The samples' decoded size (N x C x H x W x 4 bytes) of an image dataset from its checked options,
    without reading images (an image folder is listed); None for a dataset that is not images."""
    from nnstudio.core.data import images

    if name == "image_folder":
        _, files = images.plan_image_folder(options["path"], options["channels"], options["height"],
                                            options["width"], options["max_megabytes"], streamed=True)
        return len(files) * options["channels"] * options["height"] * options["width"] * 4
    if name == "digits":
        return 1797 * options["size"] ** 2 * 4
    if name in STANDARD_SIZES:
        train, test, c, h, w = STANDARD_SIZES[name]
        samples = options.get("samples", 0) or train
        count = min(samples, train) + (test if options.get("test_set", True) else 0)
        return count * c * h * w * 4
    return None


def storage_plan(dataset: Dataset | dict[str, Any], base_dir: str | Path | None = None,
                 device: Any = "cpu") -> tuple[str, str]:
    """(``"memory"`` or ``"stream"``, one line saying why) for a dataset dict (found without reading images)
    or a loaded dataset: e.g. ``("stream", "1.2 GB decoded is more than the 0.8 GB budget (a quarter of the
    memory free on this computer)")``. A bad dict raises DatasetError with its message."""
    if isinstance(dataset, Dataset):
        if dataset.streamed:
            return "stream", f"{size_text(dataset.decoded_bytes())} decoded, read in batches while training"
        return "memory", f"{size_text(dataset.decoded_bytes())} in memory"
    from nnstudio.core.data.registry import _resolve

    spec, options = _resolve(dataset, base_dir)
    if "storage" not in options:
        return "memory", f"the {spec.name} dataset is not images: it is kept in memory"
    decoded = decoded_estimate(spec.name, options) if options["storage"] == "auto" else None
    return choose(options["storage"], decoded, device)


def storage_line(dataset: Dataset, config: dict[str, Any] | None, device: Any = "cpu") -> str:
    """The Dataset panel's line on the path loaded data take and why, e.g. "In memory: whole tensors on the
    training device, the fastest path; 12 MB decoded fits the 2.9 GB budget (...)"; "" for data that are not
    images."""
    from nnstudio.core.data.registry import DATASETS

    spec = DATASETS.get((config or {}).get("name", ""))
    if spec is None or not any(p.name == "storage" for p in spec.params):
        return ""
    _, why = choose((config or {}).get("storage", "auto"), dataset.decoded_bytes(), device)
    if dataset.streamed:
        return f"Streamed: decoded in batches while training, never held whole; {why}."
    return f"In memory: whole tensors on the training device, the fastest path; {why}."
