"""The shipped example networks: each builds a valid graph that compiles and runs, and the files in
resources/examples hold exactly what the builders in nnstudio.core.examples produce."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES, write_examples
from nnstudio.core.project.model import Project
from nnstudio.core.shapes import infer_shapes

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
STEMS = sorted(EXAMPLES)


def _io():
    return pytest.importorskip(
        "nnstudio.core.project.io", reason="nnstudio.core.project.io (save_project/load_project) is not written yet"
    )


def test_the_six_examples_are_registered():
    assert STEMS == sorted(
        ["spiral_mlp", "digits_cnn", "sentiment_lstm", "transformer_classifier", "residual_mlp",
         "optimizers_compared"]
    )


def test_the_optimizers_example_offers_the_reference_comparison_as_its_sweep():
    from nnstudio.core.sweep import expand, spec_from_dict

    project = EXAMPLES["optimizers_compared"]()
    points = expand(spec_from_dict(project.sweep, project.graph))
    assert [(p["optimizer"], p["seed"]) for p in points] == [("sgd", 0), ("adam", 0), ("rmsprop", 0)]


@pytest.mark.parametrize("stem", STEMS)
def test_example_is_a_complete_project(stem):
    project = EXAMPLES[stem]()
    assert isinstance(project, Project)
    assert project.name and project.description
    assert project.dataset and project.dataset.get("name")
    for key in ("optimizer", "lr", "batch_size", "epochs"):
        assert key in project.training
    assert project.weights is None and project.history is None
    # a fresh project each call: editing one must not change the next
    assert EXAMPLES[stem]() is not project
    assert EXAMPLES[stem]().graph is not project.graph


@pytest.mark.parametrize("stem", STEMS)
def test_example_graph_is_valid(stem):
    graph = EXAMPLES[stem]().graph
    assert graph.validate() == []
    assert graph.cycle_nodes() == set()


@pytest.mark.parametrize("stem", STEMS)
def test_example_layout_runs_left_to_right(stem):
    graph = EXAMPLES[stem]().graph
    positions = [n.position for n in graph.nodes.values()]
    assert len(set(positions)) == len(positions), "two nodes sit on top of each other"
    for edge in graph.edges:
        src, dst = graph.nodes[edge.src].position, graph.nodes[edge.dst].position
        assert dst[0] - src[0] >= 200, f"{edge.dst} is not to the right of {edge.src}"


@pytest.mark.parametrize("stem", STEMS)
def test_example_compiles_and_runs_with_the_predicted_shape(stem):
    graph = EXAMPLES[stem]().graph
    info = infer_shapes(graph)
    compiled = compile_graph(graph, seed=0)
    predicted = info.nodes[compiled.output_node].output.shape
    inputs = compiled.example_inputs(batch=3)
    compiled.module.eval()
    with torch.no_grad():
        out = compiled.module(*inputs)
    assert tuple(out.shape) == (3, *predicted)
    assert torch.isfinite(out).all()
    assert compiled.param_count == info.total_params > 0
    assert compiled.predict(*inputs).shape == out.shape


def test_examples_use_the_datasets_they_are_built_for():
    assert EXAMPLES["spiral_mlp"]().dataset == {"name": "spiral", "classes": 3}
    assert EXAMPLES["residual_mlp"]().dataset["name"] == "spiral"
    assert EXAMPLES["digits_cnn"]().dataset["name"] == "digits"
    assert EXAMPLES["sentiment_lstm"]().dataset["name"] == "sentiment"
    # the spiral examples' output layer has one unit per arm of the spiral
    for stem in ("spiral_mlp", "residual_mlp"):
        project = EXAMPLES[stem]()
        info = infer_shapes(project.graph)
        out = next(n for n in project.graph.nodes.values() if n.spec.is_output)
        assert info.nodes[out.id].output.shape == (project.dataset["classes"],)


def test_residual_mlp_has_a_skip_connection():
    graph = EXAMPLES["residual_mlp"]().graph
    add = [n for n in graph.nodes.values() if n.type_id == "add"]
    assert len(add) == 1
    sources = {e.src for e in graph.inputs_of(add[0].id)}
    assert len(sources) == 2
    # one input of Add reaches the other: the identity path skips the block
    a, b = sources
    assert graph.reaches(a, b) or graph.reaches(b, a)


# -- the shipped files ----------------------------------------------------------------------------------------
def test_every_example_has_a_shipped_file_and_no_file_is_stray():
    _io()
    shipped = {p.stem for p in EXAMPLES_DIR.glob("*.nnstudio")}
    assert shipped == set(EXAMPLES), "run nnstudio.core.examples.write_examples('resources/examples')"


@pytest.mark.parametrize("stem", STEMS)
def test_shipped_file_matches_the_builder(stem):
    io = _io()
    path = EXAMPLES_DIR / f"{stem}.nnstudio"
    assert path.is_file(), f"{path} is missing: run nnstudio.core.examples.write_examples('resources/examples')"
    loaded = io.load_project(path)
    built = EXAMPLES[stem]()
    assert loaded.graph.to_dict() == built.graph.to_dict(), (
        f"{path.name} has drifted from nnstudio.core.examples.{stem}: regenerate it with write_examples"
    )
    assert loaded.name == built.name
    assert loaded.description == built.description
    assert loaded.training == built.training
    assert loaded.dataset == built.dataset
    assert loaded.sweep == built.sweep


def test_write_examples_writes_loadable_files(tmp_path):
    io = _io()
    paths = write_examples(tmp_path / "out")
    assert sorted(p.stem for p in paths) == STEMS
    for path in paths:
        project = io.load_project(path)
        assert project.graph.to_dict() == EXAMPLES[path.stem]().graph.to_dict()
        assert project.graph.validate() == []
