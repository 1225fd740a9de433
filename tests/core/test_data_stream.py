"""Streamed datasets: image folders decoded by DataLoader workers, uint8 arrays read in batches, the storage
option and the engine's streamed path (data.stream, training.batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nnstudio.core.compile import compile_graph
from nnstudio.core.data import check_dataset, load_dataset, load_split
from nnstudio.core.data import stream
from nnstudio.core.errors import DatasetError
from nnstudio.core.graph import Graph
from nnstudio.core.training import engine
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken
from nnstudio.core.training.engine import train
from nnstudio.core.training.project_run import load_weights

SIDE = 6


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of eight 6 x 6 colour PNGs, each class brighter in its own channel."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for k in range(3):
        (root / f"c{k}").mkdir()
        for i in range(8):
            pixels = rng.integers(0, 120, (SIDE, SIDE, 3), dtype=np.uint8)
            pixels[..., k] += 120
            Image.fromarray(pixels).save(root / f"c{k}" / f"{i}.png")
    return root


def config(folder, **options):
    return {"name": "image_folder", "path": str(folder), "channels": 3, "height": SIDE, "width": SIDE,
            "val_fraction": 0.25, **options}


def cnn() -> Graph:
    g = Graph()
    layers = [("input_image", {"channels": 3, "height": SIDE, "width": SIDE}),
              ("conv2d", {"filters": 4, "padding": "same"}), ("dropout", {"rate": 0.2}), ("global_avg_pool", {}),
              ("dense", {"units": 3, "activation": "softmax"}), ("output", {"task": "multiclass"})]
    ids = [g.add_node(kind, params).id for kind, params in layers]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def settings(epochs: int = 3) -> TrainConfig:
    return TrainConfig(device="cpu", epochs=epochs, batch_size=5, lr=0.05, seed=0, restore_best=False)


def losses(result) -> list[float]:
    return [r[key] for r in result.history["epochs"] for key in ("train_loss", "val_loss")]


def test_a_streamed_folder_has_the_shape_labels_and_values_of_the_loaded_one(folder):
    whole = load_dataset(config(folder, storage="memory"))
    lazy = load_dataset(config(folder, storage="stream"))
    assert not whole.streamed and lazy.streamed and lazy.x.device.type == "meta"
    assert (len(lazy), lazy.input_shape, lazy.classes) == (len(whole), whole.input_shape, whole.classes)
    assert torch.equal(lazy.y, whole.y)
    assert torch.equal(lazy.samples(torch.arange(len(lazy))), whole.x)
    part = lazy.subset(torch.tensor([5, 2, 17]))
    assert torch.equal(part.samples([0, 1, 2]), whole.x[[5, 2, 17]]) and part.streamed
    assert lazy.resident_bytes() == whole.y.numel() * 8 and lazy.decoded_bytes() == whole.resident_bytes()


def test_streamed_and_in_memory_training_give_the_same_run(folder, monkeypatch):
    monkeypatch.setattr(stream, "worker_count", lambda: 1)  # one decoding process: the real path, kept cheap
    options = dict(hflip=True, crop_padding=1, normalize="mean_std")
    threads = torch.get_num_threads()
    memory = train(compile_graph(cnn(), seed=0), load_split(config(folder, storage="memory", **options)), settings())
    streamed = train(compile_graph(cnn(), seed=0), load_split(config(folder, storage="stream", **options)),
                     settings())
    assert losses(streamed) == pytest.approx(losses(memory), rel=1e-5, abs=1e-6)
    assert streamed.history["storage"] == "stream" and "storage" not in memory.history
    assert torch.get_num_threads() == threads  # lowered for the decoding process during the run only
    assert streamed.history["normalize"]["mean"] == pytest.approx(memory.history["normalize"]["mean"])


def test_a_streamed_run_continues_at_an_epoch_boundary_as_one_longer_run(folder):
    data = load_split(config(folder, storage="stream", hflip=True))
    whole = train(compile_graph(cnn(), seed=0), data, settings(4))
    first = train(compile_graph(cnn(), seed=0), data, settings(2))
    model = compile_graph(cnn(), seed=0)
    load_weights(model, first.state_dict)
    then = train(model, data, settings(2), resume=first.training_state)
    assert losses(first) + losses(then) == pytest.approx(losses(whole), rel=1e-5, abs=1e-6)


def test_a_streamed_run_stopped_mid_epoch_still_validates_and_keeps_its_epoch(folder, monkeypatch):
    monkeypatch.setattr(stream, "worker_count", lambda: 1)
    monkeypatch.setattr(engine, "STEP_REPORT_INTERVAL_S", 0.0)
    token = ControlToken()

    class StopAtStep2(Callback):
        def on_step(self, report):
            if report.step == 2:
                token.stop()

    data = load_split(config(folder, storage="stream"))
    result = train(compile_graph(cnn(), seed=0), data, settings(3), [StopAtStep2()], token)
    assert result.stop_reason == "stopped" and result.steps == 2 and len(result.history["epochs"]) == 1
    assert result.final["val_loss"] > 0 and result.training_state.epoch == 1


def test_auto_streams_above_the_budget_and_loads_below_it(folder, monkeypatch):
    monkeypatch.setattr(stream, "memory_budget", lambda device="cpu": (1000, "a test budget"))
    path, reason = stream.storage_plan(config(folder), device="cpu")
    assert path == "stream" and "more than the 1,000 bytes budget (a test budget)" in reason
    assert load_dataset(config(folder)).streamed
    monkeypatch.setattr(stream, "memory_budget", lambda device="cpu": (10**9, "a test budget"))
    path, reason = stream.storage_plan(config(folder))
    assert path == "memory" and "fits" in reason
    assert not load_dataset(config(folder)).streamed


def test_the_storage_plan_says_why(folder):
    assert stream.storage_plan(config(folder, storage="stream")) == ("stream", "storage is set to stream")
    assert stream.storage_plan(config(folder, storage="memory")) == ("memory", "storage is set to memory")
    assert stream.storage_plan({"name": "spiral"})[0] == "memory"
    with pytest.raises(DatasetError, match="option 'storage'"):
        stream.storage_plan(config(folder, storage="disk"))


def test_streaming_lifts_the_array_limit_but_not_the_files_limit(folder):
    big = config(folder, height=128, width=128, max_megabytes=1)  # 24 x 3 x 128 x 128 x 4 bytes: 4.5 MB
    assert "would take" in check_dataset({**big, "storage": "memory"})[0]
    assert check_dataset({**big, "storage": "stream"}) == []
    assert load_dataset({**big, "storage": "stream"}).streamed
    with pytest.raises(DatasetError, match="would take 4.5 MB, more than the dataset's limit of 1 MB"):
        load_dataset({**big, "storage": "memory"})


def test_a_broken_image_stops_a_streamed_run_with_one_line(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "worker_count", lambda: 1)
    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        for i in range(4):
            Image.fromarray(np.full((SIDE, SIDE, 3), 60 * k, np.uint8)).save(tmp_path / f"c{k}" / f"{i}.png")
    (tmp_path / "c1" / "9.png").write_bytes(b"not a png")
    data = load_split(config(tmp_path, storage="stream", val_fraction=0.4))
    g = cnn()
    g.set_params(next(n for n in g.nodes if g.nodes[n].type_id == "dense"), {"units": 2})
    with pytest.raises(DatasetError) as caught:
        train(compile_graph(g, seed=0), data, settings(1))
    assert "9.png cannot be read as an image" in str(caught.value) and "\n" not in str(caught.value)


def test_uint8_arrays_stream_as_their_values_over_255(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (30, 1, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    data = stream.from_uint8_arrays("tiny", mapped, np.arange(30) % 3, ["a", "b", "c"])
    assert data.streamed and data.input_shape == (1, 4, 4) and len(data) == 30
    order = torch.tensor([29, 0, 7])
    assert torch.equal(data.samples(order), torch.from_numpy(images[[29, 0, 7]].astype(np.float32) / 255.0))
    with pytest.raises(DatasetError, match="uint8 or float32"):
        stream.ImageArray(np.zeros((3, 4), np.uint8))


def test_digits_stream_when_asked_and_train(digits_net):
    data = load_split({"name": "digits", "storage": "stream", "rotation": 10.0})
    assert data.train.streamed and data.train.transforms["rotation"] == 10.0
    result = train(compile_graph(digits_net(), seed=0), data, TrainConfig(device="cpu", epochs=2, batch_size=256, lr=0.05))
    rows = result.history["epochs"]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] and rows[-1]["val_accuracy"] > 0.3


def test_the_panel_line_says_which_path_the_loaded_data_took_and_why(folder, monkeypatch):
    monkeypatch.setattr(stream, "memory_budget", lambda device="cpu": (1000, "a test budget"))
    streamed = load_dataset(config(folder))
    line = stream.storage_line(streamed, config(folder))
    assert line.startswith("Streamed: decoded in batches") and "more than the 1,000 bytes budget" in line
    kept = load_dataset(config(folder, storage="memory"))
    assert stream.storage_line(kept, config(folder, storage="memory")) == (
        "In memory: whole tensors on the training device, the fastest path; storage is set to memory.")
    assert stream.storage_line(load_dataset({"name": "spiral"}), {"name": "spiral"}) == ""
