"""Image transforms (data.transforms): the kornia augmentations do what they say, only to training batches;
normalisation is measured on the training part; the options live in the dataset dict and are checked."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nnstudio.core.compile import compile_graph
from nnstudio.core.data import DATASETS, check_dataset, load_dataset, load_split
from nnstudio.core.data.transforms import TRANSFORM_KEYS, BatchTransforms, augmenter, channel_stats, normalize
from nnstudio.core.errors import DatasetError
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.engine import train

N = 64


def known_image() -> torch.Tensor:
    """A 1 x 9 x 9 image with nothing symmetric about it: its values are 1 .. 81 row by row."""
    return torch.arange(1, 82, dtype=torch.float32).reshape(1, 9, 9) / 81.0


def batch() -> torch.Tensor:
    return known_image().expand(N, 1, 9, 9).clone()


def test_hflip_mirrors_about_half_of_the_images_and_leaves_the_rest():
    torch.manual_seed(0)
    out = augmenter({"hflip": True}, 9, 9)(batch())
    image, mirrored = known_image(), known_image().flip(-1)
    flipped = [bool(torch.allclose(o, mirrored)) for o in out]
    kept = [bool(torch.allclose(o, image)) for o in out]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < N - 10


def test_crop_padding_shifts_each_image_by_at_most_the_padding_and_fills_with_zeros():
    torch.manual_seed(0)
    pad = 2
    out = augmenter({"crop_padding": pad}, 9, 9)(batch())
    padded = torch.nn.functional.pad(known_image(), (pad, pad, pad, pad))
    shifts = set()
    for o in out:
        found = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                 if torch.allclose(o, padded[:, dy:dy + 9, dx:dx + 9])]
        assert found, "a crop that is not a shifted window of the padded image"
        shifts.add(found[0])
    assert len(shifts) > 5  # the place is random


def test_rotation_turns_by_at_most_the_angle_about_the_centre():
    torch.manual_seed(0)
    image = torch.zeros(N, 1, 33, 33)
    image[:, :, 16, 28] = 1.0  # one bright pixel 12 pixels right of the centre: at angle 0
    out = augmenter({"rotation": 30.0}, 33, 33)(image)
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    angles = []
    for o in out[:, 0]:
        mass = o.sum()
        cy, cx = float((o * ys).sum() / mass) - 16, float((o * xs).sum() / mass) - 16
        assert math.hypot(cx, cy) == pytest.approx(12, abs=1.0)  # the same distance from the centre
        angles.append(math.degrees(math.atan2(cy, cx)))
    assert max(abs(a) for a in angles) <= 31
    assert max(angles) - min(angles) > 20  # random angles, both ways


def test_the_same_seed_gives_the_same_augmentations():
    options = {"hflip": True, "crop_padding": 3, "rotation": 45.0}
    torch.manual_seed(5)
    a = augmenter(options, 9, 9)(batch())
    torch.manual_seed(5)
    b = augmenter(options, 9, 9)(batch())
    assert torch.equal(a, b) and not torch.equal(a, batch())


def test_normalize_gives_mean_0_and_std_1_per_channel_on_the_training_part():
    data = load_split({"name": "digits", "normalize": "mean_std"})
    prep = BatchTransforms(data.train.transforms, data.train, torch.device("cpu"))
    x = prep.eval(data.train.x)
    assert x.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert x.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(normalize(data.val.x, prep.stats), prep.eval(data.val.x))
    assert prep.train(data.val.x[:4]).equal(prep.eval(data.val.x[:4]))  # no augmentation asked for
    streamed = load_split({"name": "digits", "storage": "stream"}).train
    mean, std = channel_stats(streamed, limit=300)  # a sample of 300, spread over the part
    assert mean[0] == pytest.approx(prep.stats["mean"][0], rel=0.05)
    assert std[0] == pytest.approx(prep.stats["std"][0], rel=0.05)


def test_augmentations_touch_training_batches_only(digits_net):
    data = load_split({"name": "digits", "hflip": True, "crop_padding": 1})
    compiled = compile_graph(digits_net(), seed=0)
    seen = {True: [], False: []}
    compiled.module.register_forward_pre_hook(lambda m, args: seen[m.training].append(args[0].detach().clone()))
    train(compiled, data, TrainConfig(device="cpu", epochs=1, batch_size=128, lr=0.01))
    raw_train = {tuple(x.flatten().tolist()) for x in data.train.x}
    raw_all = raw_train | {tuple(x.flatten().tolist()) for x in data.val.x}
    trained = [tuple(x.flatten().tolist()) for b in seen[True] for x in b]
    evaluated = [tuple(x.flatten().tolist()) for b in seen[False] for x in b]
    assert evaluated and all(x in raw_all for x in evaluated)  # validation (and probes) as they are
    assert sum(x not in raw_train for x in trained) > len(trained) // 2  # training batches changed


def test_the_options_are_saved_in_and_read_from_the_dataset_dict(tmp_path):
    for name in ("digits", "image_folder"):
        assert set(TRANSFORM_KEYS) <= set(DATASETS[name].defaults())
        assert {p["name"] for p in DATASETS[name].to_dict()["params"]} >= set(TRANSFORM_KEYS)
    config = {"name": "digits", "hflip": True, "crop_padding": 2, "rotation": 12.5, "normalize": "mean_std",
              "storage": "memory"}
    again = json.loads(json.dumps(config))
    data = load_dataset(again)
    assert data.transforms == {k: config[k] for k in TRANSFORM_KEYS}
    assert load_dataset({"name": "digits"}).transforms == {k: DATASETS["digits"].defaults()[k] for k in TRANSFORM_KEYS}
    assert load_dataset({"name": "spiral"}).transforms == {}
    assert load_split(config).train.transforms["rotation"] == 12.5  # the parts keep them


@pytest.mark.parametrize("option, value, words", [
    ("hflip", "yes", "must be true or false"), ("crop_padding", 17, "at most 16"),
    ("crop_padding", 1.5, "whole number"), ("rotation", -1, "at least 0"), ("rotation", float("nan"), "finite"),
    ("normalize", "z", "one of none, mean_std"), ("storage", "disk", "one of auto, memory, stream")])
def test_a_bad_option_value_is_one_clear_message(option, value, words):
    with pytest.raises(DatasetError) as caught:
        load_dataset({"name": "digits", option: value})
    message = str(caught.value)
    assert f"option {option!r}" in message and words in message and "\n" not in message
    assert check_dataset({"name": "digits", option: value}) == [message]
    with pytest.raises(DatasetError, match="has no option 'hflip'"):
        load_dataset({"name": "spiral", "hflip": True})
