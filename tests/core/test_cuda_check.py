"""benchmarks/cuda_check.py runs here without a GPU: it says so in one line, and its checks run the
same code on the CPU (``--device cpu``), where they pass, and fail when what they check is wrong."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "cuda_check.py"


@pytest.fixture(scope="module")
def cuda_check():
    spec = importlib.util.spec_from_file_location("cuda_check", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary_of(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(cuda_check, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # also on a machine with one
    assert cuda_check.main([]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("cuda_check: no CUDA GPU here") and err == ""


def test_a_quick_cpu_dry_run_passes_every_check(cuda_check, capsys):
    assert cuda_check.main(["--device", "cpu", "--quick", "--epochs", "1", "--no-torchrun"]) == 0
    out = capsys.readouterr().out
    summary = summary_of(out)
    assert summary["failed"] == 0 and summary["checks"] == 8  # 4 checks, with and without amp
    for check in ("device", "precision", "loss falls", "cpu_match"):
        assert f"PASS  train spiral_mlp on cpu: {check}" in out
        assert f"PASS  train spiral_mlp on cpu amp: {check}" in out
    assert "FAIL" not in out
    (speed,) = summary["throughput"]
    assert speed["engine"] > 0 and speed["plain"] > 0


def test_a_failing_check_prints_fail_and_exits_1(cuda_check, capsys, monkeypatch):
    monkeypatch.setattr(cuda_check, "ATOL", -1.0)  # no difference can be under a negative limit
    assert cuda_check.main(["--device", "cpu", "--quick", "--epochs", "1", "--no-torchrun"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  train spiral_mlp on cpu: cpu_match" in out
    summary = summary_of(out)
    assert summary["failed"] == 2 and "train spiral_mlp on cpu: cpu_match" in summary["failures"]


def test_a_model_left_on_another_device_fails_the_device_check(cuda_check, capsys, monkeypatch):
    real = cuda_check.train

    def train_then_move(compiled, split, config, *args):
        result = real(compiled, split, config, *args)
        compiled.module.to("meta")  # as if training had left the weights elsewhere
        return result

    monkeypatch.setattr(cuda_check, "train", train_then_move)
    assert cuda_check.main(["--device", "cpu", "--quick", "--epochs", "1", "--no-torchrun"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  train spiral_mlp on cpu: device  the weights are on meta" in out


@pytest.mark.slow
def test_the_exported_scripts_train_under_torchrun_on_the_cpu(cuda_check, capsys):
    """About 20 s on two cores: two gloo processes, for two scripts that make their own data (the spiral, and
    the generated sentiment set the script now carries too)."""
    argv = ["--device", "cpu", "--quick", "--epochs", "1", "--examples", "spiral_mlp,sentiment_lstm"]
    assert cuda_check.main(argv) == 0
    out = capsys.readouterr().out
    assert "PASS  torchrun spiral_mlp, 2 process(es), cpu  trained 1 epochs" in out
    assert "PASS  torchrun sentiment_lstm, 2 process(es), cpu" in out and "from the app's data" not in out
    assert summary_of(out)["failed"] == 0
