"""Writing exported source: the only ways text enters it, and keeping it under a line length.

Text from a project (its name, description, file names, dataset options, messages that quote them) enters
generated source only through the helpers below, so that no input can change the file's structure:

    literal(value)         a Python literal (str, number, bool, None, and lists / tuples / dicts of them)
    comment_text(text)     text for a ``#`` comment: one line, printable, never a coding declaration
    docstring_text(text)   text for inside a triple-quoted docstring: as above, with quotes and backslashes
                           escaped so the docstring cannot end early
    identifier(name)       a name the code uses (a node id, a class name): checked, never changed

Then line length, black-style, without depending on black: a too-long code line is split at its last
bracket pair ("right-hand split", as black does), and if the part inside is still too long, one item per
line with a trailing comma. Long lines inside docstrings and comments are wrapped at a space. Anything else
is left as it is.
"""

from __future__ import annotations

import io
import keyword
import math
import numbers
import re
import textwrap
import tokenize
from typing import Any

from nnstudio.core.errors import ExportError
from nnstudio.core.export.common import one_line

# PEP 263: a comment matching this on line 1 or 2 of a file sets the encoding Python decodes it with
# (``# coding: utf-7`` would let ``+AAo-`` become a line break when the script is run).
_CODING = re.compile(r"(coding)([:=])", re.IGNORECASE)


def literal(value: Any) -> str:
    """A Python literal for ``value``, with strings in double quotes as black writes them. Every character a
    string can hold comes out escaped where it is not printable (line breaks of every kind, NUL, lone
    surrogates), so the literal is one line and reads back as exactly ``value``. Anything but str, bool,
    None, numbers and lists / tuples / dicts of them is an internal error (ExportError)."""
    if isinstance(value, str):
        value = str.__str__(value)  # a plain str, whatever subclass came in
        text = str.__repr__(value)
        if "'" in value:
            return text
        return '"' + text[1:-1].replace('"', '\\"') + '"'
    if value is None or isinstance(value, bool):
        return "True" if value is True else "False" if value is False else "None"
    if isinstance(value, numbers.Integral):
        return int.__repr__(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number):
            return float.__repr__(number)
        return f'float("{"nan" if math.isnan(number) else "inf" if number > 0 else "-inf"}")'
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise ExportError(f"internal error: cannot write a {type(value).__name__} value as Python source; please "
                      "report this with the project")


def comment_text(text: object, limit: int | None = None) -> str:
    """``text`` made safe for a ``#`` comment: one printable line (see ``common.one_line``) in which
    ``coding:`` is written ``coding :`` so it can never be read as an encoding declaration."""
    return _CODING.sub(r"\1 \2", one_line(text, limit))


def comment(text: object, limit: int | None = None) -> str:
    """A whole ``#`` comment line (without indentation) holding ``text``."""
    return f"# {comment_text(text, limit)}".rstrip()


def docstring_text(text: object, limit: int | None = None) -> str:
    """``text`` made safe for inside a triple-quoted, non-raw docstring: one printable line, backslashes and
    double quotes escaped (it cannot end the string or escape its closing quotes), never a coding line."""
    return comment_text(text, limit).replace("\\", "\\\\").replace('"', '\\"')


def identifier(name: object) -> str:
    """``name`` when it is an ASCII Python identifier that is not a keyword; ExportError (an internal error:
    node ids and class names are checked long before export) otherwise."""
    if isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name):
        return str.__str__(name)
    raise ExportError(f"internal error: {one_line(repr(name), 80)} cannot name anything in Python source; "
                      "please report this with the project")


OPENING = {"(": ")", "[": "]", "{": "}"}
CLOSING = {v: k for k, v in OPENING.items()}


def wrap_long_lines(source: str, limit: int = 99) -> str:
    """``source`` with lines longer than ``limit`` wrapped where that can be done safely."""
    lines = source.split("\n")
    docstrings = _docstring_spans(source)
    out: list[str] = []
    number = 1
    while number <= len(lines):
        line = lines[number - 1]
        if number in docstrings:
            end = docstrings[number]
            out.extend(_reflow(lines[number - 1:end], limit))
            number = end + 1
            continue
        if len(line) <= limit:
            out.append(line)
        elif line.lstrip().startswith("#"):
            out.extend(_wrap_text(line, limit, prefix="# "))
        else:
            out.extend(_split_code(line, limit))
        number += 1
    return "\n".join(out)


