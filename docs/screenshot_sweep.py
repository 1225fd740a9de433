"""The README's picture of a sweep: the "Optimizers compared" example's sweep (SGD, Adam and RMSprop) trained in
the real window, offscreen, with the Runs panel and the dashboard's "Runs compared" plot.

    python docs/screenshot_sweep.py docs/images/optimizers_compared.png [--size 1400x900] [--seeds 1]

Opens resources/examples/optimizers_compared.nnstudio, shows the Train workspace with the Runs panel in front,
trains the sweep the project comes with (``--seeds`` repeats each optimizer) and grabs the window when it ends.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # screenshot_training, beside this file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--size", default="1400x900", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--seeds", type=int, default=1, help="runs per optimizer")
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop

    from screenshot_training import open_example

    app, window = open_example("optimizers_compared", args.size)
    if window is None:
        return 1
    window.workspaces.switch("train")
    window.docks["dock_runs"].raise_()
    while window.session.readiness == "checking":
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
    spec = window.runs.offered()
    spec.seeds = args.seeds
    if not window.training.sweep(spec):
        return 1
    while window.training.sweeper.active or window.training.worker.running:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
    window.docks["dock_runs"].raise_()
    window.training.dashboard.grid.toggle_maximised("compare")
    for _ in range(20):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
    window.grab().save(args.output)
    window.document.undo_stack.setClean()
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
