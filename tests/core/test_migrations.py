"""The upgrade mechanism for older project files, the upgrades from format 1 to 2 and 2 to 3, the fixtures of every
format, and renamed layer type ids.

The mechanism itself (order, purity, missing steps) is exercised with temporary fake migrations registered
through monkeypatch (a pretend format 6), never with an invented old file.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest

from nnstudio.core.errors import ProjectFileError
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.layers.registry import LEGACY_IDS
from nnstudio.core.project import migrations
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.migrations import MigrationError, migrate, translate_legacy_ids

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def v1_data() -> dict:
    return {
        "format_version": 1,
        "name": "demo",
        "graph": {
            "nodes": [{"id": "linear_1", "type": "linear", "params": {"units": 3}},
                      {"id": "mhsa_1", "type": "mhsa"}, {"id": "dense_2", "type": "dense"}],
            "edges": [{"from": "linear_1", "to": "mhsa_1"}],
        },
    }


@pytest.fixture
def pretend_format_6(monkeypatch):
    """Make this app believe it is at format 6 with an upgrade from 5 that upper-cases the project name."""
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 6)
    monkeypatch.setitem(migrations.MIGRATIONS, 5, lambda d: {**d, "name": d.get("name", "").upper()})


# -- the registry of migrations ----------------------------------------------------------------------------------
def test_every_older_version_has_a_migration_and_a_fixture():
    assert migrations.CURRENT_VERSION == 5
    assert sorted(migrations.MIGRATIONS) == list(range(1, migrations.CURRENT_VERSION))
    for version in range(1, migrations.CURRENT_VERSION + 1):
        project = load_project(DATA_DIR / f"project_v{version}.nnstudio")
        assert project.graph.nodes and project.weights, f"project_v{version}.nnstudio: no graph or no weights"
        assert project.load_warnings == [], f"project_v{version}.nnstudio: {project.load_warnings}"


def test_current_data_passes_unchanged():
    data = {"format_version": 5, "name": "x", "graph": {"nodes": [{"id": "d", "type": "dense"}], "edges": []},
            "weights_fingerprint": None, "frames": [{"id": "f", "nodes": ["d"]}], "sweep": None}
    snapshot = copy.deepcopy(data)
    assert migrate(data) == snapshot
    assert data == snapshot


# -- format 1 -> 2 -----------------------------------------------------------------------------------------------
def test_v1_to_v2_adds_a_null_fingerprint_and_nothing_else():
    data = v1_data()
    snapshot = copy.deepcopy(data)
    upgraded = migrations.MIGRATIONS[1](data)
    assert data == snapshot, "the 1 -> 2 step must not change its argument"
    assert upgraded == {**snapshot, "weights_fingerprint": None}
    assert migrate(data)["format_version"] == migrations.CURRENT_VERSION


def test_the_v1_fixture_opens_as_format_2():
    project = load_project(DATA_DIR / "project_v1.nnstudio")
    assert project.name == "XOR fixture"
    assert list(project.graph.nodes) == ["input_vector_1", "dense_1", "dense_2", "output_1"]
    assert project.weights_fingerprint is None and project.training_state is None  # format 1 had neither
    assert set(project.weights) == {"dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"}
    assert project.history == {"epoch": [1, 2], "loss": [0.75, 0.5], "val_loss": [0.8, 0.625]}


def test_the_v2_fixture_holds_every_member():
    path = DATA_DIR / "project_v2.nnstudio"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["history.json", "project.json", "training_state.safetensors",
                                              "weights.safetensors"]
        assert json.loads(archive.read("project.json"))["format_version"] == 2
    project = load_project(path)
    assert project.load_warnings == []
    assert project.weights_fingerprint == fingerprint(project.graph)  # trained on this very graph
    state = project.training_state
    assert (state.epoch, state.step, state.optimizer, state.schedule) == (3, 12, "adam", "step")
    assert set(state.params) == set(project.weights) and set(state.rng) == {"torch_cpu", "permutation"}
    assert state.lrs == [0.025] and state.scheduler["last_epoch"] == 3  # the step schedule halved it once
    history = project.history
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3] and history["steps"] == 12
    assert history["task"] == "multiclass" and history["classes"] == ["same sign", "different signs"]
    assert [p[0] for p in history["step_loss"]] == list(range(1, 13))
    assert len(history["confusion"]) == 2 and len(history["per_class"]) == 2
    assert set(history["layers"]["layers"]) == {"dense_1", "dense_2"}
    assert history["activations"]["layers"]["dense_1"]["dead_fraction"] is not None  # a ReLU layer


def test_saving_the_v1_fixture_writes_the_current_format(tmp_path):
    project = load_project(DATA_DIR / "project_v1.nnstudio")
    save_project(project, tmp_path / "p.nnstudio")
    with zipfile.ZipFile(tmp_path / "p.nnstudio") as archive:
        data = json.loads(archive.read("project.json"))
        assert "training_state.safetensors" not in archive.namelist()
    assert data["format_version"] == 5 and data["weights_fingerprint"] is None and data["frames"] == []
    assert data["sweep"] is None


# -- the mechanism, with fake migrations -------------------------------------------------------------------------
def test_fake_migration_is_applied_and_version_set(pretend_format_6):
    data = {"format_version": 5, "name": "demo", "graph": {"nodes": [], "edges": []}}
    snapshot = copy.deepcopy(data)
    upgraded = migrate(data)
    assert upgraded["name"] == "DEMO" and upgraded["format_version"] == 6
    assert data == snapshot, "migrate must not change its argument"
    assert migrate({"format_version": 1, "name": "old"})["name"] == "OLD"  # 1 -> 2 -> 3 -> 4 -> 5 -> 6


def test_migrations_run_in_order(monkeypatch):
    calls = []

    def step(version):
        def upgrade(d):
            calls.append((version, d["format_version"]))
            return {**d, "trail": d.get("trail", "") + str(version)}
        return upgrade

    monkeypatch.setattr(migrations, "CURRENT_VERSION", 6)
    for version in (3, 1, 5, 4, 2):  # registration order must not matter
        monkeypatch.setitem(migrations.MIGRATIONS, version, step(version))
    upgraded = migrate({"format_version": 1})
    assert calls == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    assert upgraded["trail"] == "12345" and upgraded["format_version"] == 6
    assert migrate({"format_version": 5})["trail"] == "5"


def test_a_step_that_mutates_its_argument_cannot_touch_the_callers_dict(monkeypatch):
    def sloppy(d):
        d["graph"]["nodes"].clear()
        return d

    monkeypatch.setattr(migrations, "CURRENT_VERSION", 2)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, sloppy)
    data = v1_data()
    migrate(data)
    assert len(data["graph"]["nodes"]) == 3


def test_missing_step_is_an_error(monkeypatch):
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 6)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, lambda d: d)
    with pytest.raises(MigrationError, match="no upgrade from format 5 to format 6"):
        migrate({"format_version": 1})


@pytest.mark.parametrize("version, message", [
    (6, "newer NN Studio \\(format 6\\); this version reads up to format 5: update NN Studio"),
    (0, "at least 1"), (-5, "at least 1"), ("1", "whole number"), (True, "whole number"), (None, "whole number"),
])
def test_versions_it_cannot_handle(version, message):
    with pytest.raises(MigrationError, match=message):
        migrate({"format_version": version})


# -- end to end through load_project -----------------------------------------------------------------------------
def test_loading_the_v1_fixture_applies_every_upgrade(pretend_format_6):
    project = load_project(DATA_DIR / "project_v1.nnstudio")
    assert project.name == "XOR FIXTURE"
    assert list(project.graph.nodes) == ["input_vector_1", "dense_1", "dense_2", "output_1"]


def test_saving_writes_the_current_version(pretend_format_6, tmp_path):
    project = load_project(DATA_DIR / "project_v3.nnstudio")
    save_project(project, tmp_path / "p.nnstudio")
    with zipfile.ZipFile(tmp_path / "p.nnstudio") as archive:
        assert json.loads(archive.read("project.json"))["format_version"] == 6
    assert load_project(tmp_path / "p.nnstudio").name == "XOR FIXTURE V3"  # not upgraded a second time


def test_a_failing_step_becomes_a_project_file_error(monkeypatch):
    monkeypatch.setitem(migrations.MIGRATIONS, 1, lambda d: d["no such key"])
    with pytest.raises(ProjectFileError, match="cannot be upgraded from format 1"):
        load_project(DATA_DIR / "project_v1.nnstudio")


# -- renamed layer types -----------------------------------------------------------------------------------------
def test_legacy_ids_are_translated_without_touching_the_input():
    data = v1_data()
    snapshot = copy.deepcopy(data)
    out = translate_legacy_ids(data)
    assert [n["type"] for n in out["graph"]["nodes"]] == [LEGACY_IDS["linear"], LEGACY_IDS["mhsa"], "dense"]
    assert [n["id"] for n in out["graph"]["nodes"]] == ["linear_1", "mhsa_1", "dense_2"]
    assert out["graph"]["nodes"][0]["params"] == {"units": 3}
    assert data == snapshot


@pytest.mark.parametrize("data", [
    {}, {"graph": None}, {"graph": {"nodes": "x"}}, {"graph": {"nodes": [1, None, {"type": 5}, {"id": "a"}]}},
])
def test_legacy_translation_leaves_malformed_data_for_the_schema(data):
    assert translate_legacy_ids(data) == data


def test_file_with_legacy_ids_opens_with_current_ids(tmp_path):
    path = tmp_path / "old.nnstudio"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", json.dumps(v1_data()))
    graph = load_project(path).graph
    assert graph.nodes["linear_1"].type_id == "dense"
    assert graph.nodes["mhsa_1"].type_id == "multi_head_self_attention"
    assert graph.nodes["linear_1"].params["units"] == 3
    assert graph.to_dict()["nodes"][0]["type"] == "dense"
