"""Reading the rows of a CSV file into columns, bounded and at C speed.

Rows are numbered as a spreadsheet or text editor shows them: the header is row 1. Every problem names the
file, the row and the column, so a person can open the file and fix that cell.

The file is read as a stream of lines (never all at once), within limits that no file can push past: the
``max_megabytes`` option bounds the file and what its rows take in memory, a line may hold at most
:data:`MAX_LINE_BYTES` bytes, a row at most :data:`MAX_COLUMNS` values and a value at most the csv module's
field limit (131,072 characters). The delimiter is guessed by counting columns, in time linear in the sample
(``csv.Sniffer``'s regular expressions take quadratic time on crafted lines). NUL bytes, UTF-16 and bytes that
are not UTF-8 are refused with the row; a UTF-8 byte order mark is skipped.

The rows are parsed in blocks of about :data:`BLOCK_CELLS` cells and kept by column, not as a list per row: each
block of a column is its cells joined into one string (NUL, which no accepted file holds, between them) and, when
every cell of the block is a number, those numbers as float64. A million-row table of numbers then takes about
twice its size on disk, not ten times, and no Python loop runs per cell. Cells are only ever parsed as numbers
with ``float`` or kept as text: nothing in a file is evaluated.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from nnstudio.core.data.reading import (MAX_MEGABYTES, MEGABYTE, check_limit, current_token, limit_bytes,
                                        open_regular, shown)
from nnstudio.core.errors import DatasetError
from nnstudio.core.text import short

DELIMITERS = ("auto", ",", ";", "\t", "|")
MAX_LINE_BYTES = 16 * MEGABYTE  # one line of a CSV file
MAX_COLUMNS = 100_000  # values in one row
SNIFF_LINES = 50  # lines the delimiter is guessed from (at most SNIFF_CHARS characters of them)
SNIFF_CHARS = MEGABYTE
BLOCK_CELLS = 1 << 18  # cells parsed and stored together (a block of rows of any width)
# What a stored block costs beyond its characters: the string object, and per row its line number.
BLOCK_BYTES = 64
ROW_BYTES = 8
SEPARATOR = "\x00"  # between the cells of a stored block; refused in files, so never inside a cell
READ_BYTES = 4 * MEGABYTE  # the file is read in pieces of about this size, each ending at a line end


def listing(names: list[str], limit: int = 20) -> str:
    """Column names for a message: printable and short, the first ``limit`` of them."""
    def one(name: str) -> str:
        text = name if name.isprintable() else ascii(name)
        return text if len(text) <= 40 else text[:37] + "..."

    more = f", ... and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(one(n) for n in names[:limit]) + more


class Column:
    """One column's cells, block by block: the joined text of each block and its numbers where all parse."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.counts: list[int] = []
        self.numbers: list[np.ndarray | None] = []

    def add(self, cells: list[str]) -> int:
        """Store a block's cells; the bytes they take."""
        try:
            values = np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
        except ValueError:
            values = None
        text = SEPARATOR.join(cells)
        self.texts.append(text)
        self.counts.append(len(cells))
        self.numbers.append(values)
        return len(text) + BLOCK_BYTES + (values.nbytes if values is not None else 0)

    def cells(self) -> list[str]:
        out: list[str] = []
        for text, count in zip(self.texts, self.counts):
            out.extend(text.split(SEPARATOR) if count else ())
        return out

    def floats(self) -> np.ndarray | None:
        """Every cell as float64 when every block parsed; None otherwise."""
        if any(v is None for v in self.numbers):
            return None
        return np.concatenate(self.numbers) if self.numbers else np.empty(0)


