"""Training and prediction code that exported scripts carry: plain PyTorch, no nnstudio imports.

``python_code`` copies these functions into the exported file with ``inspect.getsource``. They
call a few names that the exporter writes for each project (the network, its loss, optimizer,
targets and data); the stand-ins at the bottom of this module only keep it importable and are never
copied. Keep lines under 100 columns: the text ends up in people's files.

The training loop runs unchanged under ``python model.py`` (one process) and ``torchrun
--nproc_per_node=N model.py`` (DistributedDataParallel: gloo on the CPU, NCCL on CUDA, one process
per GPU). Only rank 0 prints and saves, and it saves the bare network's weights, without DDP's
``module.`` prefix. Each process draws its own dropout (seed_epoch), validation metrics are summed
over the processes, rank 0 decides the schedule and early stopping, and a snapshot written after
each epoch lets ``torchrun --max-restarts=N`` (or a second run) carry on where it stopped.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# Stand-ins for the settings each exported file defines (see the bottom of this module).
SEED = 0
TASK = "multiclass"
EARLY_STOPPING = False
PATIENCE = 10
RESTORE_BEST = True
INPUT_DTYPES: dict = {}


def pick_device(name, local_rank=0):
    """``auto``: this process's GPU under CUDA, Apple's GPU (one process only), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available() and int(os.environ.get("WORLD_SIZE", "1")) == 1:
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


def setup_distributed(device_name):
    """This process's rank, the number of processes and its device.

    torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; with more than one process this joins the
    process group (NCCL for CUDA, gloo for the CPU). A plain ``python model.py`` is rank 0 of 1 and
    starts no group.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name, local_rank)
    if world_size > 1:
        # torch.distributed.nn's functions take the default group as a default argument: imported
        # after the group exists (torch imports them at the first optimizer step), they would keep
        # it, and its threads, alive after destroy_process_group. Imported first, they cannot.
        import torch.distributed.nn
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world_size, device


def as_tuple(x):
    """A network with one Input takes a tensor; one with several takes a tuple of them."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def evaluate_sums(model, data, device, batch_size=1024, transform=None):
    """Loss sum, correct count (classification) and sample count of ``model`` on a TensorDataset,
    in eval mode; ``transform`` (if any) is applied to each batch's first input (the image
    standardisation)."""
    loss_fn = make_loss()
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for *inputs, targets in DataLoader(data, batch_size=batch_size):
            inputs = [x.to(device) for x in inputs]
            if transform is not None:
                inputs[0] = transform(inputs[0])
            targets = targets.to(device)
            outputs = model(*inputs)
            loss_sum += float(loss_fn(outputs, targets)) * len(targets)
            if TASK != "regression":
                correct += int(count_correct(outputs, targets))
            seen += len(targets)
    return [loss_sum, correct, seen]


def validate(model, data, device, rank=0, world_size=1, transform=None):
    """Validation loss (and accuracy) on all of ``data``, the same numbers on every process.

    Under torchrun each process evaluates every world_size-th sample, with rank 0's buffers (batch
    norm statistics), and the sums are added up: the metrics of one process evaluating everything.
    (A DistributedSampler would repeat samples to give every process as many.)
    """
    if world_size > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)
        data = TensorDataset(*(t[rank::world_size] for t in data.tensors))
    loss_sum, correct, seen = all_sum(evaluate_sums(model, data, device, transform=transform),
                                      device, world_size)
    metrics = {"val_loss": loss_sum / max(seen, 1)}
    if TASK != "regression":
        metrics["val_accuracy"] = correct / max(seen, 1)
    return metrics


def all_sum(values, device, world_size):
    """The sums of ``values`` (numbers) over all processes."""
    if world_size == 1:
        return values
    sums = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(sums)
    return sums.tolist()


def from_rank_0(values, device, world_size):
    """Rank 0's ``values`` (numbers) on every process: rank 0 decides, the others follow."""
    if world_size == 1:
        return values
    decided = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(decided, 0)
    return decided.tolist()


def seed_epoch(rank, epoch):
    """Seed one epoch's random draws (dropout, augmentation): they differ between processes, and a
    run resumed from a snapshot draws what one that never stopped would have drawn."""
    torch.manual_seed(SEED + rank + 10_000 * epoch)  # distinct for fewer than 10,000 processes


