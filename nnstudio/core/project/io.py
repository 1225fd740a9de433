"""Reading and writing ``.nnstudio`` project files (the format is described in docs/file-format.md).

A project file is a zip archive holding ``project.json`` and, when the project has them, ``weights.safetensors``,
``training_state.safetensors`` (what continuing the training needs: optimizer and schedule state, random
generators, position; read with the weights, which it belongs to) and ``history.json``. Saving is atomic: the archive is written to a temporary file beside the target, synced
to disk and then moved over the target, so a crash never leaves a half-written project. Loading treats the file
as hostile: only a regular file is opened (never a device, FIFO or folder), only the known members are
read and only the ones asked for, sizes are capped before anything is unpacked (the weights and the training
state by what the graph can hold), nothing is unpickled (``torch.load`` is never called) and every problem
becomes a ProjectFileError naming the file and the bad field. A damaged or mis-shaped history, weights or
training state does not stop a project from opening: it is left out and ``Project.load_warnings`` says why.
Since format 4 the file also keeps every training run: ``runs.json`` and ``runs/<id>.safetensors``, written and
read (as hostile as the rest) by ``runs_io``.

A save interrupted by a crash can leave its temporary file (``.NAME.XXXXXXXX.tmp``) beside the target: the next
save of that target removes it, and ``tempfiles.sweep`` removes those of other folders (the app calls
it at start for the folders of its recent files and its autosave folder).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from nnstudio import __version__
from nnstudio.core import tempfiles
from nnstudio.core.errors import GraphError, ProjectFileError
from nnstudio.core.graph import Graph, renamed_label_warnings
from nnstudio.core.project import migrations, runs_io
from nnstudio.core.project.checks import check_project, frame_error
from nnstudio.core.project.model import Project
from nnstudio.core.text import clip as _clip
from nnstudio.core.text import kind as _kind
from nnstudio.core.training import resume
from nnstudio.core.training.history import history_problem
from nnstudio.core.training.optim import MAX_STATE_COPIES

PROJECT_JSON = "project.json"
WEIGHTS = "weights.safetensors"
TRAINING_STATE = "training_state.safetensors"
HISTORY = "history.json"
RUNS = runs_io.RUNS_JSON  # since format 4, with runs/<id>.safetensors (runs_io.RUN_WEIGHTS)
MEMBERS = (PROJECT_JSON, WEIGHTS, TRAINING_STATE, HISTORY, RUNS)

# Caps on uncompressed member sizes (bytes) and on how much a member may shrink when compressed.
MAX_JSON_BYTES = 20 * 1024**2
# 100,000 epoch rows of ten values each, as the engine writes them (~25 MB), and what redraws the dashboard:
# 2,000 step-level points, a 200-class confusion matrix, 500 layers' histograms, 10,000 class names (~9 MB).
MAX_HISTORY_BYTES = 48 * 1024**2
MAX_WEIGHTS_BYTES = 4 * 1024**3  # whatever the graph declares
MAX_RATIO = 200  # JSON compresses ~5-20x and float weights ~1.1x; deflate tops out near 1000x on filler
RATIO_CHECK_FROM = 1024**2  # small members cannot do harm, whatever their ratio
# NN Studio stores the weights uncompressed, and trained float weights deflate by ~1.1x: a weights member that
# shrank more than this was made to unpack into much more memory than the file takes.
MAX_WEIGHTS_RATIO = 10
MAX_JSON_DEPTH = 100
# JSON becomes Python objects of up to ~50 bytes per item (an empty {} in a list costs 64 + 8): the items of a
# JSON member (counted as its , : [ { bytes, before parsing) are capped so that no member costs more than
# ~150 MB in memory, whatever its bytes.
MAX_JSON_ITEMS = 2_500_000
# The weights member holds every parameter and buffer of the graph in any float dtype: at most twice the bytes
# the layers declare (float32 -> float64), plus the safetensors header (names, dtypes, shapes).
WEIGHTS_DTYPE_FACTOR = 2
HEADER_ALLOWANCE = 1024**2  # bytes, and per node of the graph:
HEADER_ALLOWANCE_PER_NODE = 4096
# The training state holds, per trainable parameter, at most optim.MAX_STATE_COPIES tensors of its size (in any
# float dtype, as the weights), plus a one-value step tensor per parameter tensor, the random generators' states
# (a few kB) and the JSON metadata, all within this header allowance:
STATE_HEADER_ALLOWANCE = 1024**2  # bytes, and per node of the graph:
STATE_HEADER_ALLOWANCE_PER_NODE = 16 * 1024
MAX_TRAINING_STATE_BYTES = MAX_STATE_COPIES * 4 * 1024**3  # the optimizer's copies of the largest weights
# The zip's central directory is read whole when the file is opened: a project has five members and one per run
# whose weights are kept (at most runs.MAX_PINNED + 1).
MAX_ENTRIES = 10_000
MAX_DIRECTORY_BYTES = 4 * 1024**2

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same project always gives the same bytes
_INT_DTYPES = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
               *(getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n))}


# -- saving ---------------------------------------------------------------------------------------------------
def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` to ``path`` atomically (the previous file stays intact if anything fails).

    Raises ProjectFileError if the project holds something the format cannot store (settings that are not
    JSON, a tensor that is not a float or integer tensor ...); nothing is written then. OSError from the
    disk propagates, naming ``path``.
    """
    if not os.fspath(path):
        raise ProjectFileError(path, "no file name was given")
    data = project_json(project, path)
    for key in ("name", "description", "training", "dataset"):  # name the field that is not JSON-safe
        _dumps(data[key], path, key, allow_nan=False)
    encoded = _dumps(data, path, PROJECT_JSON, allow_nan=False)
    check_project(json.loads(encoded), path)  # never write a file this version could not read back
    members = [(PROJECT_JSON, encoded, zipfile.ZIP_DEFLATED)]
    if project.weights is not None:
        members.append((WEIGHTS, _weights_bytes(project.weights, path), zipfile.ZIP_STORED))
        if project.training_state is not None:  # it belongs to the weights: never saved without them
            members.append((TRAINING_STATE, _state_bytes(project.training_state, path), zipfile.ZIP_STORED))
    if project.history is not None:
        problem = history_problem(project.history)
        if problem:  # the file could be read, but would open without its history
            raise ProjectFileError(path, f"cannot be saved: {problem}", HISTORY)
        # A diverged run has NaN losses: history.json keeps them as Python's json writes them (NaN, Infinity).
        members.append((HISTORY, _dumps(project.history, path, HISTORY, allow_nan=True), zipfile.ZIP_DEFLATED))
    members.extend(runs_io.runs_members(project, path))  # since format 4: every run kept, and their weights
    try:
        _write_atomic(Path(os.path.realpath(path)), members)
    except OSError as exc:  # name the file the caller gave, never the temporary one
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc


