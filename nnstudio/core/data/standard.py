"""The standard image datasets: MNIST, Fashion-MNIST, KMNIST and CIFAR-10, read from torchvision's layout.

A folder a PyTorch user already has works as it is::

    ROOT/MNIST/raw/train-images-idx3-ubyte   train-labels-idx1-ubyte   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte
    ROOT/FashionMNIST/raw/...  ROOT/KMNIST/raw/...   (the same names; each may also end in .gz, as downloaded)
    ROOT/cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin, test_batch.bin   (the binary version)

``ROOT`` is the dataset's ``root`` option; empty means the user's data folder (:func:`default_root`). Missing
files are downloaded (``download``: see :mod:`~nnstudio.core.data.download`) or named, with the folder to put
them in. Nothing here imports torchvision: its compiled operators must match the exact torch build.

:func:`read_standard` gives the raw arrays of one part ("train" or "test": uint8 images, memory-mapped when the
files are plain) for code that streams them; the registry's loaders (:func:`loader`) make the in-memory
:class:`StandardDataset`: x float32 (N, C, H, W) = pixels / 255, y int64, the official class names, and the
official test files as its ``test_part`` when ``test_set`` is on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification
from nnstudio.core.data.reading import MAX_MEGABYTES, check_limit, current_token, entry_mode, shown, size_text
from nnstudio.core.data.standard_formats import (IMAGES_MAGIC, LABELS_MAGIC, check_labels, cifar_count, idx_count,
                                                 read_cifar, read_idx)
from nnstudio.core.errors import DatasetError

NAMES = ("mnist", "fashion_mnist", "kmnist", "cifar10")
PARTS = ("train", "test")
CIFAR_FOLDER = "cifar-10-batches-bin"
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
FOLDERS = {"mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "kmnist": "KMNIST/raw",
           "cifar10": CIFAR_FOLDER}
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "kmnist": "KMNIST", "cifar10": "CIFAR-10"}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
SOURCES = {
    "mnist": "MNIST, Y. LeCun, C. Cortes and C. J. C. Burges (yann.lecun.com/exdb/mnist); usually redistributed "
             "under CC BY-SA 3.0",
    "fashion_mnist": "Fashion-MNIST, H. Xiao, K. Rasul and R. Vollgraf, Zalando Research "
                     "(github.com/zalandoresearch/fashion-mnist), MIT licence",
    "kmnist": "Kuzushiji-MNIST, T. Clanuwat et al., ROIS-DS Center for Open Data in the Humanities "
              "(github.com/rois-codh/kmnist), CC BY-SA 4.0",
    "cifar10": "CIFAR-10, A. Krizhevsky, V. Nair and G. Hinton, \"Learning Multiple Layers of Features from Tiny "
               "Images\" (2009, www.cs.toronto.edu/~kriz/cifar.html); cite the report when you use it",
}
CONVERT_IMAGES = 2048  # images turned into float32 (and the token asked) at a time


@dataclass
class StandardArrays:
    """One part of a standard dataset as stored: images uint8 (N, C, H, W), labels int64 (N,), class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]


@dataclass
class StandardDataset(Dataset):
    """The training files as a :class:`Dataset`; ``test_part`` holds the official test files when the
    ``test_set`` option is on (``registry.load_split`` makes it the test part)."""

    test_part: Dataset | None = None


