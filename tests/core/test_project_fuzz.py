"""Damaged and hostile project files: zip bombs, lying headers, bad members, and property tests showing that
mutated or truncated files only ever raise ProjectFileError (or open without a damaged history, saying so in one
line). Last, any project that can be saved comes back equal."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as safetensors_save

from nnstudio.core.errors import ProjectFileError
from nnstudio.core.graph import Graph
from nnstudio.core.layers.registry import SPECS
from nnstudio.core.project import checks
from nnstudio.core.project import io as project_io
from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project
from nnstudio.core.training import resume
from nnstudio.core.training.resume import TrainingState

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (st.none() | st.booleans() | st.integers(-(10**18), 10**18)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def sample_project() -> Project:
    g = Graph()
    g.add_node("input_image", {"channels": 1, "height": 8, "width": 8}, (0, 0), node_id="input_image_1")
    g.add_node("conv2d", {"filters": 2}, (100, 0), node_id="conv2d_1", label="features")
    g.add_node("flatten", {}, (200, 0), node_id="flatten_1")
    g.add_node("dense", {"units": 3, "activation": "softmax"}, (300, 0), node_id="dense_1")
    g.add_node("output", {}, (400, 0), node_id="output_1")
    for a, b in [("input_image_1", "conv2d_1"), ("conv2d_1", "flatten_1"), ("flatten_1", "dense_1"),
                 ("dense_1", "output_1")]:
        g.connect(a, b)
    weights = {"conv2d_1.weight": torch.randn(2, 1, 3, 3), "conv2d_1.bias": torch.randn(2),
               "dense_1.weight": torch.randn(3, 72), "dense_1.bias": torch.zeros(3, dtype=torch.float64),
               "steps": torch.tensor([5], dtype=torch.int32)}
    params = [n for n in weights if n != "steps"]
    state = TrainingState(
        3, 30, 1.5, "val_loss", 0.6, 2, 1, optimizer="adam", lr=0.01, lrs=[0.005], params=params,
        optimizer_state={n: {"exp_avg": torch.randn_like(weights[n].float()),
                             "exp_avg_sq": torch.rand_like(weights[n].float()), "step": torch.tensor(30.0)}
                         for n in params},
        schedule="plateau", scheduler={"best": 0.6, "mode_worse": float("inf"), "num_bad_epochs": 1,
                                       "_last_lr": [0.005], "mode": "min"},
        rng={"torch_cpu": torch.get_rng_state(), "permutation": torch.Generator().get_state()})
    return Project(g, "fuzz", "a sample", {"optimizer": "adam", "epochs": 3}, {"source": "synthetic"}, weights,
                   {"loss": [0.9, 0.7, 0.6], "accuracy": [0.3, 0.5, 0.6]}, weights_fingerprint="0" * 64,
                   training_state=state)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def saved(workdir) -> tuple[bytes, dict[str, bytes]]:
    """The bytes of a saved sample project, and its members."""
    path = workdir / "sample.nnstudio"
    save_project(sample_project(), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return path.read_bytes(), members


def load_bytes(workdir: Path, payload: bytes) -> Project | None:
    """Load ``payload`` as a project file; None when it is refused with a ProjectFileError (the only error
    allowed). A project that does load must be usable: its graph can be checked."""
    path = workdir / "case.nnstudio"
    path.write_bytes(payload)
    try:
        project = load_project(path)
    except ProjectFileError as exc:
        assert exc.path == str(path) and str(exc).startswith(str(path))
        return None
    assert isinstance(project.graph, Graph)
    assert isinstance(project.graph.validate(), list)
    for warning in project.load_warnings:
        assert warning.startswith(str(path)) and len(warning.splitlines()) == 1
        member = next(m for m in ("history.json", "training_state.safetensors", "weights.safetensors")
                      if m in warning)
        attribute = {"history.json": "history", "training_state.safetensors": "training_state"}.get(member, "weights")
        assert getattr(project, attribute) is None, f"{member} is named in a warning but was kept"
    if project.training_state is not None:  # what opens can be put into an optimizer or said not to fit
        assert project.weights is not None
        assert isinstance(project.training_state, TrainingState)
    return project


def zip_members(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


# -- hostile archives, one case each -----------------------------------------------------------------------------
def write(tmp_path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path = tmp_path / "p.nnstudio"
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def refused_field(path: Path, match: str | None = None) -> str | None:
    with pytest.raises(ProjectFileError, match=match) as info:
        load_project(path)
    return info.value.field


def left_out(path: Path, member: str, match: str | None = None) -> str:
    """The warning of a project that opens without its damaged ``member`` (weights, training state or history)."""
    project = load_project(path)
    attribute = {"weights.safetensors": "weights", "training_state.safetensors": "training_state"}.get(member,
                                                                                                       "history")
    assert getattr(project, attribute) is None
    assert len(project.load_warnings) == 1 and f"{path}: {member}: " in project.load_warnings[0]
    if match:
        assert match in project.load_warnings[0]
    return project.load_warnings[0]


def test_other_members_and_traversal_names_are_ignored(tmp_path, saved):
    members = {**saved[1], "../evil.txt": b"x", "/abs/evil.txt": b"x", "dir/project.json": b"not json",
               "PROJECT.JSON": b"not json"}
    assert load_project(write(tmp_path, members)).name == "fuzz"
    assert not (tmp_path.parent / "evil.txt").exists()


def test_duplicate_member_is_refused(tmp_path, saved):
    path = write(tmp_path, saved[1])
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as archive:  # zipfile warns about it too
        archive.writestr("project.json", "{}")
    assert refused_field(path, "twice") == "project.json"


def test_zip_bomb_ratio_is_refused(tmp_path, saved):
    bomb = saved[1]["project.json"] + b" " * 3_000_000
    assert refused_field(write(tmp_path, {"project.json": bomb}), "zip bomb") == "project.json"


OVERSIZED = {"history.json": json.dumps({"loss": list(range(2000))}).encode(),
             "weights.safetensors": safetensors_save({"big": torch.randn(1000)})}


@pytest.mark.parametrize("member, limit", [("project.json", "MAX_JSON_BYTES"),
                                           ("weights.safetensors", "MAX_WEIGHTS_BYTES")])
def test_oversized_members_are_refused(tmp_path, monkeypatch, saved, member, limit):
    members = {"project.json": saved[1]["project.json"], **OVERSIZED}
    path = write(tmp_path, members)
    load_project(path)
    monkeypatch.setattr(project_io, limit, len(members[member]) - 1)
    if member == "weights.safetensors":  # the network still opens, to be trained again
        left_out(path, member, "limit")
    else:
        assert refused_field(path, "limit") == member


def test_an_oversized_history_is_left_out(tmp_path, monkeypatch, saved):
    path = write(tmp_path, {"project.json": saved[1]["project.json"], **OVERSIZED})
    assert load_project(path).history == {"loss": list(range(2000))}
    monkeypatch.setattr(project_io, "MAX_HISTORY_BYTES", len(OVERSIZED["history.json"]) - 1)
    project = load_project(path)
    assert project.history is None and project.weights is not None
    assert project.load_warnings == [f"{path}: history.json: is {len(OVERSIZED['history.json']):,} bytes uncompressed; "
                                     f"the limit is {len(OVERSIZED['history.json']) - 1:,}; the project opens "
                                     "without its training history"]


def test_the_sample_training_state_round_trips(tmp_path, saved):
    state = load_project(write(tmp_path, saved[1])).training_state
    assert (state.epoch, state.step, state.best_value, state.best_epoch, state.bad_epochs) == (3, 30, 0.6, 2, 1)
    assert state.scheduler["mode_worse"] == float("inf") and state.lrs == [0.005]
    assert set(state.optimizer_state) == set(sample_project().weights) - {"steps"}
    assert set(state.rng) == {"torch_cpu", "permutation"}


def test_an_oversized_training_state_is_left_out_unpacked(tmp_path, monkeypatch, saved):
    path = write(tmp_path, saved[1])
    size = len(saved[1]["training_state.safetensors"])
    monkeypatch.setattr(project_io, "MAX_TRAINING_STATE_BYTES", size - 1)
    opened = []
    real_load = resume.unpack
    monkeypatch.setattr(resume, "unpack", lambda *a: opened.append(1) or real_load(*a))
    warning = left_out(path, "training_state.safetensors", "more than the limit")
    assert opened == [] and "continuing its training starts the optimizer afresh" in warning
    assert load_project(path).weights is not None  # the weights are kept


def test_a_training_state_bomb_is_refused(tmp_path, monkeypatch, saved):
    monkeypatch.setattr(project_io, "STATE_HEADER_ALLOWANCE", 64 * 1024**2)  # within the size limit
    padded = {**saved[1], "training_state.safetensors": saved[1]["training_state.safetensors"] + b"\0" * 2_000_000}
    left_out(write(tmp_path, padded), "training_state.safetensors", "refusing to unpack it")  # deflates ~1000:1


@pytest.mark.parametrize("change, words", [
    (lambda t, m: m.update(version="2"), "version: must be 1"),
    (lambda t, m: m.update(position='{"epoch": -1, "step": 0}'), "position.epoch: must be a whole number >= 0"),
    (lambda t, m: m.update(optimizer='{"type": "lbfgs", "lr": 0.1}'), "optimizer.type: must be one of"),
    (lambda t, m: m.pop("position"), "the metadata key 'position' is missing"),
    (lambda t, m: m.update(scheduler='{"type": "step", "state": {"x": {"y": 1}}}'), "scheduler.state.'x'"),
    (lambda t, m: t.update({"optimizer.nope.exp_avg": torch.zeros(2)}), "names no parameter"),
    (lambda t, m: t.update({"rng.torch_cpu": torch.zeros(10, dtype=torch.uint8)}), "holds 10 bytes"),
    (lambda t, m: t.update({"rng.other": torch.zeros(10, dtype=torch.uint8)}), "is not a tensor of a training"),
    (lambda t, m: t.update({"optimizer.dense_1.bias.exp_avg": torch.zeros(3, dtype=torch.int64)}), "float tensor"),
    (lambda t, m: m.update(position="[1, 2"), "is not valid JSON"),
])
def test_a_misshapen_training_state_is_left_out_with_a_warning(tmp_path, saved, change, words):
    from safetensors import safe_open
    from safetensors.torch import load as safetensors_load

    payload = saved[1]["training_state.safetensors"]
    (tmp_path / "s.safetensors").write_bytes(payload)
    with safe_open(str(tmp_path / "s.safetensors"), "pt") as f:
        metadata = dict(f.metadata())
    tensors = safetensors_load(payload)
    change(tensors, metadata)
    members = {**saved[1], "training_state.safetensors": safetensors_save(tensors, metadata=metadata)}
    warning = left_out(write(tmp_path, members), "training_state.safetensors", words)
    assert "the project opens without its training state" in warning


def test_a_training_state_without_weights_is_not_read(tmp_path, saved):
    members = {k: v for k, v in saved[1].items() if k != "weights.safetensors"}
    project = load_project(write(tmp_path, members))
    assert project.weights is None and project.training_state is None and project.weights_fingerprint is None
    assert project.load_warnings == []
    assert load_project(write(tmp_path, saved[1]), weights=False).weights_fingerprint == "0" * 64


def test_a_history_bomb_is_left_out_unpacked(tmp_path, saved):
    path = write(tmp_path, {"project.json": saved[1]["project.json"], "history.json": b"[" + b" " * 3_000_000 + b"]"})
    project = load_project(path)
    assert project.history is None and "zip bomb" in project.load_warnings[0]


def patch_headers(data: bytes, name: str, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of ``name``'s local and central zip headers (e.g. its size or its flags)."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, name_at, offset in ((b"PK\x03\x04", 30, local_offset), (b"PK\x01\x02", 46, central_offset)):
        start = out.find(signature)
        while out[start + name_at: start + name_at + len(encoded)] != encoded:
            start = out.find(signature, start + 1)
        struct.pack_into(fmt, out, start + offset, value)
    return bytes(out)


@pytest.mark.parametrize("fields", [(22, 24, "<I", 10), (6, 8, "<H", 1), (8, 10, "<H", 99)],
                         ids=["lying-uncompressed-size", "encrypted", "unknown-compression"])
def test_lying_or_unreadable_member_headers(tmp_path, saved, fields):
    path = write(tmp_path, saved[1])
    path.write_bytes(patch_headers(path.read_bytes(), "project.json", *fields))
    assert refused_field(path) == "project.json"


@pytest.mark.parametrize("payload", [
    b"", b"garbage", struct.pack("<Q", 2**62) + b"{}", struct.pack("<Q", 10) + b'{"a": 1}  ',
    safetensors_save({"w": torch.ones(3, dtype=torch.bool)}),
    safetensors_save({"w": torch.ones(3, dtype=torch.complex64)}),
    safetensors_save({"w": torch.ones(4)})[:-3],
])
def test_bad_weights_are_left_out_and_said(tmp_path, saved, payload):
    path = write(tmp_path, {"project.json": saved[1]["project.json"], "weights.safetensors": payload})
    left_out(path, "weights.safetensors")


def test_integer_weights_are_accepted(tmp_path, saved):
    payload = safetensors_save({"bn.num_batches_tracked": torch.tensor(3), "q": torch.arange(4, dtype=torch.uint8)})
    path = write(tmp_path, {"project.json": saved[1]["project.json"], "weights.safetensors": payload})
    weights = load_project(path).weights
    assert weights["bn.num_batches_tracked"].item() == 3 and weights["q"].dtype == torch.uint8


@pytest.mark.parametrize("text, reason", [(b"[1, 2]", "must be an object, not a list"), (b"{bad", "not valid JSON"),
                                          (b"null", "must be an object, not null"), (b"\xff\xfe", "not UTF-8"),
                                          (b'{"epochs": 3}', "epochs: must be a list")])
def test_bad_history_is_left_out_and_said(tmp_path, saved, text, reason):
    path = write(tmp_path, {"project.json": saved[1]["project.json"], "history.json": text})
    project = load_project(path)
    assert project.history is None and project.name == "fuzz"
    assert len(project.load_warnings) == 1 and f"{path}: history.json: " in project.load_warnings[0]
    assert reason in project.load_warnings[0]


# -- damaged archives --------------------------------------------------------------------------------------------
@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=6))
def test_flipped_bytes(workdir, saved, flips):
    data = bytearray(saved[0])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    load_bytes(workdir, bytes(data))


@FUZZ
@given(cut=st.integers(0, 10**9))
def test_truncated_files_are_refused(workdir, saved, cut):
    data = saved[0]
    assert load_bytes(workdir, data[: cut % len(data)]) is None


@FUZZ
@given(member=st.sampled_from(["project.json", "weights.safetensors", "training_state.safetensors", "history.json"]),
       flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), max_size=4),
       cut=st.integers(0, 10**9), junk=st.binary(max_size=8))
def test_damaged_members_in_a_sound_zip(workdir, saved, member, flips, cut, junk):
    """The zip itself is valid (CRCs match), so the damage reaches the JSON and safetensors parsers."""
    members = dict(saved[1])
    data = bytearray(members[member])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    members[member] = bytes(data[: cut % (len(data) + 1)]) + junk
    load_bytes(workdir, zip_members(members))


# -- mutated project.json ----------------------------------------------------------------------------------------
def paths_of(value, prefix=()):
    """Every path (tuple of keys and indices) inside a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, (*prefix, index))


