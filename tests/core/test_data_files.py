"""Dataset paths are read safely: only regular files and folders (devices, FIFOs, sockets and links to them are
refused, never opened for reading), within the ``max_megabytes`` limit checked before anything large is
allocated, and a load can be cancelled between rows, images and chunks. Files are made in tmp_path."""

from __future__ import annotations

import os
import socket
import struct
import sys
import tempfile
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnstudio.core.data import DATASETS, LoadCancelled, LoadToken, load_dataset
from nnstudio.core.data import arrays, csv_rows, images, reading
from nnstudio.core.data.arrays import load_npz
from nnstudio.core.data.images import load_image_folder
from nnstudio.core.data.tables import load_csv
from nnstudio.core.data.text import load_text_csv
from nnstudio.core.errors import DatasetError

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and Unix sockets are POSIX")
FILE_LOADERS = {"csv": load_csv, "npz": load_npz, "text_csv": load_text_csv}


def _error(load, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as error:
        load(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def _guarded(load, *args, **kwargs) -> str:
    """``_error`` on a helper thread: a loader that opened a FIFO for reading would block there for ever, and the
    test must fail rather than hang (nothing writes to the FIFO)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["message"] = _error(load, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["failure"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the loader blocked: it opened the FIFO for reading"
    if "failure" in box:
        raise box["failure"]  # type: ignore[misc]
    return str(box["message"])


def _short_dir() -> Path:
    """A short folder for a Unix socket (its path must stay under about 100 characters)."""
    return Path(tempfile.mkdtemp(prefix="nn", dir="/tmp" if os.path.isdir("/tmp") else None))


# -- special files -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("name", FILE_LOADERS)
def test_device_files_are_refused_naming_the_option_and_path(name, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    message = _guarded(load_dataset, {"name": name, "path": device})
    assert message == (f"the dataset's option 'path': {device} is a character device, not a regular file; "
                       "NN Studio reads data only from regular files")


@posix_only
@pytest.mark.parametrize("name", FILE_LOADERS)
def test_a_fifo_is_refused_without_being_opened(tmp_path, name):
    fifo = tmp_path / "data.fifo"
    os.mkfifo(fifo)
    message = _guarded(load_dataset, {"name": name, "path": str(fifo)})
    assert f"option 'path': {fifo} is a FIFO (named pipe), not a regular file" in message


@posix_only
def test_a_fifo_swapped_in_after_the_check_is_caught_on_the_open_descriptor(tmp_path, monkeypatch):
    """The race: the path was a regular file when looked at, a FIFO when opened. Opened non-blocking, the FIFO
    does not block, and fstat of the descriptor refuses it."""
    regular = tmp_path / "real.csv"
    regular.write_text("a,b\n1,2\n")
    fifo = tmp_path / "swapped.csv"
    os.mkfifo(fifo)
    real_stat = reading._stat
    monkeypatch.setattr(reading, "_stat", lambda path, option, follow=True: real_stat(regular, option))
    message = _guarded(load_csv, str(fifo))
    assert f"option 'path': {fifo} is a FIFO (named pipe), not a regular file" in message


@posix_only
def test_a_socket_and_a_link_to_a_device_are_refused(tmp_path):
    folder = _short_dir()
    try:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(folder / "s.csv"))
        try:
            assert "is a socket, not a regular file" in _guarded(load_csv, str(folder / "s.csv"))
        finally:
            server.close()
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    if os.path.exists("/dev/zero"):
        link = tmp_path / "zeros.npz"
        link.symlink_to("/dev/zero")
        assert f"{link} is a character device" in _guarded(load_npz, str(link))


def test_a_folder_given_as_a_file_and_a_file_given_as_a_folder(tmp_path):
    (tmp_path / "table.csv").mkdir()
    assert "table.csv is a folder, not a CSV file" in _error(load_csv, str(tmp_path / "table.csv"))
    (tmp_path / "images").write_text("x")
    assert "is a file; choose the folder" in _error(load_image_folder, str(tmp_path / "images"))
    if os.path.exists("/dev/zero"):
        assert _error(load_image_folder, "/dev/zero") == ("the dataset's option 'path': /dev/zero is a character "
                                                         "device, not a folder")
    assert "embedded null" in _error(load_csv, str(tmp_path / "a\x00b.csv"))


@posix_only
def test_special_entries_in_an_image_folder_are_refused_and_folders_skipped(tmp_path):
    image = pytest.importorskip("PIL.Image")
    root = tmp_path / "pets"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        image.new("L", (4, 4), 200).save(root / name / "1.png")
    (root / "cat" / "nested.png").mkdir()  # a folder, even with an image's name: skipped
    (root / "cat" / "notes").mkdir()
    os.mkfifo(root / "dog" / ".hidden.png")  # hidden: never looked at
    assert load_image_folder(str(root), height=4, width=4).x.shape == (2, 1, 4, 4)

    os.mkfifo(root / "dog" / "pipe.png")
    assert _guarded(load_image_folder, str(root)) == (f"{root / 'dog' / 'pipe.png'} is a FIFO (named pipe), not a "
                                                      "regular file; NN Studio reads only regular files: remove it "
                                                      "from the image folder")
    (root / "dog" / "pipe.png").unlink()
    if os.path.exists("/dev/zero"):
        (root / "dog" / "zero.png").symlink_to("/dev/zero")
        assert "zero.png is a character device, not a regular file" in _guarded(load_image_folder, str(root))
        (root / "dog" / "zero.png").unlink()
    (root / "dog" / "gone.png").symlink_to(root / "nowhere.png")
    assert "gone.png is a broken link" in _error(load_image_folder, str(root))


# -- size limits ---------------------------------------------------------------------------------------------
def test_every_importer_offers_the_memory_limit_option():
    for name in ("csv", "npz", "image_folder", "text_csv"):
        option = next(p for p in DATASETS[name].params if p.name == "max_megabytes")
        assert option.default == reading.MAX_MEGABYTES == 2048 and option.kind == "int" and option.minimum == 1
    message = str(pytest.raises(DatasetError, load_dataset, {"name": "csv", "path": "x.csv", "max_megabytes": 0})
                  .value)
    assert "option 'max_megabytes': Memory limit (MB) must be at least 1" in message


def test_a_csv_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "".join(f"{i}.{'0' * 30}1,{i % 2}\n" for i in range(30_000)))  # 1.1 MB
    message = _error(load_dataset, {"name": "csv", "path": str(path), "max_megabytes": 1})
    assert message == ("big.csv is 1.1 MB, more than the dataset's limit of 1 MB (option 'max_megabytes'): raise the "
                       "limit to read it, or use less data")
    assert load_dataset({"name": "csv", "path": str(path), "max_megabytes": 200}).x.shape == (30_000, 1)


def test_csv_rows_are_counted_against_the_limit_as_they_are_read(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_rows, "BLOCK_CELLS", 4096)  # checked after every 1,024 rows of 4 cells
    path = tmp_path / "cells.csv"
    path.write_text("a,b,c,d\n" + "1,2,3,4\n" * 60_000)  # under 0.5 MB on disk, about 2.9 MB as columns
    assert path.stat().st_size < reading.MEGABYTE
    message = _error(load_csv, str(path), max_megabytes=1)
    assert message.startswith("cells.csv: its rows would take at least 1.0 MB, more than the dataset's limit of 1 MB")
    message = _error(load_text_csv, str(path), text_column="a", label_column="b", length=4096, max_megabytes=64)
    assert message.startswith("cells.csv: 60,000 texts of 4,096 token ids would take 1.8 GB, more than the "
                              "dataset's limit of 64 MB")


def _savez(path: Path, compressed: bool = False, **arrays_) -> str:
    (np.savez_compressed if compressed else np.savez)(path, **arrays_)
    return str(path)


def test_npz_arrays_larger_than_the_limit_are_refused_before_allocation(tmp_path):
    """A small compressed file whose arrays would take far more than the limit: refused from the headers."""
    path = _savez(tmp_path / "zeros.npz", compressed=True, X=np.zeros((2_000_000, 4)), y=np.zeros(2_000_000))
    assert os.path.getsize(path) < reading.MEGABYTE
    tracemalloc.start()
    try:
        message = _error(load_npz, path, max_megabytes=16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == ("zeros.npz: X (2000000, 4) of float64 and y (2000000,) of float64 would take 122 MB, more "
                       "than the dataset's limit of 16 MB (option 'max_megabytes'): raise the limit to read it, or "
                       "use less data")
    assert peak < 8 * reading.MEGABYTE, f"{peak:,} bytes were allocated before the refusal"


def _zip_of_headers(path: Path, members: dict[str, bytes], claimed: dict[str, int] | None = None) -> str:
    """An archive of raw member bytes; ``claimed`` overwrites members' uncompressed sizes in the zip headers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    raw = bytearray(path.read_bytes())
    for name, size in (claimed or {}).items():
        for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            start = 0
            while (start := raw.find(signature, start)) >= 0:
                name_at = start + (30 if signature == b"PK\x03\x04" else 46)
                length = struct.unpack_from("<H", raw, start + (26 if signature == b"PK\x03\x04" else 28))[0]
                if raw[name_at:name_at + length] == name.encode():
                    struct.pack_into("<I", raw, start + offset, size)
                start += 4
    path.write_bytes(bytes(raw))
    return str(path)


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    out = np.lib.format.magic(1, 0)
    text = repr(header).encode("latin1")
    pad = 64 - (len(out) + 2 + len(text) + 1) % 64
    return out + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n"


def test_an_npz_header_claiming_terabytes_is_refused_not_allocated(tmp_path):
    huge = (10**9, 10**4)
    path = _zip_of_headers(tmp_path / "claims.npz", {"X.npy": _npy_header(huge), "y.npy": _npy_header((10**9,))})
    message = _error(load_npz, path)
    assert message == ("claims.npz: array X's header claims shape (1000000000, 10000) of float64 (73 TB) but the "
                       "archive holds 128 bytes for it: the file is damaged or was not written by numpy.savez")
    # the zip headers lie too, and agree with the npy header: the limit refuses it
    n = (0xF0000000 - 128) // 8
    path = _zip_of_headers(tmp_path / "agrees.npz", {"X.npy": _npy_header((n,)), "y.npy": _npy_header((n,))},
                           claimed={"X.npy": 0xF0000000, "y.npy": 0xF0000000})
    message = _error(load_npz, path)
    assert message.startswith(f"agrees.npz: X ({n},) of float64 and y ({n},) of float64 would take 13 GB, more than "
                              "the dataset's limit of 2,048 MB")
    # within a raised limit the arrays are allocated lazily, and the short member is a plain error
    message = _error(load_npz, path, max_megabytes=20_000)
    assert message == "agrees.npz: array X ends after 0 bytes of 3.7 GB: the file is damaged"


def test_npz_members_objects_and_records_are_checked_from_the_header(tmp_path):
    path = _zip_of_headers(tmp_path / "objects.npz", {"X.npy": _npy_header((2,), "|O"), "y.npy": b""})
    assert "objects.npz: array X holds Python objects" in _error(load_npz, path)
    records = np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")])
    path = _savez(tmp_path / "records.npz", X=records, y=np.zeros(3))
    assert "records.npz: array X holds records" in _error(load_npz, path)
    path = _zip_of_headers(tmp_path / "junk.npz", {"X.npy": b"not an array", "y.npy": b""})
    assert "junk.npz: array X is not a NumPy array" in _error(load_npz, path)
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(arrays.MAX_MEMBERS + 1):
            archive.writestr(f"a{i}.npy", b"")
    assert f"many.npz declares {arrays.MAX_MEMBERS + 1:,} archive members" in _error(load_npz, str(path))


def test_npz_token_ids_beyond_any_vocabulary_are_refused(tmp_path):
    path = _savez(tmp_path / "ids.npz", X=np.array([[1, 2], [3, 10**12]]), y=np.array([0, 1]))
    assert "ids.npz: X holds the token id 1,000,000,000,000" in _error(load_npz, path, inputs="tokens")


def test_npz_in_fortran_order_and_big_endian_reads_the_same(tmp_path):
    x = np.asfortranarray(np.arange(12, dtype=">f8").reshape(6, 2))
    data = load_npz(_savez(tmp_path / "f.npz", X=x, y=np.array([0, 1] * 3)))
    assert data.x.tolist() == np.arange(12).reshape(6, 2).tolist()


def _folder(tmp_path: Path, count: int = 2, size: tuple[int, int] = (8, 8), noise: bool = False) -> Path:
    image = pytest.importorskip("PIL.Image")
    root = tmp_path / "folder"
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(count):
            if noise:  # noise does not compress: the file is as large as its pixels
                image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8)).save(root / name / f"{i}.png")
            else:
                image.new("L", size, 100).save(root / name / f"{i}.png")
    return root


