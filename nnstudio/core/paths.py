"""Where the app's bundled files live."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
EXAMPLES = RESOURCES / "examples"
