"""Screenshots of the main window while an example trains, for the README.

    python docs/screenshot_training.py spiral_mlp 2.5 docs/images/training_spiral.png [--plot boundary]
        [--size 1400x900] [--workspace train]

Opens the real window offscreen at --size, loads resources/examples/EXAMPLE.nnstudio, shows the Train workspace
(its plots in a grid; --plot brings one of them in front of those it is tabbed with: loss, metrics, lr,
weights, activations, boundary, confusion), presses Train and grabs the window SECONDS later (or at the end, if
training finishes first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def train_for(window, app, seconds: float) -> None:
    """Train the window's project (once its data are loaded and checked) for at most ``seconds``."""
    from PySide6.QtCore import QEventLoop

    while window.session.readiness == "checking":
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
    window.training.start()
    start = time.perf_counter()
    while window.training.worker.running or time.perf_counter() - start < 0.5:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
        if time.perf_counter() - start >= seconds:
            break


def open_example(example: str, size: str):
    """(app, window): the real window offscreen at ``size`` ("1400x900") with settings of its own, the example
    loaded (window None when it cannot be)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from nnstudio.core.paths import EXAMPLES
    from nnstudio.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, autosave_folder=Path(tempfile.mkdtemp()))
    window.resize(*(int(v) for v in size.lower().split("x")))
    window.show()
    return app, (window if window.load_file(EXAMPLES / f"{example}.nnstudio") else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example")
    parser.add_argument("seconds", type=float)
    parser.add_argument("output")
    parser.add_argument("--plot", default="", help="plot to bring to the front, e.g. boundary")
    parser.add_argument("--size", default="1400x900", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--workspace", default="train", choices=("build", "train"))
    args = parser.parse_args()

    app, window = open_example(args.example, args.size)
    if window is None:
        return 1
    window.workspaces.switch(args.workspace)
    if args.plot:
        window.training.dashboard.grid.show_plot(args.plot)
    train_for(window, app, args.seconds)
    window.view.fit()
    app.processEvents()
    window.grab().save(args.output)
    window.training.worker.wait_stopped(15)
    window.document.undo_stack.setClean()
    window.document.project.weights = None
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
