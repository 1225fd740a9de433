"""Branching a new run from a kept run's weights with other settings: it starts from those weights, names its
parent and the epoch it left from, numbers its epochs on, and its history goes on from the parent's; a run
without weights, or of another network, cannot be branched from (one plain line)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnstudio.core import runs
from nnstudio.core.errors import TrainingError
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.project.io import load_project
from nnstudio.core.training.project_run import prepare, store_result, train_prepared

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def trained():
    torch.set_num_threads(1)
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "samples": 120, "classes": 3}
    project.training = {**project.training, "epochs": 3, "batch_size": 32, "restore_best": False}
    store_result(project, train_prepared(prepare(project)))  # run-1
    runs.pin(project, "run-1")
    store_result(project, train_prepared(prepare(project, optimizer="sgd", epochs=2)))  # run-2
    return project


def test_a_branch_starts_from_the_pinned_runs_weights_and_goes_on_from_its_epoch(trained):
    parent_weights = {k: v.clone() for k, v in trained.run_weights["run-1"].items()}
    prepared = prepare(trained, branch_from="run-1", lr=0.001, epochs=2)
    assert prepared.parent == {"run": "run-1", "epoch": 3} and prepared.resume.epoch == 3
    assert "starts its optimizer and schedule fresh" in prepared.notes[0]  # run-1's optimizer state was not kept
    for name, tensor in prepared.compiled.module.state_dict().items():
        assert torch.equal(tensor, parent_weights[name])  # the branch starts where run-1 left
    store_result(trained, train_prepared(prepared))
    branch = trained.runs[-1]
    assert branch["parent"] == {"run": "run-1", "epoch": 3} and branch["settings"]["lr"] == 0.001
    assert [r["epoch"] for r in branch["epochs"]] == [4, 5]
    # the project's history is run-1's epochs, then the branch's (not run-2's, which trained meanwhile)
    assert trained.history["epochs"][:3] == trained.runs[0]["epochs"]
    assert [r["epoch"] for r in trained.history["epochs"]] == [1, 2, 3, 4, 5]
    assert trained.run_weights["run-1"]["dense_1.weight"].equal(parent_weights["dense_1.weight"])  # kept as it was


def test_a_branch_of_the_current_run_keeps_its_optimizer(trained):
    prepared = prepare(trained, branch_from="run-2", epochs=1)
    assert prepared.resume.has_optimizer and prepared.resume is trained.training_state
    assert prepared.parent == {"run": "run-2", "epoch": 2}  # after run-2's own last epoch


def test_a_run_without_weights_or_of_another_network_cannot_be_branched_from(trained):
    runs.pin(trained, "run-1", False)
    store_result(trained, train_prepared(prepare(trained, epochs=1)))  # run-3: run-1 and run-2 lose weights
    with pytest.raises(TrainingError, match="run-2 keeps no weights .*pin a run"):
        prepare(trained, branch_from="run-2")
    with pytest.raises(runs.RunError, match="there is no run 'run-9'"):
        prepare(trained, branch_from="run-9")
    trained.graph.set_params("dense_1", {"units": 5})
    with pytest.raises(TrainingError, match="run-3 trained another version of the network: restore its network"):
        prepare(trained, branch_from="run-3")


def test_store_result_names_a_runs_sweep_and_name(trained):
    store_result(trained, train_prepared(prepare(trained, epochs=1)), sweep="sweep-4", name="lr=0.1 seed 0\n(x)")
    assert (trained.runs[-1]["sweep"], trained.runs[-1]["name"]) == ("sweep-4", "lr=0.1 seed 0 (x)")


def test_the_v5_fixture_holds_a_sweep_its_runs_and_a_branch():
    project = load_project(DATA_DIR / "project_v5.nnstudio")
    assert project.load_warnings == []
    assert project.sweep == {"values": {"optimizer": ["sgd", "adam"]}, "mode": "grid", "draws": 0, "seeds": 1,
                             "seed": 0}
    assert [(r["id"], r["sweep"], r["pinned"], r["weights"]) for r in project.runs] == [
        ("run-1", "sweep-1", False, False), ("run-2", "sweep-1", True, True), ("run-3", None, False, True)]
    assert project.runs[0]["name"] == "optimizer=sgd seed 0 (sweep-1)"
    assert project.runs[2]["parent"] == {"run": "run-2", "epoch": 2}
    assert [r["epoch"] for r in project.runs[2]["epochs"]] == [3, 4] and project.runs[2]["settings"]["lr"] == 0.01


def test_branch_epoch_says_where_a_branch_starts(trained):
    from nnstudio.core.training.project_run import branch_epoch

    assert branch_epoch(trained, "run-1") == 3 and branch_epoch(trained, "run-2") == 2
    assert branch_epoch(trained, "run-1") == prepare(trained, branch_from="run-1").parent["epoch"]
