"""``nnstudio --self-test``: prove that an installed (or frozen) NN Studio works end to end, without a person.

It opens the main window (offscreen unless QT_QPA_PLATFORM says otherwise), loads the spiral example, trains it
for one epoch through the core (``prepare`` / ``train``, one torch thread), exports it as a PyTorch script and
as safetensors weights (and as ONNX when the onnx extra is there) into a temporary folder, closes the window
and exits 0. Anything that goes wrong exits 1 with the reason.

A frozen windowed app may have no stdout (Windows, macOS), so the result goes to a log file as well as the exit
code: ``--self-test-log FILE``, by default ``selftest.log`` in the temporary folder (its path is printed when
there is a stdout). The log's last line is :data:`SUCCESS_LINE` or ``FAILURE_PREFIX`` plus the reason. No step
ever opens a dialog: the window's question and error seams are replaced by ones that answer or record.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, TextIO

SUCCESS_LINE = "NNSTUDIO SELF-TEST PASSED"
FAILURE_PREFIX = "NNSTUDIO SELF-TEST FAILED: "
EXAMPLE_NAME = "spiral_mlp.nnstudio"
EXIT_OK, EXIT_FAILED = 0, 1


# Libraries nnstudio imports only inside the functions that need them (a bundle must carry them all the same).
LAZY_IMPORTS = ["pooch", "platformdirs", "kornia.augmentation", "PIL.Image"]

class SelfTestFailure(Exception):
    """A check that did not hold; its message is the reason written to the log."""


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def line(self, text: str) -> None:
        self._file.write(text + "\n")
        self._file.flush()
        _echo(text)

    def close(self) -> None:
        self._file.close()


def _echo(text: str) -> None:
    """Print when this process has a stdout (a windowed app on Windows has none)."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def run_self_test(log_path: str | os.PathLike[str] | None = None,
                  example: str | os.PathLike[str] | None = None) -> int:
    """Run every step; 0 when all pass, 1 (with the reason in the log) otherwise."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="nnstudio-selftest-"))
    log_file = Path(log_path) if log_path else work / "selftest.log"
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log = _Log(log_file)
    except OSError as exc:
        _echo(f"{FAILURE_PREFIX}cannot write the log {log_file}: {exc}")
        return EXIT_FAILED
    _echo(f"self-test log: {log_file}")
    try:
        _SelfTest(log, work, Path(example) if example else None).run()
    except SelfTestFailure as exc:
        log.line(f"{FAILURE_PREFIX}{exc}")
        return EXIT_FAILED
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the log and the exit code
        log.line(traceback.format_exc().rstrip())
        log.line(f"{FAILURE_PREFIX}{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        log.close()
    return EXIT_OK


class _SelfTest:
    def __init__(self, log: _Log, work: Path, example: Path | None) -> None:
        self.log, self.work, self.example = log, work, example
        self.errors: list[str] = []  # what the window would have shown in an error box

    def run(self) -> None:
        self.step("environment", self.environment)
        self.step("bundled resources", self.resources)
        self.step("export sources", self.export_sources)
        self.step("import every module", self.import_all)
        self.step("main window", self.open_window)
        try:
            self.step("load example", self.load)
            self.step("train one epoch", self.train)
            self.step("export .py", lambda: self.export("py"))
            self.step("export .safetensors", lambda: self.export("safetensors"))
            self.step("export .onnx", self.export_onnx)
        finally:
            self.step("close window", self.close)
        self.log.line(SUCCESS_LINE)

    def step(self, name: str, action: Callable[[], str | None]) -> None:
        started = time.perf_counter()
        try:
            detail = action()
        except SelfTestFailure as exc:
            raise SelfTestFailure(f"{name}: {exc}") from None
        except Exception as exc:
            self.log.line(traceback.format_exc().rstrip())
            raise SelfTestFailure(f"{name}: {type(exc).__name__}: {exc}") from None
        took = time.perf_counter() - started
        self.log.line(f"ok   {name} ({took:.2f} s){': ' + detail if detail else ''}")

    # -- steps --------------------------------------------------------------------------------------------
    def environment(self) -> str:
        import torch
        from PySide6 import __version__ as pyside_version

        from nnstudio import __version__
        from nnstudio.core.paths import RESOURCES

        frozen = "frozen" if getattr(sys, "frozen", False) else "from source"
        self.log.line(f"nnstudio {__version__} ({frozen}), Python {platform.python_version()} on "
                      f"{platform.platform()}")
        self.log.line(f"torch {torch.__version__}, PySide6 {pyside_version}, QT_QPA_PLATFORM="
                      f"{os.environ.get('QT_QPA_PLATFORM')}, resources {RESOURCES}, work folder {self.work}")
        return ""

    def resources(self) -> str:
        from nnstudio.core.paths import DATA, EXAMPLES, ICONS

        wanted = [EXAMPLES / EXAMPLE_NAME, ICONS / "nnstudio.svg", ICONS / "nnstudio-256.png",
                  DATA / "iris.csv", DATA / "digits.npz"]
        missing = [str(p) for p in wanted if not p.is_file()]
        if missing:
            raise SelfTestFailure(f"missing bundled files: {', '.join(missing)}")
        from nnstudio.core.data.bundled import digit_arrays

        images, labels = digit_arrays()
        return f"{len(list(EXAMPLES.glob('*.nnstudio')))} examples, digits {images.shape}"

    def export_sources(self) -> str:
        """The Python exporter copies source text with inspect.getsource: the .py files must be there."""
        import inspect

        from nnstudio.core.export import standalone_data, standalone_files, standalone_standard, standalone_train
        from nnstudio.core.layers import modules

        sources = (modules, standalone_data, standalone_files, standalone_standard, standalone_train)
        sizes = [len(inspect.getsource(m)) for m in sources]
        return f"{sum(sizes):,} characters of source"

    def import_all(self) -> str:
        """Import every nnstudio module: a bundle that lacks a library one of them needs fails here, not later
        when a person opens that panel."""
        import importlib
        import pkgutil

        import nnstudio

        names = [m.name for m in pkgutil.walk_packages(nnstudio.__path__, "nnstudio.")
                 if m.name != "nnstudio.__main__"]  # __main__ would start the app
        names += LAZY_IMPORTS
        failed = []
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - collect them all, then fail once
                failed.append(f"{name} ({type(exc).__name__}: {exc})")
        if failed:
            raise SelfTestFailure("cannot import " + "; ".join(failed))
        return f"{len(names) - len(LAZY_IMPORTS)} modules and {len(LAZY_IMPORTS)} libraries imported lazily"

    def open_window(self) -> str:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QMessageBox

        from nnstudio.ui.app import make_app
        from nnstudio.ui.main_window import MainWindow
        from nnstudio.ui.theme import app_icon

        self.app = make_app([])
        if app_icon().isNull():
            raise SelfTestFailure("the application icon did not load")
        settings = QSettings(str(self.work / "settings.ini"), QSettings.Format.IniFormat)  # not the user's
        window = MainWindow(settings, autosave_folder=self.work / "autosave")
        window.show_error = lambda title, message: self.errors.append(f"{title}: {message}")
        window.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
        window.ask_recover = lambda item: False
        window.ask_open_path = lambda: None
        window.ask_save_path = lambda: None
        self.window = window
        window.show()
        self.app.processEvents()
        if not window.isVisible():
            raise SelfTestFailure("the main window did not show")
        return f"platform {self.app.platformName()}, {window.width()}x{window.height()}"

    def load(self) -> str:
        from nnstudio.core.paths import EXAMPLES

        path = self.example or EXAMPLES / EXAMPLE_NAME
        if not self.window.load_file(path):
            raise SelfTestFailure(f"cannot open {path}: {'; '.join(self.errors) or 'no reason given'}")
        self.app.processEvents()
        info = self.window.document.watcher.refresh()
        problems = info.problems() if info is not None else []
        if problems:
            raise SelfTestFailure(f"{path.name} has problems: " + "; ".join(p.message for p in problems))
        self.path = Path(path)
        self.window.grab().save(str(self.work / "window.png"))
        return f"{Path(path).name}: {len(self.window.document.graph.nodes)} nodes, {info.total_params:,} parameters"

    def train(self) -> str:
        import torch

        from nnstudio.core.training.project_run import headline, prepare, train_prepared

        torch.set_num_threads(1)
        session = self.window.session
        prepared = prepare(session.project, base_dir=self.path.resolve().parent, epochs=1, device="cpu")
        run = session.run_started()
        result = train_prepared(prepared)
        epochs = result.history.get("epochs", [])
        if len(epochs) != 1:
            raise SelfTestFailure(f"expected 1 epoch of history, got {len(epochs)} ({result.stop_reason})")
        loss = epochs[0].get("train_loss")
        if loss is None or not math.isfinite(loss):
            raise SelfTestFailure(f"the training loss is {loss}")
        if not session.run_finished(result, run=run):
            raise SelfTestFailure("the window's session did not keep the result")
        if session.weights_status != "current" or not self.window.document.modified:
            raise SelfTestFailure(f"after training the weights are {session.weights_status!r} and the project "
                                  f"is {'' if self.window.document.modified else 'not '}marked modified")
        self.app.processEvents()
        return f"{result.steps} steps, train_loss={loss:.4f}, {headline(result, prepared.compiled.task)}"

    def export(self, fmt: str) -> str:
        from nnstudio.core.export import FORMATS, export

        target = self.work / f"spiral{FORMATS[fmt]}"
        result = export(self.window.document.project, target, fmt)
        size = target.stat().st_size if target.is_file() else 0
        if size == 0:
            raise SelfTestFailure(f"{target} was not written")
        if fmt == "py":
            compile(target.read_text(encoding="utf-8"), str(target), "exec")
        if fmt == "safetensors":
            from safetensors.torch import load_file

            tensors = load_file(str(target))
            if set(tensors) != set(self.window.document.project.weights):
                raise SelfTestFailure("the exported weights are not the trained ones")
        warnings = f"; {len(result.warnings)} warning(s)" if result.warnings else ""
        return f"{target} ({size:,} bytes{warnings})"

    def export_onnx(self) -> str:
        """ONNX export is an optional extra (and may be left out of a bundle): checked when it is there."""
        import importlib.util

        missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
        if missing:
            return f"skipped: {' and '.join(missing)} not installed"
        return self.export("onnx")

    def close(self) -> str:
        window = getattr(self, "window", None)
        if window is None:
            return "no window"
        closed = window.close()
        self.app.processEvents()
        if not closed:
            raise SelfTestFailure("the window refused to close")
        window.deleteLater()
        self.app.processEvents()
        return ""
