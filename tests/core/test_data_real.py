"""The bundled real datasets: shapes and scaling, equality with scikit-learn's copies (when it is installed:
it is a test-only dependency), attribution present, and loading without scikit-learn."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

from nnstudio.core.data import bundled

TABLES = {"iris": (150, 4, 3), "wine": (178, 13, 3), "breast_cancer": (569, 30, 2)}


def test_digits_at_8_pixels_are_the_scans_scaled_to_0_1():
    data = bundled.digits()
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == torch.float32
    assert data.y.shape == (1797,) and data.y.dtype == torch.long
    assert data.x.min() == 0 and data.x.max() == 1
    assert data.classes == [str(d) for d in range(10)] and data.task == "multiclass"
    assert data.preview == "images" and "CC BY 4.0" in data.source
    counts = torch.bincount(data.y)
    assert len(counts) == 10 and counts.min() >= 170
    images, _ = bundled.digit_arrays()
    assert torch.equal(data.x[:, 0] * 16, torch.from_numpy(images.astype(np.float32)))


def test_digits_at_28_pixels_are_a_bilinear_resize_in_0_1():
    small, large = bundled.digits(8), bundled.digits(28)
    assert large.x.shape == (1797, 1, 28, 28) and large.x.dtype == torch.float32
    assert large.x.min() >= 0 and large.x.max() <= 1
    assert torch.equal(small.y, large.y)
    back = torch.nn.functional.interpolate(large.x[:50], size=(8, 8), mode="area")
    assert (back - small.x[:50]).abs().mean() < 0.08  # the same digits, only larger


@pytest.mark.parametrize("name", TABLES)
def test_tables_are_standardised_with_their_feature_names(name):
    rows, features, classes = TABLES[name]
    data = getattr(bundled, name)()
    assert data.x.shape == (rows, features) and data.x.dtype == torch.float32
    assert torch.allclose(data.x.mean(0), torch.zeros(features), atol=1e-5)
    assert torch.allclose(data.x.std(0, unbiased=False), torch.ones(features), atol=1e-4)
    assert len(data.feature_names) == features and data.num_classes == classes
    assert data.task == ("binary" if classes == 2 else "multiclass") and data.preview == "table"
    assert data.y.dtype == torch.long and set(data.y.tolist()) == set(range(classes))


def test_every_bundled_set_is_attributed():
    text = (bundled.DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for words in ("Alpaydin", "Fisher", "Forina", "Wolberg", "CC BY 4.0", "UCI Machine Learning Repository"):
        assert words in text


def test_bundled_sets_load_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "from nnstudio.core.data import bundled\n"
            "for name in ('digits', 'iris', 'wine', 'breast_cancer'): getattr(bundled, name)()\n"
            "assert sys.modules['sklearn'] is None\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- equality with scikit-learn's copies ------------------------------------------------------------------
def test_bundled_digits_equal_scikit_learns():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    images, labels = bundled.digit_arrays()
    assert images.dtype == np.uint8 and np.array_equal(images, reference.images)
    assert np.array_equal(labels, reference.target)
    assert np.array_equal(bundled.digits().y.numpy(), reference.target)


@pytest.mark.parametrize("name", TABLES)
def test_bundled_tables_equal_scikit_learns(name):
    datasets = pytest.importorskip("sklearn.datasets")
    reference = getattr(datasets, f"load_{name}")()
    with open(bundled.DATA / f"{name}.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*reference.feature_names, "target"]
    values = np.array([[float(v) for v in row[:-1]] for row in rows[1:]])
    assert np.array_equal(values, reference.data)
    assert [row[-1] for row in rows[1:]] == [str(reference.target_names[t]) for t in reference.target]
    data = getattr(bundled, name)()
    assert data.feature_names == list(reference.feature_names)
    # Classes are in sorted order (for breast cancer: benign 0, malignant 1, the reverse of scikit-learn's).
    names = [data.classes[i] for i in data.y.tolist()]
    assert names == [str(reference.target_names[t]) for t in reference.target]
    expected = (reference.data - reference.data.mean(0)) / reference.data.std(0)
    assert np.allclose(data.x.numpy(), expected, atol=1e-5)
