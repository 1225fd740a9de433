"""The main window: the canvas in the centre, dockable panels around it, menus, toolbars and status bar, in two
workspaces (``workspaces.Workspaces``): Build (layer palette left, inspector right, model summary below) and
Train (the dashboard's plots across the bottom, the training controls right, the canvas as an overview). The
status bar counts the problems; a click on the count opens the Problems list.

While no project is open the centre shows the start page instead (``show_start_page``; a QStackedWidget holds
both): the examples, the recent projects, "Empty network". The docks and toolbars step aside meanwhile (their
layout is kept and comes back, and is what is saved), and the page goes as soon as a project is opened, the
empty network is chosen or the project is edited (``hide_start_page``). File > Start Page shows it again.

Every question the window asks the user goes through one small method of ``dialogs.WindowDialogs``
(``ask_unsaved_changes``, ``ask_open_path``, ``show_error``, ``ask_continue`` ...) so tests replace it instead of
running a blocking dialog.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QPointF, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFont, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nnstudio import __version__
from nnstudio.core.errors import NNStudioError
from nnstudio.core.shapes import GraphInfo
from nnstudio.ui.actions import (
    ShortcutsDialog,
    build_actions,
    refresh_icons,
    shortcut_rows,
)
from nnstudio.ui.canvas import align, context_menu, style
from nnstudio.ui.canvas.layout import fit_zoom, free_spot
from nnstudio.ui.canvas.scene import GraphScene
from nnstudio.ui.canvas.view import GraphView
from nnstudio.ui.dialogs import APP_NAME, WindowDialogs
from nnstudio.ui.document import Document, RecentFiles
from nnstudio.ui import frame_commands
from nnstudio.ui.error_report import reason
from nnstudio.ui.mime import NODES_MIME, copied_nodes, put_nodes
from nnstudio.ui.panels.inspector import InspectorPanel
from nnstudio.ui.panels.palette import PalettePanel
from nnstudio.ui.panels.problems import ProblemsPanel
from nnstudio.ui.panels.summary import SummaryPanel
from nnstudio.ui.pinned import Pinned
from nnstudio.ui.recovery import Autosaver, find_recoverable
from nnstudio.ui.safe_text import menu_text, one_line, window_title
from nnstudio.ui.start_host import StartPageHost
from nnstudio.ui.theme import app_icon
from nnstudio.ui.workspaces import BUILD, LAYOUT_VERSION, Workspaces
NODE_SIZE = (style.NODE_W, style.NODE_H)  # for placing new layers without overlap
log = logging.getLogger(__name__)


def file_problem(path: str | Path, exc: BaseException) -> str:
    """Why ``path`` could not be read or written, in one line that names it."""
    if isinstance(exc, NNStudioError):
        text = one_line(str(exc), 600)
    elif isinstance(exc, OSError):
        text = one_line(exc.strerror or str(exc), 300)
    else:  # not a failure the project code foresaw: the line says what, the log has the traceback
        text = reason(exc)
    name = one_line(Path(path).name, 300) if str(path) else ""
    return text if name and name in text else f"{one_line(path, 600)}: {text}"


class MainWindow(QMainWindow, StartPageHost, WindowDialogs):
    STATE_VERSION = LAYOUT_VERSION  # of saveState / restoreState (StartPageHost uses it)

    def __init__(self, settings: QSettings | None = None, autosave_folder: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowIcon(app_icon())
        self.settings = settings if settings is not None else QSettings()
        self.recent = RecentFiles(self.settings)
        self.document = Document(self)
        self.session = self.document.session  # the one owner of the project's state: views derive from it
        self.docks: dict[str, QDockWidget] = {}
        self._layout_restored = False
        self._shortcuts_dialog: ShortcutsDialog | None = None
        self._copied = False  # whether this window put layers on the clipboard (see release_clipboard)
        self.start_page = None  # made when first shown (show_start_page)
        self._layout_behind_start = None

        self.scene = GraphScene(self)
        self.view = GraphView(self.scene)
        self.view.setObjectName("canvasView")
        self.central = QStackedWidget()
        self.central.setObjectName("centralStack")
        self.central.addWidget(self.view)
        centre = QWidget()
        centre.setObjectName("centre")
        self._centre_layout = QVBoxLayout(centre)
        self._centre_layout.setContentsMargins(0, 0, 0, 0)
        self._centre_layout.setSpacing(0)
        self._centre_layout.addWidget(self.central, 1)
        self.setCentralWidget(centre)
        self.scene.attach(self.document.watcher)

        self.palette_panel = PalettePanel()
        self.inspector = InspectorPanel()
        self.summary = SummaryPanel()
        self.problems = ProblemsPanel()
        self.acts = build_actions(self)
        self.setDockOptions(QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock(self.palette_panel, "Layers", "dock_palette", Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock(self.inspector, "Inspector", "dock_inspector", Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock(self.summary, "Model Summary", "dock_summary", Qt.DockWidgetArea.BottomDockWidgetArea)
        self.add_dock(self.problems, "Problems", "dock_problems", Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.docks["dock_summary"], self.docks["dock_problems"], Qt.Orientation.Horizontal)
        self.session.project_replaced.connect(self._bind_project)  # first: views re-bind before panels read
        from nnstudio.ui.training_controller import TrainingController

        self.training = TrainingController(self)
        from nnstudio.ui.runs_controller import RunsController

        self.runs = RunsController(self)
        self.workspaces = Workspaces(self)
        self._centre_layout.insertWidget(0, self.workspaces.offer)
        self.workspaces.add_to_menu(self.acts.view_menu, self.acts.reset_layout)
        self._add_start_page_action()

        bar = self.statusBar()
        self.params_label = QLabel()
        self.params_label.setObjectName("statusParams")
        self.state_label = QToolButton()  # the project's state; with problems, a click opens their list
        self.state_label.setObjectName("statusState")
        self.state_label.setAutoRaise(True)
        self.state_label.clicked.connect(self.workspaces.show_problems)
        self._state_shown: tuple[str, str, str] | None = None
        for label in (self.params_label, self.state_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        bold = QFont(self.state_label.font())
        bold.setBold(True)  # room for "training 100%", so that the status bar never cuts it
        self._state_width = QFontMetrics(bold).horizontalAdvance("training 100%") + 24
        self.state_label.setMinimumWidth(self._state_width)

        self.autosaver = Autosaver(self.document, autosave_folder, parent=self)
        self.autosaver.failed.connect(self.show_status)

        doc, session = self.document, self.session
        doc.modified_changed.connect(self.update_title)
        doc.project_replaced.connect(self.hide_start_page)  # opened, recovered or new: the page has done its job
        doc.modified_changed.connect(lambda modified: modified and self.hide_start_page())
        doc.path_changed.connect(self.update_title)
        doc.watcher.inferred.connect(self._on_inferred)
        for event in (session.problems_changed, session.readiness_changed, session.run_state_changed):
            event.connect(self._update_state)
        session.selection_changed.connect(self._show_selection)
        session.training_changed.connect(lambda _settings: self._show_costs())
        self.problems.bind_session(session)
        self.scene.selectionChanged.connect(self._on_selection_changed)
        self.scene.status_message.connect(self.show_status)
        self.scene.locked_changed.connect(self.inspector.set_locked)
        self.inspector.status_message.connect(self.show_status)
        self.palette_panel.layer_activated.connect(self.add_layer)
        self.summary.node_selected.connect(self.focus_node)
        self.problems.node_selected.connect(self.focus_node)
        self._bind_project()
        context_menu.install(self)  # right-click menus and the quick-add search (Tab, a wire let go in space)
        frame_commands.install(self)  # frames around layers (Edit > Group in Frame), drawn on the canvas
        align.install(self)  # View > Arrange, the minimap and building by keyboard
        self.resize(1400, 900)
        self.restore_layout()
        self.workspaces.show_problem_count()

    # -- docks and layout ---------------------------------------------------------------------------------
    def add_dock(self, widget: QWidget, title: str, object_name: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Dock ``widget`` (later issues add their panels the same way); its toggle goes in View > Panels.
        A dock added after the saved layout was restored gets its own saved place back."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)
        dock.setWidget(Pinned(widget))  # what changes inside a panel re-lays out the panel, not every dock
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if not (self._layout_restored and self.restoreDockWidget(dock)):  # its place from the saved layout
            self.addDockWidget(area, dock)
            if self.isVisible():
                dock.show()
        self.docks[object_name] = dock
        toggle = dock.toggleViewAction()
        toggle.setObjectName(f"action_toggle_{object_name}")
        self.acts.panels_menu.addAction(toggle)
        return dock

    def restore_layout(self) -> bool:
        """Window geometry, the workspace shown and each workspace's layout from the last run; the default
        layouts when there are none."""
        self._layout_restored = True
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        return self.workspaces.restore(self.settings)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.workspaces.sizes_pending and not self.start_page_shown:  # else when the docks come back
            self.workspaces.apply_default_sizes()
            self.fit_soon()

    def fit_soon(self) -> None:
        """Fit the view now and once more after pending layout changes (a dock resizing) have settled."""
        self.view.fit()
        QTimer.singleShot(0, self.view.fit)

    def current_layout(self) -> QByteArray:
        """The docks' layout of the workspace shown (the one the start page keeps aside while it is shown)."""
        if self.start_page_shown and self._layout_behind_start is not None:
            return QByteArray(self._layout_behind_start)
        return self.saveState(LAYOUT_VERSION)

    def save_layout(self) -> None:
        """Geometry, the workspace shown and both workspaces' layouts."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.workspaces.save(self.settings, self.current_layout())
        self.settings.sync()

    def reset_layout(self) -> None:
        """View > Reset Layouts: both workspaces as they first were (after the start page, if it is shown)."""
        if self.start_page_shown:  # the default layout comes back with the canvas
            self.workspaces.layouts = {name: None for name in self.workspaces.layouts}
            self.training.dashboard.grid.arrange_default()
            self._layout_behind_start = None
            return
        self.workspaces.reset()

    # -- binding the document -----------------------------------------------------------------------------
    def _bind_project(self, _project=None) -> None:
        doc = self.document
        self.scene.set_graph(doc.graph, doc.undo_stack)
        self.inspector.set_graph(doc.graph, doc.undo_stack)
        self.summary.set_graph(doc.graph)
        self.problems.set_file_warnings(doc.warnings)
        self.statusBar().clearMessage()  # the last project's messages (a run's result) are not this one's
        self._show_selection(self.session.selection)
        self.update_title()

    def _on_inferred(self, info: GraphInfo) -> None:
        self.summary.update_info(self.document.graph, info)
        self._show_costs(info)
        self.inspector.set_info(info)
        self.params_label.setText(f"{info.total_params:,} parameters")
        self._update_state()

    def _show_costs(self, info: GraphInfo | None = None) -> None:
        from nnstudio.ui.costs_view import show_costs

        show_costs(self, info)

    def _update_state(self, *_args) -> None:
        """The status bar's state: the run's phase while one is active, else whether the project can train."""
        session = self.session
        run, count = session.run, len(session.problems)
        if run.active:
            words = {"preparing": "preparing to train", "paused": "training paused", "stopping": "stopping"}
            state, color = words.get(run.phase, f"training {run.progress:.0%}"), "#2f6fb0"
        elif not session.graph.nodes:
            state, color = "empty", ""
        elif count:
            state, color = f"{count} problem{'s' if count != 1 else ''}", "#c0392b"
        elif session.readiness == "checking":
            state, color = "checking the data…", "#8a6d1f"
        else:
            state, color = "ready", "#2e8b57"
        shown = (state, color, session.train_refusal() or "Ready to train (F5)")
        if shown == self._state_shown:
            return  # the run's progress comes four times a second; a restyle costs a relayout
        restyle = self._state_shown is None or self._state_shown[1] != color
        self._state_shown = shown
        self.state_label.setText(state)
        tip = shown[2] + (" — click to see the list" if count and not run.active else "")
        self.state_label.setToolTip(tip)
        if restyle:  # a new style sheet re-polishes the button: only when the colour changes
            self.state_label.setStyleSheet(f"QToolButton {{ color: {color}; font-weight: bold; }}" if color else "")
        # a fixed size, so that the percentage counting up does not re-lay out the status bar and the window
        bold = QFont(self.state_label.font())
        bold.setBold(True)
        width = max(self._state_width, QFontMetrics(bold).horizontalAdvance(state) + 24)
        size = QSize(width, self.state_label.sizeHint().height())
        if self.state_label.minimumSize() != size or self.state_label.maximumSize() != size:
            self.state_label.setFixedSize(size)

    def update_title(self, *_args) -> None:
        if self.start_page_shown and not self._has_project():
            self.setWindowTitle(APP_NAME)
        else:
            self.setWindowTitle(f"{window_title(self.document.display_name)}[*] — {APP_NAME}")
        self.setWindowModified(self.document.modified)

    def _on_selection_changed(self) -> None:
        self.session.select(self.scene.selected_node_ids())

    def _show_selection(self, ids: tuple[str, ...]) -> None:
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))
        self.summary.select_node(ids[0] if len(ids) == 1 else None)
        if len(ids) == 1 and hasattr(self, "workspaces") and self.workspaces.current == BUILD:
            inspector = self.docks["dock_inspector"]
            if inspector.toggleViewAction().isChecked():  # open, perhaps behind Dataset or Training
                inspector.raise_()  # a layer selected or dropped: its settings come forward
        if len(ids) == 1 and hasattr(self, "training"):
            self.training.dashboard.select_layer(ids[0])  # its weights and activations in the dashboard

    def focus_node(self, node_id: str) -> None:
        """Select ``node_id`` alone and bring it to the middle of the view."""
        if node_id in self.document.graph.nodes:
            self.scene.select_nodes([node_id])
            self.view.center_on_node(node_id)

    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(one_line(message, 500), timeout_ms)

    # -- adding layers ------------------------------------------------------------------------------------
    def add_layer(self, type_id: str) -> str | None:
        """Palette double-click: add the layer right of the selected node and wire it there when that makes
        sense, otherwise at the centre of the view; never on top of another node."""
        graph = self.document.graph
        ids = self.scene.selected_node_ids()
        after = ids[0] if len(ids) == 1 and graph.nodes[ids[0]].spec.has_output_port else None
        if after is not None:
            x, y = graph.nodes[after].position
            x += NODE_SIZE[0] + 60
        else:
            centre = self.view.mapToScene(self.view.viewport().rect().center())
            x, y = centre.x() - NODE_SIZE[0] / 2, centre.y() - NODE_SIZE[1] / 2
        x, y = free_spot(graph, x, y)
        node_id = self.scene.add_node(type_id, QPointF(x, y), after=after)
        if node_id:
            item = self.scene.node_item(node_id)
            if item is not None:
                self.view.ensureVisible(item, 40, 40)
        return node_id

    # -- edit menu ----------------------------------------------------------------------------------------
    def copy(self) -> bool:
        clip = self.scene.copy_selection()
        if not clip.get("nodes"):
            return False
        put_nodes(clip)
        self._copied = True
        count = len(clip["nodes"])
        self.show_status(f"Copied {count} layer{'s' if count != 1 else ''}", 3000)
        return True

    def cut(self) -> None:
        if self.copy():
            self.scene.delete_selection()

    def paste(self) -> list[str]:
        """Edit > Paste: at the mouse cursor when it is over the canvas, else beside the copied layers."""
        return self.paste_at(self.view.cursor_scene_pos())

    def paste_at(self, scene_pos: QPointF | None) -> list[str]:
        """Paste the copied layers with their top-left at ``scene_pos`` (None: beside the originals)."""
        clip = copied_nodes()
        if isinstance(clip, str):
            self.show_status(clip, 3000)
            return []
        return self.scene.paste(clip, at=scene_pos)

    def duplicate(self) -> list[str]:
        return self.scene.duplicate_selection()

    def delete(self) -> None:
        self.scene.delete_selection()

    def select_all(self) -> None:
        self.scene.select_all()

    def auto_layout(self) -> None:
        self.scene.auto_layout()
        self.view.fit()

    # -- export -----------------------------------------------------------------------------------------
    # -- file menu ----------------------------------------------------------------------------------------
    def may_replace(self, what: str) -> bool:
        """True when the current project may be closed or replaced (``what`` says by what, for the question
        asked while training runs): no run is active or the person stopped it, and nothing unsaved is lost."""
        return self.training.confirm_drop(what) and self.maybe_save()

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or nothing to save)."""
        if not self.document.modified:
            return True
        answer = self.ask_unsaved_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> bool:
        if not self.may_replace("create a new project"):
            return False
        self.document.new()
        return True

    def open_dialog(self) -> bool:
        if not self.may_replace("open another project"):
            return False
        path = self.ask_open_path()
        return self.load_file(path) if path else False

    def open_file(self, path: str | Path) -> bool:
        """Open ``path`` after asking about unsaved changes."""
        return self.may_replace("open another project") and self.load_file(path)

    def load_file(self, path: str | Path) -> bool:
        """Open ``path`` now; a file that cannot be read is reported and the current project stays as it is."""
        try:
            self.document.open(path)
        except Exception as exc:  # noqa: BLE001 - whatever a file causes is one line naming it, never a crash
            self._file_failed("Cannot open project", path, exc)
            try:
                if not Path(path).exists():
                    self.recent.remove(str(Path(path).resolve()))
            except (OSError, ValueError):
                pass
            return False
        self.recent.add(path)
        self.fit_soon()
        self.show_status(f"Opened {Path(path).name}", 4000)
        self._tell_warnings(f"Opened {Path(path).name}")
        return True

    def _file_failed(self, title: str, path: str | Path, exc: BaseException) -> None:
        if not isinstance(exc, (NNStudioError, OSError)):
            log.error("%s: %s", title, path, exc_info=exc)  # the traceback goes to the log, not the screen
        self.show_error(title, file_problem(path, exc))

    def _tell_warnings(self, what: str) -> bool:
        """Say what opening the file left out or changed: in the status bar, with every line in Problems
        (raised to the front). True when there was something to say."""
        warnings = self.document.warnings
        if not warnings:
            return False
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        self.show_status(f"{what}, with a warning: {warnings[0]}{more} — see Problems", 20000)
        self.workspaces.show_problems()
        return True

    def open_example(self) -> bool:
        if not self.may_replace("open an example"):
            return False
        path = self.choose_example()
        if path is None:
            return False
        return self.open_example_file(path, asked=True)

    def open_example_file(self, path: str | Path, asked: bool = False) -> bool:
        """Open the example at ``path`` as a new untitled project (after asking about unsaved changes, unless
        ``asked`` already)."""
        if not asked and not self.may_replace("open an example"):
            return False
        try:
            self.document.open_copy(path)
        except Exception as exc:  # noqa: BLE001
            self._file_failed("Cannot open example", path, exc)
            return False
        self._arrange_for_view()
        self.fit_soon()
        self.show_status(f"Opened the example “{self.document.display_name}” as a new project", 5000)
        self._tell_warnings(f"Opened the example “{self.document.display_name}”")
        return True

    def _arrange_for_view(self) -> None:
        """An example too long to read in one row in this window is laid out in rows for it (auto layout): the
        copy has just been made, so the move is not an edit of the person's to undo."""
        self.layout().activate()  # the docks are back from the start page: the view has its size
        rect, viewport = self.scene.nodes_rect(), self.view.viewport()
        if rect.isNull() or fit_zoom(rect.width(), rect.height(),
                                     (viewport.width(), viewport.height())) >= style.MIN_READABLE_ZOOM:
            return
        stack = self.document.undo_stack
        clean = stack.isClean()
        self.scene.auto_layout()
        stack.clear()
        if not clean:
            stack.resetClean()

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        return self._write(Path(path)) if path else False

    def _write(self, path: Path) -> bool:
        try:
            self.document.save_as(path)
        except Exception as exc:  # noqa: BLE001 - the changes stay, the reason is one line naming the file
            self._file_failed("Cannot save project", path, exc)
            return False
        self.recent.add(self.document.path)
        self.show_status(f"Saved {self.document.path}", 4000)
        return True

    def update_recent_menu(self) -> None:
        menu = self.acts.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for i, path in enumerate(paths, 1):
            p = Path(path)
            action = menu.addAction(f"&{i % 10}  {menu_text(p.name)}  —  {menu_text(p.parent)}")
            action.setData(path)
            action.triggered.connect(lambda _checked=False, path=path: self.open_file(path))
        if paths:
            menu.addSeparator()
        clear = menu.addAction("&Clear Recent Files")
        clear.setObjectName("action_clear_recent")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.recent.clear)

    # -- recovery -----------------------------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """If a crashed session left an autosaved copy, offer it; True when it was recovered."""
        found = find_recoverable(self.autosaver.folder)
        if not found:
            return False
        item = found[0]
        if not self.ask_recover(item):
            item.discard()
            return False
        if not self.may_replace("recover the autosaved copy"):
            return False
        try:
            self.document.recover(item.copy, item.original)
        except Exception as exc:  # noqa: BLE001
            self._file_failed("Cannot recover the autosaved copy", item.copy, exc)
            return False
        self.autosaver.autosave()  # this session's copy, before the old one goes
        item.discard()
        self.fit_soon()
        self.show_status("Recovered the autosaved copy: save it to keep it", 8000)
        self._tell_warnings("Recovered the autosaved copy")
        return True

    # -- help ---------------------------------------------------------------------------------------------
    def show_shortcuts(self) -> ShortcutsDialog:
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(shortcut_rows(self.acts), self)
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()
        return self._shortcuts_dialog

    def show_about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3><p>Build neural networks visually and watch them learn. "
            "Every network is a real PyTorch model: shapes and parameter counts come from torch itself.</p>"
            "<p>MIT licence.</p>")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "acts"):
            refresh_icons(self.acts)  # the system switched between light and dark

    # -- closing ------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_replace("close"):
            event.ignore()
            return
        self.save_layout()
        self.training.feeder.shutdown()  # a read still running is cancelled and left behind, never waited for
        self.autosaver.shutdown()
        if self._copied:
            release_clipboard()
        event.accept()


def release_clipboard() -> None:
    """Take copied layers off the clipboard when the window that copied them closes: only NN Studio reads that
    format, and PySide6 6.12 crashes at exit while a QMimeData it handed to the clipboard is still there."""
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData()
    if mime is not None and mime.hasFormat(NODES_MIME):
        clipboard.clear()
