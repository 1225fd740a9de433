"""Dataset code that exported scripts carry: plain torch / numpy, no nnstudio imports.

``python_code`` copies the functions a project needs into the exported file with
``inspect.getsource``, so this module is the single source of what exported scripts run, and it is
tested like any other code. The generators repeat NN Studio's own maths step for step
(``nnstudio.core.data.synthetic``, ``sentiment``, ``bundled`` and ``split``): the same options and
seed give the same samples and the same train / validation split. The user's own files are read by
``standalone_files``, the standard image sets and the transforms by ``standalone_standard``. Keep
it free of nnstudio imports and keep lines under 100 columns: the text ends up in people's files.
"""

from __future__ import annotations

import math
import os
import random
import re
import stat

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


# -- the generated sentiment set (the same maths as NN Studio's) ---------------------------------
def words_of(text):
    """Lower-case words and punctuation marks: "Good, not bad!" -> good , not bad !"""
    return re.findall(r"\w+(?:'\w+)*|[^\w\s]", text.lower())


def encode_tokens(token_lists, vocab, length):
    """(N, length) int64 ids: the first ``length`` words of each text, padded with 0 at the start;
    words outside ``vocab`` become 1 (<unk>)."""
    index = {word: i for i, word in enumerate(vocab)}
    out = torch.zeros((len(token_lists), length), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        ids = [index.get(token, 1) for token in tokens[:length]]
        if ids:
            out[row, length - len(ids):] = torch.tensor(ids, dtype=torch.long)
    return out


def sentiment_words():
    """The words reviews are built from: subjects, determiners, verbs, intensifiers, positive and
    negative adjectives, openers."""
    return (
        ("film", "movie", "book", "show", "story", "plot", "acting", "music", "ending", "food",
         "service", "hotel", "game", "song", "album", "trip", "cast", "script", "dinner",
         "concert"),
        ("the", "this", "that"),
        ("was", "is", "seemed", "felt"),
        ("very", "really", "quite", "so", "truly", "pretty"),
        ("good", "great", "fine", "lovely", "excellent", "wonderful", "fun", "brilliant", "clever",
         "charming", "pleasant", "superb", "delightful", "enjoyable", "beautiful", "nice",
         "amazing", "fantastic"),
        ("bad", "awful", "boring", "dull", "terrible", "poor", "weak", "bland", "messy", "slow",
         "horrible", "dreadful", "tedious", "ugly", "annoying", "disappointing", "mediocre",
         "painful"),
        ("honestly ,", "overall ,", "to be fair ,", "in the end ,", "well ,"),
    )


def make_review(rng, words):
    """One generated review and its label (1 positive, 0 negative); see make_sentiment."""
    subjects, determiners, verbs, intensifiers, positive, negative, openers = words
    subject = f"{rng.choice(determiners)} {rng.choice(subjects)}"
    verb = rng.choice(verbs)
    opener = rng.choice(openers) + " " if rng.random() < 0.2 else ""
    very = rng.choice(intensifiers) + " " if rng.random() < 0.4 else ""
    first = rng.random() < 0.5  # polarity of the first adjective
    template = rng.choices(range(5), weights=(0.25, 0.25, 0.15, 0.2, 0.15))[0]
    a = rng.choice(positive if first else negative)
    b = rng.choice(negative if first else positive)
    if template == 0:
        text, label = f"{subject} {verb} {very}{a}", first
    elif template == 1:
        text, label = f"{subject} {verb} not {very}{a}", not first
    elif template == 2:
        text, label = f"{subject} {verb} {very}{a} , not {b}", first
    elif template == 3:
        text, label = f"{subject} {verb} {very}{a} but {b}", not first
    else:
        text, label = f"i thought {subject} would be {a} , but it {verb} {very}{b}", not first
    return opener + text, int(label)


def make_sentiment(samples=2000, length=32, seed=0):
    """Short generated reviews whose labels depend on negation and word order ("good , not bad" is
    positive, "bad , not good" negative): (x (N, length) int64 token ids, y int64 0 / 1)."""
    rng = random.Random(seed)
    words = sentiment_words()
    pairs = [make_review(rng, words) for _ in range(samples)]
    parts = [w for group in words for w in group] + ["not", "but", ",", "i", "thought", "would",
                                                     "be", "it"]
    vocab = ["<pad>", "<unk>"] + sorted({w for part in parts for w in words_of(part)})
    tokens = [words_of(text)[:length] for text, _ in pairs]
    y = torch.tensor([label for _, label in pairs], dtype=torch.long)
    return encode_tokens(tokens, vocab, length), y


# -- files beside the script or the user's own (--data points elsewhere) --------------------------
def beside_script(path):
    """``path`` as given when absolute, else taken from the folder this script is in."""
    if os.path.isabs(path):
        return path
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), path)


def data_path(given, default, what):
    """The file or folder to read: --data's when given, else the project's (a relative one is taken
    from this script's folder); one line asking for --data when there is neither."""
    if given:
        return os.path.expanduser(given)
    if not default:
        raise SystemExit(f"this script reads a {what}: give its path with --data PATH")
    return beside_script(os.path.expanduser(default))


def data_root(given, default):
    """The folder the standard dataset's files are in: --data-root's, else the project's."""
    return os.path.expanduser(given) if given else beside_script(os.path.expanduser(default))


def data_file(path, what="data file"):
    """``path`` when it names a regular file; else one line naming it (never opens a device or a
    pipe, which could block or never end)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SystemExit(f"cannot read the {what} {path!r}: {reason} (give its path with --data)")
    if not stat.S_ISREG(mode):
        raise SystemExit(f"the {what} {path!r} is not a regular file: give the file with --data")
    return path


def load_digits(path, size=8):
    """The 1,797 handwritten digits: (N, 1, size, size) float32 images in [0, 1], labels 0-9."""
    try:
        with np.load(data_file(path, "digits file"), allow_pickle=False) as archive:
            images, labels = archive["images"], archive["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise SystemExit(f"{path!r} is not NN Studio's digits file ({exc})")
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = x.clamp_(0.0, 1.0)
    return x, torch.from_numpy(labels.astype(np.int64))


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
    if stratify and y.dim() == 1 and not y.is_floating_point():
        groups = [torch.nonzero(y == k).flatten() for k in range(int(y.max()) + 1)]
        groups = [grp[torch.randperm(len(grp), generator=g)] for grp in groups if len(grp)]
    else:
        groups = [torch.randperm(n, generator=g)]
    sizes = [len(grp) for grp in groups]
    vals = share(n_val, sizes, [s - 1 for s in sizes])  # at least one of each class for training
    tests = share(n_test, sizes, [s - v - 1 for s, v in zip(sizes, vals)])
    if not sum(vals) or (n_test and not sum(tests)):
        part = "validation" if not sum(vals) else "test"
        raise SystemExit(f"every class has too few samples to give any to the {part} part")
    train_parts, val_parts = [], []
    for grp, v, t in zip(groups, vals, tests):
        val_parts.append(grp[:v])
        train_parts.append(grp[v + t:])
    train, val = torch.cat(train_parts), torch.cat(val_parts)
    # Shuffled in this order, train then val, as NN Studio does.
    train = train[torch.randperm(len(train), generator=g)]
    return train, val[torch.randperm(len(val), generator=g)]
