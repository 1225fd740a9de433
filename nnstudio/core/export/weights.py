"""Export a project's weights as safetensors: the file the exported script (``--weights``) and the app load.

The names are the compiled model's state-dict keys (``dense_1.weight``), the same the exported network class
uses, so ``model.load_state_dict(load_file(path))`` works with ``strict=True``. The metadata carries the
project (``embedded``), so that ``nnstudio import`` reopens it with these weights. An untrained project gets the
freshly initialised weights of its network (seeded with the project's training seed) and a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from nnstudio import __version__
from nnstudio.core.compile import CompiledModel, compile_graph
from nnstudio.core.errors import TrainingError
from nnstudio.core.export import embedded
from nnstudio.core.export.common import ExportError, ExportResult, check_target, one_line, write_atomic
from nnstudio.core.project.model import Project
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.project_run import load_weights

UNTRAINED = ("the project is not trained: wrote freshly initialised weights (seed {seed}); train it first "
             "for weights that have learned something")


def compiled_with_weights(project: Project) -> tuple[CompiledModel, list[str]]:
    """The project's network holding its trained weights (or fresh ones, with a warning), in eval mode."""
    seed = TrainConfig.from_dict(project.training).seed
    compiled = compile_graph(project.graph, seed=seed)
    warnings = []
    if project.weights:
        try:
            load_weights(compiled, project.weights)
        except TrainingError as exc:
            raise ExportError(str(exc)) from None
    else:
        warnings.append(UNTRAINED.format(seed=seed))
    compiled.module.eval()
    return compiled, warnings


def state_dict(compiled: CompiledModel) -> dict[str, torch.Tensor]:
    """CPU copies (safetensors refuses tensors that share memory or are not contiguous)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in compiled.module.state_dict().items()}


def metadata(project: Project) -> dict[str, str]:
    """The file's metadata: the project's name as one printable line (a lone surrogate, which UTF-8 cannot
    hold, written as its escape), at most 200 characters; and the whole project (``embedded``: ASCII JSON)
    with whether these are its trained weights, so that ``nnstudio import`` reopens it."""
    name = project.name if isinstance(project.name, str) else ""
    data = {"format": "pt", "exporter": f"NN Studio {__version__}", "project": one_line(name, 200)}
    document, _ = embedded.document_or_warning(project, "the project")
    if document is not None:
        data[embedded.KEY] = document
        data[embedded.WEIGHTS_KEY] = "trained" if project.weights else "untrained"
    return data


def export_weights(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    check_target(path)  # before any work: a bad path is refused at once
    compiled, warnings = compiled_with_weights(project)
    tensors = state_dict(compiled)
    metadata_ = metadata(project)
    if embedded.KEY not in metadata_:
        warnings += embedded.document_or_warning(project, path)[1]
    written = write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata_))
    count = sum(t.numel() for t in tensors.values())
    return ExportResult(Path(written), "safetensors", warnings, [f"{len(tensors)} tensors, {count:,} values"])
