"""The dataset registry: complete specs, configs that round-trip through load_dataset, errors naming the option,
load_split, the examples' datasets fitting their networks, and the plain-words fit checks."""

from __future__ import annotations

import json

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data import (DATASETS, SPLIT_PARAMS, check_dataset, check_fits, check_targets, load_dataset,
                                load_split)
from nnstudio.core.data import synthetic
from nnstudio.core.data.registry import KINDS
from nnstudio.core.errors import DatasetError
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.layers.base import FLOAT, LONG, TensorInfo
from nnstudio.core.data.base import PREVIEWS, TASKS

BUILT_IN = [name for name, spec in DATASETS.items() if spec.kind not in ("import", "standard")]


def _error(config, *args) -> str:
    with pytest.raises(DatasetError) as error:
        load_dataset(config, *args)
    return str(error.value)


@pytest.mark.parametrize("name", DATASETS)
def test_every_spec_is_complete_and_its_defaults_pass_its_checks(name):
    spec = DATASETS[name]
    assert spec.name == name and spec.kind in KINDS and spec.title and spec.description
    for p in spec.params:
        assert p.check(p.default) is None, (name, p.name)
    json.dumps(spec.to_dict())
    assert len({p.name for p in spec.params}) == len(spec.params)


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_datasets_load_with_their_defaults(name):
    data = load_dataset({"name": name})
    assert data.task in TASKS and data.preview in PREVIEWS and len(data) > 0
    assert data.y.dtype == (torch.float32 if data.task == "regression" else torch.long)
    assert data.x.dtype in (torch.float32, torch.long)


def test_a_config_gives_the_same_data_as_calling_the_generator():
    config = {"name": "spiral", "samples": 90, "classes": 5, "noise": 0.1, "turns": 1.5, "seed": 4,
              "val_fraction": 0.3, "test_fraction": 0.1, "split_seed": 2}
    data = load_dataset(config)
    direct = synthetic.spiral(samples=90, classes=5, noise=0.1, turns=1.5, seed=4)
    assert torch.equal(data.x, direct.x) and torch.equal(data.y, direct.y)
    assert torch.equal(load_dataset({"name": "spiral"}).x, synthetic.spiral().x)
    assert load_dataset({"name": "digits", "size": 28}).input_shape == (1, 28, 28)
    assert config["name"] == "spiral" and len(config) == 9  # the caller's dict is left alone


def test_load_split_reads_the_split_options_from_the_same_dict():
    parts = load_split({"name": "blobs", "samples": 200, "val_fraction": 0.25, "test_fraction": 0.1,
                        "split_seed": 3})
    assert (len(parts.train), len(parts.val), len(parts.test)) == (130, 50, 20)
    again = load_split({"name": "blobs", "samples": 200, "val_fraction": 0.25, "test_fraction": 0.1,
                        "split_seed": 3})
    assert torch.equal(parts.val.x, again.val.x)
    default = load_split({"name": "moons"})
    assert len(default.val) == 80 and default.test is None
    assert [p.name for p in SPLIT_PARAMS] == ["val_fraction", "test_fraction", "split_seed"]


@pytest.mark.parametrize("config, message", [
    ({"name": "spirals"}, "there is no dataset called 'spirals' (choose one of spiral, moons"),
    ({}, "no dataset chosen: set the dataset's name"),
    ({"name": 3}, "there is no dataset called 3"),
    ("spiral", "the dataset settings must be a dict"),
    ({"name": "spiral", "colour": "red"},
     "the spiral dataset has no option 'colour' (its options: classes, noise, samples, seed, turns)"),
    ({"name": "moons", "classes": 3}, "the moons dataset has no option 'classes'"),
    ({"name": "spiral", "samples": "many"}, "the spiral dataset's option 'samples': Samples must be a whole number"),
    ({"name": "spiral", "classes": 1}, "the spiral dataset's option 'classes': Classes must be at least 2, not 1"),
    ({"name": "spiral", "noise": float("nan")}, "option 'noise': Noise must be a finite number"),
    ({"name": "digits", "size": 4}, "option 'size': Size must be at least 8"),
    ({"name": "spiral", "val_fraction": 2}, "the dataset's option 'val_fraction': Validation fraction must be at "
                                            "most 0.9"),
    ({"name": "csv", "path": 5}, "the csv dataset's option 'path': Path must be text, not 5"),
    ({"name": "csv"}, "no CSV file chosen: set the dataset's path"),
    ({"name": "image_folder", "path": "x", "channels": 2}, "option 'channels': Channels must be 1 (greyscale) or 3"),
])
def test_bad_configs_name_the_dataset_or_option(config, message):
    assert message in _error(config)


def test_relative_paths_are_taken_from_the_project_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n", encoding="utf-8")
    data = load_dataset({"name": "csv", "path": "data/table.csv"}, tmp_path)
    assert data.x.shape == (3, 2) and data.classes == ["x", "y"]
    assert "table.csv: no such file" in _error({"name": "csv", "path": "data/table.csv"}, tmp_path / "elsewhere")


