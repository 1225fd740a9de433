"""Do a project's saved weights belong to its network as it is now?

One of four answers (``status``):

- ``"none"``: the project has no trained weights;
- ``"current"``: the weights were trained on this very network;
- ``"out_of_date"``: the network changed since (a parameter, a wire, a layer): train again;
- ``"unknown"``: that cannot be told (an old file whose weights' header cannot be read, a network that
  cannot be built as it is).

The fingerprint of the trainable structure (``nnstudio.core.fingerprint``) stored with the weights decides:
undoing back to the trained network gives the trained fingerprint, hence "current", again. Files written
before fingerprints existed fall back to comparing the weights' names and shapes with those the network would
build (``expected_shapes``: the model compiled on the meta device, which allocates nothing), so a change that
keeps every shape (an activation) is not seen there.

``file_status`` judges a project file's weights without unpacking them (the fingerprint in project.json; for
an old file, the names and shapes in the weights' safetensors header), for the command line.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections import OrderedDict
from typing import Any, Mapping

from nnstudio.core.graph import Graph

NONE, CURRENT, OUT_OF_DATE, UNKNOWN = "none", "current", "out_of_date", "unknown"
STATUSES = (NONE, CURRENT, OUT_OF_DATE, UNKNOWN)
OUT_OF_DATE_TEXT = "the saved weights were trained on an earlier version of the network: train again"
# What exporting such weights (safetensors, ONNX) warns.
EXPORT_OUT_OF_DATE = ("the exported weights were trained on an earlier version of the network: train again for "
                      "weights that match it")

Shapes = dict[str, tuple[int, ...]]

# The weights member of a project file and the most bytes its safetensors header may take (as the loader
# allows: 1 MiB and 4 kB per node).
WEIGHTS_MEMBER = "weights.safetensors"
HEADER_BYTES = 1024**2
HEADER_BYTES_PER_NODE = 4096

_EXPECTED: OrderedDict[str, Shapes | None] = OrderedDict()  # fingerprint -> expected shapes (few, recent)
_EXPECTED_SIZE = 16


def saved_fingerprint(project: Any) -> str | None:
    """The fingerprint stored with the project's weights (None in files written before it existed)."""
    value = getattr(project, "weights_fingerprint", None)
    return value if isinstance(value, str) and value else None


def status(graph: Graph, trained_fingerprint: str | None, shapes: Mapping[str, tuple[int, ...]] | None,
           has_weights: bool | None = None, current_fingerprint: str | None = None) -> str:
    """The weights' status (see the module's doc). ``shapes``: the saved weights' names and shapes, needed only
    without a fingerprint (None when unknown); ``has_weights`` defaults to whether ``shapes`` is given;
    ``current_fingerprint`` is ``fingerprint(graph)`` when the caller has it already."""
    if has_weights is None:
        has_weights = shapes is not None
    if not has_weights:
        return NONE
    if trained_fingerprint:
        if current_fingerprint is None:
            from nnstudio.core.fingerprint import fingerprint

            current_fingerprint = fingerprint(graph)
        return CURRENT if current_fingerprint == trained_fingerprint else OUT_OF_DATE
    if shapes is None:
        return UNKNOWN
    expected = expected_shapes(graph, current_fingerprint)
    if expected is None:
        return UNKNOWN
    given = {str(k): tuple(int(d) for d in v) for k, v in shapes.items()}
    return CURRENT if given == expected else OUT_OF_DATE


def project_status(project: Any, current_fingerprint: str | None = None) -> str:
    """The status of a loaded project's weights (``project.weights``)."""
    weights = getattr(project, "weights", None)
    if not weights:
        return NONE
    fp = saved_fingerprint(project)
    shapes = None if fp else {k: tuple(v.shape) for k, v in weights.items()}
    return status(project.graph, fp, shapes, True, current_fingerprint)


def expected_shapes(graph: Graph, current_fingerprint: str | None = None) -> Shapes | None:
    """The names and shapes of the weights ``compile_graph`` would give ``graph`` (built on the meta device:
    nothing is allocated), or None when the network cannot be built as it is. Remembered per fingerprint."""
    from nnstudio.core.fingerprint import fingerprint

    key = current_fingerprint or fingerprint(graph)
    if key in _EXPECTED:
        _EXPECTED.move_to_end(key)
        return _EXPECTED[key]
    result = _meta_shapes(graph)
    _EXPECTED[key] = result
    if len(_EXPECTED) > _EXPECTED_SIZE:
        _EXPECTED.popitem(last=False)
    return result


def _meta_shapes(graph: Graph) -> Shapes | None:
    import torch

    from nnstudio.core.compile import compile_graph
    from nnstudio.core.errors import NNStudioError

    try:
        with torch.device("meta"):
            compiled = compile_graph(graph)
        return {k: tuple(int(d) for d in v.shape) for k, v in compiled.module.state_dict().items()}
    except NNStudioError:  # problems in the graph, or a network this computer cannot hold
        return None
    except Exception:  # noqa: BLE001 - a layer that cannot be built on the meta device: cannot tell
        return None


def file_status(path: str | os.PathLike[str], project: Any) -> str:
    """The status of the weights saved in the project file ``path``; ``project`` is what ``load_project`` read
    from it, with or without its weights. Without the weights, the fingerprint in project.json decides and the
    weights member is not opened; an old file without a fingerprint is judged from the names and shapes in
    the member's safetensors header alone (its bytes are never unpacked)."""
    if getattr(project, "weights", None) is not None:
        return project_status(project)
    try:
        with zipfile.ZipFile(path) as archive:
            if WEIGHTS_MEMBER not in archive.namelist():
                return NONE
            fp = saved_fingerprint(project)
            if fp:
                return status(project.graph, fp, None, True)
            shapes = _header_shapes(archive, len(project.graph.nodes))
    except (ValueError, OSError, zipfile.BadZipFile):
        return UNKNOWN
    return status(project.graph, None, shapes, True)


def _header_shapes(archive: zipfile.ZipFile, nodes: int) -> Shapes:
    """The names and shapes in the weights member's safetensors header (bounded as the loader bounds it:
    1 MiB and 4 kB per node); ValueError when it cannot be read."""
    try:
        with archive.open(WEIGHTS_MEMBER) as stream:
            size = int.from_bytes(_read(stream, 8), "little")
            limit = HEADER_BYTES + HEADER_BYTES_PER_NODE * max(int(nodes), 0)
            if not 2 <= size <= limit:
                raise ValueError(f"the weights' header claims {size:,} bytes (at most {limit:,} expected)")
            header = json.loads(_read(stream, size).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, UnicodeDecodeError,
            zlib.error) as exc:
        # (RuntimeError covers a header nested too deep for the JSON parser: RecursionError)
        raise ValueError(f"the weights' header cannot be read ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise ValueError("the weights' header is not an object")  # noqa: TRY004 - one error type for callers
    shapes: Shapes = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise ValueError(f"the weights' header gives {name!r} no shape")
        shapes[name] = tuple(shape)
    return shapes


def _read(stream: Any, count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise EOFError
    return data
