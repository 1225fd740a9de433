"""Small helpers the dataset modules share: building classification / regression datasets, standardising.

Kept apart from ``base`` so that ``base`` stays the plain description of a dataset the rest of the app reads.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.errors import DatasetError

# A numeric target with more distinct values than this (or with fractions) is taken as regression by "auto".
MAX_AUTO_CLASSES = 20
# Training computes in float32: a value beyond this becomes infinite. A regression target beyond TARGET_LIMIT
# makes the squared error overflow (sqrt(3.4e38) is about 1.8e19), so it is refused too.
FLOAT32_MAX = float(np.finfo(np.float32).max)
TARGET_LIMIT = 1e18


def classification_task(num_classes: int) -> str:
    """Two classes are a binary task (labels 0 / 1), more are multi-class."""
    return "binary" if num_classes == 2 else "multiclass"


def classification(name: str, x: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], *,
                   preview: str, feature_names: Sequence[str] = (), source: str = "",
                   task: str | None = None) -> Dataset:
    """A classification dataset: ``labels`` are class indices 0 .. len(classes) - 1."""
    return Dataset(name=name, task=task or classification_task(len(classes)), x=x.contiguous(),
                   y=labels.to(torch.long).contiguous(), classes=list(classes),
                   feature_names=list(feature_names), preview=preview, source=source)


def regression(name: str, x: torch.Tensor, targets: torch.Tensor, *, preview: str,
               feature_names: Sequence[str] = (), source: str = "") -> Dataset:
    """A regression dataset: ``targets`` become float32 of shape (N, targets)."""
    y = targets.to(torch.float32)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    return Dataset(name=name, task="regression", x=x.contiguous(), y=y.contiguous(),
                   feature_names=list(feature_names), preview=preview, source=source)


def standardise(columns: np.ndarray) -> np.ndarray:
    """Z-score each column (mean 0, standard deviation 1); a constant column becomes all zeros."""
    columns = np.asarray(columns, dtype=np.float64)
    mean = columns.mean(axis=0)
    std = np.atleast_1d(columns.std(axis=0))
    std[std == 0] = 1.0
    std = std.reshape(mean.shape)
    return (columns - mean) / std


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts that differ by at most one (the first parts get the extra)."""
    base, extra = divmod(int(total), int(parts))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def encode_labels(values: Sequence, where: str) -> tuple[torch.Tensor, list[str]]:
    """Map labels (strings or numbers) to indices 0 .. k-1; classes in sorted order (numbers numerically).

    Numbers are named without a trailing ``.0`` ("1", not "1.0"); 1 and 1.0 are the same class. A float
    array (a numeric column) is encoded at C speed.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        unique, ids = np.unique(values.astype(np.float64), return_inverse=True)
        if len(unique) < 2:
            only = _number_name(unique[0]) if len(unique) else "none"
            raise DatasetError(f"{where}: every sample has the same label ({only}); a classifier needs at least "
                               "two classes")
        return torch.from_numpy(ids.reshape(-1).astype(np.int64)), [_number_name(v) for v in unique]
    keys: list = []
    for v in values:
        if isinstance(v, str):
            keys.append(v)
        else:
            f = float(v)
            keys.append(int(f) if f.is_integer() else f)
    numeric = all(not isinstance(k, str) for k in keys)
    unique = sorted(set(keys)) if numeric else sorted(set(str(k) for k in keys))
    if len(unique) < 2:
        only = unique[0] if unique else "none"
        raise DatasetError(f"{where}: every sample has the same label ({only}); a classifier needs at least "
                           "two classes")
    index = {k: i for i, k in enumerate(unique)}
    ids = [index[k] if numeric else index[str(k)] for k in keys]
    return torch.tensor(ids, dtype=torch.long), [str(k) for k in unique]


def _number_name(value: float) -> str:
    f = float(value)
    return str(int(f) if f.is_integer() else f)


def looks_like_regression(values: np.ndarray) -> bool:
    """The "auto" task rule for numeric targets: fractions with more than two values, or many distinct values."""
    values = np.asarray(values, dtype=np.float64)
    distinct = np.unique(values)
    if len(distinct) > MAX_AUTO_CLASSES:
        return True
    return len(distinct) > 2 and not np.all(np.equal(np.mod(distinct, 1), 0))


def plural(count: int, word: str) -> str:
    """``plural(1204, "word")`` -> ``"1,204 words"``."""
    suffix = "" if count == 1 else ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{count:,} {word}{suffix}"
