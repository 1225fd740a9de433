"""Hostile project files through the whole command line: every crafted file (zip bombs, weights larger than the
graph, mis-shaped history, lone surrogates, values of the wrong kind, absurd sizes, devices and FIFOs ...) and
seeded random mutations of the bundled examples give, for ``validate``, ``summary``, ``train`` and ``export``,
an exit code of 0, 1 or 2, at most one line on stderr besides ``warning:`` lines, and never a traceback. Last,
a few-MB hostile file never makes a process grow more than a few hundred MB beyond a run on a small example."""

from __future__ import annotations

import copy
import io
import json
from concurrent.futures import ThreadPoolExecutor
import os
import random
import subprocess
import sys
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from safetensors.torch import save as safetensors_save

from nnstudio.cli import main
from nnstudio.core.layers.registry import SPECS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.nnstudio"))
SPIRAL = ROOT / "resources" / "examples" / "spiral_mlp.nnstudio"
# The runs each file goes through; OUT is replaced by a fresh output path.
COMMANDS = (("validate",), ("summary",), ("train", "--epochs", "1", "-q", "--threads", "1", "-o", "OUT.nnstudio"),
            ("export", "-o", "OUT.py"), ("export", "-o", "OUT.safetensors"))
LOOSE = " \ud800\udfff"  # lone surrogates (and a pair of them, which is not a character either)


# -- building files ----------------------------------------------------------------------------------------------
def example_json(path: Path = SPIRAL) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("project.json"))


def tiny(data: dict) -> dict:
    """``data`` with a dataset small enough to train an epoch in a blink, where the dataset allows it."""
    data = copy.deepcopy(data)
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and dataset.get("name") == "spiral":
        dataset["samples"] = 60
    if isinstance(dataset, dict) and dataset.get("name") == "sentiment":
        dataset["samples"] = 100
    return data


