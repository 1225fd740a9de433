"""Saving and opening .nnstudio files: round trips, the v1 fixture, refusal of bad files, atomic saves.

tests/data/project_v1.nnstudio was written once by NN Studio 0.1 with the script below and must never be
regenerated: it stands for the files users already have.

    g = Graph()
    g.add_node("input_vector", {"features": 2}, (0, 0), node_id="input_vector_1")
    g.add_node("dense", {"units": 4, "activation": "tanh"}, (200, 0), label="hidden", node_id="dense_1")
    g.add_node("dense", {"units": 1, "activation": "none"}, (400, 0), node_id="dense_2")
    g.add_node("output", {"task": "binary", "loss": "bce"}, (600, 0), node_id="output_1")
    g.connect("input_vector_1", "dense_1"); g.connect("dense_1", "dense_2"); g.connect("dense_2", "output_1")
    weights = {"dense_1.weight": torch.arange(8, dtype=torch.float32).reshape(4, 2) / 8,
               "dense_1.bias": torch.tensor([-0.5, -0.25, 0.0, 0.25]),
               "dense_2.weight": torch.tensor([[0.5, -0.5, 0.25, -0.25]]), "dense_2.bias": torch.tensor([0.125])}
    save_project(Project(g, "XOR fixture", "Format-1 fixture for the tests: never regenerate it.",
                         {"optimizer": "adam", "learning_rate": 0.01, "epochs": 2, "batch_size": 4},
                         {"source": "synthetic", "name": "xor", "samples": 4}, weights,
                         {"epoch": [1, 2], "loss": [0.75, 0.5], "val_loss": [0.8, 0.625]}),
                 "tests/data/project_v1.nnstudio")
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import zipfile
from pathlib import Path

import pytest
import torch

from nnstudio.core import tempfiles
from nnstudio.core.errors import ProjectFileError
from nnstudio.core.graph import Graph
from nnstudio.core.layers.base import TensorInfo
from nnstudio.core.layers.registry import SPECS
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_V1 = ROOT / "tests" / "data" / "project_v1.nnstudio"


def small_graph() -> Graph:
    g = Graph()
    g.add_node("input_vector", {"features": 3}, (1.5, -2), node_id="input_vector_1")
    g.add_node("dense", {"units": 5}, (100, 0), label="hidden layer ✓", node_id="dense_1")
    g.add_node("batchnorm", {}, (200, 0), node_id="batchnorm_1")
    g.add_node("output", {"task": "regression"}, (300, 0), node_id="output_1")
    g.connect("input_vector_1", "dense_1")
    g.connect("dense_1", "batchnorm_1")
    g.connect("batchnorm_1", "output_1")
    return g


def trained_project() -> Project:
    weights = {
        "dense_1.weight": torch.randn(5, 3),
        "dense_1.bias": torch.randn(5, dtype=torch.float64),
        "batchnorm_1.running_mean": torch.randn(5).half(),
        "batchnorm_1.num_batches_tracked": torch.tensor(7),
    }
    return Project(small_graph(), "Ünïcode name", "line 1\nline 2", {"optimizer": "sgd", "lr": 0.1},
                   {"source": "csv", "path": "data.csv"}, weights, {"loss": [1.0, 0.5], "note": None})


def write_zip(path: Path, members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def base_data() -> dict:
    return {"format_version": 1, "app_version": "0.1.0", "name": "n", "description": "", "graph":
            small_graph().to_dict(), "training": {}, "dataset": None}


def load_data(tmp_path: Path, data: dict) -> Project:
    return load_project(write_zip(tmp_path / "p.nnstudio", {"project.json": json.dumps(data)}))


def refused(tmp_path: Path, data: dict) -> ProjectFileError:
    with pytest.raises(ProjectFileError) as info:
        load_data(tmp_path, data)
    return info.value


# -- round trips -------------------------------------------------------------------------------------------------
def test_round_trip_keeps_everything(tmp_path):
    project = trained_project()
    path = tmp_path / "p.nnstudio"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.graph.to_dict() == project.graph.to_dict()
    assert (loaded.name, loaded.description) == (project.name, project.description)
    assert loaded.training == project.training and loaded.dataset == project.dataset
    assert loaded.history == project.history
    assert loaded.weights.keys() == project.weights.keys()
    for name, tensor in project.weights.items():
        assert loaded.weights[name].dtype == tensor.dtype
        assert torch.equal(loaded.weights[name], tensor)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["history.json", "project.json", "weights.safetensors"]
        data = json.loads(archive.read("project.json"))
    assert data["format_version"] == 5 and data["app_version"] and data["frames"] == [] and data["sweep"] is None
    assert data["weights_fingerprint"] is None and loaded.weights_fingerprint is None  # set only by training


def test_untrained_project_has_only_project_json(tmp_path):
    path = tmp_path / "p.nnstudio"
    save_project(Project(small_graph(), name="x"), path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["project.json"]
    loaded = load_project(path)
    assert loaded.weights is None and loaded.history is None and loaded.dataset is None
    assert loaded.training == {}


def test_loaded_weights_are_writable_copies(tmp_path):
    path = tmp_path / "p.nnstudio"
    save_project(trained_project(), path)
    weight = load_project(path).weights["dense_1.weight"]
    weight.add_(1.0)  # would crash or corrupt memory if it viewed read-only bytes
    assert torch.isfinite(weight).all()


def test_saving_twice_gives_identical_bytes(tmp_path):
    project = trained_project()
    save_project(project, tmp_path / "a.nnstudio")
    save_project(project, tmp_path / "b.nnstudio")
    assert (tmp_path / "a.nnstudio").read_bytes() == (tmp_path / "b.nnstudio").read_bytes()


def test_nan_in_history_survives(tmp_path):
    project = Project(small_graph(), history={"loss": [0.5, float("nan"), float("inf")]})
    save_project(project, tmp_path / "p.nnstudio")
    loss = load_project(tmp_path / "p.nnstudio").history["loss"]
    assert loss[0] == 0.5 and loss[1] != loss[1] and loss[2] == float("inf")


def test_tied_and_strided_weights_are_saved(tmp_path):
    shared = torch.randn(4, 3)
    project = Project(small_graph(), weights={"a.weight": shared, "b.weight": shared, "c": shared.t()})
    save_project(project, tmp_path / "p.nnstudio")
    loaded = load_project(tmp_path / "p.nnstudio").weights
    assert torch.equal(loaded["b.weight"], shared) and torch.equal(loaded["c"], shared.t())


# -- the format-1 fixture ----------------------------------------------------------------------------------------
def test_v1_fixture_content():
    project = load_project(FIXTURE_V1)
    assert project.name == "XOR fixture"
    assert project.training == {"optimizer": "adam", "learning_rate": 0.01, "epochs": 2, "batch_size": 4}
    assert project.dataset == {"source": "synthetic", "name": "xor", "samples": 4}
    assert project.history == {"epoch": [1, 2], "loss": [0.75, 0.5], "val_loss": [0.8, 0.625]}
    graph = project.graph
    assert list(graph.nodes) == ["input_vector_1", "dense_1", "dense_2", "output_1"]
    assert graph.nodes["dense_1"].params == {"units": 4, "bias": True, "activation": "tanh"}
    assert graph.nodes["dense_1"].label == "hidden" and graph.nodes["dense_2"].position == (400.0, 0.0)
    assert graph.nodes["output_1"].params == {"task": "binary", "loss": "bce"}
    assert [(e.src, e.dst, e.dst_port) for e in graph.edges] == [
        ("input_vector_1", "dense_1", 0), ("dense_1", "dense_2", 0), ("dense_2", "output_1", 0)]
    assert graph.validate() == []
    assert torch.equal(project.weights["dense_1.weight"], torch.arange(8.0).reshape(4, 2) / 8)
    assert torch.equal(project.weights["dense_2.bias"], torch.tensor([0.125]))


def test_v1_fixture_weights_fit_the_layers_they_name():
    """Weight keys are ``<node id>.<name in the layer's module>``: the layers built from the fixture's graph
    must have exactly these tensors, with these shapes."""
    project = load_project(FIXTURE_V1)
    graph = project.graph
    expected = {}
    for node_id, node, width in (("dense_1", graph.nodes["dense_1"], 2), ("dense_2", graph.nodes["dense_2"], 4)):
        module = node.spec.build(node.params, [TensorInfo((width,))])
        expected.update({f"{node_id}.{k}": v.shape for k, v in module.state_dict().items()})
    assert {k: v.shape for k, v in project.weights.items()} == expected


# -- schema and documentation stay in sync with the layer registry -----------------------------------------------
def test_schema_layer_enum_matches_registry():
    schema = json.loads((ROOT / "nnstudio" / "core" / "project" / "schema.json").read_text())
    enum = schema["$defs"]["layer_type"]["enum"]
    assert enum == list(SPECS), "update schema.json's layer_type enum to: " + json.dumps(list(SPECS))


# -- files that must be refused ----------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nope.nnstudio")


@pytest.mark.parametrize("payload", [b"", b"hello, not a zip", b"PK\x03\x04" + b"\0" * 40])
def test_not_a_zip(tmp_path, payload):
    path = tmp_path / "p.nnstudio"
    path.write_bytes(payload)
    with pytest.raises(ProjectFileError, match="not a zip") as info:
        load_project(path)
    assert info.value.path == str(path)


def test_missing_project_json(tmp_path):
    with pytest.raises(ProjectFileError) as info:
        load_project(write_zip(tmp_path / "p.nnstudio", {"other.json": "{}"}))
    assert info.value.field == "project.json"


@pytest.mark.parametrize("text, expected", [
    ("{", "not valid JSON"), ("[]", "JSON object"), ('{"a": NaN}', "NaN"), ("1" * 500, "digits"),
    ("[" * 5000 + "]" * 5000, "not valid JSON"), ("[" * 150 + "]" * 150, "nested"),
])
def test_bad_json(tmp_path, text, expected):
    with pytest.raises(ProjectFileError, match=expected) as info:
        load_project(write_zip(tmp_path / "p.nnstudio", {"project.json": text}, zipfile.ZIP_STORED))
    assert info.value.field == "project.json"


def mutate(path_and_value):
    data = base_data()
    path, value = path_and_value
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize("change, field, message", [
    ((["format_version"], KeyError), "format_version", "missing"),
    ((["format_version"], "1"), "format_version", "whole number"),
    ((["format_version"], True), "format_version", "whole number"),
    ((["format_version"], 0), "format_version", "at least 1"),
    ((["name"], 3), "name", "must be a string"),
    ((["training"], []), "training", "must be an object"),
    ((["dataset"], "mnist"), "dataset", "object or null"),
    ((["graph"], KeyError), "graph", "missing"),
    ((["graph", "edges"], {}), "graph.edges", "must be a list"),
    ((["extra"], 1), "extra", "not a field"),
    ((["graph", "nodes", 1, "type"], "dens"), "graph.nodes[1].type", "did you mean 'dense'"),
    ((["graph", "nodes", 1, "params", "units"], {"x": 1}), "graph.nodes[1].params.units", "must be"),
    ((["graph", "nodes", 1, "params", "units"], [[1]]), "graph.nodes[1].params.units[0]", "must be"),
    ((["graph", "nodes", 1, "params"], [1]), "graph.nodes[1].params", "must be an object"),
    ((["graph", "nodes", 1, "position"], [1]), "graph.nodes[1].position", "two numbers"),
    ((["graph", "nodes", 1, "position"], [1, "a"]), "graph.nodes[1].position[1]", "must be a number"),
    ((["graph", "nodes", 1, "id"], "1abc"), "graph.nodes[1].id", "not a valid node id"),
    ((["graph", "nodes", 1, "id"], "dense_1\n"), "graph.nodes[1].id", "not a valid node id"),
    ((["graph", "nodes", 1, "id"], "input_vector_1"), "graph.nodes[1].id", "used twice"),
    ((["graph", "nodes", 1, "label"], 5), "graph.nodes[1].label", "must be a string"),
    ((["graph", "edges", 0, "to"], "ghost"), "graph.edges[0].to", "does not exist"),
    ((["graph", "edges", 0, "port"], -1), "graph.edges[0].port", "minimum"),
    ((["graph", "edges", 0, "from"], KeyError), "graph.edges[0].from", "missing"),
])
def test_bad_fields_are_named(tmp_path, change, field, message):
    error = refused(tmp_path, mutate(change))
    assert error.field == field
    assert message in error.detail
    assert str(tmp_path) in str(error)


def test_duplicate_wire_is_refused(tmp_path):
    data = base_data()
    data["graph"]["edges"].append(dict(data["graph"]["edges"][0]))
    assert refused(tmp_path, data).field == "graph.edges[3]"


def test_newer_format_says_update(tmp_path):
    data = base_data()
    data["format_version"] = 6
    data["graph"] = "a format-6 graph this version cannot know"
    error = refused(tmp_path, data)
    assert "written by a newer NN Studio (format 6); this version reads up to format 5: update NN Studio" in str(error)


def test_out_of_range_params_load_and_show_as_node_problems(tmp_path):
    data = base_data()
    data["graph"]["nodes"][1]["params"]["units"] = 0
    project = load_data(tmp_path, data)
    assert project.graph.nodes["dense_1"].params["units"] == 0
    assert any(p.node_id == "dense_1" for p in project.graph.validate())


def test_minimal_hand_written_file_takes_defaults(tmp_path):
    data = {"format_version": 1, "graph": {"nodes": [{"id": "d", "type": "dense"}, {"id": "e", "type": "linear"}],
                                           "edges": [{"from": "d", "to": "e", "port": 0.0}]}}
    project = load_data(tmp_path, data)
    assert project.name == "" and project.training == {} and project.dataset is None
    assert project.graph.nodes["d"].params == SPECS["dense"].defaults()
    assert project.graph.nodes["e"].type_id == "dense" and project.graph.nodes["e"].position == (0.0, 0.0)
    assert project.graph.edges[0].dst_port == 0 and type(project.graph.edges[0].dst_port) is int


# -- saving ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, field", [
    ({"training": {"lr": float("nan")}}, "training"), ({"training": {"s": {1, 2}}}, "training"),
    ({"dataset": []}, "dataset"), ({"name": None}, "name"), ({"history": [1, 2]}, "history.json"),
    ({"weights": {"w": torch.ones(2, dtype=torch.bool)}}, "weights.safetensors"),
    ({"weights": {"w": [1.0]}}, "weights.safetensors"), ({"weights": {"": torch.ones(1)}}, "weights.safetensors"),
    ({"weights": {"__metadata__": torch.ones(1)}}, "weights.safetensors"),
])
def test_save_refuses_what_it_could_not_read_back(tmp_path, change, field):
    path = tmp_path / "p.nnstudio"
    save_project(trained_project(), path)
    before = path.read_bytes()
    project = trained_project()
    for key, value in change.items():
        setattr(project, key, value)
    with pytest.raises(ProjectFileError) as info:
        save_project(project, path)
    assert info.value.field == field
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["p.nnstudio"]


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("target", ["replace", "fsync", "writestr"])
def test_crash_mid_save_keeps_previous_file(tmp_path, monkeypatch, target):
    path = tmp_path / "p.nnstudio"
    save_project(Project(small_graph(), name="old"), path)
    before = path.read_bytes()
    if target == "writestr":
        real = zipfile.ZipFile.writestr

        def writestr(self, info, payload, *args, **kwargs):
            if getattr(info, "filename", info) == "weights.safetensors":
                _fail()
            return real(self, info, payload, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    else:
        monkeypatch.setattr(os, target, _fail)
    with pytest.raises(OSError, match="No space"):
        save_project(trained_project(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["p.nnstudio"]
    assert load_project(path).name == "old"


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _fail)
    with pytest.raises(OSError):
        save_project(trained_project(), tmp_path / "new.nnstudio")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_save_keeps_permissions_and_symlinks(tmp_path):
    real = tmp_path / "real.nnstudio"
    save_project(Project(small_graph()), real)
    real.chmod(0o600)
    link = tmp_path / "link.nnstudio"
    link.symlink_to(real)
    save_project(Project(small_graph(), name="via link"), link)
    assert link.is_symlink() and load_project(real).name == "via link"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_bom_and_stored_members_are_accepted(tmp_path):
    payload = "\ufeff" + json.dumps(base_data())
    path = write_zip(tmp_path / "p.nnstudio", {"project.json": payload.encode()}, zipfile.ZIP_STORED)
    assert load_project(path).graph.to_dict() == small_graph().to_dict()



def test_lone_surrogates_are_saved_and_read_back(tmp_path):
    """A name read from a file may hold lone surrogates: saving escapes them, so the file reads back the same."""
    g = small_graph()
    g.set_label("dense_1", "hidden \udcff")
    project = Project(g, "name \ud800", "text \udfff", {"k\ud800": "v\udc00"}, {"path": "\ud834x"})
    save_project(project, tmp_path / "p.nnstudio")
    loaded = load_project(tmp_path / "p.nnstudio")
    assert (loaded.name, loaded.description) == (project.name, project.description)
    assert loaded.training == project.training and loaded.dataset == project.dataset
    assert loaded.graph.nodes["dense_1"].label == "hidden \udcff"


def test_save_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "p.nnstudio"
    monkeypatch.setattr(os, "fsync", _fail)
    with pytest.raises(OSError) as info:
        save_project(Project(small_graph()), path)
    assert info.value.filename == str(path) and info.value.errno == 28
    assert ".tmp" not in str(info.value)


def test_empty_path_is_refused_on_save_and_load():
    with pytest.raises(ProjectFileError, match="no file name"):
        save_project(Project(small_graph()), "")
    with pytest.raises(ProjectFileError, match="no file name"):
        load_project("")


# -- reading only what is asked for, within what the graph can hold ------------------------------------------------
def members_opened(monkeypatch) -> list[str]:
    """The names of the archive members unpacked from now on."""
    opened = []
    real = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


def test_weights_and_history_can_be_left_unread(tmp_path, monkeypatch):
    path = tmp_path / "p.nnstudio"
    save_project(trained_project(), path)
    opened = members_opened(monkeypatch)
    project = load_project(path, weights=False, history=False)
    assert opened == ["project.json"]
    assert project.weights is None and project.history is None and project.load_warnings == []
    assert project.graph.to_dict() == small_graph().to_dict()
    assert load_project(path, weights=False).history == trained_project().history
    assert load_project(path, history=False).weights.keys() == trained_project().weights.keys()


def test_garbage_weights_and_history_do_not_stop_a_summary(tmp_path):
    """Members that are damaged, enormous or not what they claim are never unpacked when not asked for."""
    data = json.dumps(base_data())
    path = write_zip(tmp_path / "p.nnstudio", {"project.json": data, "weights.safetensors": b"\0garbage" * 10,
                                               "history.json": b"{no"})
    with open(path, "r+b") as file:  # claim 4 TB for the weights in both headers
        raw = bytearray(file.read())
        for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            at = -1
            while True:
                at = raw.find(signature, at + 1)
                name_at = at + (30 if signature == b"PK\x03\x04" else 46)
                if raw[name_at:name_at + 19] == b"weights.safetensors":
                    break
            raw[at + offset:at + offset + 4] = (2**32 - 1).to_bytes(4, "little")
        file.seek(0)
        file.write(raw)
    project = load_project(path, weights=False, history=False)
    assert len(project.graph.nodes) == 4 and project.load_warnings == []
    project = load_project(path)  # opens, without what cannot be read, and says so
    assert project.weights is None and project.history is None and len(project.load_warnings) == 2
    assert "weights.safetensors: is 4,294,967,295 bytes" in project.load_warnings[0]


def state_bytes_of(graph: Graph) -> int:
    """What the compiled model really holds, counted here independently of nnstudio.core.memory."""
    from nnstudio.core.compile import compile_graph

    return sum(t.numel() * t.element_size() for t in compile_graph(graph).module.state_dict().values())


def test_weights_larger_than_the_graph_can_hold_are_refused_unread(tmp_path, monkeypatch):
    from nnstudio.core.project import io as project_io

    graph = small_graph()
    declared = state_bytes_of(graph)
    limit = 2 * declared + project_io.HEADER_ALLOWANCE + project_io.HEADER_ALLOWANCE_PER_NODE * len(graph.nodes)
    assert project_io.weights_limit(graph) == limit
    too_big = {"dense_1.weight": torch.zeros(limit // 4 + 1)}
    path = tmp_path / "p.nnstudio"
    save_project(Project(graph, weights=too_big), path)
    opened = members_opened(monkeypatch)
    project = load_project(path)
    assert opened == ["project.json"]  # refused before unpacking
    assert project.weights is None and project.graph.to_dict() == graph.to_dict()
    (warning,) = project.load_warnings
    size = zipfile.ZipFile(path).getinfo("weights.safetensors").file_size
    assert f"{path}: weights.safetensors: is {size:,} bytes" in warning and f"limit of {limit:,} bytes" in warning
    assert warning.endswith("the project opens without its trained weights")


def test_float64_weights_of_the_whole_graph_fit(tmp_path):
    """The format stores any float dtype: the network's own weights in float64 are within the limit."""
    from nnstudio.core.compile import compile_graph

    g = Graph()
    g.add_node("input_vector", {"features": 300}, node_id="input_vector_1")
    g.add_node("dense", {"units": 2000}, node_id="dense_1")
    g.add_node("output", {"task": "regression"}, node_id="output_1")
    g.connect("input_vector_1", "dense_1")
    g.connect("dense_1", "output_1")
    weights = {k: v.double() for k, v in compile_graph(g).module.state_dict().items()}
    assert sum(v.numel() * 8 for v in weights.values()) > 4 * 1024**2  # far beyond the header allowance
    save_project(Project(g, weights=weights), tmp_path / "p.nnstudio")
    loaded = load_project(tmp_path / "p.nnstudio").weights
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())


