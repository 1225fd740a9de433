"""Importing a NumPy ``.npz`` archive holding an array ``X`` (samples first) and an array ``y`` (targets).

Loaded with ``allow_pickle=False``: an archive holding Python objects is refused, never unpickled (unpickling
a stranger's file can run any code). ``X`` is used as it is, without standardising: arrays are usually saved
already prepared.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification, encode_labels, looks_like_regression, regression
from nnstudio.core.errors import DatasetError

TASK_CHOICES = ("auto", "multiclass", "binary", "regression")
INPUT_CHOICES = ("features", "tokens")


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{path.name} is not a NumPy .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path.name} holds a single array, not an .npz archive with arrays X and y: "
                           "save it with numpy.savez(path, X=..., y=...)")
    with archive:
        keys = list(archive.files)
        missing = [k for k in ("X", "y") if k not in keys]
        if missing:
            found = ", ".join(keys) if keys else "none"
            raise DatasetError(f"{path.name} has no array {' or '.join(missing)} (arrays found: {found}): "
                               "save it with numpy.savez(path, X=..., y=...)")
        arrays = {}
        for key in ("X", "y"):
            try:
                arrays[key] = archive[key]
            except ValueError:  # object arrays need pickle, which is refused
                raise DatasetError(f"{path.name}: array {key} holds Python objects, which NN Studio does not load "
                                   "(loading them could run code): save numbers or strings instead") from None
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise DatasetError(f"{path.name}: array {key} cannot be read ({exc})") from None
    return arrays


def _check_finite(file: str, key: str, values: np.ndarray) -> None:
    if values.dtype.kind == "f" or values.dtype.kind == "c":
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1) if len(values) else np.zeros(0, bool)
        if bad.any():
            raise DatasetError(f"{file}: {key} holds NaN or infinite values ({int(bad.sum()):,} samples, the first "
                               f"is sample {int(np.argmax(bad))}, counting from 0): fill them in or remove them")


def _preview(x: torch.Tensor, task: str) -> str:
    shape = tuple(x.shape[1:])
    if len(shape) == 3 and shape[0] in (1, 3):
        return "images"
    if shape == (2,) and task != "regression":
        return "points2d"
    if shape == (1,) and task == "regression":
        return "curve"
    return "table"


def load_npz(path: str = "", task: str = "auto", inputs: str = "features") -> Dataset:
    """Samples from ``X`` (N, ...) and targets from ``y`` (N,) or (N, targets).

    ``inputs`` "tokens" reads ``X`` as whole-number token ids (N, length) for an Embedding.
    """
    if not path:
        raise DatasetError("no .npz file chosen: set the dataset's path")
    path = Path(path)
    arrays = _read(path)
    x, y = arrays["X"], arrays["y"]
    file = path.name
    if x.ndim == 0 or y.ndim == 0:
        raise DatasetError(f"{file}: X and y must hold one entry per sample, but "
                           f"{'X' if x.ndim == 0 else 'y'} is a single value")
    if len(x) != len(y):
        raise DatasetError(f"{file}: X has {len(x):,} samples but y has {len(y):,}; they must match")
    if len(x) == 0:
        raise DatasetError(f"{file} holds no samples")
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"{file}: X must hold numbers, not {x.dtype} values")
    _check_finite(file, "X", x)
    if x.ndim == 1:
        x = x[:, None]
    if inputs == "tokens":
        if x.dtype.kind == "f" and not np.all(np.mod(x, 1) == 0):
            raise DatasetError(f"{file}: X must hold whole-number token ids for token inputs")
        if x.min() < 0:
            raise DatasetError(f"{file}: X holds a negative token id ({int(x.min())})")
        tensor = torch.from_numpy(x.astype(np.int64))
    else:
        tensor = torch.from_numpy(x.astype(np.float32))
    data = _targets(file, tensor, y, task)
    if inputs == "tokens":
        data.vocab = ["<pad>", "<unk>"] + [str(i) for i in range(2, int(tensor.max()) + 1)]
    return data


def _targets(file: str, x: torch.Tensor, y: np.ndarray, task: str) -> Dataset:
    name, source = file, file
    if y.dtype.kind not in "biufU":
        raise DatasetError(f"{file}: y must hold numbers or class names, not {y.dtype} values")
    _check_finite(file, "y", y)
    numeric = y.dtype.kind in "biuf"
    if task == "auto":
        regress = y.dtype.kind == "f" and (y.ndim > 1 and y.shape[1] > 1 or looks_like_regression(y))
        task = "regression" if regress else "classification"
    if task == "regression":
        if not numeric:
            raise DatasetError(f"{file}: y holds class names ({y.dtype}) but the task is regression")
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
