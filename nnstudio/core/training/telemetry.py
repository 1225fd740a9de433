"""What the live plots show, measured while training without slowing it down much.

Every ``telemetry_every`` steps (but at most every LAYER_MIN_GAP_S), and on any step that comes LIVE_INTERVAL_S
after the last measurement (so that a model with slow steps still updates its plots six or more times a second): per layer, histograms of the weights
and gradients with bin edges fixed at the first measurement (so their history stacks into a heatmap), the
gradient norm and the update-to-weight ratio. At most every PROBE_INTERVAL_S, and after every epoch: activations
of every layer on a fixed probe batch (histogram, mean, std, fraction of dead ReLU units, feature maps of one
image for conv layers) and, for 2-D inputs, the model's prediction over a grid for a decision-boundary plot.
Both stay within BUDGET of the training time. Everything handed out is a numpy copy.

The last LayerReport and ActivationReport handed out are kept (``last_layers``, ``last_activations``) for the
saved history. A run no callback measured gets one measurement at its end instead (:func:`final_reports`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx

from nnstudio.core.compile import CompiledModel
from nnstudio.core.training.control import Callback, emit
from nnstudio.core.training.reports import (
    ActivationReport,
    ActivationStats,
    BoundaryReport,
    LayerReport,
    LayerStats,
)

BUDGET = 0.08  # telemetry may take at most this share of the training time; beyond it, measurements are skipped
BINS = 40
HIST_SAMPLE = 1 << 14
PROBE_SAMPLES = 64
PROBE_VALUES = 16384  # the probe batch holds at most this many input values (but at least 8 samples): it runs often
GRID = 64
PROBE_INTERVAL_S = 0.2
LIVE_INTERVAL_S = 0.15  # layer statistics come at least this often (within the budget), whatever telemetry_every
LAYER_MIN_GAP_S = 0.1  # and at most this often: a fast model's every-20-steps would be dozens a second
MAX_FEATURE_MAPS = 16
_RELU_LIKE = {torch.relu, F.relu, F.leaky_relu, F.relu6}


class Telemetry:
    def __init__(self, compiled: CompiledModel, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 callbacks: list[Callback]) -> None:
        self.compiled, self.model, self.callbacks = compiled, model, callbacks
        self.layers = {name: [p for p in mod.parameters() if p.requires_grad]
                       for name, mod in model.named_children()}
        self.layers = {k: v for k, v in self.layers.items() if v}
        self.probe = x[:probe_size(x)]
        self.edges: dict[str, np.ndarray] = {}
        self.before: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        self.last_probe = 0.0
        self.last_layers_at = float("-inf")  # the first step measures: a short run still gets its histograms
        self.started = time.perf_counter()
        self.spent = 0.0  # seconds spent measuring
        # On the CPU what measuring costs training is the training thread's own time: the moments it waits for
        # the GIL while the window draws are not telemetry's doing. A GPU's work is waited for, so it counts.
        on_cpu = all(p.device.type == "cpu" for p in model.parameters())
        self.clock = time.thread_time if on_cpu else time.perf_counter
        self.measuring = False
        self.watch = watched_values(compiled, model)
        self.grid = _grid_for(x, y, compiled)
        self.last_layers: LayerReport | None = None  # the last reports handed out
        self.last_activations: ActivationReport | None = None

    def _within_budget(self) -> bool:
        return self.spent <= BUDGET * (time.perf_counter() - self.started)

    # -- per-layer weights and gradients ------------------------------------------------------------------
    def wants_layers(self, step: int, every: int) -> bool:
        """Whether ``step`` measures the layers: every ``every`` steps but at most every LAYER_MIN_GAP_S (no plot
        shows more), or LIVE_INTERVAL_S after the last."""
        since = time.perf_counter() - self.last_layers_at
        return since >= LIVE_INTERVAL_S or (step % every == 0 and since >= LAYER_MIN_GAP_S)

    def before_update(self) -> None:
        """Called after backward, before the optimizer step: gradients, and the weights to compare against.
        Skipped (with the ``after_step`` that follows) while telemetry is over its share of the time."""
        self.measuring = self._within_budget()
        if not self.measuring:
            return
        t0 = self.clock()
        for name, params in self.layers.items():
            self.before[name] = _flat(params)
            self.grads[name] = _flat([p.grad if p.grad is not None else torch.zeros_like(p) for p in params])
        self.spent += self.clock() - t0

    def after_step(self, step: int) -> None:
        if not self.measuring:
            return
        self.last_layers_at = time.perf_counter()
        t0 = self.clock()
        stats = {}
        for name, params in self.layers.items():
            w, before, g = _flat(params), self.before.pop(name), self.grads.pop(name)
            w_norm = float(before.norm())
            stats[name] = LayerStats(
                *self._hist(f"w:{name}", w, symmetric=True),
                *self._hist(f"g:{name}", g, symmetric=True),
                weight_norm=float(w.norm()),
                grad_norm=float(g.norm()),
                update_ratio=float((w - before).norm()) / w_norm if w_norm > 0 else 0.0,
            )
        self.last_layers = LayerReport(step, stats)
        emit(self.callbacks, "on_layers", self.last_layers)
        self.spent += self.clock() - t0
        self.maybe_probe(step)

    def maybe_probe(self, step: int, final: bool = False) -> None:
        """Probes at most every PROBE_INTERVAL_S and within the time budget; ``final`` always probes."""
        now = time.perf_counter()
        if final or (now - self.last_probe >= PROBE_INTERVAL_S and self._within_budget()):
            self.last_probe = now
            t0 = self.clock()
            self.probes(step)
            self.spent += self.clock() - t0

    # -- probes -------------------------------------------------------------------------------------------
    def probes(self, step: int) -> None:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                self.last_activations = ActivationReport(step, self.activations())
                emit(self.callbacks, "on_activations", self.last_activations)
                if self.grid is not None:
                    emit(self.callbacks, "on_boundary", self.boundary(step))
        finally:
            self.model.train(was_training)

    def activations(self) -> dict[str, ActivationStats]:
        return _activations(self.model, self.watch, self.probe, lambda key, v: self._hist(key, v, symmetric=False))

    def boundary(self, step: int) -> BoundaryReport:
        xs, ys, points, labels, grid = self.grid
        scores = self.model(grid).float()
        # Logits when the Softmax / Sigmoid is folded into the loss; otherwise (an MSE loss, say) the model's
        # outputs are already probabilities or 0/1 values.
        folded = self.compiled.output_activation is not None
        if self.compiled.task == "multiclass":
            probs = torch.softmax(scores, dim=-1) if folded else scores.clamp(0, 1)
            conf, pred = probs.max(dim=-1)
        elif self.compiled.task == "binary":
            p1 = torch.sigmoid(scores.reshape(-1)) if folded else scores.reshape(-1).clamp(0, 1)
            pred = (p1 > 0.5).long()
            conf = torch.where(pred == 1, p1, 1 - p1)
        else:
            pred = scores[:, 0]
            conf = torch.zeros_like(pred)
        shape = (len(ys), len(xs))
        return BoundaryReport(step, xs, ys, pred.reshape(shape).cpu().numpy().copy(),
                              conf.reshape(shape).cpu().numpy().copy(), points, labels)

    # -- helpers ------------------------------------------------------------------------------------------
    def _hist(self, key: str, values: torch.Tensor, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
        """Histogram with edges fixed the first time ``key`` is seen (values outside land in the end bins)."""
        edges = self.edges.get(key)
        if edges is None:
            edges = self.edges[key] = _edges_for(values, symmetric)
        return _counts(values, edges), edges


def final_reports(compiled: CompiledModel, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn,
                  step: int) -> tuple[LayerReport, ActivationReport]:
    """One measurement of the weights the run kept, for a run no callback measured: per layer the weights and
    the gradients of the loss on the probe batch (the first ``probe_size`` training samples, in eval mode, so
    nothing is drawn from the random generators and no running statistics change; ``update_ratio`` is 0, no
    step follows), and the activations on that batch. The parameters' ``.grad`` are left as they were."""
    layers = {name: [p for p in mod.parameters() if p.requires_grad] for name, mod in model.named_children()}
    layers = {k: v for k, v in layers.items() if v}
    probe, targets = x[:probe_size(x)], y[:probe_size(x)]
    was_training = model.training
    model.eval()
    try:
        params = [p for ps in layers.values() for p in ps]
        with torch.enable_grad():
            loss = loss_fn(model(probe).float(), targets)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        by_param = {id(p): g if g is not None else torch.zeros_like(p) for p, g in zip(params, grads)}
        stats = {}
        for name, ps in layers.items():
            w, g = _flat(ps), _flat([by_param[id(p)] for p in ps])
            stats[name] = LayerStats(*_histogram(w, symmetric=True), *_histogram(g, symmetric=True),
                                     weight_norm=float(w.norm()), grad_norm=float(g.norm()), update_ratio=0.0)
        with torch.no_grad():
            acts = _activations(model, watched_values(compiled, model), probe,
                                lambda _key, v: _histogram(v, symmetric=False))
    finally:
        model.train(was_training)
    return LayerReport(step, stats), ActivationReport(step, acts)


