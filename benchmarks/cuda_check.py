"""CUDA, proven on the GPUs present: NN Studio's engine, mixed precision, device selection and the
exported script under torchrun with NCCL.

    python benchmarks/cuda_check.py                       every CUDA device (one line, exit 0, without)
    python benchmarks/cuda_check.py --device cpu --quick  the same code on the CPU: a dry run

On each device, for every example in resources/examples, with and without mixed precision:
  train      NN Studio's own engine (project_run.prepare + engine.train, the project's device set to
             "cuda:N") trains 10 epochs: the validation loss must fall, the weights must live on
             cuda:N, and the Dense layers must run in bfloat16/float16 exactly when mixed precision
             is on (on the CPU mixed precision is off whatever the setting: the engine uses it on
             CUDA only).
  cpu_match  the trained weights, loaded into a CPU copy of the network, give the device model's
             outputs on the validation inputs within ATOL + RTOL * max|output| (TF32 off).
Once per example, on all the GPUs together:
  torchrun   the exported script (export_python, what `nnstudio export` writes) trains up to 2
             epochs under `torchrun --nproc_per_node=<GPUs>` (NCCL; gloo with two processes for
             --device cpu);
             rank 0 alone prints and saves weights that load strictly into the app's network and
             differ from the start. The script loads its data itself (a project whose load_data()
             is left to fill in would get the app's data through a small runner that replaces it).
  nccl       with a single GPU the script runs as one process without a process group, so NCCL and
             DistributedDataParallel are also run in a one-process group on it.
Throughput (printed, never a pass/fail), on the first device: samples/s of the engine against a
hand-written loop (the same model, data on the device, batch size, learning rate and Adam), fp32.

Every check prints PASS or FAIL with its numbers; the last line is one JSON object; the exit status
is 1 when any check failed. Meant to finish in well under 5 minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.base import DataSplit
from nnstudio.core.export import export_python
from nnstudio.core.project.io import load_project
from nnstudio.core.training.engine import train
from nnstudio.core.training.project_run import load_weights, prepare
from nnstudio.core.training.targets import prepare_targets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "resources" / "examples"
ATOL, RTOL = 1e-4, 1e-4  # device model against its weights on the CPU, both in fp32
QUICK_EXAMPLE = "spiral_mlp"
TORCHRUN_TIMEOUT_S = 240

# Runs an exported script whose load_data() is left to fill in, with the app's data from an .npz.
FEED = """\
import importlib.util, sys
import numpy as np, torch
script, data = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("exported", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
def load_data(args):
    with np.load(data) as f:
        return tuple(torch.from_numpy(f[k]) for k in ("x_train", "y_train", "x_val", "y_val"))
module.load_data = load_data
module.main(sys.argv[3:])
"""

# A one-process NCCL group on cuda:0 that trains the exported network with DDP for a few steps.
NCCL_ONE = """\
import importlib.util, os, sys
import numpy as np, torch, torch.distributed as dist
import torch.distributed.nn
from torch.nn.parallel import DistributedDataParallel
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with np.load(sys.argv[2]) as f:
    x, y = torch.from_numpy(f["x_train"][:256]), torch.from_numpy(f["y_train"][:256])
device = torch.device("cuda", 0)
torch.cuda.set_device(device)
dist.init_process_group("nccl")
try:
    net = DistributedDataParallel(module.build_model().to(device), device_ids=[device])
    optimizer = module.make_optimizer(net, 0.01)
    loss_fn = module.make_loss()
    targets = module.prepare_targets(y).to(device)
    losses = [float(module.train_step(net, optimizer, loss_fn, [x.to(device)], targets))
              for _ in range(5)]
    total = torch.ones(1, device=device)
    dist.all_reduce(total)
    dist.barrier(device_ids=[0])
    print("nccl ok", dist.get_backend(), losses[0], losses[-1], float(total))
    del net, optimizer, total
finally:
    dist.destroy_process_group()
"""


class Report:
    """PASS/FAIL lines as they come, and the JSON summary at the end."""

    def __init__(self) -> None:
        self.checks: list[dict] = []
        self.throughput: list[dict] = []

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}", flush=True)
        return ok

    def error(self, name: str, exc: BaseException) -> None:
        first = str(exc).splitlines()[0] if str(exc) else ""
        self.check(name, False, f"raised {type(exc).__name__}: {first}")

    @property
    def failed(self) -> int:
        return sum(not c["ok"] for c in self.checks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda",
                   help="cuda (every CUDA device), cuda:N (one) or cpu (a dry run of the same code)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_EXAMPLE} only, 2 epochs, short timing (for dry runs)")
    p.add_argument("--examples", help="comma-separated example names (default: all)")
    p.add_argument("--epochs", type=int, help="epochs per training check (default 10, --quick 2)")
    p.add_argument("--no-torchrun", action="store_true", help="skip the exported script's checks")
    args = p.parse_args(argv)
    started = time.perf_counter()

    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            print(f"cuda_check: no CUDA GPU here (torch {torch.__version__}, {build}): nothing to check")
            return 0
        count = torch.cuda.device_count()
        devices = [f"cuda:{i}" for i in range(count)] if args.device == "cuda" else [args.device]
        if args.device != "cuda" and torch.device(args.device).index not in range(count):
            p.error(f"--device {args.device}: this machine has {count} CUDA device(s), cuda:0 .. "
                    f"cuda:{count - 1}")
        kind = "cuda"
    elif args.device == "cpu":
        devices, count, kind = ["cpu"], 2, "cpu"  # two gloo processes stand in for two GPUs
        torch.set_num_threads(1)  # steady timings on a shared machine, as in the tests
    else:
        p.error(f"--device must be cuda, cuda:N or cpu, not {args.device!r}")
    epochs = args.epochs or (2 if args.quick else 10)  # the transformer needs 8 to leave chance
    names = args.examples.split(",") if args.examples else ([QUICK_EXAMPLE] if args.quick else None)
    paths = sorted(EXAMPLES.glob("*.nnstudio"))
    if names is not None:
        paths = [EXAMPLES / f"{n}.nnstudio" for n in names]
    for device in devices:
        print(f"cuda_check: {device} ({describe(device)}), torch {torch.__version__}", flush=True)
    report = Report()
    torch.manual_seed(0)
    for device in devices:
        for path in paths:
            for amp in (False, True):
                name = f"train {path.stem} on {device}{' amp' if amp else ''}"
                try:
                    train_check(report, name, path, device, amp, epochs)
                except Exception as exc:  # one broken example must not hide the others
                    report.error(name, exc)
            if device != devices[0]:
                continue  # the speed of one device says enough
            try:
                report.throughput.append(throughput(path, device, 20 if args.quick else 300))
                t = report.throughput[-1]
                print(f"INFO  throughput {path.stem} on {device}: engine {t['engine']:,.0f} samples/s, "
                      f"hand-written loop {t['plain']:,.0f} samples/s, ratio {t['ratio']:.2f}", flush=True)
            except Exception as exc:
                report.error(f"throughput {path.stem} on {device}", exc)
    if not args.no_torchrun:
        with tempfile.TemporaryDirectory(prefix="cuda_check_") as tmp:
            for path in paths:
                name = f"torchrun {path.stem}, {count} process(es), {kind}"
                try:
                    torchrun_check(report, name, path, kind, count, Path(tmp), min(epochs, 2))
                except Exception as exc:
                    report.error(name, exc)
            if kind == "cuda" and count == 1:
                try:
                    nccl_one_check(report, paths[0], Path(tmp))
                except Exception as exc:
                    report.error("nccl one-process group on cuda:0", exc)
    seconds = time.perf_counter() - started
    summary = {"device": args.device, "devices": devices, "torch": torch.__version__,
               "checks": len(report.checks), "failed": report.failed, "seconds": round(seconds, 1),
               "failures": [c["check"] for c in report.checks if not c["ok"]],
               "throughput": report.throughput}
    print(f"{'PASS' if not report.failed else 'FAIL'}  {len(report.checks) - report.failed} of "
          f"{len(report.checks)} checks passed in {seconds:.0f} s")
    print(json.dumps(summary))
    return 1 if report.failed else 0


def describe(device: str) -> str:
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    return f"{os.cpu_count()} CPU cores"


# -- NN Studio's engine on the device ----------------------------------------------------------------
def train_check(report: Report, name: str, path: Path, device: str, amp: bool, epochs: int) -> None:
    project = load_project(path, weights=False, history=False)
    run = prepare(project, base_dir=path.parent, device=device, epochs=epochs, mixed_precision=amp)
    val = run.split.val if len(run.split.val) else run.split.train
    x, y = val.x, val.y
    before = loss_on_cpu(run.compiled, run.compiled.module, x, y)
    dtypes = record_dense_dtypes(run.compiled.module)
    started = time.perf_counter()
    result = train(run.compiled, run.split, run.config)
    seconds = time.perf_counter() - started
    dtypes_seen, hooks = dtypes
    for hook in hooks:
        hook.remove()
    model = run.compiled.module
    where = {p.device for p in model.parameters()}
    report.check(f"{name}: device", where == {torch.device(device)},
                 f"the weights are on {', '.join(sorted(map(str, where)))} after training on {device}")
    low = {torch.float16, torch.bfloat16}
    expect_low = amp and device.startswith("cuda")
    shown = ", ".join(sorted(str(d).replace("torch.", "") for d in dtypes_seen)) or "none"
    report.check(f"{name}: precision", bool(dtypes_seen & low) == expect_low and bool(dtypes_seen),
                 f"Dense outputs in training were {shown}; expected "
                 f"{'bfloat16/float16' if expect_low else 'float32 only'}")

    cpu = compile_graph(project.graph, seed=run.config.seed)
    load_weights(cpu, result.state_dict)
    after = loss_on_cpu(run.compiled, cpu.module, x, y)
    report.check(f"{name}: loss falls", after < before,
                 f"validation loss {before:.4f} -> {after:.4f} in {len(result.history['epochs'])} epochs, "
                 f"{seconds:.1f} s")

    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        model.eval()
        cpu.module.eval()
        with torch.no_grad():
            got = model(x.to(device)).float().cpu()
            expected = cpu.module(x).float()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    diff = float((got - expected).abs().max())
    limit = ATOL + RTOL * float(expected.abs().max())
    same_class = float((got.argmax(-1) == expected.argmax(-1)).float().mean()) if got.dim() > 1 else 1.0
    report.check(f"{name}: cpu_match", diff <= limit,
                 f"largest difference {diff:.2e} (limit {limit:.2e}) over {len(x)} validation samples; "
                 f"{same_class:.1%} same argmax")


def loss_on_cpu(compiled, module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The loss of ``module`` (on the CPU) on (x, y), in fp32 and eval mode."""
    targets = prepare_targets(y, compiled, num_classes(compiled), "validation")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return float(compiled.loss_fn()(module(x).float(), targets))
    finally:
        module.train(was_training)


def num_classes(compiled) -> int:
    if compiled.task == "binary":
        return 2
    return int(compiled.output_info.shape[-1]) if compiled.task == "multiclass" else 0


def record_dense_dtypes(module: torch.nn.Module):
    """The dtypes the Linear layers return while training, and the hooks that record them."""
    seen: set[torch.dtype] = set()

    def hook(layer, inputs, output):
        if layer.training and isinstance(output, torch.Tensor):
            seen.add(output.dtype)

    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Linear)]
    return seen, hooks


