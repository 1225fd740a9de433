"""Exported scripts carry their data: every source the app loads gives the script the app's tensors, split
and batch transforms, read by the script's own code (no nnstudio), and the header names exactly what the
script needs installed. The runs of every example and importer in a fresh interpreter are in
test_export_standalone.py."""

from __future__ import annotations

import ast
import gzip
import os
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nnstudio.core.data import transforms
from nnstudio.core.data.registry import load_split
from nnstudio.core.data.sentiment import sentiment
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.export import export_python, standalone_data, standalone_standard
from nnstudio.core.export.python_code import python_source
from nnstudio.core.project.model import Project

from test_export_python import load_module  # noqa: E402


# -- small data files, as a person or torchvision would have them ---------------------------------------------
def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """An IDX file of unsigned bytes (MNIST's format)."""
    head = bytes((0, 0, 8, array.ndim)) + np.array(array.shape, dtype=">u4").tobytes()
    data = head + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def standard_files(root: Path, count: int = 30, gz: bool = False) -> Path:
    """Tiny MNIST, Fashion-MNIST, KMNIST and CIFAR-10 files in torchvision's layout under ``root``."""
    rng = np.random.default_rng(1)
    for folder in ("MNIST", "FashionMNIST", "KMNIST"):
        for part, n in (("train", count), ("t10k", 10)):
            write_idx(root / folder / "raw" / f"{part}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz)
            write_idx(root / folder / "raw" / f"{part}-labels-idx1-ubyte", np.arange(n) % 10, gz)
    cifar = root / "cifar-10-batches-bin"
    cifar.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        labels = (np.arange(count // 5 + 2) % 10)[:, None]
        records = np.concatenate([labels, rng.integers(0, 256, (len(labels), 3072))], axis=1)
        (cifar / name).write_bytes(records.astype(np.uint8).tobytes())
    (cifar / "batches.meta.txt").write_text("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n")
    return root


def user_files(folder: Path) -> Path:
    """A CSV table, a text CSV, .npz archives and an image folder of several Pillow modes."""
    rng = np.random.default_rng(2)
    rows = [f"{i * 1.5},{'xyz'[i % 3]},{rng.normal():.4f},{'yes' if i % 2 else 'no'},{rng.normal() * 10:.3f}"
            for i in range(30)]
    (folder / "table.csv").write_text("a;b;c;label;value\n" + "\n".join(r.replace(",", ";") for r in rows) + "\n")
    texts = ["Good, not bad!", "bad , not good", "It was GREAT.", "dull but fine", "i thought it'd be fun"]
    (folder / "texts.csv").write_text("id,text,label\n" + "".join(f'{i},"{texts[i % 5]} {i}",{i % 3}\n'
                                                                  for i in range(30)))
    np.savez(folder / "features.npz", X=rng.normal(size=(30, 2, 3)), y=np.array(["cat", "dog", "emu"] * 10))
    np.savez(folder / "tokens.npz", X=rng.integers(0, 50, (30, 7)), y=rng.normal(size=(30, 2)))
    for k, name in enumerate(("cat", "dog")):
        (folder / "pets" / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).save(folder / "pets" / name / f"{i}.png")
        palette = Image.fromarray(rng.integers(0, 256, (5, 5), dtype=np.uint8)).convert("P")
        palette.save(folder / "pets" / name / "p.gif")
        Image.fromarray((rng.random((6, 8)) * 1000 - 300 * k).astype(np.float32), mode="F").save(
            folder / "pets" / name / "f.tiff")
        Image.fromarray(rng.integers(0, 65535, (6, 6), dtype=np.uint16)).save(folder / "pets" / name / "16.png")
        (folder / "pets" / name / "notes.txt").write_text("not an image")
    return folder


def script_for(dataset: dict, tmp_path: Path, example: str = "spiral_mlp") -> types.ModuleType:
    project = EXAMPLES[example]()  # the network does not matter to load_data
    project.dataset = dataset
    source, _ = python_source(project)
    path = tmp_path / f"script_{len(list(tmp_path.glob('script_*.py')))}.py"
    path.write_text(source, encoding="utf-8")
    return load_module(path)


def assert_same_data(got, split) -> None:
    for a, b in zip(got, (split.train.x, split.train.y, split.val.x, split.val.y)):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


# -- the same tensors and split as the app --------------------------------------------------------------------
@pytest.mark.parametrize("seed, samples, length", [(0, 200, 32), (7, 150, 6), (123, 120, 64)])
def test_the_scripts_sentiment_set_is_the_apps(seed, samples, length):
    data = sentiment(samples, length, seed)
    x, y = standalone_data.make_sentiment(samples, length, seed)
    assert torch.equal(x, data.x) and torch.equal(y, data.y)
    assert data.y.float().mean().item() not in (0.0, 1.0)


@pytest.mark.parametrize("classes, n, val, test, seed", [(2, 50, 0.2, 0.0, 0), (3, 101, 0.3, 0.1, 5),
                                                      (10, 37, 0.25, 0.2, 9), (0, 60, 0.15, 0.3, 2)])
def test_the_scripts_split_is_the_apps(classes, n, val, test, seed):
    from nnstudio.core.data.common import classification, regression
    from nnstudio.core.data.split import split_indices

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2)
    if classes:  # uneven classes, one of them small
        y = torch.multinomial(torch.linspace(1, 3, classes), n, replacement=True, generator=g)
        y[:classes] = torch.arange(classes)
        data = classification("d", x, y, [str(k) for k in range(classes)], preview="table")
    else:
        data = regression("d", x, torch.randn(n, 1, generator=g), preview="table")
    train, val_part, _ = split_indices(data, val, test, seed)
    got = standalone_data.split_indices(data.y, val, test, seed, stratify=bool(classes))
    assert torch.equal(got[0], train) and torch.equal(got[1], val_part)


IMPORTED = [
    {"name": "csv", "path": "table.csv", "target": "label", "val_fraction": 0.3, "split_seed": 4},
    {"name": "csv", "path": "table.csv", "task": "auto", "test_fraction": 0.2},  # regression: the last column
    {"name": "csv", "path": "table.csv", "target": "b", "delimiter": ";"},
    {"name": "text_csv", "path": "texts.csv", "length": 5, "max_vocab": 9},
    {"name": "text_csv", "path": "texts.csv", "text_column": "text", "label_column": "label", "length": 12},
    {"name": "npz", "path": "features.npz"},
    {"name": "npz", "path": "tokens.npz", "inputs": "tokens"},
    {"name": "image_folder", "path": "pets", "channels": 1, "height": 4, "width": 5},
    {"name": "image_folder", "path": "pets", "channels": 3, "height": 8, "width": 8, "val_fraction": 0.25},
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return user_files(tmp_path_factory.mktemp("user"))


@pytest.fixture(scope="module")
def standard_root(tmp_path_factory) -> Path:
    return standard_files(tmp_path_factory.mktemp("standard"))


@pytest.mark.parametrize("dataset", IMPORTED, ids=lambda d: "-".join(str(v) for v in d.values()))
def test_the_scripts_importers_give_the_apps_data(dataset, files, tmp_path):
    dataset = {**dataset, "path": str(files / dataset["path"])}
    module = script_for(dataset, tmp_path)
    assert_same_data(module.load_data(types.SimpleNamespace(data=None)), load_split(dataset))


STANDARD = [
    {"name": "mnist"}, {"name": "fashion_mnist", "samples": 20, "val_fraction": 0.25},
    {"name": "kmnist", "test_set": False, "test_fraction": 0.2, "split_seed": 3},
    {"name": "cifar10", "samples": 17}, {"name": "cifar10", "hflip": True, "normalize": "mean_std"},
]


@pytest.mark.parametrize("dataset", STANDARD, ids=lambda d: "-".join(str(v) for v in d.values()))
def test_the_scripts_standard_sets_are_the_apps(dataset, standard_root, tmp_path):
    dataset = {**dataset, "root": str(standard_root)}
    module = script_for(dataset, tmp_path, "digits_cnn")
    assert_same_data(module.load_data(types.SimpleNamespace(data_root=None)), load_split(dataset))


def test_gzipped_idx_files_and_data_root_elsewhere(tmp_path):
    root = standard_files(tmp_path / "gz", count=12, gz=True)
    dataset = {"name": "mnist", "root": str(tmp_path / "not there")}
    module = script_for(dataset, tmp_path, "digits_cnn")
    with pytest.raises(SystemExit, match="train-images-idx3-ubyte is not in .*--data-root"):
        module.load_data(types.SimpleNamespace(data_root=None))
    got = module.load_data(types.SimpleNamespace(data_root=str(root)))
    assert_same_data(got, load_split({"name": "mnist", "root": str(root)}))


def test_damaged_idx_files_are_one_line(tmp_path):
    root = standard_files(tmp_path, count=12)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])
    with pytest.raises(SystemExit, match="the file is damaged"):
        standalone_standard.load_idx_set(str(root), "MNIST")
    images.write_bytes(b"\0\0\x08\x01" + b"\xff" * 12)
    with pytest.raises(SystemExit, match="not an IDX file of 3-dimensional bytes"):
        standalone_standard.load_idx_set(str(root), "MNIST")


# -- transforms: the app's batch transforms, step for step ----------------------------------------------------
@pytest.mark.parametrize("options", [{"hflip": True}, {"crop_padding": 3, "rotation": 20.0},
                                     {"normalize": "mean_std"},
                                     {"hflip": True, "crop_padding": 2, "rotation": 10.0, "normalize": "mean_std"}])
def test_the_scripts_batch_transforms_are_the_apps(options, standard_root, tmp_path):
    dataset = {"name": "cifar10", "root": str(standard_root), **options}
    module = script_for(dataset, tmp_path, "digits_cnn")
    x_train, _, x_val, _ = module.load_data(types.SimpleNamespace(data_root=None))
    for_training, for_validation = module.make_transforms(x_train)
    split = load_split(dataset)
    app = transforms.BatchTransforms({**transforms.transform_options(dataset)}, split.train, torch.device("cpu"))
    batch = x_train.repeat(3, 1, 1, 1)  # 72 images: a flip that is not p = 0.5 shows
    torch.manual_seed(5)
    expected = app.train(batch.clone())
    torch.manual_seed(5)
    assert torch.allclose(for_training(batch.clone()), expected, atol=1e-6)
    if options.get("normalize"):
        assert torch.allclose(for_validation(x_val), app.eval(x_val), atol=1e-6)
    else:
        assert for_validation is None
    if set(options) != {"normalize"}:
        assert not torch.equal(for_training(batch.clone()), batch)  # it does augment


# -- what the script needs installed --------------------------------------------------------------------------
def needs_and_imports(source: str) -> tuple[str, set[str]]:
    header = " ".join(line[2:] for line in source.split("\n\n", 1)[0].splitlines())
    needs = header[header.index("Needs "):]
    imported = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return needs, imported - {"__future__", "argparse", "collections", "csv", "gzip", "json", "math", "os", "random",
                              "re", "stat"}


@pytest.mark.parametrize("dataset, extra", [
    ({"name": "spiral"}, []), ({"name": "sentiment"}, []), ({"name": "iris"}, []),
    ({"name": "csv", "path": "t.csv"}, []),
    ({"name": "image_folder", "path": "pets"}, ["Pillow"]),
    ({"name": "image_folder", "path": "pets", "rotation": 5.0}, ["Pillow", "kornia"]),
    ({"name": "mnist"}, []), ({"name": "mnist", "normalize": "mean_std"}, []),
    ({"name": "digits", "crop_padding": 2}, ["kornia"]), ({"name": "cifar10", "hflip": True}, ["kornia"]),
])
def test_the_header_names_exactly_what_the_script_imports(dataset, extra):
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = dataset
    source, _ = python_source(project)
    needs, imported = needs_and_imports(source)
    names = ["torch", "numpy", *extra]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    assert needs.startswith(f"Needs {listed} (pip install {' '.join(names)}), nothing from NN Studio.")
    modules = {"Pillow": "PIL"}
    assert imported == {modules.get(n, n) for n in names}


# -- paths: from the command line, the project's folder or beside the script; bad ones are one line -----------
def test_data_points_elsewhere_and_a_missing_file_is_one_line(files, tmp_path):
    module = script_for({"name": "csv", "path": str(tmp_path / "gone.csv")}, tmp_path)
    with pytest.raises(SystemExit, match=r"cannot read the CSV file '.*gone\.csv': No such file .*--data"):
        module.load_data(types.SimpleNamespace(data=None))
    got = module.load_data(types.SimpleNamespace(data=str(files / "table.csv")))
    assert_same_data(got, load_split({"name": "csv", "path": str(files / "table.csv")}))
    assert module.parse_args(["--data", "x.csv"]).data == "x.csv"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_folder_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    for path in (tmp_path / "pipe.csv", tmp_path):
        with pytest.raises(SystemExit, match="is not a regular file"):
            standalone_data.data_file(str(path), "CSV file")


def test_relative_paths_start_at_the_project_folder_or_beside_the_script(files, tmp_path):
    project = Project(graph=EXAMPLES["spiral_mlp"]().graph, dataset={"name": "csv", "path": "table.csv"})
    export_python(project, tmp_path / "model.py", base_dir=files)
    module = load_module(tmp_path / "model.py")
    expected = load_split({"name": "csv", "path": str(files / "table.csv")})
    assert_same_data(module.load_data(types.SimpleNamespace(data=None)), expected)
    (tmp_path / "beside").mkdir()
    (tmp_path / "beside" / "table.csv").write_bytes((files / "table.csv").read_bytes())
    export_python(project, tmp_path / "beside" / "model.py")
    module = load_module(tmp_path / "beside" / "model.py")
    assert_same_data(module.load_data(types.SimpleNamespace(data=None)), expected)


def test_a_hostile_path_enters_the_script_only_as_a_literal(tmp_path):
    path = 'x.csv"), __import__("os").system("touch pwned"), ("\n#'
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "csv", "path": path, "target": '"); raise SystemExit("'}
    source, _ = python_source(project)
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
             and getattr(n.func, "id", "") in ("data_path", "load_csv_table")]
    constants = {c.value for call in calls for c in [*call.args, *(k.value for k in call.keywords)]
                 if isinstance(c, ast.Constant)}
    assert path in constants and project.dataset["target"] in constants
    assert "system(" not in {getattr(n.func, "attr", "") + "(" for n in ast.walk(ast.parse(source))
                             if isinstance(n, ast.Call)}


