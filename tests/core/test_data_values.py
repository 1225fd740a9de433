"""Data are read correctly: images scaled by their real range (16-bit, 32-bit integer, float), non-finite or
overflowing values in tables and arrays reported with file, row and column, and hostile CSV content (NUL bytes,
bad UTF-8, BOMs, endless lines, huge headers, open quotes, formula-like cells) met with one plain line and never
evaluated. Files are made in tmp_path."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from nnstudio.core.data import tables
from nnstudio.core.data.arrays import load_npz
from nnstudio.core.data.images import load_image_folder, read_image
from nnstudio.core.data.tables import load_csv
from nnstudio.core.data.text import load_text_csv
from nnstudio.core.errors import DatasetError

Image = pytest.importorskip("PIL.Image")


def _error(load, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as error:
        load(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message and "\r" not in message, message
    return message


def _csv(tmp_path, text: str | bytes, name: str = "data.csv") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return str(path)


# -- images by their real range -----------------------------------------------------------------------------
def _mode(path) -> str:
    with Image.open(path) as image:
        return image.mode


def _save(root, label: str, name: str, pixels: np.ndarray, suffix: str = ".png") -> None:
    (root / label).mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(root / label / f"{name}{suffix}")


def test_16_bit_images_are_divided_by_65535_not_clipped(tmp_path):
    root = tmp_path / "sixteen"
    _save(root, "dim", "a", np.full((4, 4), 1000, np.uint16))
    _save(root, "bright", "b", np.full((4, 4), 60000, np.uint16))
    assert _mode(root / "dim" / "a.png") == "I;16"  # a real 16-bit PNG, as a camera would write
    data = load_image_folder(str(root), channels=1, height=4, width=4)
    bright, dim = data.x[0], data.x[1]  # classes in sorted order: bright, dim
    assert torch.allclose(dim, torch.full_like(dim, 1000 / 65535), atol=1e-6)
    assert torch.allclose(bright, torch.full_like(bright, 60000 / 65535), atol=1e-6)
    assert float(dim.max()) < float(bright.min())
    colour = load_image_folder(str(root), channels=3, height=2, width=2)
    assert colour.x.shape == (2, 3, 2, 2) and torch.allclose(colour.x[1], torch.full((3, 2, 2), 1000 / 65535))


def test_32_bit_integer_images_are_scaled_by_the_datasets_range(tmp_path):
    root = tmp_path / "int32"
    _save(root, "low", "a", np.full((3, 3), 1000, np.int32), ".tif")
    _save(root, "high", "b", np.full((3, 3), 60000, np.int32), ".tif")
    ramp = np.array([[-5000, 0, 70000]] * 3, np.int32)  # the dataset's minimum -5000 and maximum 70000
    _save(root, "low", "c", ramp, ".tif")
    assert _mode(root / "low" / "a.tif") == "I"
    data = load_image_folder(str(root), height=3, width=3)
    span = 75000
    high, low, ramp_image = data.x[0], data.x[1], data.x[2]
    assert torch.allclose(low, torch.full_like(low, 6000 / span), atol=1e-6)
    assert torch.allclose(high, torch.full_like(high, 65000 / span), atol=1e-6)
    assert ramp_image[0, 0].tolist() == pytest.approx([0.0, 5000 / span, 1.0], abs=1e-6)
    # read alone, an image is scaled by its own range
    assert read_image(root / "low" / "a.tif", 1, 3, 3).max() == 0.0
    assert read_image(root / "low" / "c.tif", 1, 3, 3)[0, 0].tolist() == pytest.approx([0, 5000 / span, 1], abs=1e-6)


def test_float_images_are_scaled_by_the_datasets_range_and_nan_is_refused(tmp_path):
    root = tmp_path / "float"
    _save(root, "a", "1", np.array([[0.5, 1e6]], np.float32), ".tif")
    _save(root, "b", "2", np.array([[-3.0, 2.0]], np.float32), ".tif")
    assert _mode(root / "a" / "1.tif") == "F"
    data = load_image_folder(str(root), height=1, width=2)
    span = 1e6 + 3
    assert data.x[0, 0, 0].tolist() == pytest.approx([3.5 / span, 1.0], rel=1e-5)
    assert data.x[1, 0, 0].tolist() == pytest.approx([0.0, 5 / span], rel=1e-5)
    _save(root, "b", "3", np.array([[np.nan, 1.0]], np.float32), ".tif")
    assert _error(load_image_folder, str(root)) == f"{root / 'b' / '3.tif'} holds NaN or infinite pixel values"


def test_8_bit_images_keep_their_scale_and_resizing_keeps_the_range(tmp_path):
    root = tmp_path / "mixed"
    _save(root, "eight", "a", np.full((6, 6), 255, np.uint8))
    _save(root, "sixteen", "b", np.array([[0, 65535], [65535, 0]], np.uint16))
    _save(root, "eight", "c", np.zeros((2, 2, 3), np.uint8) + np.array([255, 0, 0], np.uint8))
    data = load_image_folder(str(root), channels=3, height=5, width=5)
    assert torch.allclose(data.x[0], torch.ones(3, 5, 5))
    assert torch.allclose(data.x[1, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert 0.0 <= float(data.x[2].min()) and float(data.x[2].max()) <= 1.0 and float(data.x[2].std()) > 0.1


# -- non-finite and overflowing values -----------------------------------------------------------------------
TABLE = "a,b,target\n1,2,3.5\n2,3,4.25\n3,4,5.75\n4,5,6.5\n"


@pytest.mark.parametrize("cell", ["inf", "-inf", "nan", "NaN", "Infinity", "1e999"])
def test_non_finite_csv_cells_name_the_file_row_and_column(tmp_path, cell):
    features = _error(load_csv, _csv(tmp_path, TABLE.replace("3,4,5.75", f"3,{cell},5.75")))
    assert features.startswith(f"data.csv row 4, column 'b': '{cell}' is not a usable number (NaN or infinite)")
    target = _error(load_csv, _csv(tmp_path, TABLE.replace("4.25", cell)), task="regression")
    assert target.startswith(f"data.csv row 3, column 'target': '{cell}' is not a usable number")


@pytest.mark.parametrize("cell", ["1e308", "-1e308", "3.5e38", "-1e39"])
def test_csv_values_beyond_float32_name_the_cell(tmp_path, cell):
    message = _error(load_csv, _csv(tmp_path, TABLE.replace("2,3,4.25", f"{cell},3,4.25")))
    assert message == (f"data.csv row 3, column 'a': '{cell}' is too large; training computes in 32-bit numbers, "
                       "which end at about 3.4e+38: scale the column down")
    message = _error(load_csv, _csv(tmp_path, TABLE.replace("6.5", cell)), task="regression")
    assert message.startswith(f"data.csv row 5, column 'target': '{cell}' is too large")


def test_regression_targets_whose_square_overflows_are_refused(tmp_path):
    message = _error(load_csv, _csv(tmp_path, TABLE.replace("5.75", "2e19")))
    assert message.startswith("data.csv row 4, column 'target': '2e19' is too large for a regression target")
    classes = load_csv(_csv(tmp_path, TABLE.replace("5.75", "2e19")), task="multiclass").classes  # names: fine
    assert classes == ["3.5", "4.25", "6.5", "20000000000000000000"]


def test_large_but_usable_values_standardise_to_finite_features(tmp_path):
    data = load_csv(_csv(tmp_path, TABLE.replace("1,2,3.5", "3e38,2,3.5").replace("2,3,4.25", "-3e38,3,4.25")))
    assert torch.isfinite(data.x).all() and data.x.abs().max() < 10


@pytest.mark.parametrize("value, where", [
    (np.inf, "sample 2, column 1"), (-np.inf, "sample 2, column 1"), (np.nan, "sample 2, column 1")])
def test_npz_non_finite_values_name_the_sample_and_column(tmp_path, value, where):
    x = np.zeros((4, 3))
    x[2, 1] = value
    np.savez(tmp_path / "a.npz", X=x, y=np.array([0, 1, 0, 1]))
    assert _error(load_npz, str(tmp_path / "a.npz")) == (
        f"a.npz: X holds NaN or infinite values in 1 sample; the first is {where} (counting from 0): fill them in "
        "or remove them")


def test_npz_values_overflowing_float32_name_the_sample_and_column(tmp_path):
    x = np.zeros((5, 3))
    x[3, 2] = 1e308
    np.savez(tmp_path / "a.npz", X=x, y=np.arange(5) % 2)
    assert _error(load_npz, str(tmp_path / "a.npz")) == (
        "a.npz: X sample 3, column 2 (counting from 0) holds 1e+308, beyond the range of the 32-bit numbers training "
        "computes in (about 3.4e+38): scale it down")
    images = np.zeros((3, 1, 2, 2))
    images[1, 0, 1, 0] = -1e300
    np.savez(tmp_path / "b.npz", X=images, y=np.array([0, 1, 0]))
    assert "b.npz: X sample 1, position (0, 1, 0) (counting from 0) holds -1e+300" in _error(load_npz,
                                                                                          str(tmp_path / "b.npz"))
    np.savez(tmp_path / "c.npz", X=np.zeros((40, 1)), y=np.linspace(0, 1e20, 40))
    assert "c.npz: y sample 1, column 0 (counting from 0) holds 2.5641e+18, too large for a regression target" in \
        _error(load_npz, str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", X=np.zeros((40, 1)), y=np.linspace(0, 1e308, 40))
    assert "d.npz: y sample 1, column 0 (counting from 0) holds 2.5641e+306, beyond the range" in _error(
        load_npz, str(tmp_path / "d.npz"))


# -- hostile CSV content -------------------------------------------------------------------------------------
def test_nul_bytes_bad_utf8_and_utf16_are_one_line_with_the_row(tmp_path):
    assert _error(load_csv, _csv(tmp_path, b"a,b\n1,x\n2,\x00y\n")) == (
        "data.csv is not a UTF-8 text file (row 3 holds a NUL byte: a binary file, or text saved as UTF-16?): save "
        "it as CSV UTF-8")
    assert _error(load_csv, _csv(tmp_path, b"a,b\n1,x\n2,caf\xe9\n")) == (
        "data.csv is not a UTF-8 text file (row 3, byte 6 of the line cannot be read): save it as CSV UTF-8")
    assert _error(load_csv, _csv(tmp_path, "a,b\n1,x\n2,y\n".encode("utf-16"))) == (
        "data.csv is UTF-16 text, not UTF-8: save it as CSV UTF-8")


def test_a_utf8_byte_order_mark_is_skipped(tmp_path):
    data = load_csv(_csv(tmp_path, "\ufeffage,label\n1,x\n2,y\n3,x\n".encode("utf-8")), target="label")
    assert data.feature_names == ["age"]


def test_an_endless_line_and_an_enormous_header_are_refused(tmp_path):
    line = tables.MAX_LINE_BYTES + 10
    path = tmp_path / "long.csv"
    with open(path, "wb") as f:
        f.write(b"a,b\n1,")
        f.write(b"9" * line)
    assert _error(load_csv, str(path)) == ("long.csv row 2 is longer than 16 MB: it is not a table of values one row "
                                           "per line")
    header = ",".join(f"c{i}" for i in range(tables.MAX_COLUMNS + 1))
    assert _error(load_csv, _csv(tmp_path, header + "\n" + header + "\n")) == (
        f"data.csv row 1 has {tables.MAX_COLUMNS + 1:,} values; NN Studio reads at most {tables.MAX_COLUMNS:,} columns")


def test_a_quote_left_open_stops_at_the_field_limit(tmp_path):
    text = 'a,b\n1,x\n2,"open quote\n' + ("more text\n" * (csv.field_size_limit() // 8))
    assert _error(load_csv, _csv(tmp_path, text)) == (
        f"data.csv row 3: a value is longer than {csv.field_size_limit():,} characters (is a quote left open?)")


def test_cells_are_never_evaluated(tmp_path):
    text = ("x,formula,label\n1,=cmd|' /C calc'!A0,a\n2,__import__('os').system('x'),b\n3,2+2,a\n4,{{7*7}},b\n")
    data = load_csv(_csv(tmp_path, text))
    assert "formula==cmd|' /C calc'!A0" in data.feature_names and "formula=2+2" in data.feature_names
    message = _error(load_csv, _csv(tmp_path, "x,label\n1,a\n2+2,b\n3,a\n4,b\n"))
    assert message == "data.csv row 3, column 'x': '2+2' is not a number"


def test_the_delimiter_guess_is_linear_and_never_runs_the_sniffer(tmp_path, monkeypatch):
    def no_sniffer(*args, **kwargs):
        raise AssertionError("csv.Sniffer takes quadratic time on crafted lines")

    monkeypatch.setattr(csv, "Sniffer", no_sniffer)
    crafted = ',"' * 50_000  # csv.Sniffer needs minutes for a line like this
    data = load_csv(_csv(tmp_path, 'a;b;label\n1;u;x\n3;v;y\n5;"' + crafted + '";x\n'), target="label")
    names = data.feature_names
    assert len(names) == 4 and names[0] == "a" and names[1].startswith("b=,") and names[2:] == ["b=u", "b=v"]
    assert len(data) == 3
    for delimiter in (";", "\t", "|", ","):
        text = "a,b,label\n1,2,x\n3,4,y\n".replace(",", delimiter)
        assert load_csv(_csv(tmp_path, text)).feature_names == ["a", "b"]
    decimal_commas = "a;b;label\n1,5;2,25;x\n3,5;4;y\n"  # commas inside values, semicolons between them
    assert load_csv(_csv(tmp_path, decimal_commas)).feature_names == ["a=1,5", "a=3,5", "b=2,25", "b=4"]


def test_old_mac_line_breaks_and_names_with_line_breaks(tmp_path):
    data = load_csv(_csv(tmp_path, "a,label\r1,x\r2,y\r3,x\r"))
    assert len(data) == 3
    message = _error(load_csv, _csv(tmp_path, '"first\nname",label\n1,x\n2,y\n'), target="missing")
    assert "has no target column 'missing' (its columns: 'first\\nname', label)" in message


def test_text_csv_keeps_only_what_it_needs(tmp_path):
    long_text = " ".join(f"w{i}" for i in range(5000))
    text = "text,label\n" + f'"{long_text}",a\n' + "short words,b\n" * 3
    data = load_text_csv(_csv(tmp_path, text), length=8, max_vocab=10)
    assert data.x.shape == (4, 8) and data.vocab[:2] == ["<pad>", "<unk>"] and len(data.vocab) == 10
    assert data.vocab[2:4] == ["short", "words"]  # counted over the whole file
