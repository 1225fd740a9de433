"""Shared by every test: torch uses one CPU thread. The project's machines have two cores, and two threads
contending with the test runner slow small models down many times over.

The frozen-bundle test's PyInstaller build takes minutes, mostly on one core: when that test is collected, the
build starts with the first Qt test in a background process (at low priority) and runs beside the Qt tests,
and the test, moved to the end of the session, waits for it (``bundle_build``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

FROZEN_TEST = "test_frozen_bundle_passes_its_self_test"
SPEC = Path(__file__).resolve().parents[1] / "packaging" / "nnstudio.spec"


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class BundleBuild:
    """``python -m PyInstaller`` of packaging/nnstudio.spec into a fresh temporary folder, in the background."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="nnstudio-bundle-"))
        self.started = time.perf_counter()
        self._log = open(self.folder / "pyinstaller.log", "w", encoding="utf-8")  # noqa: SIM115 - closed in wait
        lower = (lambda: os.nice(10)) if hasattr(os, "nice") else None  # the tests in front keep the CPU first
        self.process = subprocess.Popen(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(self.folder / "dist"),
             "--workpath", str(self.folder / "build"), str(SPEC)],
            cwd=self.folder, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=lower)

    def wait(self, timeout: float) -> tuple[int, str, float]:
        """(exit status, the log's tail, seconds since the build started) once it has finished."""
        code = self.process.wait(timeout=timeout)
        self._log.close()
        tail = (self.folder / "pyinstaller.log").read_text(encoding="utf-8", errors="replace")[-4000:]
        return code, tail, time.perf_counter() - self.started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_BUILD: list[BundleBuild] = []


_WANTED: list[bool] = []  # the frozen test was collected: build when the first Qt test starts


def pytest_collection_modifyitems(session, config, items) -> None:
    frozen = [item for item in items if item.name == FROZEN_TEST]
    if frozen and importlib.util.find_spec("PyInstaller") is not None:
        _WANTED.append(True)
        items[:] = [item for item in items if item.name != FROZEN_TEST] + frozen  # last: the most time to build


def pytest_runtest_setup(item) -> None:
    # The core tests start processes of their own (torchrun, the command line, hostile files) and want both
    # cores; the Qt tests use one. So the build starts with the first Qt test (or the frozen test itself).
    if _WANTED and not _BUILD and (f"{os.sep}ui{os.sep}" in str(item.path) or item.name == FROZEN_TEST):
        _BUILD.append(BundleBuild())


def pytest_sessionfinish(session, exitstatus) -> None:
    while _BUILD:
        _BUILD.pop().close()


@pytest.fixture(scope="session")
def bundle_build() -> BundleBuild:
    """The bundle build started at collection (or now, when the test is run on its own some other way)."""
    if not _BUILD:
        _BUILD.append(BundleBuild())
    return _BUILD[0]


@pytest.fixture
def layer_chain():
    """``layer_chain(("input_image", {...}), ("dense", {...}), ...)`` -> a Graph of those layers wired in a row."""
    from nnstudio.core.graph import Graph

    def make(*layers):
        g = Graph()
        ids = [g.add_node(kind, params).id for kind, params in layers]
        for a, b in zip(ids, ids[1:]):
            g.connect(a, b)
        return g
    return make


DIGITS_NET = (("input_image", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
              ("dense", {"units": 10, "activation": "softmax"}), ("output", {"task": "multiclass"}))


@pytest.fixture
def digits_net(layer_chain):
    """A small classifier of the 8 x 8 digits: Input, Flatten, Dense(10, softmax), Output."""
    return lambda: layer_chain(*DIGITS_NET)
