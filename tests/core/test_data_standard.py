"""The standard datasets (MNIST, Fashion-MNIST, KMNIST, CIFAR-10): small files in the real formats, written in
torchvision's layout, read through the real code; lying and truncated headers, special files, the missing-files
message, ``samples``, the official test set as the test part, and downloads from local file:// mirrors (never the
network), cancelled ones included."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudio.core.data import LoadCancelled, LoadToken, check_dataset, load_dataset, load_split
from nnstudio.core.data import download, standard
from nnstudio.core.data.registry import DATASETS, KINDS
from nnstudio.core.errors import DatasetError

IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
       "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(root: Path, folder: str = "MNIST", train: int = 30, test: int = 10, gz: bool = False,
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images and labels (every class present) in IDX files under root/folder/raw; returns them by part."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n in (("train", train), ("test", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = ((np.arange(n) * 7 + seed) % 10).astype(np.uint8)
        for name, array in zip(IDX[part], (images, labels)):
            data = idx_bytes(array)
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
        out[part] = (images, labels)
    return out


def cifar_records(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = ((np.arange(n) + seed) % 10).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    records = np.concatenate([labels[:, None], pixels], axis=1)
    return records.tobytes(), pixels.reshape(n, 3, 32, 32), labels


def write_cifar(root: Path, per_batch: int = 4, test: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for i in range(1, 6):
        data, im, lb = cifar_records(per_batch, i)
        (folder / f"data_batch_{i}.bin").write_bytes(data)
        images.append(im)
        labels.append(lb)
    data, test_images, test_labels = cifar_records(test, 9)
    (folder / "test_batch.bin").write_bytes(data)
    return {"train": (np.concatenate(images), np.concatenate(labels)), "test": (test_images, test_labels)}


def _error(config) -> str:
    with pytest.raises(DatasetError) as error:
        load_dataset(config)
    return str(error.value)


class Recorder(LoadToken):
    """A token that remembers every report (and can cancel itself after ``cancel_after`` of them)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        super().__init__()
        self.reports: list[tuple[int, int, str]] = []
        self.cancel_after = cancel_after

    def report(self, done: int, total: int, what: str) -> None:
        self.reports.append((done, total, what))
        if self.cancel_after is not None and len(self.reports) >= self.cancel_after:
            self.cancel()
        super().report(done, total, what)


# -- reading ---------------------------------------------------------------------------------------------------
def test_the_four_datasets_are_offered_with_their_options():
    for name in ("mnist", "fashion_mnist", "kmnist", "cifar10"):
        spec = DATASETS[name]
        assert spec.kind == "standard" and "standard" in KINDS
        defaults = spec.defaults()
        assert (defaults["root"], defaults["download"], defaults["samples"], defaults["test_set"]) == ("", False, 0,
                                                                                                        True)
    assert standard.default_root().name == "datasets" and "nnstudio" in str(standard.default_root())


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_files_are_read_as_torchvision_lays_them_out(tmp_path, gz):
    written = write_mnist(tmp_path, gz=gz)
    data = load_dataset({"name": "mnist", "root": str(tmp_path)})
    images, labels = written["train"]
    assert data.x.shape == (30, 1, 28, 28) and data.x.dtype == torch.float32 and data.y.dtype == torch.long
    assert torch.equal(data.x, torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1))
    assert data.y.tolist() == labels.tolist() and data.classes == [str(d) for d in range(10)]
    assert data.preview == "images" and data.task == "multiclass" and "LeCun" in data.source
    test_images, test_labels = written["test"]
    assert torch.equal(data.test_part.x[:, 0], torch.from_numpy(test_images.astype(np.float32) / 255))
    assert data.test_part.y.tolist() == test_labels.tolist()


