"""``nnstudio runs FILE``: the training runs a project keeps (``core.runs``), as a table or (``--json``) as JSON
rows; ``--drop ID[,ID]`` removes runs and saves the project (in place, or to ``-o OUT``; atomically, as every
save). Bad input (no such file, not a project, an unknown run id) is one line and exit 2."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

COLUMNS = ("id", "name", "started", "duration", "device", "optimizer", "lr", "batch", "epochs", "best", "graph")
NAME_WIDTH = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")
    p.add_argument("--json", action="store_true", help="print the runs as a JSON list of rows instead of a table")
    p.add_argument("--drop", metavar="ID[,ID]", help="remove these runs (e.g. run-2,run-5) and save the project")
    p.add_argument("-o", "--output", metavar="OUT", help="with --drop: where to save (default: FILE)")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="write each run as TensorBoard event files in DIR/<run id> (needs nnstudio[tensorboard])")
    p.add_argument("--csv", metavar="FILE", help="write the epochs of every run to one CSV file")


def run(args: argparse.Namespace) -> int:
    from nnstudio.cli import _shown, _UsageError, check_output, load, same_file
    from nnstudio.core import runs
    from nnstudio.core.project.io import save_project

    if args.output is not None and not args.drop:
        raise _UsageError("nnstudio runs: -o is where --drop saves the project: give --drop too")
    ids = []
    if args.drop is not None:
        ids = [part.strip() for part in args.drop.split(",") if part.strip()]
        if not ids:
            raise _UsageError("nnstudio runs: --drop needs run ids, e.g. --drop run-2,run-5")
        out = args.file if args.output is None else args.output
        check_output(out, "nnstudio runs", "FILE" if args.output is None else "-o")
        if args.output is not None and same_file(args.output, args.file):
            out = args.file
    # Dropping saves the project, so everything in it is read; listing needs only project.json and runs.json
    # (and the kept weights, for TensorBoard's histograms).
    project = load(args.file, weights=bool(ids) or bool(args.tensorboard), history=bool(ids))
    if ids:
        try:
            runs.drop_runs(project, ids)
        except runs.RunError as exc:
            raise _UsageError(f"nnstudio runs: {_shown(args.file)}: --drop: {exc}") from None
        save_project(project, out)
    rows = runs.runs_table(project)
    if args.json:
        print(json.dumps([_plain(row) for row in rows], indent=1, allow_nan=False))
    else:
        print(format_table(rows) if rows else f"{args.file}: no runs")
    if ids:
        print(f"dropped {', '.join(ids)}; saved to {out}")
    if args.csv:
        from nnstudio.core.runs_export import runs_csv

        print(f"wrote {runs_csv(project.runs, check_output(args.csv, 'nnstudio runs', '--csv'))} "
              f"({len(project.runs)} runs)")
    if args.tensorboard:
        from nnstudio.core.runs_export import write_tensorboard

        folders = write_tensorboard(project.runs, args.tensorboard, project.run_weights)
        print(f"wrote {len(folders)} runs as TensorBoard event files in {args.tensorboard} "
              f"(tensorboard --logdir {args.tensorboard})")
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    """The runs as an aligned text table, one line per run; ``*`` in the last column marks a run whose network
    has changed since (``?``: not known)."""
    from nnstudio.core.text import one_line

    lines = [list(COLUMNS)]
    for row in rows:
        best = row["best_val_accuracy"]
        best_text = f"acc {best:.3f}" if best is not None else (
            f"loss {row['best_val_loss']:.4g}" if row["best_val_loss"] is not None else "-")
        changed = {True: "*", False: "", None: "?"}[row["graph_changed"]]
        lines.append([
            one_line(row["id"]), one_line(row["name"], NAME_WIDTH), one_line(row["started"] or "-"),
            _duration(row["duration_s"]), one_line(row["device"] or "-", 12), _text(row["optimizer"]),
            _text(row["lr"]), _text(row["batch_size"]), str(row["epochs"]), best_text, changed,
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)
    return text + "\n(graph: * the network changed since the run)"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _text(value: Any) -> str:
    from nnstudio.core.text import one_line

    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else one_line(value, 16)


def _plain(value: Any) -> Any:
    """``value`` as strict JSON can hold it (a NaN or infinity from a diverged run's settings becomes null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
