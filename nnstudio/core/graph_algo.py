"""Graph algorithms the Graph uses, free of its data: Tarjan's strongly connected components (iterative, so a
long chain cannot overflow the stack) and a pause of the garbage collector for passes over big graphs."""

from __future__ import annotations

import contextlib
import gc
from typing import Callable, Iterable


def strongly_connected(nodes: Iterable[str], successors: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of the graph ``successors`` describes, iteratively (no
    recursion limit on a long cycle): every node of ``nodes`` in exactly one component. Linear in nodes +
    wires."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors(root)))]
        while work:
            v, pending = work[-1]
            for w in pending:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors(w))))
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            else:  # every successor of v is done
                work.pop()
                if work and low[v] < low[work[-1][0]]:
                    low[work[-1][0]] = low[v]
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    components.append(component)
    return components


@contextlib.contextmanager
def gc_paused(size: int, above: int = 2_000):
    """Pause Python's cyclic garbage collector while a pass over a graph of ``size`` nodes allocates its many
    small objects: each full collection walks every object alive, which makes a 50,000-node pass superlinear.
    The pass creates no cycles that need it; the collector is back on (if it was) when the pass ends."""
    if size <= above or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