def test_fashion_and_kmnist_have_their_folders_and_class_names_and_plain_and_gz_files_mix(tmp_path):
    write_mnist(tmp_path, "FashionMNIST", gz=True)
    (tmp_path / "FashionMNIST/raw/train-images-idx3-ubyte.gz").rename(tmp_path / "plain.gz")
    (tmp_path / "FashionMNIST/raw/train-images-idx3-ubyte").write_bytes(gzip.decompress(
        (tmp_path / "plain.gz").read_bytes()))
    fashion = load_dataset({"name": "fashion_mnist", "root": str(tmp_path)})
    assert fashion.classes[0] == "T-shirt/top" and fashion.classes[-1] == "Ankle boot" and len(fashion) == 30
    write_mnist(tmp_path, "KMNIST", seed=3)
    assert load_dataset({"name": "kmnist", "root": str(tmp_path)}).classes == \
        ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


def test_cifar10_binary_batches_become_red_green_blue_planes(tmp_path):
    written = write_cifar(tmp_path)
    data = load_dataset({"name": "cifar10", "root": str(tmp_path)})
    images, labels = written["train"]
    assert data.x.shape == (20, 3, 32, 32) and data.y.tolist() == labels.tolist()
    assert torch.equal(data.x, torch.from_numpy(images.astype(np.float32) / 255))
    assert data.classes[0] == "airplane" and data.classes[9] == "truck" and len(data.test_part) == 20
    arrays = standard.read_standard("cifar10", tmp_path, "test")
    assert arrays.images.dtype == np.uint8 and arrays.images.shape == (20, 3, 32, 32)
    assert np.array_equal(arrays.images, written["test"][0]) and arrays.labels.dtype == np.int64


def test_read_standard_maps_plain_files_without_copying(tmp_path):
    written = write_mnist(tmp_path)
    arrays = standard.read_standard("mnist", tmp_path, "train", samples=5)
    assert arrays.images.shape == (5, 1, 28, 28) and np.array_equal(arrays.images[:, 0], written["train"][0][:5])
    base = arrays.images
    while not isinstance(base, np.memmap) and getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, np.memmap)


@pytest.mark.parametrize("gz", [False, True])
def test_samples_takes_the_first_training_images(tmp_path, gz):
    written = write_mnist(tmp_path, gz=gz)
    data = load_dataset({"name": "mnist", "root": str(tmp_path), "samples": 12})
    assert len(data) == 12 and data.y.tolist() == written["train"][1][:12].tolist() and len(data.test_part) == 10
    write_cifar(tmp_path)
    assert len(load_dataset({"name": "cifar10", "root": str(tmp_path), "samples": 6})) == 6


def test_the_official_test_files_are_the_test_part(tmp_path):
    written = write_mnist(tmp_path, train=40, test=10)
    parts = load_split({"name": "mnist", "root": str(tmp_path), "val_fraction": 0.25, "test_fraction": 0.3})
    assert (len(parts.train), len(parts.val), len(parts.test)) == (30, 10, 10)
    assert parts.test.y.tolist() == written["test"][1].tolist()  # test_fraction is ignored
    assert sorted(parts.val.y.tolist()) == list(range(10))  # stratified: one of each class of four
    without = load_split({"name": "mnist", "root": str(tmp_path), "test_set": False, "test_fraction": 0.25})
    assert (len(without.train), len(without.val), len(without.test)) == (22, 8, 10)
    os.remove(tmp_path / "MNIST/raw/t10k-images-idx3-ubyte")  # not needed without the test set
    assert len(load_dataset({"name": "mnist", "root": str(tmp_path), "test_set": False})) == 40


def test_progress_is_reported_and_a_cancel_stops_the_read(tmp_path):
    write_mnist(tmp_path, gz=True)
    token = Recorder()
    load_dataset({"name": "mnist", "root": str(tmp_path)}, token=token)
    whats = {what for _, _, what in token.reports}
    assert "Reading train-images-idx3-ubyte.gz" in whats and any(w.startswith("Converting") for w in whats)
    with pytest.raises(LoadCancelled):
        load_dataset({"name": "mnist", "root": str(tmp_path)}, token=Recorder(cancel_after=1))


