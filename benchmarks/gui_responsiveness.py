"""Does the window stay responsive while it trains, and does the dashboard slow training down?

    python benchmarks/gui_responsiveness.py [--rounds R] [--models NAME ...] [--scale F]

In one offscreen QApplication, the real main window (1600 x 1000), in its Train workspace (the dashboard's
grid: loss, metrics, weight histograms and activations shown at once, the training controls, the canvas as an
overview), opens the spiral MLP and then the digits CNN (28 x 28) and trains each with Train > Start Training.
Measured per model:

  stalls      a 5 ms precise QTimer on the GUI thread: how late each tick comes (p50 / p99 / max, ms);
              a late tick is a moment the window could not react to the user. This probe takes the GIL 200
              times a second and so slows training itself, so it runs in its own pass;
  view_hz     for every plot on screen, how many times a second it was redrawn with new data, counted from the
              run's first report (before it the network is compiled and the data loaded: nothing to draw);
              slowest_view_hz is the lowest of them (target: at least 4), plot_hz the loss curve's (its data
              come twenty times a second). The dashboard spends at most a set share of the time drawing
              (DRAW_BUDGET), and the engine measures the layers and activations about five times a second
              within its own budget (core/training/telemetry.py);
  throughput  samples per second by the engine's own clock with the dashboard open (a pass without the probe),
              against the headless engine
              (no Qt) on the same model, data and thread count, in the same process. The headless engine gets a
              callback that listens to every report, so both measure the same layer statistics and probes (as
              benchmarks/train_throughput.py does) and the ratio is what the window costs; the rate without
              any callback is printed too. Runs alternate; medians of R rounds.

Prints a line per model and, last, a JSON object with the worst of the two models:
{"p50_ms", "p99_ms", "max_ms", "plot_hz", "slowest_view_hz", "throughput_ratio"} and each model's ratio in
"throughput_ratio_by_model". Targets: p99 < 30 ms, max < 100 ms, slowest_view_hz >= 4 and a throughput ratio of
at least 0.9 on the digits CNN. The spiral MLP's steps take about a millisecond of Python each, so every
millisecond the window's thread holds the GIL is a millisecond of training lost: its ratio shows what the
drawing itself costs.
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
from nnstudio.ui.workspaces import TRAIN  # noqa: E402

TICK_MS = 5
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
        self.main.workspaces.switch(TRAIN)  # the dashboard's grid: loss, metrics, weights, activations at once
        grid = self.dashboard.grid
        settle = time.perf_counter() + 0.3
        while time.perf_counter() < settle:  # the workspace's layout and dock sizes are applied by the event loop
            app.processEvents()
            time.sleep(0.01)
        visible = grid.visible_keys()
        if not visible:
            raise SystemExit("no plot is on screen in the Train workspace")
        counted = {"t0": time.perf_counter(), "draws": {}}

        def first_report(_info) -> None:
            # Count from the moment training produces data: before, the network is compiled and the data
            # loaded, and there is nothing new to draw.
            counted["t0"] = time.perf_counter()
            counted["draws"] = {key: grid.cells[key].plot.draws for key in visible}

        self.worker.started.connect(first_report)
        self.results = []
        self.loop = QEventLoop()
        app.processEvents()
        t0 = time.perf_counter()
        last[0] = t0
        if probe:
            ticker.start()
        self.main.training.start_action.trigger()
        self.loop.exec()
        self.loop = None
        end = time.perf_counter()
        self.worker.started.disconnect(first_report)
        wall = end - t0
        ticker.stop()
        if isinstance(self.results[0], str):
            raise SystemExit(f"training failed: {self.results[0]}")
        span = end - counted["t0"]
        view_hz = {key: (grid.cells[key].plot.draws - counted["draws"].get(key, 0)) / span for key in visible}
        lateness = np.array(late[1:] or [0.0])
        return {
            "p50_ms": float(np.percentile(lateness, 50)),
            "p99_ms": float(np.percentile(lateness, 99)),
            "max_ms": float(lateness.max()),
            "frames_hz": (self.dashboard.frames - frames0) / wall,
            "plot_hz": view_hz.get("loss", 0.0),  # the live loss curve, whose data arrive twenty times a second
            "view_hz": view_hz,
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
    by_model: dict[str, float] = {}
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
        view_hz = {key: statistics.median(r["view_hz"][key] for r in gui_runs) for key in gui_runs[0]["view_hz"]}
        stats["p99_ms"] = max(r["p99_ms"] for r in probed)
        stats["max_ms"] = max(r["max_ms"] for r in probed)
        stats["samples_per_s"] = statistics.median(r["samples_per_s"] for r in gui_runs)
        probe_rate = statistics.median(r["samples_per_s"] for r in probed)
        head = statistics.median(head_runs)
        bare = statistics.median(bare_runs)
        ratio = stats["samples_per_s"] / head
        print(f"{name}: new data drawn a second by each plot of the Train workspace: "
              + ", ".join(f"{key} {hz:.1f}" for key, hz in view_hz.items()))
        print(f"{name}: GUI stalls p50 {stats['p50_ms']:.2f} ms, p99 {stats['p99_ms']:.2f} ms, "
              f"max {stats['max_ms']:.1f} ms; curves redrawn {stats['plot_hz']:.1f} times a second; "
              f"{stats['samples_per_s']:,.0f} samples/s with the dashboard vs {head:,.0f} headless "
              f"(ratio {ratio:.3f}; {bare:,.0f} headless without telemetry: {stats['samples_per_s'] / bare:.3f}; "
              f"{probe_rate:,.0f} while the latency probe ran: {probe_rate / head:.3f}; "
              f"{training_threads()} training thread(s))")
        for key, value in (("p50_ms", stats["p50_ms"]), ("p99_ms", stats["p99_ms"]), ("max_ms", stats["max_ms"])):
            worst[key] = max(worst.get(key, 0.0), value)
        worst["plot_hz"] = min(worst.get("plot_hz", float("inf")), stats["plot_hz"])
        worst["slowest_view_hz"] = min(worst.get("slowest_view_hz", float("inf")), min(view_hz.values()))
        worst["throughput_ratio"] = min(worst.get("throughput_ratio", float("inf")), ratio)
        by_model[name] = round(ratio, 3)
    out = {k: round(worst[k], 3) for k in ("p50_ms", "p99_ms", "max_ms", "plot_hz", "slowest_view_hz",
                                            "throughput_ratio")}
    print(json.dumps(dict(out, throughput_ratio_by_model=by_model)))


if __name__ == "__main__":
    main()
