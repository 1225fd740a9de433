"""The session model (core/session.py) without Qt: one test per symptom of issue 11 as it applies to the model,
the order and once-only rule of its events, the weights' status (fingerprint, and names and shapes for old
files) and the layer health it derives."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.core import weights_status
from nnstudio.core.compile import compile_graph
from nnstudio.core.data.registry import load_split
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import Graph
from nnstudio.core.problems import NO_DATASET, ProjectProblem
from nnstudio.core.project.model import Project
from nnstudio.core.session import EVENTS, EditRefused, RunState, Session
from nnstudio.core.session_state import LOCKED, NO_TELEMETRY
from nnstudio.core.training.health import health_from_stats, history_layer_stats, layer_health
from nnstudio.core.training.reports import ActivationReport, ActivationStats, LayerReport, LayerStats, TrainResult

SPIRAL = {"name": "spiral", "samples": 60}


def mlp() -> Graph:
    g = Graph()
    i = g.add_node("input_vector", {"features": 2})
    h = g.add_node("dense", {"units": 16, "activation": "relu"})
    o = g.add_node("dense", {"units": 3})
    out = g.add_node("output", {"task": "multiclass"})
    for a, b in ((i, h), (h, o), (o, out)):
        g.connect(a.id, b.id)
    return g


def spiral_project(**changes) -> Project:
    return Project(graph=mlp(), name="spiral", dataset=dict(SPIRAL), **changes)


def weights_of(graph: Graph) -> dict:
    return {k: v.detach().clone() for k, v in compile_graph(graph, seed=0).module.state_dict().items()}


def result_for(graph: Graph, **history) -> TrainResult:
    return TrainResult(history={"epochs": [{"epoch": 1, "train_loss": 0.4, "val_accuracy": 1.0}], **history},
                       state_dict=weights_of(graph), stop_reason="completed", best_epoch=1,
                       final={"val_accuracy": 1.0})


def layer(grad_norm: float) -> LayerStats:
    z = np.zeros(3)
    return LayerStats(z, z, z, z, weight_norm=1.0, grad_norm=grad_norm, update_ratio=1e-3)


def act(dead: float | None) -> ActivationStats:
    z = np.zeros(3)
    return ActivationStats(z, z, 0.0, 1.0, dead)


class Recorder:
    """Every event of a session, in order: (name, argument, what the handler could read at that moment)."""

    def __init__(self, session: Session) -> None:
        self.session, self.seen = session, []
        for name in EVENTS:
            getattr(session, name).connect(lambda arg, name=name: self.seen.append((name, arg, self.snapshot())))

    def snapshot(self) -> dict:
        s = self.session
        return {"problems": s.problems, "readiness": s.readiness, "data_state": s.data_state,
                "weights": s.weights_status, "run": s.run, "dataset": s.dataset}

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]

    def clear(self) -> None:
        self.seen.clear()


def loaded(session: Session) -> Session:
    """``session`` with its data loaded as the window would (the key it asks for)."""
    key = session.data_key
    assert session.data_loading(key) and session.data_loaded(key, load_split(session.project.dataset))
    return session


def trained(session: Session) -> Session:
    run = session.run_started()
    assert session.run_finished(result_for(session.graph), run=run)
    return session


# -- the seven symptoms, as they apply to the model ------------------------------------------------------------
def test_1_a_new_project_has_no_dataset_and_the_data_state_says_so():
    s = loaded(Session(spiral_project()))
    s.replace(Project())
    assert s.dataset is None and s.project.dataset is None
    assert s.data_state == "none" and s.data_key is None and s.data is None
    assert ProjectProblem("dataset", None, NO_DATASET) in s.problems
    assert s.readiness == "problems" and not s.ready_to_train
    assert s.set_dataset({"name": "spiral"}) is None  # choosing Spiral really sets it
    assert s.project.dataset == {"name": "spiral"} and s.data_state == "needed" and s.data_key is not None
    assert ProjectProblem("dataset", None, NO_DATASET) not in s.problems


def test_2_data_that_do_not_fit_are_a_problem_on_the_input_node_and_readiness_says_problems():
    s = Session(spiral_project())
    s.set_dataset({"name": "digits"})
    assert s.readiness == "checking" and not s.ready_to_train  # never "ready" while the data are unchecked
    loaded(s)
    where = {(p.source, p.node_id) for p in s.problems}
    assert where == {("data", "input_vector_1"), ("data", "output_1")}, s.problems
    assert s.readiness == "problems" and not s.ready_to_train
    assert "the digits dataset gives images (N, 1, 8, 8)" in s.train_refusal()


def test_3_an_edit_after_training_makes_the_weights_out_of_date_and_undo_makes_them_current():
    s = trained(loaded(Session(spiral_project())))
    s.set_telemetry(layers=LayerReport(5, {"dense_1": layer(1e-9)}))
    assert s.weights_status == "current" and s.health["dense_1"][0] == "bad"
    previous = s.graph.set_params("dense_1", {"activation": "tanh"})  # the same shapes: only the fingerprint
    s.graph_edited()
    assert s.weights_status == "out_of_date" and s.health == {}
    s.graph.set_params("dense_1", previous)  # undo
    s.graph_edited()
    assert s.weights_status == "current" and s.health["dense_1"][0] == "bad"
    edge = s.graph.inputs_of("output_1")[0]
    s.graph.disconnect(edge)  # undo until the Output is disconnected
    s.graph_edited()
    assert s.weights_status == "out_of_date" and s.health == {}
    s.graph.connect(edge.src, edge.dst)
    s.graph_edited()
    assert s.weights_status == "current"


def test_4_replace_after_a_run_leaves_nothing_of_it():
    s = trained(loaded(Session(spiral_project())))
    s.set_telemetry(layers=LayerReport(5, {"dense_1": layer(0.5)}))
    s.select(["dense_1"])
    assert s.run.summary == "Training completed: val_accuracy=1.000" and s.unsaved_run
    s.replace(Project())
    assert s.run == RunState(project=s.run.project) and s.run.summary == "" and s.run.progress == 0.0
    assert not s.unsaved_run and s.telemetry is NO_TELEMETRY and s.health == {} and s.selection == ()
    assert s.weights_status == "none"


def test_5_reopening_a_trained_project_restores_the_health_tints_from_its_history():
    history = {"layers": {"step": 9, "layers": {"dense_1": {"grad_norm": 1e-9, "update_ratio": 0.0}}},
               "activations": {"step": 9, "layers": {"dense_2": {"dead_fraction": 0.3}}}}
    p = spiral_project(weights=weights_of(mlp()), history=history)
    p.weights_fingerprint = fingerprint(p.graph)
    s = Session()
    s.replace(p, "/somewhere/spiral.nnstudio")
    assert s.health["dense_1"][0] == "bad" and "vanishing" in s.health["dense_1"][1]
    assert s.health["dense_2"] == ("warn", "30% of ReLU units dead")
    p.weights_fingerprint = "0" * 64  # weights of another version of the network: no tints
    s.replace(p)
    assert s.weights_status == "out_of_date" and s.health == {}


def test_5_reopening_a_trained_project_says_how_its_last_run_ended():
    history = {"epochs": [{"epoch": e, "train_loss": 0.5, "val_accuracy": 0.9} for e in (1, 2, 3, 4)],
               "stop_reason": "stopped", "config": {"epochs": 8}, "task": "multiclass",
               "final": {"val_accuracy": 0.875}}
    s = Session(spiral_project(history=history))
    assert s.run == RunState("idle", 0.5, "Trained for 4 epochs (stopped): val_accuracy=0.875", 1, 0)
    s.replace(Project())
    assert s.run.summary == "" and s.run.progress == 0.0
    s.replace(spiral_project(history={"epochs": "not a list"}))  # what cannot be read says nothing
    assert s.run.summary == ""


def test_7_edits_are_refused_while_a_run_is_active():
    s = loaded(Session(spiral_project()))
    run = s.run_started()
    assert s.locked and s.edit_refusal() == LOCKED and not s.ready_to_train
    with pytest.raises(EditRefused, match="Training is running"):
        s.set_dataset({"name": "moons"})
    with pytest.raises(EditRefused, match="Training is running"):
        s.set_training({"epochs": 3})
    with pytest.raises(EditRefused):
        s.run_started()
    assert s.project.dataset == SPIRAL and s.project.training == {}
    assert s.run_stopping(run) and s.locked  # still running until it has stopped
    assert s.run_failed("training was stopped while the data were loading: nothing was trained", run)
    assert not s.locked and s.edit_refusal() is None and s.ready_to_train
    assert s.run.summary.startswith("Training failed: training was stopped")


def test_a_run_s_result_for_a_replaced_project_is_dropped():
    s = loaded(Session(spiral_project()))
    first = s.project
    run = s.run_started()
    s.replace(spiral_project())  # New/Open while it ran: the run belongs to the old project
    late = result_for(first.graph)
    assert not s.run_progress(0.5, "epoch 1/2", run=run) and not s.run_progress(0.5)
    assert not s.set_telemetry(layers=LayerReport(5, {"dense_1": layer(0.5)}), run=run)
    assert not s.run_finished(late, run=run) and not s.run_finished(late)
    assert s.project.weights is None and first.weights is None and not s.unsaved_run
    assert s.run.phase == "idle" and s.run.summary == "" and s.telemetry is NO_TELEMETRY
    second = s.run_started()
    assert not s.run_finished(late, run=run)  # another run's id
    assert s.run_finished(late, run=second) and s.weights_status == "current"


# -- the run ---------------------------------------------------------------------------------------------------
def test_a_run_goes_through_its_phases_and_stores_its_result():
    s = loaded(Session(spiral_project()))
    run = s.run_started()
    assert s.run.phase == "preparing" and s.run.run == run
    assert s.run_progress(0.25, "epoch 1/4  loss 0.9") and s.run.phase == "running" and s.run.progress == 0.25
    assert s.run_paused() and s.run.phase == "paused" and not s.run_paused()
    assert s.run_progress(0.3) and s.run.phase == "paused"  # a late drain does not resume it
    assert s.run_resumed() and s.run.phase == "running"
    assert s.run_progress(7.0) and s.run.progress == 1.0
    s.set_telemetry(confusion=[[3, 0], [1, 4]], per_class=[{"f1": 1.0}], epoch=1)
    assert s.telemetry.confusion == [[3, 0], [1, 4]] and s.telemetry.fingerprint == s.fingerprint
    assert s.run_finished(result_for(s.graph))
    assert s.project.weights is not None and s.project.history["epochs"][0]["epoch"] == 1
    assert s.project.weights_fingerprint == s.fingerprint
    assert s.unsaved_run and s.run.phase == "idle" and s.run.progress == 1.0
    assert s.telemetry.confusion == [[3, 0], [1, 4]]  # the last run's figures stay for the dashboard
    s.saved("/tmp/spiral.nnstudio")
    assert not s.unsaved_run and s.path.name == "spiral.nnstudio"


def test_an_abandoned_run_stores_nothing_and_a_late_result_is_dropped():
    s = loaded(Session(spiral_project()))
    run = s.run_started()
    assert s.run_abandoned(run=run)
    assert not s.run.active and "not kept" in s.run.summary
    assert not s.run_finished(result_for(s.graph), run=run)
    assert s.project.weights is None and not s.unsaved_run and s.weights_status == "none"


def test_the_trained_fingerprint_given_is_the_one_stored():
    s = loaded(Session(spiral_project()))
    s.run_started()
    s.run_finished(result_for(s.graph), trained_fingerprint="f" * 64)
    assert s.project.weights_fingerprint == "f" * 64 and s.weights_status == "out_of_date"


# -- the data --------------------------------------------------------------------------------------------------
def test_a_load_for_an_older_dataset_or_folder_is_ignored(tmp_path):
    s = Session(spiral_project())
    old = s.data_key
    s.set_dataset({"name": "moons"})
    recorder = Recorder(s)
    assert not s.data_loaded(old, load_split(SPIRAL)) and not s.data_failed(old, "x") and not s.data_loading(old)
    assert s.data_state == "needed" and s.data is None and recorder.seen == []
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    s.set_dataset({"name": "csv", "path": "t.csv"})  # a relative path: the folder is part of what is loaded
    for folder in ("a", "b"):
        (tmp_path / folder / "t.csv").write_text("x,y\n1,0\n2,1\n")
    s.saved(tmp_path / "a" / "p.nnstudio")
    in_a = s.data_key
    s.saved(tmp_path / "b" / "p.nnstudio")
    assert s.data_key != in_a and not s.data_loaded(in_a, load_split(SPIRAL))


def test_a_load_that_fails_or_is_cancelled_says_so():
    s = Session(spiral_project())
    key = s.data_key
    assert s.data_failed(key, "spiral.csv has a header but no data rows")
    assert s.data_state == "failed" and s.data_error == "spiral.csv has a header but no data rows"
    assert s.problems == (ProjectProblem("data", None, "spiral.csv has a header but no data rows"),)
    assert s.data_cancelled(key) and s.problems == () and s.readiness == "checking"
    assert "cancelled" in s.train_refusal()
    loaded(s)
    assert s.readiness == "ready" and s.ready_to_train and s.train_refusal() is None


def test_reload_asks_for_the_same_data_again():
    s = loaded(Session(spiral_project()))
    key = s.data_key
    seen = []
    s.data_changed.connect(seen.append)
    assert s.reload_data()
    assert s.data_state == "needed" and s.data is None and s.data_key == key and s.readiness == "checking"
    assert seen == ["needed"]
    assert s.data_cancelled(key) and s.reload_data() and s.data_state == "needed"
    s.set_dataset(None)
    assert not s.reload_data() and s.data_state == "none"


def test_a_dataset_config_with_problems_is_not_loaded(tmp_path):
    s = Session(spiral_project())
    s.set_dataset({"name": "csv", "path": "missing.csv"})
    assert s.data_state == "invalid" and s.data_key is None
    assert [p.source for p in s.problems] == ["dataset"] and "missing.csv" in s.problems[0].message


def test_settings_are_set_and_undone_like_the_dataset():
    s = Session(spiral_project())
    assert s.set_training({"epochs": 0}) == {}
    assert [p.source for p in s.problems] == ["settings"] and "'epochs'" in s.problems[0].message
    assert s.set_training({}) == {"epochs": 0} and s.project.training == {}
    settings = {"epochs": 3}
    s.set_training(settings)
    settings["epochs"] = 9  # the session keeps its own copy
    assert s.training == {"epochs": 3}


# -- events ----------------------------------------------------------------------------------------------------
def test_replace_emits_each_change_once_in_order_after_the_state_is_consistent():
    s = trained(loaded(Session(spiral_project(), "/projects/spiral.nnstudio")))
    recorder = Recorder(s)
    s.replace(Project())
    assert recorder.names == ["project_replaced", "path_changed", "shapes_changed", "dataset_changed",
                              "data_changed", "weights_status_changed", "problems_changed", "readiness_changed",
                              "run_state_changed", "telemetry_changed", "unsaved_run_changed", "runs_changed"], \
        recorder.names
    assert len(set(recorder.names)) == len(recorder.names)
    for name, _, seen in recorder.seen:  # every handler saw the whole new state
        assert seen["dataset"] is None and seen["data_state"] == "none" and seen["weights"] == "none", name
        assert seen["run"].summary == "" and seen["readiness"] == "problems", name
    assert dict((n, a) for n, a, _ in recorder.seen)["unsaved_run_changed"] is False


def test_nothing_is_emitted_for_what_did_not_change():
    s = loaded(Session(spiral_project()))
    recorder = Recorder(s)
    s.set_training({})
    s.set_dataset(dict(SPIRAL))
    s.graph_edited()
    s.graph.move_node("dense_1", (50.0, 60.0))  # positions are not part of the network
    s.graph_edited()
    assert recorder.seen == [] and s.data_state == "loaded"
    s.select(["dense_1", "nope", "dense_1"])
    s.select(("dense_1",))
    assert recorder.seen == [("selection_changed", ("dense_1",), recorder.seen[0][2])]


def test_a_handler_may_call_the_session_again_without_repeats():
    """The window starts a load from data_changed: the nested call's events come once, in order."""
    s = Session(spiral_project())
    recorder = Recorder(s)
    s.data_changed.connect(lambda state: s.data_loading(s.data_key) if state == "needed" else None)
    s.set_dataset({"name": "moons"})
    data = [(name, arg) for name, arg, _ in recorder.seen if name == "data_changed"]
    assert data == [("data_changed", "needed"), ("data_changed", "loading")], recorder.names
    assert recorder.names.count("readiness_changed") == 0 and s.data_state == "loading"  # checking throughout
    assert recorder.names.count("dataset_changed") == 1


