"""Datasets: synthetic, bundled real sets and importers for the user's own files. All offline.

Everything goes through :func:`load_dataset` / :func:`load_split` with a project's ``dataset`` dict
(``{"name": "spiral", "samples": 600}``); :data:`DATASETS` lists what is offered and the options of each.
:func:`check_fits` and :func:`check_targets` say in plain words when data and network do not match. A
:class:`LoadToken` passed to :func:`load_dataset` cancels a load from another thread and reports its progress.
"""

from nnstudio.core.data.base import PREVIEWS, TASKS, DataSplit, Dataset
from nnstudio.core.data.fit import check_fits, check_targets
from nnstudio.core.data.reading import LoadCancelled, LoadToken
from nnstudio.core.data.registry import (DATASETS, SPLIT_PARAMS, DatasetSpec, Option, check_dataset, get_spec,
                                         load_dataset, load_split)
from nnstudio.core.data.split import split

__all__ = [
    "DATASETS", "PREVIEWS", "SPLIT_PARAMS", "TASKS", "DataSplit", "Dataset", "DatasetSpec", "LoadCancelled",
    "LoadToken", "Option",
    "check_dataset", "check_fits", "check_targets", "get_spec", "load_dataset", "load_split", "split",
]