def test_a_graph_that_cannot_be_built_holds_only_a_header(tmp_path):
    data = base_data()
    data["graph"]["nodes"][1]["params"]["units"] = 0  # dense_1 cannot be built: neither can what follows it
    payload = _safetensors({"w": torch.zeros(400_000)})
    path = write_zip(tmp_path / "p.nnstudio", {"project.json": json.dumps(data), "weights.safetensors": payload})
    project = load_project(path)
    assert project.weights is None and project.graph.nodes["dense_1"].params["units"] == 0
    assert "weights.safetensors: is" in project.load_warnings[0] and "more than the limit" in project.load_warnings[0]


def _safetensors(tensors: dict) -> bytes:
    from safetensors.torch import save

    return save(tensors)


# -- the history ----------------------------------------------------------------------------------------------------
ENGINE_HISTORY = {"epochs": [{"epoch": 1, "train_loss": 1.25, "lr": 0.01, "train_accuracy": 0.5, "val_loss": 1.5,
                              "val_accuracy": 0.25, "time_s": 0.5},
                             {"epoch": 2, "train_loss": float("nan"), "lr": 0.005, "time_s": 1}],
                  "best_epoch": 1, "stop_reason": "completed", "final": {"val_loss": 1.5}, "device": "cpu",
                  "steps": 6, "config": {"lr": 0.01, "device": "auto"}}


