"""Reading CSV files: the rows themselves, and a CSV table turned into a dataset.

Rows are numbered as a spreadsheet or text editor shows them: the header is row 1. Every problem names the
file, the row and the column, so a person can open the file and fix that cell.

A table's numeric columns are standardised (z-score) and its other columns one-hot encoded (``color=red``,
``color=blue``...). The statistics come from the whole file, before any train / validation split.

The file is read as a stream of lines (never all at once), within limits that no file can push past: the
``max_megabytes`` option bounds the file and what its rows take in memory, a line may hold at most
:data:`MAX_LINE_BYTES` bytes, a row at most :data:`MAX_COLUMNS` values and a value at most the csv module's
field limit (131,072 characters). Cells are only ever parsed as numbers with ``float`` or kept as text: nothing
in a file is evaluated. The delimiter is guessed by counting columns, in time linear in the sample
(``csv.Sniffer``'s regular expressions take quadratic time on crafted lines). NUL bytes, UTF-16 and bytes that
are not UTF-8 are refused with the row; a UTF-8 byte order mark is skipped.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import (FLOAT32_MAX, TARGET_LIMIT, classification, encode_labels,
                                       looks_like_regression, regression, standardise)
from nnstudio.core.data.reading import (MAX_MEGABYTES, MEGABYTE, check_limit, current_token, limit_bytes,
                                        open_regular, shown)
from nnstudio.core.errors import DatasetError
from nnstudio.core.text import short

DELIMITERS = ("auto", ",", ";", "\t", "|")
TASK_CHOICES = ("auto", "multiclass", "binary", "regression")
# A column counts as numeric when more than this share of its cells are numbers (the rest are then errors).
NUMERIC_SHARE = 0.5
# More distinct text values than this in a feature column is refused: it is probably an identifier or free text.
MAX_CATEGORIES = 100
MAX_LINE_BYTES = 16 * MEGABYTE  # one line of a CSV file
MAX_COLUMNS = 100_000  # values in one row
SNIFF_LINES = 50  # lines the delimiter is guessed from (at most SNIFF_CHARS characters of them)
SNIFF_CHARS = MEGABYTE
# What Python takes per row and per cell beyond the cell's characters (list, str object): for the estimate of
# the memory the rows take, checked against ``max_megabytes`` as they are read.
ROW_BYTES = 120
CELL_BYTES = 58
PROGRESS_LINES = 1024  # the load token hears how far the reading got every this many lines
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # a line break of its own (old Mac files): split after it


def listing(names: list[str], limit: int = 20) -> str:
    """Column names for a message: printable and short, the first ``limit`` of them."""
    def one(name: str) -> str:
        text = name if name.isprintable() else ascii(name)
        return text if len(text) <= 40 else text[:37] + "..."

    more = f", ... and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(one(n) for n in names[:limit]) + more


class Rows:
    """A CSV file's header and data rows, with the line number of each row for messages."""

    def __init__(self, path: Path, header: list[str], rows: list[list[str]], line_numbers: list[int]) -> None:
        self.path = path
        self.header = header
        self.rows = rows
        self.line_numbers = line_numbers

    @property
    def file(self) -> str:
        return shown(self.path.name)

    def column_index(self, name: str, what: str = "column") -> int:
        if name not in self.header:
            raise DatasetError(f"{self.file} has no {what} {short(name, 60)} (its columns: {listing(self.header)})")
        return self.header.index(name)

    def cells(self, index: int) -> list[str]:
        return [row[index] for row in self.rows]

    def where(self, row: int, column: int) -> str:
        """``"data.csv row 17, column 'age'"`` for the ``row``-th data row."""
        return f"{self.file} row {self.line_numbers[row]}, column {short(self.header[column], 60)}"


def _lines(file: BinaryIO, name: str, size: int) -> Iterator[str]:
    """The file's lines, decoded, each with its line break; one plain line for what is not UTF-8 text."""
    token = current_token()
    count = 0
    while True:
        raw = file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        row = count + 1
        if len(raw) > MAX_LINE_BYTES:
            raise DatasetError(f"{name} row {row} is longer than {MAX_LINE_BYTES // MEGABYTE} MB: it is not a "
                               "table of values one row per line")
        if count == 0 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DatasetError(f"{name} is UTF-16 text, not UTF-8: save it as CSV UTF-8")
        count += 1
        if count % PROGRESS_LINES == 0:
            token.report(file.tell(), size, f"reading {name}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{name} is not a UTF-8 text file (row {row}, byte {exc.start + 1} of the line "
                               "cannot be read): save it as CSV UTF-8") from None
        if "\x00" in text:
            raise DatasetError(f"{name} is not a UTF-8 text file (row {row} holds a NUL byte: a binary file, or "
                               "text saved as UTF-16?): save it as CSV UTF-8")
        if count == 1:
            text = text.removeprefix("\ufeff")  # the byte order mark some programs write first
        if "\r" in text[:-2]:
            pieces = _LONE_CR.split(text)
            count += len(pieces) - 1
            yield from pieces
        else:
            yield text


