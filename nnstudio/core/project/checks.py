"""What ``project.json`` must be, beyond being JSON: the JSON Schema (``schema.json``) and what a schema cannot say
(unique node ids, wires between existing nodes, at most ``graph.MAX_NODES`` nodes). Every problem becomes a
ProjectFileError naming the file and the field, in words a person can act on."""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import re
from importlib import resources
from typing import Any

import jsonschema

from nnstudio.core.errors import GraphError, ProjectFileError
from nnstudio.core.graph import MAX_FRAMES, MAX_NODES, MAX_WIRES, frames_from_list
from nnstudio.core.text import clip as _clip
from nnstudio.core.text import kind as _kind
from nnstudio.core.text import short

_NODE_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (hostile files can hold megabyte-long strings)."""
    return short(value, limit)


@functools.lru_cache(maxsize=1)
def validator() -> jsonschema.Draft202012Validator:
    text = resources.files("nnstudio.core.project").joinpath("schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def check_project(data: dict[str, Any], path: Any) -> None:
    """Schema check, then what a schema cannot say: unique node ids, wires between existing nodes."""
    _check_counts(data, path)  # before the schema, which would check every one of a million nodes first
    # The most relevant of the first errors: a hostile file can hold millions of them. jsonschema takes ~150 us a
    # node, so nodes and wires that plainly match the schema are not passed through it (see _plain_graph).
    document = _without_plain_graph(data)
    error = jsonschema.exceptions.best_match(itertools.islice(validator().iter_errors(document), 50))
    if error is not None:
        field, message = _describe(error)
        raise ProjectFileError(path, message, _clip(field, 200) or None)
    seen: set[str] = set()
    for i, node in enumerate(data["graph"]["nodes"]):
        node_id = node["id"]
        if not re.fullmatch(_NODE_ID, node_id):  # the schema pattern's $ also accepts a trailing newline
            raise ProjectFileError(path, f"{node_id!r} is not a valid node id", f"graph.nodes[{i}].id")
        if node_id in seen:
            raise ProjectFileError(path, f"node id {node_id!r} is used twice", f"graph.nodes[{i}].id")
        seen.add(node_id)
    wires: set[tuple[str, str, int]] = set()
    for j, edge in enumerate(data["graph"]["edges"]):
        for end in ("from", "to"):
            if edge[end] not in seen:
                raise ProjectFileError(path, f"the wire refers to node {edge[end]!r}, which does not exist",
                                       f"graph.edges[{j}].{end}")
        wire = (edge["from"], edge["to"], int(edge.get("port", 0)))
        if wire in wires:
            raise ProjectFileError(path, "the same wire appears twice", f"graph.edges[{j}]")
        wires.add(wire)
    try:  # frames (format 3): ids unique, nodes that exist, a node in at most one frame
        frames_from_list(data.get("frames", []), dict.fromkeys(seen))
    except GraphError as exc:
        raise ProjectFileError(path, *frame_error(exc)) from None


def frame_error(exc: GraphError) -> tuple[str, str]:
    """(message, field) of a frame problem worded ``frames[2].label: ...``."""
    field, _, message = str(exc).partition(": ")
    return (message, field) if field.startswith("frames") and message else (str(exc), "frames")


_NODE_KEYS = frozenset({"id", "type", "params", "position", "label"})
_EDGE_KEYS = frozenset({"from", "to", "port"})
_SCALARS = (str, int, float, bool, type(None))


def _without_plain_graph(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its graph's lists left empty when every node and wire in them plainly matches the schema
    (a quick check that is stricter than the schema, so it never lets through what the schema refuses), else
    ``data`` itself: the schema then finds, and words, what is wrong."""
    graph = data.get("graph")
    if not isinstance(graph, dict) or set(graph) != {"nodes", "edges"}:
        return data
    nodes, edges = graph["nodes"], graph["edges"]
    if not (isinstance(nodes, list) and isinstance(edges, list)):
        return data
    types = _layer_types()
    if not (all(_plain_node(n, types) for n in nodes) and all(_plain_edge(e) for e in edges)):
        return data
    return {**data, "graph": {"nodes": [], "edges": []}}


