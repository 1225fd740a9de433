"""The example networks shipped in ``resources/examples``, built in code so the files cannot drift from it.

Each function returns a fresh ``Project``: the graph laid out left to right, a name and description, training
defaults and the dataset the example is meant for. ``write_examples`` saves them all as ``<stem>.nnstudio``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from nnstudio.core.graph import Graph
from nnstudio.core.project.model import Project

STEP = 220.0  # horizontal distance between neighbouring nodes on the canvas


def _training(**changes) -> dict:
    training = {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 20}
    training.update(changes)
    return training


def _chain(graph: Graph, layers: list[tuple[str, dict]], y: float = 0.0) -> list[str]:
    """Add ``layers`` (type id, params) left to right, wired one after the other; returns their ids."""
    ids: list[str] = []
    for i, (type_id, params) in enumerate(layers):
        node = graph.add_node(type_id, params, position=(i * STEP, y))
        if ids:
            graph.connect(ids[-1], node.id)
        ids.append(node.id)
    return ids


def spiral_mlp() -> Project:
    graph = Graph()
    _chain(graph, [
        ("input_vector", {"features": 2}),
        ("dense", {"units": 16, "activation": "relu"}),
        ("dense", {"units": 16, "activation": "relu"}),
        ("dense", {"units": 3, "activation": "softmax"}),
        ("output", {"task": "multiclass"}),
    ])
    return Project(
        graph=graph,
        name="Spiral MLP",
        description="The classic picture of a neural network: an input layer of two coordinates, two hidden "
        "layers of 16 ReLU units and an output layer with one Softmax unit per arm of the spiral. It learns to "
        "tell three interleaved spirals apart; watch its decision boundary bend as it trains.",
        training=_training(lr=0.01, epochs=100),
        dataset={"name": "spiral", "classes": 3},
    )


def digits_cnn() -> Project:
    graph = Graph()
    _chain(graph, [
        ("input_image", {"channels": 1, "height": 28, "width": 28}),
        ("conv2d", {"filters": 32, "kernel_size": 3, "padding": "valid", "activation": "relu"}),
        ("maxpool2d", {"pool_size": 2}),
        ("conv2d", {"filters": 64, "kernel_size": 3, "padding": "valid", "activation": "relu"}),
        ("maxpool2d", {"pool_size": 2}),
        ("flatten", {}),
        ("dense", {"units": 64, "activation": "relu"}),
        ("dense", {"units": 10, "activation": "softmax"}),
        ("output", {"task": "multiclass"}),
    ])
    return Project(
        graph=graph,
        name="Digits CNN",
        description="A small convolutional network for 28 x 28 handwritten digits: two Conv2D + MaxPool "
        "stages find strokes and their combinations, then a Dense layer of 64 and a Softmax over the 10 digits "
        "decide. The same network as the reference notes' Keras example (121,930 parameters).",
        training=_training(batch_size=64, epochs=10),
        dataset={"name": "digits", "size": 28},
    )


def sentiment_lstm() -> Project:
    graph = Graph()
    _chain(graph, [
        ("input_tokens", {"length": 32, "vocab_size": 1000}),
        ("embedding", {"vocab_size": 1000, "dim": 128}),
        ("lstm", {"hidden_size": 64, "dropout": 0.5, "return_sequences": False}),
        ("dense", {"units": 1, "activation": "sigmoid"}),
        ("output", {"task": "binary"}),
    ])
    return Project(
        graph=graph,
        name="Sentiment LSTM",
        description="Reads a sentence as a sequence of word ids: an Embedding turns each word into 128 numbers, "
        "an LSTM of 64 units reads them in order (dropout 0.5 on its input) and a single Sigmoid unit says how "
        "positive the sentence is. The reference notes' sentiment model.",
        training=_training(epochs=15),
        dataset={"name": "sentiment"},
    )


def transformer_classifier() -> Project:
    graph = Graph()
    _chain(graph, [
        ("input_tokens", {"length": 32, "vocab_size": 1000}),
        ("embedding", {"vocab_size": 1000, "dim": 64}),
        ("positional_encoding", {"kind": "sinusoidal"}),
        ("transformer_encoder", {"heads": 4, "ff_dim": 128, "dropout": 0.1}),
        ("global_avg_pool", {}),
        ("dense", {"units": 2, "activation": "softmax"}),
        ("output", {"task": "multiclass"}),
    ])
    return Project(
        graph=graph,
        name="Transformer classifier",
        description="A small Transformer encoder for text: word embeddings of 64 numbers plus sinusoidal "
        "position codes, one encoder block (4 attention heads, feed-forward 128) in which every word looks at "
        "every other, an average over the words and a Softmax over the two classes.",
        training=_training(lr=0.0005, epochs=15),
        dataset={"name": "sentiment"},
    )


def residual_mlp() -> Project:
    graph = Graph()
    inp, d1 = _chain(graph, [
        ("input_vector", {"features": 2}),
        ("dense", {"units": 32, "activation": "relu"}),
    ])
    # The residual branch runs a little below the straight identity path, so the skip wire stays visible.
    d2 = graph.add_node("dense", {"units": 32, "activation": "relu"}, position=(2 * STEP, 110.0)).id
    d3 = graph.add_node("dense", {"units": 32, "activation": "none"}, position=(3 * STEP, 110.0)).id
    graph.connect(d1, d2)
    graph.connect(d2, d3)
    add = graph.add_node("add", position=(4 * STEP, 0.0)).id
    graph.connect(d3, add)
    graph.connect(d1, add)
    tail = [("activation", {"function": "relu"}), ("dense", {"units": 3, "activation": "softmax"}),
            ("output", {"task": "multiclass"})]
    prev = add
    for i, (type_id, params) in enumerate(tail, start=5):
        node = graph.add_node(type_id, params, position=(i * STEP, 0.0))
        graph.connect(prev, node.id)
        prev = node.id
    return Project(
        graph=graph,
        name="Residual MLP",
        description="An MLP with a skip connection: the block of two Dense layers learns only a correction that "
        "Add puts on top of its input, y = ReLU(x + F(x)). The idea behind ResNets, which lets very deep "
        "networks train. Trained on the three-arm spiral.",
        training=_training(lr=0.01, epochs=100),
        dataset={"name": "spiral", "classes": 3},
    )


def optimizers_compared() -> Project:
    graph = Graph()
    _chain(graph, [
        ("input_vector", {"features": 2}),
        ("dense", {"units": 16, "activation": "tanh"}),
        ("dense", {"units": 16, "activation": "tanh"}),
        ("dense", {"units": 3, "activation": "softmax"}),
        ("output", {"task": "multiclass"}),
    ])
    return Project(
        graph=graph,
        name="Optimizers compared",
        description="The reference notes' comparison of SGD, Adam and RMSprop on one network: a small tanh MLP "
        "learning the three-arm spiral. Press Run Sweep in the Runs panel: each optimizer trains once with the "
        "same learning rate, and the dashboard overlays their loss and accuracy curves. Adam and RMSprop adapt "
        "each weight's step and race ahead; plain SGD (with momentum) is slower but steady. Train > Sweep "
        "repeats each over more seeds, for the spread.",
        training=_training(lr=0.01, epochs=40),
        dataset={"name": "spiral", "classes": 3},
        sweep={"values": {"optimizer": ["sgd", "adam", "rmsprop"]}, "mode": "grid", "draws": 0, "seeds": 1,
               "seed": 0},
    )


EXAMPLES: dict[str, Callable[[], Project]] = {
    "spiral_mlp": spiral_mlp,
    "digits_cnn": digits_cnn,
    "sentiment_lstm": sentiment_lstm,
    "transformer_classifier": transformer_classifier,
    "residual_mlp": residual_mlp,
    "optimizers_compared": optimizers_compared,
}


def write_examples(directory: str | Path) -> list[Path]:
    """Save every example as ``<directory>/<stem>.nnstudio``; returns the paths written."""
    from nnstudio.core.project.io import save_project

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, build in EXAMPLES.items():
        path = directory / f"{stem}.nnstudio"
        save_project(build(), path)
        paths.append(path)
    return paths
