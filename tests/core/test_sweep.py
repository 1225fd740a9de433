"""Sweeps: the points a grid or random sweep trains, each over its seeds; the settings checked before anything
trains; --set parsed as each setting's kind; a point applied to a copy of the project; mean and spread over
seeds."""

from __future__ import annotations

import pytest

from nnstudio.core.errors import TrainingError
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.sweep import SweepSpec, apply, expand, parse_set, results_table


def test_a_grid_crosses_every_value_and_repeats_each_point_over_its_seeds():
    points = expand(SweepSpec({"optimizer": ["sgd", "adam", "rmsprop"], "lr": [0.01, 0.001]}, seeds=2, seed=5))
    assert len(points) == 12
    assert points[:3] == [{"optimizer": "sgd", "lr": 0.01, "seed": 5}, {"optimizer": "sgd", "lr": 0.01, "seed": 6},
                          {"optimizer": "sgd", "lr": 0.001, "seed": 5}]
    assert {(p["optimizer"], p["lr"]) for p in points} == {(o, lr) for o in ("sgd", "adam", "rmsprop")
                                                            for lr in (0.01, 0.001)}


def test_random_draws_repeat_with_their_seed_and_stay_within_the_values():
    spec = SweepSpec({"lr": [0.1, 0.01, 0.001], "batch_size": [16, 32, 64]}, mode="random", draws=6, seed=3)
    first, again = expand(spec), expand(spec)
    assert first == again and len(first) == 6
    assert all(p["lr"] in (0.1, 0.01, 0.001) and p["batch_size"] in (16, 32, 64) for p in first)
    assert expand(SweepSpec(spec.values, mode="random", draws=6, seed=4)) != first


@pytest.mark.parametrize("spec, words", [
    (SweepSpec({"optimizer": ["sgd", "lion"]}), "sweep setting 'optimizer': "),
    (SweepSpec({"lr": [0.01, -1.0]}), "sweep setting 'lr': "),
    (SweepSpec({"colour": ["red"]}), "sweep setting 'colour' is not one a sweep can change"),
    (SweepSpec({"lr": []}), "needs a list of values"),
    (SweepSpec({}), "at least one setting"),
    (SweepSpec({"lr": [0.1]}, seeds=0), "1 to 20 seeds"),
    (SweepSpec({"lr": [0.1]}, mode="random"), "number of draws of at least 1"),
    (SweepSpec({"lr": [0.1]}, mode="spiral"), "grid or random"),
    (SweepSpec({"lr": [i / 1e4 + 1e-4 for i in range(40)], "batch_size": list(range(1, 41))}), "at most 1,000"),
])
def test_a_bad_sweep_is_refused_before_anything_trains(spec, words):
    with pytest.raises(TrainingError) as caught:
        expand(spec)
    assert words in str(caught.value)


def test_set_reads_each_value_as_its_setting_kind():
    assert parse_set("optimizer=sgd,adam,rmsprop") == ("optimizer", ["sgd", "adam", "rmsprop"])
    assert parse_set("lr=0.01, 1e-3") == ("lr", [0.01, 0.001])
    assert parse_set("batch_size=16,32") == ("batch_size", [16, 32])
    assert parse_set("early_stopping=true,false") == ("early_stopping", [True, False])
    for text, words in (("lr", "write it as SETTING=VALUE"), ("lr=0.1,,0.2", "an empty value"),
                        ("batch_size=16.5", "is not a whole number"), ("lr=nan", "is not a finite number")):
        with pytest.raises(TrainingError, match=words):
            parse_set(text)


def test_a_point_changes_a_copy_of_the_project_dropout_rates_included():
    project = EXAMPLES["spiral_mlp"]()
    drop = project.graph.add_node("dropout", {"rate": 0.5}).id  # no example has one: the sweep's own
    point = {"optimizer": "sgd", "lr": 0.05, "seed": 7, f"dropout:{drop}": 0.3}
    assert expand(SweepSpec({f"dropout:{drop}": [0.1, 0.3]}), project.graph)[1] == {f"dropout:{drop}": 0.3,
                                                                                     "seed": 0}
    before = (dict(project.training), {nid: dict(n.params) for nid, n in project.graph.nodes.items()})
    twin = apply(project, point)
    assert twin.training["optimizer"] == "sgd" and twin.training["lr"] == 0.05 and twin.training["seed"] == 7
    assert twin.graph.nodes[drop].params["rate"] == 0.3
    assert (dict(project.training), {nid: dict(n.params) for nid, n in project.graph.nodes.items()}) == before
    with pytest.raises(TrainingError, match="no Dropout layer 'nope'"):
        expand(SweepSpec({"dropout:nope": [0.1]}), project.graph)