# -- bad files -------------------------------------------------------------------------------------------------
def test_missing_files_are_named_with_their_folder(tmp_path):
    write_mnist(tmp_path)
    os.remove(tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte")
    config = {"name": "mnist", "root": str(tmp_path)}
    expected = (f"the MNIST files are missing: place t10k-labels-idx1-ubyte (or the same names ending in .gz) in "
                f"{tmp_path / 'MNIST' / 'raw'}, or turn on the dataset's option 'download' to fetch them")
    assert _error(config) == expected and check_dataset(config) == [expected]
    assert check_dataset({**config, "download": True}) == []  # they will be downloaded (nothing is fetched now)
    assert "data_batch_1.bin, data_batch_2.bin" in _error({"name": "cifar10", "root": str(tmp_path)})
    assert standard.files_note("mnist", tmp_path) == "" and standard.files_note("mnist", tmp_path, True) == \
        f"The missing files will be downloaded into {tmp_path / 'MNIST' / 'raw'} (about 11 MB)."
    assert standard.files_note("mnist", tmp_path, test_set=False) == f"Files: {tmp_path / 'MNIST' / 'raw'}"


@pytest.mark.parametrize("gz", [False, True])
def test_a_lying_header_is_one_line_naming_the_file(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = tmp_path / "MNIST/raw" / name
    raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    lie = raw[:4] + (4_000_000_000).to_bytes(4, "big") + raw[8:]  # four billion images in a small file
    path.write_bytes(gzip.compress(lie) if gz else lie)
    config = {"name": "mnist", "root": str(tmp_path)}
    message = _error(config)
    assert name in message and "header promises 4,000,000,000 x 28 x 28 values" in message and "\n" not in message
    assert check_dataset(config) == [message]


def test_truncated_and_damaged_files_are_refused(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    assert "the file is damaged or truncated" in _error({"name": "mnist", "root": str(tmp_path)})
    write_mnist(tmp_path / "gz", gz=True)
    gz = tmp_path / "gz/MNIST/raw/train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:len(gz.read_bytes()) // 2])
    message = _error({"name": "mnist", "root": str(tmp_path / "gz")})
    assert "train-images-idx3-ubyte.gz" in message and ("damaged" in message or "truncated" in message)


def test_wrong_magic_labels_out_of_range_and_odd_cifar_sizes_are_refused(tmp_path):
    write_mnist(tmp_path)
    raw = tmp_path / "MNIST/raw"
    (raw / "train-labels-idx1-ubyte").write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes())
    assert "train-labels-idx1-ubyte is not an IDX labels file: it starts with 0x00000803, not the magic number " \
           "0x00000801" in _error({"name": "mnist", "root": str(tmp_path)})
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(30, 12, np.uint8)))
    assert "label 12 of item 0 (counting from 0) is not one of the 10 classes" in \
        _error({"name": "mnist", "root": str(tmp_path)})
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-bin/data_batch_3.bin").write_bytes(b"\0" * 3000)
    assert "data_batch_3.bin is 3,000 bytes, not a whole number of CIFAR-10 records" in \
        _error({"name": "cifar10", "root": str(tmp_path)})


def test_a_fifo_in_place_of_a_file_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    write_mnist(tmp_path)
    path = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
    path.unlink()
    os.mkfifo(path)
    config = {"name": "mnist", "root": str(tmp_path)}
    assert "is a FIFO (named pipe), not a regular file" in _error(config)
    assert "FIFO" in check_dataset(config)[0]


def test_the_memory_limit_is_checked_before_converting(tmp_path):
    write_mnist(tmp_path, train=1400, test=10)  # 1,410 x 784 x 4 bytes: 4.2 MB as float32
    config = {"name": "mnist", "root": str(tmp_path), "max_megabytes": 2, "storage": "memory"}
    assert "would take" in _error(config) and "option 'max_megabytes'" in check_dataset(config)[0]


# -- downloading -----------------------------------------------------------------------------------------------
def _mirror(tmp_path: Path, name: str, files: dict[str, bytes]) -> str:
    """A local mirror of ``files``; registers their real MD5s for ``name``; returns its file:// URL."""
    folder = tmp_path / "mirror"
    folder.mkdir(exist_ok=True)
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return folder.as_uri() + "/"