# -- the examples ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", EXAMPLES)
def test_each_example_dataset_fits_its_network(stem):
    project = EXAMPLES[stem]()
    data = load_dataset(project.dataset)
    model = compile_graph(project.graph)
    assert check_fits(data, model.input_infos, project.dataset) == []
    assert check_targets(data, model.task, model.output_info.shape) == []


# -- fit checks --------------------------------------------------------------------------------------------
def test_image_size_mismatch_suggests_the_dataset_size():
    digits = load_dataset({"name": "digits"})
    assert check_fits(digits, [TensorInfo((1, 28, 28))], {"name": "digits"}) == [
        "the digits dataset gives images (N, 1, 8, 8) but the Input node expects (N, 1, 28, 28): set the dataset's "
        "size to 28 or change the Input"]
    assert check_fits(digits, [TensorInfo((3, 8, 8))]) == [
        "the digits dataset gives images (N, 1, 8, 8) but the Input node expects (N, 3, 8, 8): change the Input "
        "to (N, 1, 8, 8)"]


def test_vector_and_token_mismatches():
    spiral = synthetic.spiral(samples=30)
    assert check_fits(spiral, [TensorInfo((3,))]) == [
        "the spiral dataset gives vectors (N, 2) but the Input node expects (N, 3): set the Input's features to 2"]
    assert check_fits(spiral, [TensorInfo((32,), LONG, vocab=1000)]) == [
        "the spiral dataset gives vectors (N, 2) but the Input node expects token ids (N, 32): use an Input "
        "(vector) node"]
    text = load_dataset({"name": "sentiment", "samples": 100, "length": 20})
    assert check_fits(text, [TensorInfo((20,), FLOAT)]) == [
        "the sentiment dataset gives token ids (N, 20) but the Input node expects real values (N, 20): use an "
        "Input (tokens) node"]
    assert check_fits(text, [TensorInfo((32,), LONG, vocab=1000)], {"name": "sentiment"}) == [
        "the sentiment dataset gives token ids (N, 20) but the Input node expects (N, 32): set the dataset's "
        "length to 32 or the Input's length to 20"]


def test_vocabulary_larger_than_the_input_is_reported():
    text = load_dataset({"name": "sentiment", "samples": 100})
    text.vocab = text.vocab + [f"word{i}" for i in range(1204 - len(text.vocab))]
    assert check_fits(text, [TensorInfo((32,), LONG, vocab=1000)], {"name": "text_csv"}) == [
        "the text has a vocabulary of 1,204 words but the Input's vocabulary size is 1,000: set the Input's "
        "vocabulary size to at least 1,204 or the dataset's max_vocab to 1,000"]
    assert check_fits(text, [TensorInfo((32,), LONG, vocab=2000)]) == []


def test_input_node_count_problems():
    spiral = synthetic.spiral(samples=30)
    assert check_fits(spiral, []) == [
        "the network has no Input node: add an Input (vector) node for the spiral dataset's vectors (N, 2)"]
    assert "has 2 Input nodes" in check_fits(spiral, [TensorInfo((2,)), TensorInfo((2,))])[0]


def test_target_checks():
    spiral = synthetic.spiral(samples=30)
    moons = synthetic.moons(samples=30)
    sine = synthetic.sine(samples=30)
    assert check_targets(sine, "multiclass", (3,)) == [
        "the dataset is a regression task but the Output node is multi-class: set the Output's task to regression"]
    assert check_targets(spiral, "multiclass", (10,)) == [
        "the dataset has 3 classes but the Output receives 10 scores: give the last Dense layer 3 units"]
    assert check_targets(spiral, "regression", (1,)) == [
        "the dataset is a multi-class classification task (3 classes) but the Output node is regression: set the "
        "Output's task to multi-class"]
    assert check_targets(spiral, "binary", (1,))[0].startswith("the dataset has 3 classes but the Output node is "
                                                               "binary")
    assert check_targets(sine, "regression", (2,)) == [
        "the dataset has 1 target per sample but the Output receives 2 values: give the last Dense layer 1 unit"]
    # Two classes fit a binary Output (one score) and a multi-class Output (two scores).
    assert check_targets(moons, "binary", (1,)) == [] and check_targets(moons, "multiclass", (2,)) == []
    assert check_targets(spiral, "multiclass", (3,)) == [] and check_targets(spiral, "multiclass", None) == []


def test_a_path_naming_an_unknown_user_is_a_missing_file_not_a_crash(tmp_path):
    problems = check_dataset({"name": "csv", "path": "~nosuchuser_nnstudio/x.csv"}, base_dir=tmp_path)
    assert len(problems) == 1 and problems[0].endswith("~nosuchuser_nnstudio/x.csv: no such file")
