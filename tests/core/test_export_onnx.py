"""ONNX export: every example runs in onnxruntime with PyTorch's outputs (dynamic batch), and a layer the
exporter cannot express is named in a one-line error. Skipped where the optional packages are missing."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import ExportError, export_onnx
from nnstudio.core.export import onnx as onnx_export

pytest.importorskip("onnx", reason="ONNX export needs the optional extra: pip install nnstudio[onnx]")
pytest.importorskip("onnxscript", reason="ONNX export needs the optional extra: pip install nnstudio[onnx]")
ort = pytest.importorskip("onnxruntime", reason="comparing outputs needs onnxruntime (nnstudio[onnx])")

TOLERANCE = 1e-4


def trained(stem: str):
    project = EXAMPLES[stem]()
    compiled = compile_graph(project.graph, seed=11)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    return project


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_every_example_gives_pytorchs_outputs_in_onnxruntime(stem, tmp_path):
    torch.set_num_threads(1)
    project = trained(stem)
    result = export_onnx(project, tmp_path / "model.onnx")
    assert result.warnings == [] and result.format == "onnx"
    assert any("checked in onnxruntime" in n for n in result.notes)
    compiled = compile_graph(project.graph)
    compiled.module.load_state_dict(project.weights)
    compiled.module.eval()
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == compiled.input_names
    assert [o.name for o in session.get_outputs()] == ["logits"]  # every example is a classifier
    torch.manual_seed(3)
    for batch in (1, 7):  # the batch dimension is dynamic
        inputs = compiled.example_inputs(batch=batch)
        (got,) = session.run(None, {n: x.numpy() for n, x in zip(compiled.input_names, inputs)})
        with torch.no_grad():
            expected = compiled.module(*inputs).numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= TOLERANCE


def test_metadata_says_what_the_output_is(tmp_path):
    import onnx

    export_onnx(trained("sentiment_lstm"), tmp_path / "model.onnx")
    model = onnx.load(str(tmp_path / "model.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta.pop("nnstudio.project").startswith("{")  # the project it came from (export.embedded)
    assert meta == {"output_activation": "sigmoid", "task": "binary"}
    assert model.producer_name == "NN Studio"
    assert "apply sigmoid for probabilities" in model.doc_string


def test_any_project_name_becomes_one_printable_line_of_metadata(tmp_path):
    import onnx

    project = trained("spiral_mlp")
    project.name = 'lone \ud800 """ \n\u2028 \x00 end'
    onnx_export.export_onnx(project, tmp_path / "model.onnx", verify=False)
    model = onnx.load(str(tmp_path / "model.onnx"))
    assert model.doc_string.startswith('lone \\ud800 """    \\x00 end: logits are raw scores')
    assert model.doc_string.isprintable()


def test_regression_output_is_named_output(tmp_path):
    from nnstudio.core.graph import Graph
    from nnstudio.core.project.model import Project

    graph = Graph()
    a = graph.add_node("input_sequence", {"steps": 5, "features": 2}).id
    b = graph.add_node("gru", {"hidden_size": 3, "bidirectional": True}).id
    c = graph.add_node("dense", {"units": 2, "activation": "none"}).id
    d = graph.add_node("output", {"task": "regression"}).id
    for src, dst in ((a, b), (b, c), (c, d)):
        graph.connect(src, dst)
    result = export_onnx(Project(graph=graph, name="seq"), tmp_path / "seq.onnx")
    assert "not trained" in result.warnings[0] and len(result.warnings) == 1
    session = ort.InferenceSession(str(tmp_path / "seq.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["output"]


def _data_dependent(self, x):
    if x.sum() > 0:  # Python control flow on a tensor's values: no ONNX graph can hold this
        return x.mean(dim=1)
    return x.mean(dim=1) * 2


@pytest.fixture
def unexportable_pool(monkeypatch):
    """The transformer example with its GlobalAveragePool made to branch on its input's values (a layer
    ONNX cannot express). Patched on the compiled instance: shape inference never sees it."""
    original = onnx_export.compiled_with_weights

    def patched(project):
        compiled, warnings = original(project)
        pool = compiled.module.global_avg_pool_1
        pool.forward = types.MethodType(_data_dependent, pool)
        return compiled, warnings

    monkeypatch.setattr(onnx_export, "compiled_with_weights", patched)


def test_a_layer_onnx_cannot_express_is_named(unexportable_pool, tmp_path, capsys):
    with pytest.raises(ExportError) as info:
        export_onnx(EXAMPLES["transformer_classifier"](), tmp_path / "model.onnx")
    message = str(info.value)
    assert message.startswith("cannot export global_avg_pool_1 (GlobalAveragePool) to ONNX: ")
    assert "data-dependent" in message and "\n" not in message and "Traceback" not in message
    assert not (tmp_path / "model.onnx").exists()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # the exporter's graph dumps are kept from the terminal


def test_the_layer_is_found_even_when_the_error_does_not_name_it():
    compiled = compile_graph(EXAMPLES["transformer_classifier"]().graph, seed=0)
    pool = compiled.module.global_avg_pool_1
    pool.forward = types.MethodType(_data_dependent, pool)
    message = onnx_export._explain(RuntimeError("something failed"), compiled.module.eval(),
                                   tuple(compiled.example_inputs(batch=3)))
    assert message == "cannot export global_avg_pool_1 (GlobalAveragePool) to ONNX: something failed"


def test_missing_packages_name_the_install_command(monkeypatch, tmp_path):
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(ExportError, match=r"needs the onnxscript package \(not installed\): "
                                          r"pip install nnstudio\[onnx\]"):
        export_onnx(EXAMPLES["spiral_mlp"](), tmp_path / "model.onnx")
