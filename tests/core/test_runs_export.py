"""Runs as TensorBoard event files and as one history CSV, read back with TensorBoard's own event reader and
with csv.reader."""

from __future__ import annotations

import csv
import os
import sys
from datetime import datetime

import pytest
import torch

from nnstudio.core.errors import ExportError, NNStudioError
from nnstudio.core.runs_export import INSTALL_HINT, runs_csv, write_tensorboard

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

STARTED = "2026-12-01T23:40:12Z"
T0 = datetime.fromisoformat("2026-12-01T23:40:12+00:00").timestamp()


def make_runs() -> list[dict]:
    first = {
        "id": "run-1", "name": "Run 1", "started": STARTED, "duration_s": 1.5, "device": "cpu",
        "settings": {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "nesterov": False,
                     "early_stopping": True, "extra": [1, 2], "none": None},
        "epochs": [{"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.5, "lr": 0.001, "val_loss": 1.0,
                    "val_accuracy": 0.25, "time_s": 0.5},
                   {"epoch": 2, "train_loss": 0.4, "train_accuracy": 0.75, "lr": 0.001, "val_loss": 0.6,
                    "val_accuracy": 0.625, "time_s": 1.0}],
        "step_loss": [[1, 0.5, 1.25], [2, 1.0, 0.875], [3, 1.5, 0.5], [4, 2.0, 0.375]],
        "task": "multiclass", "classes": ["a", "b"], "confusion": [[3, 1], [0, 4]],
        "final": {"val_loss": 0.6, "val_accuracy": 0.625}, "best_epoch": 2, "stop_reason": "completed",
        "pinned": True, "weights": True, "parent": None, "sweep": None,
    }
    second = {
        "id": "run-2", "name": "../../x\nevil\r=cmd", "started": "not a time", "device": "cpu",
        "settings": {"optimizer": "=HYPERLINK(\"http://x\")", "lr": 0.1},
        "epochs": [{"epoch": 1, "train_loss": -0.5, "val_loss": float("nan"), "grad_norm": 3}],
        "step_loss": [], "task": "regression", "confusion": None, "final": {"val_loss": float("nan")},
        "best_epoch": None, "stop_reason": "stopped", "pinned": False, "weights": False,
    }
    return [first, second]


def read(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def hparams(acc: EventAccumulator) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    content = acc.PluginTagToContent("hparams")
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()}


def test_scalars_histograms_and_hparams_read_back(tmp_path):
    weight = torch.linspace(-1.0, 1.0, 12).reshape(3, 4)
    weight[0, 0] = float("nan")  # left out of the histogram, which cannot hold it
    state = {"dense_1.weight": weight, "dense_1.bias": torch.zeros(0), "bn.num_batches_tracked": torch.tensor(7)}
    paths = write_tensorboard(make_runs(), tmp_path / "tb", run_weights={"run-1": state})
    assert [p.name for p in paths] == ["run-1", "run-2"]
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["run-1", "run-2"]

    acc = read(paths[0])
    steps = acc.Scalars("loss/step")
    assert [(s.step, s.value) for s in steps] == [(1, 1.25), (2, 0.875), (3, 0.5), (4, 0.375)]
    assert [(s.step, s.value) for s in acc.Scalars("train/loss")] == [(1, pytest.approx(0.9)),
                                                                     (2, pytest.approx(0.4))]
    assert [s.value for s in acc.Scalars("val/accuracy")] == [0.25, 0.625]
    assert [s.value for s in acc.Scalars("epoch/lr")] == [pytest.approx(0.001)] * 2
    assert "epoch/epoch" not in acc.Tags()["scalars"]
    # the wall times are those of the run: its start plus the time of the epochs so far
    assert [s.wall_time for s in acc.Scalars("epoch/time_s")] == [pytest.approx(T0 + 0.5), pytest.approx(T0 + 1.5)]
    assert steps[0].wall_time == pytest.approx(T0 + 0.25)  # halfway through the first epoch
    assert [(s.step, s.value) for s in acc.Scalars("final/val_accuracy")] == [(2, 0.625)]

    hist = acc.Histograms("weights/dense_1.weight")[0].histogram_value
    assert (hist.num, hist.min, hist.max) == (11, pytest.approx(-1.0 + 2 / 11), 1.0)
    assert acc.Histograms("weights/bn.num_batches_tracked")[0].histogram_value.num == 1
    assert "weights/dense_1.bias" not in acc.Tags()["histograms"]  # an empty tensor has no histogram

    plugin = hparams(acc)
    start = plugin["_hparams_/session_start_info"].session_start_info
    assert start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["lr"].number_value == pytest.approx(0.001)
    assert start.hparams["batch_size"].number_value == 32
    assert start.hparams["nesterov"].HasField("bool_value") and start.hparams["nesterov"].bool_value is False
    assert start.hparams["early_stopping"].bool_value is True
    assert start.hparams["run_name"].string_value == "Run 1"
    assert "extra" not in start.hparams and "none" not in start.hparams  # only JSON scalars
    assert start.start_time_secs == pytest.approx(T0)
    experiment = plugin["_hparams_/experiment"].experiment
    assert sorted(m.name.tag for m in experiment.metric_infos) == ["final/val_accuracy", "final/val_loss"]
    assert {h.name for h in experiment.hparam_infos} == set(start.hparams)  # run-2 has no others
    infos = {h.name: h for h in experiment.hparam_infos}
    assert [v.string_value for v in infos["optimizer"].domain_discrete.values] == ["=HYPERLINK(\"http://x\")",
                                                                                  "adam"]
    assert [v.bool_value for v in infos["nesterov"].domain_discrete.values] == [False]
    assert infos["lr"].type == 3 and infos["nesterov"].type == 2  # DATA_TYPE_FLOAT64, DATA_TYPE_BOOL
    assert plugin["_hparams_/session_end_info"].session_end_info.status == 1  # STATUS_SUCCESS

    second = read(paths[1])
    assert [s.value for s in second.Scalars("train/loss")] == [-0.5]
    assert [s.value for s in second.Scalars("epoch/grad_norm")] == [3.0]
    assert str(second.Scalars("val/loss")[0].value) == "nan"
    assert second.Tags()["histograms"] == []  # no kept weights
    plugin = hparams(second)
    assert plugin["_hparams_/experiment"] == hparams(acc)["_hparams_/experiment"]  # whichever TensorBoard reads
    start = plugin["_hparams_/session_start_info"].session_start_info
    assert start.hparams["run_name"].string_value == "../../x evil =cmd"  # one line, as it was otherwise


