"""The layer catalogue: every spec is complete, its config round-trips through JSON, and every parameter's
type and range are enforced with a message that names the parameter."""

from __future__ import annotations

import json
import math
import re

import pytest

from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph
from nnstudio.core.layers import registry
from nnstudio.core.layers.base import ACTIVATION_TITLES, ACTIVATIONS, Param

SPECS = list(registry.SPECS.values())
IDS = [s.type_id for s in SPECS]
PARAMS = [(s, p) for s in SPECS for p in s.params]
PARAM_IDS = [f"{s.type_id}.{p.name}" for s, p in PARAMS]


def valid_alternatives(p: Param) -> list:
    """Valid values other than the default, to show they survive a round trip too."""
    if p.kind == "bool":
        return [not p.default]
    if p.kind == "choice":
        return [c for c in p.choices if c != p.default]
    if p.kind == "int":
        lo = int(p.minimum) if p.minimum is not None else p.default - 5
        hi = int(p.maximum) if p.maximum is not None else p.default + 5
        return sorted({lo, hi, min(hi, lo + 1)} - {p.default})
    if p.kind == "float":
        lo, hi = p.minimum or 0.0, p.maximum if p.maximum is not None else 10.0
        return [lo, hi, (lo + hi) / 3]
    if p.kind == "padding":
        return [v for v in ("valid", "same", 0, 2) if v != p.default]
    if p.kind == "ints":
        return [[2, -1], [1, 28, 28], [5]]
    raise AssertionError(f"no alternatives for kind {p.kind}")


def invalid_values(p: Param) -> list:
    wrong_type = [None, "3", [1], {"a": 1}]
    if p.kind == "bool":
        return [1, 0, "true", None]
    if p.kind == "choice":
        return ["no_such_choice", 1, None, p.default.upper() + "!"]
    if p.kind in ("int", "float", "padding"):
        out = [*wrong_type, True, float("nan"), float("inf")]
        if p.kind in ("int", "padding"):
            out.append(1.5)
        if p.kind == "padding":
            out += ["full", -1]
        if p.kind == "float":
            out.append(10**400)  # too large for a float: must be refused, not crash
        if p.minimum is not None:
            out.append(int(p.minimum) - 1 if p.kind != "float" else p.minimum - 0.5)
        if p.maximum is not None:
            out.append(int(p.maximum) + 1 if p.kind != "float" else p.maximum + 0.5)
        return out
    if p.kind == "ints":
        return [[], [0], [-2], [-1, -1], [1.5], [True], "1,2", 3, None]
    raise AssertionError(f"no invalid values for kind {p.kind}")


# -- completeness -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_spec_is_complete(spec):
    assert spec.type_id and spec.type_id.isidentifier() and spec.type_id == spec.type_id.lower()
    assert registry.get_spec(spec.type_id) is spec
    assert spec.category in registry.CATEGORIES
    assert spec.title.strip() and spec.description.strip() and spec.formula.strip()
    names = [p.name for p in spec.params]
    assert len(set(names)) == len(names), "parameter names repeat"
    for p in spec.params:
        assert p.name.isidentifier() and p.title.strip()
        assert p.check(p.default) is None, f"{spec.type_id}.{p.name} default {p.default!r} fails its own check"
        if p.kind == "choice":
            assert p.choices and p.default in p.choices
    assert spec.param_problems(spec.defaults()) == []
    assert json.loads(json.dumps(spec.to_dict()))["type_id"] == spec.type_id
    if spec.is_input:
        assert spec.inputs == 0 and spec.has_output_port
    else:
        assert spec.build_fn is not None
    assert isinstance(spec.summary(spec.defaults()), str)


def test_catalogue_covers_every_category_and_ids_are_unique():
    groups = registry.by_category()
    assert all(groups[c] for c in registry.CATEGORIES), "a palette group is empty"
    assert len(IDS) == len(set(IDS))
    assert sum(len(g) for g in groups.values()) == len(SPECS)


def test_legacy_ids_resolve_and_unknown_ids_are_refused():
    for old, new in registry.LEGACY_IDS.items():
        assert registry.get_spec(old) is registry.SPECS[new]
    with pytest.raises(GraphError, match="no_such_layer"):
        registry.get_spec("no_such_layer")


