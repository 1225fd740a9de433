"""The layer catalogue: type id -> spec, in palette order, plus old ids kept for renamed layers."""

from __future__ import annotations

from nnstudio.core.errors import GraphError
from nnstudio.core.layers import attention, conv, core_layers, io_layers, merge, norm, recurrent
from nnstudio.core.layers.base import LayerSpec, _short

CATEGORIES = (
    "Input/Output",
    "Core",
    "Convolution",
    "Recurrent",
    "Attention",
    "Normalisation & regularisation",
    "Activation",
    "Merge",
)

_ALL: list[LayerSpec] = [
    *io_layers.SPECS,
    *core_layers.SPECS,
    *conv.SPECS,
    *norm.SPECS,
    *recurrent.SPECS,
    *attention.SPECS,
    *merge.SPECS,
]
SPECS: dict[str, LayerSpec] = {spec.type_id: spec for spec in _ALL}

# Renamed layer types: old id -> current id. Files written with an old id still open.
LEGACY_IDS: dict[str, str] = {
    "linear": "dense",
    "mhsa": "multi_head_self_attention",
}


def resolve_type(type_id: str) -> str:
    if not isinstance(type_id, str):
        raise GraphError(f"a layer type must be a type id such as 'dense', not {_short(type_id)}")
    return LEGACY_IDS.get(type_id, type_id)


def get_spec(type_id: str) -> LayerSpec:
    try:
        return SPECS[resolve_type(type_id)]
    except KeyError:
        raise GraphError(f"unknown layer type {_short(type_id)}") from None


def by_category() -> dict[str, list[LayerSpec]]:
    groups: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
    for spec in SPECS.values():
        groups[spec.category].append(spec)
    return groups
