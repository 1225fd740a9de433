"""How an exported script gets its data: the data plan (which standalone functions to copy, the load_data
and make_transforms source, the command-line options for the data, what the script needs installed).

Every source NN Studio loads is carried: generated sets (sentiment included) are generated in the script;
bundled ones are written beside it by the exporter (``python_code.export_python``); imports are read from
the project's path (``--data`` to point elsewhere) and the standard sets from their root (``--data-root``),
with the app's maths. Every value from the project reaches the text through ``formatting.literal`` (code)
or ``docstring_text`` / ``comment`` (docstrings, comments).
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from nnstudio.core.compile import CompiledModel
from nnstudio.core.errors import DatasetError, NNStudioError
from nnstudio.core.export.common import one_line
from nnstudio.core.export.formatting import comment, comment_text, docstring_text, literal
from nnstudio.core.layers.base import LONG, format_shape
from nnstudio.core.project.model import Project

# Generated datasets: name -> (the generator copied into the script, its options in call order).
GENERATED = {
    "spiral": ("make_spiral", ("samples", "classes", "noise", "turns", "seed")),
    "moons": ("make_moons", ("samples", "noise", "seed")),
    "circles": ("make_circles", ("samples", "noise", "factor", "seed")),
    "xor": ("make_xor", ("samples", "noise", "seed")),
    "blobs": ("make_blobs", ("samples", "classes", "noise", "seed")),
    "sine": ("make_sine", ("samples", "noise", "seed")),
    "polynomial": ("make_polynomial", ("samples", "degree", "noise", "seed")),
    "sentiment": ("make_sentiment", ("samples", "length", "seed")),
}
TABLES = ("iris", "wine", "breast_cancer")
BUNDLED = ("digits",)
# The standard sets: name -> folder under root (torchvision's layout).
STANDARD = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "kmnist": "KMNIST", "cifar10": "cifar-10-batches-bin"}
STANDARD_DEFAULTS = {"root": "", "download": False, "samples": 0, "test_set": True}
IMAGE_SETS = ("image_folder", "digits", *STANDARD)
TRANSFORM_DEFAULTS = {"hflip": False, "crop_padding": 0, "rotation": 0.0, "normalize": "none", "storage": "auto"}
# Imports from the user's path: name -> (the reader copied into the script, what it reads, its options).
IMPORTS = {
    "csv": ("load_csv_table", "CSV file", ("target", "task", "delimiter")),
    "npz": ("load_npz_arrays", ".npz file", ("task", "inputs")),
    "image_folder": ("load_image_folder", "image folder", ("channels", "height", "width")),
    "text_csv": ("load_text_csv", "CSV file", ("text_column", "label_column", "length", "max_vocab", "delimiter")),
}
NEEDS = ("torch", "numpy")  # what every exported script imports (pip names); it reads safetensors itself
NO_AUGMENT = ('def make_transforms(x_train):\n    """No augmentation or standardising of the batches (for '
              'training, for validation)."""\n    return None, None\n')


@dataclass
class DataPlan:
    """How the script gets its data: the data functions to copy, the load_data and make_augment source,
    the bundled file the exporter writes beside the script (if any), the --data / --data-root options, what
    the script needs installed, a line for the header and warnings for the person exporting."""

    functions: list[str]
    load_data: str
    data_file: str | None = None  # a file of resources/data written beside the script
    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    data_help: str | None = None  # --data PATH (None: the script has no --data)
    data_root: str | None = None  # --data-root's default folder (standard sets)
    needs: list[str] = field(default_factory=lambda: list(NEEDS))
    augment: str = NO_AUGMENT


