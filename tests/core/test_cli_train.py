"""``nnstudio train``: trains a project headless, saves weights and history into it (or into -o OUT), resumes,
reports bad settings in one line with exit code 2, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnstudio.cli import main
from nnstudio.core.compile import compile_graph
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.training import engine
from nnstudio.core.training.project_run import load_weights

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "spiral_mlp.nnstudio"


@pytest.fixture
def spiral(tmp_path) -> Path:
    path = tmp_path / "spiral.nnstudio"
    shutil.copyfile(EXAMPLE, path)
    return path


@pytest.fixture
def trained_models(monkeypatch) -> list:
    """The compiled models the command trains, kept for comparison."""
    models = []
    real = engine.train

    def spy(compiled, *args, **kwargs):
        models.append(compiled)
        return real(compiled, *args, **kwargs)

    monkeypatch.setattr(engine, "train", spy)
    return models


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["train", *map(str, args), "--threads", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_saves_weights_and_history_in_place(spiral, capsys, trained_models):
    code, out, err = run_cli(capsys, spiral, "--epochs", "3", "-q")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert re.fullmatch(r"val_accuracy=\d\.\d{3}", lines[-1])
    assert lines[0].startswith("completed after 3 epoch(s)") and str(spiral) in lines[0]
    assert err == ""  # quiet
    project = load_project(spiral)
    fresh = compile_graph(project.graph, seed=0)
    assert set(project.weights) == set(fresh.module.state_dict())
    assert [r["epoch"] for r in project.history["epochs"]] == [1, 2, 3]
    assert project.history["stop_reason"] == "completed"
    assert project.history["config"]["epochs"] == 3
    assert project.training["epochs"] == 100  # --epochs is for this run only
    final = project.history["final"]["val_accuracy"]
    assert lines[-1] == f"val_accuracy={final:.3f}"
    # The saved weights are exactly the trained model's: a fresh model given them predicts the same.
    load_weights(fresh, project.weights)
    x = torch.randn(50, 2)
    trained = trained_models[0]
    assert torch.equal(fresh.predict(x), trained.predict(x))
    for name, tensor in trained.module.state_dict().items():
        assert torch.equal(project.weights[name], tensor)


def test_output_goes_to_another_file_and_the_original_stays(spiral, tmp_path, capsys):
    original = spiral.read_bytes()
    out_path = tmp_path / "trained.nnstudio"
    code, out, err = run_cli(capsys, spiral, "--epochs", "3", "-q", "-o", out_path)
    assert code == 0, err
    assert spiral.read_bytes() == original
    trained = load_project(out_path)
    assert len(trained.history["epochs"]) == 3 and trained.weights
    assert load_project(spiral).weights is None
    assert trained.graph.to_dict() == load_project(spiral).graph.to_dict()
    assert str(out_path) in out


def test_overrides_reach_the_run(spiral, capsys):
    code, out, err = run_cli(capsys, spiral, "--epochs", "2", "--batch-size", "40", "--lr", "0.05", "--seed", "3",
                             "--device", "cpu", "-q")
    assert code == 0, err
    history = load_project(spiral).history
    config = history["config"]
    assert (config["batch_size"], config["lr"], config["seed"], config["device"]) == (40, 0.05, 3, "cpu")
    assert history["epochs"][0]["lr"] == 0.05
    assert history["steps"] == 2 * 12  # 480 training samples in batches of 40


def test_progress_goes_to_stderr(spiral, capsys):
    code, out, err = run_cli(capsys, spiral, "--epochs", "2")
    assert code == 0
    lines = err.strip().splitlines()
    assert lines[0].startswith("training on cpu: 480 samples, 120 for validation, 30 steps")
    assert lines[1].startswith("epoch 1/2") and "train_loss=" in lines[1] and "val_accuracy=" in lines[1]
    assert lines[2].startswith("epoch 2/2")
    assert re.fullmatch(r"val_accuracy=\d\.\d{3}", out.strip().splitlines()[-1])


def test_resume_continues_from_the_saved_weights(spiral, tmp_path, capsys):
    fresh_copy = tmp_path / "fresh.nnstudio"
    shutil.copyfile(spiral, fresh_copy)
    assert run_cli(capsys, spiral, "--epochs", "5", "-q")[0] == 0
    trained_loss = load_project(spiral).history["epochs"][-1]["train_loss"]
    assert run_cli(capsys, fresh_copy, "--epochs", "1", "-q")[0] == 0
    fresh_first = load_project(fresh_copy).history["epochs"][0]["train_loss"]
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "--resume", "-q")
    assert code == 0, err
    history = load_project(spiral).history
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3, 4, 5, 6]  # the history goes on
    resumed_first = history["epochs"][-1]["train_loss"]
    assert resumed_first < fresh_first
    assert resumed_first < 1.1 * trained_loss  # carries on where it stopped
    assert out.startswith("completed after 1 epoch(s) more (continued from epoch 5; 6 in the history)"), out


def test_resume_with_epochs_trains_that_many_more_exactly_as_one_longer_run(spiral, tmp_path, capsys):
    """--resume --epochs N after M epochs saves the history of one run of M + N epochs (the same losses, to the
    bit on one thread), with the steps and epoch numbers going on."""
    whole = tmp_path / "whole.nnstudio"
    shutil.copyfile(spiral, whole)
    for path, epochs in ((spiral, "3"), (whole, "5")):
        code, out, err = run_cli(capsys, path, "--epochs", epochs, "-q")
        assert code == 0, f"{path.name}: {err}"
    code, out, err = run_cli(capsys, spiral, "--resume", "--epochs", "2")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert lines[0].endswith("30 steps, continuing after epoch 3"), lines[0]
    assert lines[1].startswith("epoch 4/5") and lines[2].startswith("epoch 5/5"), lines
    continued, one_run = load_project(spiral), load_project(whole)
    assert [r["epoch"] for r in continued.history["epochs"]] == [1, 2, 3, 4, 5]
    for mine, reference in zip(continued.history["epochs"], one_run.history["epochs"]):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
            assert mine[key] == pytest.approx(reference[key], rel=1e-9, abs=1e-12), f"epoch {mine['epoch']} {key}"
    assert continued.history["steps"] == one_run.history["steps"] == 75
    assert [p[0] for p in continued.history["step_loss"]] == [p[0] for p in one_run.history["step_loss"]]
    assert continued.training_state.epoch == 5 and continued.training_state.step == 75
    for name, tensor in one_run.weights.items():
        assert torch.allclose(continued.weights[name], tensor, rtol=1e-6, atol=1e-7), name


def test_resume_is_refused_when_the_graph_changed_since_training(spiral, capsys):
    assert run_cli(capsys, spiral, "--epochs", "1", "-q")[0] == 0
    project = load_project(spiral)
    dense = next(nid for nid, node in project.graph.nodes.items() if node.type_id == "dense")
    activation = project.graph.nodes[dense].params["activation"]
    project.graph.set_params(dense, {"activation": "tanh" if activation != "tanh" else "relu"})  # same shapes
    save_project(project, spiral)
    before = spiral.read_bytes()
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "--resume")
    assert code == 2
    assert err.count("\n") == 1 and "trained on an earlier version of the network" in err, err
    assert spiral.read_bytes() == before


def test_resume_without_a_training_state_goes_on_from_the_weights_with_a_note(spiral, tmp_path, capsys):
    assert run_cli(capsys, spiral, "--epochs", "2", "-q")[0] == 0
    _rezip(spiral, weights_safetensors=_member(spiral, "weights.safetensors"),
           history_json=_member(spiral, "history.json"))  # as in a format-1 file: no training state
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "--resume", "-q")
    assert code == 0, err
    assert err.startswith("note: the project has no saved optimizer state") and err.count("\n") == 1, err
    history = load_project(spiral).history
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3]


def test_resume_without_weights_is_a_one_line_error(spiral, capsys):
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "--resume")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nnstudio: error:") and "no saved weights" in err


@pytest.mark.parametrize("device", ["tpu", "cuda:7", "mps"])
def test_a_bad_device_is_a_one_line_error(spiral, capsys, device):
    if device == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    before = spiral.read_bytes()
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "--device", device)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nnstudio: error:")
    assert repr(device) in err and "not" in err
    assert out == ""
    assert spiral.read_bytes() == before


def test_a_project_without_a_dataset_is_a_one_line_error(spiral, capsys):
    project = load_project(spiral)
    project.dataset = None
    save_project(project, spiral)
    code, out, err = run_cli(capsys, spiral, "--epochs", "1")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nnstudio: error:") and "no dataset" in err


def test_a_dataset_that_does_not_fit_is_a_one_line_error(spiral, capsys):
    project = load_project(spiral)
    project.dataset = {"name": "spiral", "classes": 4}
    save_project(project, spiral)
    code, out, err = run_cli(capsys, spiral, "--epochs", "1")
    assert code == 2
    assert err.count("\n") == 1 and "4 classes" in err and "3 scores" in err


def test_a_missing_file_is_an_error(tmp_path, capsys):
    code, out, err = run_cli(capsys, tmp_path / "nope.nnstudio")
    assert code == 2 and "nope.nnstudio" in err


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_saves(spiral):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "nnstudio", "train", str(spiral), "--epochs", "3000",
                             "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("epoch 1/3000"):
                break
        assert any(s.startswith("epoch 1/3000") for s in seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopping after this step" in err
    assert "stopped" in out.splitlines()[0]
    assert re.fullmatch(r"val_accuracy=\d\.\d{3}", out.strip().splitlines()[-1])
    project = load_project(spiral)
    assert project.weights and project.history["stop_reason"] == "stopped"
    epochs = len(project.history["epochs"])
    assert 1 <= epochs < 3000
    assert set(project.weights) == set(compile_graph(project.graph).module.state_dict())


# -- refused before any training ---------------------------------------------------------------------------------
def _not_trained(trained_models, spiral: Path, before: bytes) -> None:
    assert trained_models == [] and spiral.read_bytes() == before


def _one_line(err: str, *needles: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("output, reason", [
    ("", "empty file name"),
    ("{tmp}", "is a folder"),
    ("{tmp}/", "names a folder"),
    ("{tmp}/missing/out.nnstudio", "the folder '{tmp}/missing' does not exist"),
    ("{tmp}/spiral.nnstudio/out.nnstudio", "is not a folder"),
    (os.devnull, "device, pipe or socket"),
    ("/dev/full", "device, pipe or socket"),
    ("{tmp}/spiral.nnstudio", "is the project being trained"),
    ("{tmp}/./spiral.nnstudio", "is the project being trained"),
    ("{tmp}/link.nnstudio", "is the project being trained"),
    ("{tmp}/hard.nnstudio", "is the project being trained"),
])
def test_a_bad_output_is_refused_before_training(spiral, tmp_path, capsys, trained_models, output, reason):
    if output == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    (tmp_path / "link.nnstudio").symlink_to(spiral)
    os.link(spiral, tmp_path / "hard.nnstudio")
    output, reason = output.format(tmp=tmp_path), reason.format(tmp=tmp_path)
    before = spiral.read_bytes()
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "-o", output)
    assert code == 2 and out == ""
    _one_line(err, reason, f"-o {output!r}" if output else "-o is an empty file name")
    assert ".tmp" not in err
    _not_trained(trained_models, spiral, before)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions (root may write anywhere)")
def test_no_permission_is_refused_before_training(spiral, tmp_path, capsys, trained_models):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    before = spiral.read_bytes()
    try:
        code, out, err = run_cli(capsys, spiral, "--epochs", "1", "-o", locked / "out.nnstudio")
        assert code == 2 and "no permission to write in the folder" in err
        spiral.chmod(0o400)  # no -o: saved into FILE, which must be writable
        code, out, err = run_cli(capsys, spiral, "--epochs", "1")
        assert code == 2 and "write-protected" in err and str(spiral) in err
    finally:
        locked.chmod(0o700)
        spiral.chmod(0o600)
    _not_trained(trained_models, spiral, before)


def test_a_full_disk_names_the_users_file(spiral, tmp_path, capsys, monkeypatch):
    """A failure while saving names the file the user gave, never the temporary file written first."""
    out_path = tmp_path / "out.nnstudio"

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "-q", "-o", out_path)
    assert code == 2
    assert err == f"nnstudio: error: {str(out_path)!r}: No space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spiral.nnstudio"]


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "Epochs must be at least 1, not 0"),
    ("--epochs", "100001", "Epochs must be at most 100000"),
    ("--epochs", "2.5", "invalid int value: '2.5'"),
    ("--batch-size", "0", "Batch size must be at least 1"),
    ("--batch-size", "65537", "Batch size must be at most 65536"),
    ("--lr", "0", "Learning rate must be at least 1e-08"),
    ("--lr", "-1", "Learning rate must be at least"),
    ("--lr", "11", "Learning rate must be at most 10"),
    ("--lr", "nan", "must be a finite number, not 'nan'"),
    ("--lr", "inf", "must be a finite number, not 'inf'"),
    ("--lr", "fast", "invalid float value: 'fast'"),
    ("--seed", "-1", "Seed must be at least 0"),
    ("--seed", str(2**31), "Seed must be at most 2147483647"),
    ("--seed", "9" * 5000, "invalid int value"),
    ("--threads", "0", "Threads must be at least 1"),
    ("--threads", "-4", "Threads must be at least 1"),
    ("--threads", "1025", "Threads must be at most 1024"),
])
def test_numeric_options_are_range_checked(spiral, capsys, trained_models, option, value, message):
    before = spiral.read_bytes()
    code = main(["train", str(spiral), option, value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    _one_line(err, f"nnstudio train: argument {option}: ", message)
    _not_trained(trained_models, spiral, before)


def test_option_ranges_are_the_settings_own(monkeypatch):
    """The command line checks with the very ranges of the training settings (no copy to drift apart)."""
    import dataclasses

    from nnstudio import cli_train
    from nnstudio.core.training import config

    narrower = tuple(dataclasses.replace(p, maximum=7) if p.name == "epochs" else p for p in config.PARAMS)
    monkeypatch.setattr(cli_train, "PARAMS", narrower)
    parser = __import__("argparse").ArgumentParser()
    cli_train.add_arguments(parser)
    assert parser.parse_args(["f", "--epochs", "7"]).epochs == 7
    with pytest.raises(SystemExit):
        parser.parse_args(["f", "--epochs", "8"])


def test_threads_reach_torch(spiral, capsys, monkeypatch):
    seen = []
    real = engine.train
    monkeypatch.setattr(engine, "train", lambda *a, **k: (seen.append(torch.get_num_threads()), real(*a, **k))[1])
    assert main(["train", str(spiral), "--epochs", "1", "-q", "--threads", "2"]) == 0, capsys.readouterr().err
    assert seen == [2]


# -- what training reads -----------------------------------------------------------------------------------------
def _rezip(path: Path, **members: bytes) -> None:
    import zipfile

    with zipfile.ZipFile(path) as src:
        project_json = src.read("project.json")
    with zipfile.ZipFile(path, "w") as dst:
        dst.writestr("project.json", project_json)
        for name, payload in members.items():
            dst.writestr(name.replace("_", ".", 1), payload)


def _member(path: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def test_training_reads_no_history_and_no_weights_unless_resuming(spiral, capsys):
    _rezip(spiral, weights_safetensors=b"not safetensors", history_json=b'{"epochs": "broken"}')
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "-q")
    assert code == 0 and err == ""
    project = load_project(spiral)
    assert len(project.history["epochs"]) == 1 and project.load_warnings == []
    _rezip(spiral, weights_safetensors=b"not safetensors")
    code, out, err = run_cli(capsys, spiral, "--epochs", "1", "-q", "--resume")
    assert code == 2  # the damaged weights are left out, said in a warning, and there is nothing to resume
    warning, error = err.splitlines()
    assert warning.startswith("warning: ") and "weights.safetensors: is not a valid safetensors file" in warning
    assert "no saved weights to resume from" in error and "Traceback" not in err


def test_a_history_the_engine_writes_has_the_checked_shape(spiral, capsys):
    from nnstudio.core.training.history import history_problem

    assert run_cli(capsys, spiral, "--epochs", "2", "-q")[0] == 0
    project = load_project(spiral)
    assert project.load_warnings == [] and history_problem(project.history) is None
    assert set(project.history) == {"epochs", "best_epoch", "stop_reason", "final", "device", "steps", "config",
                                    "task", "classes", "step_loss", "confusion", "per_class", "layers",
                                    "activations"}
