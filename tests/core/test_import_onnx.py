"""Importing ONNX models (read with the onnx package; nothing in the file runs): the imported project gives
onnxruntime's outputs, and an operator without a layer is refused naming it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from nnstudio.core.compile import compile_graph
from nnstudio.core.importer import ImportModelError, import_source
from nnstudio.core.shapes import infer_shapes

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x + torch.sigmoid(self.conv2(x))
        x = self.avg(self.pool(x))
        return self.fc(torch.flatten(x, 1))


def _export(module: nn.Module, path, shape=(3, 8, 8)) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(2, *shape),), str(path), dynamo=True, verbose=False)


def test_an_onnx_model_imports_and_gives_onnxruntimes_outputs(tmp_path):
    torch.manual_seed(0)
    module = Net()
    path = tmp_path / "net.onnx"
    _export(module, path)
    imported = import_source(str(path))
    graph = imported.project.graph
    assert infer_shapes(graph).total_params == sum(p.numel() for p in module.parameters())
    assert {"conv2d", "add", "maxpool2d", "avgpool2d", "flatten", "dense"} <= {n.type_id for n in graph.nodes.values()}
    compiled = compile_graph(graph, seed=0)
    compiled.module.load_state_dict(imported.project.weights)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype("float32")
    name = ort.InferenceSession(str(path)).get_inputs()[0].name
    want = ort.InferenceSession(str(path)).run(None, {name: x})[0]
    got = compiled.module.eval()(torch.from_numpy(x)).detach().numpy()
    assert np.abs(got - want).max() < 1e-5


def test_an_operator_without_a_layer_is_named(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, dim=1)

    path = tmp_path / "odd.onnx"
    _export(Odd(), path, (4,))
    with pytest.raises(ImportModelError, match="odd.onnx: cannot import the CumSum node .*has no NN Studio layer"):
        import_source(str(path))


def test_a_file_that_is_not_onnx_is_one_line(tmp_path):
    path = tmp_path / "fake.onnx"
    path.write_bytes(b"\x00garbage" * 10)
    from nnstudio.core.errors import NNStudioError

    with pytest.raises(NNStudioError, match="fake.onnx: (is )?not (a valid|an) ONNX model"):
        import_source(str(path))
