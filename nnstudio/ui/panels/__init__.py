"""Dockable panels of the main window: palette, inspector, summary, problems (and the examples gallery)."""