# -- samples/s: the engine against a hand-written loop -----------------------------------------------
def throughput(path: Path, device: str, steps: int) -> dict:
    project = load_project(path, weights=False, history=False)
    run = prepare(project, base_dir=path.parent, device=device)
    data = run.split.train
    batch = run.config.batch_size
    epochs = max(1, math.ceil(steps * batch / len(data)))
    no_val = DataSplit(data, data.subset(torch.arange(0)))
    timed = {}
    for label, fn in (("engine", engine_loop), ("plain", plain_loop)):
        fn(project, run, no_val, device, 1)  # warm up: kernels, cuDNN plans, the allocator
        timed[label] = fn(project, run, no_val, device, epochs)
    return {"example": path.stem, "device": device, "epochs": epochs, "batch_size": batch,
            "engine": timed["engine"], "plain": timed["plain"],
            "ratio": timed["engine"] / timed["plain"]}


def engine_loop(project, run, split: DataSplit, device: str, epochs: int) -> float:
    compiled = compile_graph(project.graph, seed=run.config.seed)
    config = run.config.updated(epochs=epochs, device=device, mixed_precision=False)
    sync(device)
    started = time.perf_counter()
    train(compiled, split, config)
    sync(device)
    return epochs * len(split.train) / (time.perf_counter() - started)


