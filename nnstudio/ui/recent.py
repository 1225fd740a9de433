"""The recent files (File > Open Recent, the start page), kept in QSettings. Qt only: the start page reads them
before the editor (and torch) is imported."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10
RECENT_KEY = "recent_files"


class RecentFiles:
    """The most recently opened or saved files, newest first, kept in QSettings (at most ``MAX_RECENT``)."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def paths(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list on some back ends
            value = [value]
        return [str(v) for v in (value or [])][:MAX_RECENT]

    def add(self, path: str | os.PathLike[str]) -> None:
        path = str(Path(path).resolve())
        items = [p for p in self.paths() if p != path]
        self._write([path, *items][:MAX_RECENT])

    def remove(self, path: str | os.PathLike[str]) -> None:
        self._write([p for p in self.paths() if p != str(path)])

    def clear(self) -> None:
        self._write([])

    def _write(self, items: list[str]) -> None:
        self.settings.setValue(RECENT_KEY, items)
        self.settings.sync()
