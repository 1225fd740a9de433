"""Importing a folder of images sorted into one subfolder per class (``pets/cat/1.png``, ``pets/dog/7.jpg``).

Each image is read with Pillow, converted to greyscale (1 channel) or RGB (3), resized to height x width
(bilinear, without keeping the aspect ratio) and scaled to [0, 1]. Classes are the subfolder names in sorted
order. Files that are not images by their extension are skipped; an image that cannot be decoded is an error
naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification
from nnstudio.core.errors import DatasetError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a run-time dependency
        raise DatasetError("reading images needs the Pillow package: pip install Pillow") from None
    return Image


def class_folders(root: Path) -> list[Path]:
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root} is a file; choose the folder that holds one subfolder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        found = f"only {folders[0].name!r}" if folders else "none"
        raise DatasetError(f"{root} needs one subfolder per class, at least two (found {found})")
    return folders


def image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))
    if not files:
        raise DatasetError(f"class folder {folder} holds no images ({', '.join(sorted(EXTENSIONS))})")
    return files


def read_image(path: Path, channels: int, height: int, width: int) -> np.ndarray:
    """One image as float32 (channels, height, width) in [0, 1]."""
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            image = image.resize((width, height), image_module.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
        # Pillow raises these for broken, unknown or absurdly large files.
        raise DatasetError(f"{path} cannot be read as an image ({exc})") from None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def load_image_folder(path: str = "", channels: int = 1, height: int = 28, width: int = 28) -> Dataset:
    """Images (N, channels, height, width) float32 in [0, 1], labelled by their subfolder."""
    if not path:
        raise DatasetError("no image folder chosen: set the dataset's path")
    root = Path(path)
    folders = class_folders(root)
    images, labels = [], []
    for k, folder in enumerate(folders):
        for file in image_files(folder):
            images.append(read_image(file, channels, height, width))
            labels.append(k)
    x = torch.from_numpy(np.stack(images))
    return classification(root.name, x, torch.tensor(labels), [f.name for f in folders], preview="images",
                          source=str(root))