def plain_loop(project, run, split: DataSplit, device: str, epochs: int) -> float:
    """What a person would write: the data on the device, a random permutation per epoch, Adam."""
    compiled = compile_graph(project.graph, seed=run.config.seed)
    model = compiled.module.to(device)
    x = split.train.x.to(device)
    y = prepare_targets(split.train.y, compiled, num_classes(compiled), "training").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=run.config.lr)
    loss_fn = compiled.loss_fn()
    batch, n = run.config.batch_size, len(x)
    model.train()
    sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, device=device)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
    sync(device)
    return epochs * n / (time.perf_counter() - started)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


# -- the exported script under torchrun ---------------------------------------------------------------
def export_with_data(path: Path, folder: Path) -> tuple[Path, list[str], Path]:
    """The exported script (which carries its data), the extra arguments it needs (none now) and an .npz of
    the app's split, for a script whose load_data() is left to fill in."""
    project = load_project(path, weights=False, history=False)
    script = folder / f"{path.stem}.py"
    export_python(project, script, base_dir=path.parent)  # a bundled set's file is written beside it
    run = prepare(project, base_dir=path.parent, device="cpu")
    data = folder / f"{path.stem}_data.npz"
    np.savez(data, x_train=run.split.train.x.numpy(), y_train=run.split.train.y.numpy(),
             x_val=run.split.val.x.numpy(), y_val=run.split.val.y.numpy())
    return script, [], data