def data_plan(project: Project, compiled: CompiledModel, base_dir: str | os.PathLike[str] | None = None) -> DataPlan:
    config = project.dataset or {}
    name = config.get("name")
    try:
        options, split, transforms = _options(config) if name else ({}, {}, {})
    except NNStudioError as exc:
        stub = _stub(compiled, f"The project's dataset settings cannot be used ({exc}).")
        return DataPlan([], stub, summary="none: fill in load_data()",
                        warnings=[f"the dataset settings cannot be used ({one_line(exc)}): load_data() is left "
                                  "to fill in"])
    if not name:
        return DataPlan([], _stub(compiled, "The project has no dataset chosen."),
                        summary="none chosen: fill in load_data()")
    stratify = compiled.task != "regression"
    test_fraction = split["test_fraction"]
    if name in STANDARD and options.get("test_set", True):
        test_fraction = 0.0  # the official test files are the app's test part
    split_code = (f"    train, val = split_indices(y, val_fraction={literal(split['val_fraction'])}, "
                  f"test_fraction={literal(test_fraction)}, seed={literal(split['split_seed'])}, "
                  f"stratify={literal(stratify)})\n")
    split_code += "    return x[train], y[train], x[val], y[val]\n"
    plan = _source(name, options, base_dir)
    plan.functions.append("split_indices")
    doc = _doc(f"{plan.summary[0].upper()}{plan.summary[1:]}, split exactly as NN Studio splits it.")
    plan.load_data = f"def load_data(args):\n{doc}{plan.load_data}{split_code}"
    steps = {k: transforms[k] for k in ("hflip", "crop_padding", "rotation") if transforms.get(k)}
    if transforms.get("normalize") == "mean_std":
        steps["normalize"] = True
    if steps:
        arguments = ", ".join(f"{k}={literal(v)}" for k, v in steps.items())
        said = (["training batches are augmented with kornia"] if set(steps) != {"normalize"} else []) + (
            ["every batch is standardised by the training part's per-channel mean and deviation"]
            if "normalize" in steps else [])
        doc = _doc(f"On the device, as NN Studio does: {'; then '.join(said)}.")
        plan.augment = f"def make_transforms(x_train):\n{doc}    return image_transforms(x_train, {arguments})\n"
        plan.functions.append("image_transforms")
        if set(steps) != {"normalize"}:
            plan.needs.append("kornia")
    if name in GENERATED or name in BUNDLED or name in TABLES:
        plan.warnings += _fit_warnings(project, base_dir)
    elif name in STANDARD:
        plan.warnings += _standard_warnings(name, plan.data_root or "")
    elif name not in STANDARD and (base_dir is not None or os.path.isabs(os.path.expanduser(options["path"]))):
        from nnstudio.core.data.registry import check_dataset  # a relative path may start beside the script

        try:
            problems = check_dataset(config, base_dir)
        except (RuntimeError, ValueError, OSError) as exc:  # an unknown ~user in the path, say
            problems = [f"its path cannot be checked ({exc})"]
        plan.warnings += [f"the exported script will not train as it is: {one_line(p)}" for p in problems]
    return plan


def _options(config: dict) -> tuple[dict, dict, dict]:
    """The dataset's checked options, its split options and its image transforms (DatasetError when one is
    wrong). The transform and standard-set options are read here from the shared schema when the registry
    does not know them (yet)."""
    from nnstudio.core.data.registry import DATASETS, get_spec, split_options

    name = config.get("name")
    image = name in IMAGE_SETS
    transforms = _transforms(config) if image else {}
    spec = DATASETS.get(name) if isinstance(name, str) else None
    if spec is None and name in STANDARD:
        known = {**STANDARD_DEFAULTS, **{k: v for k, v in config.items() if k in STANDARD_DEFAULTS}}
        wrong = [k for k, v in known.items() if type(v) is not type(STANDARD_DEFAULTS[k])]
        if wrong:
            raise DatasetError(f"the {name} dataset's option {wrong[0]!r} must be a "
                               f"{type(STANDARD_DEFAULTS[wrong[0]]).__name__}")
        return known, split_options(config), transforms
    spec = get_spec(name)
    own = {p.name for p in spec.params}
    checked = {k: v for k, v in config.items() if k in own or not (image and k in TRANSFORM_DEFAULTS)}
    return spec.options(checked), split_options(config), transforms


def _transforms(config: dict) -> dict:
    """hflip, crop_padding, rotation and normalize from a dataset dict, checked (schema.md's ranges)."""
    out = {**TRANSFORM_DEFAULTS, **{k: config[k] for k in TRANSFORM_DEFAULTS if k in config}}
    if not isinstance(out["hflip"], bool):
        raise DatasetError(f"the dataset's option 'hflip' must be true or false, not {out['hflip']!r}")
    crop = out["crop_padding"]
    if isinstance(crop, bool) or not isinstance(crop, int) or not 0 <= crop <= 16:
        raise DatasetError(f"the dataset's option 'crop_padding' must be a whole number from 0 to 16, not {crop!r}")
    angle = out["rotation"]
    if isinstance(angle, bool) or not isinstance(angle, (int, float)) or not 0 <= angle <= 180:
        raise DatasetError(f"the dataset's option 'rotation' must be a number from 0 to 180, not {angle!r}")
    out["rotation"] = float(angle)
    if out["normalize"] not in ("none", "mean_std"):
        raise DatasetError(f"the dataset's option 'normalize' must be none or mean_std, not {out['normalize']!r}")
    return out


