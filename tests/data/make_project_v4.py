"""Made tests/data/project_v4.nnstudio, the format-4 fixture: a small trained project holding every member
(project.json with weights_fingerprint and a frame; weights, training state, history; runs.json with three
runs and runs/run-2.safetensors, the weights of the pinned run 2, which run 3 continued).

    run-1  adam, lr 0.05, 3 epochs                      weights dropped (not pinned, not the latest)
    run-2  adam, lr 0.02, 2 epochs, renamed "Lower lr"  pinned: its weights are runs/run-2.safetensors
    run-3  continued run-2 for 2 more epochs            the latest: its weights are weights.safetensors

The fixture is frozen: the tests open it as an old file would be opened. Do not rerun this to "fix" a test;
a new format gets a new fixture (project_v5 ...) and a script of its own.

    python tests/data/make_project_v4.py
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnstudio.core import runs
from nnstudio.core.graph import Graph
from nnstudio.core.project.io import save_project
from nnstudio.core.project.model import Project
from nnstudio.core.training.project_run import prepare, store_result, train_prepared

OUT = Path(__file__).resolve().parent / "project_v4.nnstudio"


def main() -> None:
    torch.set_num_threads(1)
    g = Graph()
    ids = [g.add_node("input_vector", {"features": 2}, position=(0, 0)).id,
           g.add_node("dense", {"units": 8, "activation": "relu"}, position=(200, 0)).id,
           g.add_node("dense", {"units": 2, "activation": "softmax"}, position=(400, 0)).id,
           g.add_node("output", {"task": "multiclass"}, position=(600, 0)).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    g.set_label(ids[1], "hidden")
    g.add_frame(ids[1:3], "Layers", "#3c9d5d")
    project = Project(graph=g, name="XOR fixture v4", description="Format-4 fixture for the tests: never regenerate it.",
                      training={"optimizer": "adam", "lr": 0.05, "epochs": 3, "batch_size": 8, "seed": 0,
                                "device": "cpu", "restore_best": False},
                      dataset={"name": "xor", "samples": 40, "seed": 0})
    store_result(project, train_prepared(prepare(project)))
    store_result(project, train_prepared(prepare(project, lr=0.02, epochs=2)))
    runs.rename(project, "run-2", "Lower lr")
    runs.pin(project, "run-2")
    store_result(project, train_prepared(prepare(project, resume=True, lr=0.02, epochs=2)))
    save_project(project, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
