"""Training and prediction code that exported scripts carry: plain PyTorch, no nnstudio imports.

``python_code`` copies these functions into the exported file with ``inspect.getsource``. They
call a few names that the exporter writes for each project (the network, its loss, optimizer,
targets and data); the stand-ins at the bottom of this module only keep it importable and are never
copied. Keep lines under 100 columns: the text ends up in people's files.

The training loop runs unchanged under ``python model.py`` (one process) and ``torchrun
--nproc_per_node=N model.py`` (DistributedDataParallel: gloo on the CPU, NCCL on CUDA, one process
per GPU). Only rank 0 prints and saves, and it saves the bare network's weights, without DDP's
``module.`` prefix.
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


def evaluate(model, data, device, batch_size=1024, transform=None):
    """Loss (and accuracy for classification) of ``model`` on a TensorDataset, in eval mode;
    ``transform`` (if any) is applied to each batch's first input (the image standardisation)."""
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
    metrics = {"val_loss": loss_sum / max(seen, 1)}
    if TASK != "regression":
        metrics["val_accuracy"] = correct / max(seen, 1)
    return metrics


def train(args):
    """Train on load_data()'s samples with the project's settings; rank 0 saves the weights.

    Under torchrun every process waits for the others once fit() has returned (and its tensors,
    DDP wrapper and optimizer are gone), then leaves the process group: no gloo or NCCL thread may
    outlive train(), as one that still held a tensor while Python shuts down would abort the
    process after a good run. A process that fails leaves the group at once, which closes its
    connections: the others' collectives then fail instead of waiting for the group's timeout
    (and torchrun stops them too).
    """
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


def fit(args, rank, world_size, device):
    """The training loop of train(): every process runs it; rank 0 prints and saves."""
    torch.manual_seed(SEED)
    model = build_model()
    if args.weights:
        model.load_state_dict(read_weights(args.weights))
    model.to(device)
    x_train, y_train, x_val, y_val = load_data(args)
    train_set = TensorDataset(*as_tuple(x_train), prepare_targets(y_train))
    val_set = TensorDataset(*as_tuple(x_val), prepare_targets(y_val))
    sampler = DistributedSampler(train_set, seed=SEED) if world_size > 1 else None
    loader = DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=torch.Generator().manual_seed(SEED),
    )
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
        print(f"training on {device}{processes}: {sizes}")
    best_loss, best_epoch, best_state, waited = None, None, None, 0
    for epoch in range(1, args.epochs + 1):
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
        if len(val_set):  # every process validates on all of it, so all agree on what follows
            metrics.update(evaluate(model, val_set, device, transform=for_validation))
        monitored = metrics.get("val_loss", metrics["train_loss"])
        if best_loss is None or monitored < best_loss:
            best_loss, best_epoch, waited = monitored, epoch, 0
            if rank == 0 and RESTORE_BEST:
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        if rank == 0:
            shown = "  ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"epoch {epoch}/{args.epochs}  {shown}", flush=True)
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(monitored)
            else:
                scheduler.step()
        stop = torch.tensor(int(EARLY_STOPPING and waited > PATIENCE), device=device)
        if world_size > 1:
            dist.broadcast(stop, 0)  # rank 0 decides, so that every process stops together
        if stop:
            if rank == 0:
                print(f"stopped early: no better loss for {waited} epochs")
            break
    if rank == 0:
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
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
