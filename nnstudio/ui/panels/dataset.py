"""The dataset panel: choose a dataset (built from ``data.registry.DATASETS``), set its options and the split,
see a preview (scatter of 2-D points or a curve, a grid of images, table rows, sample sentences) and, in plain
words, whether the data fit the network's Input and Output nodes (``fit.check_fits`` / ``check_targets``).

Settings are read from and written to ``project.dataset``; each accepted edit emits ``dataset_edited(dict)``
and, with ``auto_apply`` (the default), writes the project and emits ``changed``. File and folder options use
:func:`choose_path`, the panel's one dialog function (tests patch it). After a short pause in editing, the data
load on a background thread (``workers.data_loader``: a large file must not freeze the window) and the preview
and the checks follow; ``loading`` is True meanwhile and ``loaded`` is emitted when they are shown. While a load
runs a progress bar says how far it got and Cancel stops it at once (the panel is usable again immediately;
Reload reads the data again). Closing the panel never waits for a read.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.registry import DATASETS, KINDS, PATH_KINDS, SPLIT_KEYS, SPLIT_PARAMS
from nnstudio.core.layers.base import Param, TensorInfo
from nnstudio.ui.panels.training import ERROR_STYLE, ParamForm, _editor_for
from nnstudio.ui.panels.dataset_preview import DatasetPreview
from nnstudio.ui.workers.data_loader import DataLoader

PREVIEW_DELAY_MS = 250
KIND_TITLES = {"synthetic": "Generated", "bundled": "Bundled real data", "import": "Your own data"}
CANCELLED_TEXT = "Loading was cancelled: press Reload to read the data."


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


def network_of(graph) -> tuple[list[TensorInfo], str | None, tuple[int, ...] | None] | None:
    """(Input infos, the Output's task, the shape reaching the Output) from shape inference; None when the graph
    has no Output node or its shapes are not known yet."""
    from nnstudio.core.shapes import infer_shapes

    if graph is None:
        return None
    info = infer_shapes(graph)
    inputs = [info.nodes[nid].output for nid, n in graph.nodes.items() if n.spec.is_input]
    if any(i is None for i in inputs):
        return None
    out_id = next((nid for nid, n in graph.nodes.items() if n.spec.is_output), None)
    if out_id is None:
        return inputs, None, None
    task = graph.nodes[out_id].params.get("task")
    wires = graph.inputs_of(out_id)
    src = info.nodes[wires[0].src].output if wires else None
    return inputs, task, (tuple(src.shape) if src is not None else None)


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
    return " · ".join(parts)


class DatasetPanel(QWidget):
    changed = Signal()
    dataset_edited = Signal(dict)
    loaded = Signal()  # the preview and the checks show the current options' data (or why there are none)
    load_cancelled = Signal()  # a load was cancelled (Cancel, or the loader's own cancelling)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.project = None
        self.base_dir: str | Path | None = None
        self.auto_apply = True
        self.config: dict[str, Any] = {"name": "spiral"}
        self.data: Dataset | None = None
        self.load_error: str | None = None
        self.loading = False  # the data are being read on the loader's thread
        self._request = 0  # the loader's number of the load awaited (0: none)
        self.loader = DataLoader(self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.cancelled.connect(self._cancelled)
        self.loader.progress.connect(self._progress)
        self._graph = None
        self._network = None

        self.chooser = QComboBox()
        self.chooser.setObjectName("datasetChooser")
        for kind in KINDS:
            if self.chooser.count():
                self.chooser.insertSeparator(self.chooser.count())
            for spec in DATASETS.values():
                if spec.kind == kind:
                    self.chooser.addItem(spec.title, spec.name)
                    self.chooser.setItemData(self.chooser.count() - 1,
                                             f"{KIND_TITLES.get(kind, kind)}: {spec.description}",
                                             Qt.ItemDataRole.ToolTipRole)
        self.chooser.currentIndexChanged.connect(self._chosen)
        self.description = QLabel()
        self.description.setTextFormat(Qt.TextFormat.PlainText)  # may quote a dataset name from the file
        self.description.setWordWrap(True)
        self.options_box = QGroupBox("Options")
        self.options_layout = QVBoxLayout(self.options_box)
        self.options_layout.setContentsMargins(0, 0, 0, 0)
        self.options: ParamForm | None = None
        self.split = ParamForm(SPLIT_PARAMS)
        self.split.edited.connect(self._option_edited)
        split_box = QGroupBox("Split")
        QVBoxLayout(split_box).addWidget(self.split)
        split_box.layout().setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote the file's own cells
        self.problems_label.setStyleSheet(ERROR_STYLE)
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_label.hide()
        self.preview = DatasetPreview()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("datasetProgress")
        self.progress_bar.setRange(0, 0)  # busy until the loader says how far it got
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
        layout.addWidget(self.description)
        layout.addWidget(self.options_box)
        layout.addWidget(split_box)
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

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.reload)
        self.check_timer = QTimer(self)
        self.check_timer.setSingleShot(True)
        self.check_timer.setInterval(PREVIEW_DELAY_MS)
        self.check_timer.timeout.connect(self.check)
        self._show_loading(False)
        self._show_config()

    # -- the project ---------------------------------------------------------------------------------------
    def set_project(self, project, base_dir: str | Path | None = None) -> None:
        """Show ``project``'s dataset and check it against the project's graph (rechecked on graph changes)."""
        if self._graph is not None:
            self._graph.changed.disconnect(self._graph_changed)
        self.project, self.base_dir = project, base_dir
        self._graph = getattr(project, "graph", None)
        if self._graph is not None:
            self._graph.changed.connect(self._graph_changed)
        self._network = network_of(self._graph)
        self.config = dict(project.dataset) if project is not None and project.dataset else {"name": "spiral"}
        self._show_config()
        self.reload()

    def set_network(self, input_infos: list[TensorInfo], task: str | None,
                    output_shape: tuple[int, ...] | None) -> None:
        """Check the data against these Input infos and Output (when there is no project graph to read)."""
        self._network = (list(input_infos), task, output_shape)
        self.check()

    def _graph_changed(self) -> None:
        self._network = None
        self.check_timer.start()  # the data stay; only the fit is checked again

    def _show_config(self) -> None:
        name = self.config.get("name")
        spec = DATASETS.get(name)
        with QSignalBlocker(self.chooser):
            index = self.chooser.findData(name)
            self.chooser.setCurrentIndex(index)
        if self.options is not None:
            self.options_layout.removeWidget(self.options)
            self.options.hide()
            self.options.setParent(None)
            self.options.deleteLater()
            self.options = None
        if spec is None:
            self.description.setText(f"“{name}” is not a dataset NN Studio knows: choose one above.")
            self.options_box.hide()
            return
        self.description.setText(spec.description)
        self.options = ParamForm(spec.params, dataset_editor)
        self.options.edited.connect(self._option_edited)
        self.options.set_values(self.config)
        self.options_layout.addWidget(self.options)
        self.options_box.setVisible(bool(spec.params))
        self.split.set_values(self.config)

    # -- edits ---------------------------------------------------------------------------------------------
    def _chosen(self, index: int) -> None:
        name = self.chooser.itemData(index)
        if not name or name == self.config.get("name"):
            return
        new = {"name": name, **{k: v for k, v in self.config.items() if k in SPLIT_KEYS}}
        self._write(new)
        self._show_config()

    def _option_edited(self, key: str, value: Any) -> None:
        new = dict(self.config)
        new[key] = value
        self._write(new)

    def _write(self, new: dict[str, Any]) -> None:
        self.config = new
        self.dataset_edited.emit(dict(new))
        if self.auto_apply and self.project is not None:
            self.project.dataset = dict(new)
            self.changed.emit()
        self.timer.start()

    # -- loading and checking ------------------------------------------------------------------------------
    def reload(self) -> None:
        """Load the dataset as configured, show its preview and check it against the network."""
        self.timer.stop()
        self.data, self.load_error = None, None
        self._request = 0  # no answer of the loader is awaited (until one is asked for below)
        spec = DATASETS.get(self.config.get("name"))
        missing = [p for p in (spec.params if spec else ()) if p.kind in PATH_KINDS and not self.config.get(p.name)]
        if spec is None:
            self.loader.cancel()
            self.load_error = f"there is no dataset called {self.config.get('name')!r}"
        elif missing:
            self.loader.cancel()
            self._show_loading(False)
            self.preview.show_message(f"Choose the {missing[0].title.lower()} of your data (Browse…) to see a "
                                      "preview.")
            self.summary.setText("")
            self._show_problems([])
            self.loaded.emit()
            return
        else:
            self._request = self.loader.load(self.config, self.base_dir)
            self._show_loading(True)
            self.preview.show_message("Loading the data…")
            self.summary.setText("Loading…")
            return
        self._show_data()

    def cancel(self) -> None:
        """Stop the running load now; the panel is usable at once (Reload reads the data again)."""
        if self._request:
            self.loader.cancel()  # answers with cancelled(number) before it returns

    def _show_loading(self, loading: bool) -> None:
        self.loading = loading
        if loading:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat("Reading…")
        self.progress_bar.setVisible(loading)
        self.cancel_button.setVisible(loading)
        self.reload_button.setVisible(not loading)

    def _progress(self, number: int, done: int, total: int, what: str) -> None:
        if number != self._request:
            return
        what = what.replace("%", "\u066a")  # a file name's % must not be read as the bar's %p / %v / %m
        if total > 0:
            fraction = min(1.0, max(0.0, done / total))
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * fraction))
            self.progress_bar.setFormat(f"{what}: {fraction:.0%}")
        else:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(what)

    def _loaded(self, number: int, data: Dataset) -> None:
        if number == self._request:  # an older request's data are not what the options now say
            self.data = data
            self._show_data()

    def _failed(self, number: int, message: str) -> None:
        if number == self._request:
            self.load_error = message
            self._show_data()

    def _cancelled(self, number: int) -> None:
        if number != self._request:
            return
        self._request = 0
        self.data, self.load_error = None, None
        self._show_loading(False)
        self.preview.show_message(CANCELLED_TEXT)
        self.summary.setText("")
        self._show_problems([])
        self.load_cancelled.emit()

    def _show_data(self) -> None:
        self._request = 0
        self._show_loading(False)
        if self.data is None:
            self.preview.show_message("No preview: the data could not be loaded.")
            self.summary.setText("")
        else:
            self.preview.show_dataset(self.data)
            # rich text for the small source line: what came from the file (class names, the path) is escaped
            self.summary.setText(html.escape(describe(self.data)) + (
                f"<br><small>{html.escape(self.data.source)}</small>" if self.data.source else ""))
        self.check()
        self.loaded.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.loader.shutdown()  # a read still running is cancelled and left behind, never waited for
        super().closeEvent(event)

    def check(self) -> list[str]:
        """Problems of the data against the network (and loading problems), shown in the panel and returned."""
        problems = [self.load_error] if self.load_error else []
        if self.data is not None:
            if self._network is None and self._graph is not None:
                self._network = network_of(self._graph)
            if self._network is not None:
                from nnstudio.core.data.fit import check_fits, check_targets

                inputs, task, out_shape = self._network
                problems += check_fits(self.data, inputs, self.config)
                if task is not None:
                    problems += check_targets(self.data, task, out_shape)
        self._show_problems(problems)
        return problems

    def problems(self) -> list[str]:
        text = self.problems_label.text()
        return [] if not text else [line.removeprefix("⚠ ") for line in text.split("\n")]

    def _show_problems(self, problems: list[str]) -> None:
        lines = [p[0].upper() + p[1:] if p else p for p in problems]
        self.problems_label.setText("\n".join(f"⚠ {p}" for p in lines))
        self.problems_label.setVisible(bool(problems))