def test_tensorboards_hparams_plugin_lists_each_run_with_its_settings_and_metrics(tmp_path):
    """What TensorBoard's HParams tab shows, from the plugin's own request handlers."""
    from tensorboard import context
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.backend.event_processing.data_provider import (
        MultiplexerDataProvider,
    )
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import (
        api_pb2,
        backend_context,
        get_experiment,
        list_session_groups,
    )

    folder = str(tmp_path / "tb")
    write_tensorboard(make_runs(), folder)
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(folder)
    multiplexer.Reload()
    plugin = backend_context.Context(base_plugin.TBContext(
        data_provider=MultiplexerDataProvider(multiplexer, folder), logdir=folder, multiplexer=multiplexer))
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=10,
                                               allowed_statuses=[api_pb2.STATUS_SUCCESS])
    groups = list_session_groups.Handler(context.RequestContext(), plugin, "", request).run().session_groups
    by_name = {g.name: g for g in groups}
    assert sorted(by_name) == ["run-1", "run-2"]
    first = by_name["run-1"]
    assert first.hparams["optimizer"].string_value == "adam" and first.hparams["batch_size"].number_value == 32
    assert {m.name.tag: m.value for m in first.metric_values} == {"final/val_loss": pytest.approx(0.6),
                                                                 "final/val_accuracy": 0.625}
    assert by_name["run-2"].hparams["lr"].number_value == pytest.approx(0.1)
    experiment = get_experiment.Handler(context.RequestContext(), plugin, "", api_pb2.GetExperimentRequest()).run()
    assert {h.name for h in experiment.hparam_infos} == {"run_id", "run_name", "optimizer", "lr", "batch_size",
                                                         "nesterov", "early_stopping"}


def test_hostile_ids_stay_inside_the_folder_and_exporting_again_replaces(tmp_path):
    base = make_runs()[0]
    runs = [dict(base, id=i, name=n) for i, n in
            [("../../x", "../../x"), ("..", "a\nb"), ("run-1", "/etc/passwd"), ("RUN-1", "c"), ("CON", "d"),
             ("a/b\\c\x00\n", "e"), (7, "f")]]
    folder = tmp_path / "out" / "tb"
    paths = write_tensorboard(runs, folder)
    names = [p.name for p in paths]
    assert names == ["x", "run", "run-1", "RUN-1-2", "run-CON", "a_b_c", "run-2"]
    assert all(p.parent == folder and p.is_dir() for p in paths)
    assert sorted(os.listdir(tmp_path)) == ["out"] and sorted(os.listdir(tmp_path / "out")) == ["tb"]
    assert len(os.listdir(folder)) == len(runs)

    again = write_tensorboard(runs, folder)
    assert again == paths
    for path in paths:
        assert len([f for f in os.listdir(path) if f.startswith("events.out.tfevents.")]) == 1
    assert len(read(paths[0]).Scalars("loss/step")) == 4  # not twice


