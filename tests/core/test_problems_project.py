"""Every reason a project cannot train comes from one function, problems.project_problems: a test per source
(graph, memory, settings, dataset, data), the node each problem points at, and training refusing data with the
same words."""

from __future__ import annotations

import pytest

from nnstudio.core.data.registry import load_dataset, load_split
from nnstudio.core.errors import DatasetError
from nnstudio.core.graph import Graph
from nnstudio.core.problems import (
    DOES_NOT_FIT,
    NO_DATASET,
    ProjectProblem,
    check_data_fits,
    data_problems,
    load_data_for,
    network_ends,
    project_problems,
    summary_line,
)
from nnstudio.core.project.model import Project
from nnstudio.core.shapes import infer_shapes

SPIRAL = {"name": "spiral", "samples": 60}


def mlp(features: int = 2, classes: int = 3) -> Graph:
    g = Graph()
    i = g.add_node("input_vector", {"features": features})
    h = g.add_node("dense", {"units": 16, "activation": "relu"})
    o = g.add_node("dense", {"units": classes})
    out = g.add_node("output", {"task": "multiclass"})
    for a, b in ((i, h), (h, o), (o, out)):
        g.connect(a.id, b.id)
    return g


def project(**changes) -> Project:
    return Project(graph=changes.pop("graph", None) or mlp(), dataset=changes.pop("dataset", dict(SPIRAL)),
                   **changes)


def by_source(problems: list[ProjectProblem]) -> dict[str, list[tuple[str | None, str]]]:
    out: dict[str, list[tuple[str | None, str]]] = {}
    for p in problems:
        out.setdefault(p.source, []).append((p.node_id, p.message))
    return out


def test_a_project_that_can_train_has_no_problems():
    p = project()
    assert project_problems(p) == []
    assert project_problems(p, data=load_split(p.dataset)) == []


def test_graph_problems_sit_on_their_nodes():
    g = mlp()
    g.disconnect(g.inputs_of("dense_1")[0])
    found = by_source(project_problems(project(graph=g)))
    assert list(found) == ["graph"], found
    assert found["graph"][0][0] == "dense_1" and "needs an input" in found["graph"][0][1]
    info = infer_shapes(g)
    assert project_problems(project(graph=g), info=info) == project_problems(project(graph=g))


def test_a_network_too_large_for_memory_is_a_memory_problem():
    g = Graph()
    i = g.add_node("input_image", {"channels": 64, "height": 4096, "width": 4096})
    c = g.add_node("conv2d", {"filters": 64})
    pool = g.add_node("global_avg_pool", {})
    d = g.add_node("dense", {"units": 3})
    out = g.add_node("output", {"task": "multiclass"})
    for a, b in ((i, c), (c, pool), (pool, d), (d, out)):
        g.connect(a.id, b.id)
    found = by_source(project_problems(project(graph=g)))
    assert list(found) == ["memory"], found
    node, message = found["memory"][0]
    assert node is None and message.startswith("training with batch size 32 needs about ")


@pytest.mark.parametrize("training, needle", [({"epochs": 0}, "training setting 'epochs'"),
                                              ({"optimiser": "adam"}, "'optimiser' is not known"),
                                              ({"device": "tpu"}, "device 'tpu' is not known")])
def test_settings_that_do_not_check_are_a_settings_problem(training, needle):
    found = by_source(project_problems(project(training=training)))
    assert list(found) == ["settings"], found
    assert found["settings"][0][0] is None and needle in found["settings"][0][1]


def test_no_dataset_is_a_problem_that_says_what_to_do():
    assert project_problems(project(dataset=None)) == [ProjectProblem("dataset", None, NO_DATASET)]
    assert "choose one" in NO_DATASET


@pytest.mark.parametrize("dataset, needle", [({"name": "spiral", "samples": "many"}, "samples"),
                                             ({"name": "csv", "path": "missing.csv"}, "missing.csv"),
                                             ({"name": "nope"}, "no dataset called 'nope'")])