def test_image_folders_are_bounded_before_any_image_is_decoded(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    decoded = []
    real = images._decode
    monkeypatch.setattr(images, "_decode", lambda *a, **k: decoded.append(a[0]) or real(*a, **k))
    message = _error(load_image_folder, str(root), channels=3, height=1024, width=1024, max_megabytes=32)
    assert message.startswith("4 images of 3 x 1024 x 1024 would take 48 MB, more than the dataset's limit of 32 MB")
    assert decoded == []
    big = _folder(tmp_path / "big", count=1, size=(1200, 1000))
    message = _error(load_image_folder, str(big), max_megabytes=1)
    assert message.startswith(f"{big / 'a' / '0.png'} decodes to 18 MB, more than the dataset's limit of 1 MB")
    decoded.clear()
    many = _folder(tmp_path / "many", count=10, size=(256, 256), noise=True)
    message = _error(load_image_folder, str(many), max_megabytes=1)
    assert message.startswith("the 20 image files of folder are 1.3 MB, more than the dataset's limit of 1 MB")
    assert decoded == []


# -- cancelling ----------------------------------------------------------------------------------------------
class CancelAfter(LoadToken):
    """Cancels itself once ``reports`` progress reports have come (what another thread's Cancel would do)."""

    def __init__(self, reports: int = 1) -> None:
        super().__init__()
        self.left, self.seen = reports, []

    def report(self, done: int, total: int, what: str) -> None:
        self.seen.append((done, total, what))
        self.left -= 1
        if self.left <= 0:
            self.cancel()
        super().report(done, total, what)


def test_a_cancelled_token_stops_any_load_before_it_reads(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    token = LoadToken()
    token.cancel()
    with pytest.raises(LoadCancelled, match="loading the data was cancelled"):
        load_dataset({"name": "csv", "path": str(path)}, token=token)
    assert load_dataset({"name": "csv", "path": str(path)}).x.shape == (2, 1)  # the next load is not affected


def test_csv_reading_is_cancelled_between_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_rows, "BLOCK_CELLS", 4096)
    monkeypatch.setattr(csv_rows, "READ_BYTES", 4096)
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(20_000)))
    token = CancelAfter(1)
    with pytest.raises(LoadCancelled):
        load_dataset({"name": "csv", "path": str(path)}, token=token)
    done, total, what = token.seen[0]
    assert what == "reading rows.csv" and 0 < done < total == path.stat().st_size


