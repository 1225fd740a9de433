"""A CSV table turned into a dataset (the rows are read by :mod:`nnstudio.core.data.csv_rows`).

Every problem names the file, the row (as an editor numbers it: the header is row 1) and the column, so a
person can open the file and fix that cell.

A table's numeric columns are standardised (z-score) and its other columns one-hot encoded (``color=red``,
``color=blue``...). The statistics come from the whole file, before any train / validation split.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import (FLOAT32_MAX, TARGET_LIMIT, classification, encode_labels,
                                       looks_like_regression, regression, standardise)
from nnstudio.core.data.csv_rows import (DELIMITERS, MAX_COLUMNS, MAX_LINE_BYTES, Rows, listing,  # noqa: F401
                                         read_rows)
from nnstudio.core.data.reading import MAX_MEGABYTES, check_limit, current_token
from nnstudio.core.errors import DatasetError
from nnstudio.core.text import short

TASK_CHOICES = ("auto", "multiclass", "binary", "regression")
# A column counts as numeric when more than this share of its cells are numbers (the rest are then errors).
NUMERIC_SHARE = 0.5
# More distinct text values than this in a feature column is refused: it is probably an identifier or free text.
MAX_CATEGORIES = 100


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _all_floats(cells: list[str]) -> np.ndarray | None:
    """Every cell as float64 when every one parses (the common case, at C speed); None otherwise."""
    try:
        return np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
    except ValueError:
        return None


def is_numeric(rows: Rows, column: int) -> bool:
    """Most non-empty cells are numbers (a few typos do not turn a numeric column into categories)."""
    if rows.floats(column) is not None:
        return True
    counts = Counter(rows.cells(column))  # each distinct value is parsed once (a category column has few)
    counts.pop("", None)
    cells = sum(counts.values())
    numbers = sum(n for value, n in counts.items() if _number(value) is not None)
    return bool(cells) and numbers > NUMERIC_SHARE * cells


def numbers(rows: Rows, column: int) -> np.ndarray:
    """A column's cells as float64; an empty cell, a word, NaN / infinity or a number beyond the range of 32-bit
    floats (about 3.4e38, what training computes in) is an error naming the cell."""
    out = rows.floats(column)
    cells = rows.cells(column) if out is None else []
    if out is None:
        out = _all_floats(cells)
    if out is not None:
        bad = np.flatnonzero(~np.isfinite(out) | (np.abs(out) > FLOAT32_MAX))
        if not len(bad):
            return out
        start = int(bad[0])
        cells = cells or rows.cells(column)
    else:
        out, start = np.empty(len(cells), dtype=np.float64), 0
    for r in range(start, len(cells)):
        cell = cells[r]
        if not cell:
            raise DatasetError(f"{rows.where(r, column)}: the cell is empty; fill it in or remove the row")
        value = _number(cell)
        if value is None:
            raise DatasetError(f"{rows.where(r, column)}: {short(cell)} is not a number")
        if not math.isfinite(value):
            raise DatasetError(f"{rows.where(r, column)}: {short(cell)} is not a usable number (NaN or infinite); "
                               "fill in a value or remove the row")
        if abs(value) > FLOAT32_MAX:
            raise DatasetError(f"{rows.where(r, column)}: {short(cell)} is too large; training computes in "
                               f"32-bit numbers, which end at about {FLOAT32_MAX:.1e}: scale the column down")
        out[r] = value
    return out


def texts(rows: Rows, column: int) -> list[str]:
    """A column's cells as text; an empty cell is an error naming the cell."""
    values = rows.cells(column)
    for r, cell in enumerate(values):
        if not cell:
            raise DatasetError(f"{rows.where(r, column)}: the cell is empty; fill it in or remove the row")
    return values


def categories(rows: Rows, column: int) -> list[str]:
    """The distinct values (sorted) of a text column, at most :data:`MAX_CATEGORIES` of them."""
    found = sorted(set(texts(rows, column)))
    if len(found) > MAX_CATEGORIES:
        raise DatasetError(f"{rows.file} column {short(rows.header[column], 60)} has {len(found):,} different "
                           f"values that are not numbers; one-hot encoding would add {len(found):,} features: "
                           "remove the column or turn it into numbers")
    return found


def one_hot(rows: Rows, column: int) -> tuple[np.ndarray, list[str]]:
    """One 0/1 column per distinct value (sorted), named ``column=value``."""
    values = categories(rows, column)
    block = np.zeros((len(rows), len(values)), dtype=np.float64)
    _fill_one_hot(block, rows, column, values)
    return block, [f"{rows.header[column]}={c}" for c in values]


