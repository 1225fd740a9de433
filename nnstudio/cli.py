"""Command line: ``nnstudio`` opens the window; sub-commands work headless.

    nnstudio [FILE]            open the desktop app (optionally with a project)
    nnstudio summary FILE      print the model summary
    nnstudio validate FILE     print every problem of the project (problems.project_problems; it loads the
                               data as training would); exit 1 if there are any
    nnstudio train FILE        train headless; saves weights and history into the project
    nnstudio export FILE -o OUT   export as a PyTorch script (.py), weights (.safetensors), ONNX (.onnx) or a
                               torch.export program (.pt2); each carries the project (nnstudio import reopens it)
    nnstudio runs FILE         list the training runs the project keeps (--json; --drop ID[,ID] removes runs)
    nnstudio sweep FILE --set optimizer=sgd,adam --set lr=0.01,0.001 [--seeds 3]   train a sweep into the project
    nnstudio import net.py:Net --input-shape 3,32,32 -o OUT.nnstudio   an existing model as a project
    nnstudio --version
    nnstudio --self-test [--self-test-log FILE]   open, train, export and close offscreen; exit 0 when it all works

Exit codes: 0 done, 1 ``validate`` found problems, 2 anything went wrong (one line on stderr saying what and
where), 130 interrupted. No traceback reaches the user: an unexpected error is one ``internal error`` line
(``NNSTUDIO_DEBUG=1`` prints the traceback too).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import os
import stat
import sys
from pathlib import Path
from typing import Callable, Sequence

from nnstudio import __version__
from nnstudio.core.text import one_line as _one_line

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DEBUG_VARIABLE = "NNSTUDIO_DEBUG"
PROJECT_SUFFIX = ".nnstudio"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def one_line(text: object) -> str:
    """``text`` as one printable line (line breaks of every kind become spaces, control characters such as a
    terminal's ESC are escaped), without the runs of spaces a message's indented lines leave."""
    return " ".join(_one_line(text).split())


def warn(message: str) -> None:
    print(f"warning: {one_line(message)}", file=sys.stderr)


def load(path: str, weights: bool = True, history: bool = True, runs: bool = True):
    """The project at ``path``, its load warnings printed (one line each). ``runs=False``: not its runs (a
    project loaded so is never saved)."""
    from nnstudio.core.project.io import load_project

    project = load_project(path, weights=weights, history=history, runs=runs)
    for message in project.load_warnings:
        warn(message)
    return project


def cmd_summary(args: argparse.Namespace) -> int:
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.problems import project_problems
    from nnstudio.core.shapes import infer_shapes
    from nnstudio.core.summary import format_summary
    from nnstudio.core.training.config import TrainConfig

    project = load(args.file, weights=False, history=False, runs=False)
    info = infer_shapes(project.graph)  # once, for the table, the costs, the problems and the memory
    try:
        config = TrainConfig.from_dict(project.training)
    except (NNStudioError, TypeError, ValueError):  # bad settings are a problem of their own: the defaults
        config = TrainConfig()
    batch = args.batch_size if args.batch_size is not None else config.batch_size
    print(format_summary(project.graph, project.name or _stem(args.file), info=info, batch_size=batch,
                         optimizer=config.optimizer))
    problems = project_problems(project, info, base_dir=_folder(args.file))  # the data are not read
    for line in _summary_memory(project.graph, info, batch, config):
        print(line)
    note = weights_note(args.file, project)
    if note:
        print(f"Note: {note}")
    if problems:
        print(f"\n{len(problems)} problem(s): run `nnstudio validate {args.file}` for the list")
    return EXIT_OK


def _summary_memory(graph, info, batch: int, config) -> list[str]:
    """"Memory: about ..." at ``batch``, and whether it fits the training device (the memory problem's words,
    with the batch size that would fit); nothing for a network with problems."""
    from nnstudio.core import memory
    from nnstudio.core.errors import TrainingError
    from nnstudio.core.training.device import resolve_device

    if not info.ok:
        return []
    try:
        est = memory.estimate(graph, batch, config.optimizer, info=info)
        lines = [f"Memory: {est.text()}"]
        try:
            device = resolve_device(config.device)
        except TrainingError:
            device = resolve_device("cpu")
        memory.check_fits(est, batch, device, "train")
    except memory.NotEnoughMemoryError as exc:
        lines.append(f"Does not fit: {one_line(str(exc))}")
    except Exception:  # noqa: BLE001 - a report only: never the reason the summary fails
        return []
    return lines


def _summary_arguments(p: argparse.ArgumentParser) -> None:
    _file_argument(p)
    p.add_argument("--batch-size", type=_positive_int, metavar="N", dest="batch_size",
                   help="the batch size for the FLOPs, activation memory and training-memory totals "
                        "(default: the project's training setting)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 64, not {text!r}") from None
    if not 1 <= value <= 2**31:
        raise argparse.ArgumentTypeError(f"expected a batch size from 1 to {2**31:,}, not {value:,}")
    return value


# Where a problem without a node is shown, by its source.
_WHERE = {"graph": "(network)", "memory": "(network)", "settings": "(settings)", "dataset": "(dataset)",
          "data": "(dataset)"}


def cmd_validate(args: argparse.Namespace) -> int:
    from nnstudio.core.problems import load_data_for, project_problems
    from nnstudio.core.shapes import infer_shapes

    project = load(args.file, weights=False, history=False, runs=False)
    base = _folder(args.file)
    info = infer_shapes(project.graph)
    data = load_data_for(project, base)  # as training loads them (bounded); None when they cannot be
    problems = project_problems(project, info, data, base)
    for p in problems:
        print(f"{p.node_id or _WHERE.get(p.source, '(project)')}: {one_line(p.message)}")
    note = weights_note(args.file, project)
    if note:
        print(f"note: {note}")
    need = memory_report(project, info)
    if need:
        print(f"memory: {need}")
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}")
        return EXIT_PROBLEMS
    print(f"{args.file}: no problems")
    return EXIT_OK


def weights_note(path: str, project) -> str | None:
    """The note for saved weights trained on an earlier version of the network, or None. Read from the
    fingerprint in project.json (an old file: from the names and shapes in the weights' header, never the
    weights themselves)."""
    from nnstudio.core import weights_status

    try:
        status = weights_status.file_status(path, project)
    except Exception:  # noqa: BLE001 - a note only: never the reason a command fails
        return None
    return weights_status.OUT_OF_DATE_TEXT if status == weights_status.OUT_OF_DATE else None


def refuse_problems(project, base_dir, **overrides) -> None:
    """Before training: raise TrainingError listing the first of the project's problems (``overrides`` are
    the settings given for this run). The data are not read here: training reads them once, and refuses data
    that do not fit with the same words."""
    from nnstudio.core.errors import TrainingError
    from nnstudio.core.problems import project_problems, summary_line

    training = dict(project.training or {}) if isinstance(project.training, dict) else project.training
    if isinstance(training, dict):
        training.update({k: v for k, v in overrides.items() if v is not None})
    problems = project_problems(dataclasses.replace(project, training=training), base_dir=base_dir)
    if problems:
        raise TrainingError(f"cannot train: {summary_line(problems)}")


def memory_report(project, info=None) -> str | None:
    """What training the project's network with its settings needs, for a person (``memory.estimate``); None
    for a network with problems. Whether that fits is one of the project's problems (``problems.py``)."""
    from nnstudio.core import memory
    from nnstudio.core.errors import NNStudioError
    from nnstudio.core.shapes import infer_shapes
    from nnstudio.core.training.config import TrainConfig

    try:
        info = info or infer_shapes(project.graph)
        if not info.ok:
            return None
        try:
            config = TrainConfig.from_dict(project.training)
        except NNStudioError:  # bad settings are a problem of their own; estimate with the defaults
            config = TrainConfig()
        return memory.estimate(project.graph, config.batch_size, config.optimizer, info=info).text()
    except Exception:  # noqa: BLE001 - a report only: never the reason a check of the network fails
        return None