@pytest.fixture
def offline(monkeypatch):
    """No retries (each would sleep), and an HTTP downloader that never reaches the network."""
    monkeypatch.setattr(download, "RETRIES", 0)

    def no_network(url, output_file, pooch, check_only=False):
        import requests

        raise requests.exceptions.ConnectionError(f"no network for {url}")

    real = download._downloader
    monkeypatch.setattr(download, "_downloader", lambda url, progress: real(url, progress)
                        if url.startswith("file:") else no_network)
    return monkeypatch


def test_download_from_a_mirror_with_checksums_and_progress(tmp_path, offline):
    source = write_mnist(tmp_path / "source", gz=True)
    raw = tmp_path / "source/MNIST/raw"
    files = {p.name: p.read_bytes() for p in raw.iterdir()}
    url = _mirror(tmp_path, "mnist", files)
    hashes = {fname: hashlib.md5(data).hexdigest() for fname, data in files.items()}
    offline.setitem(download.SOURCES, "mnist", (("http://unreachable.invalid/", url), hashes))
    root = tmp_path / "data"
    token = Recorder()
    data = load_dataset({"name": "mnist", "root": str(root), "download": True}, token=token)
    assert data.y.tolist() == source["train"][1].tolist()
    assert sorted(p.name for p in (root / "MNIST/raw").iterdir()) == sorted(files)
    downloads = [r for r in token.reports if r[2] == "Downloading train-images-idx3-ubyte.gz"]
    assert downloads and downloads[-1][0] == downloads[-1][1] == len(files["train-images-idx3-ubyte.gz"])
    bad = {fname: "0" * 32 for fname in hashes}  # a file whose checksum does not match is not kept
    offline.setitem(download.SOURCES, "kmnist", ((url,), bad))
    message = _error({"name": "kmnist", "root": str(root), "download": True})
    assert "could not download" in message and "hash" in message.lower() and str(root / "KMNIST" / "raw") in message
    assert not list((root / "KMNIST/raw").glob("*ubyte*"))


def test_without_a_network_the_message_names_the_files_and_the_folder(tmp_path, offline):
    message = _error({"name": "fashion_mnist", "root": str(tmp_path), "download": True})
    assert message.startswith("could not download http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
                              "train-images-idx3-ubyte.gz: no network")
    assert f"place train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " \
           f"t10k-labels-idx1-ubyte (or the same names ending in .gz) in {tmp_path / 'FashionMNIST' / 'raw'}" \
           in message and "network connection" in message


def test_a_cancelled_download_leaves_no_file(tmp_path, offline):
    big = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (3000, 28, 28), dtype=np.uint8)),
                        compresslevel=1)
    url = _mirror(tmp_path, "mnist", {"train-images-idx3-ubyte.gz": big})
    offline.setitem(download.SOURCES, "mnist", ((url,), {"train-images-idx3-ubyte.gz": hashlib.md5(big).hexdigest()}))
    token = Recorder(cancel_after=1)
    with pytest.raises(LoadCancelled):
        load_dataset({"name": "mnist", "root": str(tmp_path / "data"), "download": True}, token=token)
    assert token.reports[-1][2] == "Downloading train-images-idx3-ubyte.gz"  # cancelled while downloading
    assert not list((tmp_path / "data/MNIST/raw").iterdir())  # neither the file nor pooch's temporary one


def test_cifar10_is_downloaded_as_the_binary_archive_and_its_batches_extracted(tmp_path, offline):
    written = write_cifar(tmp_path / "source")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "source/cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    archive = buffer.getvalue()
    url = _mirror(tmp_path, "cifar10", {"cifar-10-binary.tar.gz": archive})
    offline.setitem(download.SOURCES, "cifar10", ((url,), {"cifar-10-binary.tar.gz": hashlib.md5(archive).hexdigest()}))
    data = load_dataset({"name": "cifar10", "root": str(tmp_path / "data"), "download": True})
    assert torch.equal(data.test_part.x, torch.from_numpy(written["test"][0].astype(np.float32) / 255))
    assert (tmp_path / "data/cifar-10-batches-bin/test_batch.bin").is_file()
    assert not list((tmp_path / "data/cifar-10-batches-bin").glob(".*part"))
