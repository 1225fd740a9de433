"""Reading a person's own data in exported scripts: CSV tables, labelled texts, .npz arrays, image
folders. Plain numpy / torch (and Pillow for images), no nnstudio imports.

``python_code`` copies the functions a project needs into the exported file. They repeat NN
Studio's own maths (``nnstudio.core.data.tables``, ``text``, ``arrays``, ``images``; described in
docs/datasets.md): standardised numeric columns and one-hot text columns over the whole file,
classes in sorted order, the vocabulary of the most frequent words, images resized and scaled by
their real range. The same file gives the same tensors as in the app. What the app refuses is
refused here too with one line naming the file, the row and the column, though the app's memory
limits are not repeated. Keep lines under 100 columns: the text ends up in people's files.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter

import numpy as np
import torch

try:  # the exported file imports Pillow only when it reads an image folder
    from PIL import Image
except ImportError:  # pragma: no cover - Pillow is one of NN Studio's dependencies
    Image = None

from nnstudio.core.export.standalone_data import data_file, encode_tokens, words_of


# -- CSV files ----------------------------------------------------------------------------------
def guess_delimiter(lines):
    """The delimiter (, ; tab |) that splits the first lines into the same number (two or more) of
    columns as the first one, most often; ties go to that order."""
    best, best_share = ",", 0.0
    for delimiter in (",", ";", "\t", "|"):
        counts = []
        try:
            for cells in csv.reader(lines, delimiter=delimiter):
                if any(c.strip() for c in cells):
                    counts.append(len(cells))
        except csv.Error:
            pass
        if not counts or counts[0] < 2:
            continue
        share = sum(c == counts[0] for c in counts) / len(counts)
        if share > best_share:
            best, best_share = delimiter, share
    return best


def read_csv_rows(path, delimiter="auto"):
    """A UTF-8 CSV file as (header, rows, row numbers); blank lines are skipped and rows are
    numbered as an editor shows them (the header is row 1)."""
    name = os.path.basename(path)
    try:
        with open(data_file(path, "CSV file"), encoding="utf-8-sig", newline="") as f:
            lines = list(f)
    except UnicodeDecodeError:
        raise SystemExit(f"{name} is not a UTF-8 text file: save it as CSV UTF-8")
    except OSError as exc:
        raise SystemExit(f"cannot read {name}: {exc.strerror or exc}")
    if delimiter == "auto":
        head, chars = [], 0
        for line in lines[:50]:
            head.append(line)
            chars += len(line)
            if chars >= 1 << 20:
                break
        delimiter = guess_delimiter(head)
    reader = csv.reader(lines, delimiter=delimiter)
    header, rows, numbers, end = None, [], [], 0
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if "\x00" in "".join(cells):
                raise SystemExit(f"{name} row {line} holds a NUL byte: save it as CSV UTF-8")
            if header is None:
                header = [c or f"column {i + 1}" for i, c in enumerate(cells)]
                if len(set(header)) != len(header):
                    raise SystemExit(f"{name}: two columns have the same name; rename one")
                continue
            if len(cells) != len(header):
                raise SystemExit(f"{name} row {line} has {len(cells)} values but the header has "
                                 f"{len(header)} columns")
            rows.append(cells)
            numbers.append(line)
    except csv.Error as exc:
        raise SystemExit(f"{name} row {end + 1}: {exc}")
    if header is None:
        raise SystemExit(f"{name} is empty")
    if not rows:
        raise SystemExit(f"{name} has a header but no data rows")
    return header, rows, numbers


def column_of(name, header, column, what):
    if column not in header:
        raise SystemExit(f"{name} has no {what} {column!r} (its columns: {', '.join(header)})")
    return header.index(column)


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_numeric_column(cells):
    """More than half of the non-empty cells are numbers."""
    filled = [c for c in cells if c]
    return bool(filled) and sum(map(is_number, filled)) > 0.5 * len(filled)


def column_numbers(name, header, rows, numbers, column):
    """A column as float64; an empty cell, a word, NaN / infinity or a number beyond float32's
    range stops the script with the file, row and column."""
    out = np.empty(len(rows), dtype=np.float64)
    limit = float(np.finfo(np.float32).max)
    for r, row in enumerate(rows):
        cell, where = row[column], f"{name} row {numbers[r]}, column {header[column]!r}"
        if not cell:
            raise SystemExit(f"{where}: the cell is empty; fill it in or remove the row")
        if not is_number(cell):
            raise SystemExit(f"{where}: {cell[:40]!r} is not a number")
        value = float(cell)
        if not math.isfinite(value) or abs(value) > limit:
            raise SystemExit(f"{where}: {cell[:40]!r} is NaN, infinite or beyond float32's range")
        out[r] = value
    return out


def column_texts(name, header, rows, numbers, column):
    for r, row in enumerate(rows):
        if not row[column]:
            raise SystemExit(f"{name} row {numbers[r]}, column {header[column]!r}: the cell is "
                             "empty; fill it in or remove the row")
    return [row[column] for row in rows]


def class_indices(values, where):
    """Labels (numbers or names) as indices 0 .. k-1 in sorted order (numbers numerically; 1 and
    1.0 are one class); returns y (int64) and the class names."""
    keys = [v if isinstance(v, str) else (int(v) if float(v).is_integer() else float(v))
            for v in values]
    numeric = all(not isinstance(k, str) for k in keys)
    unique = sorted(set(keys)) if numeric else sorted(set(str(k) for k in keys))
    if len(unique) < 2:
        raise SystemExit(f"{where}: every sample has the same label; a classifier needs two")
    index = {k: i for i, k in enumerate(unique)}
    ids = [index[k] if numeric else index[str(k)] for k in keys]
    return torch.tensor(ids, dtype=torch.long), [str(k) for k in unique]


def looks_like_regression(values):
    """NN Studio's "auto" rule: more than 20 distinct values, or fractions and more than two."""
    distinct = np.unique(np.asarray(values, dtype=np.float64))
    if len(distinct) > 20:
        return True
    return len(distinct) > 2 and not np.all(np.equal(np.mod(distinct, 1), 0))


