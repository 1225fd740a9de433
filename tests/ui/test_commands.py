"""Undo / redo of every command and macro restores the exact graph (to_dict compared, wire order included)."""

from __future__ import annotations

import pytest

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Edge, Graph
from nnstudio.ui.commands import (
    AddNodeCommand,
    ConnectCommand,
    DisconnectCommand,
    MoveNodesCommand,
    RemoveNodeCommand,
    SetLabelCommand,
    SetParamsCommand,
    copy_nodes,
    delete_nodes,
    paste_nodes,
)


def round_trip(stack, graph: Graph, do) -> tuple[dict, dict]:
    """Run ``do`` (which pushes), then check undo gives the graph before and redo the graph after."""
    before = graph.to_dict()
    do()
    after = graph.to_dict()
    assert after != before, "the edit changed nothing"
    stack.undo()
    assert graph.to_dict() == before
    stack.redo()
    assert graph.to_dict() == after
    stack.undo()
    assert graph.to_dict() == before
    return before, after


@pytest.fixture
def concat_graph() -> Graph:
    """Three Dense branches into one Concatenate (merge order a, b, c), then Output."""
    g = Graph()
    g.add_node("input_vector", {"features": 4}, node_id="x")
    for i, name in enumerate("abc"):
        g.add_node("dense", {"units": 2 + i}, position=(200, 100 * i), node_id=name)
        g.connect("x", name)
    g.add_node("concat", position=(400, 100), node_id="cat")
    for name in "abc":
        g.connect(name, "cat")
    g.add_node("output", {"task": "regression"}, node_id="out")
    g.connect("cat", "out")
    return g


def test_add_node_undo_redo(stack, chain_graph):
    round_trip(stack, chain_graph, lambda: stack.push(AddNodeCommand(chain_graph, "dense", (40, 60), {"units": 5})))


def test_add_node_with_taken_or_bad_id_is_refused_before_the_stack(stack, chain_graph):
    with pytest.raises(GraphError, match="already"):
        AddNodeCommand(chain_graph, "dense", (0, 0), node_id="dense_1")
    with pytest.raises(GraphError):
        AddNodeCommand(chain_graph, "dense", (0, 0), node_id="1bad")
    with pytest.raises(GraphError, match="unknown layer type"):
        AddNodeCommand(chain_graph, "no_such_layer", (0, 0))
    assert stack.count() == 0


def test_remove_node_undo_restores_wires(stack, chain_graph):
    round_trip(stack, chain_graph, lambda: stack.push(RemoveNodeCommand(chain_graph, "dense_1")))
    with pytest.raises(GraphError):
        RemoveNodeCommand(chain_graph, "ghost")


def test_connect_and_disconnect(stack, chain_graph):
    edge = Edge("dense_1", "dense_2")
    round_trip(stack, chain_graph, lambda: stack.push(DisconnectCommand(chain_graph, edge)))
    stack.push(DisconnectCommand(chain_graph, edge))
    round_trip(stack, chain_graph, lambda: stack.push(ConnectCommand(chain_graph, "dense_1", "dense_2")))
    with pytest.raises(GraphError, match="is an Output"):
        ConnectCommand(chain_graph, "output_1", "dense_1")
    with pytest.raises(GraphError, match="already has one"):
        ConnectCommand(chain_graph, "dense_2", "dense_1")
    with pytest.raises(GraphError, match="not connected"):
        DisconnectCommand(chain_graph, Edge("input_vector_1", "output_1"))


def test_connect_refuses_a_cycle(stack, concat_graph):
    concat_graph.add_node("dense", node_id="d")
    stack.push(ConnectCommand(concat_graph, "cat", "d"))
    with pytest.raises(GraphError, match="cycle"):
        ConnectCommand(concat_graph, "d", "cat")
    assert stack.count() == 1


def test_disconnect_from_a_merge_keeps_the_input_order(stack, concat_graph):
    round_trip(stack, concat_graph, lambda: stack.push(DisconnectCommand(concat_graph, Edge("b", "cat"))))
    assert [e.src for e in concat_graph.inputs_of("cat")] == ["a", "b", "c"]


def test_delete_a_node_feeding_a_concat_restores_merge_order(stack, concat_graph):
    round_trip(stack, concat_graph, lambda: delete_nodes(stack, concat_graph, ["b"]))
    assert [e.src for e in concat_graph.inputs_of("cat")] == ["a", "b", "c"]
    assert stack.count() == 1  # one macro
    round_trip(stack, concat_graph, lambda: delete_nodes(stack, concat_graph, ["c", "a"]))
    assert [e.src for e in concat_graph.inputs_of("cat")] == ["a", "b", "c"]
    assert stack.count() == 1 and stack.command(0).childCount() == 2  # two removals, one undo step


def test_delete_nodes_and_loose_wires_is_one_step(stack, concat_graph):
    round_trip(stack, concat_graph,
               lambda: delete_nodes(stack, concat_graph, ["out"], [Edge("a", "cat"), Edge("cat", "out")]))
    assert stack.count() == 1
    delete_nodes(stack, concat_graph, [], [])
    assert stack.count() == 1  # nothing to delete, nothing pushed


