"""Python export is proven, not assumed: every example is exported, run in a fresh interpreter that cannot
import nnstudio, and gives the app's outputs; one is trained for an epoch with plain python and with torchrun
(two gloo processes); the data the script makes is the data the app trains on."""

from __future__ import annotations

import ast
import importlib.util
import os
import py_compile
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nnstudio.core.compile import compile_graph
from nnstudio.core.data.bundled import DATA
from nnstudio.core.data.registry import load_split
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import ExportError, export_python, export_weights
from nnstudio.core.export import model_code
from nnstudio.core.export.formatting import wrap_long_lines
from nnstudio.core.export.python_code import check_source, python_source
from nnstudio.core.graph import Graph
from nnstudio.core.project.model import Project

# Runs a script with every import of nnstudio failing (the venv has nnstudio installed in editable mode,
# so leaving it off PYTHONPATH is not enough); -I also keeps the environment and user site out.
BLOCKED = ("import runpy, sys\n"
           "sys.modules['nnstudio'] = None\n"
           "script = sys.argv[1]\n"
           "sys.argv = sys.argv[1:]\n"
           "runpy.run_path(script, run_name='__main__')\n")
TOLERANCE = 1e-5


def run_blocked(script: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-I", "-c", BLOCKED, script.name, *args], cwd=script.parent,
                          capture_output=True, text=True, timeout=timeout, env=env)


def trained_like(project: Project, seed: int = 123) -> Project:
    """The project holding weights other than its fresh initialisation (as if trained)."""
    compiled = compile_graph(project.graph, seed=seed)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    return project


def load_module(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chain(*layers: tuple[str, dict], graph: Graph | None = None) -> Graph:
    graph = graph or Graph()
    prev = None
    for type_id, params in layers:
        node = graph.add_node(type_id, params)
        if prev is not None:
            graph.connect(prev, node.id)
        prev = node.id
    return graph


# -- every example: same outputs as the app, in a fresh interpreter without nnstudio --------------------------
@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_example_runs_standalone_and_matches_the_app(stem, tmp_path):
    torch.set_num_threads(1)
    project = trained_like(EXAMPLES[stem]())
    script, weights = tmp_path / f"{stem}.py", tmp_path / f"{stem}.safetensors"
    export_python(project, script)
    export_weights(project, weights)
    compiled = compile_graph(project.graph, seed=0)
    compiled.module.load_state_dict(project.weights)
    compiled.module.eval()
    torch.manual_seed(7)
    inputs = compiled.example_inputs(batch=5)
    np.savez(tmp_path / "in.npz", **{n: x.numpy() for n, x in zip(compiled.input_names, inputs)})

    done = run_blocked(script, "--weights", weights.name, "--predict", "in.npz", "--output", "out.npz",
                       "--device", "cpu")

    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "out.npz") as out:
        outputs, predictions = out["outputs"], out["predictions"]
    with torch.no_grad():
        expected = compiled.module(*inputs).numpy()
    assert outputs.shape == expected.shape
    assert np.abs(outputs - expected).max() <= TOLERANCE
    assert np.abs(predictions - compiled.predict(*inputs).numpy()).max() <= TOLERANCE
    if compiled.output_activation:  # logits out, probabilities from predict()
        assert not np.allclose(outputs, predictions)


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_exported_file_is_standalone_valid_and_tidy(stem, tmp_path):
    project = EXAMPLES[stem]()
    path = tmp_path / "model.py"
    export_python(project, path)
    text = path.read_text(encoding="utf-8")
    py_compile.compile(str(path), doraise=True)
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "argparse", "collections", "json", "math", "os", "random", "re", "stat",
                        "numpy", "torch"}
    assert "nnstudio" not in imported
    assert max(len(line) for line in text.splitlines()) <= 99
    assert "\t" not in text
    head = text.split("\n\n")[0]
    assert head.startswith(f"# {project.name}: a PyTorch network exported from NN Studio")
    assert "python model.py" in head and "torchrun --nproc_per_node" in head


