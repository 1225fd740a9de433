"""Downloading the standard datasets' files with pooch: known MD5 checksums, mirrors tried in turn, retries.

The mirrors and checksums are torchvision's (``torchvision/datasets/mnist.py``) and, for CIFAR-10's binary
version, the one its authors publish on www.cs.toronto.edu/~kriz/cifar.html. MNIST-family files are kept as
downloaded (``.gz``, which the readers read directly) in ``ROOT/MNIST/raw`` and the like; the CIFAR-10 archive
is kept in ``ROOT`` and the batches are extracted from it into ``ROOT/cifar-10-batches-bin`` (only those named
members, never another path).

Progress goes to the current :class:`~nnstudio.core.data.reading.LoadToken` (``"Downloading
train-images-idx3-ubyte.gz"``, bytes) and a cancelled token stops the download at its next chunk: pooch writes
into a temporary file and moves it to its final name only once its checksum matches, so a cancelled or
failed download never leaves a partial file under the final name. ``file://`` URLs are copied locally (for a
mirror on a shared drive, and for tests, which never touch the network).
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from nnstudio.core.data.reading import (CHUNK_BYTES, MAX_MEGABYTES_LIMIT, LoadCancelled, current_token,
                                        open_regular, shown)
from nnstudio.core.errors import DatasetError

MNIST_MD5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
FASHION_MD5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
               "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
               "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
KMNIST_MD5 = {"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
              "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
              "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
              "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"}
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_MD5 = {CIFAR_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530"}

# name -> (mirrors, tried in order; {file: md5})
SOURCES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "mnist": (("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"), MNIST_MD5),
    "fashion_mnist": (("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",), FASHION_MD5),
    "kmnist": (("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",), KMNIST_MD5),
    "cifar10": (("https://www.cs.toronto.edu/~kriz/",), CIFAR_MD5),
}
# What a full download weighs (bytes, rounded), for "about 11 MB" in the Dataset panel.
SIZES = {"mnist": 11_594_722, "fashion_mnist": 30_878_645, "kmnist": 21_240_000, "cifar10": 170_052_171}
RETRIES = 2  # pooch's retry_if_failed: each mirror is tried this many more times
TIMEOUT_S = 30
HTTP_CHUNK = 64 * 1024


def download_size(name: str) -> int:
    return SIZES[name]


class _Progress:
    """pooch's progress-bar protocol (``total``, ``update``, ``reset``, ``close``) reporting to a LoadToken;
    ``update`` raises LoadCancelled once the token is cancelled, which ends the download."""

    def __init__(self, what: str) -> None:
        self.token, self.what, self.total, self.done = current_token(), what, 0, 0

    def update(self, count: int) -> None:
        self.done += int(count)
        shown_done = min(self.done, self.total) if self.total else self.done
        self.token.report(shown_done, self.total, self.what)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


class FileDownloader:
    """A pooch downloader for ``file://`` URLs: copies the local file in chunks, with progress."""

    def __init__(self, progressbar: Any = None) -> None:
        self.progressbar = progressbar

    def __call__(self, url: str, output_file: str, pooch: Any, check_only: bool = False) -> bool | None:
        source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        if check_only:
            return source.is_file()
        stream, size = open_regular(source, "download", "file", MAX_MEGABYTES_LIMIT)
        if self.progressbar is not None:
            self.progressbar.total = size
        with stream, open(output_file, "wb") as out:
            while chunk := stream.read(CHUNK_BYTES):
                out.write(chunk)
                if self.progressbar is not None:
                    self.progressbar.update(len(chunk))
        return None


def _downloader(url: str, progress: _Progress) -> Any:
    if url.startswith("file:"):
        return FileDownloader(progress)
    import pooch

    return pooch.HTTPDownloader(progressbar=progress, chunk_size=HTTP_CHUNK, timeout=TIMEOUT_S)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__


def fetch_file(fname: str, folder: Path, mirrors: tuple[str, ...], md5: str) -> Path:
    """``folder / fname``, downloaded from the first mirror that gives it with the right checksum (each tried
    ``RETRIES`` more times); DatasetError naming the file, the folder and why when none does."""
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is a run-time dependency
        raise DatasetError("downloading datasets needs the pooch package: pip install pooch") from None
    token = current_token()
    folder.mkdir(parents=True, exist_ok=True)  # OSError: the folder cannot be made (the caller says so)
    failures = []
    for mirror in mirrors:
        token.check()
        store = pooch.create(path=folder, base_url=mirror, registry={fname: f"md5:{md5}"},
                             retry_if_failed=RETRIES)
        try:
            return Path(store.fetch(fname, downloader=_downloader(mirror + fname, _Progress(f"Downloading {fname}"))))
        except LoadCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - no network, a refused mirror, a bad checksum: try the next
            if token.cancelled:
                raise LoadCancelled() from None
            failures.append(f"{mirror}{fname}: {_reason(exc)}")
    raise DatasetError(f"could not download {'; '.join(failures)}")


def fetch(name: str, root: Path, missing: list[str]) -> None:
    """Download the ``missing`` files of dataset ``name`` into ``root`` (torchvision's layout)."""
    from nnstudio.core.data.standard import FOLDERS, TITLES, place_text

    mirrors, hashes = SOURCES[name]
    root = Path(root)
    try:
        if name == "cifar10":
            archive = fetch_file(CIFAR_ARCHIVE, root, mirrors, hashes[CIFAR_ARCHIVE])
            extract_cifar(archive, root / FOLDERS[name], missing)
        else:
            for base in missing:
                fetch_file(f"{base}.gz", root / FOLDERS[name], mirrors, hashes[f"{base}.gz"])
    except LoadCancelled:
        raise
    except DatasetError as exc:
        archive = f"; or place {CIFAR_ARCHIVE} in {shown(root)}" if name == "cifar10" else ""
        raise DatasetError(f"{exc}: without a download, {place_text(name, root, missing)}{archive}; or check "
                           "the network connection and try again") from None
    except OSError as exc:  # the folder cannot be made or written
        raise DatasetError(f"the {TITLES[name]} files cannot be saved in {shown(root)} ({exc.strerror or exc}): "
                           "choose another folder for the dataset's option 'root'") from None


def extract_cifar(archive: Path, folder: Path, wanted: list[str]) -> None:
    """Extract the ``wanted`` batch files (and ``batches.meta.txt``) from the CIFAR-10 binary archive into
    ``folder``, in one pass over the archive; each goes to a temporary name first, then to its own."""
    token = current_token()
    names = {f"cifar-10-batches-bin/{base}": base for base in [*wanted, "batches.meta.txt"]}
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                base = names.get(member.name)
                if base is None or not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                _copy_member(source, folder, base, member.size, token)
    except (tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"{shown(archive)} cannot be unpacked ({_reason(exc)}): delete it to download it "
                           "again") from None


def _copy_member(source: Any, folder: Path, base: str, size: int, token: Any) -> None:
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            done = 0
            while chunk := source.read(CHUNK_BYTES):
                out.write(chunk)
                done += len(chunk)
                token.report(done, size, f"Extracting {base}")
        os.replace(temp, folder / base)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
