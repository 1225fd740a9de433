"""``nnstudio train``: train a project headless with a progress bar; Ctrl-C stops cleanly and keeps the best
weights. ``--resume`` continues the project's last run exactly (its optimizer and schedule state and random
generators are saved with the weights); ``--resume --epochs N`` trains N more epochs and the history goes on."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from nnstudio.core.layers.base import Param
from nnstudio.core.training.config import PARAMS
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.reports import EpochReport, StepReport

BAR = 24
# The values an epoch line shows (the history keeps them all).
SHOWN = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro", "val_mse", "val_r2", "lr")
# The most CPU threads --threads may ask torch for.
MAX_THREADS = 1024
THREADS = Param("threads", "int", 1, label="Threads", minimum=1, maximum=MAX_THREADS)


def setting(name: str) -> Param:
    """The training setting ``name`` (its kind and range), as the project's own settings check it."""
    return next(p for p in PARAMS if p.name == name)


def checked(param: Param) -> Callable[[str], Any]:
    """An argparse ``type``: the option's text as ``param``'s kind, refused (one line, exit 2) when out of
    the range the project's settings allow."""
    def convert(text: str) -> Any:
        value: Any = int(text) if param.kind == "int" else float(text)  # ValueError: "invalid int value"
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
        problem = param.check(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = param.kind  # argparse names it in "invalid int value: 'x'"
    return convert


def _range(param: Param) -> str:
    return " .. ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in (param.minimum, param.maximum))


def add_arguments(p: argparse.ArgumentParser) -> None:
    epochs, batch, lr, seed = (setting(n) for n in ("epochs", "batch_size", "lr", "seed"))
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")
    p.add_argument("--epochs", type=checked(epochs),
                   help=f"number of epochs, {_range(epochs)} (default: the project's setting)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the project's setting)")
    p.add_argument("--batch-size", type=checked(batch), dest="batch_size", help=f"samples per step, {_range(batch)}")
    p.add_argument("--lr", type=checked(lr), help=f"learning rate, {_range(lr)}")
    p.add_argument("--seed", type=checked(seed), help=f"random seed, {_range(seed)}")
    p.add_argument("--resume", action="store_true",
                   help="continue the project's last run where it stopped (--epochs N: N more epochs)")
    p.add_argument("--threads", type=checked(THREADS),
                   help=f"CPU threads torch may use, 1 .. {MAX_THREADS} (default: torch's choice)")
    p.add_argument("-o", "--output", metavar="OUT", help="where to save the trained project (default: FILE)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only the final lines")


class ProgressPrinter(Callback):
    """A one-line progress bar on a terminal (a line per epoch otherwise), and a summary line per epoch."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = stream.isatty()

    def on_start(self, info: dict[str, Any]) -> None:
        if not self.quiet:
            steps = info["total_steps"] - info.get("first_step", 1) + 1  # this run's
            after = info.get("first_epoch", 1) - 1
            self._line(f"training on {info['device']}: {info['train_samples']} samples, "
                       f"{info['val_samples']} for validation, {steps} steps"
                       + (f", continuing after epoch {after}" if after > 0 else ""))

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


@contextlib.contextmanager
def stop_on_ctrl_c(token: ControlToken) -> Iterator[None]:
    """While inside: the first Ctrl-C stops the run after its current step (``token``), a second aborts
    (KeyboardInterrupt: nothing is saved)."""
    interrupted = {"count": 0}

    def on_sigint(signum, frame):
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        print("\nstopping after this step (Ctrl-C again to abort without saving)...", file=sys.stderr)
        token.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    import torch

    from nnstudio.cli import _shown, _UsageError, check_output, load, refuse_problems, same_file, warn
    from nnstudio.core.project.io import save_project
    from nnstudio.core.training.project_run import headline, prepare, store_result, train_prepared

    # Where the result goes can be written: checked before anything is loaded or trained.
    if args.output is not None:
        check_output(args.output, "nnstudio train", "-o")
        if same_file(args.output, args.file):
            raise _UsageError(f"nnstudio train: -o {_shown(args.output)} is the project being trained: leave out -o to "
                              "save the result into it, or give another file")
    out = args.file if args.output is None else args.output
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # A fresh run replaces the history and the weights: both are only read to continue them.
    project = load(args.file, weights=args.resume, history=args.resume)
    if args.output is None:
        check_output(args.file, "nnstudio train", "FILE")  # it is saved into: it must be writable
    refuse_problems(project, Path(args.file).resolve().parent, epochs=args.epochs, device=args.device,
                    batch_size=args.batch_size, lr=args.lr, seed=args.seed)  # the problems validate lists
    prepared = prepare(project, resume=args.resume, base_dir=Path(args.file).resolve().parent, epochs=args.epochs,
                       device=args.device, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    for note in prepared.notes:
        print(f"note: {note}", file=sys.stderr)
    token = ControlToken()
    started = time.perf_counter()
    with stop_on_ctrl_c(token):
        result = train_prepared(prepared, [ProgressPrinter(sys.stderr, quiet=args.quiet)], token)
    for note in store_result(project, result) or ():  # an old run dropped to keep the file bounded
        warn(note)
    save_project(project, out)
    done = len(result.history["epochs"])
    more = "" if result.resumed_from is None else (
        f" more (continued from epoch {result.resumed_from[0]}; {len(project.history['epochs'])} in the history)")
    print(f"{result.stop_reason} after {done} epoch(s){more} in "
          f"{time.perf_counter() - started:.1f} s on {result.device}; best epoch {result.best_epoch}; saved to {out}")
    for key, value in result.final.items():
        print(f"{key}={value:.4g}")
    print(headline(result, prepared.compiled.task))
    return 0
