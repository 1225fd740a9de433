"""Importing a NumPy ``.npz`` archive holding an array ``X`` (samples first) and an array ``y`` (targets).

The archive is read here, not with ``numpy.load``: each member's ``.npy`` header (shape, dtype) is read first,
without the data, and checked before anything is allocated: Python objects (which would need unpickling, and
unpickling a stranger's file can run any code) are refused; the header must agree with the member's size in the
archive (a header claiming terabytes in a small file is refused, never allocated); and the arrays, with the
tensors they become, must fit the ``max_megabytes`` option. The data are then read in chunks (the load can be
cancelled between them). ``X`` is used as it is, without standardising: arrays are usually saved already
prepared. Values that 32-bit floats cannot hold (NaN, infinity, beyond about 3.4e38) are reported with the
sample and the column.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import (FLOAT32_MAX, TARGET_LIMIT, classification, encode_labels,
                                       looks_like_regression, regression)
from nnstudio.core.data.reading import (MAX_MEGABYTES, check_limit, current_token, open_regular, read_chunks,
                                        shown, size_text)
from nnstudio.core.errors import DatasetError

TASK_CHOICES = ("auto", "multiclass", "binary", "regression")
INPUT_CHOICES = ("features", "tokens")
MAX_MEMBERS = 10_000  # an .npz holds a few arrays; a central directory of millions of entries is refused
MAX_TOKEN_ID = 10_000_000  # the largest vocabulary an Embedding is offered (text_csv's max_vocab ceiling)
NPY_MAGIC = b"\x93NUMPY"
CHECK_ELEMENTS = 1 << 22  # values checked for NaN, infinity and range at a time


class _Member:
    """One array in the archive: where it is and what its header says."""

    def __init__(self, key: str, info: zipfile.ZipInfo, shape: tuple[int, ...], fortran: bool,
                 dtype: np.dtype, data_bytes: int) -> None:
        self.key, self.info, self.shape, self.fortran, self.dtype = key, info, shape, fortran, dtype
        self.data_bytes = data_bytes
        self.count = int(np.prod(shape, dtype=object))


def _member_count(file: BinaryIO) -> int | None:
    """The number of entries the archive's end record declares, read before the central directory is."""
    reader = getattr(zipfile, "_EndRecData", None)
    if reader is None:  # pragma: no cover - a Python without it: the directory is parsed, then counted
        return None
    try:
        record = reader(file)
    except OSError:
        return None
    finally:
        file.seek(0)
    return int(record[zipfile._ECD_ENTRIES_TOTAL]) if record else None


def _header(file: str, key: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    fmt = np.lib.format
    try:
        with archive.open(info) as member:
            version = fmt.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(member)
            else:
                raise DatasetError(f"{file}: array {key} is in .npy format {version[0]}.{version[1]}, which NN "
                                   "Studio does not read: save it with numpy.savez(path, X=..., y=...)")
            header_bytes = member.tell()
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError, TypeError) as exc:
        text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"{file}: array {key} is not a NumPy array ({text[:200]})") from None
    if dtype.hasobject:
        raise DatasetError(f"{file}: array {key} holds Python objects, which NN Studio does not load "
                           "(loading them could run code): save numbers or strings instead")
    if dtype.names is not None or dtype.subdtype is not None:
        raise DatasetError(f"{file}: array {key} holds records ({dtype}), not plain numbers: save a plain array")
    count = int(np.prod(shape, dtype=object))  # Python integers: a crafted shape cannot overflow
    data_bytes = count * dtype.itemsize
    if data_bytes + header_bytes != info.file_size:
        raise DatasetError(f"{file}: array {key}'s header claims shape {tuple(shape)} of {dtype} "
                           f"({size_text(data_bytes)}) but the archive holds {size_text(info.file_size)} for it: "
                           "the file is damaged or was not written by numpy.savez")
    return _Member(key, info, tuple(int(d) for d in shape), bool(fortran), dtype, data_bytes)


def _read_member(file: str, archive: zipfile.ZipFile, member: _Member, done: int, total: int) -> np.ndarray:
    token = current_token()
    if member.data_bytes == 0:
        return np.empty(member.shape, dtype=member.dtype)
    flat = np.empty(member.count, dtype=member.dtype)
    try:
        with archive.open(member.info) as stream:
            stream.seek(member.info.file_size - member.data_bytes)  # past the header
            read_chunks(stream, memoryview(flat.view(np.uint8)), token, done, total, f"reading {file}",
                        lambda got: DatasetError(f"{file}: array {member.key} ends after {size_text(got)} of "
                                                 f"{size_text(member.data_bytes)}: the file is damaged"))
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{file}: array {member.key} cannot be read ({exc})") from None
    return flat.reshape(member.shape, order="F" if member.fortran else "C")


