"""``nnstudio sweep FILE --set optimizer=sgd,adam,rmsprop --set lr=0.01,0.001 [--seeds 3]``: train every point
of a sweep (``core.sweep``) one after another, each as a run of the project grouped under the sweep, then print
the results table (mean and spread over seeds) and save the project (in place, or to ``-o OUT``; atomically).
Ctrl-C stops after the current step and keeps the runs done; a second Ctrl-C aborts without saving. Without
``--set`` the sweep saved with the project (the last one it ran, or the one an example offers) runs again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nnstudio.core.sweep import MAX_SEEDS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")
    p.add_argument("--set", metavar="SETTING=V1,V2", action="append", default=[], dest="sets",
                   help="a setting and its values (repeat for more settings): optimizer, lr, batch_size, epochs, "
                        "l2 ... or dropout:<layer id>")
    p.add_argument("--seeds", type=int, default=None, help=f"runs per point, with seeds seed, seed+1, ... (1 to "
                                                           f"{MAX_SEEDS}; default 1)")
    p.add_argument("--random", type=int, metavar="N", help="train N random draws instead of every combination")
    p.add_argument("--seed", type=int, default=None, help="the first seed (and the random draws' seed); default 0")
    p.add_argument("-o", "--output", metavar="OUT", help="where to save the project with its new runs "
                                                         "(default: FILE)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only the results")


def run(args: argparse.Namespace) -> int:
    from nnstudio.cli import _UsageError, check_output, load, refuse_problems, same_file, warn
    from nnstudio.cli_train import ProgressPrinter, stop_on_ctrl_c
    from nnstudio.core.errors import TrainingError
    from nnstudio.core.project.io import save_project
    from nnstudio.core.sweep import (SweepSpec, expand, next_sweep_id, parse_set, point_name, run_sweep,
                                     spec_from_dict)
    from nnstudio.core.training.control import ControlToken

    out = args.file if args.output is None or same_file(args.output, args.file) else args.output
    check_output(out, "nnstudio sweep", "FILE" if out == args.file else "-o")
    project = load(args.file)
    if not args.sets and project.sweep is None:
        raise _UsageError("nnstudio sweep: the project has no saved sweep: give at least one --set SETTING=V1,V2 "
                          "(e.g. --set lr=0.01,0.001)")
    try:
        if args.sets:
            values: dict[str, list[Any]] = {}
            for text in args.sets:
                name, parsed = parse_set(text, project.graph)
                if name in values:
                    raise TrainingError(f"--set {name} is given twice: put all its values in one --set")
                values[name] = parsed
            spec = SweepSpec(values, "random" if args.random else "grid", args.random or 0, 1, 0)
        else:
            spec = spec_from_dict(project.sweep, project.graph)
            if args.random:
                spec.mode, spec.draws = "random", args.random
        spec.seeds = spec.seeds if args.seeds is None else args.seeds
        spec.seed = spec.seed if args.seed is None else args.seed
        points = expand(spec, project.graph)
    except TrainingError as exc:
        raise _UsageError(f"nnstudio sweep: {exc}") from None
    base = Path(args.file).resolve().parent
    refuse_problems(project, base)
    token = ControlToken()
    outcome_id = next_sweep_id(project.runs)

    def callbacks_for(i: int, point: dict[str, Any]) -> list[Any]:
        if not args.quiet:
            print(f"[{i + 1}/{len(points)}] {point_name(outcome_id, point)}", file=sys.stderr)
        return [ProgressPrinter(sys.stderr, quiet=args.quiet)]

    with stop_on_ctrl_c(token):
        outcome = run_sweep(project, spec, base, callbacks_for=callbacks_for, token=token)
    for note in outcome.notes:
        warn(note)
    save_project(project, out)
    print(format_results(outcome.table))
    done = len(outcome.results)
    print(f"{outcome.sweep_id}: {done} of {len(points)} runs{' (stopped)' if outcome.stopped else ''}; "
          f"saved to {out}")
    return 0


def format_results(table: list[dict[str, Any]]) -> str:
    """The results table as aligned text: the swept settings, the runs, and per final metric mean ± spread."""
    if not table:
        return "no runs finished"
    settings = [k for k in table[0] if k != "runs" and not k.endswith(("_mean", "_std"))]
    metrics = sorted({k[:-5] for row in table for k in row if k.endswith("_mean")})
    lines = [settings + ["runs"] + metrics]
    for row in table:
        cells = [f"{row[k]:g}" if isinstance(row[k], float) else str(row[k]) for k in settings] + [str(row["runs"])]
        for m in metrics:
            mean, std = row.get(f"{m}_mean"), row.get(f"{m}_std")
            cells.append("-" if mean is None else f"{mean:.4g} ± {std:.2g}")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)