def _docstring_spans(source: str) -> dict[int, int]:
    """First line -> last line of every triple-quoted string that starts its line (a docstring)."""
    spans: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.string.startswith(('"""', "'''")) \
                    and not tok.line[: tok.start[1]].strip():
                spans[tok.start[0]] = tok.end[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    return spans


def _reflow(lines: list[str], limit: int) -> list[str]:
    """A docstring's lines, each paragraph that holds a too-long line re-wrapped to ``limit``. A paragraph
    is a run of non-blank lines with the same indentation (lists and examples indent differently)."""
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph and any(len(p) > limit for p in paragraph):
            indent = paragraph[0][: len(paragraph[0]) - len(paragraph[0].lstrip())]
            words = " ".join(p.strip() for p in paragraph)
            out.extend(textwrap.wrap(words, width=limit, initial_indent=indent, subsequent_indent=indent,
                                     break_long_words=False, break_on_hyphens=False))
        else:
            out.extend(paragraph)
        paragraph.clear()

    for line in lines:
        indent = len(line) - len(line.lstrip())
        same = paragraph and indent == len(paragraph[0]) - len(paragraph[0].lstrip())
        if not line.strip() or line.strip() in ('"""', "'''"):
            flush()
            out.append(line)
        elif same and not line.lstrip().startswith(("-", "*", ">>>")):
            paragraph.append(line)
        else:
            flush()
            paragraph.append(line)
    flush()
    return out


def _wrap_text(line: str, limit: int, prefix: str) -> list[str]:
    """Wrap a comment at spaces, keeping its indentation and the indentation after the ``#``."""
    indent = line[: len(line) - len(line.lstrip())]
    after = line.strip()[1:]
    inner = after[: len(after) - len(after.lstrip())] or " "
    lead = f"{indent}#{inner}"
    pieces = textwrap.wrap(after.strip(), width=limit - len(lead), break_long_words=False,
                           break_on_hyphens=False)
    return [lead + p for p in pieces] or [line]


def _tokens(line: str) -> list[tokenize.TokenInfo] | None:
    try:
        return [t for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
                if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def _split_code(line: str, limit: int) -> list[str]:
    indent = line[: len(line) - len(line.lstrip())]
    text = line.strip()
    tokens = _tokens(text)
    if not tokens or _has_comment(text):
        return [line]
    close = _last_closing(tokens)
    if close is None:
        return [line]
    open_ = _matching_opening(tokens, close)
    if open_ is None:
        return [line]
    start = tokens[open_].end[1]
    end = tokens[close].start[1]
    head, body, tail = text[:start], text[start:end].strip(), text[end:]
    if not body:
        return [line]
    inner = indent + "    "
    if len(inner) + len(body) <= limit and not body.endswith(","):
        middle = [inner + body]
    else:
        items = _top_level_items(body)
        if items is None:
            return [line]
        middle = [f"{inner}{item}," for item in items]
        middle = [m if len(m) <= limit else _split_code(m, limit) for m in middle]
        middle = [x for m in middle for x in ([m] if isinstance(m, str) else m)]
    first = indent + head
    last = indent + tail
    if len(first) > limit:
        return [line]
    return [first, *middle, last]


def _has_comment(text: str) -> bool:
    try:
        return any(t.type == tokenize.COMMENT for t in tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return True


def _last_closing(tokens: list[tokenize.TokenInfo]) -> int | None:
    """Index of the last closing bracket that only non-bracket tokens follow (``) -> None:``)."""
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].type == tokenize.OP and tokens[i].string in CLOSING:
            return i
    return None


def _matching_opening(tokens: list[tokenize.TokenInfo], close: int) -> int | None:
    depth = 0
    for i in range(close, -1, -1):
        s = tokens[i].string if tokens[i].type == tokenize.OP else ""
        if s in CLOSING:
            depth += 1
        elif s in OPENING:
            depth -= 1
            if depth == 0:
                return i
    return None


def _top_level_items(body: str) -> list[str] | None:
    """``body`` split at its top-level commas (a trailing comma dropped)."""
    tokens = _tokens(body)
    if tokens is None:
        return None
    items, depth, start = [], 0, 0
    for tok in tokens:
        s = tok.string if tok.type == tokenize.OP else ""
        if s in OPENING:
            depth += 1
        elif s in CLOSING:
            depth -= 1
        elif s == "," and depth == 0:
            items.append(body[start:tok.start[1]].strip())
            start = tok.end[1]
    rest = body[start:].strip()
    if rest:
        items.append(rest)
    return items
