"""``nnstudio runs FILE``: the table, --json, --drop (saved in place or to -o), and one-line errors with exit 2.
One real two-epoch training through ``nnstudio train`` shows that the command line records its runs."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from nnstudio.cli import main
from nnstudio.core.project.io import load_project

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "project_v4.nnstudio"


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "p.nnstudio"
    shutil.copy(FIXTURE, path)
    return path


def test_the_table_lists_every_run(project_file, capsys):
    assert main(["runs", str(project_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "name", "started", "duration", "device", "optimizer", "lr", "batch", "epochs",
                              "best", "graph"]
    assert [line.split()[0] for line in out[1:4]] == ["run-1", "run-2", "run-3"]
    assert "Lower lr" in out[2] and "0.02" in out[2] and "acc " in out[2]


def test_json_rows(project_file, capsys):
    assert main(["runs", str(project_file), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["run-1", "run-2", "run-3"]
    assert rows[1]["differs"] == ["epochs", "lr"] and rows[2]["parent"] == "run-2"
    assert rows[0]["graph_changed"] is False and rows[1]["pinned"] is True


def test_drop_saves_in_place_and_to_another_file(project_file, tmp_path, capsys):
    out = tmp_path / "out.nnstudio"
    assert main(["runs", str(project_file), "--drop", "run-1", "-o", str(out)]) == 0
    assert [r["id"] for r in load_project(out).runs] == ["run-2", "run-3"]
    assert len(load_project(project_file).runs) == 3  # -o leaves FILE as it was
    assert main(["runs", str(project_file), "--drop", "run-2,run-1"]) == 0
    kept = load_project(project_file)
    assert [r["id"] for r in kept.runs] == ["run-3"] and kept.weights is not None and kept.history is not None
    with zipfile.ZipFile(project_file) as archive:
        assert "runs/run-2.safetensors" not in archive.namelist()
    assert "dropped run-2, run-1" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--drop", "run-9"], "there is no run 'run-9'"),
    (["--drop", ","], "--drop needs run ids"),
    (["-o", "x.nnstudio"], "give --drop too"),
])
def test_bad_options_are_one_line(project_file, capsys, args, words):
    before = project_file.read_bytes()
    assert main(["runs", str(project_file), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert project_file.read_bytes() == before


def test_a_missing_file_or_not_a_project_is_one_line(tmp_path, capsys):
    assert main(["runs", str(tmp_path / "none.nnstudio")]) == 2
    assert "does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.nnstudio"
    junk.write_text("not a zip")
    assert main(["runs", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "not a zip archive" in err and err.count("\n") == 1


def test_nnstudio_train_records_its_run(project_file, capsys):
    assert main(["train", str(project_file), "-q", "--epochs", "1"]) == 0
    project = load_project(project_file)
    assert [r["id"] for r in project.runs] == ["run-1", "run-2", "run-3", "run-4"]
    assert project.run_weights["run-4"] is project.weights and "run-2" in project.run_weights  # still pinned
    assert len(project.runs[-1]["epochs"]) == 1 and project.runs[-1]["started"].endswith("Z")
    assert main(["train", str(project_file), "-q", "--epochs", "1", "--resume"]) == 0
    assert load_project(project_file).runs[-1]["parent"] == {"run": "run-4", "epoch": 1}


def test_tensorboard_and_csv_exports_from_the_command_line(project_file, tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board, table = tmp_path / "tb", tmp_path / "runs.csv"
    assert main(["runs", str(project_file), "--tensorboard", str(board), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert f"wrote 3 runs as TensorBoard event files in {board}" in out and f"wrote {table} (3 runs)" in out
    kept = load_project(project_file)
    for run in kept.runs:
        events = EventAccumulator(str(board / run["id"]))
        events.Reload()
        losses = [e.value for e in events.Scalars("train/loss")]
        assert losses == pytest.approx([row["train_loss"] for row in run["epochs"]])
    import csv
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["run_id"] for r in rows} == {"run-1", "run-2", "run-3"}
    assert len(rows) == sum(len(run["epochs"]) for run in kept.runs)
