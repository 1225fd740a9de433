"""The project-specific parts of an exported script: header, settings, loss / optimizer / targets, the data
plan and the command line. The generic parts are real functions in ``standalone_data`` / ``standalone_train``.

Every value from the project reaches the text through ``formatting``'s helpers: ``literal`` in code,
``comment`` / ``comment_text`` in comments, ``docstring_text`` in docstrings. Nothing is put in bare.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from nnstudio import __version__
from nnstudio.core.compile import CompiledModel
from nnstudio.core.errors import NNStudioError
from nnstudio.core.export.common import one_line
from nnstudio.core.export.formatting import comment, comment_text, docstring_text, literal
from nnstudio.core.export.model_code import one_title
from nnstudio.core.layers.base import LONG, format_shape
from nnstudio.core.project.model import Project
from nnstudio.core.training.config import TrainConfig

# Generated datasets: name -> (the generator copied into the script, its options in call order).
GENERATED = {
    "spiral": ("make_spiral", ("samples", "classes", "noise", "turns", "seed")),
    "moons": ("make_moons", ("samples", "noise", "seed")),
    "circles": ("make_circles", ("samples", "noise", "factor", "seed")),
    "xor": ("make_xor", ("samples", "noise", "seed")),
    "blobs": ("make_blobs", ("samples", "classes", "noise", "seed")),
    "sine": ("make_sine", ("samples", "noise", "seed")),
    "polynomial": ("make_polynomial", ("samples", "degree", "noise", "seed")),
}
TABLES = ("iris", "wine", "breast_cancer")
FILENAME_LIMIT = 120  # the longest file name the script repeats in its comments and --help
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "bce": "nn.BCEWithLogitsLoss()", "mse": "nn.MSELoss()",
          "mae": "nn.L1Loss()", "huber": "nn.HuberLoss()"}


@dataclass
class DataPlan:
    """How the script gets its data: standalone_data functions to copy, the load_data source, the bundled
    file --data must point at (if any), a line for the header and warnings for the person exporting."""

    functions: list[str]
    load_data: str
    data_file: str | None = None
    summary: str = ""
    warnings: list[str] = field(default_factory=list)


def data_plan(project: Project, compiled: CompiledModel) -> DataPlan:
    config = project.dataset or {}
    name = config.get("name")
    try:
        from nnstudio.core.data.registry import get_spec, split_options

        options = get_spec(name).options(config) if name else {}
        split = split_options(config) if name else {}
    except NNStudioError as exc:
        stub = _stub(compiled, f"The project's dataset settings cannot be used ({exc}).")
        return DataPlan([], stub, summary="none: fill in load_data()",
                        warnings=[f"the dataset settings cannot be used ({one_line(exc)}): load_data() is left "
                                  "to fill in"])
    stratify = compiled.task != "regression"
    split_call = (f"    train, val = split_indices(y, val_fraction={literal(split['val_fraction'])}, "
                  f"test_fraction={literal(split['test_fraction'])}, seed={literal(split['split_seed'])}, "
                  f"stratify={literal(stratify)})\n    return x[train], y[train], x[val], y[val]\n") if name else ""
    if name in GENERATED:
        function, keys = GENERATED[name]
        args = ", ".join(f"{k}={literal(options[k])}" for k in keys)
        doc = _doc(f"NN Studio's {name} dataset, generated and split exactly as the app does it (the same "
                   "samples, the same validation part).")
        source = f"def load_data(args):\n{doc}    x, y = {function}({args})\n{split_call}"
        return DataPlan([function, "split_indices"], source, summary=f"NN Studio's {name} set, generated "
                        "here with the same maths and seed as in the app", warnings=_fit_warnings(project))
    if name == "digits":
        file, size = "digits.npz", options["size"]
        doc = _doc(f"The bundled handwritten digits ({file}), {size} x {size} pixels, split exactly as NN "
                   "Studio splits them.")
        source = (f"def load_data(args):\n{doc}    x, y = load_digits(require_data(args, {literal(file)}), "
                  f"size={literal(size)})\n{split_call}")
        return DataPlan(["load_digits", "require_data", "split_indices"], source, file,
                        f"the bundled digits file (pass --data PATH/{file})", _fit_warnings(project))
    if name in TABLES:
        file = f"{name}.csv"
        doc = _doc(f"The bundled {name} table ({file}): features standardised, split exactly as NN Studio "
                   "splits it.")
        source = (f"def load_data(args):\n{doc}    x, y, classes = load_table(require_data(args, "
                  f"{literal(file)}))\n{split_call}")
        return DataPlan(["load_table", "require_data", "split_indices"], source, file,
                        f"the bundled {file} (pass --data PATH/{file})", _fit_warnings(project))
    if name:
        why = f"NN Studio trained this project on its {name} dataset, which this file cannot load on its own."
        summary = f"the app's {name} dataset is not part of this file: fill in load_data()"
    else:
        why, summary = "The project has no dataset chosen.", "none chosen: fill in load_data()"
    return DataPlan([], _stub(compiled, why), summary=summary)


def _doc(text: str, indent: str = "    ") -> str:
    """A one-line docstring holding ``text`` (escaped), with its newline."""
    return f'{indent}"""{docstring_text(text)}"""\n'


def _fit_warnings(project: Project) -> list[str]:
    """The app's own check that the dataset fits the network (cheap for built-in sets)."""
    try:
        from nnstudio.core.training.project_run import prepare

        prepare(project, device="cpu")  # the script picks its own device
    except NNStudioError as exc:
        return [f"the exported script will not train as it is: {one_line(exc)}"]
    return []


