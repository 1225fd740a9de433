"""Reading CSV files: the rows themselves, and a CSV table turned into a dataset.

Rows are numbered as a spreadsheet or text editor shows them: the header is row 1. Every problem names the
file, the row and the column, so a person can open the file and fix that cell.

A table's numeric columns are standardised (z-score) and its other columns one-hot encoded (``color=red``,
``color=blue``...). The statistics come from the whole file, before any train / validation split.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification, encode_labels, looks_like_regression, regression, standardise
from nnstudio.core.errors import DatasetError

DELIMITERS = ("auto", ",", ";", "\t", "|")
TASK_CHOICES = ("auto", "multiclass", "binary", "regression")
# A column counts as numeric when more than this share of its cells are numbers (the rest are then errors).
NUMERIC_SHARE = 0.5
# More distinct text values than this in a feature column is refused: it is probably an identifier or free text.
MAX_CATEGORIES = 100


class Rows:
    """A CSV file's header and data rows, with the line number of each row for messages."""

    def __init__(self, path: Path, header: list[str], rows: list[list[str]], line_numbers: list[int]) -> None:
        self.path = path
        self.header = header
        self.rows = rows
        self.line_numbers = line_numbers

    @property
    def file(self) -> str:
        return self.path.name

    def column_index(self, name: str, what: str = "column") -> int:
        if name not in self.header:
            raise DatasetError(f"{self.file} has no {what} {name!r} (its columns: {', '.join(self.header)})")
        return self.header.index(name)

    def cells(self, index: int) -> list[str]:
        return [row[index] for row in self.rows]

    def where(self, row: int, column: int) -> str:
        """``"data.csv row 17, column 'age'"`` for the ``row``-th data row."""
        return f"{self.file} row {self.line_numbers[row]}, column {self.header[column]!r}"


def read_rows(path: str | Path, delimiter: str = "auto") -> Rows:
    """Read a CSV file (UTF-8, a header row first); the delimiter is guessed when ``delimiter`` is "auto"."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path.name} is not a UTF-8 text file (byte {exc.start} cannot be read): "
                           "save it as CSV UTF-8") from None
    except OSError as exc:
        raise DatasetError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    if not text.strip():
        raise DatasetError(f"{path.name} is empty")
    if delimiter == "auto":
        delimiter = _sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows, lines = [], []
    end = 0
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num  # a quoted cell may span lines: a row starts after the last
            if not any(c.strip() for c in cells):
                continue  # blank lines are skipped
            cells = [c.strip() for c in cells]
            if header is None:
                header = _header(path.name, cells)
                continue
            if len(cells) != len(header):
                raise DatasetError(f"{path.name} row {line} has {len(cells)} values but the header has "
                                   f"{len(header)} columns ({', '.join(header)})")
            rows.append(cells)
            lines.append(line)
    except csv.Error as exc:
        raise DatasetError(f"{path.name} row {reader.line_num}: {exc}") from None
    if header is None:
        raise DatasetError(f"{path.name} is empty")
    if not rows:
        raise DatasetError(f"{path.name} has a header but no data rows")
    return Rows(path, header, rows, lines)


def _sniff(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _header(file: str, cells: list[str]) -> list[str]:
    names = [c or f"column {i + 1}" for i, c in enumerate(cells)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DatasetError(f"{file}: columns {seen[name] + 1} and {i + 1} are both called {name!r}; "
                               "rename one of them")
        seen[name] = i
    return names


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def is_numeric(rows: Rows, column: int) -> bool:
    """Most non-empty cells are numbers (a few typos do not turn a numeric column into categories)."""
    cells = [c for c in rows.cells(column) if c]
    numbers = sum(_number(c) is not None for c in cells)
    return bool(cells) and numbers > NUMERIC_SHARE * len(cells)


def numbers(rows: Rows, column: int) -> np.ndarray:
    """A column's cells as float64; an empty cell, a word or NaN / infinity is an error naming the cell."""
    out = np.empty(len(rows.rows), dtype=np.float64)
    for r, cell in enumerate(rows.cells(column)):
        if not cell:
            raise DatasetError(f"{rows.where(r, column)}: the cell is empty; fill it in or remove the row")
        value = _number(cell)
        if value is None:
            raise DatasetError(f"{rows.where(r, column)}: {cell!r} is not a number")
        if not math.isfinite(value):
            raise DatasetError(f"{rows.where(r, column)}: {cell!r} is not a usable number (NaN or infinite); "
                               "fill in a value or remove the row")
        out[r] = value
    return out


