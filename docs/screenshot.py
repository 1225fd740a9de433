"""Make the README screenshot from the real main window, offscreen.

    python docs/screenshot.py [--out docs/images/main_window.png] [--project FILE] [--select NODE_ID]

Opens the window at 1400 x 900 with the digits CNN example, fits the view, selects a Conv2D node (so the
inspector shows its settings and activation plot) and grabs the window. A network too wide to fit at a zoom where
the node faces show their text (``--min-zoom``) is shown from its input at that zoom instead. Uses throw-away
settings, so the layout saved by your own NN Studio is neither used nor changed.
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

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nnstudio.core.paths import EXAMPLES  # noqa: E402
from nnstudio.ui.app import make_app  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402

SIZE = (1400, 900)


def settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "main_window.png"))
    parser.add_argument("--project", default=str(EXAMPLES / "digits_cnn.nnstudio"))
    parser.add_argument("--select", default="conv2d_1", help="node to select (its settings show in the inspector)")
    parser.add_argument("--min-zoom", type=float, default=0.6, help="never zoom out further than this")
    parser.add_argument("--dark", action="store_true", help="use the dark palette")
    args = parser.parse_args(argv)

    app = make_app([])
    if args.dark:
        from nnstudio.ui.theme import dark_palette

        app.setPalette(dark_palette())
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, autosave_folder=Path(tmp) / "autosave")
        window.resize(*SIZE)
        window.show()
        settle(app)
        if not window.load_file(args.project):
            return 1
        settle(app)
        view = window.view
        view.fit()
        if view.zoom() < args.min_zoom:
            view.zoom_by(args.min_zoom / view.zoom())
            rect = window.scene.nodes_rect()
            visible = view.mapToScene(view.viewport().rect()).boundingRect()
            view.centerOn(rect.left() - 30 + visible.width() / 2, rect.center().y())
        window.scene.select_nodes([args.select])
        settle(app)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            print(f"could not write {out}", file=sys.stderr)
            return 1
        window.document.undo_stack.setClean()
        window.close()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
