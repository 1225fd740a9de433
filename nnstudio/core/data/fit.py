"""Does a dataset fit a network? Plain-words problems comparing the data with the Input and Output nodes.

Both checks return a list of messages (empty when all is well), each saying what the data gives, what the
node expects and what to change, so the GUI can show them beside the dataset and the CLI can print them.
"""

from __future__ import annotations

from typing import Any, Sequence

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import plural
from nnstudio.core.data.registry import DATASETS
from nnstudio.core.layers.base import LONG, TensorInfo, format_shape

TASK_WORDS = {"multiclass": "multi-class", "binary": "binary", "regression": "regression"}


def _what(shape: tuple[int, ...], dtype: str) -> str:
    """What a per-sample shape is, in words: token ids, vectors, sequences or images."""
    if dtype == LONG:
        return "token ids"
    return {1: "vectors", 2: "sequences", 3: "images"}.get(len(shape), "arrays")


def _input_node(shape: tuple[int, ...], dtype: str) -> str:
    if dtype == LONG:
        return "an Input (tokens) node"
    return {1: "an Input (vector) node", 2: "an Input (sequence) node", 3: "an Input (image) node"}.get(
        len(shape), "an Input node and a Reshape")


def _option_names(config: dict[str, Any] | None, dataset: Dataset) -> set[str]:
    """The options of the dataset kind that made ``dataset`` (to suggest changing them)."""
    spec = DATASETS.get(str((config or {}).get("name", dataset.name)))
    return {p.name for p in spec.params} if spec else set()


def _shape_fix(data_shape: tuple[int, ...], want: tuple[int, ...], options: set[str]) -> str:
    change_input = f"change the Input to {format_shape(data_shape)}"
    if len(data_shape) == 3 and len(want) == 3:
        if "size" in options and want[0] == data_shape[0] and want[1] == want[2]:
            return f"set the dataset's size to {want[1]} or change the Input"
        if {"channels", "height", "width"} <= options and want[0] in (1, 3):
            changes = [f"{name} to {w}" for name, w, d in zip(("channels", "height", "width"), want, data_shape)
                       if w != d]
            return f"set the dataset's {' and '.join(changes)}, or {change_input}"
    if len(data_shape) == 1 and len(want) == 1:
        if "length" in options:
            return f"set the dataset's length to {want[0]} or the Input's length to {data_shape[0]}"
        return f"set the Input's features to {data_shape[0]}"
    return change_input


def check_fits(dataset: Dataset, input_infos: Sequence[TensorInfo], config: dict[str, Any] | None = None) -> list[str]:
    """Problems between the dataset's samples and the graph's Input nodes (shape, ids vs values, vocabulary).

    ``config`` is the project's dataset dict; when given, fixes name the dataset options that would help.
    """
    shape, dtype = dataset.input_shape, dataset.input_dtype
    given = f"{_what(shape, dtype)} {format_shape(shape)}"
    if not input_infos:
        return [f"the network has no Input node: add {_input_node(shape, dtype)} for the {dataset.name} "
                f"dataset's {given}"]
    if len(input_infos) > 1:
        return [f"the network has {len(input_infos)} Input nodes but the {dataset.name} dataset gives one input "
                "per sample: keep a single Input"]
    info = input_infos[0]
    want = tuple(int(d) for d in info.shape)
    if dtype != info.dtype:
        expected = "token ids" if info.dtype == LONG else "real values"
        return [f"the {dataset.name} dataset gives {given} but the Input node expects {expected} "
                f"{format_shape(want)}: use {_input_node(shape, dtype)}"]
    problems = []
    if want != shape:
        fix = _shape_fix(shape, want, _option_names(config, dataset))
        problems.append(f"the {dataset.name} dataset gives {given} but the Input node expects "
                        f"{format_shape(want)}: {fix}")
    if dtype == LONG and info.vocab is not None:
        size = dataset.vocab_size
        if size is None:
            size = int(dataset.x.max()) + 1 if len(dataset) else 0
        if size > info.vocab:
            fix = f"set the Input's vocabulary size to at least {size:,}"
            if "max_vocab" in _option_names(config, dataset):
                fix += f" or the dataset's max_vocab to {info.vocab:,}"
            problems.append(f"the text has a vocabulary of {plural(size, 'word')} but the Input's vocabulary "
                            f"size is {info.vocab:,}: {fix}")
    return problems


def check_targets(dataset: Dataset, task: str, output_shape: Sequence[int] | None = None) -> list[str]:
    """Problems between the dataset's targets and the Output node: its task and the size of what reaches it.

    ``task`` is the Output node's task; ``output_shape`` the per-sample shape it receives (None if unknown).
    A two-class dataset fits both a binary Output (1 score) and a multi-class one (2 scores).
    """
    words = TASK_WORDS.get(task, task)
    k = dataset.num_classes
    if dataset.task == "regression":
        if task != "regression":
            return [f"the dataset is a regression task but the Output node is {words}: set the Output's task to "
                    "regression"]
    elif task == "regression":
        suggestion = "binary" if k == 2 else "multi-class"
        return [f"the dataset is a {TASK_WORDS.get(dataset.task, dataset.task)} classification task "
                f"({plural(k, 'class')}) but the Output node is regression: set the "
                f"Output's task to {suggestion}"]
    elif task == "binary" and k > 2:
        return [f"the dataset has {k} classes but the Output node is binary, which tells only two apart: set the "
                f"Output's task to multi-class with {k} scores"]
    if output_shape is None:
        return []
    out = tuple(int(d) for d in output_shape)
    if len(out) != 1:
        return []  # the Output node reports shapes it cannot take
    if task == "multiclass" and dataset.task != "regression" and out[0] != k:
        return [f"the dataset has {k} classes but the Output receives {plural(out[0], 'score')}: give the last "
                f"Dense layer {k} units"]
    if task == "regression" and dataset.task == "regression":
        targets = int(dataset.y.shape[1]) if dataset.y.dim() == 2 else 1
        if out[0] != targets:
            unit = "unit" if targets == 1 else "units"
            return [f"the dataset has {plural(targets, 'target')} per sample but the Output receives "
                    f"{plural(out[0], 'value')}: give the last Dense layer {targets} {unit}"]
    return []
