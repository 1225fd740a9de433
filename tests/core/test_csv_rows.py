"""CSV rows read in pieces and blocks: the result and every message are the same whatever the piece and block
sizes, so a million-row file is read exactly as a small one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnstudio.core.data import LoadToken, csv_rows
from nnstudio.core.data.tables import load_csv
from nnstudio.core.data.text import load_text_csv
from nnstudio.core.errors import DatasetError

TABLE = ("x,colour,note,y\n"
         "1.50,red,\"two\nlines\",a\n"
         "\n"
         " , , , \n"
         "2,blue,plain,b\r"
         "3.25,red,\"quoted, comma\",a\r\n"
         + "".join(f"{i / 7:.4f},{'red' if i % 3 else 'green'},n{i % 5},{'ab'[i % 2]}\n" for i in range(300)))


def small(monkeypatch, read: int, cells: int) -> None:
    monkeypatch.setattr(csv_rows, "READ_BYTES", read)
    monkeypatch.setattr(csv_rows, "BLOCK_CELLS", cells)


def message(call, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("read, cells", [(16, 4), (64, 16), (1000, 40)])
def test_a_table_read_in_small_pieces_is_the_table_read_at_once(tmp_path, monkeypatch, read, cells):
    path = tmp_path / "t.csv"
    path.write_bytes(TABLE.encode())
    whole = load_csv(str(path), target="y")
    rows_whole = csv_rows.read_rows(path)
    small(monkeypatch, read, cells)
    pieces = load_csv(str(path), target="y")
    rows_pieces = csv_rows.read_rows(path)
    assert torch.equal(whole.x, pieces.x) and torch.equal(whole.y, pieces.y)
    assert whole.feature_names == pieces.feature_names and whole.classes == pieces.classes == ["a", "b"]
    assert rows_whole.line_numbers.tolist() == rows_pieces.line_numbers.tolist()
    # the quoted cell spans lines 2-3, the blank line 4 and the line of blanks 5 are skipped, \r ends line 6
    assert rows_pieces.line_numbers.tolist()[:3] == [2, 6, 7]
    assert rows_pieces.cells(2)[:3] == ["two\nlines", "plain", "quoted, comma"]


def test_numbers_and_text_in_one_column_keep_their_text(tmp_path, monkeypatch):
    """A block of numbers in a text column does not turn '1.50' into '1.5': categories are the file's text."""
    small(monkeypatch, 4096, 8)
    path = tmp_path / "mixed.csv"
    path.write_text("kind,y\n" + "1.50,0\n1.50,1\n" + "".join(f"w{i % 3},{i % 2}\n" for i in range(12)))
    data = load_csv(str(path), target="y")
    assert "kind=1.50" in data.feature_names and "kind=1.5" not in data.feature_names
    assert data.x[:2, data.feature_names.index("kind=1.50")].tolist() == [1.0, 1.0]


def test_a_numeric_column_is_kept_as_numbers_not_strings(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b\n" + "".join(f"{i}.5,{i % 2}\n" for i in range(1000)))
    rows = csv_rows.read_rows(path)
    assert rows.floats(0).dtype == np.float64 and rows.floats(0)[:2].tolist() == [0.5, 1.5]
    assert all(isinstance(v, np.ndarray) for v in rows.columns[0].numbers)


def test_progress_rises_through_the_file(tmp_path, monkeypatch):
    small(monkeypatch, 256, 64)
    path = tmp_path / "p.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(2000)))

    class Seen(LoadToken):
        def __init__(self):
            super().__init__()
            self.done = []

        def report(self, done, total, what):
            self.done.append(done)
            super().report(done, total, what)

    from nnstudio.core.data.reading import using
    token = Seen()
    with using(token):
        csv_rows.read_rows(path)
    assert len(token.done) > 10 and token.done == sorted(token.done) and token.done[-1] == path.stat().st_size


def test_messages_name_the_same_row_when_read_in_pieces(tmp_path, monkeypatch):
    small(monkeypatch, 32, 8)
    good = "".join(f"{i},{i % 2}\n" for i in range(40))
    bad_utf8 = tmp_path / "latin.csv"
    bad_utf8.write_bytes(("a,b\n" + good).encode() + b"caf\xe9,1\n")
    assert message(load_csv, str(bad_utf8)) == ("latin.csv is not a UTF-8 text file (row 42, byte 4 of the line "
                                                "cannot be read): save it as CSV UTF-8")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(("a,b\n" + good + "1,\x002\n").encode())
    assert "(row 42 holds a NUL byte" in message(load_csv, str(nul))
    uneven = tmp_path / "uneven.csv"
    uneven.write_text("a,b\n" + good + "1,2,3\n")
    assert message(load_csv, str(uneven)) == "uneven.csv row 42 has 3 values but the header has 2 columns (a, b)"
    monkeypatch.setattr(csv_rows, "MAX_LINE_BYTES", 100)
    long = tmp_path / "long.csv"
    long.write_text("a,b\n" + good + "1," + "9" * 200 + "\n")
    assert message(load_csv, str(long)).startswith("long.csv row 42 is longer than")


def test_text_csv_keeps_texts_that_look_like_numbers(tmp_path, monkeypatch):
    small(monkeypatch, 4096, 6)
    path = tmp_path / "texts.csv"
    path.write_text("text,label\n007,good\n1e3,bad\n" + "".join(f"w{i} x,{'good' if i % 2 else 'bad'}\n"
                                                                 for i in range(10)))
    data = load_text_csv(str(path), length=4)
    assert data.texts[:2] == ["007", "1e3"]