def _dumps(value: Any, path: Any, field: str, allow_nan: bool) -> bytes:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=allow_nan)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (from a file that had one): JSON escapes it, so it reads back
            return json.dumps(value, indent=2, ensure_ascii=True, allow_nan=allow_nan).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectFileError(path, f"cannot be saved as JSON: {_clip(str(exc), 200)}", field) from None


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


def _state_bytes(state: resume.TrainingState, path: Any) -> bytes:
    tensors, meta = resume.pack(state)
    for name, tensor in tensors.items():
        _check_dtype(name, tensor, path, TRAINING_STATE)
    metadata = {"format": "pt"}
    for key, value in meta.items():  # each a JSON text: safetensors metadata values are strings
        metadata[key] = _dumps(value, path, TRAINING_STATE, allow_nan=True).decode("utf-8")
    try:
        return safetensors_save({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()},
                                metadata=metadata)
    except Exception as exc:  # noqa: BLE001 - safetensors has its own error types; report them all the same way
        raise ProjectFileError(path, f"cannot be saved: {exc}", TRAINING_STATE) from None


def _write_atomic(target: Path, members: list[tuple[str, bytes, int]]) -> None:
    """Write a zip of ``members`` to a temporary file beside ``target``, sync it, then replace ``target``.
    Temporary files that earlier, interrupted saves of ``target`` left are removed first."""
    tempfiles.sweep_target(target)
    tmp, fd = tempfiles.create(target)  # locked until closed, after the rename
    file = os.fdopen(fd, "wb")
    try:
        with zipfile.ZipFile(file, "w") as archive:
            for name, payload, compression in members:
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = compression
                info.external_attr = 0o644 << 16
                archive.writestr(info, payload)
        file.flush()
        os.fsync(file.fileno())
        if not tempfiles.HOLDS_LOCKS:  # Windows renames no open file
            file.close()
        with contextlib.suppress(OSError):  # keep the permissions of the file being replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        file.close()
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX); best effort
        with contextlib.suppress(OSError):
            dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