def _plain_node(node: Any, types: frozenset[str]) -> bool:
    if type(node) is not dict or not node.keys() <= _NODE_KEYS or not _plain_id(node.get("id")):
        return False
    if not (type(node.get("type")) is str and node["type"] in types):
        return False
    params = node.get("params", {})
    if type(params) is not dict or not all(type(k) is str and _plain_param(v) for k, v in params.items()):
        return False
    position = node.get("position", [0, 0])
    if not (type(position) is list and len(position) == 2 and all(type(v) in (int, float) for v in position)):
        return False
    return type(node.get("label", "")) is str


def _plain_param(value: Any) -> bool:
    if type(value) is list:
        return all(type(v) in _SCALARS for v in value)
    return type(value) in _SCALARS


def _plain_edge(edge: Any) -> bool:
    if type(edge) is not dict or not edge.keys() <= _EDGE_KEYS:
        return False
    port = edge.get("port", 0)
    return _plain_id(edge.get("from")) and _plain_id(edge.get("to")) and type(port) is int and 0 <= port <= 65535


def _plain_id(value: Any) -> bool:
    return type(value) is str and re.fullmatch(_NODE_ID, value) is not None


@functools.lru_cache(maxsize=1)
def _layer_types() -> frozenset[str]:
    text = resources.files("nnstudio.core.project").joinpath("schema.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["$defs"]["layer_type"]["enum"])


def _check_counts(data: dict[str, Any], path: Any) -> None:
    """Refuse a graph with more nodes or wires than a graph may hold (``graph.MAX_NODES``, ``MAX_WIRES``)."""
    graph = data.get("graph")
    if not isinstance(graph, dict):
        return  # the schema says what is wrong
    for key, limit, what in (("nodes", MAX_NODES, "nodes"), ("edges", MAX_WIRES, "wires")):
        items = graph.get(key)
        if isinstance(items, list) and len(items) > limit:
            raise ProjectFileError(path, f"holds {len(items):,} {what}; a network may have at most {limit:,}",
                                   f"graph.{key}")


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """A field path like ``graph.nodes[3].params.units`` and a message a person can act on."""
    parts = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return _field_path([*parts, missing[0] if missing else "?"]), "is missing"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        return _field_path([*parts, extra[0] if extra else "?"]), "is not a field of this format"
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = [_TYPE_NAMES.get(t, t) for t in expected]
        wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return _field_path(parts), f"must be {wanted}, not {_kind(error.instance)}"
    if parts and parts[0] == "frames":
        return _field_path(parts), _frame_message(error, parts)
    if kind == "enum" and parts and parts[-1] == "type":
        close = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        hint = f": did you mean {close[0]!r}?" if close else ""
        return _field_path(parts), f"unknown layer type {_short(error.instance)}{hint}"
    if kind == "pattern" and parts and parts[-1] in ("id", "from", "to"):
        return _field_path(parts), (f"{_short(error.instance)} is not a valid node id: use letters, digits "
                                    "and _, not starting with a digit")
    if kind in ("minItems", "maxItems") and parts and parts[-1] == "position":
        return _field_path(parts), "must be a list of two numbers [x, y]"
    return _field_path(parts), _clip(error.message, 200)


def _frame_message(error: jsonschema.ValidationError, parts: list[Any]) -> str:
    """What is wrong with a frame's field, in words (the field path, ``frames[2].label``, names the frame)."""
    kind, last = error.validator, parts[-1]
    if len(parts) == 1:
        return f"there are {len(error.instance):,} frames; a network may have at most {MAX_FRAMES:,}" \
            if kind == "maxItems" else _clip(error.message, 200)
    if kind == "maxLength":
        text = f"is {len(error.instance):,} characters long; at most {error.validator_value} are allowed"
    elif kind == "pattern" and last == "color":
        text = f"{_short(error.instance)} is not a colour: write it #rrggbb (six hex digits, e.g. #5b8dd9)"
    elif kind == "pattern":
        text = f"{_short(error.instance)} is not a valid id: use letters, digits and _, not starting with a digit"
    elif kind == "minItems":
        text = "must name at least one node"
    else:
        text = _clip(error.message, 200)
    return text


def _field_path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
