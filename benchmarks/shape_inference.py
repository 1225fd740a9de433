"""How long live shape inference takes on a 200-node graph after one edit.

    python benchmarks/shape_inference.py

Prints the median time of a full re-inference after (a) a shape-preserving edit in the middle, (b) an edit in
the middle that changes a shape, (c) the worst case, an edit at the input of a chain where every later node's
input shape changes, each next to the baseline measured in the same run: the same graph inferred with no cache at all
(every node built on the meta device). The last line is a JSON object with the figures. Target: (a) and (b) well
under 50 ms.
"""

from __future__ import annotations

import json
import statistics
import time

from nnstudio.core.graph import Graph
from nnstudio.core.shapes import _Cache, infer_shapes


def residual_mlp(blocks: int) -> Graph:
    """Input -> blocks of Dense, LayerNorm, Activation, Dropout with an Add skip (5 nodes a block) -> Output."""
    g = Graph()
    prev = g.add_node("input_vector", {"features": 64}).id
    for _ in range(blocks):
        dense = g.add_node("dense", {"units": 64, "activation": "none"}).id
        norm = g.add_node("layernorm").id
        act = g.add_node("activation", {"function": "gelu"}).id
        drop = g.add_node("dropout", {"rate": 0.1}).id
        add = g.add_node("add").id
        for a, b in ((prev, dense), (dense, norm), (norm, act), (act, drop), (drop, add), (prev, add)):
            g.connect(a, b)
        prev = add
    g.connect(prev, g.add_node("output", {"task": "regression"}).id)
    return g


def shape_preserving_chain(length: int) -> Graph:
    """Input -> ``length`` distinct shape-preserving layers: an edit at the input reaches every node."""
    g = Graph()
    prev = g.add_node("input_sequence", {"steps": 16, "features": 32}).id
    for i in range(length):  # every node's parameters differ, so no two share a cache entry
        node = g.add_node("dropout", {"rate": i / 1000}).id if i % 2 else g.add_node(
            "layernorm", {"eps": 1e-6 * (i + 1)}).id
        g.connect(prev, node)
        prev = node
    g.connect(prev, g.add_node("global_avg_pool").id)
    return g


def timed(fn, repeat: int = 15) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def uncached_cost(graph: Graph) -> float:
    """The baseline: every node built on the meta device, nothing remembered."""
    return timed(lambda: infer_shapes(graph, _Cache(size=0)), repeat=5)


def cold_edit_cost(graph: Graph, node_id: str, values: list[dict]) -> tuple[float, int]:
    """Re-inference after edits to values never seen before: the edited node and what its change reaches
    are built on the meta device."""
    cache = _Cache()
    infer_shapes(graph, cache)
    samples, rebuilt = [], 0
    for v in values:
        graph.set_params(node_id, v)
        before = cache.misses
        t0 = time.perf_counter()
        infer_shapes(graph, cache)
        samples.append((time.perf_counter() - t0) * 1000)
        rebuilt = cache.misses - before
    return statistics.median(samples), rebuilt


def main() -> None:
    infer_shapes(residual_mlp(2))  # import-time and first-call costs out of the way
    g = residual_mlp(40)  # 1 + 40 * 5 + 1 = 202 nodes
    mid = list(g.nodes)[101]
    while g.nodes[mid].type_id != "activation":
        mid = list(g.nodes)[list(g.nodes).index(mid) + 1]
    dense_mid = next(nid for nid in list(g.nodes)[100:] if g.nodes[nid].type_id == "dense")
    chain = shape_preserving_chain(200)
    first = list(chain.nodes)[0]

    cold = uncached_cost(g)
    preserving, n_pres = cold_edit_cost(g, mid, [{"function": f} for f in ("relu", "tanh", "silu", "elu", "sigmoid")])
    changing, n_chg = cold_edit_cost(g, dense_mid, [{"units": u} for u in (65, 66, 67, 68, 69)])
    chain_cold = uncached_cost(chain)
    worst, n_worst = cold_edit_cost(chain, first, [{"features": f} for f in (33, 34, 35, 36, 37)])
    figures = {
        "nodes": len(g.nodes),
        "full_inference_uncached_ms": round(cold, 2),
        "edit_shape_preserving_ms": round(preserving, 2),
        "edit_shape_preserving_nodes_rebuilt": n_pres,
        "edit_shape_changing_ms": round(changing, 2),
        "edit_shape_changing_nodes_rebuilt": n_chg,
        "chain_nodes": len(chain.nodes),
        "chain_full_inference_uncached_ms": round(chain_cold, 2),
        "edit_at_chain_input_ms": round(worst, 2),
        "edit_at_chain_input_nodes_rebuilt": n_worst,
        "ratio_edit_to_full": round(preserving / cold, 4),
    }
    print(f"{len(g.nodes)}-node residual MLP, full inference, every node built: {cold:8.2f} ms")
    print(f"  one shape-preserving edit in the middle:  {preserving:8.2f} ms ({n_pres} node rebuilt)")
    print(f"  one shape-changing edit in the middle:    {changing:8.2f} ms ({n_chg} nodes rebuilt)")
    print(f"{len(chain.nodes)}-node chain, full inference, every node built: {chain_cold:8.2f} ms")
    print(f"  edit at the input (every node downstream changes): {worst:8.2f} ms ({n_worst} rebuilt)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