@pytest.mark.parametrize("history", [
    ENGINE_HISTORY, {"epochs": []}, {}, {"best_epoch": None, "stop_reason": "stopped"},
    {"epoch": [1, 2], "loss": [0.75, None], "val_loss": [0.8, float("inf")]},  # the older per-metric form
    {"epochs": [{"epoch": 1, "train_loss": 0.5}], "future_field": {"any": ["thing"]}},
])
def test_well_shaped_histories_round_trip(tmp_path, history):
    save_project(Project(small_graph(), history=history), tmp_path / "p.nnstudio")
    loaded = load_project(tmp_path / "p.nnstudio")
    assert loaded.load_warnings == []
    assert json.dumps(loaded.history, sort_keys=True) == json.dumps(history, sort_keys=True)


MISSHAPEN_HISTORIES = [
    ({"epochs": "many"}, "epochs: must be a list"),
    ({"epochs": {"1": {}}}, "epochs: must be a list"),
    ({"epochs": [1, 2]}, "epochs[0]: must be an object"),
    ({"epochs": [{"epoch": 1, "train_loss": "low"}]}, "epochs[0].train_loss: must be a number, not the string"),
    ({"epochs": [{"epoch": 1, "train_loss": True}]}, "epochs[0].train_loss: must be a number, not true"),
    ({"epochs": [{"epoch": 1, "lr": [0.1]}]}, "epochs[0].lr: must be a number, not a list"),
    ({"epochs": [{"epoch": "one"}]}, "epochs[0].epoch: must be a whole number >= 1"),
    ({"epochs": [{"epoch": 0}]}, "epochs[0].epoch: must be a whole number >= 1"),
    ({"epochs": [{"epoch": 1, "": 0.5}]}, "cannot be the name of a value"),
    ({"epochs": [{"epoch": 1, "lo\ud800ss": 0.5}]}, "cannot be the name of a value"),
    ({"best_epoch": "1"}, "best_epoch: must be a whole number >= 1 or null"),
    ({"steps": -1}, "steps: must be a whole number >= 0"),
    ({"stop_reason": 3}, "stop_reason: must be a string"),
    ({"device": None}, "device: must be a string"),
    ({"final": [0.5]}, "final: must be an object of numbers"),
    ({"final": {"val_loss": "x"}}, "final.val_loss: must be a number"),
    ({"config": "adam"}, "config: must be an object"),
    ({"epoch": [1, 2, 3], "loss": [0.5]}, "loss: has 1 values but epoch has 3: one value per epoch"),
    ({"loss": [0.5, "x"]}, "loss[1]: must be a number or null"),
    ({"lo\udc00": 1}, "cannot be the name of a history field"),
]


