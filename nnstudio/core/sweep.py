"""Sweeps: one setting's values crossed with another's, each point trained once per seed.

A sweep is a dict of settings to their values (``{"optimizer": ["sgd", "adam"], "lr": [0.01, 0.001]}``) taken
as a grid (every combination) or as a number of random draws, each repeated over ``seeds`` seeds. A setting is
a training setting (``training.config.PARAMS``: optimizer, lr, batch_size, epochs, l2 ...) or the rate of one
Dropout layer, named ``dropout:<node id>``. Every value is checked as the setting itself checks it, so a bad
one is refused before anything trains, with one line naming the setting and the value.

:func:`expand` gives the points to train (settings plus ``seed``), :func:`apply` the project copy a point
trains, and :func:`results_table` the mean and spread over seeds of each point's final metrics.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from nnstudio.core.errors import TrainingError
from nnstudio.core.layers.base import Param
from nnstudio.core.text import short
from nnstudio.core.training.config import PARAMS

MODES = ("grid", "random")
MAX_POINTS = 1000  # points (before seeds) a sweep may train; also the most values one setting may list
MAX_SEEDS = 20
DROPOUT = "dropout:"
SWEEPABLE = {p.name: p for p in PARAMS if p.name not in ("telemetry_every", "seed")}
DROPOUT_RATE = Param("rate", "float", 0.5, minimum=0.0, maximum=0.95)


@dataclass
class SweepSpec:
    values: dict[str, list[Any]]
    mode: str = "grid"
    draws: int = 0  # random mode: how many points
    seeds: int = 1
    seed: int = 0  # the first run's seed (then seed + 1, ...); also the random draws' seed


def _param(name: str, graph: Any = None) -> Param:
    if name.startswith(DROPOUT):
        node = name[len(DROPOUT):]
        if graph is not None:
            found = graph.nodes.get(node)
            if found is None or found.type_id != "dropout":
                raise TrainingError(f"sweep setting {short(name)}: the network has no Dropout layer {short(node)}")
        return DROPOUT_RATE
    if name not in SWEEPABLE:
        raise TrainingError(f"sweep setting {short(name)} is not one a sweep can change (choose from "
                            f"{', '.join(sorted(SWEEPABLE))}, or dropout:<layer id>)")
    return SWEEPABLE[name]


def _typed(param: Param, value: Any) -> Any:
    if param.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check(spec: SweepSpec, graph: Any = None) -> SweepSpec:
    """``spec`` with its values typed (an int where a float is meant becomes a float); TrainingError naming
    the first bad setting or value otherwise."""
    if spec.mode not in MODES:
        raise TrainingError(f"sweep mode must be grid or random, not {short(spec.mode)}")
    if not spec.values:
        raise TrainingError("a sweep needs at least one setting with its values")
    if not isinstance(spec.seeds, int) or not 1 <= spec.seeds <= MAX_SEEDS:
        raise TrainingError(f"a sweep repeats each point over 1 to {MAX_SEEDS} seeds, not {short(spec.seeds)}")
    typed: dict[str, list[Any]] = {}
    for name, values in spec.values.items():
        param = _param(name, graph)
        if not isinstance(values, list) or not values:
            raise TrainingError(f"sweep setting {short(name)} needs a list of values")
        if len(values) > MAX_POINTS:
            raise TrainingError(f"sweep setting {short(name)} has {len(values):,} values; at most {MAX_POINTS:,}")
        out, seen = [], set()
        for value in values:
            value = _typed(param, value)
            problem = param.check(value)
            if problem:
                raise TrainingError(f"sweep setting {short(name)}: {problem}")
            if (type(value), value) not in seen:  # 1 and True are not the same value here
                seen.add((type(value), value))
                out.append(value)
        typed[name] = out
    count = math.prod(len(v) for v in typed.values()) if spec.mode == "grid" else spec.draws
    if spec.mode == "random" and not (isinstance(spec.draws, int) and spec.draws >= 1):
        raise TrainingError(f"a random sweep needs a number of draws of at least 1, not {short(spec.draws)}")
    if count > MAX_POINTS:
        raise TrainingError(f"the sweep has {count:,} points; at most {MAX_POINTS:,} are trained in one sweep")
    return SweepSpec(typed, spec.mode, spec.draws, spec.seeds, spec.seed)


def expand(spec: SweepSpec, graph: Any = None) -> list[dict[str, Any]]:
    """The points to train, in order: each a dict of the swept settings plus ``seed``; the seeds of one
    point follow each other. A random sweep draws its points with ``spec.seed`` (the same spec, the same
    points)."""
    spec = check(spec, graph)
    names = list(spec.values)
    if spec.mode == "grid":
        points = [dict(zip(names, combo)) for combo in itertools.product(*(spec.values[n] for n in names))]
    else:
        rng = random.Random(spec.seed)
        points = [{n: rng.choice(spec.values[n]) for n in names} for _ in range(spec.draws)]
    return [{**point, "seed": spec.seed + k} for point in points for k in range(spec.seeds)]


def parse_set(text: str, graph: Any = None) -> tuple[str, list[Any]]:
    """``"optimizer=sgd,adam"`` -> ("optimizer", ["sgd", "adam"]), each value read as the setting's kind
    (``--set`` on the command line); TrainingError naming what is wrong."""
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise TrainingError(f"--set {short(text)}: write it as SETTING=VALUE,VALUE (e.g. lr=0.01,0.001)")
    param = _param(name, graph)
    values = []
    for word in (w.strip() for w in rest.split(",")):
        if not word:
            raise TrainingError(f"--set {short(text)}: an empty value")
        values.append(_read(param, name, word))
    return name, values


def _read(param: Param, name: str, word: str) -> Any:
    try:
        if param.kind == "int":
            return int(word)
        if param.kind == "float":
            value = float(word)
            if not math.isfinite(value):
                raise ValueError
            return value
        if param.kind == "bool":
            if word.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return word.lower() in ("true", "1", "yes")
    except ValueError:
        raise TrainingError(f"sweep setting {short(name)}: {short(word)} is not {_KIND_WORDS[param.kind]}") from None
    return word


_KIND_WORDS = {"int": "a whole number", "float": "a finite number", "bool": "true or false"}


def apply(project: Any, point: dict[str, Any]) -> Any:
    """A copy of ``project`` whose training settings and Dropout rates are those of ``point``, without weights
    or history; the project itself is untouched. The copy shares the project's runs (and their weights): a run
    recorded for it is one of the project's."""
    twin = copy.copy(project)
    twin.graph = project.graph.copy()  # not deepcopy: the graph's events hold the window's handlers
    twin.training = dict(project.training or {})
    for name, value in point.items():
        if name.startswith(DROPOUT):
            twin.graph.nodes[name[len(DROPOUT):]].params["rate"] = value
        else:
            twin.training[name] = value
    twin.weights, twin.history, twin.weights_fingerprint, twin.training_state = None, None, None, None
    return twin