def load_csv_table(path, target="", task="auto", delimiter="auto"):
    """A CSV table: numeric feature columns standardised over the whole file, text columns one-hot
    (one 0/1 column per value, sorted); the target column (the last when ``target`` is empty) as
    class indices or, for regression, float32 (N, 1). Returns x (float32) and y."""
    header, rows, numbers = read_csv_rows(path, delimiter)
    name = os.path.basename(path)
    where = (name, header, rows, numbers)
    at = column_of(name, header, target, "target column") if target else len(header) - 1
    blocks = []
    for column in (i for i in range(len(header)) if i != at):
        if is_numeric_column([row[column] for row in rows]):
            values = column_numbers(*where, column)
            std = values.std()
            blocks.append(((values - values.mean()) / (std if std != 0 else 1.0))[:, None])
            continue
        cells = column_texts(*where, column)
        found = sorted(set(cells))
        if len(found) > 100:
            raise SystemExit(f"{name} column {header[column]!r} has {len(found)} different values "
                             "that are not numbers: remove it or turn it into numbers")
        index = {value: i for i, value in enumerate(found)}
        block = np.zeros((len(rows), len(found)))
        block[np.arange(len(rows)), [index[c] for c in cells]] = 1
        blocks.append(block)
    if not blocks:
        raise SystemExit(f"{name} has only the target column: there are no features")
    x = torch.from_numpy(np.concatenate(blocks, axis=1).astype(np.float32))
    numeric = is_numeric_column([row[at] for row in rows])
    if task == "regression" or (task == "auto" and numeric
                                and looks_like_regression(column_numbers(*where, at))):
        values = column_numbers(*where, at)
        if np.abs(values).max() > 1e18:
            raise SystemExit(f"{name} column {header[at]!r} holds a target beyond 1e18: scale it")
        return x, torch.from_numpy(values.astype(np.float32)).unsqueeze(1)
    labels = column_numbers(*where, at) if numeric else column_texts(*where, at)
    y, _ = class_indices(list(labels), f"{name} column {header[at]!r}")
    return x, y


def load_text_csv(path, text_column="text", label_column="label", length=32, max_vocab=1000,
                  delimiter="auto"):
    """Labelled texts: each text split into lower-case words, numbered by a vocabulary of <pad>,
    <unk> and the file's max_vocab - 2 most frequent words (ties alphabetical), its first
    ``length`` words padded with 0 at the start. Returns x (N, length) int64 and y (int64)."""
    header, rows, numbers = read_csv_rows(path, delimiter)
    name = os.path.basename(path)
    where = (name, header, rows, numbers)
    text_at = column_of(name, header, text_column, "text column")
    label_at = column_of(name, header, label_column, "label column")
    sentences = column_texts(*where, text_at)
    numeric = is_numeric_column([row[label_at] for row in rows])
    labels = column_numbers(*where, label_at) if numeric else column_texts(*where, label_at)
    y, _ = class_indices(list(labels), f"{name} column {label_column!r}")
    counts, tokens = Counter(), []
    for sentence in sentences:
        words = words_of(sentence)
        counts.update(words)
        tokens.append(words[:length])
    counts.pop("<pad>", None)
    counts.pop("<unk>", None)
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    vocab = ["<pad>", "<unk>"] + ranked[:max(0, max_vocab - 2)]
    return encode_tokens(tokens, vocab, length), y