# -- loading --------------------------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str], weights: bool = True, history: bool = True,
                 runs: bool = True) -> Project:
    """Read a project file. Any problem with the file raises ProjectFileError naming the file and the field.

    ``weights=False`` / ``history=False`` leave those members unread (the project has None there): a summary
    or a check of the network needs neither. The training state is read with the weights (it belongs to them);
    ``weights_fingerprint`` is kept from project.json when the weights are not asked for, and is None when they
    were asked for and are missing or damaged. A history that cannot be read or does not have the shape the
    app reads (``nnstudio.core.training.history``) is left out, and ``project.load_warnings`` says so.

    Parameter values out of range are kept as written (``graph.validate()`` reports them on their node), and
    weights are not matched against the model here: the caller compares them with the compiled model. They are
    refused, unread, when their member is larger than the graph's parameters and buffers can be.

    ``runs=False`` leaves runs.json and the runs' weights unread (``project.runs`` is empty: such a project
    must not be saved over the file). The runs' kept weights are read with the runs, whatever ``weights``
    says, so that saving keeps them. A file older than format 4 gets its history as run "run-1".
    """
    warnings_: list[str] = []
    with _open_file(path) as file, _open_archive(file, path) as archive:
        members = _find_members(archive, path)
        # project.json first: a file that is not a project is refused before its weights are unpacked.
        data = _parse_json(_read_member(archive, members[PROJECT_JSON], path, MAX_JSON_BYTES), path, PROJECT_JSON,
                           allow_nan=False)
        if not isinstance(data, dict):
            raise ProjectFileError(path, f"must hold a JSON object, not {_kind(data)}", PROJECT_JSON)
        version = data.get("format_version")
        data = _migrate(data, path)
        check_project(data, path)
        for edge in data["graph"]["edges"]:
            if "port" in edge:
                edge["port"] = int(edge["port"])  # 1.0 is a valid JSON Schema integer; the graph wants 1
        try:
            graph = Graph.from_dict(data["graph"])
        except GraphError as exc:  # _check_project covers what from_dict refuses; this is a safety net
            raise ProjectFileError(path, str(exc), "graph") from None
        try:
            graph.set_frames(data.get("frames", []))
        except GraphError as exc:  # check_project covers this too; a safety net
            raise ProjectFileError(path, *frame_error(exc)) from None
        warnings_.extend(renamed_label_warnings(graph))  # two layers that shared a name: the later is numbered
        loaded_weights = loaded_state = None
        fingerprint = data.get("weights_fingerprint")
        if weights:
            if WEIGHTS in members:
                try:
                    loaded_weights = _load_weights_member(archive, members[WEIGHTS], graph, path)
                except ProjectFileError as exc:  # the network is still there to edit and train again
                    warnings_.append(f"{exc}; the project opens without its trained weights")
            if loaded_weights is None:
                fingerprint = None  # it describes weights the project does not have
            elif TRAINING_STATE in members:
                try:
                    loaded_state = _load_state_member(archive, members[TRAINING_STATE], graph, path)
                except ProjectFileError as exc:  # the weights can still be continued, with a fresh optimizer
                    warnings_.append(f"{exc}; the project opens without its training state (continuing its "
                                     "training starts the optimizer afresh)")
        loaded_history = None
        old_file = isinstance(version, int) and version < 4  # its history becomes its one run
        if (history or (runs and old_file)) and HISTORY in members:
            try:
                loaded_history = _load_history(archive, members[HISTORY], path)
            except ProjectFileError as exc:  # read only for its run, it is left out quietly
                if history:
                    warnings_.append(f"{exc}; the project opens without its training history")
        run_list, run_weights, next_id = [], {}, 1
        if runs and old_file:  # a runs.json in an older file is not its own: ignored, as any unknown member
            run_list, run_weights, next_id = runs_io.migrated_runs(loaded_history, data, loaded_weights, path,
                                                                   warnings_)
        elif runs and RUNS in members:
            run_list, run_weights, next_id = runs_io.load_runs(archive, members, path, loaded_weights,
                                                               not weights, warnings_)
        if not history:
            loaded_history = None
    return Project(
        graph=graph,
        name=data.get("name", ""),
        description=data.get("description", ""),
        training=data.get("training", {}),
        dataset=data.get("dataset"),
        sweep=_opened_sweep(data.get("sweep"), graph, path, warnings_),
        weights=loaded_weights,
        weights_fingerprint=fingerprint,
        training_state=loaded_state,
        history=loaded_history,
        runs=run_list,
        run_weights=run_weights,
        runs_next_id=next_id,
        load_warnings=warnings_,
    )


