"""The two file formats of the standard image datasets, read without torchvision and without pickle.

* **IDX** (MNIST, Fashion-MNIST, KMNIST): a 4-byte magic number ``00 00 08 0n`` (unsigned bytes, ``n``
  dimensions: 0x00000803 for images, 0x00000801 for labels), ``n`` big-endian 32-bit sizes, then the bytes.
  Read plain or gzip-compressed (``.gz``, as downloaded).
* **CIFAR-10 binary batches**: records of 3,073 bytes, a label byte then 3,072 pixels (the red plane, then the
  green, then the blue, each 32 x 32, row by row).

A header is checked against the file's size before anything is allocated, so a lying header is one clear
line naming the file. Plain files are mapped into memory (``np.memmap``: nothing is copied until the pixels
are used); a ``.gz`` file is decompressed in chunks into an array of the size its header promises, after that
size has been checked against the gzip trailer, what the compressed size can hold and ``max_megabytes``. Only
regular files are opened (:func:`~nnstudio.core.data.reading.open_regular`).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnstudio.core.data.reading import CHUNK_BYTES, check_limit, current_token, open_regular, shown, size_text
from nnstudio.core.errors import DatasetError

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
UBYTE = 0x08  # the IDX type code of unsigned bytes, the only type these datasets use
IDX_TYPES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "16-bit integers", 0x0C: "32-bit integers",
             0x0D: "32-bit floats", 0x0E: "64-bit floats"}
GZIP_MAX_RATIO = 1100  # deflate packs at most about 1,032 bytes into one: a larger promise is a lie
CIFAR_RECORD = 3073  # label byte + 3 x 32 x 32 pixels
CIFAR_SHAPE = (3, 32, 32)


def _what(magic: int) -> str:
    return "images" if magic == IMAGES_MAGIC else "labels"


def _parse_header(head: bytes, path: Path, magic: int) -> tuple[int, ...]:
    """The dimensions an IDX header declares, after checking its magic number against ``magic``."""
    want_dims = magic & 0xFF
    if len(head) < 4:
        raise DatasetError(f"{shown(path)} is too short to be an IDX file ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0 or head[3] != want_dims:
        found = int.from_bytes(head[:4], "big")
        raise DatasetError(f"{shown(path)} is not an IDX {_what(magic)} file: it starts with 0x{found:08x}, "
                           f"not the magic number 0x{magic:08x}")
    if head[2] != UBYTE:
        kind = IDX_TYPES.get(head[2], f"type 0x{head[2]:02x}")
        raise DatasetError(f"{shown(path)} holds {kind}; the {_what(magic)} of these datasets are unsigned bytes")
    size = 4 + 4 * want_dims
    if len(head) < size:
        raise DatasetError(f"{shown(path)} ends inside its IDX header ({len(head)} of {size} bytes)")
    return tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(want_dims))


def header_size(magic: int) -> int:
    return 4 + 4 * (magic & 0xFF)


def _promise(path: Path, dims: tuple[int, ...], size: int, actual: int) -> DatasetError:
    shape = " x ".join(f"{d:,}" for d in dims)
    return DatasetError(f"{shown(path)}: its header promises {shape} values ({size_text(size)} with the header) "
                        f"but the file holds {size_text(actual)} ({actual:,} bytes): the file is damaged or "
                        "truncated; download it again")


def read_idx(path: Path, magic: int, count: int = 0, max_megabytes: int = 2048,
             option: str = "root") -> np.ndarray:
    """An IDX file's array (uint8; (N, rows, cols) images or (N,) labels); only its first ``count`` items
    when ``count`` > 0. Plain files are memory-mapped (a read-only view), ``.gz`` files decompressed."""
    path = Path(path)
    stream, size = open_regular(path, option, "file", max_megabytes)
    with stream:
        if path.suffix == ".gz":
            return _read_gz(stream, size, path, magic, count, max_megabytes)
        head = stream.read(header_size(magic))
        dims = _parse_header(head, path, magic)
        needed = header_size(magic) + int(np.prod(dims, dtype=object))
        if needed != size:
            raise _promise(path, dims, needed, size)
        if needed == header_size(magic):  # no values (0 images): nothing to map
            return np.zeros(dims, dtype=np.uint8)
        data = np.memmap(stream, dtype=np.uint8, mode="r", offset=header_size(magic), shape=dims)
    return data[:count] if count else data


def idx_count(path: Path, magic: int, max_megabytes: int = 2048, option: str = "root") -> tuple[int, ...]:
    """The dimensions of an IDX file, checked as far as can be without reading its data: a plain file's size
    must match its header; a ``.gz`` file's header must agree with its trailer and compressed size."""
    path = Path(path)
    stream, size = open_regular(path, option, "file", max_megabytes)
    with stream:
        if path.suffix == ".gz":
            return _gz_header(stream, size, path, magic)[0]
        dims = _parse_header(stream.read(header_size(magic)), path, magic)
    needed = header_size(magic) + int(np.prod(dims, dtype=object))
    if needed != size:
        raise _promise(path, dims, needed, size)
    return dims