def test_a_dataset_config_that_loading_would_refuse_is_a_dataset_problem(tmp_path, dataset, needle):
    found = by_source(project_problems(project(dataset=dataset), base_dir=tmp_path))
    assert list(found) == ["dataset"], found
    assert needle in found["dataset"][0][1]


def test_data_that_do_not_fit_point_at_the_input_and_the_output():
    p = project(dataset={"name": "digits"})
    found = by_source(project_problems(p, data=load_split(p.dataset)))
    assert list(found) == ["data"], found
    (input_node, input_text), (output_node, output_text) = found["data"]
    assert input_node == "input_vector_1" and "gives images (N, 1, 8, 8) but the Input node expects (N, 2)" in input_text
    assert output_node == "output_1" and output_text.startswith("the dataset has 10 classes but the Output receives "
                                                                "3 scores")


def test_the_data_are_judged_only_when_given():
    """Without the data nothing is said of their fit (the session says "checking" meanwhile)."""
    assert project_problems(project(dataset={"name": "digits"})) == []


@pytest.mark.parametrize("error", ["x.csv has a header but no data rows", DatasetError("x.csv has a header but "
                                                                                        "no data rows")])
def test_a_load_error_is_a_data_problem(error):
    assert project_problems(project(), data=error) == [ProjectProblem("data", None,
                                                                      "x.csv has a header but no data rows")]


def test_an_unexpected_load_error_is_said_in_plain_words():
    found = project_problems(project(), data=OSError("disk gone\nsecond line"))
    assert found == [ProjectProblem("data", None, "the data could not be read (OSError: disk gone)")]


def test_a_whole_dataset_is_checked_for_a_split_that_leaves_a_part_empty():
    """The window may load the whole dataset (its preview): the split training would make is checked on it."""
    config = {"name": "spiral", "samples": 20, "val_fraction": 0.01}
    found = data_problems(load_dataset(config), mlp(), None, config)
    assert [(p.source, p.node_id) for p in found] == [("data", None)]
    assert "leaves the validation set empty" in found[0].message
    assert data_problems(load_dataset(SPIRAL), mlp(), None, SPIRAL) == []


def test_only_the_input_that_feeds_the_output_is_checked():
    g = mlp()
    g.add_node("input_image", {"channels": 1, "height": 8, "width": 8})  # left unconnected
    info = infer_shapes(g)
    assert network_ends(g, info) == (["input_vector_1"], "output_1")
    found = data_problems(load_split(SPIRAL), g, info, SPIRAL)
    assert all(p.node_id != "input_image_1" for p in found), found


def test_training_refuses_data_with_the_words_of_the_problems_list():
    from nnstudio.core.training.project_run import prepare

    p = project(dataset={"name": "spiral", "samples": 60, "classes": 4})
    with pytest.raises(DatasetError) as trained:
        prepare(p)
    split = load_split(p.dataset)
    with pytest.raises(DatasetError) as checked:
        check_data_fits(split.train, p.graph, None, p.dataset)
    listed = project_problems(p, data=split)
    assert str(trained.value) == str(checked.value) == DOES_NOT_FIT + "; ".join(x.message for x in listed)
    assert [x.node_id for x in listed] == ["output_1"]


def test_load_data_for_loads_as_training_does(tmp_path):
    split = load_data_for(project())
    assert split is not None and len(split.train) + len(split.val) == 60
    assert load_data_for(project(dataset=None)) is None
    assert load_data_for(project(dataset={"name": "csv", "path": "missing.csv"}), tmp_path) is None  # its own problem
    (tmp_path / "rows.csv").write_text("a,b\n")
    assert "no data rows" in load_data_for(project(dataset={"name": "csv", "path": "rows.csv"}), tmp_path)


def test_sources_come_in_order_and_the_summary_line_names_the_first():
    g = mlp()
    g.disconnect(g.inputs_of("dense_1")[0])
    found = project_problems(project(graph=g, training={"epochs": 0}, dataset=None))
    assert [p.source for p in found] == ["graph", "settings", "dataset"]
    line = summary_line(found, shown=1)
    assert line.startswith("dense_1: Dense needs an input") and line.endswith(" (and 2 more)")
