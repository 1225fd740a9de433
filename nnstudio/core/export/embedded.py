"""The project inside the files it exports, so that ``nnstudio import`` reopens exactly the project that wrote them.

Every export carries the project as one JSON document: project.json's content as ``save_project`` writes it
(the graph, frames, settings, dataset, sweep; not the weights, history or runs):

    .py           a trailing block of comment lines after the marker ``# --- NN Studio project (format N) ---``;
                  each line is ``# `` and a chunk of the compact JSON, ASCII-only (every other character is a
                  ``\\uXXXX`` escape), so no chunk can end the comment or look like code
    .onnx         the model's ``metadata_props["nnstudio.project"]``
    .safetensors  the file's metadata ``nnstudio.project`` (and ``nnstudio.weights``: whether the tensors are the
                  project's trained weights or the fresh ones an untrained project exports)
    .pt2          the archive's extra file ``nnstudio.project.json`` (read without loading the program)

:func:`read_embedded` reads it back as hostile input, checked exactly as a project file's project.json is
(migrations, the schema, the graph). A .py file is read as text and never imported or run.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

from nnstudio.core.errors import GraphError, ProjectFileError
from nnstudio.core.graph import Graph, renamed_label_warnings
from nnstudio.core.project import io as project_io
from nnstudio.core.project import migrations
from nnstudio.core.project.checks import check_project, frame_error
from nnstudio.core.project.model import Project
from nnstudio.core.text import clip

KEY = "nnstudio.project"  # the ONNX metadata prop and the safetensors metadata key
WEIGHTS_KEY = "nnstudio.weights"  # safetensors: "trained" (the project's weights) or "untrained" (fresh ones)
MARKER = "# --- NN Studio project (format {version}) ---"
_MARKER = re.compile(rb"# --- NN Studio project \(format ([0-9]{1,9})\) ---")
PREFIX = "# "
WIDTH = 97  # JSON characters per comment line: "# " + 97 = 99, the exported script's longest line
PT2_EXTRA_FILE = "nnstudio.project.json"  # a .pt2 archive's extra file (torch.export.save's extra_files)
MAX_SCRIPT_BYTES = 64 * 1024**2  # a .py file larger than this is refused unread
MAX_DOCUMENT_BYTES = project_io.MAX_JSON_BYTES


# -- writing ----------------------------------------------------------------------------------------------------
def project_document(project: Project, where: Any = "the project") -> str:
    """The project as one compact, ASCII-only JSON text: the dict ``save_project`` writes as project.json.
    ProjectFileError (naming ``where`` and the field) when the project holds something the format cannot
    store; the document is checked as a project file would be, so what is written can always be read back."""
    data = project_io.project_json(project, where)
    for key in ("name", "description", "training", "dataset"):  # name the field that is not JSON-safe
        _encode(data[key], where, key)
    text = _encode(data, where, project_io.PROJECT_JSON)
    check_project(json.loads(text), where)
    return text


def _encode(value: Any, where: Any, field: str) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectFileError(where, f"cannot be saved as JSON: {clip(str(exc), 200)}", field) from None
    # ensure_ascii escapes every control character but DEL, which is only ever inside a string here.
    return text.replace("\x7f", "\\u007f")


def script_block(document: str) -> str:
    """The comment lines a .py export ends with: the marker, then the document in lines of at most
    ``len(PREFIX) + WIDTH`` characters. Every line is a printable ASCII comment (checked: nothing from the
    project can leave the comment)."""
    marker = MARKER.format(version=migrations.CURRENT_VERSION)
    lines = [marker] + [PREFIX + document[i:i + WIDTH] for i in range(0, len(document), WIDTH)]
    for line in lines:
        if not (line.startswith("#") and line.isascii() and line.isprintable()):
            raise ValueError("internal error: the project block holds a line that is not a printable comment")
    return "\n".join(lines) + "\n"


def document_or_warning(project: Project, where: Any) -> tuple[str | None, list[str]]:
    """(the document, []) or (None, [why the export does not carry the project]): an exporter still writes
    a project that cannot be saved, without it."""
    try:
        return project_document(project, where), []
    except ProjectFileError as exc:
        return None, [f"the file does not carry the project (nnstudio import cannot reopen it): {exc.detail}"]


# -- reading ----------------------------------------------------------------------------------------------------
def read_embedded(path: str | os.PathLike[str]) -> Project | None:
    """The project an NN Studio export of ``path`` (.py, .onnx, .safetensors or .pt2) carries, or None when it
    carries none (or the file is of another kind). A file that cannot be read, or whose project is damaged,
    is a ProjectFileError naming the file (and, for a .py file, the line)."""
    suffix = Path(os.fspath(path)).suffix.lower()
    if suffix == ".py":
        return _read_script(path)
    if suffix == ".onnx":
        return _read_onnx(path)
    if suffix == ".safetensors":
        return _read_safetensors(path)
    if suffix == ".pt2":
        return _read_pt2(path)
    return None


def _regular_size(path: Any) -> int:
    """The size of ``path`` when it is a regular file; ProjectFileError otherwise (nothing is opened)."""
    if not os.fspath(path):
        raise ProjectFileError(path, "no file name was given")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ProjectFileError(path, "the file does not exist") from None
    except (OSError, ValueError) as exc:
        raise ProjectFileError(path, f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ProjectFileError(path, "is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ProjectFileError(path, "is a device, pipe or socket, not a file: it is not read")
    return info.st_size


def _read_script(path: Any) -> Project | None:
    size = _regular_size(path)
    if size > MAX_SCRIPT_BYTES:
        raise ProjectFileError(path, f"is {size:,} bytes; an exported script is at most {MAX_SCRIPT_BYTES:,}: "
                               "it is not read")
    with project_io._open_file(path) as file:  # read as bytes, never imported
        data = file.read(MAX_SCRIPT_BYTES + 1)
    if len(data) > MAX_SCRIPT_BYTES:
        raise ProjectFileError(path, f"is larger than {MAX_SCRIPT_BYTES:,} bytes: it is not read")
    lines = data.split(b"\n")
    start = next((i for i in range(len(lines) - 1, -1, -1) if _MARKER.fullmatch(lines[i].rstrip(b"\r"))), None)
    if start is None:
        return None
    where = f"line {start + 1}"
    version = int(_MARKER.fullmatch(lines[start].rstrip(b"\r")).group(1))
    chunks: list[tuple[int, str]] = []  # (line number, JSON text)
    for number in range(start + 1, len(lines)):
        line = lines[number].rstrip(b"\r")
        if not line.startswith(PREFIX.encode()):
            if line.strip() and line.startswith(b"#"):
                raise ProjectFileError(path, "the NN Studio project block is damaged: this line does not start "
                                       f"with {PREFIX!r}", f"line {number + 1}")
            break
        text = line[len(PREFIX):]
        if not (text.isascii() and text.decode("ascii").isprintable()):
            raise ProjectFileError(path, "the NN Studio project block is damaged: this line holds characters an "
                                   "exported block never does", f"line {number + 1}")
        chunks.append((number + 1, text.decode("ascii")))
        if sum(len(c) for _, c in chunks) > MAX_DOCUMENT_BYTES:
            raise ProjectFileError(path, f"the NN Studio project block is larger than {MAX_DOCUMENT_BYTES:,} "
                                   "bytes: it is not read", where)
    if not chunks:
        raise ProjectFileError(path, "the NN Studio project block is empty (nothing follows its marker)", where)
    document = "".join(c for _, c in chunks)
    try:
        value = _parse(document, path, where)
    except ProjectFileError:
        raise ProjectFileError(path, "the NN Studio project block is damaged: " + _json_problem(document),
                               _line_of(document, chunks)) from None
    if isinstance(value, dict) and value.get("format_version") != version:
        raise ProjectFileError(path, f"the NN Studio project block's marker says format {version} but the "
                               f"block holds format {clip(repr(value.get('format_version')), 40)}", where)
    return _project(value, path, f"the project block ({where})")[0]


def _parse(document: str, path: Any, field: str) -> Any:
    return project_io._parse_json(document.encode("utf-8"), path, field, allow_nan=False)


def _json_problem(document: str) -> str:
    try:
        json.loads(document)
    except json.JSONDecodeError as exc:
        return f"it is not valid JSON ({exc.msg})"
    except (ValueError, RecursionError) as exc:
        return f"it is not valid JSON ({clip(str(exc), 200)})"
    return "it holds JSON that is too large or too deeply nested"


def _line_of(document: str, chunks: list[tuple[int, str]]) -> str:
    """The file line where JSON parsing of ``document`` fails (the block's last line when it is cut short)."""
    try:
        json.loads(document)
        return f"line {chunks[0][0]}"
    except json.JSONDecodeError as exc:
        position = exc.pos
    except (ValueError, RecursionError):
        return f"line {chunks[0][0]}"
    for number, text in chunks:
        if position < len(text):
            return f"line {number}"
        position -= len(text)
    return f"line {chunks[-1][0]}"


def _read_onnx(path: Any) -> Project | None:
    _regular_size(path)
    try:
        import onnx
    except ImportError:
        raise ProjectFileError(path, "reading an ONNX file needs the onnx package (not installed): "
                               "pip install nnstudio[onnx]") from None
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own kinds on a damaged file
        raise ProjectFileError(path, f"is not a valid ONNX model ({clip(str(exc), 200)})") from None
    found = [p.value for p in model.metadata_props if p.key == KEY]
    if not found:
        return None
    field = f"metadata {KEY}"
    if len(found[-1]) > MAX_DOCUMENT_BYTES:
        raise ProjectFileError(path, f"is larger than {MAX_DOCUMENT_BYTES:,} bytes: it is not read", field)
    return _project(_parse(found[-1], path, field), path, field)[0]


def _read_safetensors(path: Any) -> Project | None:
    size = _regular_size(path)
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), "pt") as file:
            metadata = file.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type on a damaged file
        raise ProjectFileError(path, f"is not a valid safetensors file ({clip(str(exc), 200)})") from None
    document = metadata.get(KEY)
    if not isinstance(document, str):
        return None
    field = f"metadata {KEY}"
    if len(document) > MAX_DOCUMENT_BYTES:
        raise ProjectFileError(path, f"is larger than {MAX_DOCUMENT_BYTES:,} bytes: it is not read", field)
    project, fingerprint = _project(_parse(document, path, field), path, field)
    if metadata.get(WEIGHTS_KEY) == "untrained":  # fresh weights of an untrained project are not its own
        return project
    # As load_project reads weights.safetensors: capped by what the graph can hold, dtypes checked; weights
    # that cannot be read leave the project without them, and a warning.
    limit = project_io.weights_limit(project.graph)
    try:
        if size > limit:
            raise ProjectFileError(path, f"is {size:,} bytes, more than the limit of {limit:,} bytes that the "
                                   "network's parameters and buffers can take: these cannot be its weights")
        with project_io._open_file(path) as file:
            payload = file.read(limit + 1)
        project.weights = project_io._load_weights(payload, path, "weights")
        project.weights_fingerprint = fingerprint  # it describes these weights
    except ProjectFileError as exc:
        project.load_warnings.append(f"{exc}; the project opens without its trained weights")
    return project