class Rows:
    """A CSV file's header and data rows (kept by column), with the line number of each row for messages."""

    def __init__(self, path: Path, header: list[str], columns: list[Column], line_numbers: np.ndarray) -> None:
        self.path = path
        self.header = header
        self.columns = columns
        self.line_numbers = line_numbers

    def __len__(self) -> int:
        return len(self.line_numbers)

    @property
    def file(self) -> str:
        return shown(self.path.name)

    def column_index(self, name: str, what: str = "column") -> int:
        if name not in self.header:
            raise DatasetError(f"{self.file} has no {what} {short(name, 60)} (its columns: {listing(self.header)})")
        return self.header.index(name)

    def cells(self, index: int) -> list[str]:
        return self.columns[index].cells()

    def floats(self, index: int) -> np.ndarray | None:
        return self.columns[index].floats()

    def cell(self, row: int, column: int) -> str:
        at = row
        col = self.columns[column]
        for text, count in zip(col.texts, col.counts):
            if at < count:
                return text.split(SEPARATOR)[at]
            at -= count
        raise IndexError(row)

    def where(self, row: int, column: int) -> str:
        """``"data.csv row 17, column 'age'"`` for the ``row``-th data row."""
        return f"{self.file} row {int(self.line_numbers[row])}, column {short(self.header[column], 60)}"


def _line_breaks(text: str) -> tuple[int, int]:
    """(whole lines, characters after the last line break) in ``text``, lines ended by \\n, \\r\\n or a lone \\r
    (as the csv reader is given them)."""
    pieces = io.StringIO(text, newline="").readlines()
    if pieces and not pieces[-1].endswith(("\n", "\r")):
        return len(pieces) - 1, len(pieces[-1])
    return len(pieces), 0


def _lines(file: BinaryIO, name: str, size: int) -> Iterator[str]:
    """The file's lines, decoded, each with its line break (\\n, \\r\\n, or a lone \\r of old Mac files); one
    plain line for what is not UTF-8 text. Read in pieces of :data:`READ_BYTES`, each ending at a line end."""
    count = 0  # lines before the piece
    while True:
        raw = file.read(READ_BYTES)
        if not raw:
            return
        if count == 0 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DatasetError(f"{name} is UTF-16 text, not UTF-8: save it as CSV UTF-8")
        if not raw.endswith(b"\n"):  # finish the line the piece cut (an old Mac file has no \n at all)
            cut = len(raw) - max(raw.rfind(b"\n"), raw.rfind(b"\r")) - 1  # its bytes in the piece
            tail = file.readline(MAX_LINE_BYTES + 1)
            if cut + len(tail) > MAX_LINE_BYTES:
                before = raw[:len(raw) - cut].decode("utf-8", "replace")
                raise DatasetError(f"{name} row {count + _line_breaks(before)[0] + 1} is longer than "
                                   f"{MAX_LINE_BYTES // MEGABYTE} MB: it is not a table of values one row per line")
            raw += tail
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = raw[:exc.start].decode("utf-8")
            lines, at = _line_breaks(before)
            byte = len(before[len(before) - at:].encode()) if at else 0
            raise DatasetError(f"{name} is not a UTF-8 text file (row {count + lines + 1}, byte {byte + 1} of the "
                               "line cannot be read): save it as CSV UTF-8") from None
        nul = text.find("\x00")
        if nul >= 0:
            row = count + _line_breaks(text[:nul])[0] + 1
            raise DatasetError(f"{name} is not a UTF-8 text file (row {row} holds a NUL byte: a binary file, or "
                               "text saved as UTF-16?): save it as CSV UTF-8")
        if count == 0:
            text = text.removeprefix("\ufeff")  # the byte order mark some programs write first
        lines = io.StringIO(text, newline="").readlines()
        count += len(lines)
        yield from lines