def test_npz_reading_is_cancelled_between_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "CHUNK_BYTES", 4096)
    path = _savez(tmp_path / "chunks.npz", X=np.ones((4096, 4)), y=np.arange(4096) % 2)
    token = CancelAfter(3)
    with pytest.raises(LoadCancelled):
        load_dataset({"name": "npz", "path": path}, token=token)
    assert [t[0] for t in token.seen] == [4096, 8192, 12288] and token.seen[0][2] == "reading chunks.npz"


def test_image_reading_is_cancelled_between_images(tmp_path, monkeypatch):
    root = _folder(tmp_path, count=3)
    decoded = []
    real = images._decode
    monkeypatch.setattr(images, "_decode", lambda *a, **k: decoded.append(a[0]) or real(*a, **k))
    token = CancelAfter(2 + 2)  # two listing reports, then the first two images
    with pytest.raises(LoadCancelled):
        load_dataset({"name": "image_folder", "path": str(root)}, token=token)
    assert len(decoded) == 1


def test_the_token_of_a_thread_is_its_own(tmp_path):
    token = LoadToken()
    with reading.using(token):
        assert reading.current_token() is token
        other = []
        thread = threading.Thread(target=lambda: other.append(reading.current_token()))
        thread.start()
        thread.join()
        assert other[0] is not token and not other[0].cancelled
    assert reading.current_token() is not token