def apply(data, path, action, value):
    if not path:
        return value if action == "replace" else data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[f"x{len(parent)}"] = value
    else:
        parent.insert(path[-1], value)
    return data


@FUZZ
@given(data=st.data())
def test_mutated_project_json(workdir, saved, data):
    document = json.loads(saved[1]["project.json"])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(paths_of(document))))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        document = apply(document, path, action, data.draw(json_values))
    members = {**saved[1], "project.json": json.dumps(document).encode()}
    load_bytes(workdir, zip_members(members))


@FUZZ
@given(document=json_values)
def test_arbitrary_json_documents(workdir, document):
    load_bytes(workdir, zip_members({"project.json": json.dumps(document).encode()}))


# -- round trip --------------------------------------------------------------------------------------------------
def _usable_id(text: str) -> bool:
    """Not a reserved id (a keyword such as ``or``, a torch.fx attribute such as ``code``): those are refused."""
    from nnstudio.core.errors import GraphError
    from nnstudio.core.graph import check_id

    try:
        check_id(text)
    except GraphError:
        return False
    return True


node_ids = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,10}\Z").filter(_usable_id)
finite = st.floats(-1e9, 1e9, allow_nan=False)
dtypes = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                          torch.int8, torch.uint8])


@st.composite
def graph_dicts(draw):
    ids = draw(st.lists(node_ids, min_size=1, max_size=6, unique=True))
    nodes = []
    for node_id in ids:
        type_id = draw(st.sampled_from(list(SPECS)))
        params = SPECS[type_id].defaults()
        for name in list(params):  # some values out of range or of the wrong kind: kept as written
            if draw(st.booleans()):
                params[name] = draw(json_scalars | st.lists(json_scalars, max_size=3))
        node = {"id": node_id, "type": type_id, "params": params, "position": [draw(finite), draw(finite)]}
        label = draw(st.text(max_size=10))
        if label:
            node["label"] = label
        nodes.append(node)
    wires = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.integers(0, 3)), unique=True,
                          max_size=8))
    edges = [{"from": a, "to": b, **({"port": p} if p else {})} for a, b, p in wires]
    return {"nodes": nodes, "edges": edges}