# -- NumPy arrays --------------------------------------------------------------------------------
def load_npz_arrays(path, task="auto", inputs="features"):
    """X and y from an .npz saved with numpy.savez(path, X=..., y=...), read without pickle: X as
    float32 (a 1-D X as (N, 1)) or, for ``inputs`` "tokens", int64 ids; y as class indices or, for
    regression, float32 (N, targets)."""
    name = os.path.basename(path)
    try:
        with np.load(data_file(path, ".npz file"), allow_pickle=False) as archive:
            x, y = archive["X"], archive["y"]
    except KeyError:
        raise SystemExit(f"{name} has no array X or y: save it with numpy.savez(path, X=, y=)")
    except (OSError, ValueError, EOFError) as exc:
        raise SystemExit(f"{name} is not an .npz of plain arrays ({exc})")
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biufU":
        raise SystemExit(f"{name}: X must hold numbers and y numbers or class names")
    if not x.ndim or not y.ndim or len(x) != len(y) or not len(x):
        raise SystemExit(f"{name}: X and y must hold the same number (one or more) of samples")
    for key, values in (("X", x), ("y", y)):
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise SystemExit(f"{name}: {key} holds NaN or infinite values")
        if values.dtype.kind == "f" and np.abs(values).max() > np.finfo(np.float32).max:
            raise SystemExit(f"{name}: {key} holds values beyond float32's range")
    x = x[:, None] if x.ndim == 1 else x
    if inputs == "tokens":
        if x.dtype.kind == "f" and not np.all(np.mod(x, 1) == 0) or x.min() < 0:
            raise SystemExit(f"{name}: X must hold whole-number token ids of 0 or more")
        x = torch.from_numpy(x.astype(np.int64))
    else:
        x = torch.from_numpy(x.astype(np.float32))
    if task == "auto":
        float_y = y.dtype.kind == "f"
        wide = y.ndim > 1 and y.shape[1] > 1
        task = "regression" if float_y and (wide or looks_like_regression(y)) else "classes"
    if task == "regression":
        if y.dtype.kind == "U":
            raise SystemExit(f"{name}: y holds class names but the task is regression")
        return x, torch.from_numpy(y.astype(np.float32).reshape(len(y), -1))
    if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise SystemExit(f"{name}: y has shape {y.shape}; class labels are one per sample")
    labels, _ = class_indices(y.reshape(-1).tolist(), f"{name}: y")
    return x, labels


# -- image folders -------------------------------------------------------------------------------
def image_listing(root):
    """[(image path, class index)] of a folder with one subfolder per class (sorted; entries
    starting with a dot and files without an image extension are skipped)."""
    extensions = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}
    try:
        names = sorted(n for n in os.listdir(root) if not n.startswith("."))
    except OSError as exc:
        raise SystemExit(f"cannot list the image folder {root!r}: {exc.strerror or exc} (give it "
                         "with --data)")
    folders = [n for n in names if os.path.isdir(os.path.join(root, n))]
    if len(folders) < 2:
        raise SystemExit(f"{root!r} needs one subfolder of images per class, at least two")
    files = []
    for k, folder in enumerate(folders):
        found = []
        for entry in sorted(os.listdir(os.path.join(root, folder))):
            path = os.path.join(root, folder, entry)
            if entry.startswith(".") or os.path.splitext(entry)[1].lower() not in extensions:
                continue
            if os.path.isdir(path):
                continue
            found.append((data_file(path, "image file"), k))
        if not found:
            raise SystemExit(f"the class folder {folder!r} holds no images")
        files += found
    return files


def decode_image(path, channels, height, width):
    """(pixels, range): float32 (channels, height, width); 8- and 16-bit images scaled to [0, 1]
    (range None), 32-bit integer and float images as value - their minimum, with their range."""
    try:
        with Image.open(path) as image:
            bilinear = Image.Resampling.BILINEAR
            if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
                values = np.asarray(image).astype(np.float64)
                if values.ndim != 2 or not np.all(np.isfinite(values)):
                    raise SystemExit(f"{path}: a {image.mode} image that cannot be read")
                found = None if image.mode.startswith("I;16") else (values.min(), values.max())
                values = values / 65535.0 if found is None else values - found[0]
                plane = Image.fromarray(values.astype(np.float32))
                plane = plane.resize((width, height), bilinear)
                pixels = np.asarray(plane, dtype=np.float32)[None]
                return np.repeat(pixels, channels, axis=0), found
            image = image.convert("L" if channels == 1 else "RGB")
            image = image.resize((width, height), bilinear)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError, TypeError, Image.DecompressionBombError) as exc:
        raise SystemExit(f"{path} cannot be read as an image ({exc})")
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)), None


def load_image_folder(root, channels=1, height=28, width=28):
    """Images (N, channels, height, width) float32 in [0, 1], labelled by their subfolder; 32-bit
    integer and float images share one scale, the smallest and largest pixel of all of them."""
    files = image_listing(root)
    x = np.empty((len(files), channels, height, width), dtype=np.float32)
    open_range, low, high = [], np.inf, -np.inf
    for i, (path, _) in enumerate(files):
        x[i], found = decode_image(path, channels, height, width)
        if found is not None:
            open_range.append((i, found[0]))
            low, high = min(low, found[0]), max(high, found[1])
    span = high - low
    for i, minimum in open_range:
        scaled = (x[i].astype(np.float64) + (minimum - low)) / span if span > 0 else 0 * x[i]
        x[i] = np.clip(scaled, 0.0, 1.0)
    return torch.from_numpy(x), torch.tensor([k for _, k in files], dtype=torch.long)
