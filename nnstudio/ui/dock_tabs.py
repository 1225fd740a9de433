"""A work-around for Qt 6.11's ``QMainWindow.restoreState``: each call gives every group of tabbed docks a new
tab bar and leaves the old one on screen where the group used to be (over the docks that are there now, with
tabs that no longer switch anything). ``restore(window, state)`` restores and then hides every tab bar of the
window that is not the bar of a group now on screen: the one along the bottom of the group's current dock, with
the titles of the group's visible docks (the newest such bar, when restoring left duplicates on top of it)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


def restore(window: QMainWindow, state: QByteArray, version: int) -> bool:
    """``window.restoreState(state, version)``, then the stale tab bars hidden (now and once laid out)."""
    done = window.restoreState(state, version)
    tidy(window)
    QTimer.singleShot(0, lambda: tidy(window))
    return done


def tidy(window: QMainWindow) -> int:
    """Hide the tab bars of ``window`` that belong to no group of docks on screen; how many it hid."""
    try:
        window.layout().activate()
    except RuntimeError:  # the window is being destroyed
        return 0
    docks = [d for d in window.findChildren(QDockWidget) if d.parent() is window and d.isVisible()
             and not d.isFloating()]
    bars = [b for b in window.findChildren(QTabBar) if b.parent() is window]
    keep: set[int] = set()
    for dock in docks:
        group = [dock, *window.tabifiedDockWidgets(dock)]
        titles = sorted(d.windowTitle() for d in group if d.isVisible())
        if len(titles) < 2 or dock.visibleRegion().isEmpty():
            continue  # not tabbed, or not the group's current dock
        rect = dock.geometry()
        matching = [b for b in bars if sorted(b.tabText(i) for i in range(b.count())) == titles
                    and abs(b.x() - rect.x()) <= 2 and abs(b.width() - rect.width()) <= 2
                    and (abs(b.y() - rect.bottom() - 1) <= 3 or abs(b.geometry().bottom() + 1 - rect.y()) <= 3)]
        if matching:
            keep.add(id(matching[-1]))
    hidden = 0
    for bar in bars:
        if id(bar) not in keep and bar.isVisible():
            bar.hide()
            hidden += 1
    return hidden