def test_graph_edits_re_infer_and_prune_the_selection():
    s = Session(spiral_project())
    recorder = Recorder(s)
    s.select(["dense_1", "dense_2"])
    s.graph.remove_node("dense_2")
    s.graph_edited()
    assert s.selection == ("dense_1",) and "dense_2" not in s.info.nodes
    assert {"shapes_changed", "problems_changed", "selection_changed"} <= set(recorder.names)
    assert any(p.source == "graph" for p in s.problems)


# -- the weights' status -----------------------------------------------------------------------------------------
def test_an_old_file_without_a_fingerprint_falls_back_to_names_and_shapes():
    p = spiral_project(weights=weights_of(mlp()))
    assert p.weights_fingerprint is None
    s = Session(p)
    assert s.weights_status == "current"
    previous = s.graph.set_params("dense_1", {"units": 8})
    s.graph_edited()
    assert s.weights_status == "out_of_date"
    s.graph.set_params("dense_1", previous)
    s.graph_edited()
    assert s.weights_status == "current"
    s.graph.set_params("dense_1", {"activation": "tanh"})  # names and shapes cannot see this one
    s.graph_edited()
    assert s.weights_status == "current"
    s.graph.disconnect(s.graph.inputs_of("output_1")[0])  # a network that cannot be built: cannot tell
    s.graph_edited()
    assert s.weights_status == "unknown"


