"""``python model.py --epochs 1`` runs in a fresh environment without NN Studio, for every example and every
importer: each script is exported and trained for an epoch in an interpreter started with -I -S (no user site,
no .pth files: NN Studio's editable install is not on its path) that sees only the venv's site-packages, with
Pillow and kornia blocked unless the script's header says it needs them. A test proves that this interpreter
cannot import nnstudio and that the block holds."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import export_python
from nnstudio.core.project.model import Project

from test_export_data import standard_files  # noqa: E402
from test_export_python import chain  # noqa: E402

# Modules an exported script must not need unless its header names them (and a few it never may).
OPTIONAL = ("PIL", "kornia", "safetensors", "pooch", "platformdirs", "sklearn", "scipy", "pandas", "PySide6",
            "pyqtgraph", "jsonschema")
RUNNER = ("import runpy, sys\n"
          "sys.path.extend(p for p in sys.argv[1].split('\\0') if p)\n"
          "for name in sys.argv[2].split(','):\n"
          "    sys.modules[name] = None\n"
          "script = sys.argv[3]\n"
          "sys.argv = sys.argv[3:]\n"
          "runpy.run_path(script, run_name='__main__')\n")


def run_fresh(script: Path, *args: str, allow: tuple[str, ...] = (), timeout: float = 120):
    """Run ``script`` (cwd: its folder) where nnstudio cannot be imported and the OPTIONAL modules not in
    ``allow`` are blocked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    paths = "\0".join(site.getsitepackages())  # without their .pth files: no editable nnstudio
    blocked = ",".join(m for m in OPTIONAL if m not in allow)
    return subprocess.run([sys.executable, "-I", "-S", "-c", RUNNER, paths, blocked, script.name, *args],
                          cwd=script.parent, capture_output=True, text=True, timeout=timeout, env=env)


def test_the_fresh_interpreter_cannot_import_nnstudio_and_blocks_the_optional_modules(tmp_path):
    (tmp_path / "probe.py").write_text(
        "import numpy  # the venv's packages are there (torch too: every other test here imports it)\n"
        "for name in ('nnstudio', 'PIL', 'kornia'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        print('cannot import', name)\n")
    done = run_fresh(tmp_path / "probe.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["cannot import nnstudio", "cannot import PIL", "cannot import kornia"]
    done = run_fresh(tmp_path / "probe.py", allow=("PIL", "kornia"))
    assert done.stdout.strip() == "cannot import nnstudio"  # nnstudio is missing, not blocked


def train_once(project: Project, tmp_path: Path, *args: str, allow: tuple[str, ...] = ()) -> str:
    result = export_python(project, tmp_path / "model.py")
    done = run_fresh(result.path, "--epochs", "1", "--device", "cpu", "--save", "out.safetensors", *args,
                     allow=allow)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epoch 1/1" in done.stdout and "Traceback" not in done.stderr
    state = load_file(tmp_path / "out.safetensors")
    assert set(state) == set(compile_graph(project.graph).module.state_dict())
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_every_example_trains_an_epoch_standalone(stem, tmp_path):
    project = EXAMPLES[stem]()
    if project.dataset["name"] == "sentiment":
        project.dataset = {**project.dataset, "samples": 200}  # a tiny run; the same generator
    out = train_once(project, tmp_path, "--batch-size", "256")
    assert "val_accuracy=" in out


def user_data(folder: Path) -> None:
    rng = np.random.default_rng(3)
    rows = [f"{rng.normal():.3f},{'ab'[i % 2]},{rng.normal():.3f},{'xyz'[i % 3]}" for i in range(40)]
    (folder / "table.csv").write_text("u,kind,v,label\n" + "\n".join(rows) + "\n")
    texts = ["good , not bad", "bad , not good", "really great", "dull but fine"]
    (folder / "texts.csv").write_text("text,label\n" + "".join(f'"{texts[i % 4]} {i}",{i % 2}\n' for i in range(40)))
    np.savez(folder / "arrays.npz", X=rng.normal(size=(40, 4)).astype(np.float32), y=np.arange(40) % 3)
    for name in ("cat", "dog"):
        (folder / "pets" / name).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / "pets" / name / f"{i}.png")


IMPORTERS = {
    "csv": ({"name": "csv", "path": "table.csv", "target": "label"},
            [("input_vector", {"features": 4}), ("dense", {"units": 3, "activation": "softmax"}),
             ("output", {"task": "multiclass"})], ()),
    "npz": ({"name": "npz", "path": "arrays.npz"},
            [("input_vector", {"features": 4}), ("dense", {"units": 3, "activation": "softmax"}),
             ("output", {"task": "multiclass"})], ()),
    "text_csv": ({"name": "text_csv", "path": "texts.csv", "length": 6, "max_vocab": 20},
                 [("input_tokens", {"length": 6, "vocab_size": 20}), ("embedding", {"vocab_size": 20, "dim": 4}),
                  ("global_avg_pool", {}), ("dense", {"units": 1, "activation": "sigmoid"}),
                  ("output", {"task": "binary"})], ()),
    "image_folder": ({"name": "image_folder", "path": "pets", "channels": 3, "height": 8, "width": 8,
                      "rotation": 10.0, "normalize": "mean_std"},
                     [("input_image", {"channels": 3, "height": 8, "width": 8}), ("flatten", {}),
                      ("dense", {"units": 2, "activation": "softmax"}), ("output", {"task": "multiclass"})],
                     ("PIL", "kornia")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IMPORTERS))
def test_every_importer_trains_an_epoch_standalone_from_the_projects_path(name, tmp_path):
    user_data(tmp_path)
    dataset, layers, allow = IMPORTERS[name]
    dataset = {**dataset, "path": str(tmp_path / dataset["path"])}
    train_once(Project(graph=chain(*layers), name=f"Import {name}", dataset=dataset), tmp_path, allow=allow)


@pytest.mark.slow
def test_a_standard_set_trains_from_data_root_with_its_augmentations(tmp_path):
    root = standard_files(tmp_path / "elsewhere", count=40)
    layers = [("input_image", {"channels": 3, "height": 32, "width": 32}), ("flatten", {}),
              ("dense", {"units": 10, "activation": "softmax"}), ("output", {"task": "multiclass"})]
    dataset = {"name": "cifar10", "root": str(tmp_path / "not there"), "hflip": True, "crop_padding": 2}
    project = Project(graph=chain(*layers), name="Cifar", dataset=dataset)
    out = train_once(project, tmp_path, "--data-root", str(root), allow=("kornia",))
    assert "training on cpu: " in out
    mnist = EXAMPLES["digits_cnn"]()
    mnist.dataset = {"name": "mnist", "root": str(root), "normalize": "mean_std"}
    train_once(mnist, tmp_path)  # normalising needs no kornia
