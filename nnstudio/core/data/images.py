"""Importing a folder of images sorted into one subfolder per class (``pets/cat/1.png``, ``pets/dog/7.jpg``).

Each image is read with Pillow, made greyscale (1 channel) or colour (3), resized to height x width (bilinear,
without keeping the aspect ratio) and scaled to [0, 1] by its real range, never clipped:

* 8-bit images (Pillow modes 1, L, P, RGB, RGBA, LA, CMYK ...; 16-bit colour PNGs, which Pillow reads as 8-bit
  colour) are divided by 255; colour becomes grey as Pillow's ``convert("L")`` makes it (ITU-R 601 luma).
* 16-bit greyscale (modes ``I;16``, ``I;16B`` ...) is divided by 65,535.
* 32-bit integer (``I``) and floating-point (``F``) images have no fixed range: they are scaled by the smallest
  and largest pixel of all such images of the dataset, ``(v - min) / (max - min)``, so the relative intensities
  across images are kept (all zeros when every pixel is the same). NaN or infinite pixels are refused.
* Greyscale images asked for as colour are repeated over the three channels.

Classes are the subfolder names in sorted order. Entries whose name starts with a dot, files that are not images
by their extension and folders nested in a class folder are skipped; an entry with an image extension that is
not a regular file (a device, FIFO, socket, a link to one, a broken link) is refused, never opened, and so is an
image that cannot be decoded. Before any image is decoded the files' total size and the array the images will
fill (count x channels x height x width x 4 bytes) are checked against the ``max_megabytes`` option, and each
image's decoded size before it is decoded; Pillow's own decompression-bomb limit stays in force.

Streamed (:func:`stream_image_folder`, the ``storage`` option): only the listing is read up front; DataLoader
worker processes decode the images batch by batch while training (``data.stream``). The array is then never
allocated, so only the files' size and each image's decoded size count against ``max_megabytes``; 8-bit images
travel as bytes and become [0, 1] on the device (the same float32 values). ``I`` and ``F`` images are scaled by
their own range there, as a lone image is: the dataset's range would need every image read first.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification
from nnstudio.core.data.reading import (MAX_MEGABYTES, check_folder, check_limit, current_token, entry_mode,
                                        kind_of, open_regular, shown)
from nnstudio.core.errors import DatasetError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
MAX_IMAGES = 1_000_000  # images in one dataset (and entries listed in one folder)
SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
OPEN_RANGE = {"I", "F"}  # scaled by the dataset's minimum and maximum


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a run-time dependency
        raise DatasetError("reading images needs the Pillow package: pip install Pillow") from None
    return Image


def _entries(folder: Path) -> Iterator[os.DirEntry]:
    """The folder's entries, hidden ones left out; at most :data:`MAX_IMAGES` of them."""
    try:
        with os.scandir(folder) as listing:
            for count, entry in enumerate(listing):
                if count >= MAX_IMAGES:
                    raise DatasetError(f"{shown(folder)} holds more than {MAX_IMAGES:,} entries; NN Studio reads "
                                       f"at most {MAX_IMAGES:,} images")
                if not entry.name.startswith("."):
                    yield entry
    except OSError as exc:
        raise DatasetError(f"{shown(folder)} cannot be listed ({exc.strerror or exc})") from None


def class_folders(root: Path) -> list[Path]:
    check_folder(root)
    folders = sorted(Path(e.path) for e in _entries(root) if entry_mode(Path(e.path)) == stat.S_IFDIR)
    if len(folders) < 2:
        found = f"only {shown(folders[0].name)!r}" if folders else "none"
        raise DatasetError(f"{shown(root)} needs one subfolder per class, at least two (found {found})")
    return folders


def image_files(folder: Path) -> list[tuple[Path, int]]:
    """The images of a class folder with their sizes in bytes; an image entry that is not a regular file is
    refused (it would be a device, a FIFO or a socket: never opened)."""
    files = []
    for entry in _entries(folder):
        path = Path(entry.path)
        if path.suffix.lower() not in EXTENSIONS:
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            raise DatasetError(f"{shown(path)} is a broken link or cannot be read: remove it from the image "
                               "folder") from None
        if stat.S_ISDIR(info.st_mode):
            continue  # folders inside a class folder are not read
        if not stat.S_ISREG(info.st_mode):
            raise DatasetError(f"{shown(path)} is a {kind_of(info.st_mode)}, not a regular file; NN Studio reads "
                               "only regular files: remove it from the image folder")
        files.append((path, int(info.st_size)))
    if not files:
        raise DatasetError(f"class folder {shown(folder)} holds no images ({', '.join(sorted(EXTENSIONS))})")
    return sorted(files)