@st.composite
def tensors(draw):
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    return (torch.randn(shape, generator=generator) * 100).to(draw(dtypes))


numbers = st.integers(-(10**18), 10**18) | st.floats()  # a history may hold NaN and infinities
metric_names = st.text(min_size=1, max_size=8)
epoch_rows = st.builds(lambda epoch, values: {"epoch": epoch, **values}, st.integers(1, 10**5),
                       st.dictionaries(metric_names.filter(lambda k: k != "epoch"), numbers, max_size=4))
histories = st.fixed_dictionaries({}, optional={
    "epochs": st.lists(epoch_rows, max_size=4), "best_epoch": st.none() | st.integers(1, 10**5),
    "stop_reason": st.sampled_from(["completed", "stopped", "early_stopping"]),
    "final": st.dictionaries(metric_names, numbers, max_size=3), "device": st.text(max_size=8),
    "steps": st.integers(0, 10**9), "config": st.dictionaries(st.text(max_size=8), json_values, max_size=4)})


@st.composite
def projects(draw):
    weights = draw(st.none() | st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda s: s != "__metadata__"),
                                               tensors(), max_size=4))
    history = draw(st.none() | histories)
    training = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    dataset = draw(st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    return Project(Graph.from_dict(draw(graph_dicts())), draw(st.text(max_size=20)), draw(st.text(max_size=40)),
                   training, dataset, weights, history)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_round_trip(workdir, project):
    path = workdir / "round.nnstudio"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.graph.to_dict() == project.graph.to_dict()
    assert (loaded.name, loaded.description) == (project.name, project.description)
    assert loaded.training == project.training and loaded.dataset == project.dataset
    assert json.dumps(loaded.history, sort_keys=True) == json.dumps(project.history, sort_keys=True)  # NaN too
    assert loaded.load_warnings == []
    if project.weights is None:
        assert loaded.weights is None
    else:
        assert loaded.weights.keys() == project.weights.keys()
        for name, tensor in project.weights.items():
            assert loaded.weights[name].dtype == tensor.dtype and torch.equal(loaded.weights[name], tensor)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_any_history_is_saved_as_it_is_or_refused(workdir, history):
    """Save refuses a history the app could not read back (naming history.json and writing nothing); any other
    comes back equal."""
    path = workdir / "history.nnstudio"
    path.unlink(missing_ok=True)
    try:
        save_project(Project(sample_project().graph, history=history), path)
    except ProjectFileError as exc:
        assert exc.field == "history.json" and not path.exists()
        return
    loaded = load_project(path)
    assert loaded.history == history and loaded.load_warnings == []


# -- the quick check before the schema -----------------------------------------------------------------------------
HOSTILE_FIELD_VALUES = [True, False, None, 0, 1, -1, 1.5, 65535, 65536, "", "x", "1a", "a b", "dense", [], [1],
                        [1, 2], [1, 2, 3], [True, 1], [1, "a"], [None, 2], [[1], 2], {}, {"a": 1}, {"a": [1]},
                        {"a": [[1]]}, {"a": {"b": 1}}, {"a": True}, {"": None}]


def test_the_quick_graph_check_never_passes_what_the_schema_refuses():
    """io skips jsonschema for nodes and wires its quick check passes: that check must be stricter. Every field
    of a valid node and wire (and one field too many) is set to every hostile value in turn."""
    validator = checks.validator()
    defs = validator.schema["$defs"]

    def schema_ok(kind: str, item) -> bool:
        return not list(validator.evolve(schema={"$ref": f"#/$defs/{kind}", "$defs": defs}).iter_errors(item))

    node = {"id": "dense_1", "type": "dense", "params": {"units": 4, "shape": [1, 2]}, "position": [1.5, -2],
            "label": "x"}
    edge = {"from": "a", "to": "b", "port": 1}
    checked = 0
    for kind, valid, quick in (("node", node, lambda n: checks._plain_node(n, checks._layer_types())),
                               ("edge", edge, checks._plain_edge)):
        assert quick(valid) and schema_ok(kind, valid)
        for field in [*valid, "extra"]:
            for value in HOSTILE_FIELD_VALUES:
                mutated = {**valid, field: value}
                if quick(mutated):
                    assert schema_ok(kind, mutated), (kind, field, value)
                    checked += 1
            smaller = {k: v for k, v in valid.items() if k != field}
            assert quick(smaller) <= schema_ok(kind, smaller), (kind, "without", field)
    assert checked > 10  # the check does pass some mutations (those the schema takes too)


def test_the_quick_graph_check_passes_the_examples():
    from nnstudio.core.paths import find_resources

    for path in sorted((find_resources() / "examples").glob("*.nnstudio")):
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("project.json"))
        assert checks._without_plain_graph(data)["graph"] == {"nodes": [], "edges": []}, path.name