def _folder(path: str) -> Path:
    """Where the project's relative data paths start."""
    return Path(path).resolve().parent


def _stem(path: str) -> str:
    return Path(path).stem


def cmd_train(args: argparse.Namespace) -> int:
    from nnstudio.cli_train import run

    return run(args)


def cmd_runs(args: argparse.Namespace) -> int:
    from nnstudio.cli_runs import run

    return run(args)


def cmd_sweep(args: argparse.Namespace) -> int:
    from nnstudio.cli_sweep import run

    return run(args)


def cmd_export(args: argparse.Namespace) -> int:
    from nnstudio.core.export import FORMATS, export, format_for

    if args.output is None:
        if args.format is None:
            raise _UsageError("nnstudio export: give -o OUT (its extension picks the format) or --format")
        output = str(Path(args.file).with_suffix(FORMATS[args.format]).name)
        check_output(output, "nnstudio export", "the output")
    else:
        output = check_output(args.output, "nnstudio export", "-o")
    if same_file(output, args.file):
        raise _UsageError(f"nnstudio export: {_shown(output)} is the project being exported: write the export to "
                          "another file")
    fmt = format_for(output, args.format)
    project = load(args.file, history=False)
    result = export(project, output, fmt, base_dir=Path(args.file).resolve().parent)
    for warning in result.warnings:
        warn(warning)
    if fmt != "py" and weights_note(args.file, project):  # the script carries no weights
        from nnstudio.core.weights_status import EXPORT_OUT_OF_DATE

        warn(EXPORT_OUT_OF_DATE)
    print(f"wrote {result.path} ({fmt})")
    for note in result.notes:  # the data file written beside the script, and the like
        print(note)
    return EXIT_OK


