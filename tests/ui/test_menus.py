"""The menus and the view shortcuts: no two items of one menu share a mnemonic, and the view's keys (F fits) work
wherever the focus is in the window, except in a field that types them."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QComboBox, QLineEdit, QMenu  # noqa: E402

from nnstudio.ui.actions import VIEW_ACTIONS, takes_typing  # noqa: E402


@pytest.fixture
def window(window, qtbot):
    """The conftest window, active (shortcuts reach only the active window)."""
    w = window
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow())
    return w


def mnemonic(text: str) -> str | None:
    """The letter after a single ``&`` (``&&`` is a literal ampersand), lower case; None without one."""
    i = 0
    while i < len(text) - 1:
        if text[i] == "&":
            if text[i + 1] == "&":
                i += 2
                continue
            return text[i + 1].lower()
        i += 1
    return None


def every_menu(window) -> dict[str, list[QAction]]:
    """The menu bar and each menu in it, with submenus, by a readable path."""
    out = {"menu bar": window.menuBar().actions()}
    todo = [(a.text().replace("&", ""), a.menu()) for a in window.menuBar().actions() if a.menu()]
    while todo:
        path, menu = todo.pop()
        out[path] = menu.actions()
        todo += [(f"{path} > {a.text().replace('&', '')}", a.menu()) for a in menu.actions()
                 if isinstance(a.menu(), QMenu)]
    return out


def clashes(actions: list[QAction]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for action in actions:
        if action.isSeparator() or not action.isVisible():
            continue
        letter = mnemonic(action.text())
        if letter:
            seen.setdefault(letter, []).append(action.text())
    return {letter: texts for letter, texts in seen.items() if len(texts) > 1}


def test_no_two_items_of_a_menu_share_a_mnemonic(window):
    from nnstudio.core.paths import EXAMPLES

    for path in sorted(EXAMPLES.glob("*.nnstudio")):  # Open Recent has entries (and Clear Recent Files)
        window.recent.add(path)
    window.update_recent_menu()
    menus = every_menu(window)
    assert {"menu bar", "File", "Edit", "View", "Train", "Help", "File > Open Recent"} <= set(menus)
    found = {path: c for path, actions in menus.items() if (c := clashes(actions))}
    assert found == {}


def test_mnemonic_reading():
    assert mnemonic("Open E&xample…") == "x" and mnemonic("Save && &Quit") == "q" and mnemonic("Layers") is None


def fit_count(window) -> list[bool]:
    fired: list[bool] = []
    window.acts.fit.triggered.connect(lambda *_: fired.append(True))
    return fired


def test_f_in_the_layer_search_types_an_f(window, qtbot):
    fired = fit_count(window)
    search = window.palette_panel.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    QTest.keyClick(search, Qt.Key.Key_F)
    QTest.keyClick(search, Qt.Key.Key_I)
    assert search.text() == "fi" and fired == []


def test_f_elsewhere_fits_the_view(window, qtbot):
    fired = fit_count(window)
    for type_id in ("input_vector", "dense", "dense", "output"):
        window.add_layer(type_id)
    window.view.zoom_in()
    window.view.zoom_in()
    zoomed = window.view.transform().m11()
    device = window.training.training_panel.device  # a combo box that is not editable: not a text field
    window.docks["dock_training"].show()
    window.docks["dock_training"].raise_()
    device.setFocus()
    qtbot.waitUntil(device.hasFocus)
    assert not takes_typing(device)
    QTest.keyClick(device, Qt.Key.Key_F)
    assert fired == [True]
    assert window.view.transform().m11() != pytest.approx(zoomed)  # the view was fitted


def test_view_shortcuts_are_window_wide(window):
    for name in VIEW_ACTIONS:
        action = getattr(window.acts, name)
        assert action.shortcutContext() == Qt.ShortcutContext.WindowShortcut, name
        assert action in window.actions(), name
    assert window.acts.delete in window.view.actions()  # Delete stays with the canvas


class StubbornField(QLineEdit):
    """A text field that does not claim the keys it types (as a custom widget may not): the guard does."""

    def event(self, event):
        if event.type() == QEvent.Type.ShortcutOverride:
            event.ignore()
            return False
        return super().event(event)


def test_the_guard_keeps_a_key_for_any_text_field(window, qtbot):
    fired = fit_count(window)
    field = StubbornField()
    window.palette_panel.layout().addWidget(field)
    field.show()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClick(field, Qt.Key.Key_F)
    assert field.text() == "f" and fired == []
    field.setReadOnly(True)  # a field nobody types in: F fits again
    QTest.keyClick(field, Qt.Key.Key_F)
    assert fired == [True]
    field.setReadOnly(False)
    dock = window.docks["dock_palette"]
    dock.setFloating(True)  # a window of its own: the key goes no further up than the dock
    dock.show()
    dock.activateWindow()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClick(field, Qt.Key.Key_G)
    QTest.keyClick(field, Qt.Key.Key_F)
    assert field.text() == "fgf" and fired == [True]


def test_what_counts_as_a_text_field(qapp):
    combo = QComboBox()
    assert not takes_typing(combo)
    combo.setEditable(True)
    assert takes_typing(combo) and takes_typing(QLineEdit()) and not takes_typing(None)
