"""Keeping exported source under a line length, black-style, without depending on black.

Only what exported files need: a too-long code line is split at its last bracket pair ("right-hand split",
as black does), and if the part inside is still too long, one item per line with a trailing comma. Long
lines inside docstrings and comments are wrapped at a space. Anything else is left as it is.
"""

from __future__ import annotations

import io
import textwrap
import tokenize

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
