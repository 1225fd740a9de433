"""Every reason a project cannot train, from one function: :func:`project_problems`.

The window (through its session: the Problems panel, the status bar, F5 and the Start button) and the command
line (``nnstudio validate`` and ``nnstudio train``) all ask it; training itself (``project_run.prepare``)
refuses data that do not fit with the same checks and words (:func:`check_data_fits`). Each problem is a
:class:`ProjectProblem`: where it comes from, the node a person should look at (None for the project as a
whole) and one plain line saying what is wrong and what to do.

Sources, in the order they are listed:

- ``graph``: the network's own problems (``infer_shapes(graph).problems()``), on their nodes;
- ``memory``: a network that does not fit in the memory of the device it would train on, with the project's
  batch size and optimizer (``memory.check_fits``);
- ``settings``: training settings that do not check (``TrainConfig.from_dict``), a device this machine lacks;
- ``dataset``: no dataset chosen, or a dataset config that loading would refuse (a bad option, a missing or
  unreadable file; ``data.registry.check_dataset``, which never reads the data);
- ``data``: given the loaded data (or why they could not be loaded): the load error, a split that leaves a
  part empty, data that do not fit the Input (on the Input node) and targets that do not fit the Output (on
  the Output node; ``data.fit.check_fits`` / ``check_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.errors import DatasetError, NNStudioError, TrainingError
from nnstudio.core.graph import Graph
from nnstudio.core.shapes import GraphInfo, infer_shapes

SOURCES = ("graph", "memory", "settings", "dataset", "data")
NO_DATASET = "the project has no dataset: choose one (e.g. \"spiral\" or \"digits\") first"
DOES_NOT_FIT = "the dataset does not fit the network: "


@dataclass(frozen=True)
class ProjectProblem:
    """One reason the project cannot train: its ``source`` (one of ``SOURCES``), the node to look at (None for
    the project as a whole) and a one-line ``message``."""

    source: str
    node_id: str | None
    message: str

    def text(self) -> str:
        return f"{self.node_id}: {self.message}" if self.node_id else self.message


def project_problems(project: Any, info: GraphInfo | None = None, data: Any = None,
                     base_dir: str | Path | None = None, *,
                     dataset_checks: Sequence[ProjectProblem] | None = None) -> list[ProjectProblem]:
    """Every problem of ``project`` (see the module's doc), in source order. ``info``: the graph's inferred
    shapes when the caller has them; ``data``: the loaded data (a DataSplit or a Dataset), or the load error
    (an exception or its message), or None when the data were not loaded (then nothing is said of them);
    ``base_dir``: where relative data paths start (the project file's folder); ``dataset_checks``:
    ``dataset_problems(project.dataset, base_dir)`` when the caller keeps it (it looks at files). Never raises
    for a bad project."""
    graph: Graph = project.graph
    info = info if info is not None else infer_shapes(graph)
    config, settings = settings_problems(project.training)
    out = graph_problems(info)
    out += memory_problems(graph, info, config, data)
    out += settings
    out += list(dataset_checks) if dataset_checks is not None else dataset_problems(project.dataset, base_dir)
    if data is not None:
        out += data_problems(data, graph, info, project.dataset)
    return out


# -- the parts --------------------------------------------------------------------------------------------------
def graph_problems(info: GraphInfo) -> list[ProjectProblem]:
    return [ProjectProblem("graph", p.node_id, p.message) for p in info.problems()]


def settings_problems(training: Any) -> tuple[Any, list[ProjectProblem]]:
    """(the checked TrainConfig or None, the problems of the training settings and their device)."""
    from nnstudio.core.training.config import TrainConfig
    from nnstudio.core.training.device import resolve_device

    try:
        config = TrainConfig.from_dict(training)
    except TrainingError as exc:
        return None, [ProjectProblem("settings", None, str(exc))]
    except (TypeError, ValueError):
        return None, [ProjectProblem("settings", None, "the training settings must be given by name, such as "
                                                       "{\"epochs\": 20}")]
    try:
        resolve_device(config.device)
    except TrainingError as exc:
        return config, [ProjectProblem("settings", None, str(exc))]
    return config, []


def memory_problems(graph: Graph, info: GraphInfo, config: Any, data: Any = None) -> list[ProjectProblem]:
    """Whether training ``graph`` with ``config``'s batch size and optimizer fits the memory of its device (the
    CPU when that device is not there), with the loaded ``data`` on it too when it is not the CPU (the engine
    keeps them there); nothing for a graph with problems or settings that do not check."""
    from nnstudio.core import memory
    from nnstudio.core.training.device import resolve_device

    if config is None or not info.ok:
        return []
    try:
        device = resolve_device(config.device)
    except TrainingError:
        device = resolve_device("cpu")
    need = memory.estimate(graph, config.batch_size, config.optimizer, info=info)
    parts = [data.train, data.val] if isinstance(data, DataSplit) else [data] if isinstance(data, Dataset) else []
    on_device = sum(part.resident_bytes() for part in parts if part is not None)  # a streamed part: its labels
    try:
        memory.check_fits(need, config.batch_size, device, "train",
                          data_bytes=on_device if device.type != "cpu" else 0)
    except memory.NotEnoughMemoryError as exc:
        return [ProjectProblem("memory", None, str(exc))]
    return []


def dataset_problems(config: Any, base_dir: str | Path | None = None) -> list[ProjectProblem]:
    """No dataset chosen, or what loading the dataset would refuse, found without reading the data."""
    from nnstudio.core.data.registry import check_dataset

    if not config:
        return [ProjectProblem("dataset", None, NO_DATASET)]
    return [ProjectProblem("dataset", None, m) for m in check_dataset(config, base_dir)]


def data_problems(data: Any, graph: Graph, info: GraphInfo | None = None,
                  config: dict[str, Any] | None = None) -> list[ProjectProblem]:
    """Problems of loaded data against the network, or the load error (``data`` an exception or a message)."""
    if isinstance(data, BaseException):
        return [ProjectProblem("data", None, load_message(data))]
    if isinstance(data, str):
        return [ProjectProblem("data", None, data or "the data could not be loaded")]
    info = info if info is not None else infer_shapes(graph)
    if isinstance(data, DataSplit):
        dataset = data.train
    else:
        dataset = data
        problem = _split_problem(dataset, config)
        if problem:
            return [ProjectProblem("data", None, problem)]
    return fit_problems(dataset, graph, info, config)


def fit_problems(dataset: Dataset, graph: Graph, info: GraphInfo,
                 config: dict[str, Any] | None = None) -> list[ProjectProblem]:
    """Whether the samples fit the Input nodes training feeds (on the Input node when there is one) and the
    targets fit the Output node (on it). Parts of the network that are not known yet are not judged: their
    problems are the graph's."""
    from nnstudio.core.data.fit import check_fits, check_targets
    from nnstudio.core.layers.io_layers import TASKS

    inputs, output = network_ends(graph, info)
    out: list[ProjectProblem] = []
    infos = [info.nodes[nid].output for nid in inputs]
    if inputs and all(i is not None for i in infos):
        where = inputs[0] if len(inputs) == 1 else None
        out += [ProjectProblem("data", where, m) for m in check_fits(dataset, infos, config)]
    if output is not None:
        task = graph.nodes[output].params.get("task")
        if task in TASKS:
            wires = graph.inputs_of(output)
            src = info.nodes.get(wires[0].src) if wires else None
            shape = tuple(src.output.shape) if src is not None and src.output is not None else None
            out += [ProjectProblem("data", output, m) for m in check_targets(dataset, task, shape)]
    return out


def check_data_fits(dataset: Dataset, graph: Graph, info: GraphInfo | None = None,
                    config: dict[str, Any] | None = None) -> None:
    """Raise DatasetError (``the dataset does not fit the network: ...``) unless ``dataset`` fits the network:
    what training calls before it starts, with the words the Problems panel shows."""
    problems = fit_problems(dataset, graph, info if info is not None else infer_shapes(graph), config)
    if problems:
        raise DatasetError(DOES_NOT_FIT + "; ".join(p.message for p in problems))


def network_ends(graph: Graph, info: GraphInfo) -> tuple[list[str], str | None]:
    """(the Input nodes training feeds, in order: those leading to the Output, as ``compile_graph`` takes
    them; the Output node's id, None unless there is exactly one)."""
    from nnstudio.core.memory import output_ancestors

    inputs = [nid for nid in info.order_all() if nid in graph.nodes and graph.nodes[nid].spec.is_input]
    output, seen = output_ancestors(graph)
    if seen is None:
        return inputs, None
    return [nid for nid in inputs if nid in seen], output


def _split_problem(dataset: Dataset, config: dict[str, Any] | None) -> str | None:
    """Why ``dataset`` cannot be split as ``config`` asks (a part left empty), found on index tensors alone."""
    from nnstudio.core.data.registry import split_options
    from nnstudio.core.data.split import split_indices

    try:
        options = split_options(config or {})
        split_indices(dataset, options["val_fraction"], options["test_fraction"], options["split_seed"])
    except DatasetError as exc:
        return str(exc)
    return None


# -- loading, for the command line ------------------------------------------------------------------------------
def load_data_for(project: Any, base_dir: str | Path | None = None) -> DataSplit | str | None:
    """The project's data split as training loads them (``load_split``: bounded by each importer's
    ``max_megabytes``), or the one line saying why they cannot be loaded; None when the project has no dataset
    or its config has problems of its own (``dataset_problems`` says them)."""
    from nnstudio.core.data.registry import load_split

    if not project.dataset or dataset_problems(project.dataset, base_dir):
        return None
    try:
        return load_split(project.dataset, base_dir=base_dir)
    except Exception as exc:  # noqa: BLE001 - a broken file is a problem to list, never a crash
        return load_message(exc)


def load_message(exc: BaseException) -> str:
    """The plain words for why the data could not be loaded."""
    if isinstance(exc, NNStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory reading the data: lower the dataset's size or its memory limit"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return f"the data could not be read ({type(exc).__name__}{': ' + text if text else ''})"


def summary_line(problems: Sequence[ProjectProblem], shown: int = 3) -> str:
    """The first problems as one line (``a; b; c (and 2 more)``), for a refusal."""
    text = "; ".join(p.text() for p in problems[:shown])
    more = len(problems) - shown
    return text + (f" (and {more} more)" if more > 0 else "")
