"""Every training run kept in the project (core.runs, format 4): recording and its bounds, pinning, renaming,
dropping, the table, saving and opening runs.json and the runs' weights (hostile ones too), the upgrade of
older files and the format-4 fixture. Runs are made from TrainResults built by hand: nothing trains here."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from nnstudio.core import runs
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import Graph
from nnstudio.core.project import runs_io
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project
from nnstudio.core.training.project_run import store_result
from nnstudio.core.training.reports import TrainResult

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "tests" / "data"


def small_project() -> Project:
    g = Graph()
    a = g.add_node("input_vector", {"features": 2}).id
    b = g.add_node("dense", {"units": 3}).id
    c = g.add_node("output", {"task": "multiclass"}).id
    g.connect(a, b)
    g.connect(b, c)
    return Project(graph=g, training={"optimizer": "adam", "lr": 0.01}, dataset={"name": "xor"})


def result(project: Project, lr: float = 0.01, accuracy: float = 0.5, resumed: tuple | None = None) -> TrainResult:
    weights = {"dense_1.weight": torch.full((3, 2), accuracy), "dense_1.bias": torch.zeros(3)}
    history = {"epochs": [{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": accuracy - 0.1},
                          {"epoch": 2, "train_loss": 0.8, "val_loss": float("nan"), "val_accuracy": accuracy}],
               "step_loss": [[1, 0.5, 1.1], [2, 1.0, 0.9]], "task": "multiclass", "classes": ["a", "b", "c"],
               "config": {"optimizer": "adam", "lr": lr, "batch_size": 8, "epochs": 2}, "best_epoch": 2}
    return TrainResult(history, weights, "completed", 2, {"val_accuracy": accuracy}, "cpu", 4,
                       resumed_from=resumed, fingerprint=fingerprint(project.graph))


def trained(count: int) -> Project:
    project = small_project()
    for i in range(count):
        store_result(project, result(project, lr=0.01 * (i + 1), accuracy=0.5 + 0.01 * i))
    return project


# -- recording ------------------------------------------------------------------------------------------------
def test_each_stored_result_becomes_a_run_and_only_the_latest_keeps_weights():
    project = trained(3)
    assert [r["id"] for r in project.runs] == ["run-1", "run-2", "run-3"]
    assert [r["weights"] for r in project.runs] == [False, False, True]
    assert list(project.run_weights) == ["run-3"] and project.run_weights["run-3"] is project.weights
    run = project.runs[-1]
    assert run["settings"]["lr"] == pytest.approx(0.03) and run["fingerprint"] == fingerprint(project.graph)
    assert run["graph"] == project.graph.to_dict() and run["dataset"] == {"name": "xor"}
    assert runs.run_problem(run) is None and run["parent"] is None


def test_a_continued_run_names_the_run_it_continued():
    project = trained(2)
    runs.pin(project, "run-1")  # its weights were dropped already: pinning keeps the record, not lost weights
    store_result(project, result(project, resumed=(2, 4)))
    assert project.runs[-1]["parent"] == {"run": "run-2", "epoch": 2}


def test_the_oldest_unpinned_run_is_dropped_past_the_limit(monkeypatch):
    monkeypatch.setattr(runs, "MAX_RUNS", 3)
    project = trained(2)
    runs.pin(project, "run-1")
    store_result(project, result(project))
    notes = store_result(project, result(project))
    assert [r["id"] for r in project.runs] == ["run-1", "run-3", "run-4"]
    assert len(notes) == 1 and notes[0].startswith("run-2 (Run 2) was dropped") and "at most 3 runs" in notes[0]
    assert set(project.run_weights) == {"run-4"}  # run-1 was pinned after its weights had gone


def test_runs_are_dropped_to_keep_runs_json_within_its_size(monkeypatch):
    project = trained(3)
    one = runs.runs_size(project.runs[:1])[0]
    monkeypatch.setattr(runs, "MAX_RUNS_BYTES", int(one * 2.5))
    notes = store_result(project, result(project))
    assert [r["id"] for r in project.runs] == ["run-3", "run-4"] and len(notes) == 2


def test_pin_rename_and_drop():
    project = trained(3)
    runs.pin(project, "run-3")
    store_result(project, result(project))
    assert project.runs[2]["weights"] and "run-3" in project.run_weights  # pinned: kept
    runs.pin(project, "run-3", False)
    assert not project.runs[2]["weights"] and "run-3" not in project.run_weights
    runs.rename(project, "run-1", "  first\ttry  ")
    assert project.runs[0]["name"] == "first try"
    for bad in ("", "x" * 201):
        with pytest.raises(runs.RunError):
            runs.rename(project, "run-1", bad)
    with pytest.raises(runs.RunError, match="there is no run 'run-9'"):
        runs.drop_runs(project, ["run-2", "run-9"])
    assert len(project.runs) == 4  # nothing dropped
    assert runs.drop_runs(project, ["run-2", "run-4"]) == ["run-2", "run-4"]
    assert [r["id"] for r in project.runs] == ["run-1", "run-3"] and project.weights is not None


def test_at_most_twenty_runs_are_pinned(monkeypatch):
    monkeypatch.setattr(runs, "MAX_PINNED", 2)
    project = trained(3)
    runs.pin(project, "run-1")
    runs.pin(project, "run-2")
    with pytest.raises(runs.RunError, match="at most 2 runs"):
        runs.pin(project, "run-3")


def test_the_table_says_what_changed():
    project = trained(2)
    rows = runs.runs_table(project)
    assert [r["lr"] for r in rows] == [pytest.approx(0.01), pytest.approx(0.02)]
    assert rows[0]["differs"] == [] and rows[1]["differs"] == ["lr"]
    assert rows[1]["best_val_accuracy"] == pytest.approx(0.51) and rows[1]["best_val_loss"] == 0.9  # NaN skipped
    assert rows[1]["graph_changed"] is False
    project.graph.add_node("dense", {"units": 4})
    assert runs.runs_table(project)[1]["graph_changed"] is True


# -- the file ---------------------------------------------------------------------------------------------------
def test_runs_and_pinned_weights_survive_saving(tmp_path):
    project = trained(2)
    runs.pin(project, "run-2")
    store_result(project, result(project, accuracy=0.9))
    path = tmp_path / "p.nnstudio"
    save_project(project, path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("runs.json"))
    assert "runs/run-2.safetensors" in names and "runs/run-3.safetensors" not in names  # not stored twice
    assert data["project_weights"] == "run-3" and data["next_id"] == 4
    opened = load_project(path)
    assert opened.load_warnings == [] and [r["id"] for r in opened.runs] == ["run-1", "run-2", "run-3"]
    assert opened.run_weights["run-3"] is opened.weights
    assert torch.equal(opened.run_weights["run-2"]["dense_1.weight"], project.run_weights["run-2"]["dense_1.weight"])
    assert opened.runs_next_id == 4
    # Saved again without having read the project's weights: the pinned run's weights are still kept.
    lean = load_project(path, weights=False, history=False)
    assert set(lean.run_weights) == {"run-2"}
    assert load_project(path, runs=False).runs == []


def _rewrite(path: Path, member: str, payload: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[member] = payload
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("change, field", [
    (lambda d: d["runs"][1].update(settings=[1]), "runs[1].settings: must be an object"),
    (lambda d: d["runs"][0].update(id="../x"), "runs[0].id"),
    (lambda d: d["runs"][0].update(extra=1), "'extra' is not a field of a run"),
    (lambda d: d["runs"][1].update(epochs=[{"epoch": 0}]), "runs[1].epochs[0].epoch"),
    (lambda d: d["runs"][1].update(step_loss=[[1, 0, 1]] * 2001), "runs[1].step_loss"),
    (lambda d: d["runs"][0]["graph"]["nodes"].append({"id": "x", "type": "dens"}), "runs[0].graph.nodes[3].type"),
    (lambda d: d.update(runs=d["runs"] * 2), "is used twice"),
    (lambda d: d.update(next_id=2), "is not below next_id"),
    (lambda d: d.update(project_weights="run-7"), "project_weights"),
    (lambda d: d.update(runs={}), "runs: must be a list"),
    (lambda d: d["runs"][0].update(weights=True), "runs[0].weights: only the pinned runs and the latest"),
])
def test_a_damaged_runs_json_is_one_warning_and_the_project_opens(tmp_path, change, field):
    path = tmp_path / "p.nnstudio"
    save_project(trained(2), path)
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("runs.json"))
    change(data)
    _rewrite(path, "runs.json", json.dumps(data).encode())
    project = load_project(path)
    assert project.runs == [] and project.weights is not None and project.history is not None
    assert len(project.load_warnings) == 1
    warning = project.load_warnings[0]
    assert "runs.json" in warning and field in warning and "opens without its runs" in warning, warning
    assert "\n" not in warning


def test_an_oversized_runs_json_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "p.nnstudio"
    save_project(trained(1), path)
    monkeypatch.setattr(runs, "MAX_RUNS_BYTES", 100)
    project = load_project(path)
    assert project.runs == [] and "bytes uncompressed; the limit is 100" in project.load_warnings[0]


def test_damaged_run_weights_leave_only_that_run_without_weights(tmp_path):
    project = trained(2)
    runs.pin(project, "run-1")  # no weights left: pin run-2, then train once more
    runs.pin(project, "run-2")
    store_result(project, result(project))
    path = tmp_path / "p.nnstudio"
    save_project(project, path)
    _rewrite(path, "runs/run-2.safetensors", b"\x00" * 64)  # not safetensors; and never unpickled
    opened = load_project(path)
    assert [r["weights"] for r in opened.runs] == [False, False, True] and "run-2" not in opened.run_weights
    assert len(opened.load_warnings) == 1 and "runs/run-2.safetensors" in opened.load_warnings[0]


def test_saving_refuses_runs_it_could_not_read_back(tmp_path):
    project = trained(1)
    project.runs[0]["name"] = 5
    with pytest.raises(Exception, match="runs.json: cannot be saved: runs\\[0\\].name"):
        save_project(project, tmp_path / "p.nnstudio")


# -- older files and the fixture ------------------------------------------------------------------------------
def test_the_v3_fixture_s_history_becomes_run_1(tmp_path):
    project = load_project(DATA_DIR / "project_v3.nnstudio")
    assert project.load_warnings == [] and len(project.runs) == 1
    run = project.runs[0]
    assert (run["id"], run["name"], run["started"]) == ("run-1", "Run 1", None)
    assert run["fingerprint"] == project.weights_fingerprint and run["graph"] == project.graph.to_dict()
    assert run["epochs"] == project.history["epochs"] and run["settings"] == project.history["config"]
    assert project.run_weights["run-1"] is project.weights and project.runs_next_id == 2
    save_project(project, tmp_path / "p.nnstudio")
    assert load_project(tmp_path / "p.nnstudio").runs == project.runs


def test_the_v1_fixture_s_per_metric_history_becomes_run_1():
    run = load_project(DATA_DIR / "project_v1.nnstudio").runs[0]
    assert run["epochs"] == [{"epoch": 1, "loss": 0.75, "val_loss": 0.8}, {"epoch": 2, "loss": 0.5, "val_loss": 0.625}]
    assert runs.run_problem(run) is None


def test_the_v4_fixture_opens_with_its_runs():
    path = DATA_DIR / "project_v4.nnstudio"
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("project.json"))["format_version"] == 4
        assert "runs/run-2.safetensors" in archive.namelist()
    project = load_project(path)
    assert project.load_warnings == []
    assert [(r["id"], r["name"], r["pinned"], r["weights"]) for r in project.runs] == [
        ("run-1", "Run 1", False, False), ("run-2", "Lower lr", True, True), ("run-3", "Run 3", False, True)]
    assert project.runs[2]["parent"] == {"run": "run-2", "epoch": 2}
    assert project.runs[1]["settings"]["lr"] == 0.02 and project.run_weights["run-3"] is project.weights
    assert set(project.run_weights["run-2"]) == set(project.weights)
    assert not torch.equal(project.run_weights["run-2"]["dense_1.weight"], project.weights["dense_1.weight"])


def test_the_doc_states_the_code_s_bounds_and_its_example_is_valid():
    doc = (ROOT / "docs" / "file-format.md").read_text(encoding="utf-8")
    from nnstudio.core.project import migrations

    assert f"describes format version **{migrations.CURRENT_VERSION}**" in doc
    section = doc.split("## `runs.json`")[1].split("\n## ")[0]
    assert f"**{runs.MAX_RUNS} runs**" in section and f"(at most {runs.MAX_PINNED})" in section
    assert f"**{runs.MAX_RUNS_BYTES // 1024**2} MB**" in section and f"**{runs.MAX_RUNS_ITEMS:,} JSON items**" in section
    fields = re.findall(r"^\| `(\w+)`", section.split("A **run** has")[1], re.M)
    assert set(fields) | {"classes", "confusion", "final", "best_epoch", "stop_reason"} == set(runs.KEYS)
    example = json.loads(re.findall(r"```json\n(.*?)```", section, re.S)[0])
    assert runs_io.runs_problem(example) is None


def test_the_app_s_session_records_a_finished_run_once():
    from nnstudio.core.session import Session

    project = small_project()
    session = Session(project)
    run = session.run_started()
    assert session.run_finished(result(project), run=run)
    assert [r["id"] for r in project.runs] == ["run-1"] and project.run_weights["run-1"] is project.weights
    assert not session.run_finished(result(project), run=run)  # no longer the active run: nothing recorded
    assert len(project.runs) == 1


def test_an_old_file_read_without_its_history_still_gets_its_run(tmp_path):
    """nnstudio train reads neither weights nor history for a fresh run; saving must not lose the old run."""
    project = load_project(DATA_DIR / "project_v3.nnstudio", weights=False, history=False)
    assert project.history is None and [r["id"] for r in project.runs] == ["run-1"]
    assert project.runs[0]["weights"] is False and project.run_weights == {}


def test_an_old_history_that_cannot_be_a_run_is_one_warning(tmp_path):
    path = tmp_path / "old.nnstudio"
    shutil.copy(DATA_DIR / "project_v3.nnstudio", path)
    with zipfile.ZipFile(path) as archive:
        history = json.loads(archive.read("history.json"))
    history["device"] = "d" * 500
    _rewrite(path, "history.json", json.dumps(history).encode())
    project = load_project(path)
    assert project.runs == [] and project.history["device"] == "d" * 500
    assert len(project.load_warnings) == 1 and "as run run-1).device" in project.load_warnings[0]