def test_values_a_file_may_hold_are_skipped_not_fatal(tmp_path):
    run = {"id": "run-9", "name": 5, "started": "2026-13-45T99:00:00Z",
           "settings": {"lr\nx": 0.5, "big": float("inf"), "nested": {"a": True, "deeper": {"b": 1}}, "n": 10 ** 30},
           "epochs": [{"epoch": float("nan"), "train_loss": 1.0}, {"epoch": 1e300, "train_loss": 2.0},
                      {"epoch": "x", "train_loss": True, "val_loss": 0.5}, "not a row"],
           "step_loss": [[float("inf"), 0, 1.0], [1, float("nan"), 2.0], ["a", 1, 2.0], [5, 1.0, 0.5], [6]],
           "final": {"val_loss": "low", "val_accuracy": 0.5}}
    [path] = write_tensorboard([run, "not a run"], tmp_path / "tb", run_weights={"run-9": {"w": "not a tensor"}})
    acc = read(path)
    assert [(s.step, s.value) for s in acc.Scalars("loss/step")] == [(5, 0.5)]
    assert [(s.step, s.value) for s in acc.Scalars("train/loss")] == [(1, 1.0), (2, 2.0)]  # by position
    assert [s.step for s in acc.Scalars("val/loss")] == [3]
    assert [(s.step, s.value) for s in acc.Scalars("final/val_accuracy")] == [(0, 0.5)]
    assert "final/val_loss" not in acc.Tags()["scalars"] and acc.Tags()["histograms"] == []
    start = hparams(acc)["_hparams_/session_start_info"].session_start_info
    assert dict(start.hparams)["lr x"].number_value == 0.5  # a name is one line
    assert start.hparams["nested.a"].bool_value is True and start.hparams["run_name"].string_value == "5"
    assert not {"big", "n", "nested.deeper", "nested.deeper.b"} & set(start.hparams)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_a_link_in_place_of_a_run_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "run-1").symlink_to(elsewhere)
    with pytest.raises(ExportError, match="something other than a folder"):
        write_tensorboard(make_runs(), tmp_path / "tb")
    assert os.listdir(elsewhere) == []


def test_a_file_as_the_folder_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ExportError) as info:
        write_tensorboard(make_runs(), tmp_path / "f")
    assert str(info.value) == f"cannot write TensorBoard files to {tmp_path / 'f'}: it is a file, not a folder"


def test_without_tensorboard_the_message_says_what_to_install(tmp_path, monkeypatch):
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` raise ImportError
    with pytest.raises(NNStudioError) as info:
        write_tensorboard(make_runs(), tmp_path / "tb")
    assert str(info.value) == f"writing TensorBoard event files needs the tensorboard package: {INSTALL_HINT}"
    assert 'pip install "nnstudio[tensorboard]"' in str(info.value)
    assert not (tmp_path / "tb").exists()


def test_csv_has_every_run_and_metric_and_defuses_formulas(tmp_path):
    path = runs_csv(make_runs(), tmp_path / "runs.csv")
    assert path == tmp_path / "runs.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header == ["run_id", "run_name", "epoch", "train_loss", "train_accuracy", "lr", "val_loss",
                      "val_accuracy", "time_s", "grad_norm"]
    body = [dict(zip(header, row)) for row in rows[1:]]
    assert all(len(row) == len(header) for row in rows)
    assert [(r["run_id"], r["epoch"]) for r in body] == [("run-1", "1"), ("run-1", "2"), ("run-2", "1")]
    assert body[0]["train_loss"] == repr(0.9) and body[0]["lr"] == "0.001" and body[1]["time_s"] == "1.0"
    assert float(body[1]["val_accuracy"]) == 0.625
    assert body[0]["grad_norm"] == "" and body[2]["train_accuracy"] == ""  # a run that lacks the column
    assert body[2]["train_loss"] == "-0.5"  # a number, not text: never prefixed
    assert body[2]["val_loss"] == "nan" and body[2]["grad_norm"] == "3"
    assert body[2]["run_name"] == "../../x\nevil\r=cmd"  # kept whole, quoted by the CSV writer
    assert body[0]["run_name"] == "Run 1"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=x", "\r=x"])
def test_csv_text_that_a_spreadsheet_would_run_is_prefixed(tmp_path, text):
    key = text.lstrip()  # a column name is one line (a tab would become a space)
    runs = [{"id": text, "name": text, "epochs": [{"epoch": 1, key: 0.5, "note": text}]}]
    with open(runs_csv(runs, tmp_path / "r.csv"), newline="", encoding="utf-8") as f:
        header, row = list(csv.reader(f))
    assert header == ["run_id", "run_name", "epoch", "'" + key, "note"]
    assert row == ["'" + text, "'" + text, "1", "0.5", "'" + text]


def test_csv_to_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(ExportError) as info:
        runs_csv(make_runs(), tmp_path / "missing" / "runs.csv")
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "missing").exists()
