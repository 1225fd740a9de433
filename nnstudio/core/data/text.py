"""Text as token ids: splitting into words, the vocabulary, padding; and importing a CSV of labelled texts.

Id 0 is padding (``<pad>``) and id 1 an unknown word (``<unk>``). Sequences are padded at the START and cut at
the end (as Keras' ``pad_sequences`` pads), so a recurrent layer that keeps only its last step ends on the
sentence's last word rather than after a run of padding.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import torch

from nnstudio.core.data.base import Dataset
from nnstudio.core.data.common import classification, encode_labels
from nnstudio.core.text import short
from nnstudio.core.data.reading import MAX_MEGABYTES, check_limit, current_token
from nnstudio.core.data.tables import is_numeric, numbers, read_rows, texts
from nnstudio.core.errors import DatasetError

PAD = "<pad>"
UNK = "<unk>"
TEXT_TASKS = ("auto", "multiclass", "binary")
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks: ``"Good, not bad!"`` -> ``["good", ",", "not", "bad", "!"]``."""
    return _WORD.findall(text.lower())


def build_vocab(token_lists: Iterable[Sequence[str]], max_vocab: int = 1000) -> list[str]:
    """``<pad>``, ``<unk>``, then the most frequent words (ties alphabetical), ``max_vocab`` entries at most."""
    return vocab_from_counts(Counter(token for tokens in token_lists for token in tokens), max_vocab)


def vocab_from_counts(counts: Counter, max_vocab: int = 1000) -> list[str]:
    """:func:`build_vocab` from word counts already made."""
    counts = Counter(counts)
    counts.pop(PAD, None)
    counts.pop(UNK, None)
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    return [PAD, UNK, *ranked[: max(0, max_vocab - 2)]]


def encode(token_lists: Sequence[Sequence[str]], vocab: Sequence[str], length: int) -> torch.Tensor:
    """(N, length) int64 ids: the first ``length`` tokens of each text, padded with 0 at the start."""
    index = {word: i for i, word in enumerate(vocab)}
    out = torch.zeros((len(token_lists), length), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        ids = [index.get(token, 1) for token in tokens[:length]]
        if ids:
            out[row, length - len(ids):] = torch.tensor(ids, dtype=torch.long)
    return out


def decode(ids: Sequence[int], vocab: Sequence[str]) -> str:
    """The words of a row of ids, padding left out (for previews and predictions)."""
    return " ".join(vocab[i] if 0 <= i < len(vocab) else UNK for i in ids if i != 0)


def text_dataset(name: str, sentences: Sequence[str], y: torch.Tensor, classes: Sequence[str], *,
                 length: int, vocab: Sequence[str] | None = None, max_vocab: int = 1000, source: str = "",
                 task: str | None = None) -> Dataset:
    """Tokenise ``sentences`` and build the dataset; the vocabulary comes from them unless one is given."""
    token = current_token()
    counts: Counter | None = Counter() if vocab is None else None
    tokens = []  # only the first ``length`` words of each text are kept; the vocabulary counts them all
    for i, sentence in enumerate(sentences):
        if i % 1024 == 0:
            token.report(i, len(sentences), "splitting the texts into words")
        words = tokenize(sentence)
        if counts is not None:
            counts.update(words)
        tokens.append(words[:length])
    vocab = list(vocab) if vocab is not None else vocab_from_counts(counts, max_vocab)
    data = classification(name, encode(tokens, vocab, length), y, classes, preview="text", source=source, task=task)
    data.vocab = vocab
    data.texts = list(sentences)
    return data


def load_text_csv(path: str = "", text_column: str = "text", label_column: str = "label", length: int = 32,
                  max_vocab: int = 1000, task: str = "auto", delimiter: str = "auto",
                  max_megabytes: int = MAX_MEGABYTES) -> Dataset:
    """Labelled texts from a CSV file with a text column and a label column (a class name or number per row).

    The vocabulary is built from the whole file (the most frequent ``max_vocab - 2`` words); words outside it
    become ``<unk>``.
    """
    if not path:
        raise DatasetError("no CSV file chosen: set the dataset's path")
    rows = read_rows(path, delimiter, max_megabytes)
    check_limit(len(rows) * length * 8, max_megabytes, f"{rows.file}: {len(rows):,} texts of {length:,} "
                "token ids would take")
    text_index = rows.column_index(text_column, "text column")
    label_index = rows.column_index(label_column, "label column")
    sentences = texts(rows, text_index)
    values = numbers(rows, label_index) if is_numeric(rows, label_index) else texts(rows, label_index)
    y, classes = encode_labels(values, f"{rows.file} column {short(label_column, 60)}")
    if task == "binary" and len(classes) != 2:
        raise DatasetError(f"{rows.file} column {short(label_column, 60)} has {len(classes)} classes but the task is "
                           "binary: choose multiclass")
    chosen = None if task == "auto" else task
    return text_dataset(rows.file, sentences, y, classes, length=length, max_vocab=max_vocab,
                        source=str(rows.path), task=chosen)
