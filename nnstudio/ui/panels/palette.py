"""The layer palette: layers grouped by category, a search box that filters as you type, drag a layer onto the
canvas (LAYER_MIME with the type id) or double-click it to add it at the centre of the view.

The search finds a layer by its name (title or type id), by what it does (:data:`KEYWORDS`: "relu", "pooling",
"attention", "normalization" ..., and the activations a layer offers) and by its description. Matches are ranked
(:func:`rank`): a name that is the query comes first, then names that start with it, names that hold every word,
keywords, offered activations and last the description, so "dropout" highlights Dropout, not the
TransformerEncoder whose description mentions dropout. The groups and the layers in them are shown in that order
while a search is typed, the best match highlighted (Enter adds it); no match says so under the box.
"""

from __future__ import annotations

import re
from typing import Sequence

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnstudio.core.layers.base import ACTIVATION_TITLES, LayerSpec
from nnstudio.core.layers.registry import by_category
from nnstudio.ui.mime import LAYER_MIME
from nnstudio.ui.safe_text import one_line, plain
from nnstudio.ui.theme import category_color, glyph_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole haystack (name, keywords, activations, description)
ORDER_ROLE = Qt.ItemDataRole.UserRole + 2  # the place in the unfiltered palette

# What each layer does, in the words a person may search for. Never a word with "conv" in it outside Conv2D,
# so that "conv" finds the convolution alone. A spec may add its own in ``spec.extra["keywords"]``.
_ACTIVATION_WORDS = ("relu", "leaky relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "silu", "swish",
                     "nonlinearity", "non-linearity", "activation function")
KEYWORDS: dict[str, tuple[str, ...]] = {
    "input_vector": ("data", "features", "table", "tabular", "columns"),
    "input_image": ("data", "picture", "pixels", "channels"),
    "input_tokens": ("data", "text", "words", "characters", "vocabulary"),
    "input_sequence": ("data", "time series", "steps", "signal"),
    "output": ("loss", "prediction", "target", "classification", "regression", "cross-entropy", "cross entropy",
               "mse", "mean squared error", "mae", "huber", "bce", "logits"),
    "dense": ("fully connected", "linear", "perceptron", "mlp", "hidden layer", "neurons", "units", "weights"),
    "flatten": ("vector", "ravel"),
    "reshape": ("view", "shape", "dimensions"),
    "dropout": ("regularisation", "regularization", "overfitting", "noise"),
    "activation": _ACTIVATION_WORDS,
    "conv2d": ("convolution", "convolutional", "cnn", "filters", "kernel", "feature maps", "image"),
    "maxpool2d": ("pooling", "downsample", "subsample", "max"),
    "avgpool2d": ("pooling", "downsample", "subsample", "average", "mean"),
    "global_avg_pool": ("pooling", "global average", "average", "mean", "gap"),
    "batchnorm": ("normalisation", "normalization", "batch normalization", "regularisation", "regularization"),
    "layernorm": ("normalisation", "normalization", "layer normalization", "transformer"),
    "embedding": ("lookup", "tokens", "word vectors", "vocabulary", "text"),
    "simple_rnn": ("recurrent", "rnn", "sequence", "time series", "hidden state", "memory"),
    "lstm": ("recurrent", "rnn", "sequence", "time series", "long short-term memory", "gates", "memory"),
    "gru": ("recurrent", "rnn", "sequence", "time series", "gated", "gates", "memory"),
    "multi_head_self_attention": ("attention", "self-attention", "mhsa", "transformer", "heads", "queries",
                                  "keys", "values", "qkv"),
    "transformer_encoder": ("attention", "self-attention", "transformer", "encoder", "feed-forward"),
    "positional_encoding": ("position", "order", "transformer", "sinusoidal"),
    "add": ("residual", "skip connection", "sum", "resnet", "merge"),
    "concat": ("concatenate", "join", "merge", "stack"),
}
# The ranks of :func:`rank`, best first.
EXACT, PREFIX, NAME, KEYWORD, OFFERS, DESCRIPTION = range(6)
NO_MATCH_HINT = "Try a name (Dense) or what a layer does (relu, pooling, attention)."


