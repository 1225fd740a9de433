"""File > Import Model…: an existing model opened as a new, untitled project.

The dialog takes a source (a Python file and the model's name in it, ``torchvision:resnet18``, an ONNX file, or
a file NN Studio exported, which carries its project), an optional weights file, the per-sample input shape and
what the output is. A Python file runs when it is imported: the dialog says so in words before OK, and only a
Python source enables that sentence. The import itself is ``core.importer.import_source``; whatever it refuses
is one message in a dialog, and the current project stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from nnstudio.ui import safe_text

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow

WARNING_STYLE = "QLabel { background: #fdf2d0; color: #5c4400; border: 1px solid #e0c060; padding: 4px; }"
SOURCE_FILTER = "Models (*.py *.onnx *.safetensors *.pt2);;Python files (*.py);;ONNX models (*.onnx);;All files (*)"


class ImportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import Model")
        self.setObjectName("importDialog")
        self.source = QLineEdit()
        self.source.setPlaceholderText("net.py, torchvision:resnet18, model.onnx or an exported file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_source)
        self.model_name = QLineEdit()
        self.model_name.setPlaceholderText("Net (a class, or a function returning the module)")
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("optional: .safetensors or a saved state dict")
        browse_weights = QPushButton("Browse…")
        browse_weights.clicked.connect(self._browse_weights)
        self.shape = QLineEdit()
        self.shape.setPlaceholderText("e.g. 3,224,224 (an image) or 20 (features)")
        self.task = QComboBox()
        self.task.addItems(["multiclass", "binary", "regression"])
        self.warning = safe_text.plain(QLabel())
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.setObjectName("importWarning")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(browse)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(browse_weights)
        form = QFormLayout()
        form.addRow("Model", row)
        form.addRow("Name in the file", self.model_name)
        form.addRow("Weights", weights_row)
        form.addRow("Input shape", self.shape)
        form.addRow("Output", self.task)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.buttons)
        for edit in (self.source, self.model_name, self.shape):
            edit.textChanged.connect(self.refresh)
        self.resize(560, self.sizeHint().height())
        self.refresh()

    def _browse_source(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import Model", "", SOURCE_FILTER)
        if path:
            self.source.setText(path)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights", "", "Weights (*.safetensors *.pt *.pth);;All files (*)")
        if path:
            self.weights.setText(path)

    def kind(self) -> str:
        text = self.source.text().strip()
        if text.startswith("torchvision:"):
            return "torchvision"
        suffix = Path(text).suffix.lower()
        if suffix == ".py" and not self.model_name.text().strip():
            return "exported"  # a script NN Studio wrote: its project is read as text
        return {".py": "python", ".onnx": "onnx", ".safetensors": "exported", ".pt2": "exported"}.get(suffix, "")

    def source_text(self) -> str:
        text, name = self.source.text().strip(), self.model_name.text().strip()
        return f"{text}:{name}" if self.kind() == "python" else text

    def refresh(self, *_args) -> None:
        kind = self.kind()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        needs_shape = kind in ("python", "torchvision")
        self.model_name.setEnabled(Path(self.source.text().strip()).suffix.lower() == ".py")
        self.shape.setEnabled(needs_shape)
        self.weights.setEnabled(needs_shape)
        if kind == "python":
            text = (f"Importing runs the Python code in {Path(self.source.text().strip()).name}, as running it "
                    "would. Import only files you trust.")
        elif kind == "exported":
            text = "An exported file is read as data: its project reopens as it was, and nothing in it runs."
        elif kind == "onnx":
            text = "An ONNX file is read as data: nothing in it runs."
        elif kind == "torchvision":
            text = "Builds the torchvision architecture (needs torchvision installed), without trained weights."
        else:
            text = "Choose a model: a Python file and the model's name in it, torchvision:NAME or an ONNX file."
        safe_text.set_plain(self.warning, text)
        ok.setEnabled(bool(kind) and (not needs_shape or bool(self.shape.text().strip())))


def import_interactively(window: "MainWindow", dialog: ImportDialog | None = None) -> bool:
    """Ask (unsaved changes first), import, and make the model the window's new untitled project."""
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.importer import import_source

    if not window.may_replace("import a model"):
        return False
    dialog = dialog or ImportDialog(window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    window.show_status("Importing the model…", 0)
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        imported = import_source(dialog.source_text(), input_shape=dialog.shape.text().strip() or None,
                                 weights=dialog.weights.text().strip() or None, task=dialog.task.currentText())
    except (NNStudioError, OSError) as exc:
        QApplication.restoreOverrideCursor()
        window.show_status("The model was not imported", 8000)
        window.show_error("Cannot import the model", str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything while it is built
        QApplication.restoreOverrideCursor()
        window.show_error("Cannot import the model", f"{type(exc).__name__}: {safe_text.one_line(exc, 300)}")
        return False
    QApplication.restoreOverrideCursor()
    window.document.import_project(imported.project, list(imported.project.load_warnings))
    window.fit_soon()
    count = len(imported.project.graph.nodes)
    window.show_status(f"Imported {safe_text.one_line(imported.project.name, 80)}: {count} layers"
                       + (f"; {imported.notes[0]}" if imported.notes else ""), 20000)
    return True
