"""The fingerprint of a network's trainable structure: what decides whether saved weights belong to a graph.

It covers each node's id, layer type and parameters (with their defaults filled in) and the wires into it in
their order (port, then the order they were connected: the order merges read them), and nothing else: moving a
node or renaming its label keeps the fingerprint, any parameter or wire change gives another one, and undoing
back to the trained graph gives the trained fingerprint again.
"""

from __future__ import annotations

import hashlib
import json

from nnstudio.core.graph import Graph

VERSION = "1"  # part of the fingerprint: a change of what it covers makes old fingerprints differ


def fingerprint(graph: Graph) -> str:
    """A hex digest of ``graph``'s trainable structure (see the module's doc)."""
    nodes = []
    for node_id in sorted(graph.nodes):
        node = graph.nodes[node_id]
        wires = [[e.src, e.dst_port] for e in graph.inputs_of(node_id)]
        nodes.append([node_id, node.type_id, node.spec.with_defaults(node.params), wires])
    text = json.dumps([VERSION, nodes], sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=repr)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
