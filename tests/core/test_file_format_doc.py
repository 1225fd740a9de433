"""docs/file-format.md is exact: its examples are extracted and loaded, its complete example trains as written, and
the settings, reserved ids and limits it states are the ones the code uses."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from nnstudio.cli import main
from nnstudio.core.data.registry import DATASETS, SPLIT_PARAMS
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import MAX_NODES, MAX_WIRES, check_id
from nnstudio.core.layers.registry import LEGACY_IDS, SPECS
from nnstudio.core.project import io as project_io
from nnstudio.core.project.io import load_project
from nnstudio.core.training import history as history_module
from nnstudio.core.training import optim
from nnstudio.core.training import resume
from nnstudio.core.training.config import PARAMS, TrainConfig
from nnstudio.core.training.history import history_problem

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "file-format.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the section headed ``title`` (up to the next heading of the same or a higher level)."""
    match = re.search(rf"^(#+) {re.escape(title)}\n(.*?)(?=^#{{1,{2}}} |\Z)", DOC, re.S | re.M)
    assert match, f"docs/file-format.md has no section {title!r}"
    return match.group(2)


def json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, re.S)


def zipped(tmp_path: Path, name: str, **members: str) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, text in members.items():
            archive.writestr(member.replace("_", ".", 1) if member != "project_json" else "project.json", text)
    return path


def test_every_json_example_is_json():
    blocks = json_blocks(DOC)
    assert len(blocks) >= 2
    for block in blocks:
        json.loads(block)