def _decode(path: Path, channels: int, height: int, width: int, max_megabytes: int,
            keep_bytes: bool = False) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(pixels, range): float32 (channels, height, width). For 8- and 16-bit images the pixels are in [0, 1]
    and range is None; for ``I`` and ``F`` images they are ``v - min`` of this image and range is its
    (min, max), for the caller to scale by the whole dataset's range. ``keep_bytes``: 8-bit images come back
    as their uint8 values (0..255), for the caller to divide by 255."""
    image_module = _pillow()
    stream, _ = open_regular(path, "path", "image file", max_megabytes)
    with stream:
        try:
            with image_module.open(stream) as image:
                w, h = image.size
                bands = len(image.getbands())
                # the decoded image, and for 16/32-bit ones the float64 and float32 copies made from it
                check_limit(w * h * max(bands, 1) * 4 + w * h * 12, max_megabytes, f"{shown(path)} decodes to")
                resample = image_module.Resampling.BILINEAR
                if image.mode in SIXTEEN_BIT or image.mode in OPEN_RANGE:
                    raw = np.asarray(image)
                    if raw.ndim != 2:
                        raise DatasetError(f"{shown(path)} is a {image.mode} image with {raw.ndim} dimensions, "
                                           "which NN Studio cannot read")
                    values = raw.astype(np.float64)
                    if not np.all(np.isfinite(values)):
                        raise DatasetError(f"{shown(path)} holds NaN or infinite pixel values")
                    if image.mode in SIXTEEN_BIT:
                        found, values = None, values / 65535.0
                    else:
                        found = (float(values.min()), float(values.max()))
                        values = values - found[0]
                    plane = image_module.fromarray(values.astype(np.float32)).resize((width, height), resample)
                    pixels = np.repeat(np.asarray(plane, dtype=np.float32)[None], channels, axis=0)
                    return pixels, found
                image = image.convert("L" if channels == 1 else "RGB")
                image = image.resize((width, height), resample)
                pixels = np.asarray(image, dtype=np.uint8).copy() if keep_bytes else \
                    np.asarray(image, dtype=np.float32) / 255.0
        except DatasetError:
            raise
        except (OSError, ValueError, SyntaxError, TypeError, image_module.DecompressionBombError) as exc:
            # Pillow raises these for broken, unknown or absurdly large files.
            raise DatasetError(f"{shown(path)} cannot be read as an image ({exc})") from None
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)), None


def read_image(path: Path, channels: int, height: int, width: int,
               max_megabytes: int = MAX_MEGABYTES) -> np.ndarray:
    """One image as float32 (channels, height, width) in [0, 1] (``I`` / ``F`` images by their own range)."""
    pixels, found = _decode(Path(path), channels, height, width, max_megabytes)
    if found is not None:
        span = found[1] - found[0]
        pixels = np.clip(pixels / span, 0.0, 1.0) if span > 0 else np.zeros_like(pixels)
    return pixels.astype(np.float32, copy=False)


def plan_image_folder(path: str | Path, channels: int = 1, height: int = 28, width: int = 28,
                      max_megabytes: int = MAX_MEGABYTES,
                      streamed: bool = False) -> tuple[list[Path], list[tuple[Path, int]]]:
    """(class folders, [(image file, class index)]) after the checks made before any image is decoded: regular
    entries only, at most :data:`MAX_IMAGES`, and the files' size and the images' array within the limit (the
    array only when not ``streamed``: streamed images are never held all at once)."""
    root = Path(path)
    token = current_token()
    token.check()
    folders = class_folders(root)
    files: list[tuple[Path, int]] = []
    total = 0
    for k, folder in enumerate(folders):
        token.report(k, len(folders), f"listing the images of {shown(root.name)}")
        for file, size in image_files(folder):
            files.append((file, k))
            total += size
            if len(files) > MAX_IMAGES:
                raise DatasetError(f"{shown(root)} holds more than {MAX_IMAGES:,} images; NN Studio reads at most "
                                   f"{MAX_IMAGES:,}")
    count = len(files)
    check_limit(total, max_megabytes, f"the {count:,} image files of {shown(root.name)} are")
    if not streamed:
        check_limit(count * channels * height * width * 4, max_megabytes,
                    f"{count:,} images of {channels} x {height} x {width} would take")
    return folders, files


def load_image_folder(path: str = "", channels: int = 1, height: int = 28, width: int = 28,
                      max_megabytes: int = MAX_MEGABYTES) -> Dataset:
    """Images (N, channels, height, width) float32 in [0, 1], labelled by their subfolder."""
    if not path:
        raise DatasetError("no image folder chosen: set the dataset's path")
    root = Path(path)
    folders, files = plan_image_folder(root, channels, height, width, max_megabytes)
    return _decode_all(root, folders, files, channels, height, width, max_megabytes)


def _decode_all(root: Path, folders: list[Path], files: list[tuple[Path, int]], channels: int, height: int,
                width: int, max_megabytes: int) -> Dataset:
    token = current_token()
    count = len(files)
    x = np.empty((count, channels, height, width), dtype=np.float32)
    open_range: list[tuple[int, float]] = []  # (image, its minimum) for I and F images
    low, high = np.inf, -np.inf
    for i, (file, _) in enumerate(files):
        token.report(i, count, f"reading the images of {shown(root.name)}")
        x[i], found = _decode(file, channels, height, width, max_megabytes)
        if found is not None:
            open_range.append((i, found[0]))
            low, high = min(low, found[0]), max(high, found[1])
    span = high - low
    for i, minimum in open_range:  # one scale for all of them: (v - dataset min) / (dataset max - dataset min)
        scaled = (x[i].astype(np.float64) + (minimum - low)) / span if span > 0 else np.zeros(x[i].shape)
        x[i] = np.clip(scaled, 0.0, 1.0)
    token.report(count, count, f"reading the images of {shown(root.name)}")
    return classification(shown(root.name), torch.from_numpy(x), torch.tensor([k for _, k in files]),
                          [f.name for f in folders], preview="images", source=str(root))


def read_for_stream(path: Path, channels: int, height: int, width: int, max_megabytes: int) -> np.ndarray:
    """One image of a streamed folder: uint8 (channels, height, width) for 8-bit images, else float32 in [0, 1]
    (``I`` and ``F`` images by their own range)."""
    pixels, found = _decode(Path(path), channels, height, width, max_megabytes, keep_bytes=True)
    if found is not None:
        span = found[1] - found[0]
        pixels = np.clip(pixels / span, 0.0, 1.0) if span > 0 else np.zeros_like(pixels)
    return pixels if pixels.dtype == np.uint8 else pixels.astype(np.float32, copy=False)


def stream_image_folder(path: str = "", channels: int = 1, height: int = 28, width: int = 28,
                        max_megabytes: int = MAX_MEGABYTES) -> Dataset:
    """The image folder as a streamed dataset: the listing now, the images when training reads them."""
    if not path:
        raise DatasetError("no image folder chosen: set the dataset's path")
    root = Path(path)
    folders, files = plan_image_folder(root, channels, height, width, max_megabytes, streamed=True)
    return _streamed(root, folders, files, channels, height, width, max_megabytes)


def load_images(path: str = "", channels: int = 1, height: int = 28, width: int = 28,
                max_megabytes: int = MAX_MEGABYTES, storage: str = "auto", device: Any = "cpu") -> Dataset:
    """The image folder streamed or decoded whole by ``storage`` (auto: by its decoded size against
    ``data.stream.memory_budget`` of ``device``), listed once."""
    from nnstudio.core.data.stream import choose

    if not path:
        raise DatasetError("no image folder chosen: set the dataset's path")
    root = Path(path)
    folders, files = plan_image_folder(root, channels, height, width, max_megabytes, streamed=True)
    decoded = len(files) * channels * height * width * 4
    if choose(storage, decoded, device)[0] == "stream":
        return _streamed(root, folders, files, channels, height, width, max_megabytes)
    check_limit(decoded, max_megabytes, f"{len(files):,} images of {channels} x {height} x {width} would take")
    return _decode_all(root, folders, files, channels, height, width, max_megabytes)


def _streamed(root: Path, folders: list[Path], files: list[tuple[Path, int]], channels: int, height: int,
              width: int, max_megabytes: int) -> Dataset:
    from nnstudio.core.data.stream import ImageFiles, streamed_dataset

    source = ImageFiles([str(f) for f, _ in files], channels, height, width, max_megabytes)
    return streamed_dataset(shown(root.name), source, torch.tensor([k for _, k in files]),
                            [f.name for f in folders], source_text=str(root))
