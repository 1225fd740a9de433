"""Undoable edits of what the session owns besides the graph: the dataset and the training settings. They
sit on the same undo stack as graph edits, so "modified" is the stack's clean state and Ctrl+Z undoes a
dataset choice like a wire. Each holds plain dicts (copies), never widgets.

Typing in one field (a spin box sends a value per step) makes one command: consecutive edits of the same
single key merge."""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtGui import QUndoCommand

from nnstudio.core.session import EditRefused, Session
from nnstudio.ui.safe_text import menu_text

DATASET_ID = 0x4E4E01
TRAINING_ID = 0x4E4E02


class _SessionEdit(QUndoCommand):
    """Set one of the session's dicts to ``new``; undo sets back what it was. Refused (EditRefused) while a
    run is active, before the stack takes the command."""

    kind_id = -1

    def __init__(self, session: Session, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        super().__init__()
        refusal = session.edit_refusal()
        if refusal:
            raise EditRefused(refusal)
        self.session = session
        self.new, self.old = copy.deepcopy(new), copy.deepcopy(old)
        self.setText(self._describe())

    def _apply(self, value: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)

    def id(self) -> int:
        return self.kind_id

    def changed_keys(self) -> set[str]:
        old, new = self.old or {}, self.new or {}
        return {k for k in set(old) | set(new) if old.get(k, _MISSING) != new.get(k, _MISSING)}

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, type(self)) or other.old != self.new:
            return False
        keys = self.changed_keys()
        if len(keys) != 1 or keys != other.changed_keys() or "name" in keys:
            return False
        self.new = copy.deepcopy(other.new)
        self.setText(self._describe())
        return True


_MISSING = object()


class SetDatasetCommand(_SessionEdit):
    """Choose the project's dataset or change its options (None: no dataset)."""

    kind_id = DATASET_ID

    def __init__(self, session: Session, config: dict[str, Any] | None) -> None:
        super().__init__(session, config or None, session.dataset)

    def _apply(self, value: dict[str, Any] | None) -> None:
        self.session.set_dataset(value)

    def _describe(self) -> str:
        new, old = self.new or {}, self.old or {}
        if not new:
            return "Remove Dataset"
        if new.get("name") != old.get("name"):
            return f"Choose Dataset {menu_text(new.get('name', '?'))}"
        keys = sorted(self.changed_keys())
        return f"Change Dataset {menu_text(keys[0])}" if len(keys) == 1 else "Change Dataset Options"


class SetTrainingCommand(_SessionEdit):
    """Change the training settings (the whole dict)."""

    kind_id = TRAINING_ID

    def __init__(self, session: Session, settings: dict[str, Any]) -> None:
        super().__init__(session, dict(settings or {}), session.training)

    def _apply(self, value: dict[str, Any] | None) -> None:
        self.session.set_training(value)

    def _describe(self) -> str:
        keys = sorted(self.changed_keys())
        return f"Change {menu_text(keys[0]).replace('_', ' ')}" if len(keys) == 1 else "Change Training Settings"


def push_dataset(stack, session: Session, config: dict[str, Any] | None) -> bool:
    """Push the dataset edit when it changes anything; False when it does not (or is refused: EditRefused)."""
    command = SetDatasetCommand(session, config)
    if command.new == command.old:
        return False
    stack.push(command)
    return True


def push_training(stack, session: Session, settings: dict[str, Any]) -> bool:
    command = SetTrainingCommand(session, settings)
    if command.new == command.old:
        return False
    stack.push(command)
    return True
