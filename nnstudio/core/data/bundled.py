"""Small real datasets shipped in ``resources/data`` (origins and licence in ``resources/data/ATTRIBUTION.md``).

Read with numpy and the csv module only; scikit-learn, where they were once copied from, is not needed.
"""

from __future__ import annotations

import zipfile

import numpy as np
import torch
import torch.nn.functional as F

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification
from nnstudio.core.data.tables import load_csv
from nnstudio.core.errors import DatasetError
from nnstudio.core.paths import RESOURCES

DATA = RESOURCES / "data"

SOURCES = {
    "digits": "Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak, UCI Machine Learning "
              "Repository (CC BY 4.0)",
    "iris": "Iris, R. A. Fisher, UCI Machine Learning Repository (CC BY 4.0)",
    "wine": "Wine, M. Forina et al., UCI Machine Learning Repository (CC BY 4.0)",
    "breast_cancer": "Breast Cancer Wisconsin (Diagnostic), W. Wolberg, W. N. Street and O. Mangasarian, "
                     "UCI Machine Learning Repository (CC BY 4.0)",
}


def digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The raw 1,797 images (uint8, 1797 x 8 x 8, values 0..16) and their labels 0..9."""
    path = DATA / "digits.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"the bundled digits file {path} is missing or damaged ({exc}): reinstall NN Studio") \
            from None


def digits(size: int = 8) -> Dataset:
    """1,797 handwritten digits 0-9 as (N, 1, size, size) float32 images in [0, 1].

    At ``size`` 8 the images are as scanned; any other size is a bilinear resize (28 suits networks built
    for MNIST-sized input). About 180 images per digit.
    """
    images, labels = digit_arrays()
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    return classification("digits", x, torch.from_numpy(labels.astype(np.int64)), [str(d) for d in range(10)],
                          preview="images", source=SOURCES["digits"])


def _table(name: str) -> Dataset:
    return load_csv(str(DATA / f"{name}.csv"), target="target", task="auto", delimiter=",", name=name,
                    source=SOURCES[name])


def iris() -> Dataset:
    """150 iris flowers, 4 measurements (cm), 3 species; features standardised."""
    return _table("iris")


def wine() -> Dataset:
    """178 wines from three cultivars, 13 chemical measurements; features standardised."""
    return _table("wine")


def breast_cancer() -> Dataset:
    """569 breast-tissue samples, 30 cell-nucleus measurements, benign or malignant; features standardised."""
    return _table("breast_cancer")
