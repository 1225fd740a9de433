"""Frames: labelled, coloured backdrops around nodes on the canvas (``Graph.frames``).

They change nothing in the network, its shapes or its code. A node is in at most one frame; deleting it takes
it out (undo puts it back). :class:`FramesMixin` holds the Graph's frame methods (the Graph keeps ``frames``,
``nodes``, the frame events and ``_left_frames``); :func:`frames_from_list` reads frames from a file, checked.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from nnstudio.core.errors import GraphError
from nnstudio.core.text import one_line

ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # node and frame ids
MAX_FRAMES = 1_000  # frames (labelled backdrops around nodes) a graph may hold; the schema says the same
MAX_FRAME_LABEL = 200  # characters of a frame's label
FRAME_COLOR = "#5b8dd9"  # a new frame's colour
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass
class Frame:
    """A labelled, coloured backdrop around some nodes (``members``, in the order they were grouped). A node is in
    at most one frame. ``collapsed``: the canvas shows the frame as one box instead of its nodes. The label is
    plain text, never markup or code."""

    id: str
    label: str = ""
    color: str = FRAME_COLOR
    members: list[str] = field(default_factory=list)
    collapsed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "color": self.color, "nodes": list(self.members),
                "collapsed": self.collapsed}


class FramesMixin:
    """The frame methods of :class:`~nnstudio.core.graph.Graph`."""

    def frame(self, frame_id: str) -> Frame:
        try:
            return self.frames[frame_id]
        except KeyError:
            raise GraphError(f"there is no frame {frame_id!r}") from None

    def frame_of(self, node_id: str) -> Frame | None:
        return next((f for f in self.frames.values() if node_id in f.members), None)

    def new_frame_id(self) -> str:
        n = 1
        while f"frame_{n}" in self.frames:
            n += 1
        return f"frame_{n}"

    def frame_problem(self, members: Iterable[str], label: str = "", color: str = FRAME_COLOR,
                      frame_id: str | None = None) -> str | None:
        """Why a frame ``frame_id`` of ``members`` cannot be made (or changed to them), or None."""
        members = list(members)
        where = f"frame {short_id(frame_id)}" if frame_id else "the frame"
        if not members:
            return f"{where} needs at least one layer: select the layers to group first"
        for nid in members:
            if not isinstance(nid, str) or nid not in self.nodes:
                return f"{where} names layer {short_id(nid)}, which does not exist"
            other = self.frame_of(nid)
            if other is not None and other.id != frame_id:
                return f"{self.nodes[nid].title} is already in frame “{one_line(other.label or other.id, 60)}”"
        if len(set(members)) != len(members):
            return f"{where} names a layer twice"
        return _frame_text_problem(label, color, where)

    def add_frame(self, members: Iterable[str], label: str = "", color: str = FRAME_COLOR,
                  frame_id: str | None = None, collapsed: bool = False) -> Frame:
        """A frame around ``members``; GraphError (in plain words) when it cannot be made."""
        frame_id = frame_id or self.new_frame_id()
        if frame_id in self.frames:
            raise GraphError(f"there is already a frame {frame_id!r}")
        if len(self.frames) >= MAX_FRAMES:
            raise GraphError(f"the network already has {MAX_FRAMES:,} frames, the most NN Studio handles")
        members = list(members)
        problem = _frame_id_problem(frame_id) or self.frame_problem(members, label, color, frame_id)
        if problem:
            raise GraphError(problem)
        frame = Frame(frame_id, label, color, members, bool(collapsed))
        self.frames[frame_id] = frame
        self.frame_added.emit(frame)
        return frame

    def remove_frame(self, frame_id: str) -> Frame:
        """Remove a frame (its nodes stay); returns it so the removal can be undone."""
        frame = self.frames.pop(self.frame(frame_id).id)
        self.frame_removed.emit(frame)
        return frame

    def update_frame(self, frame_id: str, **changes: Any) -> dict[str, Any]:
        """Change ``label``, ``color``, ``members`` and/or ``collapsed``; returns their previous values (for undo)."""
        frame = self.frame(frame_id)
        unknown = set(changes) - {"label", "color", "members", "collapsed"}
        if unknown:
            raise GraphError(f"a frame has no field {sorted(unknown)[0]!r}")
        new = {"label": frame.label, "color": frame.color, "members": list(frame.members), **changes}
        problem = self.frame_problem(new["members"], new["label"], new["color"], frame_id)
        if problem:
            raise GraphError(problem)
        old = {k: copy.copy(getattr(frame, k)) for k in changes}
        for key, value in changes.items():
            setattr(frame, key, bool(value) if key == "collapsed" else list(value) if key == "members" else value)
        self.frame_changed.emit(frame)
        return old

    def frames_to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.frames.values()]

    def set_frames(self, frames: list[Any]) -> None:
        """Replace every frame by ``frames`` (``frames_to_list`` output, e.g. from a file), checked whole first:
        GraphError names the frame and the field."""
        built = frames_from_list(frames, self.nodes)
        for frame in list(self.frames.values()):
            self.remove_frame(frame.id)
        self._left_frames.clear()
        for frame in built:
            self.frames[frame.id] = frame
            self.frame_added.emit(frame)

    def _leave_frame(self, node_id: str) -> None:
        frame = self.frame_of(node_id)
        if frame is None:
            return
        self._left_frames[node_id] = (frame, frame.members.index(node_id))
        frame.members.remove(node_id)
        if frame.members:
            self.frame_changed.emit(frame)
        else:  # its last layer went: so does the frame (undo of the delete brings both back)
            del self.frames[frame.id]
            self.frame_removed.emit(frame)

    def _rejoin_frame(self, node_id: str) -> None:
        frame, place = self._left_frames.pop(node_id, (None, 0))
        if frame is None or self.frame_of(node_id) is not None:
            return
        current = self.frames.get(frame.id)
        if current is None:
            if len(self.frames) >= MAX_FRAMES:
                return
            frame.members = [node_id]
            self.frames[frame.id] = frame
            self.frame_added.emit(frame)
        else:
            current.members.insert(min(place, len(current.members)), node_id)
            self.frame_changed.emit(current)


_FRAME_KEYS = {"id", "label", "color", "nodes", "collapsed"}


def frames_from_list(frames: Any, nodes: dict[str, Any]) -> list[Frame]:
    """Frames read from a file, every field checked against ``nodes`` (ids that exist, no node in two frames);
    GraphError names the frame and the field."""
    if not isinstance(frames, list):
        raise GraphError(f"frames must be a list, not {type(frames).__name__}")
    if len(frames) > MAX_FRAMES:
        raise GraphError(f"there are {len(frames):,} frames; a network may have at most {MAX_FRAMES:,}")
    out: list[Frame] = []
    ids: set[str] = set()
    owner: dict[str, str] = {}
    for i, fd in enumerate(frames):
        if not isinstance(fd, dict) or "id" not in fd:
            raise GraphError(f"frames[{i}] must be an object with an id")
        extra = sorted(str(k) for k in fd if k not in _FRAME_KEYS)
        if extra:
            raise GraphError(f"frames[{i}].{short_id(extra[0])[1:-1]} is not a field of a frame")
        fid = fd["id"]
        problem = _frame_id_problem(fid)
        if problem:
            raise GraphError(f"frames[{i}].id: {problem}")
        if fid in ids:
            raise GraphError(f"frames[{i}].id: frame id {fid!r} is used twice")
        ids.add(fid)
        label, color, members = fd.get("label", ""), fd.get("color", FRAME_COLOR), fd.get("nodes", [])
        collapsed = fd.get("collapsed", False)
        for key, problem in (("label", _frame_text_problem(label, FRAME_COLOR, f"frame {fid!r}")),
                             ("color", _frame_text_problem("", color, f"frame {fid!r}"))):
            if problem:
                raise GraphError(f"frames[{i}].{key}: {problem}")
        if not isinstance(collapsed, bool):
            raise GraphError(f"frames[{i}].collapsed: frame {fid!r}: collapsed must be true or false")
        if not isinstance(members, list) or not members:
            raise GraphError(f"frames[{i}].nodes: frame {fid!r} must name at least one node")
        for j, nid in enumerate(members):
            if not isinstance(nid, str) or nid not in nodes:
                raise GraphError(f"frames[{i}].nodes[{j}]: frame {fid!r} names node {short_id(nid)}, which "
                                 "does not exist")
            if nid in owner:
                where = "twice" if owner[nid] == fid else f"in frame {owner[nid]!r} too"
                raise GraphError(f"frames[{i}].nodes[{j}]: frame {fid!r} names node {nid!r}, which is {where}: "
                                 "a node is in at most one frame")
            owner[nid] = fid
        out.append(Frame(fid, label, color, list(members), collapsed))
    return out


def _frame_id_problem(frame_id: Any) -> str | None:
    if not isinstance(frame_id, str) or not ID_PATTERN.fullmatch(frame_id) or len(frame_id) > 100:
        return (f"frame id {short_id(frame_id)} must be letters, digits and _ (at most 100), not starting with a "
                "digit")
    return None


def _frame_text_problem(label: Any, color: Any, where: str) -> str | None:
    if not isinstance(label, str):
        return f"{where}: the label must be text, not {type(label).__name__}"
    if len(label) > MAX_FRAME_LABEL:
        return f"{where}: the label has {len(label):,} characters; a frame label has at most {MAX_FRAME_LABEL}"
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        return f"{where}: the color {short_id(color)} must be #rrggbb (six hex digits, e.g. {FRAME_COLOR})"
    return None


def short_id(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a very large number"
    return text if len(text) <= 60 else text[:57] + "..."
