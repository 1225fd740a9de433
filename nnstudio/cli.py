"""Command line: ``nnstudio`` opens the window; sub-commands work headless.

    nnstudio [FILE]            open the desktop app (optionally with a project)
    nnstudio summary FILE      print the model summary
    nnstudio validate FILE     print every problem; exit 1 if there are any
    nnstudio train FILE        train headless; saves weights and history into the project
    nnstudio export FILE -o OUT   export as a PyTorch script (.py), weights (.safetensors) or ONNX (.onnx)
    nnstudio --version
    nnstudio --self-test [--self-test-log FILE]   open, train, export and close offscreen; exit 0 when it all works
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from nnstudio import __version__

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _load(path: str):
    from nnstudio.core.project.io import load_project

    return load_project(path)


def cmd_summary(args: argparse.Namespace) -> int:
    from nnstudio.core.summary import format_summary

    project = _load(args.file)
    print(format_summary(project.graph, project.name or _stem(args.file)))
    problems = project.graph.validate()
    if problems:
        print(f"\n{len(problems)} problem(s): run `nnstudio validate {args.file}` for the list")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    project = _load(args.file)
    problems = project.graph.validate()
    for p in problems:
        print(f"{p.node_id or '(network)'}: {p.message}")
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}")
        return EXIT_PROBLEMS
    print(f"{args.file}: no problems")
    return EXIT_OK


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem


def cmd_train(args: argparse.Namespace) -> int:
    from nnstudio.cli_train import run

    return run(args)


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnstudio.core.export import FORMATS, export, format_for

    if args.output is None:
        if args.format is None:
            raise _UsageError("nnstudio export: give -o OUT (its extension picks the format) or --format")
        args.output = str(Path(args.file).with_suffix(FORMATS[args.format]).name)
    fmt = format_for(args.output, args.format)
    result = export(_load(args.file), args.output, fmt)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {result.path} ({fmt})")
    return EXIT_OK


def _export_arguments(p: argparse.ArgumentParser) -> None:
    _file_argument(p)
    p.add_argument("--format", choices=("py", "onnx", "safetensors"),
                   help="py: a standalone PyTorch training script; safetensors: the weights; onnx: the network "
                        "for ONNX runtimes (needs nnstudio[onnx]). Default: from OUT's extension")
    p.add_argument("-o", "--output", metavar="OUT", help="the file to write (default: FILE's name with the "
                                                         "format's extension, in the current folder)")


def _file_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a .nnstudio project file")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from nnstudio.cli_train import add_arguments

    add_arguments(p)


# name -> (help, handler, how to add its arguments)
COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]] = {
    "summary": ("print the model summary (layers, output shapes, parameters)", cmd_summary, _file_argument),
    "validate": ("print every problem of the network; exit 1 if there are any", cmd_validate, _file_argument),
    "train": ("train the network on its dataset; saves weights and history into the project", cmd_train,
              _train_arguments),
    "export": ("export as a standalone PyTorch script, safetensors weights or an ONNX model", cmd_export,
               _export_arguments),
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


def _gui(argv: Sequence[str]) -> int:
    try:
        from nnstudio.ui.app import run_app
    except ImportError as exc:  # e.g. a server install without Qt: the command line still works
        print(f"nnstudio: error: the desktop window cannot start ({exc}); install PySide6-Essentials and "
              "pyqtgraph, or use the commands (nnstudio --help)", file=sys.stderr)
        return EXIT_USAGE
    return run_app(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _gui(argv)
    from nnstudio.core.errors import NNStudioError

    try:
        args = _parser().parse_args(argv)
        if args.self_test:
            from nnstudio.selftest import run_self_test

            return run_self_test(args.self_test_log, args.self_test_example)
        if args.command is None:
            return _gui([])
        return COMMANDS[args.command][1](args)
    except OSError as exc:  # e.g. saving to a folder that does not exist
        print(f"nnstudio: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except NNStudioError as exc:
        print(f"nnstudio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
