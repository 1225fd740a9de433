"""Every dataset NN Studio offers, by name, and the one way to load one from a project's ``dataset`` dict.

A project stores its data choice as a small JSON dict, e.g. ``{"name": "spiral", "samples": 600, "noise": 0.05,
"val_fraction": 0.2}``. :func:`load_dataset` turns it into a :class:`Dataset` (missing options take their
defaults; an unknown name or option, or a bad value, is a :class:`DatasetError` naming it) and :func:`load_split`
also splits it. The engine, the command line and the GUI all go through here. Options are described with the
same :class:`Param` type as layer parameters, so the GUI builds the dataset form the way it builds layer forms.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nnstudio.core.data import arrays, bundled, images, sentiment, standard, synthetic, tables, text
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.data.reading import MAX_MEGABYTES, MAX_MEGABYTES_LIMIT, LoadToken, open_regular, using
from nnstudio.core.data.split import split
from nnstudio.core.data.transforms import TRANSFORM_KEYS, TRANSFORM_PARAMS, transform_options
from nnstudio.core.errors import DatasetError
from nnstudio.core.text import short
from nnstudio.core.layers.base import Param

KINDS = ("synthetic", "bundled", "standard", "import")
PATH_KINDS = ("file", "folder")


@dataclass(frozen=True)
class Option(Param):
    """A dataset option: a :class:`Param` that also knows the kinds ``file`` and ``folder`` (a path the GUI
    picks with a file dialog; relative paths are taken from the project's folder) and ``text`` (a word, such
    as a column name)."""

    def check(self, value: Any) -> str | None:
        if self.kind in (*PATH_KINDS, "text"):
            return None if isinstance(value, str) else f"{self.title} must be text, not {short(value)}"
        return super().check(value)


@dataclass(frozen=True)
class DatasetSpec:
    """One kind of dataset: how it is described, its options and the function that makes it."""

    name: str
    title: str
    description: str
    kind: str  # "synthetic", "bundled" or "import"
    params: tuple[Param, ...]
    loader: Callable[..., Dataset]
    # For image datasets that can be read in batches (the "storage" option): the loader of the streamed set,
    # taking the same options. Without one, "stream" serves the loaded tensors in batches (data.stream).
    streamer: Callable[..., Dataset] | None = None

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def options(self, config: dict[str, Any]) -> dict[str, Any]:
        """The loader's keyword arguments from a config: defaults overlaid with checked values."""
        known = {p.name for p in self.params}
        listing = ", ".join(sorted(known)) or "none"
        problems = [f"the {self.name} dataset has no option {key!r} (its options: {listing})"
                    for key in config if key not in known and key != "name" and key not in SPLIT_KEYS]
        options = self.defaults()
        for p in self.params:
            if p.name in config:
                message = p.check(config[p.name])
                if message:
                    problems.append(f"the {self.name} dataset's option {p.name!r}: {message}")
                options[p.name] = config[p.name]
        if problems:
            raise DatasetError("; ".join(problems))
        return options

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description, "kind": self.kind,
                "params": [p.to_dict() for p in self.params]}


# -- options shared by several datasets -----------------------------------------------------------------------
def _samples(default: int, minimum: int = 20) -> Param:
    return Param("samples", "int", default, minimum=minimum, maximum=1_000_000, help="How many samples to make.")


def _noise(default: float, maximum: float = 2.0, what: str = "each coordinate") -> Param:
    return Param("noise", "float", default, minimum=0.0, maximum=maximum,
                 help=f"Standard deviation of the Gaussian noise added to {what}.")


def _classes(default: int) -> Param:
    return Param("classes", "int", default, minimum=2, maximum=10, help="How many classes (arms, clusters).")


SEED = Param("seed", "int", 0, minimum=0, maximum=2**31 - 1, help="The same seed always gives the same data.")
TASK = Param("task", "choice", "auto", choices=tables.TASK_CHOICES,
             help="auto: regression for a numeric target with many different values, classification otherwise.")
DELIMITER = Param("delimiter", "choice", "auto", choices=tables.DELIMITERS,
                  help="The character between values; auto guesses it from the file.")
# Every importer's bound on what a file may make it read and hold (see reading.py and docs/datasets.md).
MAX_MB = Param("max_megabytes", "int", MAX_MEGABYTES, label="Memory limit (MB)", minimum=1,
               maximum=MAX_MEGABYTES_LIMIT,
               help="The most the data may weigh on disk and take in memory, in megabytes; larger data are "
                    "refused before they are read. Raise it for a bigger dataset.")