@pytest.mark.parametrize("history, message", MISSHAPEN_HISTORIES)
def test_misshapen_history_opens_without_it_and_says_so(tmp_path, history, message):
    payload = json.dumps(history).encode()
    path = write_zip(tmp_path / "p.nnstudio", {"project.json": json.dumps(base_data()), "history.json": payload})
    project = load_project(path)
    assert project.history is None and len(project.graph.nodes) == 4
    assert len(project.load_warnings) == 1
    warning = project.load_warnings[0]
    assert warning.startswith(f"{path}: history.json: ") and message in warning
    assert warning.endswith("the project opens without its training history") and "\n" not in warning


@pytest.mark.parametrize("history, message", MISSHAPEN_HISTORIES)
def test_misshapen_history_is_not_saved(tmp_path, history, message):
    path = tmp_path / "p.nnstudio"
    with pytest.raises(ProjectFileError, match=re.escape(message)) as info:
        save_project(Project(small_graph(), history=history), path)
    assert info.value.field == "history.json" and not path.exists()


def test_history_with_millions_of_items_is_left_out_unparsed(tmp_path, monkeypatch):
    from nnstudio.core.project import io as project_io

    items = "[" + ",".join("0" for _ in range(project_io.MAX_JSON_ITEMS + 1)) + "]"
    path = write_zip(tmp_path / "p.nnstudio", {"project.json": json.dumps(base_data()),
                                               "history.json": '{"loss": ' + items + "}"}, zipfile.ZIP_STORED)
    parsed = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda text, **kw: (parsed.append(len(text)), real(text, **kw))[1])
    project = load_project(path)
    assert project.history is None and "JSON items" in project.load_warnings[0]
    assert all(size < 100_000 for size in parsed)  # project.json only