def test_the_results_table_gives_mean_and_spread_over_seeds():
    results = [({"optimizer": "sgd", "seed": 0}, {"val_accuracy": 0.8}),
               ({"optimizer": "sgd", "seed": 1}, {"val_accuracy": 0.9}),
               ({"optimizer": "adam", "seed": 0}, {"val_accuracy": 0.95})]
    rows = results_table(results)
    assert [r["optimizer"] for r in rows] == ["sgd", "adam"] and [r["runs"] for r in rows] == [2, 1]
    assert rows[0]["val_accuracy_mean"] == pytest.approx(0.85) and rows[0]["val_accuracy_std"] == pytest.approx(0.05)
    assert rows[1]["val_accuracy_std"] == 0.0


def test_a_run_name_puts_the_settings_first_and_stays_within_200_characters():
    from nnstudio.core.sweep import point_name

    assert point_name("sweep-2", {"optimizer": "sgd", "lr": 0.01, "seed": 1}) == "optimizer=sgd lr=0.01 seed 1 (sweep-2)"
    long = point_name("sweep-3", {f"dropout:layer_{i}": 0.25 for i in range(30)} | {"seed": 0})
    assert len(long) == 200 and long.endswith("… seed 0 (sweep-3)")


def test_a_sweep_round_trips_as_a_dict_and_a_bad_one_names_what_is_wrong():
    from nnstudio.core.sweep import spec_from_dict, spec_text, spec_to_dict

    spec = SweepSpec({"optimizer": ["sgd", "adam", "rmsprop"], "lr": [0.01, 0.001]}, seeds=2, seed=3)
    data = spec_to_dict(spec)
    assert data == {"values": {"optimizer": ["sgd", "adam", "rmsprop"], "lr": [0.01, 0.001]}, "mode": "grid",
                    "draws": 0, "seeds": 2, "seed": 3}
    assert spec_to_dict(spec_from_dict(data)) == data
    assert spec_text(spec) == "optimizer: sgd, adam, rmsprop; lr: 0.01, 0.001 (grid, 2 seeds: 12 runs)"
    for bad, words in (([], "must be an object"), ({"values": {}, "colour": 1}, "must be an object"),
                       ({"values": []}, "values must be an object"), ({"values": {"lr": [0.1]}, "seed": -1}, "seed"),
                       ({"values": {"lr": [0.1]}, "draws": "8"}, "draws"),
                       ({"values": {"lr": [-0.1]}}, "sweep setting 'lr'"),
                       ({"values": {"dropout:dense_1": [0.2]}}, "no Dropout layer")):
        with pytest.raises(TrainingError, match=words):
            spec_from_dict(bad, EXAMPLES["spiral_mlp"]().graph)


def test_the_results_of_a_sweep_come_from_its_runs_settings_and_final_metrics():
    from types import SimpleNamespace

    from nnstudio.core.sweep import sweep_results

    def run(sweep, optimizer, seed, acc, rate=0.1):
        graph = {"nodes": [{"id": "dropout_1", "type": "dropout", "params": {"rate": rate}}], "edges": []}
        return {"sweep": sweep, "settings": {"optimizer": optimizer, "lr": 0.01, "seed": seed}, "graph": graph,
                "final": {"val_accuracy": acc}}

    project = SimpleNamespace(runs=[run("sweep-1", "sgd", 0, 0.5), run("sweep-1", "sgd", 1, 0.7),
                                    run("sweep-1", "adam", 0, 0.9), run("sweep-1", "adam", 1, 0.9),
                                    run("sweep-2", "sgd", 0, 0.1, rate=0.3), run(None, "sgd", 0, 0.2)])
    rows = sweep_results(project, "sweep-1")
    assert [(r["optimizer"], r["runs"]) for r in rows] == [("sgd", 2), ("adam", 2)]
    assert rows[0]["val_accuracy_mean"] == pytest.approx(0.6) and rows[0]["val_accuracy_std"] == pytest.approx(0.1)
    assert "lr" not in rows[0] and "dropout:dropout_1" not in rows[0]  # the same in every run: not swept
    assert sweep_results(project, "sweep-3") == []
    project.runs.append(run("sweep-2", "sgd", 0, 0.3, rate=0.5))
    assert [r["dropout:dropout_1"] for r in sweep_results(project, "sweep-2")] == [0.3, 0.5]


def test_a_files_sweep_with_too_many_values_is_refused_before_they_are_read():
    from nnstudio.core.sweep import spec_from_dict

    with pytest.raises(TrainingError, match="has 1,000,001 values; at most 1,000"):
        spec_from_dict({"values": {"lr": [0.1] * 1_000_001}, "mode": "random", "draws": 1})
    assert spec_from_dict({"values": {"lr": [0.1, 0.1, 0.2]}}).values == {"lr": [0.1, 0.2]}
