"""Does the window stay responsive while it trains, and does the dashboard slow training down?

    python benchmarks/gui_responsiveness.py [--rounds R] [--models NAME ...] [--scale F]

In one offscreen QApplication, the real main window (1600 x 1000: canvas, docks, training panel, dashboard)
opens the spiral MLP and then the digits CNN (28 x 28) and trains each with Train > Start Training, the
dashboard's tab changing every 0.7 s so that every plot draws. Measured per model:

  stalls      a 5 ms precise QTimer on the GUI thread: how late each tick comes (p50 / p99 / max, ms);
              a late tick is a moment the window could not react to the user. This probe takes the GIL 200
              times a second and so slows training itself, so it runs in its own pass;
  plot_hz     how many times a second the live curves were redrawn with new data while their tab was shown,
              counted from the run's first report (before it the network is compiled and the data loaded:
              nothing to draw). The tab shown changes every 0.7 s, so that every plot draws and each tab is seen at
              several moments of a run (a new run's first second, with its new ranges, costs most); the rate of each
              tab is printed (the weights, activations and boundary tabs redraw as often as the engine
              measures, about one to four times a second). The engine sends at most twenty step reports a
              second, and the dashboard spends at most a set share of the time drawing (DRAW_BUDGET);
  throughput  samples per second by the engine's own clock with the dashboard open (a pass without the probe),
              against the headless engine
              (no Qt) on the same model, data and thread count, in the same process. The headless engine gets a
              callback that listens to every report, so both measure the same layer statistics and probes (as
              benchmarks/train_throughput.py does) and the ratio is what the window costs; the rate without
              any callback is printed too. Runs alternate; medians of R rounds.

Prints a line per model and, last, a JSON object with the worst of the two models:
{"p50_ms", "p99_ms", "max_ms", "plot_hz", "throughput_ratio"}. Targets: p99 < 30 ms, max < 100 ms,
plot_hz >= 10, throughput_ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from nnstudio.core.examples import EXAMPLES  # noqa: E402
from nnstudio.core.training import engine  # noqa: E402
from train_throughput import ListenToEverything  # noqa: E402  (same listener: same telemetry cost)
from nnstudio.core.training.project_run import prepare  # noqa: E402
from nnstudio.core.paths import EXAMPLES as EXAMPLE_FILES  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402
from nnstudio.ui.workers.training_worker import training_threads  # noqa: E402

TICK_MS = 5
TAB_SWITCH_MS = 700  # a cycle of the five tabs (3.5 s) is not a whole share of a run (5 to 10 s)
# Epochs that take five to ten seconds on one CPU thread: long enough for the steady state to dominate.
MODELS = {"spiral_mlp": 1200, "digits_cnn": 14}


def samples_per_second(result, train_samples: int) -> float:
    rows = result.history["epochs"]
    return len(rows) * train_samples / rows[-1]["time_s"]


def headless(name: str, epochs: int, telemetry: bool = True) -> float:
    run = prepare(EXAMPLES[name](), epochs=epochs, device="cpu")
    torch.set_num_threads(training_threads())
    result = engine.train(run.compiled, run.split, run.config, [ListenToEverything()] if telemetry else [])
    return samples_per_second(result, len(run.split.train))


class Window:
    """The real main window (offscreen), with the example open and trained from the Train menu's action."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="nnstudio-bench-"))
        self.main = MainWindow(QSettings(str(self.tmp / "settings.ini"), QSettings.Format.IniFormat),
                               autosave_folder=self.tmp / "autosave")
        self.main.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
        self.main.resize(1600, 1000)
        self.main.show()
        self.worker = self.main.training.worker
        self.dashboard = self.main.training.dashboard
        self.loop: QEventLoop | None = None
        self.results: list = []
        self.worker.finished.connect(self._done)
        self.worker.failed.connect(self._done)

    def _done(self, result) -> None:
        self.results.append(result)
        if self.loop is not None:
            self.loop.quit()

    def train(self, name: str, epochs: int, probe: bool) -> dict[str, float]:
        """One training with the window open; ``probe`` runs the 5 ms latency timer (which itself costs the
        training thread some throughput: every tick takes the GIL from it)."""
        app = QApplication.instance()
        run = prepare(EXAMPLES[name](), epochs=epochs, device="cpu")  # for the sample count
        doc = self.main.document
        doc.open_copy(EXAMPLE_FILES / f"{name}.nnstudio")
        self.main.training.edit_training(dict(doc.session.training, epochs=epochs, device="cpu"))
        while doc.session.readiness == "checking":  # the window loads and checks the data first
            app.processEvents()
            time.sleep(0.005)
        if doc.session.train_refusal():
            raise SystemExit(f"cannot train {name}: {doc.session.train_refusal()}")
        frames0 = self.dashboard.frames
        late: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            late.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
            last[0] = now

        ticker = QTimer()
        ticker.setTimerType(Qt.TimerType.PreciseTimer)
        ticker.setInterval(TICK_MS)
        ticker.timeout.connect(tick)
        tabs = self.dashboard.tabs
        tabs.setCurrentIndex(0)
        shown = {i: [0.0, 0] for i in range(tabs.count())}  # tab -> [seconds shown, frames drawn]
        since = [time.perf_counter(), self.dashboard.frames]

        def close_segment() -> None:
            now, frames = time.perf_counter(), self.dashboard.frames
            seg = shown[tabs.currentIndex()]
            seg[0] += now - since[0]
            seg[1] += frames - since[1]
            since[:] = [now, frames]

        def first_report(_info) -> None:
            # Count from the moment training produces data: before, the network is compiled and the data
            # loaded, and there is nothing new to draw.
            close_segment()
            for seg in shown.values():
                seg[:] = [0.0, 0]

        self.worker.started.connect(first_report)

        def switch() -> None:
            close_segment()
            tabs.setCurrentIndex((tabs.currentIndex() + 1) % tabs.count())

        switcher = QTimer()
        switcher.setInterval(TAB_SWITCH_MS)
        switcher.timeout.connect(switch)
        self.results = []
        self.loop = QEventLoop()
        app.processEvents()
        t0 = time.perf_counter()
        last[0] = t0
        since[:] = [t0, self.dashboard.frames]
        if probe:
            ticker.start()
        switcher.start()
        self.main.training.start_action.trigger()
        self.loop.exec()
        self.loop = None
        close_segment()
        self.worker.started.disconnect(first_report)
        wall = time.perf_counter() - t0
        ticker.stop()
        switcher.stop()
        if isinstance(self.results[0], str):
            raise SystemExit(f"training failed: {self.results[0]}")
        lateness = np.array(late[1:] or [0.0])
        return {
            "p50_ms": float(np.percentile(lateness, 50)),
            "p99_ms": float(np.percentile(lateness, 99)),
            "max_ms": float(lateness.max()),
            "frames_hz": (self.dashboard.frames - frames0) / wall,
            # frames a second while the curves were shown: the live view whose data arrive twenty times a second
            "plot_hz": shown[0][1] / shown[0][0] if shown[0][0] else 0.0,
            "tab_hz": {tabs.tabText(i).replace("&&", "&"): (f / t if t else 0.0) for i, (t, f) in shown.items()},
            "samples_per_s": samples_per_second(self.results[0], len(run.split.train)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the epochs of every model")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 - keeps the application alive
    window = Window()
    worst: dict[str, float] = {}
    for name in args.models:
        epochs = MODELS[name]
        epochs = max(1, round(epochs * args.scale))
        headless(name, 1)  # warm-up
        probed, gui_runs, head_runs, bare_runs = [], [], [], []
        for _ in range(args.rounds):
            head_runs.append(headless(name, epochs))
            probed.append(window.train(name, epochs, probe=True))
            gui_runs.append(window.train(name, epochs, probe=False))
            bare_runs.append(headless(name, epochs, telemetry=False))
        stats = {"p50_ms": statistics.median(r["p50_ms"] for r in probed),
                 "plot_hz": statistics.median(r["plot_hz"] for r in gui_runs)}
        tab_hz = {tab: statistics.median(r["tab_hz"][tab] for r in gui_runs) for tab in gui_runs[0]["tab_hz"]}
        stats["p99_ms"] = max(r["p99_ms"] for r in probed)
        stats["max_ms"] = max(r["max_ms"] for r in probed)
        stats["samples_per_s"] = statistics.median(r["samples_per_s"] for r in gui_runs)
        probe_rate = statistics.median(r["samples_per_s"] for r in probed)
        head = statistics.median(head_runs)
        bare = statistics.median(bare_runs)
        ratio = stats["samples_per_s"] / head
        print(f"{name}: frames a second per tab (new data drawn): "
              + ", ".join(f"{tab} {hz:.1f}" for tab, hz in tab_hz.items()))
        print(f"{name}: GUI stalls p50 {stats['p50_ms']:.2f} ms, p99 {stats['p99_ms']:.2f} ms, "
              f"max {stats['max_ms']:.1f} ms; curves redrawn {stats['plot_hz']:.1f} times a second; "
              f"{stats['samples_per_s']:,.0f} samples/s with the dashboard vs {head:,.0f} headless "
              f"(ratio {ratio:.3f}; {bare:,.0f} headless without telemetry: {stats['samples_per_s'] / bare:.3f}; "
              f"{probe_rate:,.0f} while the latency probe ran: {probe_rate / head:.3f}; "
              f"{training_threads()} training thread(s))")
        for key, value in (("p50_ms", stats["p50_ms"]), ("p99_ms", stats["p99_ms"]), ("max_ms", stats["max_ms"])):
            worst[key] = max(worst.get(key, 0.0), value)
        worst["plot_hz"] = min(worst.get("plot_hz", float("inf")), stats["plot_hz"])
        worst["throughput_ratio"] = min(worst.get("throughput_ratio", float("inf")), ratio)
    print(json.dumps({k: round(worst[k], 3) for k in ("p50_ms", "p99_ms", "max_ms", "plot_hz",
                                                       "throughput_ratio")}))


if __name__ == "__main__":
    main()