def test_layers_carry_node_ids_and_app_weights_load_strictly(tmp_path):
    project = trained_like(EXAMPLES["residual_mlp"]())
    export_python(project, tmp_path / "model.py")
    export_weights(project, tmp_path / "w.safetensors")
    module = load_module(tmp_path / "model.py")
    model = module.build_model()
    assert type(model).__name__ == "ResidualMLP"
    assert [n for n, _ in model.named_children()] == ["dense_1", "dense_2", "dense_3", "add_1", "dense_4"]
    model.load_state_dict(load_file(tmp_path / "w.safetensors"), strict=True)
    source = (tmp_path / "model.py").read_text()
    assert "add_1 = self.add_1(dense_3, dense_1)" in source
    assert "dense_1 = torch.relu(self.dense_1(input_vector_1))" in source
    assert "return dense_4  # logits: predict() applies the softmax" in source


def test_project_training_settings_are_the_defaults(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.training.update(optimizer="sgd", lr=0.05, momentum=0.8, nesterov=True, batch_size=17, epochs=3,
                            l1=0.001, grad_clip=2.5, schedule="step", step_size=4, gamma=0.5, seed=9)
    export_python(project, tmp_path / "model.py")
    module = load_module(tmp_path / "model.py")
    args = module.parse_args([])
    assert (args.epochs, args.batch_size, args.lr, module.SEED) == (3, 17, 0.05, 9)
    optimizer = module.make_optimizer(module.build_model(), args.lr)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["momentum"] == 0.8 and optimizer.defaults["nesterov"]
    scheduler = module.make_scheduler(optimizer, args.epochs)
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR) and scheduler.gamma == 0.5
    source = (tmp_path / "model.py").read_text()
    assert "clip_grad_norm_(model.parameters(), 2.5)" in source and "L1 penalty" in source


def test_loss_and_targets_match_the_app(tmp_path):
    sentiment = trained_like(EXAMPLES["sentiment_lstm"]())
    export_python(sentiment, tmp_path / "binary.py")
    binary = load_module(tmp_path / "binary.py")
    assert isinstance(binary.make_loss(), torch.nn.BCEWithLogitsLoss)
    targets = binary.prepare_targets(torch.tensor([0, 1, 1]))
    assert targets.dtype == torch.float32 and targets.shape == (3, 1)
    assert int(binary.count_correct(torch.tensor([[-1.0], [2.0], [-3.0]]), targets)) == 2

    graph = chain(("input_vector", {"features": 1}), ("dense", {"units": 8}),
                  ("dense", {"units": 1, "activation": "none"}), ("output", {"task": "regression", "loss": "huber"}))
    export_python(Project(graph=graph, name="Sine fit", dataset={"name": "sine"}), tmp_path / "reg.py")
    regression = load_module(tmp_path / "reg.py")
    assert isinstance(regression.make_loss(), torch.nn.HuberLoss) and regression.TASK == "regression"
    model = regression.build_model()
    assert torch.equal(regression.predict(model, torch.ones(2, 1)), model(torch.ones(2, 1)).detach())


# -- the data: the same samples and split as the app ---------------------------------------------------------
DATASETS = [
    {"name": "spiral", "samples": 333, "classes": 3, "noise": 0.2, "turns": 1.5, "seed": 4, "val_fraction": 0.3,
     "test_fraction": 0.1, "split_seed": 2},
    {"name": "moons", "samples": 101}, {"name": "circles", "factor": 0.3}, {"name": "xor", "seed": 5},
    {"name": "blobs", "classes": 4}, {"name": "sine", "samples": 50}, {"name": "polynomial", "degree": 4},
    {"name": "digits", "size": 28}, {"name": "digits"}, {"name": "iris"}, {"name": "wine"},
    {"name": "breast_cancer"}, {"name": "sentiment", "samples": 300, "length": 12, "seed": 3},
]


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: "-".join(str(v) for v in d.values()))
def test_script_data_is_the_apps_data(dataset, tmp_path):
    project = EXAMPLES["spiral_mlp"]()  # the network does not matter to load_data
    project.dataset = dataset
    source, _ = python_source(project)
    (tmp_path / "model.py").write_text(source)
    module = load_module(tmp_path / "model.py")
    name = dataset["name"]
    data = str(DATA / ("digits.npz" if name == "digits" else f"{name}.csv")) if name != "sentiment" else None
    x_train, y_train, x_val, y_val = module.load_data(types.SimpleNamespace(data=data))
    split = load_split(dataset)
    for got, expected in ((x_train, split.train.x), (y_train, split.train.y), (x_val, split.val.x),
                          (y_val, split.val.y)):
        assert got.dtype == expected.dtype and torch.equal(got, expected)


