"""The open project: the window's session (``core.session.Session``: the project, where it lives on disk and
everything derived from it), its undo stack and the relay that tells the session of graph edits.

"Unsaved changes" is ``not undo_stack.isClean()`` or a trained run stored since the last save
(``session.unsaved_run``); saving marks both clean, New and Open start clean. Opening a file that cannot be
read raises ProjectFileError and leaves the current project exactly as it was. What opening a file left out or
changed (a malformed history dropped by the loader, layers placed off the canvas and arranged again) is in
``warnings``, one plain line each, until the next project replaces it; a changed project opens unsaved.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from nnstudio.core.project import Project, load_project, save_project
from nnstudio.core.session import Session
from nnstudio.ui.canvas.layout import repair_layout
from nnstudio.ui.inference import ShapeWatcher
from nnstudio.ui.recent import MAX_RECENT, RECENT_KEY, RecentFiles  # noqa: F401 - where the window looks

FILE_SUFFIX = ".nnstudio"
FILE_FILTER = "NN Studio projects (*.nnstudio);;All files (*)"


class Document(QObject):
    """Signals: ``project_replaced(Project)`` after new/open (the graph object changed: views re-bind; the
    session's own ``project_replaced`` event comes first), ``modified_changed(bool)`` when the unsaved state flips, ``path_changed(str)`` when the file is renamed
    (save as) or replaced ('' for untitled)."""

    project_replaced = Signal(object)
    modified_changed = Signal(bool)
    path_changed = Signal(str)
    saved = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.session = Session()
        self.watcher = ShapeWatcher(self.session, self)
        self.warnings: list[str] = []  # what opening the file left out or changed, one line each
        self._modified = False
        self.undo_stack.cleanChanged.connect(self._announce_modified)  # a method: gone with the document
        self.session.unsaved_run_changed.connect(self._announce_modified)

    def _announce_modified(self, *_args) -> None:
        modified = self.modified
        if modified != self._modified:
            self._modified = modified
            self.modified_changed.emit(modified)

    # -- state ------------------------------------------------------------------------------------------
    project = property(lambda self: self.session.project)
    path = property(lambda self: self.session.path, doc="The project's file (resolved), None for untitled.")

    @property
    def graph(self):
        return self.session.graph

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean() or self.session.unsaved_run

    @property
    def display_name(self) -> str:
        """What the title bar shows: the file name, or the project's name (or "Untitled") before a save."""
        if self.path is not None:
            return self.path.name
        return self.project.name or "Untitled"

    # -- new / open / save --------------------------------------------------------------------------------
    def new(self) -> None:
        self._replace(Project(), None)

    def open(self, path: str | os.PathLike[str]) -> Project:
        """Load ``path``; ProjectFileError (with the reason) if it cannot be read, the current project intact."""
        project, warnings, changed = _load(path)  # raises before anything here changes
        self._replace(project, Path(path).resolve(), warnings)
        if changed:
            self.undo_stack.resetClean()  # what is shown is not what the file holds
        return project

    def open_copy(self, path: str | os.PathLike[str]) -> Project:
        """Load ``path`` as a new untitled project (examples): Save asks where to write it."""
        project, warnings, changed = _load(path)
        self._replace(project, None, warnings)
        if changed:
            self.undo_stack.resetClean()
        return project

    def import_project(self, project: Project, warnings: list[str] | None = None) -> None:
        """An imported model as a new untitled project, unsaved (File > Import Model…); its layers keep the
        importer's places (a collapsed block is one slot), arranged again only when they are unusable."""
        from nnstudio.ui.canvas.layout import repair_layout

        repair_layout(project.graph)
        self._replace(project, None, warnings)
        self.undo_stack.resetClean()

    def recover(self, path: str | os.PathLike[str], original: str | None = None) -> Project:
        """Load an autosaved copy; it stays marked unsaved and saves to ``original`` (if it had a file)."""
        project, warnings, _changed = _load(path)
        self._replace(project, Path(original) if original else None, warnings)
        self.undo_stack.resetClean()  # nothing on the stack, yet the work is not on disk
        return project

    def save(self) -> bool:
        """Save to the current path; False when the project has none yet (the caller asks for one)."""
        if self.path is None:
            return False
        self.save_as(self.path)
        return True

    def save_as(self, path: str | os.PathLike[str]) -> None:
        """Write the project atomically to ``path`` (ProjectFileError / OSError propagate; nothing changes)."""
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(FILE_SUFFIX)
        if not self.project.name:
            self.project.name = path.stem
        save_project(self.project, path)
        renamed = self.path != path.resolve()
        self.session.saved(path.resolve())
        self.undo_stack.setClean()
        self._announce_modified()
        if renamed:
            self.path_changed.emit(str(self.path))
        self.saved.emit(str(self.path))

    def _replace(self, project: Project, path: Path | None, warnings: list[str] | None = None) -> None:
        self.undo_stack.clear()  # commands refer to the old graph; clear() also marks the stack clean
        self.warnings = list(warnings or [])
        self.session.replace(project, path)  # the watcher follows the new graph; views re-bind on its event ...
        self._announce_modified()
        self.project_replaced.emit(project)
        self.watcher.announce()  # ... and then get its shapes
        self.path_changed.emit(str(path) if path else "")


def _load(path: str | os.PathLike[str]) -> tuple[Project, list[str], bool]:
    """The project in ``path``, what its loading left out (``Project.load_warnings``) and whether the window
    changed it to show it (layers placed off the canvas or on one spot are arranged again)."""
    project = load_project(path)
    warnings = [str(w) for w in (getattr(project, "load_warnings", None) or [])]
    layout = repair_layout(project.graph)
    if layout:
        warnings.append(f"{Path(path).name}: {layout}")
    return project, warnings, layout is not None