# Read by load_split from the same dict; accepted by every dataset.
SPLIT_PARAMS: tuple[Param, ...] = (
    Param("val_fraction", "float", 0.2, label="Validation fraction", minimum=0.0, maximum=0.9,
          help="Share of the samples held out to validate on after every epoch."),
    Param("test_fraction", "float", 0.0, label="Test fraction", minimum=0.0, maximum=0.9,
          help="Share kept for a final test; 0 for no test set."),
    Param("split_seed", "int", 0, label="Split seed", minimum=0, maximum=2**31 - 1,
          help="The same seed always gives the same split."),
)
SPLIT_KEYS = tuple(p.name for p in SPLIT_PARAMS)


def _standard(name: str, description: str) -> DatasetSpec:
    """A standard dataset (data.standard): its files in torchvision's layout under ``root``."""
    params = (Option("root", "folder", "", label="Folder",
                     help="The folder holding MNIST/raw, FashionMNIST/raw, KMNIST/raw or cifar-10-batches-bin "
                          "(torchvision's layout); empty for your data folder."),
              Param("download", "bool", False, help="Download the missing files (checked by their MD5 sums)."),
              Param("samples", "int", 0, minimum=0, maximum=1_000_000,
                    help="Use only the first N training images, for quick runs; 0 for all of them."),
              Param("test_set", "bool", True, label="Official test set",
                    help="The official test files become the test part (test fraction is then ignored); the "
                         "training files are split into training and validation."),
              MAX_MB, *TRANSFORM_PARAMS)
    return _spec(name, standard.TITLES[name], "standard", standard.loader(name), params,
                 description + " Downloaded or read from your folder.", standard.streamer(name))


def _spec(name: str, title: str, kind: str, loader: Callable[..., Dataset], params: tuple[Param, ...],
          description: str, streamer: Callable[..., Dataset] | None = None) -> DatasetSpec:
    return DatasetSpec(name, title, description, kind, params, loader, streamer)