_SPEC_KEYS = {"values", "mode", "draws", "seeds", "seed"}


def spec_to_dict(spec: SweepSpec) -> dict[str, Any]:
    """A sweep as project.json keeps it (``Project.sweep``)."""
    return {"values": {k: list(v) for k, v in spec.values.items()}, "mode": spec.mode, "draws": spec.draws,
            "seeds": spec.seeds, "seed": spec.seed}


def spec_from_dict(data: Any, graph: Any = None) -> SweepSpec:
    """The checked SweepSpec of a ``spec_to_dict`` dict (from a file); TrainingError naming the field."""
    if not isinstance(data, dict) or set(data) - _SPEC_KEYS or "values" not in data:
        raise TrainingError("a sweep must be an object with values, and optionally mode, draws, seeds and seed")
    values = data["values"]
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise TrainingError("a sweep's values must be an object of settings to lists of values")
    seed = data.get("seed", 0)
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= 2**31):
        raise TrainingError(f"a sweep's seed must be a whole number from 0 to 2^31, not {short(seed)}")
    draws = data.get("draws", 0)
    if isinstance(draws, bool) or not isinstance(draws, int):
        raise TrainingError(f"a sweep's draws must be a whole number, not {short(draws)}")
    return check(SweepSpec({k: v for k, v in values.items()}, data.get("mode", "grid"), draws,
                           data.get("seeds", 1), seed), graph)


def spec_text(spec: SweepSpec) -> str:
    """One line: ``optimizer: sgd, adam, rmsprop; lr: 0.01, 0.001 (grid, 2 seeds: 12 runs)``."""
    words = "; ".join(f"{k}: {', '.join(_word(v) for v in values)}" for k, values in spec.values.items())
    points = math.prod(len(v) for v in spec.values.values()) if spec.mode == "grid" else spec.draws
    how = "grid" if spec.mode == "grid" else f"{spec.draws} random draws"
    runs = points * spec.seeds
    return (f"{words} ({how}, {spec.seeds} seed{'s' if spec.seeds != 1 else ''}: "
            f"{runs:,} run{'s' if runs != 1 else ''})")


