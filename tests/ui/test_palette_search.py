"""The palette's search: finds layers by name and by what they do, ranks a name match first (Enter adds it), and
says so when nothing matches."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from nnstudio.core.layers.registry import SPECS  # noqa: E402
from nnstudio.ui.panels.palette import (  # noqa: E402
    DESCRIPTION,
    EXACT,
    KEYWORD,
    KEYWORDS,
    NAME,
    OFFERS,
    PREFIX,
    PalettePanel,
    SearchKey,
    keywords,
    rank,
)


@pytest.fixture
def palette(qtbot):
    panel = PalettePanel()
    qtbot.addWidget(panel)
    panel.resize(260, 600)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def added(palette, qtbot, text: str) -> list[str]:
    """What Enter in the search box adds after typing ``text``."""
    got: list[str] = []
    palette.layer_activated.connect(got.append)
    palette.search.clear()
    qtbot.keyClicks(palette.search, text)
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    palette.layer_activated.disconnect(got.append)
    return got


def test_a_name_match_comes_first_and_enter_adds_it(palette, qtbot):
    """TransformerEncoder's description mentions dropout and its group comes first in the palette; Dropout is
    what the person named."""
    assert added(palette, qtbot, "dropout") == ["dropout"]
    shown = palette.visible_type_ids()
    assert shown[0] == "dropout" and "transformer_encoder" in shown
    assert palette.selected_type_id() == "dropout"
    assert palette.tree.currentItem() is palette.item_for("dropout")
    assert added(palette, qtbot, "Dense") == ["dense"]
    assert added(palette, qtbot, "lstm") == ["lstm"]
    assert added(palette, qtbot, "max") == ["maxpool2d"]  # a name that starts with it before a keyword


@pytest.mark.parametrize("query, first, also", [
    ("relu", "activation", {"dense", "conv2d"}),  # the Activation node, then the layers that offer ReLU
    ("pooling", "maxpool2d", {"avgpool2d", "global_avg_pool"}),
    ("attention", "multi_head_self_attention", {"transformer_encoder"}),
    ("normalization", "batchnorm", {"layernorm"}),
    ("normalisation", "batchnorm", {"layernorm"}),
    ("convolution", "conv2d", set()),
    ("recurrent", "simple_rnn", {"lstm", "gru"}),
    ("residual", "add", set()),
    ("sigmoid", "activation", {"dense"}),
    ("cross entropy", "output", set()),
])
def test_layers_are_found_by_what_they_do(palette, query, first, also):
    palette.search.setText(query)
    shown = palette.visible_type_ids()
    assert shown and shown[0] == first, shown
    assert also <= set(shown), shown
    assert palette.selected_type_id() == first


def test_what_the_old_search_found_it_still_finds(palette):
    # "conv" finds the convolutions alone, Conv2D first
    for query, expected in (("conv", ["conv2d", "conv1d", "conv_transpose2d"]), ("fully connected", ["dense"]),
                            ("maxpool2d", ["maxpool2d", "adaptive_max_pool2d"])):
        palette.search.setText(query)
        assert palette.visible_type_ids() == expected, query


def test_no_match_says_so_and_enter_adds_nothing(palette, qtbot):
    palette.search.setText("dense")
    assert palette.selected_type_id() == "dense"
    assert not palette.no_match.isVisible()
    assert added(palette, qtbot, "zebra crossing") == []  # not the Dense highlighted before
    assert palette.visible_type_ids() == [] and palette.selected_type_id() is None
    assert palette.no_match.isVisible()
    assert palette.no_match.text().startswith("No layer matches “zebra crossing”")
    assert palette.no_match.textFormat() == Qt.TextFormat.PlainText  # it quotes what was typed
    palette.search.setText("<b>x</b>\u202e")
    assert "<b>x</b>" in palette.no_match.text() and "\u202e" not in palette.no_match.text()
    palette.search.clear()
    assert not palette.no_match.isVisible() and len(palette.visible_type_ids()) == len(SPECS)


def test_clearing_the_search_puts_the_palette_back_as_it_was(palette):
    before = [it.data(0, Qt.ItemDataRole.UserRole) for it in palette.layer_items()]
    groups = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    palette.tree.topLevelItem(1).setExpanded(False)  # the person closed "Core"
    palette.search.setText("dropout")
    assert palette.tree.topLevelItem(0).text(0) == "Normalisation & regularisation"  # its group first
    palette.search.setText("dense")
    assert palette.tree.topLevelItem(0).isExpanded()  # a group with a match is open while searching
    palette.search.clear()
    assert [it.data(0, Qt.ItemDataRole.UserRole) for it in palette.layer_items()] == before
    assert [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())] == groups
    assert not palette.tree.topLevelItem(1).isExpanded()
    assert palette.tree.topLevelItem(0).isExpanded()


def test_ranks():
    dense, dropout, encoder = (SearchKey(SPECS[t]) for t in ("dense", "dropout", "transformer_encoder"))
    assert rank(dropout, "Dropout") == EXACT and rank(dropout, "drop") == PREFIX
    assert rank(SearchKey(SPECS["transformer_encoder"]), "transformer encoder") == EXACT
    assert rank(SearchKey(SPECS["input_image"]), "input image") == EXACT
    assert rank(SearchKey(SPECS["multi_head_self_attention"]), "self attention") == NAME
    assert rank(dense, "fully connected") == KEYWORD
    assert rank(dense, "leaky relu") == OFFERS
    assert rank(encoder, "dropout") == DESCRIPTION
    assert rank(dense, "attention") is None
    assert EXACT < PREFIX < NAME < KEYWORD < OFFERS < DESCRIPTION


def test_every_layer_says_what_it_does():
    """A new layer gets its search words too (KEYWORDS, or its spec's extra["keywords"])."""
    assert set(KEYWORDS) <= set(SPECS)
    assert all(keywords(spec) for spec in SPECS.values()), [t for t, spec in SPECS.items() if not keywords(spec)]
    # "conv" finds the convolutions alone: no other layer's words hold it
    assert [t for t, spec in SPECS.items() if any("conv" in w for w in keywords(spec))] == [
        "conv2d", "conv1d", "conv_transpose2d"]