def zipped(members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def project_bytes(data: Any, compression: int = zipfile.ZIP_DEFLATED, **members: bytes | str) -> bytes:
    text = data if isinstance(data, (str, bytes)) else json.dumps(data, ensure_ascii=True)
    return zipped({"project.json": text, **{k.replace("_", ".", 1): v for k, v in members.items()}}, compression)


def spiral(**changes: Any) -> dict:
    data = tiny(example_json())
    data.update(changes)
    return data


def with_node_params(node_type: str, **params: Any) -> dict:
    data = spiral()
    node = next(n for n in data["graph"]["nodes"] if n["type"] == node_type)
    node.setdefault("params", {}).update(params)
    return data


def chain(*nodes: tuple[str, dict]) -> dict:
    """A project whose graph is the given (type, params) layers wired in a row."""
    ids = [f"{t}_{i + 1}" for i, (t, _) in enumerate(nodes)]
    graph = {"nodes": [{"id": nid, "type": t, "params": p} for nid, (t, p) in zip(ids, nodes)],
             "edges": [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]}
    return spiral(graph=graph)


def zeros_json(count: int) -> bytes:
    """A JSON list of ``count`` zeros: millions of items in a few MB (stored, not compressed, in the zip)."""
    return b"[" + b"0," * (count - 1) + b"0]"


def big_weights(megabytes: int) -> bytes:
    generator = torch.Generator().manual_seed(0)
    return safetensors_save({"dense_1.weight": torch.rand(megabytes * 1024**2 // 4, generator=generator)})


def history(**changes: Any) -> bytes:
    base = {"epochs": [{"epoch": 1, "train_loss": 0.5, "lr": 0.01}], "best_epoch": 1, "stop_reason": "completed",
            "final": {}, "device": "cpu", "steps": 2, "config": {}}
    base.update(changes)
    return json.dumps(base).encode()


def bomb(name: str, megabytes: int = 30) -> bytes:
    members = {"project.json": json.dumps(spiral())}
    members[name] = (b'{"a": "' if name != "weights.safetensors" else b"") + b" " * megabytes * 1024**2
    return zipped(members)


CASES: dict[str, Callable[[], bytes]] = {
    # archives
    "zero_bytes": lambda: b"",
    "not_a_zip": lambda: b"this is not a project",
    "zip_bomb_project_json": lambda: zipped({"project.json": json.dumps(spiral()) + " " * 30 * 1024**2}),
    "zip_bomb_weights": lambda: bomb("weights.safetensors"),
    "zip_bomb_history": lambda: bomb("history.json"),
    "many_entries": lambda: zipped({"project.json": json.dumps(spiral()), **{f"x{i}": b"" for i in range(12_000)}}),
    "millions_of_json_items": lambda: zipped({"project.json": zeros_json(3_000_000)}, zipfile.ZIP_STORED),
    "deep_json": lambda: project_bytes("[" * 100_000 + "]" * 100_000),
    # weights
    "weights_larger_than_the_graph": lambda: project_bytes(spiral(), weights_safetensors=big_weights(3)),
    "weights_garbage": lambda: project_bytes(spiral(), weights_safetensors=b"\x00\x01garbage" * 100),
    "weights_lying_header": lambda: project_bytes(spiral(), weights_safetensors=(2**60).to_bytes(8, "little")),
    "weights_wrong_names": lambda: project_bytes(spiral(), weights_safetensors=safetensors_save(
        {"nope": torch.zeros(3)})),
    # history
    "history_epochs_not_a_list": lambda: project_bytes(spiral(), history_json=history(epochs="many")),
    "history_epoch_values_not_numbers": lambda: project_bytes(spiral(), history_json=history(
        epochs=[{"epoch": 1, "train_loss": "low"}])),
    "history_rows_not_objects": lambda: project_bytes(spiral(), history_json=history(epochs=[[1, 2], None])),
    "history_columns_of_different_lengths": lambda: project_bytes(spiral(), history_json=json.dumps(
        {"epoch": [1, 2, 3], "loss": [0.5]})),
    "history_stop_reason_a_number": lambda: project_bytes(spiral(), history_json=history(stop_reason=3)),
    "history_a_list": lambda: project_bytes(spiral(), history_json=b"[1, 2, 3]"),
    "history_not_json": lambda: project_bytes(spiral(), history_json=b"{nope"),
    "history_surrogate_keys": lambda: project_bytes(spiral(), history_json=history(
        epochs=[{"epoch": 1, "lo\ud800ss": 1.0}])),
    "history_millions_of_items": lambda: project_bytes(spiral(), zipfile.ZIP_STORED,
                                                       history_json=zeros_json(3_000_000)),
    # strings
    "surrogate_name": lambda: project_bytes(spiral(name=LOOSE, description=LOOSE)),
    "surrogate_labels": lambda: project_bytes(_each_node(spiral(), label=LOOSE)),
    "surrogate_id": lambda: project_bytes(_rename_first_node(spiral(), "in\ud800")),
    "surrogate_param_value": lambda: project_bytes(with_node_params("dense", activation=LOOSE)),
    "surrogate_dataset_options": lambda: project_bytes(spiral(dataset={"name": LOOSE, LOOSE: LOOSE})),
    "surrogate_training_key": lambda: project_bytes(spiral(training={LOOSE: 1})),
    "control_characters_in_name": lambda: project_bytes(spiral(name='a"""\n\r\x00\u2028\u2029\\b')),
    # values of the wrong kind
    "choice_as_a_list": lambda: project_bytes(with_node_params("dense", activation=["relu"])),
    "choice_as_an_object": lambda: project_bytes(with_node_params("dense", activation={"relu": 1})),
    "task_as_a_list": lambda: project_bytes(with_node_params("output", task=["multiclass"], loss={})),
    "number_where_a_string_goes": lambda: project_bytes(spiral(name=5)),
    "string_where_a_number_goes": lambda: project_bytes(with_node_params("dense", units="64")),
    "huge_int": lambda: project_bytes(with_node_params("dense", units=10**99)),
    "int64_overflow": lambda: project_bytes(with_node_params("dense", units=2**63)),
    "float_units": lambda: project_bytes(with_node_params("dense", units=1e300)),
    "nan": lambda: project_bytes(json.dumps(spiral()).replace('"lr": 0.01', '"lr": NaN')),
    "training_settings_wrong": lambda: project_bytes(spiral(training={"lr": "fast", "epochs": -1})),
    "dataset_not_an_object": lambda: project_bytes(spiral(dataset=[1, 2])),
    "empty_graph": lambda: project_bytes(spiral(graph={"nodes": [], "edges": []})),
    "graph_without_output": lambda: project_bytes(chain(("input_vector", {"features": 2}), ("dense", {}))),
    # sizes valid one by one, absurd together
    "image_input_64x4096x4096": lambda: project_bytes(chain(
        ("input_image", {"channels": 64, "height": 4096, "width": 4096}), ("conv2d", {"filters": 64}),
        ("flatten", {}), ("dense", {"units": 3}), ("output", {}))),
    "dense_a_million_twice": lambda: project_bytes(chain(
        ("input_vector", {"features": 1_000_000}), ("dense", {"units": 1_000_000}),
        ("dense", {"units": 1_000_000}), ("output", {}))),
    "embedding_huge": lambda: project_bytes(chain(
        ("input_tokens", {"length": 100_000, "vocab_size": 10_000_000}), ("embedding", {"vocab_size": 10_000_000,
                                                                                       "dim": 65_536}),
        ("global_avg_pool", {}), ("dense", {"units": 2}), ("output", {}))),
}


def _each_node(data: dict, **fields: Any) -> dict:
    for node in data["graph"]["nodes"]:
        node.update(fields)
    return data


def _rename_first_node(data: dict, new: str) -> dict:
    old = data["graph"]["nodes"][0]["id"]
    data["graph"]["nodes"][0]["id"] = new
    for edge in data["graph"]["edges"]:
        for end in ("from", "to"):
            if edge[end] == old:
                edge[end] = new
    return data


# -- running the command line ------------------------------------------------------------------------------------
def run_all(capsys, path: str | Path, out_dir: Path) -> list[tuple[tuple[str, ...], int, str, str]]:
    """Every command on ``path``; (argv, exit code, stdout, stderr) for each, after checking the contract."""
    results = []
    for n, command in enumerate(COMMANDS):
        argv = [command[0], str(path), *[a.replace("OUT", str(out_dir / f"out{n}")) for a in command[1:]]]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(argv)
        out, err = capsys.readouterr()
        shown = f"{argv}: exit {code}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
        assert code in (0, 1, 2), shown
        assert "Traceback" not in out + err, shown
        lines = err.splitlines()
        errors = [line for line in lines if not line.startswith("warning: ")]
        assert len(errors) <= 1, shown
        assert len(lines) <= 3, shown
        # What Python's warnings module would print on a terminal (pytest catches it, so it is counted here).
        noisy = [str(w.message) for w in caught if not issubclass(w.category, (DeprecationWarning, ResourceWarning))]
        assert not noisy, f"{shown}\nwarnings: {noisy}"
        results.append((tuple(argv), code, out, err))
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_file(tmp_path, capsys, case):
    path = tmp_path / "case.nnstudio"
    path.write_bytes(CASES[case]())
    results = run_all(capsys, path, tmp_path)
    assert results[0][1] != 0 or results[1][1] == 0  # a file that validates clean also summarises


def test_known_outcomes(tmp_path, capsys):
    """The contract above holds for a file that works too: some of the cases must really succeed."""
    cases = {"surrogate_name": (0, 0, 0, 0, 0), "history_epochs_not_a_list": (0, 0, 0, 0, 0),
             "weights_garbage": (0, 0, 0, 0, 0), "dense_a_million_twice": (1, 0, 2, 2, 2),
             "weights_larger_than_the_graph": (0, 0, 0, 0, 0),
             "image_input_64x4096x4096": (1, 0, 2, 2, 2)}
    for case, expected in cases.items():
        path = tmp_path / f"{case}.nnstudio"
        path.write_bytes(CASES[case]())
        codes = tuple(code for _, code, _, _ in run_all(capsys, path, tmp_path))
        assert codes == expected, case


def test_malformed_history_is_one_warning_line(tmp_path, capsys):
    """No command reads the history (summary and validate need nothing of it, train replaces it, export does not
    use it), but the loader every command shares prints what opening left out, one line each."""
    from nnstudio.cli import load

    path = tmp_path / "h.nnstudio"
    path.write_bytes(CASES["history_epoch_values_not_numbers"]())
    project = load(str(path))
    err = capsys.readouterr().err
    assert project.history is None and project.graph.nodes
    assert err.count("\n") == 1 and err.startswith(f"warning: {path}: history.json: epochs[0].train_loss: must be ")
    assert "opens without its training history" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_special_paths(tmp_path, capsys):
    fifo = tmp_path / "pipe.nnstudio"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.nnstudio"
    folder.mkdir()
    paths = [fifo, folder, Path(os.devnull), tmp_path / "missing.nnstudio"]
    if Path("/dev/zero").exists():
        paths.append(Path("/dev/zero"))
    done: list = []
    worker = threading.Thread(target=lambda: done.extend(run_all(capsys, p, tmp_path) for p in paths), daemon=True)
    worker.start()
    worker.join(300)  # a hang guard, not a timing: a FIFO that is opened for reading blocks forever
    assert not worker.is_alive(), "a command blocked on a special file"
    assert len(done) == len(paths)
    for results in done:
        assert all(code == 2 for _, code, _, _ in results)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dataset_path_pointing_at_a_device(tmp_path, capsys):
    data = spiral(dataset={"name": "csv", "path": "/dev/zero"})
    path = tmp_path / "zero.nnstudio"
    path.write_bytes(project_bytes(data))
    done: list = []
    worker = threading.Thread(target=lambda: done.append(run_all(capsys, path, tmp_path)), daemon=True)
    worker.start()
    worker.join(300)  # hang guard: reading /dev/zero never ends
    assert not worker.is_alive(), "a command read /dev/zero"
    train = done[0][2]
    assert train[1] == 2 and "/dev/zero" in train[3]


# -- random mutations of the examples ----------------------------------------------------------------------------
HOSTILE_VALUES = [None, True, False, 0, -1, 1, 2**31, 10**12, 10**99, -(10**99), 1e308, -1e-308, 0.5, "", LOOSE,
                  "relu", "same", "valid", "x" * 5000, [], [1, 2], [[1]], ["relu"], {}, {"a": 1}, {"": None},
                  "dense_1", "output_1", 'a"""\nimport os\n"""', "\x00", "\u2028"]


def mutate(data: Any, rng: random.Random) -> Any:
    """One random change. Mostly a layer parameter set to a random value of its kind (so that many files still
    open, build and train, reaching the code behind the loader) or a hostile one; sometimes a dataset or training
    option; sometimes anything anywhere in the document (replaced, deleted or added)."""
    roll = rng.random()
    nodes = data.get("graph", {}).get("nodes") if isinstance(data.get("graph"), dict) else None
    if roll < 0.6 and isinstance(nodes, list) and nodes and all(isinstance(n, dict) for n in nodes):
        node = rng.choice(nodes)
        spec = SPECS.get(node.get("type"))
        if spec is not None and spec.params and isinstance(node.setdefault("params", {}), dict):
            param = rng.choice(spec.params)
            node["params"][param.name] = _value_for(param, rng) if rng.random() < 0.7 else _hostile(rng)
            return data
    if roll < 0.8:
        key = rng.choice(["dataset", "training"])
        options = data.get(key)
        if isinstance(options, dict):
            name = rng.choice([*options, "samples", "noise", "batch_size", "epochs", "lr", "seed", "path"])
            options[name] = _hostile(rng) if rng.random() < 0.5 else rng.choice([0, 1, 2, 3, 20, 100, 0.5])
            return data
    paths = list(_paths(data))
    path = rng.choice(paths)
    if not path:
        return _hostile(rng) if rng.random() < 0.1 else data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = rng.choice(("replace", "replace", "delete", "add"))
    if action == "replace":
        parent[path[-1]] = _hostile(rng)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["units", "activation", "task", "label", "x", "name", "path", "port"])] = _hostile(rng)
    else:
        parent.insert(path[-1], _hostile(rng))
    return data


def _value_for(param: Any, rng: random.Random) -> Any:
    """A value of the parameter's own kind, often at the edge of its range."""
    if param.kind == "choice":
        return rng.choice(param.choices)
    if param.kind == "bool":
        return rng.random() < 0.5
    if param.kind in ("int", "padding"):
        low = int(param.minimum) if param.minimum is not None else -3
        return rng.choice([low, low + 1, low + 2, 2 * (low + 3), 64])
    if param.kind == "float":
        return rng.choice([param.minimum or 0.0, param.maximum or 1.0, 0.5, 1e-3])
    if param.kind == "ints":
        return rng.choice([[-1], [2, -1], [4, 4], [3]])
    return _hostile(rng)


def _hostile(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(HOSTILE_VALUES))


def _paths(value: Any, prefix: tuple = ()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(24))
def test_mutated_examples(tmp_path, capsys, seed):
    rng = random.Random(seed)
    for example in EXAMPLES:
        data = tiny(example_json(example))
        for _ in range(rng.randint(1, 4)):
            data = mutate(data, rng)
        path = tmp_path / f"{example.stem}.nnstudio"
        path.write_bytes(project_bytes(data))
        run_all(capsys, path, tmp_path)


def test_one_mutation_of_each_example(tmp_path, capsys):
    """The fast part of the random mutations: one seeded change to each example."""
    rng = random.Random(1234)
    for example in EXAMPLES:
        data = mutate(tiny(example_json(example)), rng)
        path = tmp_path / f"{example.stem}.nnstudio"
        path.write_bytes(project_bytes(data))
        results = run_all(capsys, path, tmp_path)
        assert len(results) == len(COMMANDS)


# -- memory --------------------------------------------------------------------------------------------------------
PEAK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "nnstudio", *sys.argv[1:]], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stderr.strip().replace("\\n", " | ")[-500:])
"""


def peak_kb(*argv: str) -> tuple[int, int, str]:
    """Exit code, peak resident memory (kB) and stderr of ``nnstudio ARGV`` in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", PEAK, *argv], capture_output=True, text=True, timeout=600,
                          env=env)
    first, err = done.stdout.splitlines()[0], done.stdout.splitlines()[1:]
    code, kb = map(int, first.split())
    return code, kb, " ".join(err)


