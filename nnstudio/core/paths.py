"""Where the app's bundled files live: ``resources/`` with ``examples/``, ``data/`` and ``icons/``.

Looked for, first to last:

1. a frozen app (PyInstaller): ``resources/`` inside the bundle (``sys._MEIPASS``: the one-dir bundle's
   ``_internal`` folder, or ``Contents/Frameworks`` of a macOS .app, which links to ``Contents/Resources``),
   then beside the executable;
2. inside the package, ``nnstudio/resources/`` (where the wheel carries them: setup.py maps them there);
3. the source tree: ``resources/`` at the repository root (a checkout or an editable install).

The first folder that exists wins; when none does, the source-tree path is used, so an error names a place.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parents[1]
FOLDER = "resources"


def candidate_roots(frozen: bool | None = None, bundle_dir: str | None = None,
                    executable: str | None = None, source_root: Path = ROOT,
                    package_root: Path = PACKAGE) -> list[Path]:
    """The folders that may hold ``resources/``, in the order they are tried (defaults: this process)."""
    if frozen is None:
        frozen = bool(getattr(sys, "frozen", False))
    if bundle_dir is None:
        bundle_dir = getattr(sys, "_MEIPASS", None)
    if executable is None:
        executable = sys.executable
    roots: list[Path] = []
    if frozen:
        if bundle_dir:
            roots.append(Path(bundle_dir))
        if executable:
            exe_dir = Path(executable).resolve().parent
            roots += [exe_dir, exe_dir.parent / "Resources"]  # beside the program; macOS Contents/Resources
    roots += [package_root, source_root]
    return roots


def find_resources(roots: Iterable[Path] | None = None) -> Path:
    """``<root>/resources`` for the first root that has one (default roots: :func:`candidate_roots`)."""
    roots = list(candidate_roots() if roots is None else roots)
    for root in roots:
        folder = root / FOLDER
        if folder.is_dir():
            return folder
    return (roots[-1] if roots else ROOT) / FOLDER


RESOURCES = find_resources()
EXAMPLES = RESOURCES / "examples"
DATA = RESOURCES / "data"
ICONS = RESOURCES / "icons"