_SPECS = [
    _spec("spiral", "Spiral", "synthetic", synthetic.spiral,
          (_samples(600), _classes(3), _noise(0.03),
           Param("turns", "float", 0.75, minimum=0.1, maximum=5.0, help="How far each arm winds round."), SEED),
          "Interleaved spiral arms, one class each: the classic test of a network's curved decision boundary."),
    _spec("moons", "Two moons", "synthetic", synthetic.moons, (_samples(400), _noise(0.1), SEED),
          "Two interleaving half circles: separable, but not by a straight line."),
    _spec("circles", "Circles", "synthetic", synthetic.circles,
          (_samples(400), _noise(0.05),
           Param("factor", "float", 0.5, minimum=0.05, maximum=0.95, help="Inner ring radius / outer radius."),
           SEED),
          "A ring inside a ring: the network must learn a closed boundary."),
    _spec("xor", "XOR", "synthetic", synthetic.xor, (_samples(400), _noise(0.05), SEED),
          "Points in four quadrants, labelled by whether the two coordinates have the same sign."),
    _spec("blobs", "Blobs", "synthetic", synthetic.blobs,
          (_samples(400), _classes(3), _noise(0.3, what="each cluster's points (its spread)"), SEED),
          "Round clusters, one per class: nearly linearly separable, the easiest start."),
    _spec("sine", "Sine curve", "synthetic", synthetic.sine, (_samples(200, 10), _noise(0.1, what="y"), SEED),
          "Regression: y = sin(x) plus noise for x in [-pi, pi]."),
    _spec("polynomial", "Polynomial", "synthetic", synthetic.polynomial,
          (_samples(200, 10), Param("degree", "int", 3, minimum=1, maximum=10), _noise(0.1, what="y"), SEED),
          "Regression: a wiggly polynomial of the chosen degree on [-1, 1] plus noise."),
    _spec("sentiment", "Sentiment (generated)", "synthetic", sentiment.sentiment,
          (_samples(2000, 100), Param("length", "int", 32, minimum=4, maximum=512, help="Tokens per sample."),
           SEED),
          "Short generated reviews labelled positive or negative, where negation and word order decide: "
          "\"good , not bad\" is positive, \"bad , not good\" negative. A recurrent network beats a bag of words."),
    _spec("digits", "Handwritten digits", "bundled", bundled.digits,
          (Param("size", "int", 8, minimum=8, maximum=64,
                 help="Image side in pixels: 8 as scanned, or larger (28 for MNIST-sized networks)."),
           *TRANSFORM_PARAMS),
          "1,797 scanned handwritten digits 0-9, 8 x 8 greyscale (UCI, CC BY 4.0)."),
    _spec("iris", "Iris flowers", "bundled", bundled.iris, (),
          "150 iris flowers, 4 measurements, 3 species (Fisher 1936; UCI, CC BY 4.0)."),
    _spec("wine", "Wine", "bundled", bundled.wine, (),
          "178 Italian wines, 13 chemical measurements, 3 grape cultivars (UCI, CC BY 4.0)."),
    _spec("breast_cancer", "Breast cancer", "bundled", bundled.breast_cancer, (),
          "569 breast-tissue samples, 30 cell measurements, benign or malignant (Wisconsin; UCI, CC BY 4.0)."),
    _spec("csv", "CSV table", "import", tables.load_csv,
          (Option("path", "file", "", help="A CSV file with a header row."),
           Option("target", "text", "", help="The column to predict; empty for the last column."),
           TASK, DELIMITER, MAX_MB),
          "Your own table: numeric columns are standardised, text columns one-hot encoded."),
    _spec("npz", "NumPy arrays", "import", arrays.load_npz,
          (Option("path", "file", "", help="An .npz file holding arrays X (samples first) and y."),
           TASK, Param("inputs", "choice", "features", choices=arrays.INPUT_CHOICES,
                       help="tokens: X holds whole-number token ids for an Embedding."), MAX_MB),
          "Your own arrays saved with numpy.savez(path, X=..., y=...); used as they are."),
    _spec("image_folder", "Image folder", "import", images.load_image_folder,
          (Option("path", "folder", "", help="A folder with one subfolder of images per class."),
           Param("channels", "int", 1, minimum=1, maximum=3, help="1 for greyscale, 3 for colour."),
           Param("height", "int", 28, minimum=1, maximum=1024), Param("width", "int", 28, minimum=1, maximum=1024),
           MAX_MB, *TRANSFORM_PARAMS),
          "Your own images, one subfolder per class, resized and scaled to [0, 1]."),
    _spec("text_csv", "Text CSV", "import", text.load_text_csv,
          (Option("path", "file", "", help="A CSV file with a text column and a label column."),
           Option("text_column", "text", "text"), Option("label_column", "text", "label"),
           Param("length", "int", 32, minimum=1, maximum=4096, help="Tokens per sample (padded or cut)."),
           Param("max_vocab", "int", 1000, label="Largest vocabulary", minimum=3, maximum=10_000_000,
                 help="The most frequent words kept, <pad> and <unk> included."),
           Param("task", "choice", "auto", choices=text.TEXT_TASKS), DELIMITER, MAX_MB),
          "Your own labelled texts, split into lower-case words and numbered by frequency."),
    *(_standard(name, description) for name, description in (
        ("mnist", "70,000 handwritten digits 0-9, 28 x 28 greyscale (60,000 to train, 10,000 to test)."),
        ("fashion_mnist", "70,000 photos of clothes in 10 kinds (T-shirt/top ... Ankle boot), 28 x 28 greyscale "
                          "(Zalando Research, MIT licence)."),
        ("kmnist", "70,000 handwritten cursive Japanese characters (Kuzushiji), 10 classes, 28 x 28 greyscale "
                   "(CODH, CC BY-SA 4.0)."),
        ("cifar10", "60,000 small colour photos, 32 x 32, in 10 classes (airplane ... truck): harder than MNIST "
                    "(Krizhevsky, Nair and Hinton)."))),
]

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: Any) -> DatasetSpec:
    if name is None or name == "":
        raise DatasetError(f"no dataset chosen: set the dataset's name to one of {', '.join(DATASETS)}")
    if not isinstance(name, str) or name not in DATASETS:
        raise DatasetError(f"there is no dataset called {short(name)} (choose one of {', '.join(DATASETS)})")
    return DATASETS[name]


def split_options(config: dict[str, Any]) -> dict[str, Any]:
    """``val_fraction``, ``test_fraction`` and ``split_seed`` from a dataset dict, checked, with defaults."""
    options = {}
    for p in SPLIT_PARAMS:
        value = config.get(p.name, p.default)
        message = p.check(value)
        if message:
            raise DatasetError(f"the dataset's option {p.name!r}: {message}")
        options[p.name] = value
    return options


def load_dataset(config: dict[str, Any], base_dir: str | Path | None = None,
                 token: LoadToken | None = None, device: Any = "cpu") -> Dataset:
    """The dataset a project's ``dataset`` dict describes; relative paths are taken from ``base_dir``.

    ``token`` (a :class:`LoadToken`) lets another thread cancel the load (it then raises ``LoadCancelled``, a
    DatasetError) and follow its progress; without one the thread's current token is used. An image dataset
    is streamed or loaded whole by its ``storage`` option (``data.stream.storage_plan``; ``device``, the
    training device, sets the budget of ``auto``); its transform options go with it (``Dataset.transforms``)."""
    with using(token):
        return _load(config, base_dir, device)


