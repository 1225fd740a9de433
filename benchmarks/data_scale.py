"""Streamed against in-memory training on an image folder larger than the streamed run's memory.

    python benchmarks/data_scale.py [--images 20000] [--folder DIR]

Makes (once; reused while it holds the same number of images) a folder of 64 x 64 RGB PNGs in ten classes (40,000
by default: the streamed run's fixed cost, torch and a CNN's activations in the training process plus one worker,
is about 0.75 GB, so at 20,000 images, 0.94 GB decoded, it cannot be under half) in the temporary folder: noise over a class-dependent pattern (stripes of a class's angle and colour), so a network
can learn them. Then trains one epoch of a small CNN on it twice, each in its own process so that each peak is
its own: with ``storage`` "stream" (DataLoader workers decode the images batch by batch) and "memory" (every
image decoded up front, as tensors). For each it measures:

* the peak resident memory of the training process (``VmHWM`` in /proc/self/status) and, for the streamed
  run, of each worker process (their ``VmHWM``, read while they live) and the workers' proportional share
  (``Pss`` from /proc/PID/smaps_rollup: forked workers share most of their pages with the training process,
  which their RSS counts again);
* throughput: training samples per second of the epoch (the history's time_s: training and validation,
  not the up-front decoding of the in-memory run, which is reported as load_s). Both runs use ``--threads``
  torch threads (default: torch's own count); the engine lowers it for the streamed run so that training and
  decoding share the cores (data.stream.training_threads). On a small computer give ``--threads 1`` (what the
  app's training thread uses on two cores, one being the window's), or the in-memory run's extra thread,
  fighting other work for the cores, decides the ratio. The two runs alternate ``--repeat`` times (default 2) and the best
  throughput of each counts: on a shared computer other work slows one run or the other.

Targets: the streamed run's peak (training process + workers' RSS) below half the decoded size of the images
(N x 3 x 64 x 64 x 4 bytes); throughput streamed / in-memory at least 0.8. Linux only (/proc). The last line
is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIDE = 64
CLASSES = 10
MB = 1024 * 1024


# -- the image folder ---------------------------------------------------------------------------------------------
def make_folder(folder: Path, count: int) -> float:
    """Write ``count`` PNGs into ``folder`` (one subfolder per class) unless they are there; seconds taken."""
    import numpy as np
    from PIL import Image

    marker = folder / ".complete"
    if marker.exists() and marker.read_text() == str(count):
        return 0.0
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    for k in range(CLASSES):
        (folder / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        k = i % CLASSES
        angle = np.pi * k / CLASSES
        stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.4 + rng.uniform(0, 2 * np.pi))
        colour = np.array([(k * 37) % 256, (k * 91) % 256, (k * 53) % 256], dtype=np.float32) / 255.0
        image = 0.5 + 0.35 * stripes[..., None] * colour + rng.normal(0, 0.08, (SIDE, SIDE, 3))
        pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"class_{k}" / f"{i:06d}.png", compress_level=1)
    marker.write_text(str(count))
    return time.perf_counter() - start


# -- one run, in its own process --------------------------------------------------------------------------------
def _status(pid: int | str, key: str) -> int:
    """A kB figure of /proc/PID/status in bytes (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for task in Path(f"/proc/{me}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class WorkerWatch(threading.Thread):
    """Polls the child processes' peak RSS and proportional share while the run goes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}
        self.pss: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for pid in _children():
                self.peaks[pid] = max(self.peaks.get(pid, 0), _status(pid, "VmHWM"))
                self.pss[pid] = max(self.pss.get(pid, 0), _pss(pid))


def run_one(folder: str, storage: str, batch: int, threads: int) -> dict:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    from nnstudio.core.compile import compile_graph
    from nnstudio.core.data import load_split
    from nnstudio.core.graph import Graph
    from nnstudio.core.training.config import TrainConfig
    from nnstudio.core.training.engine import train

    watch = WorkerWatch()
    watch.start()
    start = time.perf_counter()
    split = load_split({"name": "image_folder", "path": folder, "channels": 3, "height": SIDE, "width": SIDE,
                        "max_megabytes": 8192, "storage": storage, "val_fraction": 0.1})
    load_s = time.perf_counter() - start
    g = Graph()
    layers = [("input_image", {"channels": 3, "height": SIDE, "width": SIDE}),
              ("conv2d", {"filters": 16, "padding": "same"}), ("maxpool2d", {"pool_size": 2}),
              ("conv2d", {"filters": 32, "padding": "same"}), ("maxpool2d", {"pool_size": 2}),
              ("conv2d", {"filters": 32, "padding": "same"}), ("global_avg_pool", {}),
              ("dense", {"units": CLASSES, "activation": "softmax"}), ("output", {"task": "multiclass"})]
    ids = [g.add_node(kind, params).id for kind, params in layers]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    result = train(compile_graph(g, seed=0), split,
                   TrainConfig(device="cpu", epochs=1, batch_size=batch, lr=0.003, seed=0))
    watch.done.set()
    watch.join()
    row = result.history["epochs"][0]
    return {"storage": storage, "threads": threads or torch.get_num_threads(), "load_s": load_s, "epoch_s": row["time_s"], "train_samples": len(split.train),
            "samples_per_s": len(split.train) / row["time_s"], "val_accuracy": row.get("val_accuracy"),
            "peak_rss": _status("self", "VmHWM"), "worker_peaks": sorted(watch.peaks.values()),
            "worker_pss": sorted(watch.pss.values())}


def in_process(storage: str, folder: Path, batch: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--run", storage, "--folder", str(folder), "--batch", str(batch),
               "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {storage} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=40_000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "nnstudio_data_scale")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads of both runs (0: torch's choice)")
    parser.add_argument("--run", choices=("stream", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(str(args.folder), args.run, args.batch, args.threads)))
        return
    made = make_folder(args.folder, args.images)
    print(f"{args.images:,} images in {args.folder}" + (f" (made in {made:.0f} s)" if made else " (reused)"))
    decoded = args.images * 3 * SIDE * SIDE * 4
    runs: dict[str, list[dict]] = {"stream": [], "memory": []}
    for _ in range(max(1, args.repeat)):
        for storage in runs:
            runs[storage].append(in_process(storage, args.folder, args.batch, args.threads))
            r = runs[storage][-1]
            print(f"  {storage}: {r['samples_per_s']:.0f} samples/s", flush=True)
    streamed, memory = (dict(max(found, key=lambda r: r["samples_per_s"]),
                             peak_rss=max(r["peak_rss"] for r in found),
                             worker_peaks=max((r["worker_peaks"] for r in found), key=sum),
                             worker_pss=max((r["worker_pss"] for r in found), key=sum))
                        for found in runs.values())
    stream_peak = streamed["peak_rss"] + sum(streamed["worker_peaks"])
    for r in (streamed, memory):
        print(f"{r['storage']:>6}: load {r['load_s']:.1f} s, epoch {r['epoch_s']:.1f} s, "
              f"{r['samples_per_s']:.0f} samples/s, val accuracy {r['val_accuracy']:.3f}, peak RSS "
              f"{r['peak_rss'] / MB:.0f} MB" + (f" + workers {[round(w / MB) for w in r['worker_peaks']]} MB "
                                                f"(PSS {[round(w / MB) for w in r['worker_pss']]} MB)"
                                                if r["worker_peaks"] else ""))
    figures = {
        "images": args.images, "decoded_mb": round(decoded / MB, 1), "threads": memory["threads"],
        "stream_peak_rss_mb": round(stream_peak / MB, 1),
        "stream_main_rss_mb": round(streamed["peak_rss"] / MB, 1),
        "stream_workers_rss_mb": [round(w / MB, 1) for w in streamed["worker_peaks"]],
        "stream_workers_pss_mb": [round(w / MB, 1) for w in streamed["worker_pss"]],
        "memory_peak_rss_mb": round(memory["peak_rss"] / MB, 1),
        "stream_peak_over_decoded": round(stream_peak / decoded, 3),
        "stream_samples_per_s": round(streamed["samples_per_s"], 1),
        "memory_samples_per_s": round(memory["samples_per_s"], 1),
        "throughput_ratio": round(streamed["samples_per_s"] / memory["samples_per_s"], 3),
        "memory_load_s": round(memory["load_s"], 1), "stream_load_s": round(streamed["load_s"], 1),
        "targets": {"stream_peak_over_decoded_below": 0.5, "throughput_ratio_at_least": 0.8},
    }
    figures["targets_met"] = figures["stream_peak_over_decoded"] < 0.5 and figures["throughput_ratio"] >= 0.8
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