# -- checking paths before any work ---------------------------------------------------------------------------
def check_output(path: str, prog: str, option: str) -> str:
    """``path`` when a file can be written there (created or replaced); else a _UsageError naming ``option``
    and the path as the user gave it: an empty name, a folder, a missing folder, a device, FIFO or socket, a
    file or folder without write permission."""
    if not path:
        raise _UsageError(f"{prog}: {option} is an empty file name: give the file to write")
    shown = _shown(path)
    if path.endswith(("/", os.sep)) or Path(path).name in ("", ".", ".."):
        raise _UsageError(f"{prog}: {option} {shown} names a folder, not a file")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        what = "does not exist" if not os.path.lexists(folder) else "is not a folder"
        raise _UsageError(f"{prog}: {option} {shown} cannot be written: the folder {_shown(folder)} {what}")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:
        raise _UsageError(f"{prog}: {option} {shown} cannot be written ({getattr(exc, 'strerror', None) or exc})")
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise _UsageError(f"{prog}: {option} {shown} is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise _UsageError(f"{prog}: {option} {shown} is a device, pipe or socket, not a regular file")
        if not os.access(path, os.W_OK):
            raise _UsageError(f"{prog}: {option} {shown} is write-protected: no permission to replace it")
    if not os.access(folder, os.W_OK | os.X_OK):  # saving writes a temporary file beside the target
        raise _UsageError(f"{prog}: {option} {shown} cannot be written: no permission to write in the folder "
                          f"{_shown(folder)}")
    return path


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file (by real path, or as the same file through a hard link)."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _shown(path: str) -> str:
    return ascii(path) if not path.isprintable() else repr(path)


# -- the parser -----------------------------------------------------------------------------------------------
def _export_arguments(p: argparse.ArgumentParser) -> None:
    _file_argument(p)
    p.add_argument("--format", choices=("py", "onnx", "safetensors", "pt2"),
                   help="py: a standalone PyTorch training script; safetensors: the weights; onnx: the network "
                        "for ONNX runtimes (needs nnstudio[onnx]); pt2: a torch.export program "
                        "(torch.export.load). Every format carries the project, for nnstudio import. "
                        "Default: from OUT's extension")
    p.add_argument("-o", "--output", metavar="OUT", help="the file to write (default: FILE's name with the "
                                                         "format's extension, in the current folder)")


def _file_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from nnstudio.cli_train import add_arguments

    add_arguments(p)


def _runs_arguments(p: argparse.ArgumentParser) -> None:
    from nnstudio.cli_runs import add_arguments

    add_arguments(p)


def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    from nnstudio.cli_sweep import add_arguments

    add_arguments(p)


def _import_run(args: argparse.Namespace) -> int:
    from nnstudio.cli_import import run

    return run(args)


def _import_arguments(p: argparse.ArgumentParser) -> None:
    from nnstudio.cli_import import add_arguments

    add_arguments(p)


# name -> (help, handler, how to add its arguments)
COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]] = {
    "summary": ("print the model summary (layers, output shapes, parameters, FLOPs, training memory)", cmd_summary,
                _summary_arguments),
    "validate": ("print every problem of the project (network, settings, dataset, data); exit 1 if there are any",
                 cmd_validate, _file_argument),
    "train": ("train the network on its dataset; saves weights and history into the project", cmd_train,
              _train_arguments),
    "export": ("export as a standalone PyTorch script, safetensors weights or an ONNX model", cmd_export,
               _export_arguments),
    "runs": ("list the training runs the project keeps (--json for JSON); --drop ID[,ID] removes runs and saves",
             cmd_runs, _runs_arguments),
    "sweep": ("train every combination of --set values (over --seeds), each as a run; prints the results",
              cmd_sweep, _sweep_arguments),
    "import": ("open an existing model as a project: FILE.py:NAME, torchvision:NAME, or an exported file",
               _import_run, _import_arguments),
}