def read_rows(path: str | Path, delimiter: str = "auto", max_megabytes: int = MAX_MEGABYTES) -> Rows:
    """Read a CSV file (UTF-8, a header row first); the delimiter is guessed when ``delimiter`` is "auto"."""
    path = Path(path)
    name = shown(path.name)
    current_token().check()
    file, size = open_regular(path, "path", "CSV file", max_megabytes)
    budget = limit_bytes(max_megabytes)
    with file:
        lines = _lines(file, name, size)
        head: list[str] = []  # the first lines, for the delimiter: SNIFF_LINES of them, or 1 MB of text
        for text in lines:
            head.append(text)
            if len(head) >= SNIFF_LINES or sum(map(len, head)) >= SNIFF_CHARS:
                break
        if delimiter == "auto":
            delimiter = _sniff(head)
        reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter)
        header: list[str] | None = None
        rows, numbers_of_lines = [], []
        end, used = 0, 0
        try:
            for cells in reader:
                line, end = end + 1, reader.line_num  # a quoted cell may span lines: a row starts after the last
                if len(cells) > MAX_COLUMNS:
                    raise DatasetError(f"{name} row {line} has {len(cells):,} values; NN Studio reads at most "
                                       f"{MAX_COLUMNS:,} columns")
                cells = [c.strip() for c in cells]
                if not any(cells):
                    continue  # blank lines are skipped
                if header is None:
                    header = _header(name, cells)
                    continue
                if len(cells) != len(header):
                    raise DatasetError(f"{name} row {line} has {len(cells)} values but the header has "
                                       f"{len(header)} columns ({listing(header)})")
                used += ROW_BYTES + CELL_BYTES * len(cells) + sum(map(len, cells))
                if used > budget:
                    check_limit(used, max_megabytes, f"{name}: its rows would take at least")
                rows.append(cells)
                numbers_of_lines.append(line)
        except csv.Error as exc:
            text = str(exc)
            if "field larger than field limit" in text:
                text = f"a value is longer than {csv.field_size_limit():,} characters (is a quote left open?)"
            raise DatasetError(f"{name} row {end + 1}: {text}") from None  # the row that begins after the last
    if header is None:
        raise DatasetError(f"{name} is empty")
    if not rows:
        raise DatasetError(f"{name} has a header but no data rows")
    return Rows(path, header, rows, numbers_of_lines)


def _sniff(lines: list[str]) -> str:
    """The delimiter that splits the sample's rows into the same number (at least two) of columns as its first
    row, most often; ties go to the order of :data:`DELIMITERS`. Linear in the sample."""
    best, best_share = ",", 0.0
    for delimiter in DELIMITERS[1:]:
        counts = []
        try:
            for cells in csv.reader(lines, delimiter=delimiter):
                if any(c.strip() for c in cells):
                    counts.append(len(cells))
        except csv.Error:
            pass  # an open quote at the end of the sample: judge by the rows read
        if not counts or counts[0] < 2:
            continue
        share = sum(c == counts[0] for c in counts) / len(counts)
        if share > best_share:
            best, best_share = delimiter, share
    return best


def _header(file: str, cells: list[str]) -> list[str]:
    names = [c or f"column {i + 1}" for i, c in enumerate(cells)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DatasetError(f"{file}: columns {seen[name] + 1} and {i + 1} are both called {short(name, 60)}; "
                               "rename one of them")
        seen[name] = i
    return names


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
    cells = [c for c in rows.cells(column) if c]
    if cells and _all_floats(cells) is not None:
        return True
    numbers = sum(_number(c) is not None for c in cells)
    return bool(cells) and numbers > NUMERIC_SHARE * len(cells)


def numbers(rows: Rows, column: int) -> np.ndarray:
    """A column's cells as float64; an empty cell, a word, NaN / infinity or a number beyond the range of 32-bit
    floats (about 3.4e38, what training computes in) is an error naming the cell."""
    cells = rows.cells(column)
    out = _all_floats(cells)
    if out is not None:
        bad = np.flatnonzero(~np.isfinite(out) | (np.abs(out) > FLOAT32_MAX))
        if not len(bad):
            return out
        start = int(bad[0])
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
    block = np.zeros((len(rows.rows), len(values)), dtype=np.float64)
    _fill_one_hot(block, rows, column, values)
    return block, [f"{rows.header[column]}={c}" for c in values]


def _fill_one_hot(block: np.ndarray, rows: Rows, column: int, values: list[str]) -> None:
    index = {c: i for i, c in enumerate(values)}
    block[:] = 0
    block[np.arange(len(rows.rows)), [index[v] for v in rows.cells(column)]] = 1


def _regression_targets(rows: Rows, column: int) -> np.ndarray:
    """A numeric target column; values whose square overflows 32-bit floats (the loss) are refused."""
    values = numbers(rows, column)
    big = np.flatnonzero(np.abs(values) > TARGET_LIMIT)
    if len(big):
        r = int(big[0])
        raise DatasetError(f"{rows.where(r, column)}: {short(rows.rows[r][column])} is too large for a regression "
                           f"target (beyond {TARGET_LIMIT:.0e}, the squared error overflows 32-bit numbers): scale "
                           "the column down")
    return values


def labels(rows: Rows, column: int, task: str) -> tuple[str, torch.Tensor, list[str]]:
    """The target column as (task, y, classes) for the given task ("auto" decides from the values)."""
    name = rows.header[column]
    numeric = is_numeric(rows, column)
    if task == "regression" or (task == "auto" and numeric and looks_like_regression(numbers(rows, column))):
        return "regression", torch.from_numpy(_regression_targets(rows, column)), []
    values = list(numbers(rows, column)) if numeric else texts(rows, column)
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
    count = len(rows.rows)
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
