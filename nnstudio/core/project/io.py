"""Reading and writing ``.nnstudio`` project files (the format is described in docs/file-format.md).

A project file is a zip archive holding ``project.json`` and, when the project has them, ``weights.safetensors``
and ``history.json``. Saving is atomic: the archive is written to a temporary file beside the target, synced
to disk and then moved over the target, so a crash never leaves a half-written project. Loading treats the file
as hostile: sizes are capped, only the three known members are read, nothing is unpickled (``torch.load`` is
never called) and every problem becomes a ProjectFileError naming the file and the bad field.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import itertools
import json
import math
import os
import re
import secrets
import stat
import warnings
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from nnstudio import __version__
from nnstudio.core.errors import GraphError, ProjectFileError
from nnstudio.core.graph import Graph
from nnstudio.core.project import migrations
from nnstudio.core.project.model import Project

PROJECT_JSON = "project.json"
WEIGHTS = "weights.safetensors"
HISTORY = "history.json"

# Caps on uncompressed member sizes (bytes) and on how much a member may shrink when compressed.
MAX_JSON_BYTES = 20 * 1024**2
MAX_HISTORY_BYTES = 20 * 1024**2
MAX_WEIGHTS_BYTES = 4 * 1024**3
MAX_RATIO = 200  # JSON compresses ~5-20x and float weights ~1.1x; deflate tops out near 1000x on filler
RATIO_CHECK_FROM = 1024**2  # small members cannot do harm, whatever their ratio
MAX_JSON_DEPTH = 100

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same project always gives the same bytes
_NODE_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_INT_DTYPES = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
               *(getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n))}
_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


# -- saving ---------------------------------------------------------------------------------------------------
def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` to ``path`` atomically (the previous file stays intact if anything fails).

    Raises ProjectFileError if the project holds something the format cannot store (settings that are not
    JSON, a tensor that is not a float or integer tensor ...); nothing is written then. OSError from the
    disk propagates unchanged.
    """
    data = {
        "format_version": migrations.CURRENT_VERSION,
        "app_version": __version__,
        "name": project.name,
        "description": project.description,
        "graph": project.graph.to_dict(),
        "training": project.training,
        "dataset": project.dataset,
    }
    for key in ("name", "description", "training", "dataset"):  # name the field that is not JSON-safe
        _dumps(data[key], path, key, allow_nan=False)
    encoded = _dumps(data, path, PROJECT_JSON, allow_nan=False)
    _check_project(json.loads(encoded), path)  # never write a file this version could not read back
    members = [(PROJECT_JSON, encoded, zipfile.ZIP_DEFLATED)]
    if project.weights is not None:
        members.append((WEIGHTS, _weights_bytes(project.weights, path), zipfile.ZIP_STORED))
    if project.history is not None:
        if not isinstance(project.history, dict):
            raise ProjectFileError(path, f"must be an object, not {_kind(project.history)}", HISTORY)
        # A diverged run has NaN losses: history.json keeps them as Python's json writes them (NaN, Infinity).
        members.append((HISTORY, _dumps(project.history, path, HISTORY, allow_nan=True), zipfile.ZIP_DEFLATED))
    _write_atomic(Path(os.path.realpath(path)), members)


def _dumps(value: Any, path: Any, field: str, allow_nan: bool) -> bytes:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=allow_nan).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectFileError(path, f"cannot be saved as JSON: {exc}", field) from None


def _weights_bytes(weights: dict[str, torch.Tensor], path: Any) -> bytes:
    tensors = {}
    for name, tensor in weights.items():
        if not isinstance(name, str) or not name or name == "__metadata__":  # safetensors reserves that name
            raise ProjectFileError(path, f"{name!r} cannot be the name of a weight", WEIGHTS)
        if not isinstance(tensor, torch.Tensor):
            raise ProjectFileError(path, f"{name!r} is {type(tensor).__name__}, not a tensor", WEIGHTS)
        _check_dtype(name, tensor, path)
        # A copy per tensor: safetensors refuses tensors that share memory (tied weights) or are strided.
        tensors[name] = tensor.detach().to("cpu").contiguous().clone()
    try:
        return safetensors_save(tensors, metadata={"format": "pt"})
    except Exception as exc:  # noqa: BLE001 - safetensors has its own error types; report them all the same way
        raise ProjectFileError(path, f"cannot be saved: {exc}", WEIGHTS) from None