def _stub(compiled: CompiledModel, why: str) -> str:
    shapes = []
    for name, info in zip(compiled.input_names, compiled.input_infos):
        if info.dtype == LONG:
            ids = f", ids 0..{info.vocab - 1}" if info.vocab else ""
            shapes.append(f"  x ({name}): int64 token ids of shape {format_shape(info.shape)}{ids}")
        else:
            shapes.append(f"  x ({name}): float32 values of shape {format_shape(info.shape)}")
    if len(shapes) > 1:
        shapes.append("  (several Inputs: x is a tuple with one tensor per Input, in this order)")
    shapes.append("  y: " + _target_text(compiled))
    bar = "=" * 92
    reason = textwrap.wrap(comment_text(why), 90, break_on_hyphens=False)
    lines = [bar, "PLUG YOUR DATA IN HERE.", *reason, "The network expects:", *shapes,
             "Return x_train, y_train, x_val, y_val (torch tensors).", bar]
    body = "\n".join("    " + comment(line) for line in lines)
    return (f'def load_data(args):\n    """Your training and validation data."""\n{body}\n'
            '    raise NotImplementedError("plug your data in here: return x_train, y_train, x_val, y_val")\n')


def _target_text(compiled: CompiledModel) -> str:
    shape = compiled.output_info.shape
    if compiled.task == "multiclass":
        return f"int64 class labels 0..{shape[-1] - 1} of shape (N,)"
    if compiled.task == "binary":
        return "int64 class labels 0 or 1 of shape (N,)"
    return f"float32 targets of shape {format_shape(shape)}"


def header(project: Project, title: str, compiled: CompiledModel, config: TrainConfig, plan: DataPlan,
           filename: str) -> str:
    params = sum(p.numel() for p in compiled.module.parameters())
    layers = sum(1 for _ in compiled.module.children())
    inputs = ", ".join(f"{format_shape(i.shape)} {'int64 token ids' if i.dtype == LONG else 'float32'}"
                       for i in compiled.input_infos)
    out = f"{format_shape(compiled.output_info.shape)} " + (
        f"logits ({compiled.output_activation} in predict())" if compiled.output_activation else "values")
    text = project.description if isinstance(project.description, str) else ""
    description = textwrap.wrap(comment_text(" ".join(text.split())), 96, break_on_hyphens=False)
    arrays = ", ".join(compiled.input_names)
    settings = f"{config.optimizer}, lr {config.lr:g}, batch size {config.batch_size}, {config.epochs} epochs"
    filename = comment_text(filename, FILENAME_LIMIT)
    lines = [
        f"{one_title(title)}: a PyTorch network exported from NN Studio {__version__}.",
        "", *description, "" if description else None,
        f"Network: {layers} layers, {params:,} parameters; input {inputs}; output {out}.",
        f"Data: {plan.summary}.",
        "",
        f"Train (the project's settings are the defaults: {settings}):",
        f"    python {filename}",
        f"    python {filename} --epochs 5 --device cuda",
        f"    torchrun --nproc_per_node=4 {filename}",
        "(torchrun: DistributedDataParallel, one process per GPU; --batch-size is per process.)",
        "Start from the app's weights, exported with: nnstudio export PROJECT -o weights.safetensors",
        f"    python {filename} --weights weights.safetensors",
        f"Predict: the inputs in an .npz file (an array named {arrays}), the outputs to outputs.npz:",
        f"    python {filename} --weights weights.safetensors --predict inputs.npz",
        "",
        "Needs torch, numpy and safetensors (pip install torch numpy safetensors), nothing from NN Studio.",
        *_not_carried(config),
    ]
    return "\n".join(comment(line) for line in lines if line is not None)


