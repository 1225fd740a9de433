"""The questions the main window asks (unsaved changes, file names, errors, recovery, continuing a trained
run, which example): each is one method, so tests replace it instead of running a blocking dialog. Every text
is plain: what a file put into it is shown, never rendered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from nnstudio.ui.document import FILE_FILTER
from nnstudio.ui.panels.examples_dialog import ExamplesDialog
from nnstudio.ui.recovery import Recoverable
from nnstudio.ui.safe_text import message_box, one_line, safe_stem

APP_NAME = "NN Studio"


class WindowDialogs:
    """Mixed into MainWindow (it reads ``document`` and ``recent``)."""

    def ask_question(self, title: str, text: str) -> QMessageBox.StandardButton:
        """A Yes / No question (tests patch this method instead of showing the dialog)."""
        return QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                    QMessageBox.StandardButton.No)

    def ask_continue(self, epochs: int) -> str | None:
        """F5 on a trained project: "continue" (more epochs from its weights and optimizer state), "restart"
        (train from the beginning) or None (cancel). Tests patch this method."""
        box = message_box(
            self, QMessageBox.Icon.Question, "Continue training?",
            "This network has been trained. Continue from its weights, or start over?",
            f"Continue trains {epochs} more epoch{'s' if epochs != 1 else ''} from where the last run stopped "
            "(the optimizer's state too); Start Over trains the network from new random weights, and the "
            "current weights are replaced when it finishes.",
            buttons=QMessageBox.StandardButton.Cancel, default=None)
        go_on = box.addButton("&Continue Training", QMessageBox.ButtonRole.AcceptRole)
        over = box.addButton("Start &Over", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(go_on)
        box.exec()
        clicked = box.clickedButton()
        return "continue" if clicked is go_on else "restart" if clicked is over else None

    def ask_unsaved_changes(self) -> QMessageBox.StandardButton:
        box = message_box(self, QMessageBox.Icon.Warning, APP_NAME,
                          f"Save the changes to “{one_line(self.document.display_name)}” before closing it?",
                          "Your changes will be lost if you don't save them.",
                          buttons=QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, default=QMessageBox.StandardButton.Save)
        return QMessageBox.StandardButton(box.exec())

    def ask_open_path(self) -> str | None:
        start = str(Path(self.recent.paths()[0]).parent) if self.recent.paths() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open Project", start, FILE_FILTER)
        return path or None

    def ask_save_path(self) -> str | None:
        doc = self.document
        start = str(doc.path) if doc.path else f"{safe_stem(doc.project.name or 'untitled')}.nnstudio"
        path, _ = QFileDialog.getSaveFileName(self, "Save Project As", start, FILE_FILTER)
        return path or None

    def show_error(self, title: str, message: str) -> None:
        """A modal error box; its text is plain (a message quoting a file is shown, never rendered)."""
        message_box(self, QMessageBox.Icon.Critical, title, message).exec()

    def ask_recover(self, item: Recoverable) -> bool:
        from datetime import datetime

        when = datetime.fromtimestamp(item.saved_at).strftime("%Y-%m-%d %H:%M")
        box = message_box(
            self, QMessageBox.Icon.Question, "Recover unsaved work",
            f"NN Studio did not close normally. Unsaved changes to “{one_line(item.name)}” were autosaved at "
            f"{when}.\n\nRecover them?",
            buttons=QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            default=QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    def choose_example(self) -> Path | None:
        return ExamplesDialog.choose(self)
