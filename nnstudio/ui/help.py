"""The Help menu's windows: Help > Getting Started (a short guide inside the app) and Help > Report a Problem.

The guide is a few Markdown files in ``resources/guide/`` (:data:`PAGES`, in reading order), rendered by Qt
(``QTextBrowser`` with ``QTextDocument.setMarkdown`` underneath) in a window beside the main one. Links:

* to another page (``training.md``, ``metrics.md#confusion``): that page, inside the guide (Back and Forward go
  through the pages seen);
* into the app (``nnstudio:layer/dense``, ``nnstudio:setting/optimizer``, ``nnstudio:panel/dock_dashboard``):
  the layer highlighted in the Layers panel, the setting in the Training panel, the panel brought forward
  (:func:`open_app_link`);
* anything else (``https://…``): nothing opens unless the person says yes to a question
  (:func:`ask_open_external`, replaced in tests).

Report a Problem opens the folder of the log file (``error_report``) with :func:`open_url`
(``QDesktopServices.openUrl``, replaced in tests), and says in the status bar what to attach.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.paths import RESOURCES
from nnstudio.ui.safe_text import message_box, one_line, set_plain

GUIDE = RESOURCES / "guide"
# The guide's pages in reading order: file name -> the title in the contents list.
PAGES: dict[str, str] = {
    "index.md": "Getting started",
    "building.md": "Building a network",
    "training.md": "Training",
    "dashboard.md": "Reading the dashboard",
    "activations.md": "Activations",
    "backpropagation.md": "Backpropagation",
    "optimizers.md": "Optimizers",
    "regularisation.md": "Regularisation",
    "metrics.md": "Metrics",
}
APP_SCHEME = "nnstudio"
LOCAL_SCHEMES = ("", "file")


def open_url(url: QUrl) -> bool:
    """Open ``url`` with the desktop (a folder in the file manager, a web page in the browser). Tests replace it."""
    return QDesktopServices.openUrl(url)


def ask_open_external(parent: QWidget | None, url: QUrl) -> bool:
    """Whether the person wants ``url`` (a link out of the guide) opened in their browser. Tests replace it."""
    box = message_box(parent, QMessageBox.Icon.Question, "Open link",
                      f"Open {one_line(url.toString(), 300)} in your web browser?",
                      buttons=QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
                      default=QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Open


# -- links into the app -------------------------------------------------------------------------------------------
def _bring_forward(window, dock_name: str):
    dock = getattr(window, "docks", {}).get(dock_name)
    if dock is None:
        return None
    dock.show()
    dock.raise_()
    return dock


def open_app_link(window, url: QUrl) -> str | None:
    """Follow an ``nnstudio:`` link in ``window`` (a MainWindow); None when it did, else why not (one line).

    ``layer/<type id>`` shows that layer in the Layers panel (its search finds it), ``setting/<name>`` the
    training setting in the Training panel, ``panel/<dock name>`` that panel (the dashboard: the Train
    workspace)."""
    from nnstudio.core.layers.registry import SPECS

    kind, _, name = url.path().partition("/")
    if kind == "layer" and name in SPECS:
        if _bring_forward(window, "dock_palette") is None:
            return "the Layers panel is not there"
        window.palette_panel.search.setText(SPECS[name].title)
        return None
    if kind == "setting":
        panel = getattr(getattr(window, "training", None), "training_panel", None)
        editor = panel.findChild(QWidget, f"param_{name}") if panel is not None else None
        if editor is None or _bring_forward(window, "dock_training") is None:
            return f"there is no training setting {one_line(name, 40)}"
        for area in panel.findChildren(QScrollArea):
            if area.widget() is not None and area.widget().isAncestorOf(editor):
                area.ensureWidgetVisible(editor)
        editor.setFocus()
        return None
    if kind == "panel" and name == "dock_dashboard" and hasattr(window, "workspaces"):
        window.workspaces.switch("train")  # the dashboard's room is the Train workspace
    if kind == "panel" and _bring_forward(window, name) is not None:
        return None
    return f"the guide's link {one_line(url.toString(), 80)} leads nowhere"


# -- the guide ---------------------------------------------------------------------------------------------------
class GuideWindow(QDialog):
    """The guide: its contents on the left, the page on the right, Back / Forward / Contents above it and a line
    below that says what a link did not do. ``window``: the MainWindow its ``nnstudio:`` links act on."""

    def __init__(self, window=None, folder: Path = GUIDE, parent: QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else window)
        self.main_window = window
        self.folder = Path(folder).resolve()
        self.setObjectName("guideWindow")
        self.setWindowTitle("Getting Started — NN Studio")
        self.setModal(False)
        self.resize(1000, 700)
        self.contents = QListWidget(self)
        self.contents.setObjectName("guideContents")
        for name, title in PAGES.items():
            item = QListWidgetItem(title)
            item.setData(0x0100, name)  # Qt.UserRole
            self.contents.addItem(item)
        self.contents.currentItemChanged.connect(self._chosen)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("guideBrowser")
        self.browser.setOpenLinks(False)  # every link goes through follow(): nothing leaves without asking
        self.browser.setOpenExternalLinks(False)
        self.browser.anchorClicked.connect(self.follow)
        self.browser.sourceChanged.connect(self._source_changed)
        self.back = QPushButton("Back")
        self.back.clicked.connect(self.browser.backward)
        self.forward = QPushButton("Forward")
        self.forward.clicked.connect(self.browser.forward)
        self.home = QPushButton("Contents")
        self.home.clicked.connect(lambda: self.show_page("index.md"))
        self.browser.backwardAvailable.connect(self.back.setEnabled)
        self.browser.forwardAvailable.connect(self.forward.setEnabled)
        self.back.setEnabled(False)
        self.forward.setEnabled(False)
        self.note = QLabel(self)
        self.note.setObjectName("guideNote")
        self.note.setWordWrap(True)
        set_plain(self.note, "")
        buttons = QHBoxLayout()
        for button in (self.back, self.forward, self.home):
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.browser, 1)
        right_layout.addWidget(self.note)
        split = QSplitter(self)
        split.addWidget(self.contents)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 820])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.show_page("index.md")

    # -- pages -------------------------------------------------------------------------------------------------
    def page(self) -> str | None:
        """The file name of the page shown (None when none is)."""
        source = self.browser.source()
        path = Path(source.toLocalFile()).resolve() if source.isLocalFile() else None
        return path.name if path is not None and path.parent == self.folder else None

    def show_page(self, name: str, fragment: str = "") -> bool:
        """Show the guide's page ``name`` (at its heading ``fragment``); False when the guide has no such page."""
        path = self.folder / name
        if Path(name).name != name or not path.is_file():
            set_plain(self.note, f"The guide has no page {one_line(name, 60)}.")
            return False
        url = QUrl.fromLocalFile(str(path))
        if fragment:
            url.setFragment(fragment)
        set_plain(self.note, "")
        if self.page() == name and fragment:
            self.browser.scrollToAnchor(fragment)
        else:
            self.browser.setSource(url, QTextDocument.ResourceType.MarkdownResource)
        return True

    def follow(self, url: QUrl) -> None:
        """A clicked link (see the module's doc)."""
        if url.scheme() == APP_SCHEME:
            why = open_app_link(self.main_window, url) if self.main_window is not None else "no window to show it in"
            set_plain(self.note, f"{why[:1].upper()}{why[1:]}." if why else "")
            if why is None and self.main_window is not None:
                self.main_window.raise_()
                self.main_window.activateWindow()
            return
        if url.scheme() in LOCAL_SCHEMES:
            resolved = self.browser.source().resolved(url) if url.isRelative() else url
            path = Path(resolved.toLocalFile()).resolve() if resolved.isLocalFile() else None
            if path is not None and path.parent == self.folder and self.show_page(path.name, resolved.fragment()):
                return
            set_plain(self.note, f"The guide has no page {one_line(url.toString(), 60)}.")
            return
        if ask_open_external(self, url):
            if not open_url(url):
                set_plain(self.note, f"Cannot open {one_line(url.toString(), 200)}.")
        else:
            set_plain(self.note, f"Not opened: {one_line(url.toString(), 200)}")

    def _chosen(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None and item.data(Qt.ItemDataRole.UserRole) != self.page():
            self.show_page(item.data(Qt.ItemDataRole.UserRole))

    def _source_changed(self, url: QUrl) -> None:
        """The contents list follows the page (``source()`` still names the old one while this signal runs)."""
        path = Path(url.toLocalFile()).resolve() if url.isLocalFile() else None
        name = path.name if path is not None and path.parent == self.folder else None
        for row in range(self.contents.count()):
            item = self.contents.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name and self.contents.currentItem() is not item:
                self.contents.blockSignals(True)
                self.contents.setCurrentItem(item)
                self.contents.blockSignals(False)


def show_guide(window) -> GuideWindow:
    """Help > Getting Started: the guide's window (one per main window), shown and brought forward."""
    guide = getattr(window, "_guide_window", None)
    if guide is None:
        guide = window._guide_window = GuideWindow(window)
    guide.show()
    guide.raise_()
    guide.activateWindow()
    return guide


# -- report a problem --------------------------------------------------------------------------------------------
def log_folder() -> Path:
    """The folder the app's log is written to (the installed ErrorReporter's, else the default one)."""
    from nnstudio.ui.error_report import ErrorReporter
    from nnstudio.ui.error_report import log_folder as default_folder

    app = QApplication.instance()
    for child in app.children() if app is not None else []:
        if isinstance(child, ErrorReporter):
            return Path(child.folder)
    return default_folder()


def report_problem(window) -> bool:
    """Help > Report a Problem: open the log folder in the file manager and say in the status bar what to send.
    False (and a status line naming the folder) when the desktop cannot open it."""
    from nnstudio.ui.error_report import LOG_NAME

    folder = log_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        window.show_status(f"Cannot make the log folder {one_line(folder, 300)}: {one_line(exc.strerror or exc)}")
        return False
    if not open_url(QUrl.fromLocalFile(str(folder))):
        window.show_status(f"Cannot open the log folder: it is {one_line(folder, 300)}", 20000)
        return False
    what = (f"attach {LOG_NAME} to your report" if (folder / LOG_NAME).is_file()
            else "nothing has been logged yet: describe what happened in your report")
    window.show_status(f"Opened the log folder ({one_line(folder, 200)}): {what}", 15000)
    return True


__all__ = ["GUIDE", "PAGES", "GuideWindow", "ask_open_external", "open_app_link", "open_url", "report_problem",
           "show_guide"]