def _write_atomic(target: Path, members: list[tuple[str, bytes, int]]) -> None:
    """Write a zip of ``members`` to a temporary file beside ``target``, sync it, then replace ``target``."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            with zipfile.ZipFile(file, "w") as archive:
                for name, payload, compression in members:
                    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                    info.compress_type = compression
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, payload)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(OSError):  # keep the permissions of the file being replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX); best effort
        with contextlib.suppress(OSError):
            dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


# -- loading --------------------------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a project file. Any problem with the file raises ProjectFileError naming the file and the field.

    Parameter values out of range are kept as written (``graph.validate()`` reports them on their node), and
    weights are not matched against the model here: the caller compares them with the compiled model.
    """
    with _open_archive(path) as archive:
        members = _find_members(archive, path)
        # project.json first: a file that is not a project is refused before its weights are unpacked.
        data = _parse_json(_read_member(archive, members[PROJECT_JSON], path), path, PROJECT_JSON, allow_nan=False)
        if not isinstance(data, dict):
            raise ProjectFileError(path, f"must hold a JSON object, not {_kind(data)}", PROJECT_JSON)
        data = _migrate(data, path)
        _check_project(data, path)
        for edge in data["graph"]["edges"]:
            if "port" in edge:
                edge["port"] = int(edge["port"])  # 1.0 is a valid JSON Schema integer; the graph wants 1
        try:
            graph = Graph.from_dict(data["graph"])
        except GraphError as exc:  # _check_project covers what from_dict refuses; this is a safety net
            raise ProjectFileError(path, str(exc), "graph") from None
        weights = None
        if WEIGHTS in members:
            weights = _load_weights(_read_member(archive, members[WEIGHTS], path), path)
        history = None
        if HISTORY in members:
            history = _parse_json(_read_member(archive, members[HISTORY], path), path, HISTORY, allow_nan=True)
            if not isinstance(history, dict):
                raise ProjectFileError(path, f"must hold a JSON object, not {_kind(history)}", HISTORY)
    return Project(
        graph=graph,
        name=data.get("name", ""),
        description=data.get("description", ""),
        training=data.get("training", {}),
        dataset=data.get("dataset"),
        weights=weights,
        history=history,
    )


def _open_archive(path: Any) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ProjectFileError(path, "the file does not exist") from None
    except OSError as exc:
        raise ProjectFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    except Exception:  # noqa: BLE001 - zipfile raises many types on damaged input
        raise ProjectFileError(path, "is not an NN Studio project file (it is not a zip archive)") from None


