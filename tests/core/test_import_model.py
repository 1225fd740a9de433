"""Importing PyTorch models: each module call becomes a layer with the module's own weights, the project's
parameter count is the module's, the compiled project gives the module's outputs (within 1e-5), repeated
blocks are framed and collapsed, and what does not map is refused naming the operation, its line and what would
do. A Python file is only run when asked, and says so first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from nnstudio.cli import main
from nnstudio.core.importer import ImportModelError, check_outputs, import_module, import_source
from nnstudio.core.layers.registry import SPECS
from nnstudio.core.project.io import load_project
from nnstudio.core.shapes import infer_shapes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchvision_models import mobilenet_v2, resnet18  # noqa: E402

NET = '''
import torch
from torch import nn
open(MARKER, "w").close()

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv(x))))
        x = self.drop(x)
        return self.fc(x.view(x.size(0), -1))


def make():
    return Net()


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x
'''


def _randomise(module: nn.Module) -> nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):  # trained statistics, not the fresh ones
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=gen) * 0.1 + 1)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return module


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET.replace("MARKER", repr(str(tmp_path / "ran"))), encoding="utf-8")
    return path


def test_a_python_files_model_imports_with_its_weights_and_gives_its_outputs(net_file, tmp_path):
    heard = []
    imported = import_source(f"{net_file}:Net", input_shape="3,8,8", announce=heard.append)
    assert "runs the Python code in it" in heard[0] and (tmp_path / "ran").exists()
    graph = imported.project.graph
    assert [n.type_id for n in graph.nodes.values()] == ["input_image", "conv2d", "batchnorm", "activation",
                                                         "maxpool2d", "dropout", "flatten", "dense", "output"]
    assert graph.nodes["conv2d_1"].label == "conv" and graph.nodes["dense_1"].label == "fc"
    assert infer_shapes(graph).total_params == sum(p.numel() for p in imported.module.parameters())
    assert check_outputs(imported) < 1e-5
    again = import_source(f"{net_file}:make", input_shape=(3, 8, 8))  # a function returning the module
    assert len(again.project.graph.nodes) == len(graph.nodes)


def test_weights_from_a_file_are_the_ones_imported(net_file, tmp_path):
    from safetensors.torch import save_file

    sys.path.insert(0, str(net_file.parent))
    source = import_source(f"{net_file}:Net", input_shape="3,8,8").module
    trained = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in source.state_dict().items()}
    trained = {k: (v.abs() + 0.5 if "running_var" in k else v) for k, v in trained.items()}
    save_file(trained, str(tmp_path / "w.safetensors"))
    torch.save(trained, tmp_path / "w.pt")
    for weights in (tmp_path / "w.safetensors", tmp_path / "w.pt"):
        imported = import_source(f"{net_file}:Net", input_shape="3,8,8", weights=str(weights))
        assert torch.equal(imported.project.weights["conv2d_1.weight"], trained["conv.weight"])
        assert check_outputs(imported) < 1e-5
    (tmp_path / "bad.pt").write_bytes(b"not a pickle of tensors")
    with pytest.raises(ImportModelError, match="not a safetensors file or a saved state dict"):
        import_source(f"{net_file}:Net", input_shape="3,8,8", weights=str(tmp_path / "bad.pt"))


@pytest.mark.parametrize("name, words", [
    ("Shared", "the module fc is called twice .*shared"),
    ("Branchy", "torch.fx cannot trace this model"),
    ("Nope", "has no 'Nope' \\(its modules: Branchy, Net, Shared\\)"),
])
def test_what_cannot_be_imported_says_why(net_file, name, words):
    with pytest.raises(ImportModelError, match=words):
        import_source(f"{net_file}:{name}", input_shape="4")


def test_an_operation_without_a_layer_names_its_line_and_the_nearest_layer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(1, 2, 3)

        def forward(self, x):
            return self.conv(x)

    with pytest.raises(ImportModelError) as caught:
        import_module(Net(), (1, 8, 8))
    text = str(caught.value)
    assert "the module conv at test_import_model.py:" in text and "return self.conv(x)" in text
    assert "Conv3d has no NN Studio layer (the nearest is Conv2D)" in text


@pytest.mark.skipif("adaptive_avg_pool2d" not in SPECS, reason="needs AdaptiveAvgPool2D in the catalogue")
def test_resnet18_imports_whole_with_its_blocks_framed():
    torch.set_num_threads(1)
    model = _randomise(resnet18())
    imported = import_module(model, (3, 64, 64), name="resnet18")
    graph = imported.project.graph
    assert infer_shapes(graph).total_params == 11_689_512
    frames = sorted(f.label for f in graph.frames.values())
    assert len(frames) == 8 and frames[0] == "layer1.0 (BasicBlock)" and all(f.collapsed for f in graph.frames.values())
    assert check_outputs(imported) < 1e-5


@pytest.mark.skipif("relu6" not in SPECS["activation"].param("function").choices,
                    reason="needs ReLU6 and grouped convolutions in the catalogue")
def test_mobilenet_v2_imports_with_depthwise_convolutions():
    torch.set_num_threads(1)
    model = _randomise(mobilenet_v2(num_classes=10))
    imported = import_module(model, (3, 32, 32))
    assert infer_shapes(imported.project.graph).total_params == sum(p.numel() for p in model.parameters())
    assert check_outputs(imported) < 1e-5


def test_the_command_line_writes_the_project_and_says_it_runs_the_file(net_file, tmp_path, capsys):
    out = tmp_path / "net.nnstudio"
    assert main(["import", f"{net_file}:Net", "--input-shape", "3,8,8", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "runs the Python code in it" in captured.err
    assert captured.out.strip() == f"{out}: 9 layers, 885 parameters, 0 frames"
    project = load_project(out)
    assert project.weights is not None and "conv2d_1.weight" in project.weights
    for args, words in ((["torchvision:resnet18", "--input-shape", "3,32,32"], "needs torchvision"),
                        ([f"{net_file}:Net"], "give the per-sample input shape"),
                        ([f"{net_file}:Net", "--input-shape", "3,a"], "whole numbers"),
                        ([str(net_file), "--input-shape", "3"], "also name the model in it")):
        assert main(["import", *args, "-o", str(tmp_path / "x.nnstudio")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert words in err[-1] and "Traceback" not in "".join(err)


def test_an_exported_file_reopens_the_project_that_wrote_it_without_running(tmp_path, capsys):
    from nnstudio.core.examples import EXAMPLES
    from nnstudio.core.export import export

    project = EXAMPLES["spiral_mlp"]()
    for suffix in (".py", ".onnx", ".safetensors"):
        path = tmp_path / f"model{suffix}"
        export(project, path)
        out = tmp_path / f"back{suffix}.nnstudio"
        assert main(["import", str(path), "-o", str(out)]) == 0
        back = load_project(out)
        assert back.graph.to_dict() == project.graph.to_dict() and back.training == project.training
        assert back.dataset == project.dataset and back.name == project.name
        assert "runs the Python code" not in capsys.readouterr().err  # read as data, never run


@pytest.mark.skipif("adaptive_avg_pool2d" not in SPECS, reason="needs AdaptiveAvgPool2D in the catalogue")
@pytest.mark.parametrize("make", [resnet18, mobilenet_v2])
def test_the_exported_script_of_an_imported_model_gives_its_outputs(make, tmp_path):
    """The round trip: PyTorch module -> canvas -> exported PyTorch file, the same numbers."""
    import importlib.util

    from nnstudio.core.export import export

    torch.set_num_threads(1)
    model = _randomise(make(num_classes=10)).eval()
    imported = import_module(model, (3, 32, 32))
    export(imported.project, tmp_path / "model.py")
    spec = importlib.util.spec_from_file_location(f"exported_{make.__name__}", tmp_path / "model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rebuilt = script.build_model().eval()
    rebuilt.load_state_dict(imported.project.weights, strict=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (rebuilt(x) - model(x)).abs().max() < 1e-5


class TextClassifier(nn.Module):
    """A typical user LSTM classifier: token ids, an Embedding, a stacked LSTM, the last step into a Dense."""

    def __init__(self, kind: str = "lstm", read: str = "out", bidirectional: bool = False):
        super().__init__()
        self.kind, self.read = kind, read
        self.embedding = nn.Embedding(100, 16)
        cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
        self.rnn = cls(16, 32, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(64 if bidirectional else 32, 3)

    def forward(self, tokens):
        out, state = self.rnn(self.embedding(tokens))
        if self.read == "out":
            return self.fc(out[:, -1])
        if self.read == "cell":
            return self.fc(state[1][-1])
        hidden = state[0] if self.kind == "lstm" else state
        return self.fc(hidden[-1])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("read", ["out", "hidden"])
def test_a_recurrent_text_classifier_imports_with_its_last_step(kind, read):
    model = TextClassifier(kind, read)
    imported = import_module(model, (12,))
    nodes = list(imported.project.graph.nodes.values())
    assert [n.type_id for n in nodes] == ["input_tokens", "embedding", {"rnn": "simple_rnn"}.get(kind, kind),
                                          "dense", "output"]
    assert nodes[0].params == {"length": 12, "vocab_size": 100} and nodes[2].params["return_sequences"] is False
    assert infer_shapes(imported.project.graph).total_params == sum(p.numel() for p in model.parameters())
    assert check_outputs(imported) < 1e-5


@pytest.mark.parametrize("model, words", [
    (TextClassifier("lstm", "out", bidirectional=True), "bidirectional layer"),
    (TextClassifier("lstm", "cell"), "cell state has no place"),
])
def test_what_a_recurrent_layer_cannot_give_is_refused(model, words):
    with pytest.raises(ImportModelError, match=words):
        import_module(model, (12,))


class TransformerText(nn.Module):
    """A typical user Transformer classifier: token ids, an Embedding, nn.TransformerEncoder of two layers,
    the mean over the steps, a Dense."""

    def __init__(self, norm_first: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(50, 16)
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.fc = nn.Linear(16, 2)

    def forward(self, tokens):
        return self.fc(self.encoder(self.embedding(tokens)).mean(dim=1))


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_transformer_text_classifier_imports_layer_by_layer(norm_first):
    model = TransformerText(norm_first)
    imported = import_module(model, (10,))
    graph = imported.project.graph
    assert [n.type_id for n in graph.nodes.values()] == ["input_tokens", "embedding", "transformer_encoder",
                                                         "transformer_encoder", "global_avg_pool", "dense", "output"]
    assert graph.nodes["transformer_encoder_1"].label == "encoder.0"
    assert infer_shapes(graph).total_params == sum(p.numel() for p in model.parameters())
    assert check_outputs(imported) < 1e-5