def _parser() -> _Parser:
    parser = _Parser(prog="nnstudio", description="NN Studio: build neural networks visually and watch them learn.")
    parser.add_argument("--version", action="version", version=f"nnstudio {__version__}")
    parser.add_argument("--self-test", action="store_true", dest="self_test",
                        help="check this installation: open the window offscreen, train the spiral example for one "
                             "epoch, export it, close; exit 0 when everything works (the reason otherwise)")
    parser.add_argument("--self-test-log", metavar="FILE", dest="self_test_log",
                        help="where --self-test writes its log (default: selftest.log in a temporary folder)")
    parser.add_argument("--self-test-example", metavar="FILE", dest="self_test_example", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, _, arguments) in COMMANDS.items():
        arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def opens_in_app(argument: str) -> bool:
    """Whether a first argument that is no command is a file for the app: a name ending in .nnstudio, a path
    (it holds a folder separator) or anything that exists (the app says plainly when it cannot open it: a
    folder, a device, a file that is not a project)."""
    if argument.lower().endswith(PROJECT_SUFFIX) or "/" in argument or os.sep in argument:
        return True
    try:
        return os.path.lexists(argument)
    except (OSError, ValueError):
        return False


def _refuse_non_file(path: str) -> None:
    """A folder, a device, a pipe or a socket is never a project: said here, in one line, without a window."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # missing: the app says so
    if stat.S_ISDIR(mode):
        raise _UsageError(f"nnstudio: error: {_shown(path)} is a folder, not a project file")
    if not stat.S_ISREG(mode):
        raise _UsageError(f"nnstudio: error: {_shown(path)} is a device, pipe or socket, not a project file")


def _unknown_command(word: str) -> _UsageError:
    close = difflib.get_close_matches(word, list(COMMANDS), n=1)
    hint = f": did you mean {close[0]!r}?" if close else ""
    return _UsageError(f"nnstudio: error: unknown command {_shown(word)}{hint} (commands: {', '.join(COMMANDS)}; "
                       f"to open a project in the app, give its path)")


def _gui(argv: Sequence[str]) -> int:
    try:
        from nnstudio.ui.app import run_app
    except ImportError as exc:  # e.g. a server install without Qt: the command line still works
        print(f"nnstudio: error: the desktop window cannot start ({exc}); install PySide6-Essentials and "
              "pyqtgraph, or use the commands (nnstudio --help)", file=sys.stderr)
        return EXIT_USAGE
    return run_app(list(argv))


def _safe_streams() -> None:
    """Text that cannot be encoded (a lone surrogate from a project's name) is escaped, never an error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError, TypeError):  # a closed or unusual stream: leave it
                pass


def _error(message: str) -> None:
    try:
        print(one_line(message), file=sys.stderr)
    except (OSError, ValueError):  # stderr closed: nothing more can be said
        pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _safe_streams()
    from nnstudio.core.errors import NNStudioError

    try:
        return _run(argv)
    except KeyboardInterrupt:
        return 130
    except _UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except NNStudioError as exc:
        _error(f"nnstudio: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (nnstudio summary x | head -1): stop quietly
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_USAGE
    except OSError as exc:  # e.g. a disk that filled up while saving
        where = f"{_shown(os.fsdecode(exc.filename))}: " if exc.filename else ""
        _error(f"nnstudio: error: {where}{exc.strerror or exc}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - MemoryError, RecursionError, a bug: one line, never a traceback
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exception(exc)
    kind = "out of memory" if isinstance(exc, MemoryError) else type(exc).__name__
    try:
        detail = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose message itself fails
        detail = ""
    if len(detail) > 300:
        detail = detail[:297] + "..."
    _error(f"nnstudio: internal error: {kind}{': ' + detail if detail else ''}; run with {DEBUG_VARIABLE}=1 for "
           "the traceback")
    return EXIT_USAGE


def _run(argv: list[str]) -> int:
    if not argv:
        return _gui([])
    if argv[0] not in COMMANDS and not argv[0].startswith("-"):
        if opens_in_app(argv[0]):
            _refuse_non_file(argv[0])
            return _gui(argv)
        raise _unknown_command(argv[0])
    args = _parser().parse_args(argv)
    if args.self_test:
        from nnstudio.selftest import run_self_test

        return run_self_test(args.self_test_log, args.self_test_example)
    if args.command is None:
        return _gui([])
    return COMMANDS[args.command][1](args)