# -- weights: the script reads and writes safetensors itself --------------------------------------------------
def test_the_scripts_safetensors_reader_and_writer_agree_with_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    from nnstudio.core.export import standalone_train

    state = {"w": torch.randn(3, 4), "b": torch.randn(4, dtype=torch.float64), "n": torch.tensor(7),
             "half": torch.randn(2, 2).bfloat16(), "mask": torch.tensor([True, False]),
             "empty": torch.zeros(0, 3), "ids": torch.arange(5, dtype=torch.int32).reshape(5, 1)}
    standalone_train.write_weights(state, tmp_path / "ours.safetensors")
    save_file(state, tmp_path / "theirs.safetensors", metadata={"project": "x"})
    for got in (load_file(tmp_path / "ours.safetensors"),
                standalone_train.read_weights(tmp_path / "theirs.safetensors")):
        assert set(got) == set(state)
        assert all(got[k].dtype == v.dtype and torch.equal(got[k], v) for k, v in state.items())
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(SystemExit, match="not a safetensors weights file"):
        standalone_train.read_weights(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("dataset", [
    {"name": "csv", "path": "P", "target": "P"}, {"name": "npz", "path": "P"},
    {"name": "image_folder", "path": "P"}, {"name": "text_csv", "path": "P", "text_column": "P", "label_column": "P"},
    {"name": "mnist", "root": "P"}, {"name": "cifar10", "root": "P", "hflip": True},
], ids=lambda d: d["name"])
def test_hostile_text_in_any_data_option_leaves_the_script_as_it_is(dataset):
    from test_export_hostile import ALL, skeleton

    def source(text: str) -> str:
        project = EXAMPLES["spiral_mlp"]()
        project.dataset = {k: text if v == "P" else v for k, v in dataset.items()}
        return python_source(project)[0]

    assert skeleton(source(ALL)) == skeleton(source("plain"))


def test_a_bundled_file_that_cannot_be_written_beside_the_script_stops_the_export_first(tmp_path):
    from nnstudio.core.export import ExportError

    (tmp_path / "iris.csv").mkdir()
    project = EXAMPLES["spiral_mlp"]()
    project.dataset = {"name": "iris"}
    with pytest.raises(ExportError, match=r"iris\.csv: it is a folder"):
        export_python(project, tmp_path / "model.py")
    assert not (tmp_path / "model.py").exists()
