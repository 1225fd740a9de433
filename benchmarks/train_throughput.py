"""Training throughput of NN Studio's engine against two hand-written PyTorch loops, in one process.

    python benchmarks/train_throughput.py [--steps N] [--rounds R] [--threads T]

For the spiral MLP and the digits CNN (28x28), the same compiled model, data, batch size and device are trained
for the same number of steps three ways, alternating round by round:
  engine      NN Studio's engine with telemetry on (a callback listening to every report),
  dataloader  a plain loop over DataLoader(TensorDataset(x, y), shuffle=True),
  index       a plain loop over in-memory batches taken by a random index permutation.
It prints samples per second (median over rounds) and, as its last line, a JSON object of ratios
{"mlp_vs_dataloader", "mlp_vs_index", "cnn_vs_dataloader", "cnn_vs_index"}. Targets: >= 1.3 against the
DataLoader loop and >= 0.95 against the index loop.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import DataSplit
from nnstudio.core.data.registry import load_dataset
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback
from nnstudio.core.training.engine import train


class ListenToEverything(Callback):
    """Keeps the latest report of each kind, as the GUI's buffer would."""

    def __init__(self) -> None:
        self.latest: dict[str, object] = {}

    def on_step(self, r): self.latest["step"] = r
    def on_epoch(self, r): self.latest["epoch"] = r
    def on_layers(self, r): self.latest["layers"] = r
    def on_activations(self, r): self.latest["activations"] = r
    def on_boundary(self, r): self.latest["boundary"] = r


def run_engine(graph, data, steps: int, batch: int) -> float:
    compiled = compile_graph(graph, seed=0)
    n = len(data)
    epochs = math.ceil(steps * batch / n)
    empty = data.subset(torch.arange(0))
    config = TrainConfig(epochs=epochs, batch_size=batch, device="cpu", lr=1e-3)
    t0 = time.perf_counter()
    train(compiled, DataSplit(data, empty), config, [ListenToEverything()])
    return epochs * n / (time.perf_counter() - t0)


def _targets(compiled, y):
    return y if compiled.task == "multiclass" else y.float().reshape(-1, 1)


def run_dataloader(graph, data, steps: int, batch: int) -> float:
    compiled = compile_graph(graph, seed=0)
    model, loss_fn = compiled.module, compiled.loss_fn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(data.x, _targets(compiled, data.y)), batch_size=batch, shuffle=True)
    epochs = math.ceil(steps * batch / len(data))
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    return epochs * len(data) / (time.perf_counter() - t0)


def run_index(graph, data, steps: int, batch: int) -> float:
    compiled = compile_graph(graph, seed=0)
    model, loss_fn = compiled.module, compiled.loss_fn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.x, _targets(compiled, data.y)
    n = len(data)
    epochs = math.ceil(steps * batch / n)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return epochs * n / (time.perf_counter() - t0)


def measure(name: str, graph, data, steps: int, batch: int, rounds: int) -> dict[str, float]:
    ways = {"engine": run_engine, "dataloader": run_dataloader, "index": run_index}
    rates: dict[str, list[float]] = {k: [] for k in ways}
    run_index(graph, data, max(steps // 10, 5), batch)  # warm-up
    for _ in range(rounds):
        for way, fn in ways.items():
            rates[way].append(fn(graph, data, steps, batch))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{name}: " + "  ".join(f"{k} {v:,.0f} samples/s" for k, v in medians.items()))
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the GUI leaves one core free)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spiral = load_dataset({"name": "spiral"})
    digits = load_dataset({"name": "digits", "size": 28})
    mlp = measure("spiral_mlp", EXAMPLES["spiral_mlp"]().graph, spiral, args.steps, 32, args.rounds)
    cnn = measure("digits_cnn", EXAMPLES["digits_cnn"]().graph, digits, max(args.steps // 4, 20), 32, args.rounds)
    ratios = {
        "mlp_vs_dataloader": round(mlp["engine"] / mlp["dataloader"], 3),
        "mlp_vs_index": round(mlp["engine"] / mlp["index"], 3),
        "cnn_vs_dataloader": round(cnn["engine"] / cnn["dataloader"], 3),
        "cnn_vs_index": round(cnn["engine"] / cnn["index"], 3),
    }
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