def _gz_header(stream: BinaryIO, size: int, path: Path, magic: int) -> tuple[tuple[int, ...], gzip.GzipFile]:
    """(dims, the open gzip reader just past the header): the header's promise is checked against the
    gzip trailer (the uncompressed size modulo 2**32) and against what ``size`` compressed bytes can hold."""
    if size < 18:
        raise DatasetError(f"{shown(path)} is too short to be a gzip file ({size} bytes)")
    stream.seek(size - 4)
    trailer = int.from_bytes(stream.read(4), "little")
    stream.seek(0)
    reader = gzip.GzipFile(fileobj=stream, mode="rb")
    try:
        head = _gz_read(reader, header_size(magic), path)
        dims = _parse_header(head, path, magic)
    except BaseException:
        reader.close()
        raise
    needed = header_size(magic) + int(np.prod(dims, dtype=object))
    if needed % 2**32 != trailer or needed > size * GZIP_MAX_RATIO:
        reader.close()
        shape = " x ".join(f"{d:,}" for d in dims)
        raise DatasetError(f"{shown(path)}: its header promises {shape} values ({size_text(needed)}) but the "
                           f"compressed file holds {size_text(trailer)} by its gzip trailer: the file is "
                           "damaged or truncated; download it again")
    return dims, reader


def _gz_read(reader: gzip.GzipFile, count: int, path: Path) -> bytes:
    try:
        return reader.read(count)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{shown(path)} cannot be decompressed ({exc}): the file is damaged; download it "
                           "again") from None


def _read_gz(stream: BinaryIO, size: int, path: Path, magic: int, count: int, max_megabytes: int) -> np.ndarray:
    dims, reader = _gz_header(stream, size, path, magic)
    with reader:
        n = min(count, dims[0]) if count else dims[0]
        item = int(np.prod(dims[1:], dtype=object)) if len(dims) > 1 else 1
        check_limit(n * item, max_megabytes, f"{shown(path.name)} decompresses to")
        out = np.empty(n * item, dtype=np.uint8)
        view, filled, token = memoryview(out), 0, current_token()
        what = f"Reading {path.name}"
        while filled < len(out):
            try:
                got = reader.readinto(view[filled:filled + CHUNK_BYTES])
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetError(f"{shown(path)} cannot be decompressed ({exc}): the file is damaged or "
                                   "truncated; download it again") from None
            if not got:
                raise DatasetError(f"{shown(path)} ends after {filled + header_size(magic):,} of the "
                                   f"{n * item + header_size(magic):,} bytes its header promises: the file is "
                                   "truncated; download it again")
            filled += got
            token.report(filled, len(out), what)
        if n == dims[0] and _gz_read(reader, 1, path):
            raise DatasetError(f"{shown(path)} holds more data than its header promises: the file is damaged")
    return out.reshape((n, *dims[1:]))


def cifar_count(path: Path, max_megabytes: int = 2048, option: str = "root") -> int:
    """How many records a CIFAR-10 binary batch holds (its size must be a whole number of them)."""
    stream, size = open_regular(Path(path), option, "file", max_megabytes)
    stream.close()
    return _records(Path(path), size)


def _records(path: Path, size: int) -> int:
    if size == 0 or size % CIFAR_RECORD:
        raise DatasetError(f"{shown(path)} is {size:,} bytes, not a whole number of CIFAR-10 records of "
                           f"{CIFAR_RECORD:,} bytes (a label byte and 3 x 32 x 32 pixels): the file is damaged "
                           "or truncated, or not a CIFAR-10 binary batch (the python version is not read)")
    return size // CIFAR_RECORD


def read_cifar(path: Path, count: int = 0, max_megabytes: int = 2048,
               option: str = "root") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels uint8 (N,)) of a CIFAR-10 binary batch: read-only views of the
    memory-mapped file; only its first ``count`` records when ``count`` > 0."""
    path = Path(path)
    stream, size = open_regular(path, option, "file", max_megabytes)
    with stream:
        n = _records(path, size)
        records = np.memmap(stream, dtype=np.uint8, mode="r", shape=(n, CIFAR_RECORD))
    if count:
        records = records[:count]
    return records[:, 1:].reshape(-1, *CIFAR_SHAPE), records[:, 0]


def check_labels(labels: np.ndarray, classes: int, path: Path) -> np.ndarray:
    """``labels`` as int64 after checking that each is a class index below ``classes``."""
    out = np.asarray(labels).astype(np.int64)
    bad = np.flatnonzero(out >= classes)
    if len(bad):
        raise DatasetError(f"{shown(path)}: label {int(out[bad[0]])} of item {int(bad[0]):,} (counting from 0) is "
                           f"not one of the {classes} classes 0 .. {classes - 1}: the file is damaged")
    return out