def _word(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def point_key(point: dict[str, Any]) -> tuple:
    """What identifies a point across its seeds."""
    return tuple(sorted((k, repr(v)) for k, v in point.items() if k != "seed"))


def results_table(results: list[tuple[dict[str, Any], dict[str, float]]]) -> list[dict[str, Any]]:
    """One row per point (in the order first seen) from (point, final metrics) pairs: the point's settings,
    ``runs`` (how many seeds ran) and, per metric, ``<metric>_mean`` and ``<metric>_std`` (the population
    standard deviation over the seeds; 0 for one seed)."""
    groups: dict[tuple, tuple[dict[str, Any], list[dict[str, float]]]] = {}
    for point, final in results:
        key = point_key(point)
        if key not in groups:
            groups[key] = ({k: v for k, v in point.items() if k != "seed"}, [])
        groups[key][1].append(final or {})
    rows = []
    for settings, finals in groups.values():
        row: dict[str, Any] = {**settings, "runs": len(finals)}
        metrics = sorted({m for f in finals for m, v in f.items() if isinstance(v, (int, float))})
        for metric in metrics:
            values = [float(f[metric]) for f in finals if isinstance(f.get(metric), (int, float))]
            mean = sum(values) / len(values)
            row[f"{metric}_mean"] = mean
            row[f"{metric}_std"] = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        rows.append(row)
    return rows


# -- running a sweep ------------------------------------------------------------------------------------------
@dataclass
class SweepOutcome:
    sweep_id: str
    results: list[tuple[dict[str, Any], dict[str, float]]]  # (point, final metrics) per run, in order
    table: list[dict[str, Any]]  # results_table(results)
    notes: list[str]  # what recording the runs said (old runs dropped to keep the file bounded)
    stopped: bool = False


def next_sweep_id(runs: list[dict[str, Any]]) -> str:
    numbers = [int(r["sweep"].split("-", 1)[1]) for r in runs if isinstance(r.get("sweep"), str)]
    return f"sweep-{max(numbers, default=0) + 1}"


def sweep_results(project: Any, sweep_id: str) -> list[dict[str, Any]]:
    """The results table (``results_table``) of the runs of ``project`` grouped under ``sweep_id``, from what
    the runs kept: the settings that differ between them (the swept ones) and each run's final metrics."""
    members = [r for r in project.runs if r.get("sweep") == sweep_id]
    points = [_run_point(r) for r in members]
    varying = {k for k in set().union(*points) if k != "seed" and len({repr(p.get(k)) for p in points}) > 1} \
        if points else set()
    keep = [k for k in (points[0] if points else {}) if k in varying]
    results = [({**{k: p.get(k) for k in keep}, "seed": p.get("seed")}, dict(r.get("final") or {}))
               for p, r in zip(points, members)]
    return results_table(results)


def _run_point(run: dict[str, Any]) -> dict[str, Any]:
    settings = run.get("settings") if isinstance(run.get("settings"), dict) else {}
    point = {k: settings.get(k) for k in sorted(SWEEPABLE) if k in settings}
    point["seed"] = settings.get("seed")
    nodes = (run.get("graph") or {}).get("nodes") if isinstance(run.get("graph"), dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and node.get("type") == "dropout" and isinstance(node.get("params"), dict):
            point[f"{DROPOUT}{node.get('id')}"] = node["params"].get("rate", DROPOUT_RATE.default)
    return point


def point_name(sweep_id: str, point: dict[str, Any]) -> str:
    """A run's name in a sweep: ``optimizer=sgd lr=0.01 seed 0 (sweep-1)``, the settings first (what a
    narrow column shows); at most 200 characters."""
    words = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items() if k != "seed")
    tail = f" seed {point.get('seed', 0)} ({sweep_id})"
    if len(words) + len(tail) > 200:
        words = words[:199 - len(tail)] + "…"
    return words + tail


def run_sweep(project: Any, spec: SweepSpec, base_dir: Any = None, *, callbacks_for: Any = None, token: Any = None,
              on_run: Any = None) -> SweepOutcome:
    """Train every point of ``spec`` one after another, each as a run of ``project`` grouped under a new sweep
    id and named after its settings. ``callbacks_for(i, point)`` gives each run's engine callbacks, ``token``
    (a ControlToken) stops the sweep after the current step, ``on_run(i, total, run)`` hears of each run
    recorded. The project's settings and network stay as they were; its weights and history are the last
    run's, as after any training."""
    from nnstudio.core.training.project_run import prepare, store_result, train_prepared

    points = expand(spec, project.graph)
    project.sweep = spec_to_dict(check(spec, project.graph))  # the dialog and the command line start from it
    sweep_id = next_sweep_id(project.runs)
    results: list[tuple[dict[str, Any], dict[str, float]]] = []
    notes: list[str] = []
    stopped = False
    for i, point in enumerate(points):
        if token is not None and token.stopped:
            stopped = True
            break
        twin = apply(project, point)  # shares the project's runs and their weights
        prepared = prepare(twin, base_dir=base_dir)
        result = train_prepared(prepared, callbacks_for(i, point) if callbacks_for else (), token)
        notes += store_result(twin, result, sweep=sweep_id, name=point_name(sweep_id, point))
        run = project.runs[-1]
        project.runs_next_id = twin.runs_next_id
        for key in ("weights", "history", "training_state", "weights_fingerprint"):
            setattr(project, key, getattr(twin, key))
        results.append((point, dict(result.final)))
        if on_run is not None:
            on_run(i, len(points), run)
        if result.stop_reason == "stopped":
            stopped = True
            break
    return SweepOutcome(sweep_id, results, results_table(results), notes, stopped)