def _open(path: Path, max_megabytes: int) -> tuple[BinaryIO, zipfile.ZipFile]:
    name = shown(path.name)
    stream, _ = open_regular(path, "path", ".npz file", max_megabytes)
    try:
        magic = stream.read(len(NPY_MAGIC))
        stream.seek(0)
        if magic == NPY_MAGIC:
            raise DatasetError(f"{name} holds a single array, not an .npz archive with arrays X and y: "
                               "save it with numpy.savez(path, X=..., y=...)")
        declared = _member_count(stream)
        if declared is not None and declared > MAX_MEMBERS:
            raise DatasetError(f"{name} declares {declared:,} archive members; an .npz of X and y holds a few")
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise DatasetError(f"{name} is not a NumPy .npz archive ({exc})") from None
        if len(archive.infolist()) > MAX_MEMBERS:
            raise DatasetError(f"{name} holds {len(archive.infolist()):,} archive members; an .npz of X and y "
                               "holds a few")
        return stream, archive
    except BaseException:
        stream.close()
        raise


def _members(file: str, archive: zipfile.ZipFile, inputs: str, max_megabytes: int) -> tuple[_Member, _Member]:
    """X's and y's headers, checked against each other and the limit; nothing of their data is read."""
    members = {}
    for info in archive.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        members.setdefault(key, info)
    missing = [k for k in ("X", "y") if k not in members]
    if missing:
        found = ", ".join(shown(k) for k in list(members)[:20]) if members else "none"
        raise DatasetError(f"{file} has no array {' or '.join(missing)} (arrays found: {found}): "
                           "save it with numpy.savez(path, X=..., y=...)")
    x, y = (_header(file, key, archive, members[key]) for key in ("X", "y"))
    for m in (x, y):
        if not m.shape:
            raise DatasetError(f"{file}: X and y must hold one entry per sample, but {m.key} is a single value")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{file}: X has {x.shape[0]:,} samples but y has {y.shape[0]:,}; they must match")
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"{file}: X must hold numbers, not {x.dtype} values")
    if y.dtype.kind not in "biufU":
        raise DatasetError(f"{file}: y must hold numbers or class names, not {y.dtype} values")
    check_limit(needed_bytes(x, y, inputs), max_megabytes, f"{file}: X {x.shape} of {x.dtype} and y {y.shape} of "
                f"{y.dtype} would take")
    return x, y


def needed_bytes(x: _Member, y: _Member, inputs: str) -> int:
    """The arrays as stored, and the tensors they become (float32 or int64 ids; y as float32 or int64 labels)."""
    return x.data_bytes + y.data_bytes + x.count * (8 if inputs == "tokens" else 4) + y.count * 8


def inspect_npz(path: str | Path, inputs: str = "features", max_megabytes: int = MAX_MEGABYTES) -> int:
    """Check an .npz from its headers alone, as :func:`load_npz` would before reading; the bytes it needs."""
    path = Path(path)
    stream, archive = _open(path, max_megabytes)
    with stream, archive:
        return needed_bytes(*_members(shown(path.name), archive, inputs, max_megabytes), inputs)


def _read(path: Path, inputs: str, max_megabytes: int) -> dict[str, np.ndarray]:
    file = shown(path.name)
    current_token().check()
    stream, archive = _open(path, max_megabytes)
    with stream, archive:
        x, y = _members(file, archive, inputs, max_megabytes)
        total = x.data_bytes + y.data_bytes
        arrays = {"X": _read_member(file, archive, x, 0, total)}
        arrays["y"] = _read_member(file, archive, y, x.data_bytes, total)
    return arrays


def _position(shape: tuple[int, ...], flat: int) -> str:
    """Where in a sample a flat index is: "column 3" for vectors, "position (0, 4, 2)" for larger samples."""
    if len(shape) <= 1:
        return f"column {flat}"
    return f"position {tuple(int(i) for i in np.unravel_index(flat, shape))}"


