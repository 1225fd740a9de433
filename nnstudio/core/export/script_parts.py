"""The project-specific parts of an exported script: header, settings, loss / optimizer / targets and the
command line. The generic parts are real functions in ``standalone_data``, ``standalone_files``,
``standalone_standard`` and ``standalone_train``; the data plan is ``script_data``'s.

Every value from the project reaches the text through ``formatting``'s helpers: ``literal`` in code,
``comment`` / ``comment_text`` in comments, ``docstring_text`` in docstrings. Nothing is put in bare.
"""

from __future__ import annotations

import textwrap

from nnstudio import __version__
from nnstudio.core.compile import CompiledModel
from nnstudio.core.export.common import one_line
from nnstudio.core.export.script_data import DataPlan
from nnstudio.core.export.formatting import comment, comment_text, docstring_text, literal
from nnstudio.core.export.model_code import one_title
from nnstudio.core.layers.base import LONG, format_shape
from nnstudio.core.project.model import Project
from nnstudio.core.training.config import TrainConfig

FILENAME_LIMIT = 120  # the longest file name the script repeats in its comments and --help
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "bce": "nn.BCEWithLogitsLoss()", "mse": "nn.MSELoss()",
          "mae": "nn.L1Loss()", "huber": "nn.HuberLoss()"}


def _doc(text: str, indent: str = "    ") -> str:
    """A one-line docstring holding ``text`` (escaped), with its newline."""
    return f'{indent}"""{docstring_text(text)}"""\n'


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
        "(torchrun: DistributedDataParallel, one process per GPU; --batch-size is per process,",
        " --global-batch-size N splits N over them. Each epoch ends with a snapshot that a restart,",
        " e.g. torchrun --max-restarts=3, resumes from; --snapshot '' turns it off.)",
        "Start from the app's weights, exported with: nnstudio export PROJECT -o weights.safetensors",
        f"    python {filename} --weights weights.safetensors",
        f"Predict: the inputs in an .npz file (an array named {arrays}), the outputs to outputs.npz:",
        f"    python {filename} --weights weights.safetensors --predict inputs.npz",
        "",
        f"Needs {_listed(plan.needs)} (pip install {' '.join(plan.needs)}), nothing from NN Studio.",
        *_not_carried(config),
    ]
    return "\n".join(comment(line) for line in lines if line is not None)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


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


def parse_args_source(plan: DataPlan, filename: str) -> str:
    data = ""
    if plan.data_help:
        data = f'    parser.add_argument("--data", metavar="PATH", help={literal(plan.data_help)})\n'
    if plan.data_root is not None:
        help_ = literal(f"the folder holding the dataset's files (default: {plan.data_root})")
        data += f'    parser.add_argument("--data-root", metavar="FOLDER", help={help_})\n'
    description = literal(f"Train or run the network exported to {one_line(filename, FILENAME_LIMIT)}.")
    return (
        "def parse_args(argv=None):\n"
        f"    parser = argparse.ArgumentParser(description={description})\n"
        '    parser.add_argument("--epochs", type=int, default=EPOCHS)\n'
        '    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="samples per step and '
        'process")\n'
        '    parser.add_argument("--global-batch-size", type=int, metavar="N", help="samples per step '
        'over all processes, split evenly (instead of --batch-size)")\n'
        '    parser.add_argument("--lr", type=float, default=LEARNING_RATE, help="learning rate")\n'
        '    parser.add_argument("--device", default=DEVICE, help="auto, cpu, cuda, cuda:N or mps")\n'
        '    parser.add_argument("--weights", metavar="FILE", help="safetensors weights to start from")\n'
        '    parser.add_argument("--save", metavar="FILE", default=SAVE, help="where to write the trained '
        'weights")\n'
        '    parser.add_argument("--snapshot", metavar="FILE", help="saved each epoch, resumed '
        'from if it exists (default: beside --save; \'\' for none)")\n'
        f"{data}"
        '    parser.add_argument("--predict", metavar="IN.npz", help="run the network on these inputs")\n'
        '    parser.add_argument("--output", metavar="OUT.npz", default="outputs.npz", help="where --predict '
        'writes")\n'
        "    return parser.parse_args(argv)\n"
    )
