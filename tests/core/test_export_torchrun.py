"""The exported script under torchrun (two gloo processes on the CPU): validation metrics summed over the
processes, rank 0 deciding when to stop, a snapshot each epoch that a restart resumes from, --global-batch-size
and dropout that differs between processes. Each torchrun start costs a few seconds."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import export_python, export_weights
from nnstudio.core.project.model import Project

pytestmark = pytest.mark.slow

# Imports the exported file and drives its own functions in each process; each rank writes rank_N.json.
DRIVER = """
import importlib.util, json, torch, torch.distributed as dist
spec = importlib.util.spec_from_file_location("exported", "model.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
rank, world_size, device = m.setup_distributed("cpu")
model = m.build_model()
model.load_state_dict(m.read_weights("start.safetensors"))
_, _, x_val, y_val = m.load_data(m.parse_args([]))
val_set = m.TensorDataset(*m.as_tuple(x_val), m.prepare_targets(y_val))
metrics = m.validate(model, val_set, device, rank, world_size)
m.seed_epoch(rank, 3)
mask = torch.nn.functional.dropout(torch.ones(256), 0.5) > 0
with open(f"rank_{rank}.json", "w") as f:
    json.dump({"rank": rank, "world_size": world_size, "metrics": metrics,
               "mask": "".join("1" if k else "0" for k in mask.tolist())}, f)
dist.destroy_process_group()
"""


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def torchrun(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *args], cwd=folder, check=False, capture_output=True, text=True, timeout=300, env=environment())


def python(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=folder, check=False, capture_output=True, text=True, timeout=300,
                          env={**environment(), **env})


def spiral(samples: int = 120, **training) -> Project:
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "samples": samples}
    project.training.update(training)
    return project


def load_module(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_is_summed_over_the_ranks_and_dropout_differs(tmp_path):
    project = spiral(samples=125)
    export_python(project, tmp_path / "model.py")
    export_weights(project, tmp_path / "start.safetensors")
    (tmp_path / "driver.py").write_text(DRIVER)
    done = torchrun(tmp_path, "driver.py")
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank_{n}.json").read_text()) for n in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
    assert ranks[0]["metrics"] == ranks[1]["metrics"]  # every rank decides on the same numbers
    assert ranks[0]["mask"] != ranks[1]["mask"]  # each process draws its own dropout

    # One process evaluating every sample (an odd number: a padding sampler would count one twice).
    module = load_module(tmp_path / "model.py")
    model = module.build_model()
    model.load_state_dict(load_file(tmp_path / "start.safetensors"))
    model.eval()
    _, _, x_val, y_val = module.load_data(module.parse_args([]))
    assert len(y_val) % 2 == 1
    with torch.no_grad():
        outputs = model(x_val)
    targets = module.prepare_targets(y_val)
    expected_loss = float(module.make_loss()(outputs, targets))
    expected_accuracy = int(module.count_correct(outputs, targets)) / len(y_val)
    assert ranks[0]["metrics"]["val_loss"] == pytest.approx(expected_loss, rel=1e-6)
    assert ranks[0]["metrics"]["val_accuracy"] == pytest.approx(expected_accuracy, abs=1e-12)

    module.seed_epoch(0, 3)  # the same epoch draws the same mask again: a resumed run continues alike
    again = torch.nn.functional.dropout(torch.ones(256), 0.5) > 0
    assert "".join("1" if k else "0" for k in again.tolist()) == ranks[0]["mask"]


def test_early_stopping_stops_both_ranks_in_the_same_epoch(tmp_path):
    export_python(spiral(early_stopping=True, patience=0), tmp_path / "model.py")
    # With a learning rate of 0 the loss never improves: epoch 2 is one epoch without progress.
    done = torchrun(tmp_path, "model.py", "--epochs", "5", "--lr", "0", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]  # both ranks met at the final barrier
    assert "epoch 2/5" in done.stdout and "epoch 3/5" not in done.stdout
    assert "stopped early: no better loss for 1 epochs" in done.stdout
    snapshot = torch.load(tmp_path / "model_trained.snapshot.pt", weights_only=True)
    assert (snapshot["epoch"], snapshot["stopped"]) == (2, True)


def test_a_restart_resumes_from_the_snapshot_with_a_global_batch_size(tmp_path):
    export_python(spiral(schedule="plateau"), tmp_path / "model.py")
    common = ("model.py", "--device", "cpu", "--global-batch-size", "64")
    first = torchrun(tmp_path, *common, "--epochs", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2 processes" in first.stdout and "batch 32 per process (64 per step)" in first.stdout
    assert first.stdout.count("epoch 2/2") == 1  # only rank 0 prints
    snapshot = torch.load(tmp_path / "model_trained.snapshot.pt", weights_only=True)
    assert set(snapshot) >= {"model", "optimizer", "scheduler", "epoch"} and snapshot["epoch"] == 2
    assert snapshot["scheduler"] is not None and snapshot["optimizer"]["state"]
    assert not any(k.startswith("module.") for k in snapshot["model"])

    second = torchrun(tmp_path, *common, "--epochs", "4")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from epoch 2" in second.stdout
    trained = [line.split()[1] for line in second.stdout.splitlines() if line.startswith("epoch ")]
    assert trained == ["3/4", "4/4"]
    assert torch.load(tmp_path / "model_trained.snapshot.pt", weights_only=True)["epoch"] == 4


def test_a_resumed_run_ends_where_an_unbroken_one_does(tmp_path):
    export_python(spiral(schedule="step", step_size=1, gamma=0.5), tmp_path / "model.py")
    for epochs in ("2", "4"):
        done = python(tmp_path, "model.py", "--device", "cpu", "--epochs", epochs, "--save", "resumed.safetensors")
        assert done.returncode == 0, done.stderr
    done = python(tmp_path, "model.py", "--device", "cpu", "--epochs", "4", "--save", "whole.safetensors",
                  "--snapshot", "")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "whole.snapshot.pt").exists()
    resumed, whole = load_file(tmp_path / "resumed.safetensors"), load_file(tmp_path / "whole.safetensors")
    assert set(resumed) == set(whole) and all(torch.equal(resumed[k], whole[k]) for k in whole)


def test_a_batch_that_does_not_split_and_a_damaged_snapshot_are_one_line(tmp_path):
    export_python(spiral(), tmp_path / "model.py")
    done = python(tmp_path, "model.py", "--global-batch-size", "63", WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "--global-batch-size 63 does not split evenly over 2 processes: give a multiple of 2"

    (tmp_path / "broken.pt").write_bytes(b"not a snapshot")
    done = python(tmp_path, "model.py", "--device", "cpu", "--epochs", "1", "--snapshot", "broken.pt")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("cannot resume from broken.pt (")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_snapshot_of_another_network_or_optimizer_is_not_resumed(tmp_path):
    export_python(spiral(), tmp_path / "model.py")
    done = python(tmp_path, "model.py", "--device", "cpu", "--epochs", "1")
    assert done.returncode == 0, done.stderr
    export_python(spiral(optimizer="sgd"), tmp_path / "model.py")  # re-exported into the same folder
    done = python(tmp_path, "model.py", "--device", "cpu", "--epochs", "1")
    assert done.returncode == 0, done.stderr
    assert "starting over: model_trained.snapshot.pt holds another network's or optimizer's" in done.stdout
    assert "resuming" not in done.stdout and "epoch 1/1" in done.stdout
    snapshot = torch.load(tmp_path / "model_trained.snapshot.pt", weights_only=True)
    assert snapshot["optimizer_type"] == "SGD"