def _not_carried(config: TrainConfig) -> list[str]:
    left = []
    if config.monitor != "val_loss" and (config.early_stopping or config.restore_best
                                         or config.schedule == "plateau"):
        left.append(f"the script watches val_loss where the app watches {config.monitor}")
    if config.mixed_precision:
        left.append("mixed precision")
    if not left:
        return []
    return ["Differences from the app's training: " + "; ".join(left) + "."]


def settings_source(config: TrainConfig, compiled: CompiledModel, filename: str) -> str:
    dtypes = ", ".join(f"{literal(n)}: torch.{'long' if i.dtype == LONG else 'float32'}"
                       for n, i in zip(compiled.input_names, compiled.input_infos))
    return "\n".join([
        f"EPOCHS = {literal(config.epochs)}",
        f"BATCH_SIZE = {literal(config.batch_size)}  # per process under torchrun",
        f"LEARNING_RATE = {literal(config.lr)}",
        f"DEVICE = {literal(config.device)}  # auto: CUDA, then Apple's GPU, then the CPU",
        f"SAVE = {literal(save_name(filename))}  # where training writes the weights",
        f"SEED = {literal(config.seed)}",
        f"EARLY_STOPPING = {literal(config.early_stopping)}  # stop when the loss has not improved for "
        "PATIENCE epochs",
        f"PATIENCE = {literal(config.patience)}",
        f"RESTORE_BEST = {literal(config.restore_best)}  # keep the weights of the epoch with the lowest val_loss",
        f"TASK = {literal(compiled.task)}",
        f"INPUT_DTYPES = {{{dtypes}}}  # the network's inputs, in order",
    ])


def save_name(filename: str) -> str:
    """Where the script saves its trained weights: ``model_trained.safetensors`` beside ``model.py``. Only
    printable characters of the name are kept (the script prints it), and never a folder."""
    stem = filename.rsplit(".", 1)[0] if isinstance(filename, str) else ""
    stem = "".join(ch if ch.isprintable() and ch not in "/\\" else "_" for ch in stem)[:FILENAME_LIMIT]
    return (stem.strip() or "model") + "_trained.safetensors"


def training_functions(compiled: CompiledModel, config: TrainConfig) -> str:
    c = config
    loss = LOSSES[compiled.loss]
    optimizer = {
        "sgd": f"torch.optim.SGD(model.parameters(), lr=lr, momentum={literal(c.momentum)}"
               + (", nesterov=True" if c.nesterov and c.momentum > 0 else "") + _decay(c.l2) + ")",
        "adam": f"torch.optim.Adam(model.parameters(), lr=lr{_decay(c.l2)})",
        "adamw": f"torch.optim.AdamW(model.parameters(), lr=lr, weight_decay={literal(c.l2)})",
        "rmsprop": f"torch.optim.RMSprop(model.parameters(), lr=lr, momentum={literal(c.momentum)}"
                   f"{_decay(c.l2)})",
    }[c.optimizer]
    scheduler = {
        "none": "None",
        "step": f"torch.optim.lr_scheduler.StepLR(optimizer, step_size={literal(c.step_size)}, "
                f"gamma={literal(c.gamma)})",
        "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)",
        "plateau": "torch.optim.lr_scheduler.ReduceLROnPlateau(\n        optimizer, mode=\"min\", "
                   f"factor={literal(c.plateau_factor)}, patience={literal(c.plateau_patience)}\n    )",
    }[c.schedule]
    penalty = ("    weights = [p for p in model.parameters() if p.dim() >= 2]  # not biases or norm scales\n"
               f"    loss = loss + {literal(c.l1)} * sum(w.abs().sum() for w in weights)  # L1 penalty\n"
               ) if c.l1 else ""
    clip = (f"    torch.nn.utils.clip_grad_norm_(model.parameters(), {literal(c.grad_clip)})\n"
            if c.grad_clip else "")
    return (
        f'def make_loss():\n    """The loss the app trains with."""\n    return {loss}\n\n\n'
        f"def make_optimizer(model, lr):\n    return {optimizer}\n\n\n"
        f'def make_scheduler(optimizer, epochs):\n    """The learning-rate schedule, stepped once per epoch."""\n'
        f"    return {scheduler}\n\n\n"
        f"{_targets(compiled)}\n\n\n{_correct(compiled)}"
        "def train_step(model, optimizer, loss_fn, inputs, targets):\n"
        '    """One optimisation step on a batch; returns the loss."""\n'
        "    optimizer.zero_grad(set_to_none=True)\n"
        "    loss = loss_fn(model(*inputs), targets)\n"
        f"{penalty}    loss.backward()\n{clip}    optimizer.step()\n    return loss.detach()\n"
    )


