"""Weights export: safetensors named like the network's layers, that the exported script and the app load."""

from __future__ import annotations

import importlib.util
import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import ExportError, export, export_python, export_weights
from nnstudio.core.training.project_run import load_weights


def trained(stem: str):
    project = EXAMPLES[stem]()
    compiled = compile_graph(project.graph, seed=42)
    project.weights = {k: v.detach().clone() for k, v in compiled.module.state_dict().items()}
    return project


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_trained_weights_are_written_as_they_are(stem, tmp_path):
    project = trained(stem)
    result = export_weights(project, tmp_path / "w.safetensors")
    assert result.path == tmp_path / "w.safetensors" and result.format == "safetensors"
    assert result.warnings == []
    written = load_file(tmp_path / "w.safetensors")
    assert set(written) == set(project.weights)
    for name, tensor in project.weights.items():
        assert torch.equal(written[name], tensor), name
    compiled = compile_graph(project.graph)
    load_weights(compiled, written)  # the app takes them back


def test_untrained_project_gets_fresh_weights_and_a_warning(tmp_path):
    project = EXAMPLES["spiral_mlp"]()
    project.training["seed"] = 5
    result = export_weights(project, tmp_path / "w.safetensors")
    assert len(result.warnings) == 1 and "not trained" in result.warnings[0] and "seed 5" in result.warnings[0]
    fresh = compile_graph(project.graph, seed=5).module.state_dict()
    written = load_file(tmp_path / "w.safetensors")
    assert set(written) == set(fresh) and all(torch.equal(written[k], fresh[k]) for k in fresh)


def test_weights_of_another_network_are_refused(tmp_path):
    project = trained("spiral_mlp")
    project.weights["dense_3.weight"] = torch.zeros(4, 16)
    with pytest.raises(ExportError, match="dense_3.weight has shape"):
        export_weights(project, tmp_path / "w.safetensors")
    assert not (tmp_path / "w.safetensors").exists()
    del project.weights["dense_3.weight"]
    with pytest.raises(ExportError, match="missing dense_3.weight"):
        export_weights(project, tmp_path / "w.safetensors")


def test_exported_script_loads_them_strictly(tmp_path):
    project = trained("transformer_classifier")
    export(project, tmp_path / "model.py")
    export(project, tmp_path / "model.safetensors")
    spec = importlib.util.spec_from_file_location("exported_transformer", tmp_path / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model()
    model.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=True)
    assert torch.equal(model.dense_1.weight, project.weights["dense_1.weight"])


def test_metadata_names_the_exporter(tmp_path):
    export_weights(trained("spiral_mlp"), tmp_path / "w.safetensors")
    with safe_open(tmp_path / "w.safetensors", framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and meta["project"] == "Spiral MLP" and meta["exporter"].startswith("NN Studio")


def test_a_failed_export_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"old")
    import nnstudio.core.export.weights as weights_module

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(weights_module, "save_file", broken)
    with pytest.raises(ExportError, match=f"^cannot export to {re.escape(str(path))}: disk full$"):
        export_weights(trained("spiral_mlp"), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_a_target_that_is_not_a_file_is_refused_naming_it(tmp_path):
    for target, why in ((tmp_path, "it is a folder"), (tmp_path / "missing" / "w.safetensors", "does not exist")):
        with pytest.raises(ExportError, match=f"^cannot export to {re.escape(str(target))}: .*{why}"):
            export_weights(trained("spiral_mlp"), target)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="cannot tell the export format"):
        export(trained("spiral_mlp"), tmp_path / "w.bin")
    with pytest.raises(ExportError, match="unknown export format 'keras'"):
        export(trained("spiral_mlp"), tmp_path / "w.bin", "keras")
    export_python(trained("spiral_mlp"), tmp_path / "m.py")  # and the right ones work
