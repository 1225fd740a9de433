"""Splits: every sample lands in exactly one part, sizes follow the fractions, classes keep their shares,
the seed decides, and fractions that leave a part empty are refused in plain words."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudio.core.data import split
from nnstudio.core.data.base import Dataset
from nnstudio.core.data.split import split_indices
from nnstudio.core.data.synthetic import sine
from nnstudio.core.errors import DatasetError


def _classes(counts: list[int]) -> Dataset:
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    x = torch.arange(len(y), dtype=torch.float32).unsqueeze(1)
    task = "binary" if len(counts) == 2 else "multiclass"
    return Dataset("counts", task, x, y, classes=[f"c{k}" for k in range(len(counts))],
                   texts=[f"sample {i}" for i in range(len(y))])


def _ids(part: Dataset) -> list[int]:
    return part.x[:, 0].long().tolist()


def test_parts_cover_every_sample_once_with_the_asked_sizes():
    data = _classes([500, 300, 200])
    parts = split(data, val_fraction=0.2, test_fraction=0.1, seed=1)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (700, 200, 100)
    every = _ids(parts.train) + _ids(parts.val) + _ids(parts.test)
    assert sorted(every) == list(range(1000))


def test_no_test_fraction_means_no_test_set():
    parts = split(_classes([50, 50]), val_fraction=0.3)
    assert parts.test is None and len(parts.val) == 30 and len(parts.train) == 70


def test_stratified_parts_keep_each_class_share():
    data = _classes([600, 300, 100])
    parts = split(data, val_fraction=0.25, test_fraction=0.15, seed=3)
    assert torch.bincount(parts.val.y).tolist() == [150, 75, 25]
    assert torch.bincount(parts.test.y).tolist() == [90, 45, 15]
    assert torch.bincount(parts.train.y).tolist() == [360, 180, 60]


def test_without_stratification_shares_drift():
    data = _classes([900, 100])
    drift = []
    for seed in range(20):
        val = split(data, 0.1, seed=seed, stratify=False).val
        drift.append(abs(int((val.y == 1).sum()) - 10))
    assert max(drift) >= 2  # a plain shuffle does not keep 10 of the rare class in every validation set


def test_the_seed_decides_the_split():
    data = _classes([100, 100, 100])
    a, b, c = split(data, seed=5), split(data, seed=5), split(data, seed=6)
    assert _ids(a.val) == _ids(b.val) and _ids(a.train) == _ids(b.train)
    assert _ids(a.val) != _ids(c.val)


def test_parts_are_shuffled_and_keep_texts_and_metadata():
    data = _classes([100, 100])
    parts = split(data, 0.5, seed=0)
    assert parts.val.y.tolist() != sorted(parts.val.y.tolist())
    assert parts.val.texts == [f"sample {i}" for i in _ids(parts.val)]
    assert parts.train.classes == data.classes and parts.train.task == data.task


def test_regression_splits_without_classes():
    data = sine(samples=101)
    parts = split(data, 0.2, 0.2, seed=0)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (61, 20, 20)
    assert parts.val.y.shape == (20, 1)


@pytest.mark.parametrize("val, test, message", [
    (0.0, 0.0, "val_fraction 0 of 50 samples leaves the validation set empty: raise it to at least 0.01"),
    (0.005, 0.0, "leaves the validation set empty"),
    (0.2, 0.005, "test_fraction 0.005 of 50 samples leaves the test set empty"),
    (0.6, 0.4, "add up to 1, which leaves no samples for training"),
    (1.0, 0.0, "val_fraction must be a number from 0 up to (not including) 1, not 1.0"),
    (-0.1, 0.0, "val_fraction must be a number from 0 up to (not including) 1"),
    (0.2, "a", "test_fraction must be a number"),
    (0.5, 0.495, "of 50 samples leave no samples for training"),
])
def test_fractions_that_leave_a_part_empty_are_refused(val, test, message):
    with pytest.raises(DatasetError) as error:
        split(_classes([25, 25]), val, test)
    assert message in str(error.value), str(error.value)


def test_tiny_classes_keep_a_sample_for_training_without_tilting_the_shares():
    y = _classes([1, 1, 1, 20]).y
    train, val, _ = split_indices(_classes([1, 1, 1, 20]), 0.2, seed=0)
    assert set(y[train].tolist()) == {0, 1, 2, 3}
    assert y[val].tolist() == [3] * 5  # round(0.2 * 23) = 5, all from the one class that can spare them
    data = _classes([1] * 10 + [10])
    train, val, _ = split_indices(data, 0.5, seed=0)
    assert data.y[val].tolist() == [10] * 5  # its share of round(0.5 * 20) = 10, not the 9 it could spare


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 60), min_size=2, max_size=6),
       val=st.floats(0.05, 0.5), test=st.sampled_from([0.0, 0.1, 0.2]), seed=st.integers(0, 1000))
def test_any_split_is_a_partition_within_rounding_of_each_share(counts, val, test, seed):
    data = _classes(counts)
    n = len(data)
    try:
        train, val_index, test_index = split_indices(data, val, test, seed)
    except DatasetError:
        return  # too few samples for these fractions: refused, which the cases above check
    joined = torch.cat([train, val_index, test_index]).tolist()
    assert sorted(joined) == list(range(n))
    n_val = round(val * n)
    assert 0 < len(val_index) <= n_val
    for k, count in enumerate(counts):
        in_val = int((data.y[val_index] == k).sum())
        quota = n_val * count / n
        # Each class gets its share rounded down or up, unless it must keep one sample back for training.
        assert in_val <= math.ceil(quota) and (in_val >= math.floor(quota) or in_val == count - 1)
        assert int((data.y[train] == k).sum()) >= 1