def test_set_params_undo_and_bad_value_refused(stack, chain_graph):
    round_trip(stack, chain_graph,
               lambda: stack.push(SetParamsCommand(chain_graph, "dense_1", {"units": 99, "activation": "tanh"})))
    before = chain_graph.to_dict()
    with pytest.raises(GraphError, match="Units"):
        SetParamsCommand(chain_graph, "dense_1", {"units": -3})
    with pytest.raises(GraphError):
        SetParamsCommand(chain_graph, "dense_1", {"no_such": 1})
    assert stack.count() == 1 and stack.index() == 0  # only the good edit, and it is undone
    assert chain_graph.to_dict() == before


def test_set_label(stack, chain_graph):
    round_trip(stack, chain_graph, lambda: stack.push(SetLabelCommand(chain_graph, "dense_1", "hidden")))


def test_move_of_a_selection_is_one_step(stack, chain_graph):
    moves = {"dense_1": ((240.0, 0.0), (260.0, 40.0)), "dense_2": ((480.0, 0.0), (500.0, 40.0))}
    round_trip(stack, chain_graph, lambda: stack.push(MoveNodesCommand(chain_graph, moves)))
    assert stack.count() == 1
    with pytest.raises(GraphError):
        MoveNodesCommand(chain_graph, {"ghost": ((0, 0), (1, 1))})


def test_paste_with_internal_wires(stack, concat_graph):
    clip = copy_nodes(concat_graph, ["a", "b", "cat"])
    assert {(e["from"], e["to"]) for e in clip["edges"]} == {("a", "cat"), ("b", "cat")}
    new_ids: list[str] = []
    round_trip(stack, concat_graph, lambda: new_ids.extend(paste_nodes(stack, concat_graph, clip)))
    stack.redo()
    a2, b2, cat2 = new_ids
    assert [e.src for e in concat_graph.inputs_of(cat2)] == [a2, b2]
    assert concat_graph.nodes[a2].position == (240.0, 40.0)  # default offset 40, 40
    assert stack.count() == 1


def test_bad_clipboard_is_refused_whole(stack, chain_graph):
    before = chain_graph.to_dict()
    bad_wire = {"nodes": [{"id": "i", "type": "input_vector"}, {"id": "d", "type": "dense"}],
                "edges": [{"from": "d", "to": "i"}]}  # into an Input
    bad_value = {"nodes": [{"id": "d", "type": "dense", "params": {"units": 0}}], "edges": []}
    for clip in (bad_wire, bad_value, {"nodes": [{"type": "dense"}]}):
        with pytest.raises(GraphError):
            paste_nodes(stack, chain_graph, clip)
    assert stack.count() == 0
    assert chain_graph.to_dict() == before


# -- dataset and training settings: undo commands on the session ------------------------------------------------
def test_dataset_and_settings_edits_are_undone_like_graph_edits(stack):
    from nnstudio.core.project.model import Project
    from nnstudio.core.session import Session
    from nnstudio.ui.session_commands import push_dataset, push_training

    session = Session(Project())
    settings = session.training
    assert push_dataset(stack, session, {"name": "spiral"})
    assert session.dataset == {"name": "spiral"} and stack.undoText() == "Choose Dataset spiral"
    assert push_training(stack, session, dict(session.training, epochs=7))
    assert session.training["epochs"] == 7 and stack.undoText() == "Change epochs"
    assert not push_dataset(stack, session, {"name": "spiral"})  # nothing changes: nothing on the stack
    assert stack.count() == 2
    stack.undo()
    assert session.training == settings
    stack.undo()
    assert session.dataset is None and stack.isClean()
    stack.redo()
    assert session.dataset == {"name": "spiral"}


def test_steps_of_one_option_merge_into_one_command_and_a_new_dataset_does_not(stack):
    from nnstudio.core.project.model import Project
    from nnstudio.core.session import Session
    from nnstudio.ui.session_commands import push_dataset

    session = Session(Project())
    push_dataset(stack, session, {"name": "spiral"})
    for samples in (101, 102, 103):  # a spin box's steps
        push_dataset(stack, session, {"name": "spiral", "samples": samples})
    assert stack.count() == 2 and session.dataset == {"name": "spiral", "samples": 103}
    push_dataset(stack, session, {"name": "spiral", "samples": 103, "noise": 0.3})  # another option
    push_dataset(stack, session, {"name": "moons"})
    assert stack.count() == 4
    stack.undo()
    stack.undo()
    stack.undo()
    assert session.dataset == {"name": "spiral"}


def test_an_edit_while_training_is_refused_before_the_stack_takes_it(stack):
    from nnstudio.core.project.model import Project
    from nnstudio.core.session import EditRefused, Session
    from nnstudio.ui.session_commands import push_dataset, push_training

    session = Session(Project(dataset={"name": "spiral"}))
    session.run_started()
    with pytest.raises(EditRefused, match="Training is running"):
        push_dataset(stack, session, {"name": "moons"})
    with pytest.raises(EditRefused):
        push_training(stack, session, {"epochs": 3})
    assert stack.count() == 0 and session.dataset == {"name": "spiral"}
