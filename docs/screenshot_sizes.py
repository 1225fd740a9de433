"""Screenshots of both workspaces at the window sizes the app must work at, to look at for clipped text and
room (docs/images/window_build_WxH.png and window_train_WxH.png).

    python docs/screenshot_sizes.py [--sizes 1024x700 1600x1000 2560x1440] [--seconds 4] [--out docs/images]

Each size gets a fresh window (throw-away settings, so the default layouts) with the digits CNN example open and a
Conv2D selected (Build), then the Train workspace after SECONDS of training.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1024x700", "1600x1000", "2560x1440"])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from nnstudio.core.paths import EXAMPLES
    from nnstudio.ui.app import make_app
    from nnstudio.ui.main_window import MainWindow
    from screenshot_training import train_for

    app = make_app([])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        tmp = Path(tempfile.mkdtemp())
        window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), autosave_folder=tmp / "auto")
        window.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
        window.resize(width, height)
        window.show()
        for _ in range(5):
            app.processEvents()
        if not window.open_example_file(EXAMPLES / "digits_cnn.nnstudio"):  # as the start page opens it
            return 1
        window.focus_node("conv2d_1")
        for _ in range(5):
            app.processEvents()
        window.grab().save(str(out / f"window_build_{width}x{height}.png"))
        window.workspaces.switch("train")
        train_for(window, app, args.seconds)
        for _ in range(5):
            app.processEvents()
        window.grab().save(str(out / f"window_train_{width}x{height}.png"))
        window.training.worker.stop()
        window.training.worker.wait_stopped(15)
        window.document.undo_stack.setClean()
        window.close()
        print(size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