def _path(value: str, base_dir: str | os.PathLike[str] | None) -> str:
    """A data path as the script's default: relative paths start at ``base_dir`` (the project's folder) when
    it is known, else at the script's own folder."""
    if value and base_dir is not None:
        return str(Path(base_dir) / os.path.expanduser(value))  # (an unknown ~user is left as it is)
    return value


def _source(name: str, options: dict, base_dir: str | os.PathLike[str] | None) -> DataPlan:
    """The first lines of load_data (x and y for the whole set), the functions they call, the summary."""
    def call(function: str, *first: str, keys: tuple[str, ...] = ()) -> str:
        args = [*first, *(f"{k}={literal(options[k])}" for k in keys)]
        return f"    x, y = {function}({', '.join(args)})\n"

    if name in GENERATED:
        function, keys = GENERATED[name]
        return DataPlan([function], call(function, keys=keys),
                        summary=f"NN Studio's {name} set, generated here with the same maths and seed as in the app")
    if name in BUNDLED or name in TABLES:
        file = "digits.npz" if name == "digits" else f"{name}.csv"
        path = f"data_path(args.data, {literal(file)}, {literal('bundled ' + file)})"
        source = (call("load_digits", path, keys=("size",)) if name == "digits" else
                  f"    x, y = load_csv_table({path}, target=\"target\", delimiter=\",\")\n")
        return DataPlan(["load_digits" if name == "digits" else "load_csv_table", "data_path"], source, file,
                        f"NN Studio's bundled {name} set ({file}, written beside this file)",
                        data_help=f"NN Studio's {file} (default: the one beside this file)")
    if name in STANDARD:
        folder = STANDARD[name]
        root = options.get("root") or default_root()
        where = f"data_root(args.data_root, {literal(_path(root, base_dir))})"
        source = (call("load_cifar10", where, keys=("samples",)) if name == "cifar10"
                  else call("load_idx_set", where, literal(folder), keys=("samples",)))
        return DataPlan(["load_cifar10" if name == "cifar10" else "load_idx_set", "data_root"], source,
                        summary=f"the {name} training files in torchvision's layout under --data-root",
                        data_root=_path(root, base_dir))
    function, what, keys = IMPORTS[name]
    path = f"data_path(args.data, {literal(_path(options['path'], base_dir))}, {literal(what)})"
    needs = [*NEEDS, "Pillow"] if name == "image_folder" else list(NEEDS)
    return DataPlan([function, "data_path"], call(function, path, keys=keys),
                    summary=f"the {what} the project names, read with NN Studio's maths (--data to use another)",
                    data_help=f"the {what} to read (default: the project's)", needs=needs)


def _standard_warnings(name: str, root: str) -> list[str]:
    """A warning when the standard set's training files are not under ``root`` (yet): the script reads them
    from there or from --data-root, and never downloads them."""
    try:
        from nnstudio.core.data.standard import locate

        _, missing = locate(name, root, ("train",))
    except (ImportError, NNStudioError, OSError, RuntimeError, ValueError):
        return []
    if not missing:
        return []
    return [f"the {name} training files are not in {one_line(root)} yet: the script reads them from there (or "
            "from --data-root) and does not download them; NN Studio does, with the dataset's download option"]


def default_root() -> str:
    """The folder NN Studio keeps downloaded datasets in (its user data folder / datasets)."""
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - a dependency of NN Studio
        return str(Path("~/.local/share/nnstudio/datasets").expanduser())
    return str(Path(platformdirs.user_data_dir("nnstudio")) / "datasets")


def _doc(text: str, indent: str = "    ") -> str:
    """A one-line docstring holding ``text`` (escaped), with its newline."""
    return f'{indent}"""{docstring_text(text)}"""\n'


def _fit_warnings(project: Project, base_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The app's own check that the dataset fits the network (cheap for built-in sets)."""
    try:
        from nnstudio.core.training.project_run import prepare

        prepare(project, device="cpu", base_dir=base_dir)  # the script picks its own device
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
