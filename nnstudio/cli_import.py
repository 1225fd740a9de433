"""``nnstudio import SOURCE -o OUT.nnstudio``: an existing model onto the canvas, as a project.

SOURCE is ``net.py:Net`` (a class with a no-argument constructor, or a function returning the module: importing
runs that file's code, and the command says so before it does), ``torchvision:resnet18`` (where torchvision is
installed), or a file NN Studio exported (.py, .onnx, .safetensors), whose project it reopens exactly without
running anything. ``--weights FILE`` (safetensors, or a state dict) and ``--input-shape 3,32,32`` (the
per-sample shape) for a module; ``--task`` names what its output is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TASK_HELP = "what the model's output is: multiclass (logits, the default), binary or regression"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="FILE.py:NAME, torchvision:ARCHITECTURE, or a .py, .onnx or "
                                                    ".safetensors file NN Studio exported")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="the project file to write (.nnstudio)")
    p.add_argument("--weights", metavar="FILE", help="weights to load into the module first (safetensors, or a "
                                                     "state dict saved with torch.save)")
    p.add_argument("--input-shape", metavar="C,H,W", dest="input_shape",
                   help="the per-sample input shape, e.g. 3,224,224 (image) or 20 (features)")
    p.add_argument("--task", default="multiclass", choices=("multiclass", "binary", "regression"), help=TASK_HELP)


def parse_shape(text: str | None) -> tuple[int, ...]:
    from nnstudio.core.importer.trace import ImportModelError

    if not text:
        raise ImportModelError("give the per-sample input shape with --input-shape, e.g. 3,224,224 for an image")
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise ImportModelError(f"--input-shape {text}: write whole numbers separated by commas, e.g. 3,224,224") \
            from None
    if not shape or len(shape) > 3 or any(not 1 <= s <= 65_536 for s in shape):
        raise ImportModelError(f"--input-shape {text}: 1 to 3 numbers from 1 to 65,536 (features; steps,features; "
                               "or channels,height,width)")
    return shape


def run(args: argparse.Namespace) -> int:
    from nnstudio.cli import _UsageError, check_output, warn
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.importer import import_source
    from nnstudio.core.project.io import save_project

    out = args.output
    if not str(out).lower().endswith(".nnstudio"):
        raise _UsageError("nnstudio import: -o must name a .nnstudio project file")
    check_output(out, "nnstudio import", "-o")
    try:
        imported = import_source(args.source, input_shape=args.input_shape, weights=args.weights, task=args.task,
                                 announce=lambda text: print(f"nnstudio import: {text}", file=sys.stderr))
    except NNStudioError as exc:
        raise _UsageError(f"nnstudio import: {exc}") from None
    for note in imported.notes:
        warn(note)
    save_project(imported.project, out)
    graph = imported.project.graph
    from nnstudio.core.shapes import infer_shapes

    info = infer_shapes(graph)
    print(f"{Path(out)}: {len(graph.nodes)} layers, {info.total_params:,} parameters, {len(graph.frames)} frames")
    return 0
