"""Models torch.fx cannot trace (control flow on shapes, a Python loop over x.size()) are captured with
torch.export instead: the same layers, weights, frames and outputs as a traced model, a note saying so, and
what still does not map refused naming the aten operation, its line and the nearest layer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnstudio.cli import main
from nnstudio.core.importer import ImportModelError, check_outputs, import_module
from nnstudio.core.project.io import load_project
from nnstudio.core.shapes import infer_shapes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchvision_models import resnet18  # noqa: E402

# The network of PyTorch's "60 minute blitz", with a guard for an unbatched image: fx cannot trace either the
# guard (control flow on a shape) or num_flat_features (a loop over x.size()).
BLITZ = '''
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.drop = nn.Dropout(0.2)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(0)
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = self.drop(F.relu(self.fc2(x)))
        return self.fc3(x)

    def num_flat_features(self, x):
        n = 1
        for s in x.size()[1:]:
            n *= s
        return n
'''


@pytest.fixture
def blitz(tmp_path):
    path = tmp_path / "blitz.py"
    path.write_text(BLITZ, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("blitz", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module.Net


def _exported_outputs(project, tmp_path: Path, x: torch.Tensor) -> torch.Tensor:
    from nnstudio.core.export import export

    export(project, tmp_path / "model.py")
    spec = importlib.util.spec_from_file_location(f"exported_{tmp_path.name}", tmp_path / "model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rebuilt = script.build_model().eval()
    rebuilt.load_state_dict(project.weights, strict=True)
    with torch.no_grad():
        return rebuilt(x)


def test_a_forward_fx_cannot_trace_is_captured_by_torch_export(blitz, tmp_path):
    _, Net = blitz
    with pytest.raises(Exception):  # the premise: fx itself cannot trace it
        torch.fx.symbolic_trace(Net())
    model = Net().eval()
    imported = import_module(model, (1, 32, 32), name="Net")
    assert any("captured with torch.export" in n for n in imported.notes)
    graph = imported.project.graph
    assert infer_shapes(graph).total_params == sum(p.numel() for p in model.parameters())
    kinds = [graph.nodes[nid].type_id for nid in graph.topological_order()]
    assert kinds.count("conv2d") == 2 and kinds.count("dense") == 3 and kinds.count("maxpool2d") == 2
    assert "dropout" in kinds  # kept for training, though the capture ran in eval mode
    assert {n.label for n in graph.nodes.values() if n.type_id == "dense"} == {"fc1", "fc2", "fc3"}
    assert check_outputs(imported) < 1e-5
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(x)
    assert (_exported_outputs(imported.project, tmp_path, x) - want).abs().max() < 1e-5


def test_the_command_line_says_it_captured_with_torch_export(blitz, tmp_path, capsys):
    path, _ = blitz
    out = tmp_path / "blitz.nnstudio"
    assert main(["import", f"{path}:Net", "--input-shape", "1,32,32", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "captured with torch.export" in captured.err + captured.out
    assert "Traceback" not in captured.err and "def forward" not in captured.err  # no graph dump either
    assert load_project(out).weights is not None


class GuardedResNet(nn.Module):
    """ResNet-18 behind a check of the input's size: fx cannot trace it, export can."""

    def __init__(self):
        super().__init__()
        self.net = resnet18(num_classes=10)

    def forward(self, x):
        if x.shape[-1] < 32:
            raise ValueError("images of at least 32 pixels")
        return self.net(x)


def test_resnet18_captured_by_export_keeps_its_blocks_framed():
    torch.set_num_threads(1)
    model = GuardedResNet().eval()
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    imported = import_module(model, (3, 32, 32))
    assert any("captured with torch.export" in n for n in imported.notes)
    graph = imported.project.graph
    assert infer_shapes(graph).total_params == sum(p.numel() for p in model.parameters())
    frames = sorted(f.label for f in graph.frames.values())
    assert len(frames) == 8 and frames[0] == "net.layer1.0 (BasicBlock)"
    assert check_outputs(imported) < 1e-5


class GuardedText(nn.Module):
    def __init__(self, read: str):
        super().__init__()
        self.read = read
        self.embed = nn.Embedding(40, 8)
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, tokens):
        if tokens.dim() == 1:
            tokens = tokens[None]
        out, (h, c) = self.lstm(self.embed(tokens))
        if self.read == "last":
            return self.fc(out[:, -1])
        return self.fc(h[-1] if self.read == "h" else c[-1])


@pytest.mark.parametrize("read", ["last", "h"])
def test_a_recurrent_model_captured_by_export_reads_its_last_step(read):
    imported = import_module(GuardedText(read), (9,))
    lstm = next(n for n in imported.project.graph.nodes.values() if n.type_id == "lstm")
    assert lstm.params["return_sequences"] is False
    assert check_outputs(imported) < 1e-5


class Unsqueezing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.dim() == 1:
            x = x[None]
        return self.fc(x).unsqueeze(1)


class ValueBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.fc(x)
        if y.sum() > 0:
            return y
        return -y


class PlusOne(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x) + 1


class Scaled(nn.Module):
    def __init__(self, constant: bool):
        super().__init__()
        self.constant = constant
        self.fc = nn.Linear(4, 4)
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        if x.dim() == 1:
            x = x[None]
        return self.fc(x) * (torch.tensor([1.0, 2.0, 3.0, 4.0]) if self.constant else self.scale)


@pytest.mark.parametrize("model, words", [
    (Scaled(False), "uses the tensor scale outside its own layer"),
    (Scaled(True), "uses a constant tensor outside its own layer"),
    (GuardedText("c"), "cell state"),
    (Unsqueezing(), r"aten.unsqueeze has no NN Studio layer \(the nearest is Reshape\), at test_import_capture.py:"
                    r"\d+ \(in forward\): return self.fc\(x\).unsqueeze\(1\)"),
    (ValueBranch(), r"branches on a tensor's values.*test_import_capture.py:\d+ \(in forward\): if y.sum\(\) > 0"),
    (PlusOne(), "to add the number 1 has no NN Studio layer"),
])
def test_what_the_capture_cannot_map_says_what_and_where(model, words, capsys):
    shape = (9,) if isinstance(model, GuardedText) else (4,)
    with pytest.raises(ImportModelError, match=words):
        import_module(model, shape)
    assert "def forward" not in capsys.readouterr().err  # export's partial graph is not printed


def test_functional_pools_map_onto_the_pool_layers():
    class Pools(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4 * 7 * 7, 5)

        def forward(self, x):
            x = F.avg_pool2d(F.max_pool2d(self.conv(x), 2, 1), kernel_size=2)
            return self.fc(torch.flatten(x, 1))

    imported = import_module(Pools(), (3, 18, 18))
    pools = [(n.type_id, n.params["stride"]) for n in imported.project.graph.nodes.values()
             if n.type_id.endswith("pool2d")]
    assert sorted(pools) == [("avgpool2d", 0), ("maxpool2d", 1)]
    assert check_outputs(imported) < 1e-5
    with pytest.raises(ImportModelError, match="ceil_mode=True"):
        class Ceil(Pools):
            def forward(self, x):
                return F.max_pool2d(self.conv(x), 2, ceil_mode=True)
        import_module(Ceil(), (3, 18, 18))
