"""The Runs panel in the window: every run the project keeps, compared, restored, branched, pinned, renamed,
deleted and exported, and the sweeps that make them.

The panel (``panels/runs.py``) and the dashboard's "Runs compared" plot only show the session: its runs
(``runs_changed``), the runs compared (``compared_changed``: the panel's selection, owned by the session) and
the sweep (``sweep_changed``). Each edit the panel asks for becomes an undo command (``run_commands``); Branch
and Sweep ask for their settings and hand the run to the training controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from nnstudio.core.errors import NNStudioError
from nnstudio.core.runs import find, runs_table
from nnstudio.core.sweep import spec_from_dict, sweep_results
from nnstudio.ui.panels.runs import RunsPanel
from nnstudio.ui.run_commands import DeleteRunsCommand, PinRunCommand, RenameRunCommand, restore_run
from nnstudio.ui.safe_text import one_line

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow


class RunsController(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.session = session = window.document.session
        self.training = window.training
        self.panel = RunsPanel()
        self.panel.setMinimumSize(120, 100)
        # A fifth tab on the right (the Train workspace shows it): beside the dashboard's "Runs compared" plot,
        # and the canvas and the dashboard keep their width.
        window.add_dock(self.panel, "Runs", "dock_runs", Qt.DockWidgetArea.RightDockWidgetArea)
        window.tabifyDockWidget(window.docks["dock_predict"], window.docks["dock_runs"])
        window.training.menu.insertAction(window.training.sweep_action, window.docks["dock_runs"].toggleViewAction())
        p = self.panel
        p.rename_requested.connect(self.rename)
        p.pin_requested.connect(self.pin)
        p.delete_requested.connect(self.delete)
        p.restore_requested.connect(self.restore)
        p.branch_requested.connect(self.ask_branch)
        p.compare_changed.connect(session.compare)
        p.export_csv_requested.connect(self.export_csv)
        p.sweep_requested.connect(self.ask_sweep)
        p.stop_sweep_requested.connect(self.training.stop)
        p.offer_accepted.connect(self.run_offered)
        for event in (session.project_replaced, session.runs_changed, session.shapes_changed):
            event.connect(self.show_runs)
        session.project_replaced.connect(self._bring_offer_forward)
        session.compared_changed.connect(lambda ids: p.set_selected(list(ids)))
        session.sweep_changed.connect(self.show_sweep)
        session.run_state_changed.connect(self._busy)
        self.show_runs()
        self.show_sweep()
        self._busy()

    # -- showing ------------------------------------------------------------------------------------------
    def show_runs(self, *_args) -> None:
        self.panel.show_runs(runs_table(self.session.project, self.session.fingerprint), self.session.runs)
        self.panel.set_selected(list(self.session.compared))
        self._show_results()
        self.panel.show_offer(self.offered_text())

    def _bring_offer_forward(self, *_args) -> None:
        """A project that comes with a sweep (an example) opens with the Runs panel in front, its offer in view."""
        if self.offered() is not None:
            dock = self.window.docks["dock_runs"]
            dock.show()
            dock.raise_()

    def offered(self):
        """The sweep the project comes with (its saved sweep, while none of its runs is a sweep's), or None."""
        saved = self.session.project.sweep
        if saved is None or any(r.get("sweep") for r in self.session.runs):
            return None
        try:
            return spec_from_dict(saved, self.session.graph)
        except NNStudioError:
            return None

    def offered_text(self) -> str | None:
        from nnstudio.core.sweep import spec_text

        spec = self.offered()
        return None if spec is None else f"This project comes with a sweep: {spec_text(spec)}."

    def run_offered(self) -> bool:
        """The offer's one click: train the project's sweep as it is saved."""
        spec = self.offered()
        return spec is not None and self.training.sweep(spec)

    def show_sweep(self, *_args) -> None:
        sweep = self.session.sweep
        if sweep is None:
            self.panel.show_sweep(None, [], False)
        else:
            self.panel.show_sweep(sweep.sweep_id, sweep.points(), sweep.running)
        self._show_results()

    def _show_results(self) -> None:
        """The results table of the sweep shown (the one training or last run), else of the newest sweep."""
        sweep = self.session.sweep
        sweep_id = sweep.sweep_id if sweep is not None else next(
            (r["sweep"] for r in reversed(self.session.runs) if r.get("sweep")), None)
        rows = sweep_results(self.session.project, sweep_id) if sweep_id else []
        self.panel.show_results(sweep_id if rows else None, rows)

    def _busy(self, *_args) -> None:
        self.panel.set_busy("Training is running: wait for it to end or stop it" if self.session.locked else None)

    # -- edits --------------------------------------------------------------------------------------------
    def _push(self, make) -> bool:
        try:
            self.window.document.undo_stack.push(make())
        except NNStudioError as exc:
            self.window.show_status(str(exc), 8000)
            return False
        return True

    def rename(self, run_id: str, name: str) -> bool:
        from nnstudio.core.runs import MAX_RUN_NAME

        text = one_line(name, 10_000).strip()
        if not text or len(text) > MAX_RUN_NAME:
            self.window.show_status(f"A run's name has 1 to {MAX_RUN_NAME} characters", 8000)
            self.show_runs()
            return False
        return self._push(lambda: RenameRunCommand(self.session, run_id, text))

    def pin(self, run_id: str, on: bool) -> bool:
        from nnstudio.core.runs import MAX_PINNED

        if on and sum(bool(r.get("pinned")) for r in self.session.runs) >= MAX_PINNED:
            self.window.show_status(f"At most {MAX_PINNED} runs can be pinned: unpin one first", 8000)
            return False
        return self._push(lambda: PinRunCommand(self.session, run_id, on))

    def delete(self, ids: list) -> bool:
        if not ids:
            return False
        return self._push(lambda: DeleteRunsCommand(self.session, list(ids)))

    def restore(self, run_id: str) -> bool:
        """Put the run's network and settings on the canvas (one undo step)."""
        try:
            changed = restore_run(self.window.document.undo_stack, self.session, run_id)
        except NNStudioError as exc:
            self.window.show_error("Cannot restore the run", str(exc))
            return False
        name = one_line(find(self.session.project, run_id)["name"], 80)
        self.window.show_status(f"Restored the network and settings of {name}" if changed else
                                f"The network and settings are already those of {name}", 8000)
        return changed

    # -- branching ----------------------------------------------------------------------------------------
    def ask_branch(self, run_id: str) -> bool:
        """Branch… : the run's network must be the one on the canvas (offer to restore it), then ask for the
        settings and train."""
        from nnstudio.core.training.project_run import branch_epoch

        session = self.session
        try:
            run = find(session.project, run_id)
        except NNStudioError as exc:
            self.window.show_error("Cannot branch", str(exc))
            return False
        if not session.project.run_weights.get(run_id):
            self.window.show_error("Cannot branch", f"{one_line(run['name'], 80)} keeps no weights: only pinned runs "
                                   "and the latest one keep theirs. Pin a run to branch from it later.")
            return False
        if run.get("fingerprint") and run["fingerprint"] != session.fingerprint:
            answer = self.window.ask_question(
                "The network has changed", f"{one_line(run['name'], 80)} trained another version of the network. "
                "Restore its network and settings first (Edit > Undo takes them back)?")
            if answer != QMessageBox.StandardButton.Yes or not self.restore(run_id):
                return False
            self.window.document.watcher.refresh()
        dialog = self.make_branch_dialog(run, branch_epoch(session.project, run_id))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return self.training.branch(run_id, dialog.overrides())

    def make_branch_dialog(self, run: dict, epoch: int):
        """The dialog Branch… shows (tests answer it instead)."""
        from nnstudio.ui.branch_dialog import BranchDialog

        return BranchDialog(run, epoch, self.window)

    # -- sweeps -------------------------------------------------------------------------------------------
    def ask_sweep(self) -> bool:
        """Train > Sweep… and the panel's Sweep…: the dialog (with the project's saved sweep), then train."""
        from nnstudio.ui.sweep_dialog import SweepDialog

        if self.session.locked:
            self.window.show_status("Training is running: wait for it to end or stop it", 6000)
            return False
        dialog = self.make_sweep_dialog(SweepDialog(self.session.graph, self.window))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        try:
            spec = dialog.spec()
        except NNStudioError as exc:
            self.window.show_error("Cannot run the sweep", str(exc))
            return False
        self.window.docks["dock_runs"].show()
        self.window.docks["dock_runs"].raise_()
        return self.training.sweep(spec)

    def make_sweep_dialog(self, dialog):
        """Fill the dialog with the project's saved sweep (tests answer the dialog instead)."""
        saved = self.session.project.sweep
        if saved is not None:
            try:
                dialog.load(spec_from_dict(saved, self.session.graph))
            except NNStudioError:  # a Dropout layer it names is gone: the dialog starts afresh
                pass
        return dialog

    # -- export -------------------------------------------------------------------------------------------
    def export_csv(self, ids: list) -> str | None:
        """Every epoch row of these runs (all runs when none), as one CSV (asks where)."""
        from nnstudio.core.runs_export import runs_csv

        wanted = set(ids)
        chosen = [r for r in self.session.runs if not wanted or r["id"] in wanted]
        if not chosen:
            self.window.show_status("There are no runs to export yet", 6000)
            return None
        path = self.ask_csv_path()
        if not path:
            return None
        try:
            written = runs_csv(chosen, path)
        except (OSError, NNStudioError) as exc:
            self.window.show_error("Could not save the CSV", str(exc))
            return None
        self.window.show_status(f"Saved {len(chosen)} run{'s' if len(chosen) != 1 else ''} to {written}", 8000)
        return str(written)

    def ask_csv_path(self) -> str | None:
        from nnstudio.ui.plots import export

        return export.ask_save_path(self.window, "Export runs as CSV", "runs.csv", export.CSV_FILTER)
