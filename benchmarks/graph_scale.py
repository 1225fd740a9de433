"""How graph checks scale with the graph's size: near-linear in nodes + wires.

    python benchmarks/graph_scale.py [--sizes 5000 50000]

For each size it builds three graphs from plain data (``Graph.from_dict``, as a file would) and times
``from_dict`` + shape inference + the problem list + ``format_summary`` + ``memory.estimate`` together (what
``nnstudio validate`` and ``summary`` do), with the shape cache cleared first (after one warm-up run of each
graph at a small size, so torch's first-use costs are not counted):

- chain: Input -> a chain of Dense / LayerNorm / Activation / Dropout blocks -> Output;
- fan: Input -> many two-layer branches merged by Concats of 100 (themselves merged by an Add) -> Output;
- cycle: a chain with a cycle of a fifth of its nodes (10,000 of 50,000) in the middle.

It prints the CPU seconds per node of each graph at each size. The last line is a JSON object with the seconds per
node at the smallest and the largest size (summed over the three graphs) and their ratio: near 1 when the checks
are linear, near the size ratio (10) when they are quadratic. Whole seconds for 50,000 nodes are the target.
"""

from __future__ import annotations

import argparse
import json
import time

from nnstudio.core import memory, shapes
from nnstudio.core.graph import Graph
from nnstudio.core.summary import format_summary

BLOCK = [("dense", {"units": 16, "activation": "none"}), ("layernorm", {}), ("activation", {"function": "gelu"}),
         ("dropout", {"rate": 0.1})]


def chain(n: int, cycle: int = 0) -> dict:
    """``n`` nodes in a line; with ``cycle`` > 0, the ``cycle`` nodes in the middle also wire back on
    themselves (the last of them to the first)."""
    nodes = [{"id": "x", "type": "input_vector", "params": {"features": 16}}]
    for i in range(n - 2):
        type_id, params = BLOCK[i % len(BLOCK)]
        nodes.append({"id": f"n{i}", "type": type_id, "params": params})
    nodes.append({"id": "y", "type": "output", "params": {"task": "regression"}})
    ids = [nd["id"] for nd in nodes]
    edges = [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]
    if cycle:
        start = (n - cycle) // 2
        first, last = ids[start], ids[start + cycle - 1]
        # the first node of the cycle is a merge (an Add) so it can take the wire that comes back
        nodes[start] = {"id": first, "type": "add", "params": {}}
        edges.append({"from": last, "to": first})
    return {"nodes": nodes, "edges": edges}


def fan(n: int, group: int = 100) -> dict:
    """Input -> (n - 3) / 2.02 branches of Dense -> Activation, merged by Concats of ``group`` branches,
    merged by one Add -> Output: about ``n`` nodes and 1.5 ``n`` wires."""
    branches = max(2, int((n - 3) / (2 + 1 / group)))
    branches -= branches % group or 0
    branches = max(branches, 2 * group)
    nodes = [{"id": "x", "type": "input_vector", "params": {"features": 8}}]
    edges = []
    concat = None
    concats = []
    for b in range(branches):
        d, a = f"d{b}", f"a{b}"
        nodes.append({"id": d, "type": "dense", "params": {"units": 4, "activation": "none"}})
        nodes.append({"id": a, "type": "activation", "params": {"function": "relu"}})
        edges += [{"from": "x", "to": d}, {"from": d, "to": a}]
        if b % group == 0:
            concat = f"c{b // group}"
            concats.append(concat)
            nodes.append({"id": concat, "type": "concat", "params": {"axis": -1}})
        edges.append({"from": a, "to": concat})
    nodes.append({"id": "sum", "type": "add", "params": {}})
    edges += [{"from": c, "to": "sum"} for c in concats]
    nodes.append({"id": "y", "type": "output", "params": {"task": "regression"}})
    edges.append({"from": "sum", "to": "y"})
    return {"nodes": nodes, "edges": edges}


def check(data: dict) -> tuple[float, int]:
    """CPU seconds of this process (fair on a shared machine: other processes' load does not count)."""
    shapes.CACHE.data.clear()
    t0 = time.process_time()
    graph = Graph.from_dict(data)
    info = shapes.infer_shapes(graph)
    problems = info.problems()
    format_summary(graph, info=info)
    memory.estimate(graph, 32, info=info)
    return time.process_time() - t0, len(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    sizes = sorted(parser.parse_args().sizes)
    for data in (chain(500), fan(500), chain(500, cycle=100)):  # warm-up
        check(data)
    per_node: dict[int, float] = {}
    for n in sizes:
        total = 0.0
        for name, data in (("chain", chain(n)), ("fan", fan(n)), ("cycle", chain(n, cycle=n // 5))):
            seconds, problems = check(data)
            count = len(data["nodes"])
            total += seconds / count
            print(f"{name:5} {count:7,} nodes {len(data['edges']):7,} wires: {seconds:7.2f} s, "
                  f"{seconds / count * 1e6:6.1f} us/node, {problems:,} problems")
        per_node[n] = total
    small, large = sizes[0], sizes[-1]
    print(json.dumps({"nodes_small": small, "nodes_large": large,
                      "s_per_node_small": round(per_node[small], 9), "s_per_node_large": round(per_node[large], 9),
                      "ratio": round(per_node[large] / per_node[small], 3)}))


if __name__ == "__main__":
    main()
