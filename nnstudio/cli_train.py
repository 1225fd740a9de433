"""``nnstudio train``: train a project headless with a progress bar; Ctrl-C stops cleanly and keeps the best
weights."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.reports import EpochReport, StepReport

BAR = 24
# The values an epoch line shows (the history keeps them all).
SHOWN = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro", "val_mse", "val_r2", "lr")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the project's setting)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the project's setting)")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="samples per step")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--resume", action="store_true", help="start from the project's saved weights")
    p.add_argument("--threads", type=int, help="CPU threads torch may use (default: torch's choice)")
    p.add_argument("-o", "--output", metavar="OUT", help="where to save the trained project (default: FILE)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only the final lines")


class ProgressPrinter(Callback):
    """A one-line progress bar on a terminal (a line per epoch otherwise), and a summary line per epoch."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = stream.isatty()

    def on_start(self, info: dict[str, Any]) -> None:
        if not self.quiet:
            self._line(f"training on {info['device']}: {info['train_samples']} samples, "
                       f"{info['val_samples']} for validation, {info['total_steps']} steps")

    def on_step(self, r: StepReport) -> None:
        if self.quiet or not self.tty:
            return
        done = int(BAR * r.progress)
        self.stream.write(f"\repoch {r.epoch}/{r.epochs} [{'#' * done}{'.' * (BAR - done)}] {r.progress:4.0%} "
                          f"loss {r.loss:.4f}  {r.samples_per_sec:,.0f} samples/s  ETA {_clock(r.eta_s)}  ")
        self.stream.flush()

    def on_epoch(self, r: EpochReport) -> None:
        if self.quiet:
            return
        shown = {k: v for k, v in r.values.items() if k in SHOWN}
        text = "  ".join(f"{k}={v:.4g}" for k, v in shown.items())
        self._line(f"epoch {r.epoch}/{r.epochs}  {text}" + ("  *" if r.improved else ""))

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


def run(args: argparse.Namespace) -> int:
    import torch

    from nnstudio.core.project.io import load_project, save_project
    from nnstudio.core.training.engine import train
    from nnstudio.core.training.project_run import headline, prepare, store_result

    if args.threads:
        torch.set_num_threads(max(1, args.threads))
    project = load_project(args.file)
    prepared = prepare(project, resume=args.resume, base_dir=Path(args.file).resolve().parent, epochs=args.epochs,
                       device=args.device, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    token = ControlToken()
    interrupted = {"count": 0}

    def on_sigint(signum, frame):  # first Ctrl-C: stop after this step; second: abort
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        print("\nstopping after this step (Ctrl-C again to abort without saving)...", file=sys.stderr)
        token.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.perf_counter()
    try:
        result = train(prepared.compiled, prepared.split, prepared.config,
                       [ProgressPrinter(sys.stderr, quiet=args.quiet)], token)
    finally:
        signal.signal(signal.SIGINT, previous)
    store_result(project, result)
    out = args.output or args.file
    save_project(project, out)
    print(f"{result.stop_reason} after {len(result.history['epochs'])} epoch(s) in "
          f"{time.perf_counter() - started:.1f} s on {result.device}; best epoch {result.best_epoch}; saved to {out}")
    for key, value in result.final.items():
        print(f"{key}={value:.4g}")
    print(headline(result, prepared.compiled.task))
    return 0
