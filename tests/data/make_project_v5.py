"""Made tests/data/project_v5.nnstudio, the format-5 fixture: a small trained project whose project.json holds a
sweep, with runs of that sweep and a branch.

    run-1, run-2  sweep-1: optimizer sgd and adam, 2 epochs each   named "optimizer=sgd seed 0 (sweep-1)" ...
    run-2         pinned: its weights are runs/run-2.safetensors
    run-3         branched from run-2 after its epoch 2, lr 0.01, 2 more epochs (numbered 3 and 4); the latest

The fixture is frozen: the tests open it as an old file would be opened. Do not rerun this to "fix" a test;
a new format gets a new fixture (project_v6 ...) and a script of its own.

    python tests/data/make_project_v5.py
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnstudio.core import runs
from nnstudio.core.graph import Graph
from nnstudio.core.project.io import save_project
from nnstudio.core.project.model import Project
from nnstudio.core.sweep import SweepSpec, run_sweep
from nnstudio.core.training.project_run import prepare, store_result, train_prepared

OUT = Path(__file__).resolve().parent / "project_v5.nnstudio"


def main() -> None:
    torch.set_num_threads(1)
    g = Graph()
    ids = [g.add_node("input_vector", {"features": 2}, position=(0, 0)).id,
           g.add_node("dense", {"units": 8, "activation": "relu"}, position=(200, 0)).id,
           g.add_node("dropout", {"rate": 0.1}, position=(400, 0)).id,
           g.add_node("dense", {"units": 2, "activation": "softmax"}, position=(600, 0)).id,
           g.add_node("output", {"task": "multiclass"}, position=(800, 0)).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    project = Project(graph=g, name="XOR fixture v5", description="Format-5 fixture for the tests: never regenerate it.",
                      training={"optimizer": "adam", "lr": 0.05, "epochs": 2, "batch_size": 8, "seed": 0,
                                "device": "cpu", "restore_best": False},
                      dataset={"name": "xor", "samples": 40, "seed": 0})
    run_sweep(project, SweepSpec({"optimizer": ["sgd", "adam"]}))
    runs.pin(project, "run-2")
    store_result(project, train_prepared(prepare(project, branch_from="run-2", lr=0.01, epochs=2)))
    save_project(project, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