def texts(rows: Rows, column: int) -> list[str]:
    """A column's cells as text; an empty cell is an error naming the cell."""
    values = rows.cells(column)
    for r, cell in enumerate(values):
        if not cell:
            raise DatasetError(f"{rows.where(r, column)}: the cell is empty; fill it in or remove the row")
    return values


def one_hot(rows: Rows, column: int) -> tuple[np.ndarray, list[str]]:
    """One 0/1 column per distinct value (sorted), named ``column=value``."""
    values = texts(rows, column)
    categories = sorted(set(values))
    name = rows.header[column]
    if len(categories) > MAX_CATEGORIES:
        raise DatasetError(f"{rows.file} column {name!r} has {len(categories):,} different values that are not "
                           f"numbers; one-hot encoding would add {len(categories):,} features: remove the column "
                           "or turn it into numbers")
    index = {c: i for i, c in enumerate(categories)}
    block = np.zeros((len(values), len(categories)), dtype=np.float64)
    block[np.arange(len(values)), [index[v] for v in values]] = 1.0
    return block, [f"{name}={c}" for c in categories]


def labels(rows: Rows, column: int, task: str) -> tuple[str, torch.Tensor, list[str]]:
    """The target column as (task, y, classes) for the given task ("auto" decides from the values)."""
    name = rows.header[column]
    numeric = is_numeric(rows, column)
    if task == "regression" or (task == "auto" and numeric and looks_like_regression(numbers(rows, column))):
        if not numeric:
            numbers(rows, column)  # raises, naming the first cell that is not a number
        return "regression", torch.from_numpy(numbers(rows, column)), []
    values = list(numbers(rows, column)) if numeric else texts(rows, column)
    y, classes = encode_labels(values, f"{rows.file} column {name!r}")
    if task == "binary" and len(classes) != 2:
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        raise DatasetError(f"{rows.file} column {name!r} has {len(classes)} classes ({shown}) but the task is "
                           "binary: choose multiclass")
    chosen = task if task in ("multiclass", "binary") else ("binary" if len(classes) == 2 else "multiclass")
    return chosen, y, classes


def load_csv(path: str = "", target: str = "", task: str = "auto", delimiter: str = "auto",
             name: str | None = None, source: str | None = None) -> Dataset:
    """A table from a CSV file: ``target`` names the column to predict (empty: the last column)."""
    if not path:
        raise DatasetError("no CSV file chosen: set the dataset's path")
    rows = read_rows(path, delimiter)
    target_index = rows.column_index(target, "target column") if target else len(rows.header) - 1
    feature_columns = [i for i in range(len(rows.header)) if i != target_index]
    if not feature_columns:
        raise DatasetError(f"{rows.file} has only the target column {rows.header[target_index]!r}; there are no "
                           "features to learn from")
    blocks, names = [], []
    for column in feature_columns:
        if is_numeric(rows, column):
            blocks.append(standardise(numbers(rows, column))[:, None])
            names.append(rows.header[column])
        else:
            block, block_names = one_hot(rows, column)
            blocks.append(block)
            names.extend(block_names)
    x = torch.from_numpy(np.concatenate(blocks, axis=1)).float()
    chosen, y, classes = labels(rows, target_index, task)
    name = name or rows.file
    source = source if source is not None else str(rows.path)
    if chosen == "regression":
        preview = "curve" if x.shape[1] == 1 else "table"
        return regression(name, x, y, preview=preview, feature_names=names, source=source)
    preview = "points2d" if x.shape[1] == 2 else "table"
    return classification(name, x, y, classes, preview=preview, feature_names=names, source=source, task=chosen)
