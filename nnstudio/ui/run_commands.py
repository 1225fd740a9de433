"""Undoable edits of the project's runs (rename, pin, delete) and Restore, which puts a run's network and settings
back on the canvas as one undo step. Each run command calls one session method (``core.session_runs``) and holds
what undoing it needs (a name, the kept weights an unpin let go, the runs a delete removed); they sit on the
window's undo stack with the graph edits, so "modified" is still the stack's clean state."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand, QUndoStack

from nnstudio.core.graph import Graph
from nnstudio.core.runs import find
from nnstudio.core.session import EditRefused, Session
from nnstudio.ui.commands import (AddNodeCommand, ConnectCommand, DisconnectCommand, MoveNodesCommand,
                                  RemoveNodeCommand, SetLabelCommand, SetParamsCommand)
from nnstudio.ui.safe_text import menu_text
from nnstudio.ui.session_commands import SetDatasetCommand, SetTrainingCommand


def _name(session: Session, run_id: str) -> str:
    return menu_text(find(session.project, run_id)["name"], 60)


class RenameRunCommand(QUndoCommand):
    def __init__(self, session: Session, run_id: str, name: str) -> None:
        super().__init__()
        self.session, self.run_id, self.new = session, run_id, name
        self.old = find(session.project, run_id)["name"]  # an unknown id raises here
        self.setText(f"Rename Run {menu_text(self.old, 40)}")

    def redo(self) -> None:
        self.session.rename_run(self.run_id, self.new)

    def undo(self) -> None:
        self.session.rename_run(self.run_id, self.old)


class PinRunCommand(QUndoCommand):
    """Pin (``on``) or unpin a run; the kept weights an unpin lets go come back when it is undone."""

    def __init__(self, session: Session, run_id: str, on: bool) -> None:
        super().__init__()
        self.session, self.run_id, self.on = session, run_id, bool(on)
        self.held: dict[str, Any] | None = None
        self.setText(f"{'Pin' if on else 'Unpin'} {_name(session, run_id)}")

    def redo(self) -> None:
        self.held = self.session.pin_run(self.run_id, self.on, weights=self.held)

    def undo(self) -> None:
        self.held = self.session.pin_run(self.run_id, not self.on, weights=self.held)


class DeleteRunsCommand(QUndoCommand):
    def __init__(self, session: Session, ids: list[str]) -> None:
        super().__init__()
        for run_id in ids:
            find(session.project, run_id)
        self.session, self.ids = session, list(dict.fromkeys(ids))
        self.removed: list[tuple[int, dict[str, Any], Any]] = []
        count = len(self.ids)
        self.setText(f"Delete {_name(session, self.ids[0])}" if count == 1 else f"Delete {count} Runs")

    def redo(self) -> None:
        self.removed = self.session.drop_runs(self.ids)

    def undo(self) -> None:
        self.session.put_back_runs(self.removed)


def restore_run(stack: QUndoStack, session: Session, run_id: str) -> bool:
    """Make the canvas's network the one ``run_id`` trained, and the training settings and dataset its own, as
    one undo step ("Restore Run 3"). Only what differs changes: layers that stay keep their place on the canvas.
    EditRefused while training; False when there was nothing to change."""
    refusal = session.edit_refusal()
    if refusal:
        raise EditRefused(refusal)
    run = find(session.project, run_id)
    target = Graph.from_dict(session.run_graph(run_id))
    graph = session.graph
    settings = run.get("settings") if isinstance(run.get("settings"), dict) else None
    dataset = run.get("dataset") if isinstance(run.get("dataset"), dict) else None
    steps = _graph_steps(graph, target)
    change_settings = settings is not None and settings != session.training
    change_dataset = dataset is not None and dataset != session.dataset
    if not steps and not change_settings and not change_dataset:
        return False
    stack.beginMacro(f"Restore {_name(session, run_id)}")
    try:
        for make in steps:
            stack.push(make())
        if change_settings:
            stack.push(SetTrainingCommand(session, settings))
        if change_dataset:
            stack.push(SetDatasetCommand(session, dataset))
    finally:
        stack.endMacro()
    return True


def _graph_steps(graph: Graph, target: Graph) -> list:
    """The commands (made one after another, each against the graph the previous ones left) that turn
    ``graph`` into ``target``: wires out, layers out, parameters, labels and places, layers in, wires in."""
    steps: list = []
    wanted = {(e.src, e.dst, e.dst_port) for e in target.edges}
    same = {nid for nid, node in graph.nodes.items()
            if nid in target.nodes and target.nodes[nid].type_id == node.type_id}
    inputs: dict[str, int] = {}
    for e in target.edges:
        inputs[e.dst] = inputs.get(e.dst, 0) + 1
    def into(g: Graph, nid: str) -> list[tuple[str, int]]:
        return [(e.src, e.dst_port) for e in g.edges if e.dst == nid]

    # merges whose inputs are not the same, in the same order: all their wires come back, in the run's order
    merges = {nid for nid, count in inputs.items() if count > 1 and into(graph, nid) != into(target, nid)}
    kept = set()
    for edge in list(graph.edges):
        if ((edge.src, edge.dst, edge.dst_port) not in wanted or edge.src not in same or edge.dst not in same
                or edge.dst in merges):
            steps.append(lambda e=edge: DisconnectCommand(graph, e))
        else:
            kept.add((edge.src, edge.dst, edge.dst_port))
    for nid in list(graph.nodes):
        if nid not in same:
            steps.append(lambda n=nid: RemoveNodeCommand(graph, n))
    relabel = [nid for nid in same if graph.nodes[nid].label != target.nodes[nid].label]
    for nid in relabel:  # names first cleared, then given: two layers may swap theirs
        if graph.nodes[nid].label:
            steps.append(lambda n=nid: SetLabelCommand(graph, n, ""))
    moves = {}
    for nid in same:
        old, new = graph.nodes[nid], target.nodes[nid]
        changes = {k: v for k, v in new.params.items() if old.params.get(k, _MISSING) != v}
        if changes:
            steps.append(lambda n=nid, c=changes: SetParamsCommand(graph, n, c))
        if tuple(old.position) != tuple(new.position):
            moves[nid] = (tuple(old.position), tuple(new.position))
    if moves:
        steps.append(lambda: MoveNodesCommand(graph, moves))
    for nid, node in target.nodes.items():
        if nid not in same:
            steps.append(lambda n=node: AddNodeCommand(graph, n.type_id, tuple(n.position), dict(n.params),
                                                       n.id, n.label))
    for nid in relabel:
        if target.nodes[nid].label:
            steps.append(lambda n=nid: SetLabelCommand(graph, n, target.nodes[n].label))
    for edge in target.edges:
        if (edge.src, edge.dst, edge.dst_port) not in kept:
            steps.append(lambda e=edge: ConnectCommand(graph, e.src, e.dst, e.dst_port))
    return steps


_MISSING = object()