# -- where the files are -----------------------------------------------------------------------------------
def default_root() -> Path:
    """The user's data folder for datasets: ``platformdirs.user_data_dir("nnstudio") / "datasets"``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("nnstudio")) / "datasets"


def root_path(root: str | Path = "") -> Path:
    return Path(root).expanduser() if str(root) else default_root()


def folder_of(name: str, root: str | Path = "") -> Path:
    """The folder that holds the dataset's files under ``root`` (torchvision's layout)."""
    return root_path(root) / FOLDERS[name]


def file_names(name: str, part: str) -> tuple[str, ...]:
    return CIFAR_FILES[part] if name == "cifar10" else IDX_FILES[part]


def find_file(folder: Path, base: str, gz: bool) -> Path | None:
    """``folder / base`` or, for IDX files, ``base.gz``: the first that exists (whatever it is; the readers
    refuse what is not a regular file), None when neither does."""
    for candidate in (folder / base, folder / f"{base}.gz") if gz else (folder / base,):
        if entry_mode(candidate) is not None:
            return candidate
    return None


def locate(name: str, root: str | Path, parts: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """({file name: the path found}, [file names missing]) for the ``parts``."""
    folder, found, missing = folder_of(name, root), {}, []
    for part in parts:
        for base in file_names(name, part):
            path = find_file(folder, base, gz=name != "cifar10")
            if path is None:
                missing.append(base)
            else:
                found[base] = path
    return found, missing


def place_text(name: str, root: str | Path, missing: list[str]) -> str:
    """``"place a, b (or ...) in FOLDER"``: the missing files and the full path of the folder they go in."""
    also = " (or the same names ending in .gz)" if name != "cifar10" else " (the binary version)"
    return f"place {', '.join(missing)}{also} in {shown(folder_of(name, root))}"


def missing_message(name: str, root: str | Path, missing: list[str]) -> str:
    """One line saying which files to place where, or to turn on the download."""
    return (f"the {TITLES[name]} files are missing: {place_text(name, root, missing)}, or turn on the dataset's "
            "option 'download' to fetch them")


def parts_for(test_set: bool) -> tuple[str, ...]:
    return PARTS if test_set else ("train",)


def ensure_files(name: str, root: str | Path, parts: tuple[str, ...], download: bool) -> dict[str, Path]:
    """The paths of the parts' files, downloading the missing ones when ``download`` is on."""
    found, missing = locate(name, root, parts)
    if missing and download:
        from nnstudio.core.data.download import fetch

        fetch(name, root_path(root), missing)
        found, missing = locate(name, root, parts)
    if missing:
        raise DatasetError(missing_message(name, root, missing))
    return found


def files_note(name: str, root: str | Path = "", download: bool = False, test_set: bool = True) -> str:
    """In words, for the Dataset panel: where the files are, or that the missing ones will be downloaded;
    empty when they are missing and will not be (the dataset's problem, :func:`missing_message`, says it)."""
    from nnstudio.core.data.download import download_size

    _, missing = locate(name, root, parts_for(test_set))
    folder = shown(folder_of(name, root))
    if not missing:
        return f"Files: {folder}"
    if download:
        return f"The missing files will be downloaded into {folder} (about {size_text(download_size(name))})."
    return ""


def check_standard(name: str, root: str | Path = "", download: bool = False, test_set: bool = True,
                   max_megabytes: int = MAX_MEGABYTES, streamed: bool = False) -> None:
    """What loading would refuse, found without reading the data: missing files (unless they will be
    downloaded), files that are not regular, headers that disagree with their files' sizes, and (unless the
    data are ``streamed``) images whose float32 tensors would exceed ``max_megabytes``."""
    parts = parts_for(test_set)
    found, missing = locate(name, root, parts)
    if missing:
        if download:
            return
        raise DatasetError(missing_message(name, root, missing))
    total = 0
    for part in parts:
        names = file_names(name, part)
        if name == "cifar10":
            count = sum(cifar_count(found[base], max_megabytes) for base in names)
            total += count * 3 * 32 * 32
            continue
        dims = idx_count(found[names[0]], IMAGES_MAGIC, max_megabytes)
        labels = idx_count(found[names[1]], LABELS_MAGIC, max_megabytes)
        _same_count(dims[0], labels[0], found[names[0]], found[names[1]])
        total += int(np.prod(dims))
    if not streamed:
        check_limit(total * 4, max_megabytes, f"the {TITLES[name]} images would take")


def _same_count(images: int, labels: int, image_path: Path, label_path: Path) -> None:
    if images != labels:
        raise DatasetError(f"{shown(image_path)} holds {images:,} images but {shown(label_path.name)} "
                           f"{labels:,} labels: the files do not belong together")


