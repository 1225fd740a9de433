"""The exported script leaves torchrun cleanly: its process group and every gloo thread are gone
before Python shuts down, after a good run and after a failure in one process, and a stress run of
the two-process case under CPU load never fails.

Why it matters: a gloo thread still running while the interpreter finalises (the group kept alive
past destroy_process_group, here by torch.distributed.nn's default arguments) may drop the last
reference to a tensor that Python owns; taking the GIL then ends the thread with pthread_exit,
whose unwinding through a C++ destructor aborts the process ("terminate called without an active
exception") after it trained and saved. The first tests look at the threads themselves (they
fail on every run of the old teardown); the slow one runs the real thing many times under load.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import export_python

# Imports the exported script, runs its main() and names the threads of this process, besides the
# main one, still alive once main() has returned or raised (Linux: /proc/self/task/*/comm).
THREADS_LEFT = """\
import importlib.util, os, signal, sys
# When one process fails torchrun stops the others with SIGTERM: these must end on their own (one
# that hangs is killed later and prints nothing) and have the time to say what they leave behind.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def threads():
    names = []
    for task in os.listdir("/proc/self/task"):
        if task == str(os.getpid()):  # the main thread
            continue
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names.append(f.read().strip())
        except OSError:  # it ended while we looked
            pass
    return sorted(names)
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
try:
    module.main(sys.argv[2:])
finally:  # one write: the two processes share stderr, and print() may be cut between its parts
    os.write(2, f"rank {os.environ['RANK']} threads left: {threads()}\\n".encode())
"""
RUNS = 4  # the stress run: see test_two_processes_exit_cleanly_every_time_under_load
TIMEOUT_S = 180  # one torchrun run; a hang fails the test instead of blocking it


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("torchrun")
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "samples": 120}
    export_python(project, folder / "model.py")
    (folder / "threads_left.py").write_text(THREADS_LEFT, encoding="utf-8")
    return folder / "model.py"


def torchrun(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """torchrun with two processes; one that hangs is killed with its workers after TIMEOUT_S."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    process = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                "--nproc_per_node=2", *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        err += f"\n[killed: still running after {TIMEOUT_S} s]"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def threads_left(stderr: str) -> dict[str, str]:
    """Rank -> the threads THREADS_LEFT saw alive in it, as a list's text."""
    return dict(re.findall(r"rank (\d+) threads left: (\[[^\]]*\])", stderr))


linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc/self/task")


@linux_only
def test_no_gloo_thread_outlives_training(script):
    done = torchrun(script.parent, "threads_left.py", "model.py", "--epochs", "1", "--device", "cpu",
                    "--save", "good.safetensors")
    assert done.returncode == 0, done.stderr[-3000:]
    assert threads_left(done.stderr) == {"0": "[]", "1": "[]"}, done.stderr[-3000:]


@linux_only
def test_a_failure_in_one_process_ends_both_and_leaves_no_thread(script):
    """Rank 0 cannot save (no such folder) while rank 1 waits for it in the final barrier: rank 0
    leaves the group at once, which ends rank 1's wait with an error instead of a hang (rank 1
    ignores torchrun's SIGTERM here), and both exit with status 1, not an abort, their threads
    gone."""
    done = torchrun(script.parent, "threads_left.py", "model.py", "--epochs", "1", "--device", "cpu",
                    "--save", "no/such/folder/w.safetensors")
    assert done.returncode != 0
    assert "No such file or directory" in done.stderr  # rank 0's own error, shown
    assert "terminate called" not in done.stderr and "SIGABRT" not in done.stderr, done.stderr[-3000:]
    assert threads_left(done.stderr) == {"0": "[]", "1": "[]"}, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_exit_cleanly_every_time_under_load(script):
    """RUNS runs of `torchrun --nproc_per_node=2 model.py --epochs 1` with two busy processes
    competing for the two cores: about 50 s on two cores. Every run must exit with status 0."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    failures = []
    try:
        for run in range(RUNS):
            done = torchrun(script.parent, "model.py", "--epochs", "1", "--device", "cpu",
                            "--save", "stress.safetensors")
            if done.returncode != 0 or "terminate called" in done.stderr:
                failures.append(f"run {run + 1}: exit status {done.returncode}\n{done.stderr[-2000:]}")
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert not failures, f"{len(failures)} of {RUNS} runs failed:\n" + "\n".join(failures)