def weights_limit(graph: Graph) -> int:
    """The most bytes a weights member of ``graph`` can take: every parameter and buffer its layers declare,
    in float64, plus the safetensors header (``HEADER_ALLOWANCE`` and ``HEADER_ALLOWANCE_PER_NODE``)."""
    from nnstudio.core.memory import state_bytes

    try:
        declared = int(state_bytes(graph))
    except Exception:  # noqa: BLE001 - a graph no layer of which can be built declares nothing
        declared = 0
    header = HEADER_ALLOWANCE + HEADER_ALLOWANCE_PER_NODE * len(graph.nodes)
    return min(MAX_WEIGHTS_BYTES, WEIGHTS_DTYPE_FACTOR * max(declared, 0) + header)


def _load_weights_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, graph: Graph,
                         path: Any, member: str = WEIGHTS) -> dict[str, torch.Tensor]:
    limit = weights_limit(graph)
    if info.file_size > limit:
        raise ProjectFileError(
            path, f"is {info.file_size:,} bytes uncompressed, more than the limit of {limit:,} bytes that the "
            "network's parameters and buffers can take (in float64, with the header): these cannot be its "
            "weights", member)
    if info.file_size > RATIO_CHECK_FROM and info.file_size > MAX_WEIGHTS_RATIO * max(info.compress_size, 1):
        raise ProjectFileError(
            path, f"is compressed {info.file_size // max(info.compress_size, 1):,} to 1, which trained weights "
            "never are: refusing to unpack it", member)
    return _load_weights(_read_member(archive, info, path, limit), path, member)


load_weights_member = _load_weights_member  # a run's weights (runs_io), checked as the project's


def training_state_limit(graph: Graph) -> int:
    """The most bytes a training state member of ``graph`` can take: ``optim.MAX_STATE_COPIES`` copies of every
    parameter and buffer its layers declare, in float64, plus ``STATE_HEADER_ALLOWANCE`` and
    ``STATE_HEADER_ALLOWANCE_PER_NODE`` per node for the header, the step tensors and the generators."""
    from nnstudio.core.memory import state_bytes

    try:
        declared = int(state_bytes(graph))
    except Exception:  # noqa: BLE001 - a graph no layer of which can be built declares nothing
        declared = 0
    header = STATE_HEADER_ALLOWANCE + STATE_HEADER_ALLOWANCE_PER_NODE * len(graph.nodes)
    return min(MAX_TRAINING_STATE_BYTES, WEIGHTS_DTYPE_FACTOR * MAX_STATE_COPIES * max(declared, 0) + header)


