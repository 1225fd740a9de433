"""Text: words, the vocabulary, padding; the generated sentiment set (and proof that word order matters in it);
the text CSV importer."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import torch

from nnstudio.core.data import sentiment as generated
from nnstudio.core.data.text import PAD, UNK, build_vocab, decode, encode, load_text_csv, tokenize
from nnstudio.core.errors import DatasetError


def test_tokenize_lowercases_and_separates_punctuation():
    assert tokenize("Good, NOT bad!") == ["good", ",", "not", "bad", "!"]
    assert tokenize("It wasn't  great...") == ["it", "wasn't", "great", ".", ".", "."]
    assert tokenize("") == []


def test_vocab_starts_with_pad_and_unk_then_words_by_frequency():
    vocab = build_vocab([["b", "a", "c"], ["b", "a"], ["b"]], max_vocab=4)
    assert vocab == [PAD, UNK, "b", "a"]
    assert build_vocab([["x", "y"]])[:2] == ["<pad>", "<unk>"]


def test_encode_pads_at_the_start_cuts_at_the_end_and_marks_unknown_words():
    vocab = [PAD, UNK, "the", "film", "was", "good"]
    ids = encode([["the", "film", "was", "good"], ["good", "movie"], []], vocab, length=3)
    assert ids.dtype == torch.long
    assert ids.tolist() == [[2, 3, 4], [0, 5, 1], [0, 0, 0]]
    assert decode(ids[1].tolist(), vocab) == "good <unk>"


def test_sentiment_set_shapes_vocabulary_and_balance():
    data = generated.sentiment(samples=600, length=32, seed=1)
    assert data.x.shape == (600, 32) and data.x.dtype == torch.long
    assert data.y.shape == (600,) and data.y.dtype == torch.long
    assert data.task == "binary" and data.classes == ["negative", "positive"] and data.preview == "text"
    assert data.vocab[:2] == [PAD, UNK] and len(data.vocab) <= 1000  # the examples' Embedding covers 1,000 ids
    assert int(data.x.max()) < len(data.vocab) and UNK not in decode(data.x.flatten().tolist(), data.vocab)
    assert len(data.texts) == 600
    assert decode(data.x[5].tolist(), data.vocab) == " ".join(tokenize(data.texts[5]))
    assert 0.4 < data.y.float().mean() < 0.6


def test_sentiment_is_reproducible_and_its_length_is_an_option():
    a, b = generated.sentiment(samples=200, seed=4), generated.sentiment(samples=200, seed=4)
    assert a.texts == b.texts and torch.equal(a.x, b.x)
    assert generated.sentiment(samples=200, seed=5).texts != a.texts
    short = generated.sentiment(samples=200, length=6, seed=4)
    assert short.x.shape == (200, 6) and short.vocab == a.vocab


def _reference_label(text: str) -> int:
    """The sentiment rules written out independently of the generator."""
    words = tokenize(text)
    polarities = [1 if w in generated.POSITIVE else 0 for w in words
                  if w in generated.POSITIVE or w in generated.NEGATIVE]
    if "thought" in words or "but" in words:
        return polarities[-1]  # the adjective after "but" decides
    if "not" in words:
        return polarities[0] if "," in words[words.index("not") - 1:words.index("not")] else 1 - polarities[0]
    return polarities[0]


def test_labels_follow_the_negation_and_order_rules():
    data = generated.sentiment(samples=1000, seed=2)
    assert [_reference_label(t) for t in data.texts] == data.y.tolist()
    assert _reference_label("the film was good , not bad") == 1
    assert _reference_label("the film was bad , not good") == 0


def test_the_same_words_in_another_order_carry_another_label():
    """Leave out the filler words (subject, verb, "very"...): then many samples share their bag of words with
    samples of the other label (about half of the two-adjective ones, given 18 x 18 adjective pairs)."""
    data = generated.sentiment(samples=3000, seed=0)
    filler = {w for part in (*generated.SUBJECTS, *generated.DETERMINERS, *generated.VERBS,
                             *generated.INTENSIFIERS, *generated.OPENERS) for w in tokenize(part)}
    bags = [tuple(sorted(Counter(w for w in tokenize(t) if w not in filler).items())) for t in data.texts]
    labels_per_bag: dict[tuple, set] = {}
    for bag, label in zip(bags, data.y.tolist()):
        labels_per_bag.setdefault(bag, set()).add(label)
    ambiguous = sum(len(labels_per_bag[bag]) == 2 for bag in bags) / len(bags)
    assert ambiguous > 0.2, ambiguous


def _bag_of_words(x: torch.Tensor, vocab_size: int) -> torch.Tensor:
    counts = torch.zeros(len(x), vocab_size)
    counts.scatter_add_(1, x, torch.ones(x.shape))
    counts[:, 0] = 0  # padding is not a word
    return counts


class _SmallLSTM(torch.nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, 16)
        self.lstm = torch.nn.LSTM(16, 32, batch_first=True)
        self.out = torch.nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embed(x))
        return self.out(h[-1])


def _fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, batch: int) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            b = order[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_a_recurrent_model_beats_a_bag_of_words_on_the_sentiment_set():
    """Word counts cannot tell "good , not bad" from "bad , not good"; an LSTM reading in order can."""
    started = time.perf_counter()
    data = generated.sentiment(samples=2000, length=16, seed=0)
    train, val = slice(0, 1600), slice(1600, None)
    vocab_size = len(data.vocab)
    torch.manual_seed(0)
    counts = _bag_of_words(data.x, vocab_size)
    bow = torch.nn.Linear(vocab_size, 2)
    _fit(bow, counts[train], data.y[train], epochs=30, lr=0.05, batch=200)
    torch.manual_seed(0)
    lstm = _SmallLSTM(vocab_size)
    _fit(lstm, data.x[train], data.y[train], epochs=6, lr=0.01, batch=32)
    bow_accuracy = _accuracy(bow, counts[val], data.y[val])
    lstm_accuracy = _accuracy(lstm, data.x[val], data.y[val])
    assert bow_accuracy <= 0.80, bow_accuracy
    assert lstm_accuracy >= 0.90, lstm_accuracy
    assert time.perf_counter() - started < 20


# -- text CSV importer -------------------------------------------------------------------------------------
def _write(tmp_path, text: str, name: str = "reviews.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_text_csv_builds_the_vocabulary_from_the_file(tmp_path):
    path = _write(tmp_path, 'text,label\n"Great film, great cast",pos\nDull film,neg\n"A dull, dull plot",neg\n')
    data = load_text_csv(path, length=5, max_vocab=5)
    assert data.vocab == [PAD, UNK, "dull", ",", "film"]  # by count, ties alphabetical
    assert data.classes == ["neg", "pos"] and data.y.tolist() == [1, 0, 0] and data.task == "binary"
    assert data.x.shape == (3, 5) and data.x.dtype == torch.long
    assert data.x[1].tolist() == [0, 0, 0, 2, 4]
    assert data.texts[0] == "Great film, great cast" and data.preview == "text"


def test_text_csv_takes_other_column_names_numeric_labels_and_delimiters(tmp_path):
    path = _write(tmp_path, "review;stars\nfine;1\nbad;2\nok;3\nfine;1.0\n")
    data = load_text_csv(path, text_column="review", label_column="stars")
    assert data.classes == ["1", "2", "3"] and data.y.tolist() == [0, 1, 2, 0] and data.task == "multiclass"


@pytest.mark.parametrize("text, options, message", [
    ("words,label\nhi,a\n", {}, "reviews.csv has no text column 'text' (its columns: words, label)"),
    ("text,tag\nhi,a\n", {}, "reviews.csv has no label column 'label' (its columns: text, tag)"),
    ("text,label\nhi,a\n,b\n", {}, "reviews.csv row 3, column 'text': the cell is empty"),
    ("text,label\nhi,a\nyo,a\n", {}, "every sample has the same label (a)"),
    ("text,label\nhi,a\nyo,b\nho,c\n", {"task": "binary"}, "has 3 classes but the task is binary"),
    ("", {}, "reviews.csv is empty"),
])
def test_text_csv_problems_name_the_file_row_and_column(tmp_path, text, options, message):
    with pytest.raises(DatasetError) as error:
        load_text_csv(_write(tmp_path, text), **options)
    assert message in str(error.value)


def test_text_csv_keeps_quoted_line_breaks_inside_a_text(tmp_path):
    path = _write(tmp_path, 'text,label\n"first line\nsecond line",a\nhi,b\n,c\n"one\ntwo",\n')
    with pytest.raises(DatasetError) as error:
        load_text_csv(path)
    assert "reviews.csv row 5, column 'text': the cell is empty" in str(error.value)  # the header is row 1
    with pytest.raises(DatasetError) as error:
        load_text_csv(path, text_column="label", label_column="text")
    assert "reviews.csv row 6, column 'label': the cell is empty" in str(error.value)  # where the row starts
    data = load_text_csv(_write(tmp_path, 'text,label\n"first line\nsecond line",a\nhi,b\n'))
    assert data.texts == ["first line\nsecond line", "hi"]
