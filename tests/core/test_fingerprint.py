"""The fingerprint sees every parameter and wire, and ignores positions and labels."""

from __future__ import annotations

import pytest

from nnstudio.core.examples import EXAMPLES
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.graph import Graph


def digits() -> Graph:
    return EXAMPLES["digits_cnn"]().graph


def test_positions_and_labels_do_not_count():
    g = digits()
    before = fingerprint(g)
    for i, node_id in enumerate(list(g.nodes)):
        g.move_node(node_id, (i * 1000.0, -i * 7.5))
        g.set_label(node_id, f"renamed {i}")
    assert fingerprint(g) == before


def every_parameter_change():
    """(node id, parameter, another valid value) for every parameter of every node of every example."""
    for name, make in EXAMPLES.items():
        graph = make().graph
        for node in graph.nodes.values():
            for p in node.spec.params:
                value = node.params.get(p.name, p.default)
                if p.kind == "bool":
                    other = not value
                elif p.kind in ("choice",):
                    other = next(c for c in p.choices if c != value)
                elif p.kind == "ints":
                    other = list(value) + [1]
                elif p.kind == "padding":
                    other = "same" if value != "same" else "valid"
                elif isinstance(value, (int, float)):
                    other = value + 1 if p.maximum is None or value + 1 <= p.maximum else value - 1
                else:
                    continue
                yield pytest.param(name, node.id, p.name, other, id=f"{name}-{node.id}-{p.name}")


@pytest.mark.parametrize("example, node_id, param, value", list(every_parameter_change()))
def test_every_parameter_counts(example, node_id, param, value):
    g = EXAMPLES[example]().graph
    before = fingerprint(g)
    g.nodes[node_id].params[param] = value  # any value, valid or not: it is a different network
    assert fingerprint(g) != before


def test_wires_and_their_order_count():
    g = EXAMPLES["residual_mlp"]().graph
    before = fingerprint(g)
    merge = next(n for n in g.nodes.values() if n.type_id in ("add", "concat"))
    wires = g.inputs_of(merge.id)
    assert len(wires) >= 2
    g.disconnect(wires[0])
    assert fingerprint(g) != before
    g.connect(wires[0].src, merge.id)  # back, but now the last of the merge's inputs
    assert fingerprint(g) != before  # the order a merge reads its inputs in is part of the network
    g.disconnect(wires[0])
    g.connect(wires[0].src, merge.id, index=g.edges.index(wires[1]))
    assert fingerprint(g) == before  # the same wires in the same order: the same network


def test_a_default_written_out_is_the_same_network():
    g, h = digits(), digits()
    node = next(n for n in g.nodes.values() if n.type_id == "dense")
    spec_default = {p.name: p.default for p in node.spec.params}
    g.nodes[node.id].params = {k: v for k, v in node.params.items() if v != spec_default.get(k)}
    h.nodes[node.id].params = {**spec_default, **h.nodes[node.id].params}
    assert fingerprint(g) == fingerprint(h)