def test_progress_and_sizes_in_words():
    token = LoadToken()
    token.report(3, 10, "reading x.csv")
    assert token.progress == (3, 10, "reading x.csv")
    assert [reading.size_text(n) for n in (5, 2048, 5 * 1024**2, 80 * 1024**4)] == [
        "5 bytes", "2.0 kB", "5.0 MB", "80 TB"]
    assert reading.shown("a\nb.csv") == "'a\\nb.csv'"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_unreadable_file_is_one_line(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a,b\n1,2\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who reads everything")
        assert "option 'path'" in _error(load_csv, str(path)) and "Permission denied" in _error(load_csv, str(path))
    finally:
        path.chmod(0o644)


# -- checking without loading (for validate) ------------------------------------------------------------------
def test_check_dataset_finds_what_loading_would_refuse_without_reading(tmp_path, monkeypatch):
    from nnstudio.core.data.registry import check_dataset

    assert check_dataset({"name": "spiral"}) == [] and check_dataset({"name": "csv", "path": "x"}, tmp_path) == [
        f"{tmp_path / 'x'}: no such file"]
    assert check_dataset({"name": "csv"}) == ["no CSV file chosen: set the dataset's path"]
    assert check_dataset({"name": "spirals"})[0].startswith("there is no dataset called 'spirals'")
    if os.path.exists("/dev/zero"):
        assert check_dataset({"name": "text_csv", "path": "/dev/zero"}) == [
            "the dataset's option 'path': /dev/zero is a character device, not a regular file; NN Studio reads data "
            "only from regular files"]
    npz = _savez(tmp_path / "zeros.npz", compressed=True, X=np.zeros((2_000_000, 4)), y=np.zeros(2_000_000))
    monkeypatch.setattr(arrays, "_read_member", lambda *a: pytest.fail("check_dataset read an array's data"))
    assert check_dataset({"name": "npz", "path": npz, "max_megabytes": 16})[0].startswith(
        "zeros.npz: X (2000000, 4) of float64 and y (2000000,) of float64 would take 122 MB")
    assert check_dataset({"name": "npz", "path": npz, "max_megabytes": 200}) == []
    root = _folder(tmp_path)
    monkeypatch.setattr(images, "_decode", lambda *a: pytest.fail("check_dataset decoded an image"))
    assert check_dataset({"name": "image_folder", "path": str(root)}) == []
    assert check_dataset({"name": "image_folder", "path": str(root), "channels": 3, "height": 1024, "width": 1024,
                          "max_megabytes": 32})[0].startswith("4 images of 3 x 1024 x 1024 would take 48 MB")