def probe_size(x: torch.Tensor) -> int:
    """How many of the samples ``x`` the activations are measured on."""
    per_sample = max(1, x[:1].numel())
    return min(len(x), max(8, min(PROBE_SAMPLES, PROBE_VALUES // per_sample)))


def watched_values(compiled: CompiledModel, model: fx.GraphModule) -> dict[str, tuple[str, bool]]:
    """Graph node id -> (fx value name, whether that value comes out of a ReLU) for every layer."""
    by_name = {n.name: n for n in model.graph.nodes}
    watch = {}
    for node_id, fx_name in compiled.node_outputs.items():
        node = by_name.get(fx_name)
        if node is None or node.op == "placeholder":
            continue
        watch[node_id] = (fx_name, node.op == "call_function" and node.target in _RELU_LIKE)
    return watch


def _activations(model: fx.GraphModule, watch: dict[str, tuple[str, bool]], probe: torch.Tensor,
                 hist) -> dict[str, ActivationStats]:
    recorder = _Recorder(model, {fx_name for fx_name, _ in watch.values()})
    recorder.run(probe)
    out = {}
    for node_id, (fx_name, relu_like) in watch.items():
        a = recorder.values.get(fx_name)
        if a is None or not a.is_floating_point():
            continue
        a = a.float()
        counts, edges = hist(f"a:{node_id}", a.reshape(-1))
        maps = None
        if a.dim() == 4:
            maps = a[0, :MAX_FEATURE_MAPS].cpu().numpy().copy()
        out[node_id] = ActivationStats(counts, edges, float(a.mean()), float(a.std()) if a.numel() > 1 else 0.0,
                                       _dead_fraction(a) if relu_like else None, maps)
    return out


def _edges_for(values: torch.Tensor, symmetric: bool) -> np.ndarray:
    lo, hi = (float(values.min()), float(values.max())) if values.numel() else (0.0, 1.0)
    if symmetric:
        top = max(abs(lo), abs(hi)) * 1.5 or 1e-3
        lo, hi = -top, top
    else:
        pad = (hi - lo) * 0.25 or 1e-3
        lo, hi = lo - pad, hi + pad
    return np.linspace(lo, hi, BINS + 1)


def _counts(values: torch.Tensor, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the bins; beyond HIST_SAMPLE values, of an evenly strided sample of them, scaled
    to the whole count (a histogram's shape needs no more, and a conv layer's activations hold millions)."""
    lo, hi = float(edges[0]), float(edges[-1])
    n = values.numel()
    stride = -(-n // HIST_SAMPLE)
    sample = values.reshape(-1)[::stride] if stride > 1 else values
    counts = torch.histc(sample.float().clamp(lo, hi), bins=BINS, min=lo, max=hi).cpu().numpy().copy()
    return counts * (n / sample.numel()) if stride > 1 else counts


def _histogram(values: torch.Tensor, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    edges = _edges_for(values, symmetric)
    return _counts(values, edges), edges


class _Recorder(fx.Interpreter):
    """Runs the model node by node and keeps the outputs named in ``wanted``."""

    def __init__(self, module: fx.GraphModule, wanted: set[str]) -> None:
        super().__init__(module)
        self.wanted = wanted
        self.values: dict[str, torch.Tensor] = {}

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if n.name in self.wanted and isinstance(out, torch.Tensor):
            self.values[n.name] = out.detach()
        return out


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).float() for t in tensors])


def _dead_fraction(a: torch.Tensor) -> float:
    """Share of units (features; channels for images) that are never positive on the probe batch."""
    if a.dim() == 4:
        alive = (a > 0).any(dim=3).any(dim=2).any(dim=0)
    else:
        alive = (a > 0).reshape(-1, a.shape[-1]).any(dim=0)
    return float(1.0 - alive.float().mean())


def _grid_for(x: torch.Tensor, y: torch.Tensor, compiled: CompiledModel):
    """For 2-D point data: grid axes, up to 1,000 points with labels, and the grid as a model input."""
    if x.dim() != 2 or x.shape[1] != 2 or not x.is_floating_point():
        return None
    lo, hi = x.min(dim=0).values, x.max(dim=0).values
    pad = (hi - lo) * 0.1 + 1e-3
    lo, hi = lo - pad, hi + pad
    gx = torch.linspace(float(lo[0]), float(hi[0]), GRID)
    gy = torch.linspace(float(lo[1]), float(hi[1]), GRID)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(x.device)
    y = y[:1000]
    if compiled.task == "multiclass" and y.dim() > 1:  # one-hot rows (a loss other than cross-entropy)
        y = y.argmax(dim=-1)
    labels = y.reshape(len(y), -1)[:, 0]
    return (gx.numpy().copy(), gy.numpy().copy(), x[:1000].cpu().numpy().copy(),
            labels.cpu().numpy().copy(), grid)
