"""Generated datasets: shapes and types, balanced classes, the geometry each promises, seeds, and that the
spiral example's network can actually learn the default spiral."""

from __future__ import annotations

import math

import pytest
import torch

from nnstudio.core.data import synthetic

CLASSIFIERS = {
    "spiral": synthetic.spiral,
    "moons": synthetic.moons,
    "circles": synthetic.circles,
    "xor": synthetic.xor,
    "blobs": synthetic.blobs,
}
CURVES = {"sine": synthetic.sine, "polynomial": synthetic.polynomial}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_points_have_the_promised_shape_types_and_balance(name):
    data = CLASSIFIERS[name](samples=301, seed=3)
    assert data.name == name
    assert data.x.shape == (301, 2) and data.x.dtype == torch.float32
    assert data.y.shape == (301,) and data.y.dtype == torch.long
    assert data.preview == "points2d" and data.feature_names == ["x1", "x2"]
    k = data.num_classes
    assert data.task == ("binary" if k == 2 else "multiclass")
    counts = torch.bincount(data.y, minlength=k)
    assert len(counts) == k and int(counts.max() - counts.min()) <= 1
    assert torch.isfinite(data.x).all() and data.x.abs().max() < 3


@pytest.mark.parametrize("name", [*CLASSIFIERS, *CURVES])
def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(name):
    make = {**CLASSIFIERS, **CURVES}[name]
    a, b, c = make(seed=7), make(seed=7), make(seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


@pytest.mark.parametrize("name", ["spiral", "blobs"])
def test_spiral_and_blobs_take_any_number_of_classes(name):
    data = CLASSIFIERS[name](samples=500, classes=5)
    assert data.num_classes == 5 and data.task == "multiclass"
    assert torch.bincount(data.y).tolist() == [100] * 5
    two = CLASSIFIERS[name](samples=100, classes=2)
    assert two.task == "binary" and two.y.max() == 1


def test_samples_are_shuffled_not_sorted_by_class():
    y = synthetic.spiral().y
    assert (y[1:] != y[:-1]).sum() > 100


def test_circles_without_noise_lie_on_their_two_rings():
    data = synthetic.circles(samples=200, noise=0.0, factor=0.3)
    radius = data.x.norm(dim=1)
    assert torch.allclose(radius[data.y == 0], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(radius[data.y == 1], torch.tensor(0.3), atol=1e-5)


def test_xor_without_noise_labels_by_the_signs_of_the_coordinates():
    data = synthetic.xor(samples=400, noise=0.0)
    different = (data.x[:, 0] * data.x[:, 1] < 0).long()
    assert torch.equal(different, data.y)
    quadrants = {(bool(a > 0), bool(b > 0)) for a, b in data.x.tolist()}
    assert len(quadrants) == 4


def test_moons_without_noise_are_two_half_circles_of_radius_one():
    data = synthetic.moons(samples=200, noise=0.0)
    upper = data.x[data.y == 0] - torch.tensor([-0.5, -0.25])
    lower = data.x[data.y == 1] - torch.tensor([0.5, 0.25])
    assert torch.allclose(upper.norm(dim=1), torch.tensor(1.0), atol=1e-5) and (upper[:, 1] >= -1e-6).all()
    assert torch.allclose(lower.norm(dim=1), torch.tensor(1.0), atol=1e-5) and (lower[:, 1] <= 1e-6).all()


def test_blobs_cluster_around_their_centres_with_the_noise_as_spread():
    data = synthetic.blobs(samples=3000, classes=4, noise=0.2)
    for k in range(4):
        points = data.x[data.y == k]
        centre = torch.tensor([math.cos(2 * math.pi * k / 4), math.sin(2 * math.pi * k / 4)])
        assert torch.allclose(points.mean(0), centre, atol=0.05)
        assert abs(points.std(0).mean().item() - 0.2) < 0.02


def test_noise_moves_the_points():
    still, noisy = synthetic.circles(noise=0.0), synthetic.circles(noise=0.2)
    assert noisy.x.norm(dim=1)[noisy.y == 0].std() > 5 * still.x.norm(dim=1)[still.y == 0].std()


def test_sine_is_sin_x_without_noise():
    data = synthetic.sine(samples=150, noise=0.0)
    assert data.task == "regression" and data.preview == "curve"
    assert data.x.shape == (150, 1) and data.y.shape == (150, 1) and data.y.dtype == torch.float32
    assert data.x.abs().max() <= math.pi
    assert torch.allclose(data.y, torch.sin(data.x), atol=1e-6)
    assert data.classes == []


@pytest.mark.parametrize("degree", [1, 2, 3, 5])
def test_polynomial_crosses_zero_degree_times_and_peaks_at_one(degree):
    data = synthetic.polynomial(samples=2000, degree=degree, noise=0.0)
    order = data.x[:, 0].argsort()
    y = data.y[order, 0]
    assert data.x.abs().max() <= 1 and y.abs().max() <= 1 + 1e-6 and y.abs().max() > 0.9
    assert int((torch.sign(y[1:]) != torch.sign(y[:-1])).sum()) == degree


def test_the_spiral_example_network_learns_the_default_spiral():
    """2-16-16-3 ReLU, Adam lr 0.01, batch 32, 100 epochs (the spiral_mlp example) reaches >= 0.95."""
    data = synthetic.spiral()
    assert len(data) == 600 and data.num_classes == 3
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=g)
    val, train = order[:120], order[120:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        shuffled = train[torch.randperm(len(train), generator=g)]
        for i in range(0, len(shuffled), 32):
            batch = shuffled[i:i + 32]
            loss = torch.nn.functional.cross_entropy(model(data.x[batch]), data.y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        accuracy = (model(data.x[val]).argmax(1) == data.y[val]).float().mean().item()
    assert accuracy >= 0.95