def _fill_one_hot(block: np.ndarray, rows: Rows, column: int, values: list[str]) -> None:
    index = {c: i for i, c in enumerate(values)}
    block[:] = 0
    block[np.arange(len(rows)), [index[v] for v in rows.cells(column)]] = 1


def _regression_targets(rows: Rows, column: int) -> np.ndarray:
    """A numeric target column; values whose square overflows 32-bit floats (the loss) are refused."""
    values = numbers(rows, column)
    big = np.flatnonzero(np.abs(values) > TARGET_LIMIT)
    if len(big):
        r = int(big[0])
        raise DatasetError(f"{rows.where(r, column)}: {short(rows.cell(r, column))} is too large for a regression "
                           f"target (beyond {TARGET_LIMIT:.0e}, the squared error overflows 32-bit numbers): scale "
                           "the column down")
    return values


def labels(rows: Rows, column: int, task: str) -> tuple[str, torch.Tensor, list[str]]:
    """The target column as (task, y, classes) for the given task ("auto" decides from the values)."""
    name = rows.header[column]
    numeric = is_numeric(rows, column)
    if task == "regression" or (task == "auto" and numeric and looks_like_regression(numbers(rows, column))):
        return "regression", torch.from_numpy(_regression_targets(rows, column)), []
    values = numbers(rows, column) if numeric else texts(rows, column)
    y, classes = encode_labels(values, f"{rows.file} column {short(name, 60)}")
    if task == "binary" and len(classes) != 2:
        shown_classes = listing(classes, 10)
        raise DatasetError(f"{rows.file} column {short(name, 60)} has {len(classes)} classes ({shown_classes}) but "
                           "the task is binary: choose multiclass")
    chosen = task if task in ("multiclass", "binary") else ("binary" if len(classes) == 2 else "multiclass")
    return chosen, y, classes


def load_csv(path: str = "", target: str = "", task: str = "auto", delimiter: str = "auto",
             max_megabytes: int = MAX_MEGABYTES, name: str | None = None, source: str | None = None) -> Dataset:
    """A table from a CSV file: ``target`` names the column to predict (empty: the last column)."""
    if not path:
        raise DatasetError("no CSV file chosen: set the dataset's path")
    rows = read_rows(path, delimiter, max_megabytes)
    token = current_token()
    target_index = rows.column_index(target, "target column") if target else len(rows.header) - 1
    feature_columns = [i for i in range(len(rows.header)) if i != target_index]
    if not feature_columns:
        raise DatasetError(f"{rows.file} has only the target column {short(rows.header[target_index], 60)}; "
                           "there are no features to learn from")
    plan: list[tuple[int, list[str] | None]] = []  # (column, its categories; None for a numeric column)
    for column in feature_columns:
        token.check()
        plan.append((column, None if is_numeric(rows, column) else categories(rows, column)))
    width = sum(1 if values is None else len(values) for _, values in plan)
    count = len(rows)
    # float32 features plus one float64 column at a time
    check_limit(count * width * 4 + count * 16, max_megabytes, f"{rows.file}: its {width:,} features for "
                f"{count:,} rows would take")
    x = np.empty((count, width), dtype=np.float32)
    names: list[str] = []
    at = 0
    for column, values in plan:
        token.report(at, width, f"preparing the columns of {rows.file}")
        if values is None:
            scaled = standardise(numbers(rows, column))
            if not np.all(np.isfinite(scaled)):  # pragma: no cover - values are within float32, so is this
                raise DatasetError(f"{rows.file} column {short(rows.header[column], 60)} cannot be standardised")
            x[:, at] = scaled
            names.append(rows.header[column])
            at += 1
        else:
            _fill_one_hot(x[:, at:at + len(values)], rows, column, values)
            names.extend(f"{rows.header[column]}={c}" for c in values)
            at += len(values)
    chosen, y, classes = labels(rows, target_index, task)
    name = name or rows.file
    source = source if source is not None else str(rows.path)
    features = torch.from_numpy(x)
    if chosen == "regression":
        preview = "curve" if width == 1 else "table"
        return regression(name, features, y, preview=preview, feature_names=names, source=source)
    preview = "points2d" if width == 2 else "table"
    return classification(name, features, y, classes, preview=preview, feature_names=names, source=source,
                          task=chosen)
