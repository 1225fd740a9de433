"""torch.export programs (.pt2): reloaded with torch.export.load they compute what the app's model computes, at
any batch size; a layer torch.export cannot trace is named in the error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnstudio import cli
from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import ExportError, export, export_pt2, format_for, read_embedded
from nnstudio.core.export import pt2 as pt2_module
from nnstudio.core.export.weights import compiled_with_weights
from nnstudio.core.fingerprint import fingerprint
from nnstudio.core.project.io import save_project

STEMS = ["spiral_mlp", "digits_cnn", "sentiment_lstm", "residual_mlp", "transformer_classifier"]


def trained(stem: str, seed: int = 42):
    """An example with weights that are not what its training seed would initialise (so they must be loaded)."""
    project = EXAMPLES[stem]()
    compiled = compile_graph(project.graph, seed=seed)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    project.weights_fingerprint = fingerprint(project.graph)
    return project, compiled.module.eval()


@pytest.mark.parametrize("stem", STEMS)
def test_the_reloaded_program_computes_the_compiled_model_at_two_batch_sizes(stem, tmp_path):
    project, model = trained(stem)
    result = export_pt2(project, tmp_path / "model.pt2")
    assert result.path == tmp_path / "model.pt2" and result.format == "pt2" and result.warnings == []
    assert "dynamic batch" in result.notes[0]
    program = torch.export.load(tmp_path / "model.pt2")
    compiled = compile_graph(project.graph)
    for batch in (2, 7):
        inputs = compiled.example_inputs(batch=batch)
        with torch.no_grad():
            expected, got = model(*inputs), program.module()(*inputs)
        assert got.shape == expected.shape and got.shape[0] == batch
        assert float((got - expected).abs().max()) < 1e-6


def test_an_untrained_project_exports_fresh_weights_with_a_warning(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.training["seed"] = 3
    result = export(project, tmp_path / "m.pt2")  # the extension picks the format
    assert format_for(tmp_path / "m.pt2") == "pt2" and result.format == "pt2"
    assert len(result.warnings) == 1 and "not trained" in result.warnings[0]
    fresh = compile_graph(project.graph, seed=3).module.eval()
    x = torch.randn(4, 2)
    with torch.no_grad():
        assert float((torch.export.load(tmp_path / "m.pt2").module()(x) - fresh(x)).abs().max()) < 1e-6


def test_the_program_carries_its_project(tmp_path):
    project, _ = trained("digits_cnn")
    export_pt2(project, tmp_path / "m.pt2")
    back = read_embedded(tmp_path / "m.pt2")
    assert back is not None and back.name == project.name
    assert back.graph.to_dict() == project.graph.to_dict() and back.training == project.training
    assert back.dataset == project.dataset and back.weights is None  # the program's weights stay in it


class DataDependent(nn.Module):
    """Decides what to compute from its input's values: torch.export cannot trace that."""

    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x


def test_a_layer_torch_export_cannot_trace_is_named(tmp_path, monkeypatch):
    def broken(project):
        compiled, warnings = compiled_with_weights(project)
        compiled.module.dense_2 = DataDependent()
        return compiled, warnings

    monkeypatch.setattr(pt2_module, "compiled_with_weights", broken)
    project, _ = trained("spiral_mlp")
    with pytest.raises(ExportError) as info:
        export_pt2(project, tmp_path / "m.pt2")
    message = str(info.value)
    assert message.startswith("cannot export dense_2 (DataDependent) as a torch.export program: ")
    assert "data-dependent" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


def test_a_bad_target_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(pt2_module, "compiled_with_weights", lambda p: pytest.fail("compiled"))
    with pytest.raises(ExportError, match="does not exist"):
        export_pt2(EXAMPLES["spiral_mlp"](), tmp_path / "missing" / "m.pt2")


def test_the_command_line_exports_a_program(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project, model = trained("spiral_mlp")
    save_project(project, tmp_path / "p.nnstudio")
    assert cli.main(["export", "p.nnstudio", "-o", "model.pt2"]) == 0
    assert "wrote model.pt2 (pt2)" in capsys.readouterr().out
    assert cli.main(["export", "p.nnstudio", "--format", "pt2"]) == 0
    x = torch.randn(5, 2)
    for name in ("model.pt2", "p.pt2"):
        with torch.no_grad():
            assert float((torch.export.load(tmp_path / name).module()(x) - model(x)).abs().max()) < 1e-6