def test_defaults_are_copies():
    spec = registry.get_spec("reshape")
    config = spec.with_defaults({})
    config["shape"].append(3)
    assert spec.param("shape").default == [-1]
    assert spec.with_defaults({})["shape"] == [-1]


# -- round trip ---------------------------------------------------------------------------------------------
def _json_round_trip(config: dict) -> dict:
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_default_config_round_trips_through_json(spec):
    config = spec.with_defaults(None)
    again = spec.with_defaults(_json_round_trip(config))
    assert again == config
    assert {k: type(v) for k, v in again.items()} == {k: type(v) for k, v in config.items()}
    assert spec.param_problems(again) == []


@pytest.mark.parametrize(("spec", "param"), PARAMS, ids=PARAM_IDS)
def test_changed_config_round_trips_through_json(spec, param):
    for value in valid_alternatives(param):
        assert param.check(value) is None, f"{value!r} should be valid for {param.name}"
        config = spec.with_defaults({param.name: value})
        again = spec.with_defaults(_json_round_trip(config))
        assert again == config
        assert type(again[param.name]) is type(config[param.name])
        assert spec.param_problems(again) == []


# -- enforcement --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "param"), PARAMS, ids=PARAM_IDS)
def test_invalid_values_are_refused_naming_the_parameter(spec, param):
    for value in invalid_values(param):
        problems = spec.param_problems({param.name: value})
        assert problems, f"{spec.type_id}.{param.name} accepted {value!r}"
        assert any(param.title in m for m in problems), problems
        assert all(len(m) < 300 for m in problems), "a message repeats a huge value"
        graph = Graph()
        with pytest.raises(GraphError, match=re.escape(param.title)):
            graph.add_node(spec.type_id, {param.name: value})
        assert not graph.nodes


@pytest.mark.parametrize(("spec", "param"), [(s, p) for s, p in PARAMS if p.minimum is not None],
                         ids=[i for (s, p), i in zip(PARAMS, PARAM_IDS) if p.minimum is not None])
def test_range_bounds_are_inclusive(spec, param):
    assert param.check(param.minimum if param.kind == "float" else int(param.minimum)) is None
    if param.maximum is not None:
        assert param.check(param.maximum if param.kind == "float" else int(param.maximum)) is None
    low = param.check(param.minimum - 1)
    assert low and "at least" in low and param.title in low


def test_unknown_parameter_is_refused_with_the_known_ones():
    problems = registry.get_spec("dense").param_problems({"unitz": 3})
    assert problems == ["Dense has no parameter 'unitz' (its parameters: units, bias, activation)"]


def test_choice_message_lists_the_choices():
    msg = registry.get_spec("activation").param("function").check("swish")
    assert msg == "Function must be one of " + ", ".join(ACTIVATIONS) + ", not 'swish'"


# -- formulas -----------------------------------------------------------------------------------------------
def _formula(type_id: str) -> str:
    return registry.get_spec(type_id).formula


def test_reference_formulas():
    assert "a = f(W a_prev + b)" in _formula("dense")
    assert "h_t = tanh(W_hh h_(t-1) + W_xh x_t + b_h)" in _formula("simple_rnn")
    assert "softmax(Q K^T / sqrt(d_k)) V" in _formula("multi_head_self_attention")
    conv = _formula("conv2d")
    assert "W[f, c, u, v]" in conv and "b_f" in conv and "sum" in conv
    for recurrent in ("lstm", "gru"):
        assert "h_t" in _formula(recurrent) and "sigmoid" in _formula(recurrent)


def test_activation_table_covers_the_usual_functions():
    table = _formula("activation")
    for title in ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "ELU", "SiLU"):
        assert f"{title}: f(" in table, title
        assert title in ACTIVATION_TITLES.values()
    assert "max(0, x)" in table and "1 / (1 + e^(-x))" in table
    # Every layer with an activation choice offers the whole table.
    for spec in SPECS:
        if spec.activation_param:
            assert spec.param("activation").choices == ACTIVATIONS


def test_messages_name_sizes_plainly():
    p = registry.get_spec("dropout").param("rate")
    assert p.check(1.5) == "Rate must be at most 0.99, not 1.5"
    assert p.check(-0.1) == "Rate must be at least 0, not -0.1"
    assert registry.get_spec("dense").param("units").check(0) == "Units must be at least 1, not 0"
    assert math.isclose(p.default, 0.5)
