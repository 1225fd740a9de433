"""nnstudio.core never imports Qt: every core module imports, and a network builds and compiles, in a fresh
interpreter where PySide6, pyqtgraph and nnstudio.ui cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "nnstudio.ui")

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    BLOCKED = tuple(sys.argv[1].split(","))
    attempts = []

    class Block:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                attempts.append(name)
                raise ImportError(f"{name} is blocked: nnstudio.core must not import Qt")
            return None

    for name in list(sys.modules):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            del sys.modules[name]
    sys.meta_path.insert(0, Block())

    import nnstudio.core
    imported, failed = [], {}
    for info in pkgutil.walk_packages(nnstudio.core.__path__, "nnstudio.core."):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as exc:  # reported, so a broken module names itself
            failed[info.name] = f"{type(exc).__name__}: {exc}"

    from nnstudio.core.compile import compile_graph
    from nnstudio.core.graph import Graph

    graph = Graph()
    ids = [graph.add_node("input_image", {"channels": 1, "height": 8, "width": 8}).id,
           graph.add_node("conv2d", {"filters": 4}).id, graph.add_node("flatten").id,
           graph.add_node("dense", {"units": 3, "activation": "softmax"}).id, graph.add_node("output").id]
    for a, b in zip(ids, ids[1:]):
        graph.connect(a, b)
    model = compile_graph(graph, seed=0)
    shape = list(model.predict(*model.example_inputs(batch=2)).shape)
    loaded = sorted(n for n in sys.modules if any(n == b or n.startswith(b + ".") for b in BLOCKED))
    print(json.dumps({"imported": imported, "failed": failed, "attempts": attempts, "loaded": loaded,
                      "shape": shape}))
    """
)


def test_core_imports_and_compiles_without_qt():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(BLOCKED)], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["attempts"] == [], f"nnstudio.core tried to import {result['attempts']}"
    assert result["loaded"] == []
    assert result["failed"] == {}, result["failed"]
    assert {"nnstudio.core.graph", "nnstudio.core.shapes", "nnstudio.core.compile",
            "nnstudio.core.layers.registry"} <= set(result["imported"])
    assert result["shape"] == [2, 3]


def test_the_blocker_would_notice_a_qt_import():
    """The check above can fail: the same blocker reports a module that does import Qt."""
    probe = SCRIPT.replace("import nnstudio.core\n", "import nnstudio.core\ntry:\n    import PySide6.QtCore\n"
                                                      "except ImportError:\n    pass\n", 1)
    proc = subprocess.run([sys.executable, "-c", probe, ",".join(BLOCKED)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["attempts"] == ["PySide6"]
