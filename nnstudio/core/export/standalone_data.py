"""Dataset code that exported scripts carry: plain torch / numpy, no nnstudio imports.

``python_code`` copies the functions a project needs into the exported file with
``inspect.getsource``, so this module is the single source of what exported scripts run, and it is
tested like any other code. The generators repeat NN Studio's own maths step for step
(``nnstudio.core.data.synthetic``, ``bundled`` and ``split``): the same options and seed give the
same samples and the same train / validation split. Keep it free of nnstudio imports and keep lines
under 100 columns: the text ends up in people's files.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import torch
import torch.nn.functional as F


# -- generated datasets (the same maths as NN Studio) ---------------------------------------------
def spread(total, parts):
    """``total`` split into ``parts`` counts that differ by at most one (the first get more)."""
    base, extra = divmod(int(total), int(parts))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def jitter(points, noise, g):
    """Gaussian noise of standard deviation ``noise`` added to every coordinate."""
    return points + float(noise) * torch.randn(points.shape, generator=g, dtype=torch.float64)


def label_and_shuffle(parts, g):
    """Stack per-class point sets, label them 0, 1, ... and shuffle them: (x float32, y int64)."""
    x = torch.cat(parts)
    y = torch.cat([torch.full((len(p),), k, dtype=torch.long) for k, p in enumerate(parts)])
    order = torch.randperm(len(x), generator=g)
    return x[order].float(), y[order]


def make_spiral(samples=600, classes=3, noise=0.03, turns=0.75, seed=0):
    """``classes`` interleaved spiral arms from the centre out, each winding ``turns`` times."""
    g = torch.Generator().manual_seed(int(seed))
    parts = []
    for k, count in enumerate(spread(samples, classes)):
        t = torch.rand(count, generator=g, dtype=torch.float64)
        radius = 0.05 + 0.95 * t
        angle = 2 * math.pi * k / classes + 2 * math.pi * turns * t
        arm = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
        parts.append(jitter(arm, noise, g))
    return label_and_shuffle(parts, g)


def make_moons(samples=400, noise=0.1, seed=0):
    """Two interleaving half circles, centred on the origin."""
    g = torch.Generator().manual_seed(int(seed))
    upper_count, lower_count = spread(samples, 2)
    t = torch.rand(upper_count, generator=g, dtype=torch.float64) * math.pi
    upper = torch.stack([torch.cos(t) - 0.5, torch.sin(t) - 0.25], dim=1)
    t = torch.rand(lower_count, generator=g, dtype=torch.float64) * math.pi
    lower = torch.stack([0.5 - torch.cos(t), 0.25 - torch.sin(t)], dim=1)
    return label_and_shuffle([jitter(upper, noise, g), jitter(lower, noise, g)], g)


def make_circles(samples=400, noise=0.05, factor=0.5, seed=0):
    """A ring of radius 1 around a ring of radius ``factor``."""
    g = torch.Generator().manual_seed(int(seed))
    parts = []
    for count, radius in zip(spread(samples, 2), (1.0, float(factor))):
        t = torch.rand(count, generator=g, dtype=torch.float64) * 2 * math.pi
        ring = radius * torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        parts.append(jitter(ring, noise, g))
    return label_and_shuffle(parts, g)


def make_xor(samples=400, noise=0.05, seed=0):
    """Points in [-1, 1]^2: class 1 where the two coordinates have different signs."""
    g = torch.Generator().manual_seed(int(seed))
    parts = []
    for k, count in enumerate(spread(samples, 2)):
        corner = torch.randint(0, 2, (count,), generator=g) * 2 - 1
        signs = torch.stack([corner, corner * (1 if k == 0 else -1)], dim=1).double()
        magnitude = 0.05 + 0.95 * torch.rand((count, 2), generator=g, dtype=torch.float64)
        parts.append(jitter(signs * magnitude, noise, g))
    return label_and_shuffle(parts, g)


def make_blobs(samples=400, classes=3, noise=0.3, seed=0):
    """Round clusters, centres evenly spaced on a circle of radius 1; ``noise`` is their spread."""
    g = torch.Generator().manual_seed(int(seed))
    parts = []
    for k, count in enumerate(spread(samples, classes)):
        angle = 2 * math.pi * k / classes
        centre = torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)
        parts.append(jitter(centre.expand(count, 2), noise, g))
    return label_and_shuffle(parts, g)


def make_sine(samples=200, noise=0.1, seed=0):
    """y = sin(x) plus noise, x drawn uniformly from [-pi, pi]: (x (N, 1), y (N, 1)), float32."""
    g = torch.Generator().manual_seed(int(seed))
    x = (torch.rand(samples, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    y = torch.sin(x) + float(noise) * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return x.unsqueeze(1).float(), y.unsqueeze(1).float()


def make_polynomial(samples=200, degree=3, noise=0.1, seed=0):
    """A polynomial with roots spread over [-0.8, 0.8], scaled to a largest value of 1 on [-1, 1],
    plus noise: (x (N, 1), y (N, 1)), float32."""
    g = torch.Generator().manual_seed(int(seed))
    x = torch.rand(samples, generator=g, dtype=torch.float64) * 2 - 1
    if degree > 1:
        roots = torch.linspace(-0.8, 0.8, degree, dtype=torch.float64)
    else:
        roots = torch.zeros(1).double()

    def curve(at):
        return torch.prod(at.unsqueeze(1) - roots.unsqueeze(0), dim=1)

    scale = curve(torch.linspace(-1, 1, 1001, dtype=torch.float64)).abs().max()
    y = curve(x) / scale + float(noise) * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return x.unsqueeze(1).float(), y.unsqueeze(1).float()


# -- bundled files (pass their path with --data) --------------------------------------------------
def require_data(args, file_name):
    """The path given with --data; a clear message when it is missing."""
    if not args.data:
        raise SystemExit(
            f"this script trains on NN Studio's bundled {file_name}: pass its path with "
            f"--data PATH/{file_name} (NN Studio keeps it in its resources/data folder)"
        )
    return args.data


def load_digits(path, size=8):
    """The 1,797 handwritten digits: (N, 1, size, size) float32 images in [0, 1], labels 0-9."""
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = x.clamp_(0.0, 1.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def standardise(column):
    """Z-score one column (mean 0, standard deviation 1); a constant column becomes all zeros."""
    column = np.asarray(column, dtype=np.float64)
    std = column.std()
    return (column - column.mean()) / (std if std != 0 else 1.0)


def load_table(path, target="target"):
    """A CSV table with numeric feature columns and a class column: features standardised
    (float32), classes numbered in sorted order (int64). Returns x, y and the class names."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f) if any(c.strip() for c in row)]
    header, rows = rows[0], rows[1:]
    column = header.index(target)
    features = [i for i in range(len(header)) if i != column]
    blocks = [standardise([float(row[i]) for row in rows])[:, None] for i in features]
    x = torch.from_numpy(np.concatenate(blocks, axis=1)).float()
    labels = [row[column] for row in rows]
    try:
        values = [float(v) for v in labels]
        keys = [int(v) if v.is_integer() else v for v in values]
        classes = sorted(set(keys))
    except ValueError:
        keys = labels
        classes = sorted(set(labels))
    index = {k: i for i, k in enumerate(classes)}
    y = torch.tensor([index[k] for k in keys], dtype=torch.long)
    return x, y, [str(c) for c in classes]


