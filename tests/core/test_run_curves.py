"""The curves of compared runs (core.run_curves): points in epoch order, only finite numbers, a branch drawn from
its parent's point, legend names cut to fit, the metric compared. No Qt."""

from __future__ import annotations

import math

import pytest

from nnstudio.core.run_curves import (
    MAX_COMPARED,
    MAX_LEGEND,
    branch_point,
    by_id,
    compare_metric,
    curve,
    legend_name,
    loss_keys,
)


def run(rid: str, rows: list, name: str | None = None, parent: dict | None = None) -> dict:
    return {"id": rid, "name": name or rid.replace("run-", "Run "), "epochs": rows, "parent": parent}


def test_points_in_epoch_order():
    r = run("run-1", [{"epoch": 3, "val_loss": 0.3}, {"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "val_loss": 0.5}])
    assert curve(r, "val_loss") == ([1.0, 2.0, 3.0], [0.9, 0.5, 0.3])


def test_rows_without_the_key_and_non_finite_values_are_skipped():
    rows = [{"epoch": 1, "val_loss": 0.9}, {"epoch": 2}, {"epoch": 3, "val_loss": float("nan")},
            {"epoch": 4, "val_loss": math.inf}, {"epoch": 5, "val_loss": True}, {"epoch": 6, "val_loss": "0.1"},
            {"epoch": 7, "val_loss": None}, {"epoch": 8, "val_loss": 10**400}, {"epoch": 9, "val_loss": 0.2}]
    assert curve(run("run-1", rows), "val_loss") == ([1.0, 9.0], [0.9, 0.2])


@pytest.mark.parametrize("bad", [None, 3, "x", [], {"id": "run-1"}, {"epochs": None}, {"epochs": {"a": 1}},
                                 {"epochs": [None, 5, "row", [1, 2]]},
                                 {"epochs": [{"epoch": None, "val_loss": 1.0}, {"epoch": "2", "val_loss": 1.0},
                                             {"epoch": True, "val_loss": 1.0}]},
                                 {"epochs": [{"epoch": 2, "val_loss": 0.5}], "parent": "run-1"},
                                 {"epochs": [{"epoch": 2, "val_loss": 0.5}], "parent": {"run": 5, "epoch": 1}},
                                 {"epochs": [{"epoch": 2, "val_loss": 0.5}], "parent": {"run": "run-1"}}])
def test_malformed_runs_never_raise(bad):
    xs, ys = curve(bad, "val_loss", {"run-1": run("run-1", [{"epoch": 1, "val_loss": 0.9}])})
    assert len(xs) == len(ys) <= 1
    assert isinstance(legend_name(bad), str) and legend_name(bad)
    assert compare_metric([bad]) is None
    assert loss_keys([bad]) == ([] if not xs else ["val_loss"])


def test_a_branch_starts_at_its_parent_point():
    parent = run("run-2", [{"epoch": e, "val_loss": 1.0 / e, "train_loss": 2.0 / e} for e in range(1, 21)])
    child = run("run-3", [{"epoch": 21, "val_loss": 0.04}, {"epoch": 22, "val_loss": 0.03}],
                parent={"run": "run-2", "epoch": 20})
    xs, ys = curve(child, "val_loss", by_id([parent, child]))
    assert xs == [20.0, 21.0, 22.0]
    assert ys == [pytest.approx(0.05), 0.04, 0.03]
    assert branch_point(child, "val_loss", by_id([parent])) == (20.0, pytest.approx(0.05))


def test_no_extra_point_when_the_parent_is_missing_or_lacks_the_value():
    child = run("run-3", [{"epoch": 21, "val_loss": 0.04}], parent={"run": "run-2", "epoch": 20})
    assert curve(child, "val_loss") == ([21.0], [0.04])
    assert curve(child, "val_loss", {}) == ([21.0], [0.04])
    no_row = run("run-2", [{"epoch": 19, "val_loss": 0.1}])
    assert curve(child, "val_loss", by_id([no_row])) == ([21.0], [0.04])
    nan_row = run("run-2", [{"epoch": 20, "val_loss": float("nan"), "train_loss": 0.2}])
    assert curve(child, "val_loss", by_id([nan_row])) == ([21.0], [0.04])
    # a branch with no points of its own is not drawn from a lone parent point
    empty = run("run-4", [], parent={"run": "run-2", "epoch": 20})
    assert curve(empty, "train_loss", by_id([nan_row])) == ([], [])


def test_legend_name_plain_and_cut():
    assert legend_name(run("run-1", [], name="Run 1")) == "Run 1"
    assert legend_name(run("run-1", [], name="a\nb\tc")) == "a b c"
    long = legend_name(run("run-1", [], name="x" * 100))
    assert len(long) == MAX_LEGEND and long.endswith("\u2026")
    assert legend_name(run("run-1", [], name="  ")) == "run-1"


def test_legend_name_of_a_branch_keeps_its_suffix():
    child = run("run-3", [], name="Run 3", parent={"run": "run-2", "epoch": 20})
    assert legend_name(child) == "Run 3 (from run-2 at epoch 20)"
    long = legend_name(run("run-3", [], name="n" * 200, parent={"run": "run-12", "epoch": 140}))
    assert len(long) == MAX_LEGEND
    assert long.endswith("\u2026 (from run-12 at epoch 140)")
    assert long.startswith("nnnn")


def test_compare_metric_classification_regression_none():
    cls = run("run-1", [{"epoch": 1, "train_loss": 1, "val_loss": 1, "train_accuracy": 0.5, "val_accuracy": 0.6}])
    reg = run("run-2", [{"epoch": 1, "train_loss": 1, "val_loss": 1, "val_mse": 0.3, "val_r2": 0.1}])
    no_val = run("run-3", [{"epoch": 1, "train_loss": 1, "train_accuracy": 0.4}])
    bare = run("run-4", [{"epoch": 1, "train_loss": 1}])
    assert compare_metric([cls]) == "val_accuracy"
    assert compare_metric([reg]) == "val_mse"
    assert compare_metric([reg, cls]) == "val_accuracy"
    assert compare_metric([no_val]) == "train_accuracy"
    assert compare_metric([bare]) is None
    assert compare_metric([]) is None
    assert compare_metric([run("run-5", [{"epoch": 1, "val_accuracy": float("nan"), "val_r2": 0.2}])]) == "val_r2"


def test_loss_keys():
    assert loss_keys([run("run-1", [{"epoch": 1, "train_loss": 1.0}])]) == ["train_loss"]
    assert loss_keys([run("run-1", [{"epoch": 1, "train_loss": 1.0}]),
                      run("run-2", [{"epoch": 1, "val_loss": 1.0}])]) == ["val_loss", "train_loss"]
    assert loss_keys([run("run-1", [])]) == []


def test_by_id_and_limit():
    a, b = run("run-1", []), run("run-2", [])
    assert by_id([a, b, {"id": 3}, None, run("run-1", [{"epoch": 1}])]) == {"run-1": a, "run-2": b}
    assert MAX_COMPARED == 20
