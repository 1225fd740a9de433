"""Layer labels: no two nodes of a graph share one. They are compared by :func:`label_key`; a copy of a
taken label is numbered ("hidden" -> "hidden 2"), and a file whose nodes share labels opens with the later
ones numbered and one load warning (:func:`renamed_label_warnings`)."""

from __future__ import annotations

import re
from typing import Any, Iterable

from nnstudio.core.text import one_line

def label_key(label: str) -> str:
    """What labels are compared by: without the spaces around it, case folded ("Encoder " is "encoder")."""
    return label.strip().casefold() if isinstance(label, str) else ""


_NUMBERED = re.compile(r"(.*\S)\s+(\d{1,9})")


def free_label(label: str, taken: set[str], counters: dict[str, int]) -> str:
    """``label`` numbered so that its key is not in ``taken``: "hidden" -> "hidden 2", "hidden 2" -> "hidden 3".
    ``counters`` (base key -> the next number to try) makes many copies of one label linear."""
    text = label.strip()
    match = _NUMBERED.fullmatch(text)
    base, n = (match.group(1), int(match.group(2)) + 1) if match else (text, 2)
    key = label_key(base)
    n = max(n, counters.get(key, 2))
    while label_key(f"{base} {n}") in taken:
        n += 1
    counters[key] = n + 1
    return f"{base} {n}"


def renamed_label_warnings(graph: Any) -> list[str]:
    """The load warning (one line, or none) for the labels ``Graph.from_dict`` had to change."""
    renamed = graph.renamed_labels
    if not renamed:
        return []
    node_id, old, new = renamed[0]
    more = f" (and {len(renamed) - 1:,} more layers renamed the same way)" if len(renamed) > 1 else ""
    return [f"two layers were called “{one_line(old.strip(), 60)}”: {node_id} is now called “{one_line(new, 70)}”"
            f"{more}; save the project to keep the new names"]



def part_shared_labels(nodes: Iterable[Any]) -> list[tuple[str, str, str]]:
    """A file whose nodes share a label (hand-edited, or written before labels had to differ) still opens: the
    first node keeps the label, each later one gets the first free "label 2", "label 3" ... (no label in the
    file is taken). Relabels ``nodes`` in place; returns (node id, label in the file, label given) for each."""
    nodes = list(nodes)
    taken = {label_key(n.label) for n in nodes if n.label} - {""}
    seen: set[str] = set()
    counters: dict[str, int] = {}
    renamed: list[tuple[str, str, str]] = []
    for node in nodes:
        key = label_key(node.label)
        if not key:
            continue
        if key not in seen:
            seen.add(key)
            continue
        new = free_label(node.label, taken, counters)
        taken.add(label_key(new))
        renamed.append((node.id, node.label, new))
        node.label = new
    return renamed