def per_process_batch(args, world_size):
    """--batch-size, or --global-batch-size shared evenly by the processes."""
    total = args.global_batch_size
    if total is None:
        return args.batch_size
    if total < world_size or total % world_size:
        raise SystemExit(f"--global-batch-size {total} does not split evenly over "
                         f"{world_size} processes: give a multiple of {world_size}")
    return total // world_size


def train(args):
    """Train on load_data()'s samples with the project's settings; rank 0 saves the weights.

    Under torchrun every process waits for the others once fit() has returned (and its tensors,
    DDP wrapper and optimizer are gone), then leaves the process group: no gloo or NCCL thread may
    outlive train(), as one that still held a tensor while Python shuts down would abort the
    process after a good run. A process that fails leaves the group at once, which closes its
    connections: the others' collectives then fail instead of waiting for the group's timeout
    (and torchrun stops them too).
    """
    # A batch size that does not split is refused before any process group is joined.
    args.batch_size = per_process_batch(args, int(os.environ.get("WORLD_SIZE", "1")))
    rank, world_size, device = setup_distributed(args.device)
    if world_size == 1:
        fit(args, rank, world_size, device)
        return
    try:
        fit(args, rank, world_size, device)
        dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)
    except BaseException as error:
        forget_variables(error)
        raise
    finally:
        dist.destroy_process_group()


def forget_variables(error):
    """Clear the variables of the calls that ``error`` came out of (their lines still print).

    Its traceback would otherwise keep them, fit()'s DDP wrapper among them and with it the process
    group and its threads, alive until Python shuts down.
    """
    calls = error.__traceback__.tb_next  # the first is the caller's own call, still running
    while calls is not None:
        calls.tb_frame.clear()
        calls = calls.tb_next


def snapshot_path(args):
    """--snapshot, by default beside --save (model_trained.snapshot.pt); "" for none."""
    if args.snapshot is not None:
        return args.snapshot
    return os.path.splitext(args.save)[0] + ".snapshot.pt"


def save_snapshot(path, snapshot):
    """Write the snapshot through a temporary file, so that a restart never finds half of one. True when
    written; a folder that is missing or read-only is one line, and training goes on without snapshots."""
    partial = path + ".partial"
    try:
        torch.save(snapshot, partial)
        os.replace(partial, path)
    except (OSError, RuntimeError) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"cannot write the snapshot {path} ({why}): training goes on without snapshots", flush=True)
        return False
    return True


def load_snapshot(path, device):
    """The snapshot at ``path``: tensors and numbers only (weights_only): loading runs no code."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or damaged (pickle errors included)
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SystemExit(f"cannot resume from {path} ({why}): delete it to start over")


def tensor_shapes(model):
    """The model's tensor names and shapes: what a snapshot must match to be resumed."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def resume(snapshot, path, model, optimizer, scheduler):
    """Put the snapshot's model, optimizer and schedule state back. False, changing nothing, when
    it was saved for another network or optimizer (an earlier export's run in the same folder)."""
    if (snapshot.get("shapes") != tensor_shapes(model)
            or snapshot.get("optimizer_type") != type(optimizer).__name__):
        return False
    try:
        model.load_state_dict(snapshot["model"])
        optimizer.load_state_dict(snapshot["optimizer"])
        if scheduler is not None and snapshot["scheduler"] is not None:
            scheduler.load_state_dict(snapshot["scheduler"])
    except (KeyError, ValueError, RuntimeError) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SystemExit(f"cannot resume from {path} ({why}): delete it to start over")
    return True


