"""The start page in the main window: ``StartPageHost`` is the part of ``MainWindow`` that shows it, takes it
over from the app's first window, does what was chosen on it and steps the docks aside meanwhile.

The window's centre is a QStackedWidget of the canvas view and the page. While the page shows, the docks and
toolbars are hidden (the start page needs the room, and they have nothing to show without a project); their
layout is kept aside, saved as the window's layout if the window closes then, and restored when the page goes:
when a project is opened, recovered or created, when it is edited, or on "Back to the open project".
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

from nnstudio.ui import dock_tabs
from nnstudio.ui.safe_text import one_line
from nnstudio.ui.start_page import EMPTY, OPEN, StartPage

GUIDE_ACTIONS = ("action_getting_started", "action_guide")  # Help > Getting Started, by the names it may have


class StartPageHost:
    """Mixed into MainWindow (which provides ``central``, ``view``, ``docks``, ``document``, ``recent``, ``acts``,
    ``workspaces``, ``STATE_VERSION`` and the file methods)."""

    start_page: StartPage | None = None
    _layout_behind_start: QByteArray | None = None  # the docks' layout while the start page hides them

    @property
    def start_page_shown(self) -> bool:
        return self.start_page is not None and self.central.currentWidget() is self.start_page

    def _has_project(self) -> bool:
        """Whether there is a project to go back to (a file, changes or layers), not just the empty untitled one."""
        doc = self.document
        return doc.path is not None or doc.modified or bool(doc.graph.nodes)

    def guide_action(self) -> QAction | None:
        """Help > Getting Started, when this build has it."""
        for name in GUIDE_ACTIONS:
            action = self.findChild(QAction, name)
            if action is not None:
                return action
        return None

    def _add_start_page_action(self) -> None:
        action = QAction("Start Pa&ge", self)
        action.setObjectName("action_start_page")
        action.setStatusTip("Show the start page: examples, recent projects and an empty network")
        action.triggered.connect(lambda _checked=False: self.show_start_page())
        self.acts.start_page = action
        menu = getattr(self.acts, "menus", {}).get("file")
        if menu is not None:
            menu.insertAction(self.acts.open, action)

    def show_start_page(self, page: StartPage | None = None) -> StartPage:
        """Show the start page in the centre (``page``: the one the app showed while the editor loaded, which
        this window takes over). The docks and toolbars step aside until it goes."""
        if page is not None and page is not self.start_page:
            if self.start_page is not None:
                self.central.removeWidget(self.start_page)
                self.start_page.deleteLater()
            self.start_page = None
        if self.start_page is None:
            self.start_page = page or StartPage(self.recent)
            self.start_page.set_recent(self.recent)
            self.start_page.example_chosen.connect(lambda path: self.start_page_choice("example", path))
            self.start_page.recent_chosen.connect(lambda path: self.start_page_choice("recent", path))
            self.start_page.empty_chosen.connect(lambda: self.start_page_choice(EMPTY))
            self.start_page.open_chosen.connect(lambda: self.start_page_choice(OPEN))
            self.start_page.guide_chosen.connect(lambda: self.start_page_choice("guide"))
            self.start_page.back_chosen.connect(lambda: self.start_page_choice("back"))
            self.central.addWidget(self.start_page)
        page = self.start_page
        page.set_busy(None)
        page.refresh()
        page.set_guide_available(self.guide_action() is not None)
        page.set_back(one_line(self.document.display_name) if self._has_project() else None)
        if not self.start_page_shown:
            self._layout_behind_start = self.saveState(self.STATE_VERSION)
            for widget in [*self.docks.values(), *self.findChildren(QToolBar)]:
                widget.hide()
            self.central.setCurrentWidget(page)
        self.update_title()
        return page

    def hide_start_page(self, *_args) -> None:
        """Back to the canvas, with the docks and toolbars where they were."""
        if not self.start_page_shown:
            return
        self.central.setCurrentWidget(self.view)
        state, self._layout_behind_start = self._layout_behind_start, None
        if state is None or not dock_tabs.restore(self, state, self.STATE_VERSION):  # View > Reset Layouts meanwhile
            self.workspaces.apply_default(self.workspaces.current)
        if self.workspaces.sizes_pending and self.isVisible():
            self.workspaces.apply_default_sizes()
        self.update_title()  # the view keeps its zoom: what opened a project fits it (load_file ...)

    def start_page_choice(self, kind: str, argument: str = "") -> bool:
        """Do what the start page asked: "example" (a path), "recent" (a path), EMPTY, OPEN, "guide" or
        "back". The app calls this too for a card clicked while the editor was still loading."""
        if kind == "example":
            return self.open_example_file(argument)
        if kind == "recent":
            return self.open_file(argument)
        if kind == EMPTY:
            return self.new_project()
        if kind == OPEN:
            return self.open_dialog()
        if kind == "guide":
            action = self.guide_action()
            if action is not None:
                action.trigger()
            return action is not None
        if kind == "back":
            self.hide_start_page()
            return True
        return False
