"""The dataset panel: a view of the session's dataset. Choose a dataset (built from ``data.registry.DATASETS``),
set its options and the split, see a preview of the loaded data (scatter of 2-D points or a curve, a grid of
images, table rows, sample sentences) and, in plain words, the session's problems with the dataset and the data
(those with source "dataset" or "data", e.g. data that do not fit the Input).

Everything shown comes from the :class:`~nnstudio.core.session.Session` given to :meth:`DatasetPanel.bind_session`
(``dataset``, ``data``, ``data_state``, ``problems``, ``locked``); the panel keeps no copy of the project. An edit
is a request: ``dataset_edited(config)`` with the whole new config (the window makes it an undo command that calls
``session.set_dataset``), and the panel shows it once the session has it. The data are loaded by the window's
:class:`~nnstudio.ui.workers.data_feeder.DataFeeder`: its progress shows in a bar with Cancel (the panel is usable
again at once), Reload asks for the data again. While a run is active the editors are disabled and a note says
why. File and folder options use :func:`choose_path`, the panel's one dialog function (tests patch it). Closing
the panel never waits for a read.
"""

from __future__ import annotations

import functools
import html
import os
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.data import standard
from nnstudio.core.data.stream import storage_line
from nnstudio.core.data.base import Dataset
from nnstudio.core.data.registry import (
    DATASETS,
    KINDS,
    PATH_KINDS,
    SPLIT_KEYS,
    SPLIT_PARAMS,
)
from nnstudio.core.layers.base import Param
from nnstudio.ui import safe_text
from nnstudio.ui.elided import ElidedProgressBar
from nnstudio.ui.panels.dataset_preview import DatasetPreview
from nnstudio.ui.panels.dataset_offer import MnistOffer
from nnstudio.ui.panels.training import ERROR_STYLE, ParamForm, _editor_for

KIND_TITLES = {"synthetic": "Generated", "bundled": "Bundled real data", "standard": "Standard datasets",
               "import": "Your own data"}
PLACEHOLDER = "Choose a dataset…"
NO_DATASET_TEXT = "The project has no dataset yet: choose one above to see its data."
LOADING_TEXT = "Loading the data…"
FAILED_TEXT = "No preview: the data could not be loaded (see above)."
INVALID_TEXT = "No preview: the dataset's settings have a problem (see above)."
FILES_MISSING_TEXT = "No preview: the dataset's files are not there yet (see above): turn on Download, or place them."
CANCELLED_TEXT = "Loading was cancelled: press Reload to read the data."
SHOWN_SOURCES = ("dataset", "data")  # the session's problems this panel shows


def choose_path(parent: QWidget | None, kind: str, caption: str, start: str = "") -> str | None:
    """The panel's file / folder dialog: a path, or None when cancelled."""
    if kind == "folder":
        path = QFileDialog.getExistingDirectory(parent, caption, start)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, caption, start, "Data files (*.csv *.tsv *.txt *.npz);;"
                                                                      "All files (*)")
    return path or None


class PathEditor(QWidget):
    """A path typed in or picked with Browse…; ``edited(text)`` like the other editors."""

    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = param.kind
        self.line = QLineEdit()
        self.line.setPlaceholderText("choose a folder…" if param.kind == "folder" else "choose a file…")
        self.line.editingFinished.connect(lambda: self.edited.emit(self.line.text().strip()))
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)
        self.caption = f"Choose the {param.title.lower()}"

    def _browse(self) -> None:
        path = choose_path(self, self.kind, self.caption, self.line.text())
        if path:
            self.set_value(path)
            self.edited.emit(path)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.line):
            self.line.setText("" if value is None else str(value))


class TextEditor(QLineEdit):
    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editingFinished.connect(lambda: self.edited.emit(self.text()))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self):
            self.setText("" if value is None else str(value))


def dataset_editor(param: Param) -> QWidget:
    if param.kind in PATH_KINDS:
        return PathEditor(param)
    if param.kind == "text":
        return TextEditor(param)
    return _editor_for(param)


def describe(data: Dataset) -> str:
    shape = ", ".join(str(d) for d in data.input_shape)
    what = "token ids" if data.input_dtype == "long" else {1: "features", 3: "images"}.get(len(data.input_shape),
                                                                                            "values")
    parts = [f"{len(data):,} samples", f"{what} (N, {shape})"]
    if data.task == "regression":
        targets = int(data.y.shape[1]) if data.y.dim() == 2 else 1
        parts.append(f"regression, {targets} target{'s' if targets != 1 else ''}")
    else:
        names = ", ".join(data.classes[:6]) + (" …" if len(data.classes) > 6 else "")
        parts.append(f"{data.num_classes} classes ({names})")
    if data.vocab is not None:
        parts.append(f"vocabulary of {len(data.vocab):,} words")
    test = getattr(data, "test_part", None)
    if test is not None:
        parts.append(f"{len(test):,} official test samples")
    return " · ".join(parts)


