"""The standard image sets and the image transforms, as exported scripts carry them: plain numpy /
torch (kornia for augmentations), no nnstudio imports.

MNIST, Fashion-MNIST and KMNIST are read from torchvision's layout (``ROOT/MNIST/raw/
train-images-idx3-ubyte``, also with ``.gz``) by a small IDX reader; CIFAR-10 from its binary
version (``ROOT/cifar-10-batches-bin/data_batch_1.bin`` ...). Images become float32 in [0, 1]
(uint8 / 255), as in NN Studio. Only the training files are read: the script trains and validates,
and the app's test part comes from the official test files. ``python_code`` copies these
functions into the exported file; keep lines under 100 columns.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import torch

from nnstudio.core.export.standalone_data import data_file

try:  # the exported file imports kornia only when an augmentation is set
    import kornia.augmentation
except ImportError:  # pragma: no cover - kornia is one of NN Studio's dependencies
    kornia = None


def standard_file(root, folder, name):
    """``ROOT/FOLDER/name`` or the same with ``.gz``; one line saying where it belongs when it is
    absent."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(root, folder, candidate)
        if os.path.exists(path):
            return data_file(path, "dataset file")
    raise SystemExit(f"{name} is not in {os.path.join(root, folder)}: let NN Studio download "
                     "the dataset (its download option), or point --data-root at the folder "
                     f"that holds {folder}")


def read_idx(path, dims):
    """An IDX file of unsigned bytes with ``dims`` dimensions (MNIST's format) as a uint8 array.
    The header is checked (and, for a plain file, its sizes against the file's) before the data
    are read."""
    name = os.path.basename(path)
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            head = f.read(4 + 4 * dims)
            if len(head) < 4 + 4 * dims or head[:4] != bytes((0, 0, 8, dims)):
                raise SystemExit(f"{name} is not an IDX file of {dims}-dimensional bytes")
            shape = tuple(int(d) for d in np.frombuffer(head[4:], dtype=">u4"))
            count = int(np.prod(shape, dtype=object))
            plain = not path.endswith(".gz")
            if count > 1 << 32 or plain and os.path.getsize(path) != len(head) + count:
                raise SystemExit(f"{name}: its header announces {shape}, which the file does not "
                                 "hold: the file is damaged")
            data = f.read(count + 1)
    except (OSError, EOFError) as exc:
        raise SystemExit(f"cannot read {name}: {exc}")
    if len(data) != count:
        raise SystemExit(f"{name} holds {len(data):,} bytes of data, not {count:,}: it is damaged")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def load_idx_set(root, folder, samples=0):
    """MNIST, Fashion-MNIST or KMNIST's training images from ``ROOT/FOLDER/raw``: x (N, 1, 28, 28)
    float32 in [0, 1], y int64; only the first ``samples`` when it is more than 0."""
    raw = os.path.join(folder, "raw")
    images = read_idx(standard_file(root, raw, "train-images-idx3-ubyte"), 3)
    labels = read_idx(standard_file(root, raw, "train-labels-idx1-ubyte"), 1)
    if len(images) != len(labels):
        raise SystemExit(f"{folder}: {len(images):,} training images but {len(labels):,} labels")
    if len(labels) and labels.max() > 9:
        raise SystemExit(f"{folder}: a training label is {labels.max()}, not a class 0-9")
    if samples:
        images, labels = images[:samples], labels[:samples]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_cifar10(root, samples=0):
    """CIFAR-10's training images from ``ROOT/cifar-10-batches-bin`` (the binary version): x (N, 3,
    32, 32) float32 in [0, 1], y int64; only the first ``samples`` when it is more than 0."""
    record = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue planes
    parts = []
    for k in range(1, 6):
        path = standard_file(root, "cifar-10-batches-bin", f"data_batch_{k}.bin")
        size = os.path.getsize(path)
        if size % record or size > 1 << 32:
            raise SystemExit(f"{os.path.basename(path)} is not a CIFAR-10 binary batch")
        try:
            with open(path, "rb") as f:
                parts.append(np.frombuffer(f.read(size), dtype=np.uint8).reshape(-1, record))
        except OSError as exc:
            raise SystemExit(f"cannot read {os.path.basename(path)}: {exc.strerror or exc}")
        if samples and sum(map(len, parts)) >= samples:
            break
    rows = np.concatenate(parts)
    if len(rows) and rows[:, 0].max() > 9:
        raise SystemExit(f"CIFAR-10: a training label is {rows[:, 0].max()}, not a class 0-9")
    if samples:
        rows = rows[:samples]
    x = torch.from_numpy(rows[:, 1:].astype(np.float32) / 255.0).reshape(-1, 3, 32, 32)
    return x, torch.from_numpy(rows[:, 0].astype(np.int64))


# -- transforms (the same as NN Studio's, on the training device) --------------------------------
def channel_stats(x):
    """Per-channel mean and population standard deviation of images (N, C, H, W), summed in float64
    (a deviation below 1e-6 counts as 1: that channel is only shifted)."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, len(x), 512):
        chunk = x[start:start + 512].to("cpu", torch.float64)
        total += chunk.sum(dim=(0, 2, 3))
        squares += (chunk * chunk).sum(dim=(0, 2, 3))
    mean = total / (len(x) * x.shape[2] * x.shape[3])
    var = (squares / (len(x) * x.shape[2] * x.shape[3]) - mean * mean).clamp_min(0.0)
    std = [s if s >= 1e-6 else 1.0 for s in var.sqrt().tolist()]
    return mean.tolist(), std


def image_transforms(x_train, hflip=False, crop_padding=0, rotation=0.0, normalize=False):
    """(for training batches, for the other batches): training batches are augmented with kornia
    (a random crop of the original size after zero padding by ``crop_padding`` pixels, a horizontal
    flip of half of them, a rotation by an angle in [-rotation, rotation] degrees), then, with
    ``normalize``, standardised per channel by the training part's mean and deviation; the other
    batches are only standardised (the second is None when nothing is standardised)."""
    steps = []
    if crop_padding > 0:
        size = (int(x_train.shape[2]), int(x_train.shape[3]))
        padding = int(crop_padding)
        steps.append(kornia.augmentation.RandomCrop(size, padding=padding, fill=0, p=1.0))
    if hflip:
        steps.append(kornia.augmentation.RandomHorizontalFlip(p=0.5))
    if rotation > 0:
        steps.append(kornia.augmentation.RandomRotation(degrees=float(rotation), p=1.0))
    augment = torch.nn.Sequential(*steps) if steps else None
    stats = channel_stats(x_train) if normalize and len(x_train) else None

    def standardise(x):
        if stats is None:
            return x
        mean = torch.tensor(stats[0], device=x.device).reshape(1, -1, 1, 1)
        return (x - mean) / torch.tensor(stats[1], device=x.device).reshape(1, -1, 1, 1)

    def for_training(x):
        if augment is not None:
            with torch.no_grad():
                x = augment(x)
        return standardise(x)

    return for_training, standardise if stats is not None else None