def _read_pt2(path: Any) -> Project | None:
    """A torch.export archive's extra file (a zip member read as project.json is: capped, never unpickled; the
    program itself is not loaded)."""
    _regular_size(path)
    with project_io._open_file(path) as file:
        try:
            project_io._check_directory(file, path)
            archive = zipfile.ZipFile(file)
        except ProjectFileError:
            raise
        except Exception:  # noqa: BLE001 - zipfile raises many types on damaged input
            raise ProjectFileError(path, "is not a torch.export program (it is not a zip archive)") from None
        with archive:
            found = [i for i in archive.infolist() if i.filename.count("/") == 2
                     and i.filename.endswith("/extra/" + PT2_EXTRA_FILE)]
            if not found:
                return None
            payload = project_io._read_member(archive, found[0], path, MAX_DOCUMENT_BYTES)
    field = f"extra file {PT2_EXTRA_FILE}"
    return _project(project_io._parse_json(payload, path, field, allow_nan=False), path, field)[0]


def _project(data: Any, path: Any, field: str) -> tuple[Project, str | None]:
    """A Project from a parsed document, checked and built as load_project builds one from project.json,
    and the document's weights fingerprint: the project has no weights (the caller adds them, with it)."""
    if not isinstance(data, dict):
        raise ProjectFileError(path, f"must hold a JSON object, not {type(data).__name__}", field)
    data = project_io._migrate(data, path)
    check_project(data, path)
    for edge in data["graph"]["edges"]:
        if "port" in edge:
            edge["port"] = int(edge["port"])
    try:
        graph = Graph.from_dict(data["graph"])
    except GraphError as exc:  # check_project covers what from_dict refuses; a safety net
        raise ProjectFileError(path, str(exc), "graph") from None
    try:
        graph.set_frames(data.get("frames", []))
    except GraphError as exc:
        raise ProjectFileError(path, *frame_error(exc)) from None
    warnings_ = list(renamed_label_warnings(graph))
    project = Project(
        graph=graph,
        name=data.get("name", ""),
        description=data.get("description", ""),
        training=data.get("training", {}),
        dataset=data.get("dataset"),
        sweep=project_io._opened_sweep(data.get("sweep"), graph, path, warnings_),
        load_warnings=warnings_,
    )
    return project, data.get("weights_fingerprint")


__all__ = ["KEY", "MARKER", "WEIGHTS_KEY", "document_or_warning", "project_document", "read_embedded",
           "script_block"]
