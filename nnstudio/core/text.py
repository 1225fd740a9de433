"""Text from files in messages: one printable line, a value cut to fit, what kind of JSON value it is.

Every message the core writes about a file's content goes through these, so that a hostile file cannot make a
message span lines, move a terminal's cursor, raise while it is being written or flood a screen.
"""

from __future__ import annotations

from typing import Any


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` as one line of printable characters: every kind of line break and other whitespace becomes
    a space, any other character ``str.isprintable`` refuses (control characters such as ESC, lone
    surrogates, format characters) is written as its escape (``\\x1b``, ``\\ud800``), so the result can be
    shown, printed and written as UTF-8. ``limit`` cuts it to that many characters, ending in ``...``."""
    text = text if isinstance(text, str) else str(text)
    out = "".join(ch if ch.isprintable() else " " if ch.isspace() else ascii(ch)[1:-1] for ch in text)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 3, 0)] + "..."
    return out


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when it was longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: Any, limit: int = 40) -> str:
    """``repr`` cut to a length that fits a message (a huge number or list would flood it). Never raises and
    never builds the whole text of a huge value (Python refuses to print ints of over 4,300 digits)."""
    text = _bounded_repr(value, limit + 3, 0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind(value: Any) -> str:
    """What a JSON value is, for "must be a number, not the string 'x'" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {short(value)}"
    if isinstance(value, str):
        return f"the string {short(value)}"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def _bounded_repr(value: Any, budget: int, depth: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"{'-' if value < 0 else ''}<a number of {digits:,} digits>"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[: budget + 2])
    if isinstance(value, (list, tuple, dict)):
        items = value.items() if isinstance(value, dict) else value
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]") if isinstance(value, list) \
            else ("(", ")")
        parts: list[str] = []
        used = 0
        for item in items:
            if used >= budget or depth >= 4:
                parts.append("...")
                break
            if isinstance(value, dict):
                text = f"{_bounded_repr(item[0], budget - used, depth + 1)}: " \
                       f"{_bounded_repr(item[1], budget - used, depth + 1)}"
            else:
                text = _bounded_repr(item, budget - used, depth + 1)
            parts.append(text)
            used += len(text) + 2
        return opening + ", ".join(parts) + closing
    try:
        return repr(value)[: budget + 2]
    except Exception:  # noqa: BLE001 - an object whose repr fails
        return f"<{type(value).__name__}>"
