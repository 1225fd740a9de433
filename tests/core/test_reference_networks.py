"""Each example network against the same network written by hand in plain PyTorch.

Equal parameter counts show the layers have the right sizes; loading the hand-written model's weights into the
compiled model and getting the same outputs shows the compiled forward pass is the same computation.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnstudio.core.compile import compile_graph
from nnstudio.core.examples import EXAMPLES
from nnstudio.core.shapes import infer_shapes


# -- the examples, written the way a person writes them in PyTorch ---------------------------------------------
class SpiralMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)  # logits; softmax lives in CrossEntropyLoss


class TanhMLP(nn.Module):
    """The "Optimizers compared" example: the spiral MLP with tanh hidden layers."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 3)

    def forward(self, x):
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class DigitsCNN(nn.Module):
    """The reference notes' Keras CNN: Conv2D(32, 3x3) - MaxPool - Conv2D(64, 3x3) - MaxPool - Flatten -
    Dense(64) - Dense(10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))  # 32 x 13 x 13
        x = self.pool(torch.relu(self.conv2(x)))  # 64 x 5 x 5
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


class SentimentLSTM(nn.Module):
    def __init__(self, vocab: int = 1000, dim: int = 128, hidden: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.dropout = nn.Dropout(0.5)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.dropout(self.embedding(tokens)))
        return self.fc(h[-1])  # logit; sigmoid lives in BCEWithLogitsLoss


class TransformerClassifier(nn.Module):
    def __init__(self, vocab: int = 1000, dim: int = 64, heads: int = 4, ff: int = 128, classes: int = 2,
                 length: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        pe = torch.zeros(length, dim)
        for pos in range(length):
            for i in range(0, dim, 2):
                angle = pos / (10000 ** (i / dim))
                pe[pos, i] = math.sin(angle)
                pe[pos, i + 1] = math.cos(angle)
        self.register_buffer("pe", pe, persistent=False)
        self.encoder = nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.1, batch_first=True)
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.pe[: tokens.shape[1]]
        x = self.encoder(x)
        return self.fc(x.mean(dim=1))


class ResidualMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 32)
        self.fc4 = nn.Linear(32, 3)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.relu(h + self.fc3(torch.relu(self.fc2(h))))
        return self.fc4(h)


# stem -> (hand-written model, its submodule names -> the compiled model's node ids)
REFERENCES = {
    "spiral_mlp": (SpiralMLP, {"fc1": "dense_1", "fc2": "dense_2", "fc3": "dense_3"}),
    "digits_cnn": (DigitsCNN, {"conv1": "conv2d_1", "conv2": "conv2d_2", "fc1": "dense_1", "fc2": "dense_2"}),
    "sentiment_lstm": (SentimentLSTM, {"embedding": "embedding_1", "lstm": "lstm_1.rnn", "fc": "dense_1"}),
    "transformer_classifier": (
        TransformerClassifier,
        {"embedding": "embedding_1", "encoder": "transformer_encoder_1", "fc": "dense_1"},
    ),
    "residual_mlp": (ResidualMLP, {"fc1": "dense_1", "fc2": "dense_2", "fc3": "dense_3", "fc4": "dense_4"}),
    "optimizers_compared": (TanhMLP, {"fc1": "dense_1", "fc2": "dense_2", "fc3": "dense_3"}),
}


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def mapped_state(reference: nn.Module, names: dict[str, str]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in reference.state_dict().items():
        prefix, rest = key.split(".", 1)
        out[f"{names[prefix]}.{rest}"] = value
    return out


def test_every_example_has_a_reference():
    assert set(REFERENCES) == set(EXAMPLES)


@pytest.mark.parametrize("stem", sorted(REFERENCES))
def test_parameter_count_matches_hand_written_model(stem):
    cls, _ = REFERENCES[stem]
    expected = count(cls())
    graph = EXAMPLES[stem]().graph
    assert compile_graph(graph, seed=0).param_count == expected
    assert infer_shapes(graph).total_params == expected


def test_digits_cnn_has_the_documented_parameter_count():
    # The reference notes' Keras model has 320 + 18,496 + 102,464 + 650 parameters.
    assert count(DigitsCNN()) == 121_930
    assert compile_graph(EXAMPLES["digits_cnn"]().graph).param_count == 121_930


@pytest.mark.parametrize("stem", sorted(REFERENCES))
def test_compiled_forward_equals_hand_written_forward(stem):
    cls, names = REFERENCES[stem]
    torch.manual_seed(1)
    reference = cls().eval()
    compiled = compile_graph(EXAMPLES[stem]().graph, seed=2)
    # strict: every weight of the compiled model is given one from the hand-written model, and vice versa
    compiled.module.load_state_dict(mapped_state(reference, names), strict=True)
    compiled.module.eval()
    torch.manual_seed(3)
    inputs = compiled.example_inputs(batch=5)
    with torch.no_grad():
        expected = reference(*inputs)
        got = compiled.module(*inputs)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_weights_that_differ_give_different_outputs():
    """The equality above is not vacuous: one changed weight changes the output."""
    cls, names = REFERENCES["digits_cnn"]
    reference = cls().eval()
    compiled = compile_graph(EXAMPLES["digits_cnn"]().graph, seed=0)
    state = mapped_state(reference, names)
    state["conv2d_2.weight"] = state["conv2d_2.weight"] + 0.1
    compiled.module.load_state_dict(state)
    compiled.module.eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(compiled.module(x), reference(x), atol=1e-4)


# -- the output activation is folded into the loss ----------------------------------------------------------
def _fixed_batch(compiled, batch: int, generator_seed: int):
    torch.manual_seed(generator_seed)
    return compiled.example_inputs(batch=batch)


def _loss_after_steps(compiled, inputs, target, steps: int = 5, lr: float = 0.01) -> tuple[float, float]:
    loss_fn = compiled.loss_fn()
    model = compiled.module
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            return loss_fn(model(*inputs), target).item()

    before = evaluate()
    for _ in range(steps):
        model.train()
        optimiser.zero_grad()
        loss_fn(model(*inputs), target).backward()
        optimiser.step()
    return before, evaluate()


def test_digits_cnn_softmax_is_folded_into_cross_entropy():
    compiled = compile_graph(EXAMPLES["digits_cnn"]().graph, seed=0)
    assert compiled.folded_from == "dense_2"
    assert compiled.loss == "cross_entropy"
    assert isinstance(compiled.loss_fn(), nn.CrossEntropyLoss)
    inputs = _fixed_batch(compiled, 8, 0)
    compiled.module.eval()
    with torch.no_grad():
        logits = compiled.module(*inputs)
    assert logits.shape == (8, 10)
    assert not torch.allclose(logits.sum(dim=1), torch.ones(8), atol=1e-3)  # logits, not probabilities
    probs = compiled.predict(*inputs)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(8))
    torch.testing.assert_close(probs, torch.softmax(logits, dim=1))
    # no Softmax call is left in the module: it would be applied twice with CrossEntropyLoss
    assert "softmax" not in compiled.module.code

    target = torch.arange(8) % 10
    before, after = _loss_after_steps(compiled, inputs, target)
    assert after < before


def test_sentiment_lstm_sigmoid_is_folded_into_bce():
    compiled = compile_graph(EXAMPLES["sentiment_lstm"]().graph, seed=0)
    assert compiled.folded_from == "dense_1"
    assert compiled.loss == "bce"
    assert isinstance(compiled.loss_fn(), nn.BCEWithLogitsLoss)
    inputs = _fixed_batch(compiled, 8, 0)
    compiled.module.eval()
    with torch.no_grad():
        logits = compiled.module(*inputs)
    assert logits.shape == (8, 1)
    probs = compiled.predict(*inputs)
    torch.testing.assert_close(probs, torch.sigmoid(logits))
    assert not torch.allclose(probs, logits, atol=1e-3)
    assert "sigmoid" not in compiled.module.code

    target = (torch.arange(8) % 2).float().unsqueeze(1)
    before, after = _loss_after_steps(compiled, inputs, target)
    assert after < before


@pytest.mark.parametrize("stem", ["spiral_mlp", "transformer_classifier", "residual_mlp"])
def test_other_classifiers_return_logits(stem):
    compiled = compile_graph(EXAMPLES[stem]().graph, seed=0)
    assert compiled.folded_from is not None
    assert compiled.output_activation == "softmax"
    assert "softmax" not in compiled.module.code
    inputs = _fixed_batch(compiled, 4, 0)
    compiled.module.eval()
    with torch.no_grad():
        logits = compiled.module(*inputs)
    torch.testing.assert_close(compiled.predict(*inputs), torch.softmax(logits, dim=-1))
