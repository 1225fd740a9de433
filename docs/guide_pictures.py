"""The pictures of the in-app guide (resources/guide/*.png), made from the real window, offscreen.

    python docs/guide_pictures.py [--out resources/guide] [--seconds 4]

Opens the window at 1400 x 900 with the spiral MLP example and saves, each at most ``--width`` pixels wide:
``canvas.png`` (the network on the canvas), ``palette.png`` (the Layers panel searching for "pool") and
``dashboard.png`` (the dashboard's plots after training for ``--seconds``). Uses throw-away settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def save(widget, path: Path, width: int, height: int | None = None, rect=None) -> None:
    """``widget`` grabbed (its top ``height`` pixels, or ``rect`` of it), at most ``width`` pixels wide."""
    from PySide6.QtCore import QRect, Qt

    if rect is None:
        rect = QRect(0, 0, widget.width(), min(height or widget.height(), widget.height()))
    image = widget.grab(rect).toImage()
    if image.width() > width:
        image = image.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
    image.save(str(path))
    print(path, image.width(), "x", image.height())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "resources" / "guide"))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=720)
    args = parser.parse_args(argv)
    out = Path(args.out)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from nnstudio.core.paths import EXAMPLES
    from nnstudio.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, autosave_folder=Path(tempfile.mkdtemp()))
    window.resize(1400, 900)
    window.show()
    if not window.load_file(EXAMPLES / "spiral_mlp.nnstudio"):
        return 1
    for _ in range(10):
        app.processEvents()
    window.view.fit()
    app.processEvents()
    nodes = window.view.mapFromScene(window.scene.nodes_rect()).boundingRect().adjusted(-24, -24, 24, 24)
    save(window.view, out / "canvas.png", args.width, rect=nodes.intersected(window.view.rect()))

    window.palette_panel.search.setText("pool")
    app.processEvents()
    save(window.palette_panel, out / "palette.png", args.width, height=140)
    window.palette_panel.search.clear()

    from screenshot_training import train_for

    train_for(window, app, args.seconds)
    dashboard = window.training.dashboard
    dock = window.docks["dock_dashboard"]
    dock.setFloating(True)  # a picture at a size of its own, whatever room the window gives the dock
    dock.resize(1000, 640)
    dock.show()
    dashboard.grid.arrange_default()
    for _ in range(10):
        app.processEvents()
        time.sleep(0.05)
    save(dashboard, out / "dashboard.png", min(args.width, 640))
    window.training.worker.wait_stopped(15)
    window.document.undo_stack.setClean()
    window.document.project.weights = None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
