"""``nnstudio --self-test`` in a fresh process (not frozen): exit code and log say whether the install works.

A blocking dialog would hang the child, so every run has a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nnstudio.selftest import FAILURE_PREFIX, SUCCESS_LINE

TIMEOUT_S = 180
STEPS = ("environment", "bundled resources", "export sources", "import every module", "main window",
         "load example", "train one epoch", "export .py", "export .safetensors", "export .onnx", "close window")


def run_self_test(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "nnstudio", "--self-test", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def test_self_test_passes_logs_every_step_and_prints_where_its_log_is(tmp_path):
    """One run (the self-test takes seconds): the default log path is printed first, and the log it names
    holds every step, ending with the success line."""
    proc = run_self_test(cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("self-test log: ")
    log = Path(first.split(": ", 1)[1])
    assert log.name == "selftest.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == SUCCESS_LINE
    done = [line for line in lines if line.startswith("ok   ")]
    assert [line[5:].split(" (")[0] for line in done] == list(STEPS)
    assert any("train_loss=" in line for line in done)
    work = Path(next(line for line in lines if "work folder" in line).rsplit("work folder ", 1)[1])
    assert (work / "spiral.py").is_file() and (work / "spiral.safetensors").is_file()
    assert (work / "window.png").is_file()  # what the window looked like, for a person to check


def test_a_broken_example_fails_with_the_reason(tmp_path):
    broken = tmp_path / "broken.nnstudio"
    broken.write_bytes(b"this is not a zip file")
    log = tmp_path / "selftest.log"
    proc = run_self_test("--self-test-log", str(log), "--self-test-example", str(broken), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = log.read_text(encoding="utf-8").splitlines()[-1]
    assert last.startswith(FAILURE_PREFIX + "load example: cannot open ")
    assert "broken.nnstudio" in last
    assert SUCCESS_LINE not in log.read_text(encoding="utf-8")


def test_an_unwritable_log_fails(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    proc = run_self_test("--self-test-log", str(blocker / "selftest.log"), cwd=tmp_path)
    assert proc.returncode == 1
    assert FAILURE_PREFIX + "cannot write the log" in proc.stdout
