"""Run edits are undo commands on the window's stack; Restore puts a run's network and settings back as one undo
step, changing only what differs."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.session import EditRefused, Session
from nnstudio.core.training.reports import TrainResult
from nnstudio.ui.run_commands import DeleteRunsCommand, PinRunCommand, RenameRunCommand, restore_run


def _record(session: Session) -> None:
    from nnstudio.core.compile import compile_graph

    weights = {k: v.clone() for k, v in compile_graph(session.graph, seed=0).module.state_dict().items()}
    run = session.run_started()
    result = TrainResult(history={"epochs": [{"epoch": 1, "train_loss": 0.5}]}, state_dict=weights,
                         stop_reason="completed", best_epoch=1, final={"train_loss": 0.5})
    result.graph, result.fingerprint = session.graph.to_dict(), fingerprint(session.graph)
    assert session.run_finished(result, run=run)


@pytest.fixture
def session(qapp):
    project = EXAMPLES["residual_mlp"]() if "residual_mlp" in EXAMPLES else EXAMPLES["spiral_mlp"]()
    s = Session(project)
    _record(s)
    return s


def test_rename_pin_and_delete_undo_and_redo(session):
    stack = QUndoStack()
    _record(session)
    stack.push(RenameRunCommand(session, "run-1", "First"))
    stack.push(PinRunCommand(session, "run-2", True))
    stack.push(DeleteRunsCommand(session, ["run-1"]))
    assert [r["id"] for r in session.runs] == ["run-2"] and session.runs[0]["pinned"]
    assert stack.undoText() == "Delete First"
    stack.undo()
    assert [r["name"] for r in session.runs] == ["First", "Run 2"]
    stack.undo()
    assert not session.runs[1]["pinned"] and session.runs[1]["weights"]  # the latest keeps its weights
    stack.undo()
    assert session.runs[0]["name"] == "Run 1"
    for _ in range(3):
        stack.redo()
    assert [r["id"] for r in session.runs] == ["run-2"]


def test_restore_puts_the_network_and_settings_back_as_one_step_and_undo_takes_them_away(session):
    stack = QUndoStack()
    graph = session.graph
    trained_print, trained_settings = fingerprint(graph), session.training
    before = {nid: (n.type_id, dict(n.params), n.label) for nid, n in graph.nodes.items()}
    dense = next(nid for nid, n in graph.nodes.items() if n.type_id == "dense")
    graph.set_params(dense, {"units": 5})
    graph.set_label(dense, "narrow")
    extra = graph.add_node("dropout", {"rate": 0.3}, (900, 900)).id
    out_edge = graph.outputs_of(dense)[0]
    graph.disconnect(out_edge)
    graph.connect(dense, extra)
    graph.connect(extra, out_edge.dst, out_edge.dst_port)
    session.set_training({**trained_settings, "lr": 0.5})
    session.graph_edited()
    edited_print = fingerprint(graph)
    assert edited_print != trained_print

    assert restore_run(stack, session, "run-1")
    assert stack.count() == 1 and stack.undoText() == "Restore Run 1"
    assert fingerprint(graph) == trained_print and session.training == session.runs[0]["settings"]
    assert {nid: (n.type_id, dict(n.params), n.label) for nid, n in graph.nodes.items()} == before
    assert not restore_run(stack, session, "run-1")  # nothing differs now: nothing pushed
    stack.undo()
    assert fingerprint(graph) == edited_print and session.training["lr"] == 0.5 and extra in graph.nodes
    stack.redo()
    assert fingerprint(graph) == trained_print


def test_restore_is_refused_while_training(session):
    session.run_started()
    with pytest.raises(EditRefused):
        restore_run(QUndoStack(), session, "run-1")