def large_weights_file(path: Path, data: dict, history_json: bytes) -> None:
    """A project whose weights member unpacks to 512 MiB (16 random bytes in every 4 kB of zeros: compressed
    about 160 to 1, under the zip-bomb ratio) and whose history is ``history_json``: a file of a few MB."""
    size = 512 * 1024**2
    header = json.dumps({"dense_1.weight": {"dtype": "F32", "shape": [size // 4], "data_offsets": [0, size]}})
    header += " " * (-len(header) % 8)
    rng = random.Random(5)
    chunk = b"".join(rng.randbytes(16) + bytes(4080) for _ in range(256))  # 1 MiB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.json", json.dumps(data))
        archive.writestr("history.json", history_json)
        with archive.open("weights.safetensors", "w", force_zip64=True) as member:
            member.write(len(header).to_bytes(8, "little") + header.encode())
            for _ in range(size // len(chunk)):
                member.write(chunk)


def empty_objects_json(megabytes: int, seed: int) -> bytes:
    """``[{}, {}, ...]`` of ``megabytes``: the most Python objects per byte JSON has (64 bytes each, 430 MB for
    20 MB), with a little noise so that it compresses under the zip-bomb ratio."""
    rng = random.Random(seed)
    count = megabytes * 1024**2 // 3
    text = "[" + ",".join("{}" if i % 256 else f'{{"{rng.randrange(10**6)}":0}}' for i in range(count))
    return (text[: text.rindex(",", 0, megabytes * 1024**2 - 1)] + "]").encode()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_peak_memory_on_a_few_megabyte_hostile_file(tmp_path):
    """Before the bounds, every command unpacked the 512 MiB of weights (twice that in memory) and parsed the
    history into 6 million objects; summary and validate now read neither, train reads no weights (it does not
    resume) and no history, export refuses the weights unread, and no JSON member becomes millions of objects."""
    small = tmp_path / "small.nnstudio"
    small.write_bytes(project_bytes(spiral()))
    big = tmp_path / "weights.nnstudio"
    large_weights_file(big, spiral(), empty_objects_json(19, seed=2))
    items = tmp_path / "items.nnstudio"
    items.write_bytes(zipped({"project.json": empty_objects_json(19, seed=3)}))
    for path in (big, items):
        assert path.stat().st_size < 8 * 1024**2
    limit_kb = 300 * 1024
    commands = (("validate",), ("summary",), ("train", "--epochs", "1", "-q", "--threads", "1"),
                ("export", "-o", str(tmp_path / "out.py")))
    runs = [(command, path) for command in commands for path in (small, big, items)]
    # each process reports its own peak, so two at a time (the machine's two cores) measure the same
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(runs, pool.map(lambda run: peak_kb(run[0][0], str(run[1]), *run[0][1:]), runs)))
    for command in commands:
        code, baseline, err = results[(command, small)]
        assert code == 0, err
        for path in (big, items):
            code, peak, err = results[(command, path)]
            assert code in (0, 1, 2) and "Traceback" not in err, err
            assert peak - baseline < limit_kb, f"{command[0]} {path.name}: {peak} kB against {baseline} kB ({err})"
