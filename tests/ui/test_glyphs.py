"""Every layer's glyph can be drawn with the default font (a missing one shows as an empty box)."""

import pytest
from PySide6.QtGui import QFont, QFontMetrics

from nnstudio.core.layers.registry import SPECS


@pytest.mark.parametrize("type_id", sorted(SPECS))
def test_glyph_is_in_the_default_font(qapp, type_id):
    glyph = SPECS[type_id].glyph
    assert glyph, f"{type_id} has no glyph"
    assert QFontMetrics(QFont()).inFontUcs4(ord(glyph[0])), f"{type_id}'s glyph {glyph!r} is not in the font"