def test_bundled_data_is_written_beside_the_script_and_its_absence_is_one_line(tmp_path):
    result = export_python(EXAMPLES["digits_cnn"](), tmp_path / "digits.py")
    assert (tmp_path / "digits.npz").read_bytes() == (DATA / "digits.npz").read_bytes()
    assert any("digits.npz" in note for note in result.notes)
    (tmp_path / "digits.npz").unlink()
    done = run_blocked(tmp_path / "digits.py", "--epochs", "1")
    assert done.returncode != 0
    assert "digits.npz" in done.stderr and "Traceback" not in done.stderr


def test_a_project_without_a_dataset_gets_a_load_data_to_fill_in(tmp_path):
    project = EXAMPLES["sentiment_lstm"]()
    project.dataset = None
    source, warnings = python_source(project)
    assert "PLUG YOUR DATA IN HERE" in source
    assert "int64 token ids of shape (N, 32), ids 0..999" in source
    assert "int64 class labels 0 or 1 of shape (N,)" in source
    (tmp_path / "model.py").write_text(source)
    done = run_blocked(tmp_path / "model.py", "--epochs", "1")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "plug your data in here: return x_train, y_train, x_val, y_val" in done.stderr


def test_a_dataset_that_does_not_fit_is_a_warning():
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "digits"}
    _, warnings = python_source(project)
    assert warnings and "will not train as it is" in warnings[0]


# -- training: plain python and torchrun -----------------------------------------------------------------------
def small_spiral() -> Project:
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "spiral", "samples": 120}
    return project


def test_plain_python_trains_an_epoch_and_saves(tmp_path):
    project = small_spiral()
    export_python(project, tmp_path / "model.py")
    done = run_blocked(tmp_path / "model.py", "--epochs", "1", "--device", "cpu", "--save", "out.safetensors")
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1" in done.stdout and "val_accuracy=" in done.stdout
    state = load_file(tmp_path / "out.safetensors")
    assert set(state) == set(compile_graph(project.graph).module.state_dict())


def test_torchrun_two_processes_trains_and_rank_0_saves(tmp_path):
    """About 3.5 s on two cores: two gloo processes, DistributedSampler, one epoch of 96 samples."""
    project = small_spiral()
    weights = tmp_path / "start.safetensors"
    export_python(project, tmp_path / "model.py")
    export_weights(trained_like(project), weights)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "model.py",
         "--epochs", "1", "--device", "cpu", "--weights", weights.name, "--save", "ddp.safetensors"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("epoch 1/1") == 1  # only rank 0 prints
    assert "2 processes" in done.stdout
    state = load_file(tmp_path / "ddp.safetensors")
    assert not any(k.startswith("module.") for k in state)
    compiled = compile_graph(project.graph)
    compiled.module.load_state_dict(state, strict=True)
    start = load_file(weights)
    assert any(not torch.equal(state[k], start[k]) for k in state)  # it trained