def _load(config: dict[str, Any], base_dir: str | Path | None, device: Any = "cpu") -> Dataset:
    spec, options = _resolve(config, base_dir)
    extra = transform_options(options)
    loader_options = {k: v for k, v in options.items() if k not in TRANSFORM_KEYS}
    if not extra:
        return spec.loader(**loader_options)
    from nnstudio.core.data import stream

    if spec.name == "image_folder":  # listed once, for the choice and the load
        dataset = images.load_images(**loader_options, storage=extra["storage"], device=device)
        dataset.transforms = extra
        return dataset
    decoded = stream.decoded_estimate(spec.name, options) if extra["storage"] == "auto" else None
    path, _ = stream.choose(extra["storage"], decoded, device)
    if path == "stream":
        dataset = spec.streamer(**loader_options) if spec.streamer else stream.streamed_copy(
            spec.loader(**loader_options))
    else:
        dataset = spec.loader(**loader_options)
    dataset.transforms = extra
    return dataset


# What the path of each importer names, for "no ... chosen" (the loaders' own words).
_PATH_WORDS = {"csv": "CSV file", "text_csv": "CSV file", "npz": ".npz file", "image_folder": "image folder"}


def check_dataset(config: dict[str, Any], base_dir: str | Path | None = None) -> list[str]:
    """What is wrong with a dataset dict, found without reading the data (cheap enough for ``validate``): an
    unknown name or option, a bad value, and for imports a path that is missing, not a regular file or folder,
    or larger than ``max_megabytes``; an .npz is judged from its arrays' headers (what they would take in
    memory), an image folder from its listing. An empty list when nothing is known to be wrong."""
    try:
        spec, options = _resolve(config, base_dir)
        if spec.kind == "standard":
            standard.check_standard(spec.name, options["root"], options["download"], options["test_set"],
                                    options["max_megabytes"], streamed=options["storage"] == "stream" or (
                                        options["storage"] == "auto" and _streams(spec.name, options)))
        if spec.kind != "import":
            return []
        path, limit = options.get("path"), options.get("max_megabytes", MAX_MEGABYTES)
        if not path:
            raise DatasetError(f"no {_PATH_WORDS.get(spec.name, 'file')} chosen: set the dataset's path")
        if spec.name == "npz":
            arrays.inspect_npz(path, options["inputs"], limit)
        elif spec.name == "image_folder":
            streamed = options["storage"] == "stream" or (options["storage"] == "auto" and
                                                          _streams(spec.name, options))
            images.plan_image_folder(path, options["channels"], options["height"], options["width"], limit,
                                     streamed=streamed)
        else:
            stream, _ = open_regular(Path(path), "path", _PATH_WORDS.get(spec.name, "file"), limit)
            stream.close()
    except DatasetError as exc:
        return [str(exc)]
    return []


def _streams(name: str, options: dict[str, Any]) -> bool:
    """Whether ``auto`` storage streams this dataset (on the CPU's budget)."""
    from nnstudio.core.data import stream

    decoded = stream.decoded_estimate(name, options)
    return stream.choose("auto", decoded, "cpu")[0] == "stream"


def _resolve(config: dict[str, Any], base_dir: str | Path | None) -> tuple[DatasetSpec, dict[str, Any]]:
    """The spec and the loader's checked keyword arguments (paths taken from ``base_dir``)."""
    if not isinstance(config, dict):
        raise DatasetError(f"the dataset settings must be a dict such as {{'name': 'spiral'}}, not {short(config)}")
    spec = get_spec(config.get("name"))
    options = spec.options(config)
    split_options(config)
    for p in spec.params:
        if p.kind in PATH_KINDS and options[p.name] and base_dir is not None:
            # os.path.expanduser leaves "~nosuchuser" as it is (Path.expanduser raises RuntimeError)
            options[p.name] = str(Path(base_dir) / os.path.expanduser(options[p.name]))
    if spec.name == "image_folder" and options["channels"] not in (1, 3):
        raise DatasetError(f"the image_folder dataset's option 'channels': Channels must be 1 (greyscale) or "
                           f"3 (colour), not {options['channels']}")
    return spec, options


def load_split(config: dict[str, Any], base_dir: str | Path | None = None,
               token: LoadToken | None = None, device: Any = "cpu") -> DataSplit:
    """Load the dataset and split it by the dict's ``val_fraction``, ``test_fraction`` and ``split_seed``."""
    return split_loaded(load_dataset(config, base_dir, token, device), config)


def split_loaded(dataset: Dataset, config: dict[str, Any]) -> DataSplit:
    """Split loaded data by the dict's split options; a standard dataset's official test files (its
    ``test_part``, with ``test_set`` on) are the test part, and ``test_fraction`` is then ignored."""
    options = split_options(config)
    test = getattr(dataset, "test_part", None)
    if test is not None:
        parts = split(dataset, options["val_fraction"], 0.0, options["split_seed"])
        test.transforms = dict(dataset.transforms)  # normalised like the rest (never augmented)
        return DataSplit(parts.train, parts.val, test)
    return split(dataset, options["val_fraction"], options["test_fraction"], options["split_seed"])