def test_the_complete_example_trains_as_written(tmp_path, capsys):
    example = json_blocks(section("A complete example"))[0]
    path = tmp_path / "spirals.nnstudio"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", example)
    project = load_project(path)
    assert project.graph.validate() == [] and project.load_warnings == []
    assert main(["train", str(path), "-q"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    accuracy = float(re.search(r"val_accuracy=([\d.]+)\s*$", out).group(1))
    trained = load_project(path)
    written = json.loads(example)
    assert len(trained.history["epochs"]) == written["training"]["epochs"]  # the settings as written were used
    assert accuracy >= 0.9  # "near 1.0"
    # The tensors the doc says the archive then holds, with their shapes.
    stated = re.findall(r"`(\w+\.(?:weight|bias))` \(([\d x]+)\)", section("A complete example"))
    assert {name: tuple(int(d) for d in shape.split(" x ")) for name, shape in stated} == \
        {name: tuple(t.shape) for name, t in trained.weights.items()}
    # ... and the training state it names: Adam's exp_avg, exp_avg_sq and step of each tensor, the generators.
    with zipfile.ZipFile(path) as archive:
        assert "training_state.safetensors" in archive.namelist()
    tensors, _meta = resume.pack(trained.training_state)
    assert set(tensors) == {f"optimizer.{name}.{key}" for name in trained.weights
                            for key in ("exp_avg", "exp_avg_sq", "step")} | {"rng.torch_cpu", "rng.permutation"}


def test_the_history_example_has_the_shape_the_app_reads(tmp_path):
    history = json_blocks(section("`history.json`"))[0]
    assert history_problem(json.loads(history)) is None
    example = json_blocks(section("A complete example"))[0]
    path = tmp_path / "h.nnstudio"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", example)
        archive.writestr("history.json", history)
    project = load_project(path)
    assert project.load_warnings == [] and project.history == json.loads(history)
    # Every key the doc's table lists is one the checker knows, and the other way round.
    listed = set(re.findall(r"^\| `(\w+)` \|", section("`history.json`"), re.M))
    assert listed == set(history_module._KNOWN)


def test_every_training_setting_is_documented_with_its_default():
    table = section("Training settings")
    rows = dict(re.findall(r"^\| `(\w+)` \| \w+ \| `([^`]*)` \|", table, re.M))
    assert set(rows) == {f.name for f in fields(TrainConfig)}
    defaults = TrainConfig()
    for name, shown in rows.items():
        assert json.loads(shown) == getattr(defaults, name), name
    ranges = {name: (float(low), float(high)) for name, low, high in
              re.findall(r"^\| `(\w+)` \|[^|]*\|[^|]*\| ([\d.e+-]+) \.\. ([\d.e+-]+) \|", table, re.M)}
    assert ranges == {p.name: (p.minimum, p.maximum) for p in PARAMS if p.minimum is not None}


def test_every_dataset_and_option_is_documented():
    table = section("Dataset settings")
    for name, spec in DATASETS.items():
        row = next((line for line in table.splitlines() if re.match(rf"\| [^|]*`{name}`", line)), None)
        assert row is not None, name
        for p in spec.params:
            assert f"`{p.name}` {p.kind} ({p.default!r}".replace("'", '"') in row.replace("'", '"') \
                or f"`{p.name}` {p.kind} ({json.dumps(p.default)}" in row, (name, p.name)
    for p in SPLIT_PARAMS:
        assert f"`{p.name}`" in table


def test_the_reserved_ids_named_are_refused_and_made_ids_are_not():
    named = re.findall(r"`(\w+)`", section("Reserved node ids").split("The ids NN Studio makes")[0])
    assert len(named) > 20
    for node_id in named:
        with pytest.raises(GraphError):
            check_id(node_id)
    for made in ("dense_1", "input_vector_1", "conv2d_3"):
        check_id(made)


@pytest.mark.parametrize("figure, value", [
    ("100,000 nodes", MAX_NODES), ("200,000 wires", MAX_WIRES),
    ("`history.json` at 48 MB", project_io.MAX_HISTORY_BYTES // 1024**2),
    ("`project.json` at 20 MB", project_io.MAX_JSON_BYTES // 1024**2),
    ("2,500,000\n  JSON items", project_io.MAX_JSON_ITEMS), ("10,000 entries", project_io.MAX_ENTRIES),
    ("200 to 1", project_io.MAX_RATIO), ("10 to 1", project_io.MAX_WEIGHTS_RATIO),
    ("plus 1 MiB", project_io.HEADER_ALLOWANCE // 1024**2), ("4 KiB per node", project_io.HEADER_ALLOWANCE_PER_NODE // 1024),
    # the training state
    ("plus 1 MiB and 16 KiB", project_io.STATE_HEADER_ALLOWANCE // 1024**2),
    ("16 KiB per node", project_io.STATE_HEADER_ALLOWANCE_PER_NODE // 1024),
    ("never more than 8 GB", project_io.MAX_TRAINING_STATE_BYTES // 1024**3),
    ("2 copies of the parameters", optim.MAX_STATE_COPIES),
    ("that is 4 times the bytes", project_io.WEIGHTS_DTYPE_FACTOR * optim.MAX_STATE_COPIES),
    ("5,056 values", resume._MT_STATE_BYTES),
    # what the history keeps to redraw the dashboard
    ("at most 2,000 points", history_module.MAX_STEP_POINTS), ("at most 10,000 names", history_module.MAX_CLASSES),
    ("at most 200 characters", history_module.MAX_NAME), ("at most 200 classes", history_module.MAX_CONFUSION),
    ("At most 500 layers", history_module.MAX_LAYERS), ("at most 100 bins", history_module.MAX_BINS),
    ("At most 100,000 rows", history_module.MAX_EPOCHS),
])
def test_the_limits_stated_are_the_code_s(figure, value):
    assert figure in DOC
    number = int(re.search(r"[\d,]+", figure.split("`")[-1]).group().replace(",", ""))
    assert number == value


def test_every_layer_type_and_legacy_id_is_listed():
    missing = [t for t in [*SPECS, *LEGACY_IDS] if f"`{t}`" not in DOC]
    assert missing == []


# -- the training state --------------------------------------------------------------------------------------------
FIXTURE_V2 = ROOT / "tests" / "data" / "project_v2.nnstudio"


def _table_names(text: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", text, re.M)


def test_the_training_state_tensors_and_metadata_keys_are_the_code_s():
    text = section("`training_state.safetensors`")
    names = _table_names(text)
    assert {n for n in names if n.startswith("rng.")} == {f"rng.{g}" for g in resume.RNG_NAMES}
    assert "optimizer.<parameter>.<name>" in names
    assert {n for n in names if "." not in n} == {"format", *resume.METADATA_KEYS}
    tensors, meta = resume.pack(load_project(FIXTURE_V2).training_state)
    for key in ("position", "optimizer", "scheduler"):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        stated = set(re.findall(r"`(\w+)` \(", row))
        assert stated == set(meta[key]), f"the doc's {key} row names {sorted(stated)}, the code {sorted(meta[key])}"


def test_the_optimizer_state_names_stated_are_the_optimizers():
    """Every state name the doc lists is one an optimizer keeps, and every one they keep is listed."""
    row = next(line for line in section("`training_state.safetensors`").splitlines()
               if line.startswith("| `optimizer.<parameter>.<name>`"))
    stated = set(re.findall(r"`(\w+)`", row.split("|")[3]))
    seen = set()
    for name in optim.STATE_COPIES:
        model = torch.nn.Linear(3, 2)
        optimizer = optim.make_optimizer(model, TrainConfig(optimizer=name, momentum=0.9))
        model(torch.randn(4, 3)).sum().backward()
        optimizer.step()
        seen |= {key for state in optimizer.state.values() for key in state}
    assert stated == seen


def test_the_training_state_example_is_the_fixture_s():
    example = json.loads(json_blocks(section("`training_state.safetensors`"))[0])
    _tensors, meta = resume.pack(load_project(FIXTURE_V2).training_state)
    assert set(example) == set(meta) - {"version"}

    def same(stated, actual, where):
        if isinstance(actual, dict):
            assert isinstance(stated, dict) and set(stated) == set(actual), where
            for key in actual:
                same(stated[key], actual[key], f"{where}.{key}")
        elif isinstance(actual, list):
            assert isinstance(stated, list) and len(stated) == len(actual), where
            for i, (a, b) in enumerate(zip(stated, actual)):
                same(a, b, f"{where}[{i}]")
        elif isinstance(actual, float):
            assert stated == pytest.approx(actual, rel=5e-3) or where.endswith("elapsed_s"), where
        else:
            assert stated == actual, where

    for key in example:
        same(example[key], meta[key], key)