def _load_state_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, graph: Graph,
                       path: Any) -> resume.TrainingState:
    limit = training_state_limit(graph)
    if info.file_size > limit:
        raise ProjectFileError(
            path, f"is {info.file_size:,} bytes uncompressed, more than the limit of {limit:,} bytes that the "
            "optimizer state of the network's parameters can take: this cannot be its training state",
            TRAINING_STATE)
    if info.file_size > RATIO_CHECK_FROM and info.file_size > MAX_WEIGHTS_RATIO * max(info.compress_size, 1):
        raise ProjectFileError(
            path, f"is compressed {info.file_size // max(info.compress_size, 1):,} to 1, which a training state "
            "never is: refusing to unpack it", TRAINING_STATE)
    payload = _read_member(archive, info, path, limit)
    metadata = _safetensors_metadata(payload, path, TRAINING_STATE)
    meta = {}
    for key in resume.METADATA_KEYS:
        if key not in metadata:
            raise ProjectFileError(path, f"the metadata key {key!r} is missing", TRAINING_STATE)
        meta[key] = _parse_json(metadata[key].encode("utf-8"), path, f"{TRAINING_STATE}: {key}", allow_nan=True)
    tensors = _load_weights(payload, path, TRAINING_STATE)
    try:
        return resume.unpack(tensors, meta)
    except resume.StateError as exc:
        raise ProjectFileError(path, str(exc), TRAINING_STATE) from None


def _safetensors_metadata(payload: bytes, path: Any, member: str) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors blob (an 8-byte little-endian header length, then a JSON header),
    read without unpacking its tensors."""
    size = int.from_bytes(payload[:8], "little") if len(payload) >= 8 else -1
    if not 0 < size <= len(payload) - 8:
        raise ProjectFileError(path, "is not a valid safetensors file (its header is cut or missing)", member)
    header = _parse_json(payload[8:8 + size], path, member, allow_nan=False)
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ProjectFileError(path, "is not a valid safetensors file (its metadata is not text by name)", member)
    return metadata


def _load_history(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any) -> dict[str, Any]:
    value = _parse_json(_read_member(archive, info, path, MAX_HISTORY_BYTES), path, HISTORY, allow_nan=True)
    problem = history_problem(value)
    if problem:
        raise ProjectFileError(path, problem, HISTORY)
    return value


@contextlib.contextmanager
def _open_file(path: Any) -> Iterator[Any]:
    """The file, opened for reading only if it is a regular file: a FIFO, a device (/dev/zero), a socket or a
    folder is refused without reading (or waiting on) it."""
    if not os.fspath(path):
        raise ProjectFileError(path, "no file name was given")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)  # a FIFO must not block
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ProjectFileError(path, "the file does not exist") from None
    except IsADirectoryError:
        raise ProjectFileError(path, "is a folder, not a project file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ProjectFileError(path, f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ProjectFileError(path, "is a folder, not a project file")
        if not stat.S_ISREG(mode):
            raise ProjectFileError(path, "is a device, pipe or socket, not a project file: it is not read")
        if getattr(os, "O_NONBLOCK", 0):  # reads of a regular file never block; back to the usual mode anyway
            os.set_blocking(fd, True)
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        yield file


def _open_archive(file: Any, path: Any) -> zipfile.ZipFile:
    try:
        _check_directory(file, path)
        return zipfile.ZipFile(file)
    except ProjectFileError:
        raise
    except OSError as exc:
        raise ProjectFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    except Exception:  # noqa: BLE001 - zipfile raises many types on damaged input
        raise ProjectFileError(path, "is not an NN Studio project file (it is not a zip archive)") from None


def _check_directory(file: Any, path: Any) -> None:
    """Refuse a central directory of absurd size before zipfile reads it whole (one object per entry)."""
    end = getattr(zipfile, "_EndRecData", None)
    if end is None:
        return
    record = end(file)
    if not record:
        return  # zipfile reports it
    entries, size = record[zipfile._ECD_ENTRIES_TOTAL], record[zipfile._ECD_SIZE]
    if entries > MAX_ENTRIES or size > MAX_DIRECTORY_BYTES:
        raise ProjectFileError(path, f"is a zip archive of {entries:,} entries ({size:,} bytes of directory): a "
                               f"project has at most a few dozen; refusing to read it")


def _find_members(archive: zipfile.ZipFile, path: Any) -> dict[str, zipfile.ZipInfo]:
    """The entries of the known members. Other names (``../x``, ``/etc/y`` ...) are ignored, never read."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename in MEMBERS or runs_io.RUN_WEIGHTS.fullmatch(info.filename):
            if info.filename in found:
                raise ProjectFileError(path, "appears twice in the archive", info.filename)
            found[info.filename] = info
    if PROJECT_JSON not in found:
        raise ProjectFileError(path, "is missing: this is not an NN Studio project file", PROJECT_JSON)
    return found


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any, limit: int) -> bytes:
    """The uncompressed bytes of one member, refusing oversized members and zip bombs before unpacking."""
    name = info.filename
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
        raise ProjectFileError(path, f"is damaged and cannot be unpacked ({_clip(str(exc), 200)})", name) from None
    if len(payload) > limit:
        raise ProjectFileError(path, f"is larger than the limit of {limit:,} bytes", name)
    return payload