def read_rows(path: str | Path, delimiter: str = "auto", max_megabytes: int = MAX_MEGABYTES) -> Rows:
    """Read a CSV file (UTF-8, a header row first); the delimiter is guessed when ``delimiter`` is "auto"."""
    path = Path(path)
    name = shown(path.name)
    token = current_token()
    token.check()
    file, size = open_regular(path, "path", "CSV file", max_megabytes)
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
        reading = _Reading(name, reader, limit_bytes(max_megabytes), max_megabytes)
        try:
            header = reading.header()
            if header is None:
                raise DatasetError(f"{name} is empty")
            while reading.block():
                token.report(file.tell(), size, f"reading {name}")
        except csv.Error as exc:
            text = str(exc)
            if "field larger than field limit" in text:
                text = f"a value is longer than {csv.field_size_limit():,} characters (is a quote left open?)"
            # the row that begins after the last one read
            raise DatasetError(f"{name} row {reading.end + 1}: {text}") from None
    if not reading.lines:
        raise DatasetError(f"{name} has a header but no data rows")
    return Rows(path, header, reading.columns, np.concatenate(reading.lines))


class _Reading:
    """The state of one file being read: where the last row ended, the columns and their memory so far."""

    def __init__(self, name: str, reader, budget: int, max_megabytes: int) -> None:
        self.name, self.reader, self.budget, self.max_megabytes = name, reader, budget, max_megabytes
        self.end = 0  # the line the last row read ends on
        self.width = 0
        self.names: list[str] = []
        self.columns: list[Column] = []
        self.lines: list[np.ndarray] = []  # the line each stored row starts on, block by block
        self.used = 0

    def _too_wide(self, cells: list[str], line: int) -> None:
        if len(cells) > MAX_COLUMNS:
            raise DatasetError(f"{self.name} row {line} has {len(cells):,} values; NN Studio reads at most "
                               f"{MAX_COLUMNS:,} columns")

    def header(self) -> list[str] | None:
        for cells in self.reader:
            line, self.end = self.end + 1, self.reader.line_num
            self._too_wide(cells, line)
            cells = [c.strip() for c in cells]
            if any(cells):
                self.names = _header(self.name, cells)
                self.width = len(self.names)
                self.columns = [Column() for _ in self.names]
                return self.names
        return None

    def block(self) -> bool:
        """Read and store the next block of rows; False at the end of the file."""
        rows: list[list[str]] = []
        ends: list[int] = []
        try:
            for cells in itertools.islice(self.reader, max(1, BLOCK_CELLS // self.width)):
                rows.append(cells)
                ends.append(self.reader.line_num)
        except csv.Error:
            self.end = ends[-1] if ends else self.end  # messages name the row after the last one read
            raise
        if not rows:
            return False
        starts = np.empty(len(ends), dtype=np.int64)
        starts[0] = self.end + 1
        starts[1:] = np.asarray(ends[:-1], dtype=np.int64) + 1
        self.end = ends[-1]
        width = self.width
        uneven = [i for i, n in enumerate(map(len, rows)) if n != width]
        if uneven:
            keep = np.ones(len(rows), dtype=bool)
            for i in uneven:
                cells = rows[i]
                self._too_wide(cells, int(starts[i]))
                if not any(c.strip() for c in cells):
                    keep[i] = False  # a blank line
                    continue
                raise DatasetError(f"{self.name} row {int(starts[i])} has {len(cells)} values but the header has "
                                   f"{width} columns ({listing(self.names)})")
            rows = [r for r, k in zip(rows, keep) if k]
            starts = starts[keep]
            if not rows:
                return True
        columns = [list(map(str.strip, cells)) for cells in zip(*rows)]
        if min(col.count("") for col in columns):  # every column has an empty cell: look for blank rows
            blank = np.ones(len(rows), dtype=bool)
            for col in columns:
                blank &= np.fromiter(map(len, col), dtype=np.int64, count=len(col)) == 0
            if blank.any():
                keep = ~blank
                columns = [[c for c, k in zip(col, keep) if k] for col in columns]
                starts = starts[keep]
                if not len(starts):
                    return True
        self.used += sum(column.add(cells) for column, cells in zip(self.columns, columns))
        self.used += ROW_BYTES * len(starts)
        self.lines.append(starts)
        if self.used > self.budget:
            check_limit(self.used, self.max_megabytes, f"{self.name}: its rows would take at least")
        return True


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