def test_the_fallback_builds_on_the_meta_device_with_the_compiled_names():
    g = mlp()
    expected = weights_status.expected_shapes(g)
    assert expected == {k: tuple(v.shape) for k, v in compile_graph(g).module.state_dict().items()}
    assert weights_status.status(g, None, {"nope": (3,)}) == "out_of_date"
    assert weights_status.status(g, None, None, has_weights=False) == "none"
    assert weights_status.status(g, fingerprint(g), None, has_weights=True) == "current"


def test_a_project_file_s_weights_are_judged_from_their_header(tmp_path):
    from nnstudio.core.project.io import load_project, save_project

    p = spiral_project(weights=weights_of(mlp()))
    path = tmp_path / "old.nnstudio"
    save_project(p, path)
    assert weights_status.file_status(path, load_project(path, weights=False)) == "current"
    p.graph.set_params("dense_2", {"units": 4})
    save_project(p, path)
    assert weights_status.file_status(path, load_project(path, weights=False)) == "out_of_date"
    save_project(spiral_project(), path)
    assert weights_status.file_status(path, load_project(path, weights=False)) == "none"


# -- health ----------------------------------------------------------------------------------------------------
def test_health_levels_from_reports_and_from_saved_figures_agree():
    reports = (LayerReport(1, {"a": layer(0.5), "b": layer(1e-9), "c": layer(1e6), "d": layer(float("nan"))}),
               ActivationReport(1, {"a": act(0.0), "e": act(0.3), "f": act(None)}))
    health = layer_health(*reports)
    assert {k: v[0] for k, v in health.items()} == {"a": "ok", "b": "bad", "c": "bad", "d": "bad", "e": "warn"}
    assert "diverged" in health["d"][1]
    saved = {"layers": {"step": 1, "layers": {k: {"grad_norm": s.grad_norm, "update_ratio": s.update_ratio}
                                              for k, s in reports[0].layers.items() if k != "d"}},
             "activations": {"step": 1, "layers": {k: {"dead_fraction": s.dead_fraction}
                                                   for k, s in reports[1].layers.items()}}}
    assert health_from_stats(history_layer_stats(saved)) == {k: v for k, v in health.items() if k != "d"}
    assert history_layer_stats({"epochs": []}) is None and health_from_stats(None) == {}


def test_live_telemetry_tints_a_first_run_and_a_new_run_starts_untinted():
    s = loaded(Session(spiral_project()))
    run = s.run_started()
    assert s.health == {} and s.weights_status == "none"
    s.set_telemetry(activations=ActivationReport(1, {"dense_1": act(0.6)}), run=run)
    assert s.health["dense_1"][0] == "bad"
    s.set_telemetry(layers=LayerReport(2, {"dense_1": layer(0.5)}), run=run)  # the latest of both kinds
    assert "60% of ReLU units dead" in s.health["dense_1"][1] and "gradient norm" in s.health["dense_1"][1]
    s.run_finished(result_for(s.graph))
    s.run_started()
    assert s.health == {} and s.telemetry.layers is None
