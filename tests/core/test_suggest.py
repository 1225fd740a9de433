"""The quick-add suggestions on the shipped examples: what fits after (and before) a node, usual choices first."""

from __future__ import annotations

import pytest

from nnstudio.core import examples, suggest
from nnstudio.core.layers.registry import SPECS
from nnstudio.core.shapes import infer_shapes


@pytest.fixture(scope="module")
def cnn():
    graph = examples.digits_cnn().graph
    return graph, infer_shapes(graph)


@pytest.fixture(scope="module")
def lstm():
    graph = examples.sentiment_lstm().graph
    return graph, infer_shapes(graph)


def titles(entries, fits=True):
    return [e.title for e in entries if e.fits == fits]


def ids(entries, fits=True):
    return [e.type_ids for e in entries if e.fits == fits]


def test_after_a_conv2d_images_layers_come_first_and_dense_only_with_a_flatten(cnn):
    graph, info = cnn
    entries = suggest.after(graph, info, "conv2d_1")
    good = ids(entries)
    assert good[:7] == [("conv2d",), ("maxpool2d",), ("avgpool2d",), ("batchnorm",), ("activation",),
                        ("dropout",), ("flatten",)]
    assert ("flatten", "dense") in good and ("dense",) not in good
    pair = next(e for e in entries if e.type_ids == ("flatten", "dense"))
    assert pair.title == "Flatten \u2192 Dense" and pair.type_id == "dense" and "Flatten" in pair.note
    bad = {e.type_id: e.note for e in entries if not e.fits}
    assert "Flatten" in bad["dense"]  # torch's (the spec's) own reason, in plain words
    assert {"lstm", "embedding", "output"} <= set(bad)
    assert all(e.fits for e in entries[:len(good)])  # what fits comes before what does not
    assert not any(SPECS[t].is_input for e in entries for t in e.type_ids)


def test_after_a_flatten_dense_leads_and_the_output_fits(cnn):
    graph, info = cnn
    entries = suggest.after(graph, info, "flatten_1")
    good = ids(entries)
    assert good[0] == ("dense",)
    assert ("output",) in good and ("conv2d",) not in good
    assert ("flatten", "dense") not in good  # Dense fits on its own here


def test_after_token_ids_only_an_embedding_makes_sense(lstm):
    graph, info = lstm
    good = ids(suggest.after(graph, info, "input_tokens_1"))
    assert good[0] == ("embedding",)
    assert ("dense",) not in good and ("lstm",) not in good


def test_after_an_embedding_the_sequence_layers_lead(lstm):
    graph, info = lstm
    good = ids(suggest.after(graph, info, "embedding_1"))
    assert good[:3] == [("lstm",), ("gru",), ("transformer_encoder",)]
    assert ("conv2d",) not in good


def test_merges_fit_but_come_last_with_a_note(cnn):
    graph, info = cnn
    entries = suggest.after(graph, info, "dense_1")
    good = [e for e in entries if e.fits]
    assert [e.type_id for e in good[-3:]] == ["add", "multiply", "concat"]
    assert "second input" in good[-1].note


def test_nothing_comes_after_an_output_and_nothing_before_an_input(cnn):
    graph, info = cnn
    assert suggest.after(graph, info, "output_1") == []
    assert suggest.before(graph, info, "input_image_1") == []
    assert suggest.after(graph, info, "no_such_node") == []


def test_unknown_output_offers_every_layer_but_the_inputs(cnn):
    graph, _ = cnn
    entries = suggest.after(graph, None, "conv2d_1")
    assert [e.type_id for e in entries] == [s.type_id for s in SPECS.values() if not s.is_input]


def test_before_a_conv2d_an_image_input_leads_and_vector_layers_do_not_fit(cnn):
    graph, info = cnn
    entries = suggest.before(graph, info, "conv2d_1")
    good = ids(entries)
    assert good[0] == ("input_image",)
    assert ("conv2d",) in good and ("maxpool2d",) in good
    bad = [e.type_id for e in entries if not e.fits]
    assert {"input_vector", "input_tokens", "dense", "flatten"} <= set(bad)
    assert ("output",) not in good + ids(entries, False)  # an Output feeds nothing


def test_before_an_embedding_only_token_ids_fit(lstm):
    graph, info = lstm
    good = ids(suggest.before(graph, info, "embedding_1"))
    assert good[0] == ("input_tokens",)
    assert ("input_vector",) not in good and ("dense",) not in good


def test_between_flatten_and_dense_keeps_the_vector(cnn):
    graph, info = cnn
    entries = suggest.between(graph, info, "flatten_1", "dense_1")
    good = ids(entries)
    assert good[0] == ("dense",) and ("dropout",) in good
    assert ("output",) not in good  # it ends a network: it cannot sit inside a wire
    assert all(len(t) == 1 for t in good)


def test_between_conv_and_pool_refuses_what_would_flatten(cnn):
    graph, info = cnn
    entries = suggest.between(graph, info, "conv2d_1", "maxpool2d_1")
    assert ("batchnorm",) in ids(entries)
    assert ("flatten",) in ids(entries, fits=False)


def test_search_matches_title_and_type_id_case_insensitively():
    entry = suggest.Suggestion(("global_avg_pool",), "GlobalAveragePool")
    assert entry.matches("GLOBAL") and entry.matches("avg_pool") and entry.matches("averagep")
    assert entry.matches("") and not entry.matches("dense")
    pair = suggest.Suggestion(("flatten", "dense"), "Flatten \u2192 Dense")
    assert pair.matches("dense") and pair.matches("flat")


def test_the_catalogue_holds_every_layer_in_palette_order():
    assert [e.type_id for e in suggest.catalogue()] == list(SPECS)
    assert all(e.fits for e in suggest.catalogue())
