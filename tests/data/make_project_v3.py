"""Made tests/data/project_v3.nnstudio, the format-3 fixture: a small trained project holding every member
(project.json with weights_fingerprint and two frames, one collapsed; weights, training state, history).

The fixture is frozen: the tests open it as an old file would be opened. Do not rerun this to "fix" a test;
a new format gets a new fixture (project_v4 ...) and a script of its own.

    python tests/data/make_project_v3.py
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnstudio.core.graph import Graph
from nnstudio.core.project.io import save_project
from nnstudio.core.project.model import Project
from nnstudio.core.training.project_run import prepare, store_result, train_prepared

OUT = Path(__file__).resolve().parent / "project_v3.nnstudio"


def main() -> None:
    torch.set_num_threads(1)
    g = Graph()
    ids = [g.add_node("input_vector", {"features": 2}, position=(0, 0)).id,
           g.add_node("dense", {"units": 8, "activation": "relu"}, position=(200, 0)).id,
           g.add_node("dropout", {"rate": 0.2}, position=(400, 0)).id,
           g.add_node("dense", {"units": 2, "activation": "softmax"}, position=(600, 0)).id,
           g.add_node("output", {"task": "multiclass"}, position=(800, 0)).id]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    g.set_label(ids[1], "hidden")
    g.add_frame(ids[1:3], "Hidden block", "#3c9d5d")
    g.add_frame(ids[3:5], "Head <b>not bold</b>", "#d98b3a", collapsed=True)  # a label is plain text
    project = Project(graph=g, name="XOR fixture v3", description="Format-3 fixture for the tests: never regenerate it.",
                      training={"optimizer": "adam", "lr": 0.05, "epochs": 3, "batch_size": 8, "seed": 0,
                                "schedule": "step", "step_size": 2, "gamma": 0.5, "device": "cpu",
                                "restore_best": False},
                      dataset={"name": "xor", "samples": 40, "seed": 0})
    store_result(project, train_prepared(prepare(project)))
    save_project(project, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
