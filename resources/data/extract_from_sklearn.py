"""Re-create the bundled data files from scikit-learn's copies (run once by a developer; the app never does).

    python resources/data/extract_from_sklearn.py

Writes digits.npz (uint8 8x8 images 0..16 and uint8 labels) and iris.csv, wine.csv, breast_cancer.csv (a header
of feature names, numbers written exactly as scikit-learn holds them, the class name in a last column named
``target``). NN Studio reads these files with numpy and the csv module; scikit-learn is not needed at run time.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn import datasets

HERE = Path(__file__).resolve().parent


def write_table(name: str, bunch) -> None:
    with open(HERE / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*bunch.feature_names, "target"])
        for row, label in zip(bunch.data, bunch.target):
            writer.writerow([repr(float(v)) for v in row] + [str(bunch.target_names[label])])


def main() -> None:
    digits = datasets.load_digits()
    images = digits.images.astype(np.uint8)
    assert np.array_equal(images, digits.images)
    np.savez_compressed(HERE / "digits.npz", images=images, labels=digits.target.astype(np.uint8))
    write_table("iris", datasets.load_iris())
    write_table("wine", datasets.load_wine())
    write_table("breast_cancer", datasets.load_breast_cancer())


if __name__ == "__main__":
    main()
