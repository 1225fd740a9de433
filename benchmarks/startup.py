"""How fast the window appears: the time from starting the process to the first painted window, for ``nnstudio``
and for a bare PySide6 window with one label, measured the same way in the same run.

    QT_QPA_PLATFORM=offscreen python benchmarks/startup.py [--rounds 7]

Each round starts both as whole processes (the ``nnstudio`` entry point beside this Python, or ``python -m
nnstudio.cli`` without it; and this script with ``--bare``). Each writes ``time.time()`` at its first paint to
the file ``NNSTUDIO_REPORT_FIRST_PAINT`` names (the app honours it: see ``nnstudio/ui/app.py``) and exits; the
time counts from just before the process was started. The rounds alternate the two, and the median of each is
reported. The app's report also says whether torch had been imported by then (it must not have been). Both
run with Python's bytecode caches, as an installed app does (``PYTHONDONTWRITEBYTECODE`` is dropped for them,
and a warm-up start of each writes the caches and fills the file cache).

Then, once, how well the GUI thread keeps running while torch and the editor load behind the first window: a
process starts the app's Launcher (as ``nnstudio`` does) with a 1 ms timer on the GUI thread and reports the
longest gap between its ticks within the first second of the process, until the editor's window is up
(``longest_stall_ms``), the gap that building that window takes (``build_stall_ms``) and how long opening an
example from its card then takes (``open_example_ms``).

Last line: JSON ``{"app_first_paint_s", "bare_qt_first_paint_s", "ratio", ...}``. Target: ratio at most 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIABLE = "NNSTUDIO_REPORT_FIRST_PAINT"
ROOT = Path(__file__).resolve().parents[1]


def bare_window() -> None:
    """The baseline: a QApplication and one label, reporting its first paint like the app does."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv[:1])
    label = QLabel("NN Studio")
    label.resize(800, 600)

    def report() -> None:
        with open(os.environ[VARIABLE], "w", encoding="utf-8") as out:
            json.dump({"time": time.time(), "torch_imported": "torch" in sys.modules}, out)
        os._exit(0)

    class Watch(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, report)
            return False

    watch = Watch()
    label.installEventFilter(watch)
    label.show()
    app.exec()


def stalls() -> None:
    """Start the app's Launcher with a 1 ms timer on the GUI thread; print the longest gaps as JSON."""
    began = time.time()
    from PySide6.QtCore import QTimer

    from nnstudio.ui.app import Launcher, make_app

    app = make_app([])
    launcher = Launcher([])
    gaps: list[tuple[float, float]] = []  # (gap, when it ended, since the process started)
    last = [time.time()]
    built: dict[str, float] = {}

    def tick() -> None:
        now = time.time()
        gaps.append((now - last[0], now - began))
        last[0] = now

    def ready(window) -> None:
        built["at"] = time.time() - began
        QTimer.singleShot(500, lambda: open_example(window))

    def open_example(window) -> None:  # what a click on a card does, once the editor is there
        from nnstudio.core.paths import EXAMPLES

        t = time.perf_counter()
        window.start_page_choice("example", str(EXAMPLES / "digits_cnn.nnstudio"))
        built["open"] = time.perf_counter() - t
        built["open_at"] = time.time() - began
        QTimer.singleShot(500, finish)

    def finish() -> None:
        first = [g for g, at in gaps if at - g < 1.0]
        loading = [g for g, at in gaps if at < built["at"] - 0.05 and at - g > 0]
        after = [g for g, at in gaps if built["at"] - 0.05 <= at < built["at"] + 0.45]
        print(json.dumps({"longest_stall_first_s_ms": round(max(first, default=0) * 1000),
                          "longest_stall_ms": round(max(loading, default=0) * 1000),
                          "build_stall_ms": round(max(after, default=0) * 1000),
                          "open_example_ms": round(built["open"] * 1000),
                          "editor_ready_s": round(built["at"], 2)}), flush=True)
        os._exit(0)

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(tick)
    launcher.ready.connect(ready)
    launcher.first.painted.connect(lambda: (last.__setitem__(0, time.time()), timer.start()))
    launcher.show()
    app.exec()


def app_command() -> list[str]:
    script = Path(sys.executable).with_name("nnstudio")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nnstudio.cli"]


def first_paint(command: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[float, dict]:
    """Seconds from starting ``command`` to its first paint, and its report."""
    with tempfile.TemporaryDirectory(prefix="nnstudio-startup-") as folder:
        report = Path(folder) / "paint.json"
        env = {**env, VARIABLE: str(report), "HOME": folder, "XDG_CONFIG_HOME": str(Path(folder) / "config")}
        began = time.time()
        done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, timeout=timeout)
        if not report.is_file():
            raise SystemExit(f"{' '.join(command)} wrote no report (exit {done.returncode}): {done.stderr[-2000:]}")
        data = json.loads(report.read_text())
    return data["time"] - began, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stalls", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        bare_window()
        return 0
    if args.stalls:
        stalls()
        return 0
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed app starts: from .pyc files (the warm-up writes them)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    bare = [sys.executable, str(Path(__file__).resolve()), "--bare"]
    app = app_command()
    first_paint(app, env)  # warm the file cache (the first start after a build reads every .pyc from disk)
    first_paint(bare, env)
    app_times, bare_times, torch_seen = [], [], []
    for i in range(args.rounds):
        for name, command in (("app", app), ("bare", bare)) if i % 2 == 0 else (("bare", bare), ("app", app)):
            seconds, report = first_paint(command, env)
            (app_times if name == "app" else bare_times).append(seconds)
            if name == "app":
                torch_seen.append(bool(report.get("torch_imported")))
            print(f"round {i + 1}: {name:4s} {seconds:.3f} s", flush=True)
    app_s, bare_s = statistics.median(app_times), statistics.median(bare_times)
    with tempfile.TemporaryDirectory(prefix="nnstudio-stalls-") as folder:
        env_stalls = {**env, "HOME": folder, "XDG_CONFIG_HOME": str(Path(folder) / "config")}
        env_stalls.pop(VARIABLE, None)
        run = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--stalls"], env=env_stalls,
                             cwd=folder, capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    stall = json.loads(lines[-1]) if lines else {"stalls_error": run.stderr[-500:]}
    print(f"GUI thread while loading: {stall}", flush=True)
    result = {"app_first_paint_s": round(app_s, 3), "bare_qt_first_paint_s": round(bare_s, 3),
              "ratio": round(app_s / bare_s, 2), "rounds": args.rounds, "torch_imported_at_paint": any(torch_seen),
              "platform": env["QT_QPA_PLATFORM"], **stall}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