def _decay(l2: float) -> str:
    return f", weight_decay={literal(l2)}" if l2 else ""


def _targets(compiled: CompiledModel) -> str:
    shape = ", ".join(literal(int(d)) for d in compiled.output_info.shape)
    if compiled.task == "multiclass" and compiled.loss == "cross_entropy":
        doc, body = "Class indices (N,), as cross-entropy takes them.", "y.long()"
    elif compiled.task == "multiclass":
        classes = literal(int(compiled.output_info.shape[-1]))
        doc, body = f"One-hot rows for the {compiled.loss} loss.", f"F.one_hot(y.long(), {classes}).float()"
    elif compiled.task == "binary":
        doc, body = "0/1 floats shaped like the network's output.", f"y.float().reshape(len(y), {shape})"
    else:
        doc, body = "Float targets shaped like the network's output.", f"y.float().reshape(len(y), {shape})"
    return f"def prepare_targets(y):\n{_doc(doc)}    return {body}"


def _correct(compiled: CompiledModel) -> str:
    if compiled.task == "regression":
        return ""
    if compiled.task == "binary":
        cut = 0 if compiled.output_activation else 0.5
        what = "logits above 0" if cut == 0 else "outputs above 0.5"
        body = f"((outputs > {literal(cut)}).float() == targets).sum()"
        doc = f"How many samples are classified right ({what} are class 1)."
    elif compiled.loss == "cross_entropy":
        body, doc = "(outputs.argmax(dim=-1) == targets).sum()", "How many samples are classified right."
    else:
        body = "(outputs.argmax(dim=-1) == targets.argmax(dim=-1)).sum()"
        doc = "How many samples are classified right."
    return f"def count_correct(outputs, targets):\n{_doc(doc)}    return {body}\n\n\n"


def parse_args_source(data_file: str | None, filename: str) -> str:
    data = ""
    if data_file:
        help_ = literal(f"the bundled {data_file} (NN Studio keeps it in resources/data)")
        data = f'    parser.add_argument("--data", metavar="PATH", help={help_})\n'
    description = literal(f"Train or run the network exported to {one_line(filename, FILENAME_LIMIT)}.")
    return (
        "def parse_args(argv=None):\n"
        f"    parser = argparse.ArgumentParser(description={description})\n"
        '    parser.add_argument("--epochs", type=int, default=EPOCHS)\n'
        '    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="samples per step and '
        'process")\n'
        '    parser.add_argument("--lr", type=float, default=LEARNING_RATE, help="learning rate")\n'
        '    parser.add_argument("--device", default=DEVICE, help="auto, cpu, cuda, cuda:N or mps")\n'
        '    parser.add_argument("--weights", metavar="FILE", help="safetensors weights to start from")\n'
        '    parser.add_argument("--save", metavar="FILE", default=SAVE, help="where to write the trained '
        'weights")\n'
        f"{data}"
        '    parser.add_argument("--predict", metavar="IN.npz", help="run the network on these inputs")\n'
        '    parser.add_argument("--output", metavar="OUT.npz", default="outputs.npz", help="where --predict '
        'writes")\n'
        "    return parser.parse_args(argv)\n"
    )