class DatasetPanel(QWidget):
    """See the module's doc. ``loaded`` is emitted when the preview shows the data's settled state (loaded,
    failed, or nothing to load), ``load_cancelled`` when it shows a cancelled load."""

    dataset_edited = Signal(object)  # the whole new dataset config (a dict), None for "no dataset"
    loaded = Signal()
    load_cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.session = None
        self.feeder = None
        self._handlers: dict[str, Any] = {}
        self._form_name: str | None = None  # the dataset the option form was built for
        self._shown: dict[str, Any] = {}  # the values the option and split editors show, by key
        self._announced: tuple | None = None  # the data state last announced with loaded / load_cancelled

        self.chooser = QComboBox()
        self.chooser.setObjectName("datasetChooser")
        self.chooser.addItem(PLACEHOLDER, None)
        self.chooser.model().item(0).setEnabled(False)  # shown when there is no dataset; not a choice
        for kind in KINDS:
            self.chooser.insertSeparator(self.chooser.count())
            for spec in DATASETS.values():
                if spec.kind == kind:
                    self.chooser.addItem(spec.title, spec.name)
                    self.chooser.setItemData(self.chooser.count() - 1,
                                             f"{KIND_TITLES.get(kind, kind)}: {spec.description}",
                                             Qt.ItemDataRole.ToolTipRole)
        self.chooser.currentIndexChanged.connect(self._chosen)
        self.description = safe_text.plain(QLabel())  # may quote a dataset name from the file
        self.description.setWordWrap(True)
        self.mnist_offer = MnistOffer()
        self.mnist_offer.chosen.connect(self.dataset_edited.emit)
        self.mnist_offer.chosen.connect(lambda _config: self.chooser.setFocus())  # not the next field: typing
        # there would change a setting unseen
        self.files_note = safe_text.plain(QLabel())  # a standard dataset's folder, or what will be downloaded
        self.files_note.setObjectName("datasetFilesNote")
        self.files_note.setWordWrap(True)
        self.files_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files_note.hide()
        self.lock_note = safe_text.plain(QLabel())
        self.lock_note.setObjectName("datasetLockNote")
        self.lock_note.setWordWrap(True)
        self.lock_note.hide()
        self.options_box = QGroupBox("Options")
        self.options_layout = QVBoxLayout(self.options_box)
        self.options_layout.setContentsMargins(0, 0, 0, 0)
        self.options: ParamForm | None = None
        self.split = ParamForm(SPLIT_PARAMS)
        self.split.edited.connect(self._option_edited)
        self.split_box = QGroupBox("Split")
        QVBoxLayout(self.split_box).addWidget(self.split)
        self.split_box.layout().setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.problems_label = safe_text.plain(QLabel())  # messages quote the file's own cells
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet(ERROR_STYLE)
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_label.hide()
        self.preview = DatasetPreview()
        self.progress_bar = ElidedProgressBar()
        self.progress_bar.setObjectName("datasetProgress")
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("datasetCancel")
        self.cancel_button.setToolTip("Stop reading the data")
        self.cancel_button.clicked.connect(self.cancel)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setObjectName("datasetReload")
        self.reload_button.setToolTip("Read the data again (after the file changed, or a cancelled load)")
        self.reload_button.clicked.connect(self.reload)
        status = QHBoxLayout()
        status.addWidget(self.progress_bar, 1)
        status.addWidget(self.cancel_button)
        status.addStretch(0)
        status.addWidget(self.reload_button)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset"))
        top.addWidget(self.chooser, 1)
        layout.addLayout(top)
        layout.addWidget(self.lock_note)
        layout.addWidget(self.description)
        layout.addWidget(self.mnist_offer)
        layout.addWidget(self.files_note)
        layout.addWidget(self.options_box)
        layout.addWidget(self.split_box)
        layout.addWidget(self.summary)
        layout.addLayout(status)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.preview, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(scroll)
        self._show_busy(False)
        self._show_config()
        self.preview.show_message(NO_DATASET_TEXT)

    # -- the session ---------------------------------------------------------------------------------------
    def bind_session(self, session, feeder) -> None:
        """Show ``session``'s dataset and data from now on; ``feeder`` (a DataFeeder of that session) loads
        them and tells how far it got."""
        if self.session is not None:
            _disconnect(self.session, self._handlers)
            self.feeder.progress.disconnect(self._progress)
            self.feeder.busy_changed.disconnect(self._show_busy)
        self.session, self.feeder = session, feeder
        self._handlers = {"project_replaced": self._replaced, "dataset_changed": self._dataset_changed,
                          "data_changed": self._data_changed, "problems_changed": self._problems_changed,
                          "run_state_changed": self._run_changed}
        for name, handler in self._handlers.items():
            getattr(session, name).connect(handler)
        # Deleted before the session: it must not call a panel that is gone.
        self.destroyed.connect(functools.partial(_disconnect, session, self._handlers))
        feeder.progress.connect(self._progress)
        feeder.busy_changed.connect(self._show_busy)
        self._replaced()

    @property
    def loading(self) -> bool:
        """The feeder is reading the data."""
        return self.feeder is not None and self.feeder.busy

    def reload(self) -> None:
        """Read the data again (the Reload button)."""
        if self.feeder is not None:
            self.feeder.reload()

    def cancel(self) -> None:
        """Stop the running load now; the panel is usable at once (Reload reads the data again)."""
        if self.feeder is not None:
            self.feeder.cancel()

    def problems(self) -> list[str]:
        """The problems the panel shows (capitalised, without their mark)."""
        text = self.problems_label.text()
        return [] if not text else [line.removeprefix("⚠ ") for line in text.split("\n")]

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.feeder is not None:
            self.feeder.shutdown()  # a read still running is cancelled and left behind, never waited for
        super().closeEvent(event)

    # -- what the session says -----------------------------------------------------------------------------
    def _replaced(self, _project: Any = None) -> None:
        self._form_name, self._announced = None, None  # everything is shown afresh
        self._show_config()
        self._show_busy(self.loading)
        self._show_data()
        self._show_lock()

    def _dataset_changed(self, _config: Any = None) -> None:
        self._show_config()

    def _data_changed(self, _state: Any = None) -> None:
        self._show_data()

    def _problems_changed(self, _problems: Any = None) -> None:
        self._show_problems()

    def _run_changed(self, _run: Any = None) -> None:
        self._show_lock()

    def _show_config(self) -> None:
        config = self.session.dataset if self.session is not None else None
        name = config.get("name") if config else None
        spec = DATASETS.get(name) if isinstance(name, str) else None
        with QSignalBlocker(self.chooser):
            self.chooser.setCurrentIndex(0 if config is None else self.chooser.findData(name) if spec else -1)
        if spec is None or spec.name != self._form_name:
            self._drop_options()
        self.split_box.setVisible(spec is not None)
        self.mnist_offer.show_for(config, self.session is not None and self.session.edit_refusal() is None)
        self._show_files()
        if config is None:
            self.description.setText("This project has no dataset yet: choose one above.")
            self.options_box.hide()
            return
        if spec is None:
            safe_text.set_plain(self.description, f"“{safe_text.one_line(name, 80)}” is not a dataset NN Studio "
                                                  "knows: choose one above.")
            self.options_box.hide()
            return
        self.description.setText(spec.description)
        if self.options is None:
            self.options = ParamForm(spec.params, dataset_editor)
            self.options.edited.connect(self._option_edited)
            self.options_layout.addWidget(self.options)
            self._form_name = spec.name
            if spec.kind == "standard":  # an empty folder is not "nothing chosen": it is the user's data folder
                self.options.editors["root"].line.setPlaceholderText(f"empty: {standard.default_root()}")
        self.options_box.setVisible(bool(spec.params))
        for form in (self.options, self.split):
            for key, param in form.params.items():
                value = config.get(key, param.default)
                if key in self._shown and self._shown[key] == value:
                    continue  # an editor is only touched when its value changed: focus and typing stay
                form.editors[key].set_value(value)
                form.set_problem(key, param.check(value))
                self._shown[key] = value

    def _show_files(self) -> None:
        """For a standard dataset: where its files are, or that the missing ones will be downloaded (looked at
        again when the data change: a download has brought them)."""
        config = self.session.dataset if self.session is not None else None
        spec = DATASETS.get(config.get("name")) if config and isinstance(config.get("name"), str) else None
        note = ""
        if spec is not None and spec.kind == "standard" and config is not None:
            options = {p.name: config.get(p.name, p.default) for p in spec.params}
            if all(p.check(options[p.name]) is None for p in spec.params):
                root = options["root"]
                base = self.session.base_dir if self.session is not None else None
                if root and base is not None:
                    root = str(base / os.path.expanduser(root))
                note = standard.files_note(spec.name, root, options["download"], options["test_set"])
        safe_text.set_plain(self.files_note, note)
        self.files_note.setVisible(bool(note))

    def _drop_options(self) -> None:
        self._form_name, self._shown = None, {}
        if self.options is not None:
            self.options_layout.removeWidget(self.options)
            self.options.hide()
            self.options.setParent(None)
            self.options.deleteLater()
            self.options = None

    def _show_data(self) -> None:
        s = self.session
        if s is None:
            return
        state, data = s.data_state, s.data
        self._show_files()
        if state == "loaded" and isinstance(data, Dataset):
            self.preview.show_dataset(data)
            # rich text for the small source line: what came from the file (class names, the path) is escaped
            storage = storage_line(data, s.dataset)
            self.summary.setText(html.escape(describe(data)) + (
                f"<br><small>{html.escape(storage)}</small>" if storage else "") + (
                f"<br><small>{html.escape(data.source)}</small>" if data.source else ""))
        else:
            self.preview.show_message(self._message(state))
            self.summary.setText("Loading…" if state in ("needed", "loading") else "")
        self.reload_button.setEnabled(bool(s.project.dataset) and not s.locked)
        self._show_problems()
        now = (state, s.data_key, s.data_error, id(data))
        if now != self._announced:
            self._announced = now
            if state == "cancelled":
                self.load_cancelled.emit()
            elif state not in ("needed", "loading"):
                self.loaded.emit()

    def _message(self, state: str) -> str:
        config = self.session.dataset or {}
        spec = DATASETS.get(config.get("name")) if isinstance(config.get("name"), str) else None
        if state == "none":
            return NO_DATASET_TEXT
        if state == "invalid":
            missing = [p for p in (spec.params if spec else ()) if p.kind in PATH_KINDS and not config.get(p.name)]
            if missing and spec.kind == "import":  # a standard dataset's empty folder is the user's data folder
                return f"Choose the {missing[0].title.lower()} of your data (Browse…) to see a preview."
            missing_files = any("files are missing" in p.message for p in self.session.problems)
            return FILES_MISSING_TEXT if spec is not None and spec.kind == "standard" and missing_files \
                else INVALID_TEXT
        if state == "cancelled":
            return CANCELLED_TEXT
        if state == "failed":
            return FAILED_TEXT
        return LOADING_TEXT if state in ("needed", "loading") else "No preview"

    def _show_problems(self) -> None:
        problems = [p.message for p in self.session.problems if p.source in SHOWN_SOURCES] \
            if self.session is not None else []
        lines = [p[0].upper() + p[1:] if p else p for p in problems]
        self.problems_label.setText("\n".join(f"⚠ {p}" for p in lines))
        self.problems_label.setVisible(bool(problems))

    def _show_lock(self) -> None:
        refusal = self.session.edit_refusal() if self.session is not None else None
        for widget in (self.chooser, self.options_box, self.split_box, self.mnist_offer.button):
            widget.setEnabled(refusal is None)
        self.reload_button.setEnabled(refusal is None and self.session is not None
                                      and bool(self.session.project.dataset))
        safe_text.set_plain(self.lock_note, f"Locked: {refusal}." if refusal else "")
        self.lock_note.setVisible(refusal is not None)

    def _show_busy(self, busy: bool) -> None:
        if busy:
            self.progress_bar.setRange(0, 0)  # busy until the feeder says how far it got
            self.progress_bar.set_text("Reading…")
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.reload_button.setVisible(not busy)

    def _progress(self, done: int, total: int, what: str) -> None:
        what = what.replace("%", "\u066a")  # a file name's % must not be read as the bar's %p / %v / %m
        if total > 0:
            fraction = min(1.0, max(0.0, done / total))
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * fraction))
            self.progress_bar.set_text(what, f": {fraction:.0%}")
        else:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.set_text(what)

    # -- edits (requests: the session has the last word) --------------------------------------------------
    def _chosen(self, index: int) -> None:
        name = self.chooser.itemData(index)
        if self.session is None or not isinstance(name, str):
            return
        config = self.session.dataset or {}
        if config.get("name") != name:
            self.dataset_edited.emit({"name": name, **{k: v for k, v in config.items() if k in SPLIT_KEYS}})
        self._show_config()  # what the session has now (the edit may have been refused)

    def _option_edited(self, key: str, value: Any) -> None:
        config = self.session.dataset if self.session is not None else None
        if config is None:
            return
        config[key] = value
        self._shown[key] = value  # the editor shows it already
        self.dataset_edited.emit(config)


def _disconnect(session: Any, handlers: dict[str, Any], *_args: Any) -> None:
    for name, handler in handlers.items():
        getattr(session, name).disconnect(handler)