def check_values(file: str, key: str, values: np.ndarray, limit: float = FLOAT32_MAX, why: str = "") -> None:
    """Refuse NaN, infinity and magnitudes above ``limit`` in a numeric array, naming the sample and the column
    (integers are checked only against a ``limit`` below float32's: they always fit float32)."""
    if values.dtype.kind not in "fiu" or (values.dtype.kind in "iu" and limit >= FLOAT32_MAX) or not len(values):
        return
    token = current_token()
    flat = values.reshape(len(values), -1)
    step = max(1, CHECK_ELEMENTS // max(1, flat.shape[1]))
    for start in range(0, len(flat), step):
        token.check()
        block = flat[start:start + step]
        if block.dtype.kind == "f":
            bad = ~np.isfinite(block)
            if bad.any():
                rows = np.flatnonzero(bad.any(axis=1))
                col = int(np.flatnonzero(bad[rows[0]])[0])
                total = int(rows.size) + sum(int((~np.isfinite(flat[s:s + step])).any(axis=1).sum())
                                             for s in range(start + step, len(flat), step))
                raise DatasetError(f"{file}: {key} holds NaN or infinite values in {total:,} "
                                   f"sample{'s' if total != 1 else ''}; the first is sample {start + int(rows[0])}, "
                                   f"{_position(values.shape[1:], col)} (counting from 0): fill them in or remove "
                                   "them")
        big = np.abs(block.astype(np.float64, copy=False)) > limit
        if big.any():
            row, col = (int(i) for i in np.argwhere(big)[0])
            value = block[row, col].item()
            raise DatasetError(f"{file}: {key} sample {start + row}, {_position(values.shape[1:], col)} (counting "
                               f"from 0) holds {value:.6g}, " + (why or "beyond the range of the 32-bit numbers "
                               f"training computes in (about {FLOAT32_MAX:.1e})") + ": scale it down")


def load_npz(path: str = "", task: str = "auto", inputs: str = "features",
             max_megabytes: int = MAX_MEGABYTES) -> Dataset:
    """Samples from ``X`` (N, ...) and targets from ``y`` (N,) or (N, targets).

    ``inputs`` "tokens" reads ``X`` as whole-number token ids (N, length) for an Embedding.
    """
    if not path:
        raise DatasetError("no .npz file chosen: set the dataset's path")
    path = Path(path)
    arrays = _read(path, inputs, max_megabytes)
    x, y = arrays["X"], arrays["y"]
    file = shown(path.name)
    if len(x) == 0:
        raise DatasetError(f"{file} holds no samples")
    check_values(file, "X", x)
    if x.ndim == 1:
        x = x[:, None]
    if inputs == "tokens":
        if x.dtype.kind == "f" and not np.all(np.mod(x, 1) == 0):
            raise DatasetError(f"{file}: X must hold whole-number token ids for token inputs")
        if x.min() < 0:
            raise DatasetError(f"{file}: X holds a negative token id ({int(x.min())})")
        if x.max() > MAX_TOKEN_ID:
            raise DatasetError(f"{file}: X holds the token id {int(x.max()):,}; NN Studio's vocabularies end at "
                               f"{MAX_TOKEN_ID:,}: number the tokens from 2 upwards")
        tensor = torch.from_numpy(x.astype(np.int64))
    else:
        tensor = torch.from_numpy(x.astype(np.float32))
    del arrays, x
    data = _targets(file, tensor, y, task)
    if inputs == "tokens":
        data.vocab = ["<pad>", "<unk>"] + [str(i) for i in range(2, int(tensor.max()) + 1)]
    return data


def _preview(x: torch.Tensor, task: str) -> str:
    shape = tuple(x.shape[1:])
    if len(shape) == 3 and shape[0] in (1, 3):
        return "images"
    if shape == (2,) and task != "regression":
        return "points2d"
    if shape == (1,) and task == "regression":
        return "curve"
    return "table"


def _targets(file: str, x: torch.Tensor, y: np.ndarray, task: str) -> Dataset:
    name, source = file, file
    if y.dtype.kind not in "biufU":
        raise DatasetError(f"{file}: y must hold numbers or class names, not {y.dtype} values")
    check_values(file, "y", y)
    numeric = y.dtype.kind in "biuf"
    if task == "auto":
        regress = y.dtype.kind == "f" and (y.ndim > 1 and y.shape[1] > 1 or looks_like_regression(y))
        task = "regression" if regress else "classification"
    if task == "regression":
        if not numeric:
            raise DatasetError(f"{file}: y holds class names ({y.dtype}) but the task is regression")
        check_values(file, "y", y, TARGET_LIMIT, f"too large for a regression target (beyond {TARGET_LIMIT:.0e}, "
                     "the squared error overflows 32-bit numbers)")
        targets = torch.from_numpy(y.astype(np.float32).reshape(len(y), -1))
        return regression(name, x, targets, preview=_preview(x, "regression"), source=source)
    if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise DatasetError(f"{file}: y has shape {tuple(y.shape)}, but class labels must be one per sample, "
                           "shape (N,): choose the regression task for several targets per sample")
    labels, classes = encode_labels(y.reshape(-1).tolist(), f"{file}: y")
    if task == "binary" and len(classes) != 2:
        raise DatasetError(f"{file}: y has {len(classes)} classes but the task is binary: choose multiclass")
    chosen = task if task in ("multiclass", "binary") else None
    return classification(name, x, labels, classes, preview=_preview(x, "classification"), source=source,
                          task=chosen)