# -- reading -----------------------------------------------------------------------------------------------
def _pieces(name: str, found: dict[str, Path], part: str, count: int,
            max_megabytes: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(images uint8 (n, C, H, W), labels int64 (n,))] of one part, in file order; the first ``count``
    images only when ``count`` > 0."""
    classes = len(CLASSES[name])
    out = []
    if name == "cifar10":
        left = count
        for base in CIFAR_FILES[part]:
            if count and left <= 0:
                break
            images, labels = read_cifar(found[base], left if count else 0, max_megabytes)
            out.append((images, check_labels(labels, classes, found[base])))
            left -= len(images)
        return out
    image_file, label_file = (found[base] for base in IDX_FILES[part])
    images = read_idx(image_file, IMAGES_MAGIC, count, max_megabytes)
    labels = read_idx(label_file, LABELS_MAGIC, count, max_megabytes)
    if count == 0 or len(images) < count or len(labels) < count:
        _same_count(len(images), len(labels), image_file, label_file)
    return [(images[:, None], check_labels(labels, classes, label_file))]


def read_standard(name: str, root: str | Path = "", part: str = "train", samples: int = 0,
                  download: bool = False, max_megabytes: int = MAX_MEGABYTES) -> StandardArrays:
    """One part ("train" or "test") of a standard dataset as stored: for streaming. Plain files give
    read-only memory-mapped images (nothing is read until used); ``samples`` > 0 keeps the first N."""
    if name not in FOLDERS or part not in PARTS:
        raise DatasetError(f"there is no standard dataset part {name!r} / {part!r}")
    found = ensure_files(name, root, (part,), download)
    pieces = _pieces(name, found, part, samples, max_megabytes)
    if len(pieces) == 1:
        images, labels = pieces[0]
    else:
        check_limit(sum(p[0].nbytes for p in pieces), max_megabytes, f"the {TITLES[name]} {part} images take")
        images, labels = np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])
    return StandardArrays(images, labels, list(CLASSES[name]))


def _to_float(pieces: list[tuple[np.ndarray, np.ndarray]], what: str, done: int, total: int,
              out: np.ndarray) -> int:
    """Fill ``out`` with the pieces' pixels / 255 in chunks, reporting to the current token."""
    token, at = current_token(), 0
    for images, _ in pieces:
        for start in range(0, len(images), CONVERT_IMAGES):
            chunk = images[start:start + CONVERT_IMAGES]
            np.divide(chunk, np.float32(255), out=out[at:at + len(chunk)], dtype=np.float32)
            at += len(chunk)
            done += len(chunk)
            token.report(done, total, what)
    return done


def load_standard(name: str, root: str = "", download: bool = False, samples: int = 0, test_set: bool = True,
                  max_megabytes: int = MAX_MEGABYTES) -> StandardDataset:
    """The dataset's training files (the first ``samples`` images when > 0) in memory, x float32 / 255;
    with ``test_set`` the official test files as ``test_part``."""
    token = current_token()
    token.check()
    parts = parts_for(test_set)
    found = ensure_files(name, root, parts, download)
    read = {part: _pieces(name, found, part, samples if part == "train" else 0, max_megabytes) for part in parts}
    counts = {part: sum(len(p[0]) for p in pieces) for part, pieces in read.items()}
    shape = read["train"][0][0].shape[1:]
    if counts["train"] == 0:
        raise DatasetError(f"the {TITLES[name]} training files hold no images")
    for part, pieces in read.items():
        for images, _ in pieces:
            if images.shape[1:] != shape:
                raise DatasetError(f"the {TITLES[name]} {part} images are {' x '.join(map(str, images.shape[1:]))}"
                                   f" but the training images {' x '.join(map(str, shape))}: the files do not "
                                   "belong together")
    total = sum(counts.values())
    check_limit(total * int(np.prod(shape)) * 4, max_megabytes,
                f"{total:,} images of {' x '.join(str(d) for d in shape)} would take")
    datasets, done = {}, 0
    for part, pieces in read.items():
        x = np.empty((counts[part], *shape), dtype=np.float32)
        done = _to_float(pieces, f"Converting the {TITLES[name]} {part} images", done, total, x)
        y = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
        datasets[part] = classification(name, torch.from_numpy(x), torch.from_numpy(y), CLASSES[name],
                                        preview="images", source=SOURCES[name])
    train = datasets["train"]
    return StandardDataset(**{f.name: getattr(train, f.name) for f in fields(Dataset)},
                           test_part=datasets.get("test"))


def loader(name: str) -> Callable[..., StandardDataset]:
    """The registry's loader of the standard dataset ``name``."""
    return functools.partial(load_standard, name)


def stream_standard(name: str, root: str = "", download: bool = False, samples: int = 0, test_set: bool = True,
                    max_megabytes: int = MAX_MEGABYTES) -> StandardDataset:
    """The streamed form of :func:`load_standard` (``storage`` "stream"): the images stay in their files
    (memory-mapped; a ``.gz`` file is decompressed once, as uint8) and are read in batches while training."""
    from nnstudio.core.data import stream

    parts = {}
    for part in parts_for(test_set):
        arrays = read_standard(name, root, part, samples if part == "train" else 0, download, max_megabytes)
        parts[part] = stream.from_uint8_arrays(name, arrays.images, arrays.labels, arrays.classes, SOURCES[name])
    train = parts["train"]
    return StandardDataset(**{f.name: getattr(train, f.name) for f in fields(Dataset)}, test_part=parts.get("test"))


def streamer(name: str) -> Callable[..., StandardDataset]:
    """The registry's streamed loader of the standard dataset ``name``."""
    return functools.partial(stream_standard, name)