def test_project_json_with_millions_of_items_is_refused(tmp_path):
    from nnstudio.core.project import io as project_io

    data = base_data()
    data["description"] = ""
    text = json.dumps(data)[:-1] + ', "x": [' + ",".join(["{}"] * (project_io.MAX_JSON_ITEMS // 2 + 1)) + "]}"
    with pytest.raises(ProjectFileError, match="JSON items") as info:
        load_project(write_zip(tmp_path / "p.nnstudio", {"project.json": text}, zipfile.ZIP_STORED))
    assert info.value.field == "project.json"


# -- paths that are not project files -------------------------------------------------------------------------------
def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ProjectFileError, match="is a folder"):
        load_project(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    import threading

    fifo = tmp_path / "p.nnstudio"
    os.mkfifo(fifo)
    errors = []
    worker = threading.Thread(target=lambda: errors.append(_refusal(fifo)), daemon=True)
    worker.start()
    worker.join(120)  # a hang guard: opening a FIFO for reading blocks until someone writes
    assert not worker.is_alive() and "device, pipe or socket" in errors[0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_unread():
    assert "device, pipe or socket" in _refusal("/dev/zero")


def _refusal(path) -> str:
    try:
        load_project(path)
    except ProjectFileError as exc:
        return str(exc)
    return "loaded"


def test_an_archive_of_thousands_of_entries_is_refused(tmp_path):
    from nnstudio.core.project import io as project_io

    members = {"project.json": json.dumps(base_data())}
    members.update({f"junk/{i}": b"" for i in range(project_io.MAX_ENTRIES)})
    with pytest.raises(ProjectFileError, match="entries"):
        load_project(write_zip(tmp_path / "p.nnstudio", members))
    del members[f"junk/{project_io.MAX_ENTRIES - 1}"]  # at the limit: opens
    assert load_project(write_zip(tmp_path / "q.nnstudio", members)).name == "n"


# -- temporary files of interrupted saves -------------------------------------------------------------------------
def leftover(folder: Path, target: str, age_s: float, hex_part: str = "0123abcd") -> Path:
    path = folder / f".{target}.{hex_part}.tmp"
    path.write_bytes(b"half a zip")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_the_next_save_removes_what_an_interrupted_save_left(tmp_path):

    old = tempfiles.STALE_S + 60
    stale = leftover(tmp_path, "p.nnstudio", old)
    fresh = leftover(tmp_path, "p.nnstudio", 0, "fedc9876")  # another window may be saving right now
    other = leftover(tmp_path, "q.nnstudio", old)  # another file's
    unlike = [tmp_path / ".p.nnstudio.0123abcd.tmp.keep", tmp_path / ".p.nnstudio.XYZ.tmp",
              tmp_path / "p.nnstudio.0123abcd.tmp", tmp_path / ".p.nnstudio.0123ABCD.tmp"]
    for path in unlike:
        path.write_bytes(b"not ours")
        os.utime(path, (time.time() - old, time.time() - old))
    save_project(Project(small_graph()), tmp_path / "p.nnstudio")
    assert not stale.exists()
    assert fresh.exists() and other.exists() and all(p.exists() for p in unlike)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") and ".p." in p.name) == sorted(
        [fresh.name, ".p.nnstudio.XYZ.tmp", ".p.nnstudio.0123ABCD.tmp"])


@pytest.mark.skipif(os.name != "posix", reason="advisory locks (fcntl.flock)")
def test_a_temporary_file_a_running_save_holds_is_kept(tmp_path):
    import fcntl


    held = leftover(tmp_path, "p.nnstudio", tempfiles.STALE_S + 60)
    with open(held, "rb") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)  # as a save in another process does while it writes
        assert tempfiles.sweep([tmp_path / "p.nnstudio"]) == []
        assert held.exists()
    assert tempfiles.sweep([tmp_path / "p.nnstudio"]) == [held]
    assert not held.exists()


@pytest.mark.skipif(os.name != "posix", reason="advisory locks (fcntl.flock)")
def test_a_save_holds_the_lock_on_its_temporary_file(tmp_path, monkeypatch):
    import fcntl

    seen = []
    real = os.replace

    def check(src, dst):  # the moment before the temporary file becomes the project
        fd = os.open(src, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append("free")
        except OSError:
            seen.append("locked")
        finally:
            os.close(fd)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", check)
    save_project(Project(small_graph()), tmp_path / "p.nnstudio")
    assert seen == ["locked"]


def test_sweeping_folders_and_files(tmp_path):

    old = tempfiles.STALE_S + 60
    recent = tmp_path / "work"
    recent.mkdir()
    autosave = tmp_path / "autosave"
    autosave.mkdir()
    gone = [leftover(recent, "mine.nnstudio", old), leftover(autosave, "session-1a2b.nnstudio", old),
            leftover(autosave, "other.NNSTUDIO", old)]
    kept = [leftover(recent, "unrelated.nnstudio", old),  # beside a recent file, but not of it
            leftover(autosave, "notes.txt", old), leftover(autosave, "session-9.nnstudio", 5)]
    link = autosave / ".link.nnstudio.0123abcd.tmp"
    link.symlink_to(kept[0])
    removed = tempfiles.sweep([recent / "mine.nnstudio", autosave, tmp_path / "missing" / "x",
                                                "", "\0"])
    assert sorted(removed) == sorted(gone)
    assert all(p.exists() for p in kept) and link.is_symlink()