def _find_members(archive: zipfile.ZipFile, path: Any) -> dict[str, zipfile.ZipInfo]:
    """The entries of the known members. Other names (``../x``, ``/etc/y`` ...) are ignored, never read."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename in (PROJECT_JSON, WEIGHTS, HISTORY):
            if info.filename in found:
                raise ProjectFileError(path, "appears twice in the archive", info.filename)
            found[info.filename] = info
    if PROJECT_JSON not in found:
        raise ProjectFileError(path, "is missing: this is not an NN Studio project file", PROJECT_JSON)
    return found


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any) -> bytes:
    """The uncompressed bytes of one member, refusing oversized members and zip bombs before unpacking."""
    name = info.filename
    limit = {PROJECT_JSON: MAX_JSON_BYTES, WEIGHTS: MAX_WEIGHTS_BYTES, HISTORY: MAX_HISTORY_BYTES}[name]
    if info.file_size > limit:
        raise ProjectFileError(path, f"is {info.file_size:,} bytes uncompressed; the limit is {limit:,}", name)
    if info.file_size > RATIO_CHECK_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise ProjectFileError(
            path, f"is compressed {info.file_size // max(info.compress_size, 1):,} to 1, which only a zip bomb "
            "does: refusing to unpack it", name)
    try:
        with archive.open(info) as member:
            payload = member.read(limit + 1)  # zipfile stops at the declared size and checks the CRC
    except Exception as exc:  # noqa: BLE001 - bad CRC, truncated data, encryption, unknown compression ...
        raise ProjectFileError(path, f"is damaged and cannot be unpacked ({exc})", name) from None
    if len(payload) > limit:
        raise ProjectFileError(path, f"is larger than the limit of {limit:,} bytes", name)
    return payload


def _parse_json(payload: bytes, path: Any, field: str, allow_nan: bool) -> Any:
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def parse_int(text: str) -> int:
        if len(text) > 100:
            raise ValueError(f"the number {text[:20]}... has {len(text)} digits")
        return int(text)

    def parse_float(text: str) -> float:
        value = float(text)
        if not (allow_nan or math.isfinite(value)):
            raise ValueError(f"the number {text[:40]} is too large")
        return value

    try:
        text = payload.decode("utf-8-sig")
        constant = None if allow_nan else refuse_constant
        value = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=constant)
    except UnicodeDecodeError:
        raise ProjectFileError(path, "is not UTF-8 text", field) from None
    except json.JSONDecodeError as exc:
        raise ProjectFileError(path, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                               field) from None
    except (ValueError, RecursionError) as exc:  # huge integers, NaN, nesting deeper than Python's stack
        raise ProjectFileError(path, f"is not valid JSON: {exc}", field) from None
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise ProjectFileError(path, f"is nested more than {MAX_JSON_DEPTH} levels deep", field)
    return value


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _migrate(data: dict[str, Any], path: Any) -> dict[str, Any]:
    """Check ``format_version`` (before anything else: a newer file may look entirely different) and upgrade."""
    if "format_version" not in data:
        raise ProjectFileError(path, "is missing", "format_version")
    version = data["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectFileError(path, f"must be a whole number, not {_kind(version)}", "format_version")
    try:
        return migrations.migrate(data)
    except migrations.MigrationError as exc:
        raise ProjectFileError(path, str(exc), "format_version") from None
    except Exception as exc:  # noqa: BLE001 - a migration step tripping over a malformed old file
        raise ProjectFileError(path, f"cannot be upgraded from format {version}: {exc!r}") from None


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("nnstudio.core.project").joinpath("schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _check_project(data: dict[str, Any], path: Any) -> None:
    """Schema check, then what a schema cannot say: unique node ids, wires between existing nodes."""
    # The most relevant of the first errors: a hostile file can hold millions of them.
    error = jsonschema.exceptions.best_match(itertools.islice(_validator().iter_errors(data), 50))
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


def _field_path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {_short(value)}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (hostile files can hold megabyte-long strings)."""
    return _clip(repr(value), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_weights(payload: bytes, path: Any) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():  # torch warns that the bytes it views are read-only; we copy them
            warnings.simplefilter("ignore")
            tensors = safetensors_load(payload)
            # Copies: the loaded tensors view immutable bytes. Popping frees each view as soon as it is copied.
            weights = {name: tensors.pop(name).clone() for name in list(tensors)}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type on malformed data
        raise ProjectFileError(path, f"is not a valid safetensors file ({_clip(str(exc), 200)})", WEIGHTS) from None
    for name, tensor in weights.items():
        _check_dtype(name, tensor, path)
    return weights


def _check_dtype(name: str, tensor: torch.Tensor, path: Any) -> None:
    if not (tensor.is_floating_point() or tensor.dtype in _INT_DTYPES):
        raise ProjectFileError(path, f"{name!r} is a {tensor.dtype} tensor; only float and integer tensors are "
                               "stored", WEIGHTS)