def cpu_state(model):
    """A copy of the model's tensors by name, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def fit(args, rank, world_size, device):
    """The training loop of train(): every process runs it; rank 0 prints and saves.

    After each epoch rank 0 writes a snapshot (model, optimizer, schedule, epoch); a run that finds
    one resumes after its epoch, which is how ``torchrun --max-restarts=N`` carries on after a
    failure, and how a second run with more --epochs continues the first.
    """
    torch.manual_seed(SEED)  # the same initial weights on every process
    model = build_model()
    if args.weights:
        model.load_state_dict(read_weights(args.weights))
    model.to(device)
    x_train, y_train, x_val, y_val = load_data(args)
    train_set = TensorDataset(*as_tuple(x_train), prepare_targets(y_train))
    val_set = TensorDataset(*as_tuple(x_val), prepare_targets(y_val))
    sampler = DistributedSampler(train_set, seed=SEED) if world_size > 1 else None
    generator = torch.Generator()
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None,
                        sampler=sampler, generator=generator)
    net = model
    if world_size > 1:
        device_ids = [device] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=device_ids)
    optimizer = make_optimizer(net, args.lr)
    scheduler = make_scheduler(optimizer, args.epochs)
    loss_fn = make_loss()
    # The project's image transforms: augmentations for training batches only, then standardising.
    for_training, for_validation = make_transforms(x_train)
    if rank == 0:
        processes = f", {world_size} processes" if world_size > 1 else ""
        sizes = f"{len(train_set)} samples, {len(val_set)} to validate"
        batch = f"batch {args.batch_size}"
        if world_size > 1:
            batch += f" per process ({args.batch_size * world_size} per step)"
        print(f"training on {device}{processes}: {sizes}; {batch}")
    first, best_loss, best_epoch, best_state, waited = 1, None, None, None, 0
    path = snapshot_path(args)
    if path and os.path.exists(path):
        snapshot = load_snapshot(path, device)
        if resume(snapshot, path, model, optimizer, scheduler):
            first = args.epochs + 1 if snapshot["stopped"] else snapshot["epoch"] + 1
            best_loss, best_epoch = snapshot["best_loss"], snapshot["best_epoch"]
            best_state, waited = snapshot["best_state"], snapshot["waited"]
            if rank == 0:
                print(f"resuming from epoch {snapshot['epoch']} ({path})")
                if first > args.epochs:
                    print(f"nothing left to train: raise --epochs, or delete {path} to start over")
        elif rank == 0:
            print(f"starting over: {path} holds another network's or optimizer's snapshot")
    for epoch in range(first, args.epochs + 1):
        seed_epoch(rank, epoch)
        generator.manual_seed(SEED + epoch)  # one process's shuffle
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        totals = torch.zeros(2, device=device)  # loss sum and sample count of this process
        for *inputs, targets in loader:
            inputs = [x.to(device) for x in inputs]
            if for_training is not None:
                inputs[0] = for_training(inputs[0])
            targets = targets.to(device)
            loss = train_step(net, optimizer, loss_fn, inputs, targets)
            totals[0] += loss * len(targets)
            totals[1] += len(targets)
        if world_size > 1:
            dist.all_reduce(totals)
        metrics = {"train_loss": float(totals[0] / totals[1])}
        if len(val_set):
            metrics.update(validate(model, val_set, device, rank, world_size, for_validation))
        stop = False
        if rank == 0:  # rank 0 decides: every process follows the same schedule and stops together
            monitored = metrics.get("val_loss", metrics["train_loss"])
            if best_loss is None or monitored < best_loss:
                best_loss, best_epoch, waited = monitored, epoch, 0
                if RESTORE_BEST:
                    best_state = cpu_state(model)
            else:
                waited += 1
            stop = EARLY_STOPPING and waited > PATIENCE
            shown = "  ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"epoch {epoch}/{args.epochs}  {shown}", flush=True)
        monitored, stop = from_rank_0([metrics.get("val_loss", metrics["train_loss"]), stop],
                                      device, world_size)
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(monitored)
            else:
                scheduler.step()
        if rank == 0 and path:
            snapshot = {
                "model": model.state_dict(), "shapes": tensor_shapes(model),
                "optimizer": optimizer.state_dict(), "optimizer_type": type(optimizer).__name__,
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "epoch": epoch, "stopped": bool(stop), "best_loss": best_loss,
                "best_epoch": best_epoch, "best_state": best_state, "waited": waited,
            }
            if not save_snapshot(path, snapshot):
                path = None  # said once; the run goes on
        if stop:
            if rank == 0:
                print(f"stopped early: no better loss for {waited} epochs")
            break
    if rank == 0:
        state = cpu_state(model)
        if best_state is not None:
            state = best_state
            print(f"keeping the weights of epoch {best_epoch}, the lowest loss ({best_loss:.4g})")
        write_weights(state, args.save)
        print(f"saved the trained weights to {args.save}")


# safetensors' names of torch's dtypes (the format: an 8-byte little-endian header length, a JSON
# header of name -> dtype, shape and byte offsets, then the tensors' bytes; see safetensors' docs).
def weight_dtypes():
    return {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
            "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
            "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def write_weights(state, path):
    """Save tensors by name as a .safetensors file (what NN Studio and safetensors load)."""
    names = {dtype: name for name, dtype in weight_dtypes().items()}
    header, blobs, at = {}, [], 0
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        blob = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        header[key] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                       "data_offsets": [at, at + len(blob)]}
        blobs.append(blob)
        at += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for blob in blobs:
            f.write(blob)


def read_weights(path):
    """The tensors of a .safetensors file by name (NN Studio's exported weights), checked against
    the file's size before anything is read; one line naming the file when it is not one."""
    def damaged(why):
        return SystemExit(f"{path} is not a safetensors weights file ({why})")

    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or length > min(size - 8, 100_000_000):
                raise damaged("its header length does not fit the file")
            header = json.loads(f.read(length))
            data = f.read()
    except OSError as exc:
        raise SystemExit(f"cannot read the weights {path}: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError):
        raise damaged("its header is not JSON")
    if not isinstance(header, dict):
        raise damaged("its header is not a table of tensors")
    dtypes, state = weight_dtypes(), {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape = dtypes[entry["dtype"]], [int(d) for d in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise damaged(f"{key!r} has no dtype, shape and offsets NN Studio reads")
        count = math.prod(shape) * torch.empty(0, dtype=dtype).element_size()
        if not 0 <= begin <= end <= len(data) or end - begin != count:
            raise damaged(f"{key!r} does not fit the file")
        if count:
            state[key] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape)
        else:
            state[key] = torch.empty(shape, dtype=dtype)
    return state


def read_inputs(path):
    """The network's inputs from an .npz file: one array per Input, named like the Input (a network
    with one Input also takes a file holding a single array under any name)."""
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.keys())
        if len(INPUT_DTYPES) == 1 and len(names) == 1:
            arrays = [archive[names[0]]]
        else:
            missing = [name for name in INPUT_DTYPES if name not in names]
            if missing:
                held = ", ".join(names)
                raise SystemExit(f"{path} has no array {missing[0]!r} (it holds {held})")
            arrays = [archive[name] for name in INPUT_DTYPES]
    dtypes = list(INPUT_DTYPES.values())
    return [torch.from_numpy(np.ascontiguousarray(a)).to(t) for a, t in zip(arrays, dtypes)]


def run_predict(args):
    """Run the network on the inputs in ``args.predict``; write its outputs and predictions."""
    device = pick_device(args.device)
    model = build_model()
    if args.weights:
        model.load_state_dict(read_weights(args.weights))
    else:
        print("warning: no --weights given: predicting with freshly initialised weights")
    model.to(device).eval()
    inputs = [x.to(device) for x in read_inputs(args.predict)]
    with torch.no_grad():
        outputs = model(*inputs)
    predictions = predict(model, *inputs)
    np.savez(args.output, outputs=outputs.cpu().numpy(), predictions=predictions.cpu().numpy())
    print(f"wrote {args.output}: outputs and predictions of shape {tuple(outputs.shape)}")


# -- stand-ins for what each exported file writes for its project (never copied) ------------------
GENERATED = frozenset({
    "build_model", "predict", "make_loss", "make_optimizer", "make_scheduler", "prepare_targets",
    "count_correct", "train_step", "load_data", "make_transforms",
})


def build_model():
    raise NotImplementedError


def predict(model, *inputs):
    raise NotImplementedError


def make_loss():
    raise NotImplementedError


def make_optimizer(model, lr):
    raise NotImplementedError


def make_scheduler(optimizer, epochs):
    raise NotImplementedError


def prepare_targets(y):
    raise NotImplementedError


def count_correct(outputs, targets):
    raise NotImplementedError


def train_step(model, optimizer, loss_fn, inputs, targets):
    raise NotImplementedError


def load_data(args):
    raise NotImplementedError


def make_transforms(x_train):
    raise NotImplementedError
