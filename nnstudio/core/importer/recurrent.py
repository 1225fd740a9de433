"""What a forward does with a recurrent module's result, read back as one recurrent layer's setting.

``out, (h, c) = self.lstm(x)`` gives a tuple; the importer follows its items: the whole sequence ``out`` (the
layer returns the sequence), its last step ``out[:, -1]`` or the last layer's final state ``h[-1]`` (the layer
returns the last step: the same numbers for a one-direction layer). Anything else (the cell state, a
bidirectional layer's one direction) is refused, saying what would do.
"""

from __future__ import annotations

import operator
from typing import Any

from torch import fx

from nnstudio.core.graph import Graph


class RecurrentViews:
    def __init__(self) -> None:
        self.views: dict[str, tuple[str, str, bool, str]] = {}  # fx name -> (node id, kind, bidirectional, type)
        self.last: dict[str, fx.Node] = {}  # node id -> the fx node of its sequence read for its last step

    def started(self, node: fx.Node, nid: str, bidirectional: bool, type_id: str) -> None:
        self.views[node.name] = (nid, "tuple", bidirectional, type_id)

    def handles(self, node: fx.Node) -> bool:
        return (node.op == "call_function" and node.target is operator.getitem and bool(node.args)
                and isinstance(node.args[0], fx.Node) and node.args[0].name in self.views)

    def kind(self, name: str) -> str | None:
        view = self.views.get(name)
        return view[1] if view else None

    def getitem(self, node: fx.Node, fail: Any) -> str | None:
        """The graph node id the item is (a tensor), or None while it is still part of the result; ``fail(why)``
        gives the error to raise."""
        source, index = node.args[0], node.args[1]
        nid, kind, bidirectional, type_id = self.views[source.name]
        if not node.users:  # an item unpacked and never used (``out, _ = self.lstm(x)``)
            return None
        if kind == "tuple" and index == 0:
            self.views[node.name] = (nid, "sequence", bidirectional, type_id)
            return nid
        if kind == "tuple" and index == 1:
            self.views[node.name] = (nid, "pair" if type_id == "lstm" else "state", bidirectional, type_id)
            return None
        if kind == "pair" and index == 0:
            self.views[node.name] = (nid, "state", bidirectional, type_id)
            return None
        if kind == "pair":
            raise fail("the LSTM's cell state has no place on the canvas: use its output or its final hidden "
                       "state")
        if kind == "sequence" and _last_step(index):
            if bidirectional:
                raise fail("the last step of a bidirectional layer's output is not each direction's final state, "
                           "which NN Studio's layer returns")
            if len(source.users) != 1:
                raise fail("the model uses both the whole sequence and its last step of one recurrent layer")
            self.last[nid] = node
            return nid
        if kind == "state" and index == -1 and not bidirectional:
            self.last[nid] = node
            return nid
        raise fail(f"reading [{_text(index)}] from a recurrent layer's result has no place on the canvas: use "
                   "the whole sequence, its last step out[:, -1] or h[-1]")

    def finish(self, graph: Graph, fail: Any) -> None:
        """Layers read for their last step return it; a layer whose sequence is also used is refused."""
        sequences = {v[0]: name for name, v in self.views.items() if v[1] == "sequence"}
        for nid, reader in self.last.items():
            seq = sequences.get(nid)
            if seq is not None and reader.args[0].name != seq:
                users = [u for u in reader.graph.nodes if u.name == seq]
                if users and users[0].users:
                    raise fail("the model uses both the whole sequence and the final state of one recurrent layer")
            graph.set_params(nid, {"return_sequences": False})


def _last_step(index: Any) -> bool:
    if not isinstance(index, tuple) or len(index) not in (2, 3):
        return False
    whole = slice(None, None, None)
    return index[0] == whole and index[1] == -1 and (len(index) == 2 or index[2] == whole)


def _text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    return ", ".join(":" if p == slice(None, None, None) else str(p) for p in parts)