def _parse_json(payload: bytes, path: Any, field: str, allow_nan: bool, max_items: int = MAX_JSON_ITEMS) -> Any:
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

    items = sum(payload.count(c) for c in (b",", b":", b"[", b"{"))
    if items > max_items:
        raise ProjectFileError(path, f"holds about {items:,} JSON items; the limit is {max_items:,}", field)
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


def _load_weights(payload: bytes, path: Any, member: str = WEIGHTS) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():  # torch warns that the bytes it views are read-only; we copy them
            warnings.simplefilter("ignore")
            tensors = safetensors_load(payload)
            # Copies: the loaded tensors view immutable bytes. Popping frees each view as soon as it is copied.
            weights = {name: tensors.pop(name).clone() for name in list(tensors)}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type on malformed data
        raise ProjectFileError(path, f"is not a valid safetensors file ({_clip(str(exc), 200)})", member) from None
    for name, tensor in weights.items():
        _check_dtype(name, tensor, path, member)
    return weights


def _check_dtype(name: str, tensor: torch.Tensor, path: Any, member: str = WEIGHTS) -> None:
    if not (tensor.is_floating_point() or tensor.dtype in _INT_DTYPES):
        raise ProjectFileError(path, f"{_clip(repr(name), 200)} is a {tensor.dtype} tensor; only float and integer "
                               "tensors are stored", member)


def project_json(project: Project, where: Any) -> dict[str, Any]:
    """project.json's content for ``project`` (also what every export carries, ``export.embedded``);
    ProjectFileError naming ``where`` for a sweep that does not check."""
    return {
        "format_version": migrations.CURRENT_VERSION,
        "app_version": __version__,
        "name": project.name,
        "description": project.description,
        "graph": project.graph.to_dict(),
        "frames": project.graph.frames_to_list(),  # since format 3
        "training": project.training,
        "dataset": project.dataset,
        # Only with the weights it describes.
        "weights_fingerprint": project.weights_fingerprint if project.weights is not None else None,
        "sweep": _saved_sweep(project.sweep, where),  # since format 5
    }


def _saved_sweep(sweep: Any, path: Any) -> dict[str, Any] | None:
    """The project's sweep as project.json keeps it; one that does not check is refused (nothing written)."""
    if sweep is None:
        return None
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.sweep import spec_from_dict, spec_to_dict

    try:
        return spec_to_dict(spec_from_dict(sweep))
    except NNStudioError as exc:
        raise ProjectFileError(path, str(exc), "sweep") from None


def _opened_sweep(data: Any, graph: Graph, path: Any, warnings_: list[str]) -> dict[str, Any] | None:
    """The file's sweep, checked (a Dropout layer it names must be in the graph); a bad one is left out."""
    if data is None:
        return None
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.sweep import spec_from_dict, spec_to_dict

    try:
        return spec_to_dict(spec_from_dict(data, graph))
    except NNStudioError as exc:
        warnings_.append(f"{ProjectFileError(path, str(exc), 'sweep')}; the project opens without its saved sweep")
        return None