def torchrun_check(report: Report, name: str, path: Path, kind: str, nproc: int, folder: Path,
                   epochs: int) -> None:
    script, extra, data = export_with_data(path, folder)
    fills_in = "PLUG YOUR DATA IN HERE" in script.read_text(encoding="utf-8")
    saved = folder / f"{path.stem}_trained.safetensors"
    target = [str(folder / "feed.py"), str(script), str(data)] if fills_in else [str(script)]
    if fills_in:
        (folder / "feed.py").write_text(FEED, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if kind == "cpu":
        env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           *target, "--epochs", str(epochs), "--device", kind, "--save", str(saved), *extra]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, env=env,
                          timeout=TORCHRUN_TIMEOUT_S)
    seconds = time.perf_counter() - started
    how = " (load_data from the app's data)" if fills_in else ""
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-6:])
        report.check(name, False, f"exit status {done.returncode} after {seconds:.0f} s{how}: {tail}")
        return
    problems = []
    if done.stdout.count(f"epoch {epochs}/{epochs}") != 1:
        problems.append(f"'epoch {epochs}/{epochs}' printed {done.stdout.count(f'epoch {epochs}/')} times")
    if nproc > 1 and f"{nproc} processes" not in done.stdout:
        problems.append(f"no '{nproc} processes' in its first line")
    if f"training on {kind}" not in done.stdout:
        problems.append(f"it did not train on {kind}: {done.stdout.splitlines()[:1]}")
    for bad in ("terminate called", "Traceback"):
        if bad in done.stderr:
            problems.append(f"{bad!r} on stderr")
    project = load_project(path, weights=False, history=False)
    fresh = compile_graph(project.graph, seed=prepare(project, device="cpu").config.seed).module
    state = load_file(saved)
    fresh_state = {k: v.clone() for k, v in fresh.state_dict().items()}
    fresh.load_state_dict(state, strict=True)  # raises when the names or shapes differ
    if all(torch.equal(state[k], fresh_state[k]) for k in state):
        problems.append("the saved weights are the untrained ones")
    report.check(name, not problems,
                 "; ".join(problems) or f"trained {epochs} epochs in {seconds:.0f} s{how}; rank 0 "
                 f"saved {len(state)} tensors that load strictly into the app's network")


def nccl_one_check(report: Report, path: Path, folder: Path) -> None:
    script, _, data = export_with_data(path, folder)
    (folder / "nccl_one.py").write_text(NCCL_ONE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=1", str(folder / "nccl_one.py"), str(script), str(data)],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=TORCHRUN_TIMEOUT_S)
    line = next((l for l in done.stdout.splitlines() if l.startswith("nccl ok")), "")
    parts = line.split()
    ok = done.returncode == 0 and len(parts) == 6 and parts[2] == "nccl" and float(parts[4]) < float(
        parts[3])
    detail = (f"{path.stem}: DDP over NCCL, 5 steps, loss {parts[3]} -> {parts[4]}" if len(parts) == 6
              else f"exit status {done.returncode}: {' | '.join(done.stderr.strip().splitlines()[-4:])}")
    report.check("nccl one-process group on cuda:0", ok, detail)


if __name__ == "__main__":
    sys.exit(main())