# -- more layers than the examples use: the exporter checks each against the app's model ----------------------
MORE = {
    "conv": [("input_image", {"channels": 2, "height": 9, "width": 9}),
             ("conv2d", {"filters": 3, "padding": "same", "stride": 1, "bias": False}), ("batchnorm", {}),
             ("avgpool2d", {"pool_size": 2, "padding": 1}), ("activation", {"function": "softmax"}),
             ("global_avg_pool", {}), ("reshape", {"shape": [3, 1]}), ("flatten", {}), ("dropout", {"rate": 0.2}),
             ("dense", {"units": 1, "activation": "sigmoid"}), ("output", {"task": "binary"})],
    "recurrent": [("input_sequence", {"steps": 6, "features": 3}),
                  ("gru", {"hidden_size": 4, "bidirectional": True, "num_layers": 2, "return_sequences": True,
                           "dropout": 0.1}),
                  ("simple_rnn", {"hidden_size": 3}), ("dense", {"units": 2, "activation": "leaky_relu"}),
                  ("output", {"task": "regression", "loss": "mae"})],
    "attention": [("input_sequence", {"steps": 5, "features": 8}), ("positional_encoding", {"kind": "learned"}),
                  ("multi_head_self_attention", {"heads": 2, "key_dim": 3, "causal": True}), ("layernorm", {}),
                  ("batchnorm", {}), ("transformer_encoder", {"heads": 2, "ff_dim": 6, "norm_first": True,
                                                             "ff_activation": "gelu"}),
                  ("lstm", {"hidden_size": 3}), ("dense", {"units": 3, "activation": "gelu"}),
                  ("activation", {"function": "softmax"}), ("output", {"task": "multiclass", "loss": "mse"})],
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_other_layers_export_to_the_same_computation(name, tmp_path):
    torch.set_num_threads(1)
    project = Project(graph=chain(*MORE[name]), name=f"More {name}")
    source, _ = python_source(project)  # raises ExportError if the class differs from the app's model
    assert max(len(line) for line in source.splitlines()) <= 99
    (tmp_path / "model.py").write_text(source)
    model = load_module(tmp_path / "model.py").build_model()
    compiled = compile_graph(project.graph, seed=3)
    model.load_state_dict(compiled.module.state_dict(), strict=True)


def test_two_inputs_run_standalone(tmp_path):
    graph = Graph()
    a = graph.add_node("input_vector", {"features": 3}).id
    b = graph.add_node("input_vector", {"features": 2}).id
    concat = graph.add_node("concat").id
    graph.connect(a, concat)
    graph.connect(b, concat)
    chain(("dense", {"units": 2, "activation": "tanh"}), ("output", {"task": "regression"}), graph=graph)
    graph.connect(concat, "dense_1")
    project = trained_like(Project(graph=graph, name="Two inputs"))
    export_python(project, tmp_path / "two.py")
    export_weights(project, tmp_path / "two.safetensors")
    compiled = compile_graph(graph)
    compiled.module.load_state_dict(project.weights)
    inputs = compiled.example_inputs(batch=4)
    np.savez(tmp_path / "in.npz", **{n: x.numpy() for n, x in zip(compiled.input_names, inputs)})
    done = run_blocked(tmp_path / "two.py", "--weights", "two.safetensors", "--predict", "in.npz")
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "outputs.npz") as out, torch.no_grad():
        assert np.abs(out["outputs"] - compiled.module(*inputs).numpy()).max() <= TOLERANCE


# -- the guards themselves can fail -------------------------------------------------------------------------------
def test_check_source_refuses_code_that_computes_something_else():
    project = EXAMPLES["spiral_mlp"]()
    source, _ = python_source(project)
    compiled = compile_graph(project.graph, seed=0)
    check_source(source, "SpiralMLP", compiled)
    with pytest.raises(ExportError, match="does not compute what the app's network computes"):
        check_source(source.replace("torch.relu(self.dense_2", "torch.tanh(self.dense_2"), "SpiralMLP", compiled)
    with pytest.raises(ExportError, match="do not match"):
        check_source(source.replace("nn.Linear(16, 3)", "nn.Linear(16, 4)"), "SpiralMLP", compiled)


def test_a_module_the_exporter_does_not_know_is_named(monkeypatch):
    monkeypatch.delitem(model_code.BUILDERS, torch.nn.TransformerEncoderLayer)
    with pytest.raises(ExportError, match=r"cannot write transformer_encoder_1 \(TransformerEncoderLayer\)"):
        python_source(EXAMPLES["transformer_classifier"]())


def test_long_lines_are_wrapped_black_style():
    source = ("def f(alpha_value, beta_value, gamma_value, delta_value, epsilon_value, zeta_value, eta_value):\n"
              "    return torch.exp(torch.arange(0, 10, 2, dtype=torch.float32) * (-math.log(10000.0) / 3.0) "
              "+ alpha_value)\n")
    wrapped = wrap_long_lines(source, limit=60)
    assert max(len(line) for line in wrapped.splitlines()) <= 60
    compile(wrapped, "wrapped", "exec")
    assert wrapped.splitlines()[0] == "def f("