# -- the train / validation split (the same as NN Studio's) ---------------------------------------
def share(total, sizes, room):
    """``total`` shared between groups in proportion to ``sizes`` by the largest-remainder rule,
    never more than ``room`` nor more than a group's share rounded up."""
    n = sum(sizes)
    quotas = [total * s / n for s in sizes]
    limits = [min(r, math.ceil(q)) for q, r in zip(quotas, room)]
    counts = [min(math.floor(q), limit) for q, limit in zip(quotas, limits)]
    order = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    for i in order:
        if sum(counts) < total and counts[i] < limits[i]:
            counts[i] += 1
    return counts


def split_indices(y, val_fraction=0.2, test_fraction=0.0, seed=0, stratify=True):
    """Shuffled index tensors (train, validation); stratified by class when ``stratify`` (each
    class keeps its share in both parts). A test part, if any, is left out of both."""
    n = len(y)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n_val == 0 or n - n_val - n_test <= 0:
        raise SystemExit(f"val_fraction {val_fraction} of {n} samples leaves a part empty")
    g = torch.Generator().manual_seed(int(seed))
    if stratify and y.dim() == 1:
        groups = [torch.nonzero(y == k).flatten() for k in range(int(y.max()) + 1)]
        groups = [grp[torch.randperm(len(grp), generator=g)] for grp in groups if len(grp)]
    else:
        groups = [torch.randperm(n, generator=g)]
    sizes = [len(grp) for grp in groups]
    vals = share(n_val, sizes, [s - 1 for s in sizes])  # at least one of each class for training
    tests = share(n_test, sizes, [s - v - 1 for s, v in zip(sizes, vals)])
    train_parts, val_parts = [], []
    for grp, v, t in zip(groups, vals, tests):
        val_parts.append(grp[:v])
        train_parts.append(grp[v + t:])
    train, val = torch.cat(train_parts), torch.cat(val_parts)
    # Shuffled in this order, train then val, as NN Studio does.
    train = train[torch.randperm(len(train), generator=g)]
    return train, val[torch.randperm(len(val), generator=g)]