def _squash(text: str) -> str:
    """Lower case letters and digits only: "TransformerEncoder", "transformer_encoder" and "transformer encoder"
    are all ``transformerencoder``."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def keywords(spec: LayerSpec) -> tuple[str, ...]:
    """The words that say what ``spec`` does: :data:`KEYWORDS` and ``spec.extra["keywords"]`` (not its category:
    "conv" would find the pooling layers of the Convolution group)."""
    extra = spec.extra.get("keywords", ()) if isinstance(spec.extra, dict) else ()
    return (*KEYWORDS.get(spec.type_id, ()), *(str(k) for k in extra))


def offered(spec: LayerSpec) -> tuple[str, ...]:
    """The activations a layer offers in its parameters (Dense: relu, sigmoid ...), by id and by title."""
    out: list[str] = []
    for p in spec.params:
        if p.kind == "choice" and set(p.choices) & set(ACTIVATION_TITLES) - {"none"}:
            for choice in p.choices:
                if choice != "none":
                    out += [choice.replace("_", " "), ACTIVATION_TITLES.get(choice, choice)]
    return tuple(out)


class SearchKey:
    """What one layer is searched by, each part in lower case."""

    def __init__(self, spec: LayerSpec) -> None:
        self.squashed = {_squash(spec.title), _squash(spec.type_id)}
        self.name = f"{spec.title}\n{spec.type_id}\n{spec.type_id.replace('_', ' ')}".lower()
        self.keywords = "\n".join(keywords(spec)).lower()
        self.offers = "\n".join(offered(spec)).lower()
        self.description = spec.description.lower()

    def haystack(self) -> str:
        return "\n".join((self.name, self.keywords, self.offers, self.description))


def rank(key: SearchKey, text: str) -> int | None:
    """How well ``text`` names the layer: one of EXACT ... DESCRIPTION (lower is better), None when some word of
    ``text`` is nowhere in what the layer is searched by."""
    words = text.lower().split()
    if not words:
        return DESCRIPTION
    whole = _squash(text)
    if whole and whole in key.squashed:
        return EXACT
    if whole and any(name.startswith(whole) for name in key.squashed):
        return PREFIX
    places = (key.name, key.keywords, key.offers, key.description)
    for level, upto in ((NAME, 1), (KEYWORD, 2), (OFFERS, 3), (DESCRIPTION, 4)):
        if all(any(w in place for place in places[:upto]) for w in words):
            return level
    return None


class _LayerTree(QTreeWidget):
    """A tree whose layer items drag out as LAYER_MIME (payload: the type id in UTF-8)."""

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        for item in items:
            type_id = item.data(0, TYPE_ROLE)
            if type_id:
                mime.setData(LAYER_MIME, str(type_id).encode("utf-8"))
                mime.setText(str(type_id))
                break
        return mime


def tooltip(spec: LayerSpec) -> str:
    formula = spec.formula.replace("&", "&amp;").replace("<", "&lt;")
    return (f"<b>{spec.title}</b> <span style='color:gray'>({spec.type_id})</span>"
            f"<p style='white-space:normal'>{spec.description}</p><p><code>{formula}</code></p>")


class PalettePanel(QWidget):
    """``layer_activated(type_id)`` on double-click or Enter on a layer."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("paletteSearch")
        self.search.setToolTip("Type a layer's name or what it does (relu, pooling, attention); Enter adds the "
                               "highlighted layer")
        self.no_match = plain(QLabel(self))  # quotes what the person typed: plain text
        self.no_match.setObjectName("paletteNoMatch")
        self.no_match.setWordWrap(True)
        self.no_match.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.no_match.hide()
        self.tree = _LayerTree(self)
        self.tree.setObjectName("paletteTree")
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(22, 22))
        self.tree.setIndentation(10)
        self.tree.setUniformRowHeights(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setExpandsOnDoubleClick(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.no_match)
        layout.addWidget(self.tree)
        self._keys: dict[str, SearchKey] = {}
        self._searching = False  # whether the filter shown is a search (else: every layer)
        self._expanded: dict[int, bool] = {}  # group -> expanded, as it was before the search
        self._populate()
        self.search.textChanged.connect(self.set_filter)
        self.tree.itemActivated.connect(self._on_activated)
        self.search.returnPressed.connect(self._on_search_return)

    def _populate(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        for g, (category, specs) in enumerate((c, s) for c, s in by_category().items() if s):
            group = QTreeWidgetItem(self.tree, [category])
            group.setData(0, ORDER_ROLE, g)
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setToolTip(0, f"{category}: {len(specs)} layer{'s' if len(specs) != 1 else ''}")  # elided if narrow
            for i, spec in enumerate(specs):
                item = QTreeWidgetItem(group, [spec.title])
                item.setData(0, TYPE_ROLE, spec.type_id)
                item.setData(0, ORDER_ROLE, i)
                key = self._keys[spec.type_id] = SearchKey(spec)
                item.setData(0, SEARCH_ROLE, key.haystack())
                item.setIcon(0, glyph_icon(spec.glyph, category_color(category), 32, spec.title[:1]))
                item.setToolTip(0, tooltip(spec))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
            group.setExpanded(True)

    # -- queries (tests and the main window) ---------------------------------------------------------------
    def layer_items(self) -> list[QTreeWidgetItem]:
        """Every layer item, in the order shown (ranked while a search is typed)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out.extend(group.child(j) for j in range(group.childCount()))
        return out

    def visible_type_ids(self) -> list[str]:
        return [it.data(0, TYPE_ROLE) for it in self.layer_items() if not it.isHidden() and not it.parent().isHidden()]

    def item_for(self, type_id: str) -> QTreeWidgetItem | None:
        return next((it for it in self.layer_items() if it.data(0, TYPE_ROLE) == type_id), None)

    def selected_type_id(self) -> str | None:
        """The highlighted layer, if it is shown."""
        items = [it for it in self.tree.selectedItems() if not it.isHidden() and it.parent() is not None
                 and not it.parent().isHidden()]
        return items[0].data(0, TYPE_ROLE) if items else None

    # -- behaviour ----------------------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Show only the layers ``text`` finds (see :func:`rank`), best first, and highlight the best; an empty
        text shows every layer in palette order."""
        searching = bool(text.split())
        ranks: dict[str, int | None] = {tid: rank(key, text) for tid, key in self._keys.items()}
        groups = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

        def child_key(item: QTreeWidgetItem) -> tuple[int, int]:
            r = ranks.get(item.data(0, TYPE_ROLE)) if searching else None
            return (r if r is not None else len(ranks), item.data(0, ORDER_ROLE))

        ordered: list[tuple[tuple[int, int], QTreeWidgetItem, list[QTreeWidgetItem]]] = []
        for group in groups:
            children = sorted(group.takeChildren(), key=child_key)
            best = child_key(children[0])[0] if children else len(ranks)
            ordered.append(((best, group.data(0, ORDER_ROLE)), group, children))
        ordered.sort(key=lambda entry: entry[0])
        current = self.tree.currentItem()
        if not self._searching:  # the groups the person opened or closed come back so after a search
            self._expanded = {g.data(0, ORDER_ROLE): g.isExpanded() for g in groups}
        self._searching = searching
        for _ in groups:  # the items are moved, never deleted
            self.tree.takeTopLevelItem(0)
        first: QTreeWidgetItem | None = None
        for _key, group, children in ordered:
            self.tree.addTopLevelItem(group)
            group.addChildren(children)
            shown = 0
            for item in children:
                match = not searching or ranks[item.data(0, TYPE_ROLE)] is not None
                item.setHidden(not match)
                if match:
                    shown += 1
                    first = first or item
            group.setHidden(shown == 0)
            group.setExpanded(searching or self._expanded.get(group.data(0, ORDER_ROLE), True))
        self.no_match.setText(f"No layer matches “{one_line(text.strip(), 60)}”.\n{NO_MATCH_HINT}"
                              if searching and first is None else "")
        self.no_match.setVisible(searching and first is None)
        if searching and first is not None:
            self.tree.setCurrentItem(first)
            self.tree.scrollToItem(first)
        elif searching:
            self.tree.clearSelection()
        elif current is not None:
            self.tree.setCurrentItem(current)

    def activate(self, type_id: str) -> None:
        self.layer_activated.emit(type_id)

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layer_activated.emit(str(type_id))

    def _on_search_return(self) -> None:
        """Enter in the search box adds the highlighted (or first shown) layer; nothing when nothing matches."""
        type_id = self.selected_type_id() or next(iter(self.visible_type_ids()), None)
        if type_id:
            self.layer_activated.emit(type_id)
