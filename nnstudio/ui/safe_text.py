"""Strings from a file, shown as the text they are: never as HTML, never as anything Qt interprets.

Qt renders rich text wherever it guesses a string "might be rich text" (``QLabel`` in its default
``Qt.AutoText``, ``QMessageBox`` text, every tooltip, pyqtgraph's labels and legends) and treats a few characters
as commands elsewhere (``&`` a mnemonic and a tab the shortcut column in menu texts, ``[*]`` in a window title,
U+009C in elided text). A project name, a node label, a dataset path or column name, a class name or an error
message that quotes any of them therefore goes through one of these helpers on its way to a widget:

* :func:`set_plain` / :func:`plain` for a QLabel (``Qt.PlainText``),
* :func:`rich` inside our own markup and :func:`tooltip` for tooltips (escaped, always rich, so the escape
  is always undone on screen),
* :func:`one_line` for one-line places (node faces, titles, status bar, menus),
* :func:`message_box` for dialogs (plain text, links not opened).

All of them first :func:`clean` the string: lone surrogates (which PySide6 silently drops) and control characters
become U+FFFD, and a string longer than the place allows is cut with an ellipsis (the model keeps all of it).
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"
MAX_TEXT = 4_000  # characters of one string a label or dialog shows
MAX_LINE = 300  # ... a one-line place
MAX_TIP = 1_000  # ... a tooltip
MAX_DETAILS = 200_000  # ... a dialog's Details (a traceback)

# Lone surrogates (a Python str holds no pairs), control characters other than tab and the line breaks, and the
# explicit bidirectional embeddings, overrides and isolates, which can make a label read backwards ("\u202eevil"
# shows as "live") and reorder the text around it; right-to-left scripts still show right to left on their own.
_BAD = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # every other way of ending a line
_SPACES = re.compile("[\t\n]+")


def clean(text: Any, limit: int = MAX_TEXT) -> str:
    """``text`` (anything: a non-string is shown as ``str()`` of it) as a string Qt shows exactly as Python holds
    it: lone surrogates and control characters are U+FFFD, every line break is ``\\n``, and a string longer than
    ``limit`` characters is cut and ends with an ellipsis."""
    try:
        s = text if isinstance(text, str) else str(text)
    except Exception:  # noqa: BLE001 - an object whose str() fails still gets a name on screen
        s = f"<{type(text).__name__}>"
    if len(s) > limit:
        s = s[: max(limit - 1, 0)] + ELLIPSIS
    s = _BREAKS.sub("\n", s)
    return _BAD.sub(REPLACEMENT, s)


def one_line(text: Any, limit: int = MAX_LINE) -> str:
    """:func:`clean`, on one line: line breaks and tabs are spaces."""
    return _SPACES.sub(" ", clean(text, limit))


def rich(text: Any, limit: int = MAX_TEXT) -> str:
    """``text`` escaped for our own rich-text markup around it (line breaks as ``<br>``)."""
    return html.escape(clean(text, limit), quote=False).replace("\n", "<br>")


def tooltip(text: Any, limit: int = MAX_TIP) -> str:
    """A tooltip that shows ``text`` literally. Qt renders a tooltip as rich text when it guesses so from its
    first line, so the text is escaped AND marked as rich text: the escape is undone on screen every time."""
    return f"<qt>{rich(text, limit)}</qt>"


def rich_tooltip(markup: str) -> str:
    """A tooltip of our own markup (whose pieces from a file went through :func:`rich`), always rendered as
    rich text."""
    return f"<qt>{markup}</qt>"


def menu_text(text: Any, limit: int = 200) -> str:
    """Text for a QAction in a menu: one line, ``&`` not a mnemonic."""
    return one_line(text, limit).replace("&", "&&")


def window_title(text: Any, limit: int = 200) -> str:
    """A piece of a window title: one line, and ``[*]`` (Qt's unsaved-changes placeholder) kept literally."""
    return one_line(text, limit).replace("[*]", "[*][*]")


def safe_stem(name: Any, limit: int = 80) -> str:
    """A file name (without extension) from a project name: one line, no path separators or characters file
    systems refuse, not empty."""
    cleaned = "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 or c == REPLACEMENT else c
                      for c in one_line(name or "", limit).strip())
    cleaned = cleaned.replace(" ", "_").lower().strip(".")
    return cleaned or "model"


def plain(label: QLabel) -> QLabel:
    """Make ``label`` show its text as plain text (never HTML, never a link); returns it."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setOpenExternalLinks(False)
    return label


def set_plain(label: QLabel, text: Any, limit: int = MAX_TEXT) -> None:
    """Show ``text`` in ``label`` as plain text."""
    plain(label)
    label.setText(clean(text, limit))


def plain_label(text: Any = "", parent: QWidget | None = None, limit: int = MAX_TEXT) -> QLabel:
    label = plain(QLabel(parent))
    label.setText(clean(text, limit))
    return label


Button = QMessageBox.StandardButton


def message_box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: Any, informative: Any = "",
                details: Any = "", buttons: Button = Button.Ok, default: Button | None = None) -> QMessageBox:
    """A message box whose texts are all plain: what a file put into them is shown, never rendered or linked.
    Not shown yet: the caller ``exec()``s it (modal) or ``show()``s it."""
    box = QMessageBox(icon, one_line(title, 200), clean(text), buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    for label in box.findChildren(QLabel, "qt_msgbox_label"):
        plain(label)
    if informative:
        box.setInformativeText(clean(informative))
        for label in box.findChildren(QLabel, "qt_msgbox_informativelabel"):
            plain(label)
    if details:
        box.setDetailedText(clean(details, MAX_DETAILS))  # a QTextEdit given plain text
    if default is not None:
        box.setDefaultButton(default)
    return box


__all__ = ["clean", "menu_text", "message_box", "one_line", "plain", "plain_label", "rich", "rich_tooltip",
           "safe_stem", "set_plain", "tooltip", "window_title"]
