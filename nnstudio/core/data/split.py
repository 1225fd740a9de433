"""Train / validation / test splits: shuffled with a seed, stratified by class for classification.

Stratified means each class keeps its share in every part. The number of validation (and test) samples is
``round(fraction * N)`` overall and is shared out between the classes by the largest-remainder rule, so every
class gets its share rounded up or down, never further off.
"""

from __future__ import annotations

import math

import torch

from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.errors import DatasetError


def _check_fractions(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value < 1:
            raise DatasetError(f"{name} must be a number from 0 up to (not including) 1, not {value!r}")
    if val_fraction + test_fraction >= 1:
        raise DatasetError(f"val_fraction {val_fraction:g} and test_fraction {test_fraction:g} add up to "
                           f"{val_fraction + test_fraction:g}, which leaves no samples for training: keep their sum "
                           "below 1")
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n_val == 0:
        need = 0.5 / n
        raise DatasetError(f"val_fraction {val_fraction:g} of {n:,} samples leaves the validation set empty: "
                           f"raise it to at least {math.ceil(need * 1000) / 1000:g}")
    if test_fraction > 0 and n_test == 0:
        raise DatasetError(f"test_fraction {test_fraction:g} of {n:,} samples leaves the test set empty: raise it "
                           "or set it to 0 for no test set")
    if n - n_val - n_test <= 0:
        raise DatasetError(f"val_fraction {val_fraction:g} and test_fraction {test_fraction:g} of {n:,} samples "
                           "leave no samples for training: lower them")
    return n_val, n_test


def _share(total: int, sizes: list[int], room: list[int]) -> list[int]:
    """``total`` shared between groups in proportion to ``sizes`` by the largest-remainder rule.

    A group never gets more than ``room`` nor more than its share rounded up; when small groups have no room
    the total comes out a little short rather than tilting the class shares.
    """
    n = sum(sizes)
    quotas = [total * s / n for s in sizes]
    limits = [min(r, math.ceil(q)) for q, r in zip(quotas, room)]
    counts = [min(math.floor(q), limit) for q, limit in zip(quotas, limits)]
    order = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    for i in order:
        if sum(counts) < total and counts[i] < limits[i]:
            counts[i] += 1
    return counts


def split_indices(dataset: Dataset, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0,
                  stratify: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index tensors (train, validation, test) into ``dataset``; test is empty when ``test_fraction`` is 0."""
    n = len(dataset)
    n_val, n_test = _check_fractions(n, val_fraction, test_fraction)
    g = torch.Generator().manual_seed(int(seed))
    if stratify and dataset.task != "regression" and dataset.y.dim() == 1:
        groups = [torch.nonzero(dataset.y == k).flatten() for k in range(max(dataset.num_classes,
                                                                              int(dataset.y.max()) + 1))]
        groups = [grp[torch.randperm(len(grp), generator=g)] for grp in groups if len(grp)]
    else:
        groups = [torch.randperm(n, generator=g)]
    sizes = [len(grp) for grp in groups]
    vals = _share(n_val, sizes, [s - 1 for s in sizes])  # leave at least one of each class for training
    tests = _share(n_test, sizes, [s - v - 1 for s, v in zip(sizes, vals)])
    parts: list[list[torch.Tensor]] = [[], [], []]
    for grp, v, t in zip(groups, vals, tests):
        parts[1].append(grp[:v])
        parts[2].append(grp[v:v + t])
        parts[0].append(grp[v + t:])
    if not sum(vals) or (n_test and not sum(tests)):
        part = "validation" if not sum(vals) else "test"
        raise DatasetError(f"every class has too few samples to give any to the {part} set: add samples")
    out = []
    for pieces in parts:
        index = torch.cat(pieces)
        out.append(index[torch.randperm(len(index), generator=g)])
    return out[0], out[1], out[2]


def split(dataset: Dataset, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0,
          stratify: bool = True) -> DataSplit:
    """Split ``dataset`` into train / validation (/ test) parts; the same seed always gives the same parts."""
    train, val, test = split_indices(dataset, val_fraction, test_fraction, seed, stratify)
    return DataSplit(train=dataset.subset(train), val=dataset.subset(val),
                     test=dataset.subset(test) if test_fraction > 0 else None)
