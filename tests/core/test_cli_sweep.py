"""``nnstudio sweep``: every point of the --set values over the seeds trains as a run grouped under the sweep,
the results table gives mean and spread, the project keeps the runs; bad input is one line."""

from __future__ import annotations

import pytest

from nnstudio.cli import main
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.sweep import SweepSpec, run_sweep


@pytest.fixture
def spiral_file(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "samples": 120, "classes": 3}
    project.training = {**project.training, "epochs": 2, "batch_size": 32}
    path = tmp_path / "spiral.nnstudio"
    save_project(project, path)
    return path


def test_three_optimizers_over_two_seeds_land_as_six_runs_of_one_sweep(spiral_file, capsys):
    assert main(["sweep", str(spiral_file), "--set", "optimizer=sgd,adam,rmsprop", "--seeds", "2", "-q"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["optimizer", "runs", "val_accuracy"]
    assert [line.split()[0] for line in lines[1:4]] == ["sgd", "adam", "rmsprop"]
    assert all(line.split()[1] == "2" and "±" in line for line in lines[1:4])
    assert lines[-1] == f"sweep-1: 6 of 6 runs; saved to {spiral_file}"
    project = load_project(spiral_file)
    assert [r["sweep"] for r in project.runs] == ["sweep-1"] * 6
    assert [r["settings"]["optimizer"] for r in project.runs] == ["sgd", "sgd", "adam", "adam", "rmsprop", "rmsprop"]
    assert [r["settings"]["seed"] for r in project.runs] == [0, 1] * 3
    assert project.runs[0]["name"] == "optimizer=sgd seed 0 (sweep-1)"
    assert project.training["optimizer"] == "adam"  # the project's own settings are as they were
    assert project.weights is not None and project.runs[-1]["weights"]


def test_a_second_sweep_gets_the_next_id_and_its_results_match_its_runs(spiral_file):
    project = load_project(spiral_file)
    outcome = run_sweep(project, SweepSpec({"lr": [0.05, 0.005]}))
    again = run_sweep(project, SweepSpec({"lr": [0.05]}))
    assert (outcome.sweep_id, again.sweep_id) == ("sweep-1", "sweep-2") and len(project.runs) == 3
    by_lr = {row["lr"]: row for row in outcome.table}
    for run in project.runs[:2]:
        assert by_lr[run["settings"]["lr"]]["val_accuracy_mean"] == run["final"]["val_accuracy"]


@pytest.mark.parametrize("args, words", [
    ([], "give at least one --set"),
    (["--set", "optimizer=sgd,lion"], "sweep setting 'optimizer': "),
    (["--set", "lr"], "write it as SETTING=VALUE"),
    (["--set", "lr=0.1", "--set", "lr=0.2"], "--set lr is given twice"),
    (["--set", "lr=0.1", "--seeds", "0"], "1 to 20 seeds"),
])
def test_bad_sweeps_are_one_line(spiral_file, capsys, args, words):
    assert main(["sweep", str(spiral_file), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert load_project(spiral_file).runs == []


def test_without_set_the_sweep_saved_with_the_project_runs_again(spiral_file, capsys):
    assert main(["sweep", str(spiral_file), "--set", "optimizer=sgd,adam", "-q"]) == 0
    saved = load_project(spiral_file)
    assert saved.sweep == {"values": {"optimizer": ["sgd", "adam"]}, "mode": "grid", "draws": 0, "seeds": 1,
                           "seed": 0}
    capsys.readouterr()
    assert main(["sweep", str(spiral_file), "--seeds", "2", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"sweep-2: 4 of 4 runs; saved to {spiral_file}"
    project = load_project(spiral_file)
    second = [r for r in project.runs if r["sweep"] == "sweep-2"]
    assert [(r["settings"]["optimizer"], r["settings"]["seed"]) for r in second] == [
        ("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)]
    assert project.sweep["seeds"] == 2  # the sweep that ran last is the one saved
