"""Sizes, fonts and colours of the canvas. Colours derive from the application's QPalette so the canvas reads
well in light and dark themes; each layer category adds one accent hue."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QApplication

# Geometry in scene units (pixels at 100 % zoom).
GRID = 20.0  # snap step; node positions are multiples of it after a drag
NODE_W = 180.0
HEADER_H = 26.0
LINE_H = 17.0
NODE_H = HEADER_H + 3 * LINE_H + 8.0  # header + summary, shape, parameter count
RADIUS = 7.0
PORT_R = 6.0  # drawn radius
PORT_HIT_R = 11.0  # grab radius: easy to hit at low zoom
PORT_Y = HEADER_H + 1.5 * LINE_H + 4.0  # ports sit in the middle of the body
LAYOUT_DX = 240.0  # auto layout: column step
LAYOUT_DY = 120.0  # auto layout: row step
LAYOUT_BAND_GAP = 75.0  # auto layout: space between two rows of a wrapped chain (the wire back runs in it)
MIN_ZOOM, MAX_ZOOM = 0.1, 3.0
MAX_FIT_ZOOM = 1.25  # fit() never blows a small graph up beyond this
FIT_MARGIN = 40.0  # fit() leaves this much room (scene units) round the nodes
TITLE_PX = 12  # the node title's font size in scene pixels
# Smallest on-screen size of the title font (pixel size, i.e. the line's em height) at which the bold title still
# reads: at 8 px common UI sans fonts keep distinct letter shapes (capitals about 6 px, lower case about 4.5 px);
# below it letters blur into one another. Fit and auto layout never zoom out beyond this; below it a node
# draws its large face (node_item.py).
READABLE_TITLE_PX = 8.0
MIN_READABLE_ZOOM = READABLE_TITLE_PX / TITLE_PX  # 2/3
WORLD = 100_000.0  # the scrollable area around the origin; it grows to hold every node (GraphView)
POSITION_LIMIT = 1_000_000.0  # a node is drawn at most this far from the origin (a file may say 1e300)

CATEGORY_HUES: dict[str, str] = {
    "Input/Output": "#14a085",
    "Core": "#3b73e0",
    "Convolution": "#8a5cf0",
    "Recurrent": "#e08a14",
    "Attention": "#d9468f",
    "Normalisation & regularisation": "#4d9a2a",
    "Activation": "#c9a400",
    "Merge": "#1597b8",
}
FALLBACK_HUE = "#7a8494"
PROBLEM = "#e0383e"
OK_WIRE = "#2f9e5b"


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` blended towards ``b`` by ``t`` (0 = a, 1 = b), opaque."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def snap(value: float, step: float = GRID) -> float:
    return round(value / step) * step


def canvas_xy(position) -> tuple[float, float]:
    """Where a node with model ``position`` is drawn: the position itself within POSITION_LIMIT of the origin,
    otherwise clamped to it (a non-finite coordinate at 0), so every node is on the canvas and drawable."""
    out = []
    for v in tuple(position)[:2]:
        v = float(v)
        out.append(0.0 if v != v else max(-POSITION_LIMIT, min(POSITION_LIMIT, v)))
    return out[0], out[1]


@dataclass
class Theme:
    dark: bool
    canvas: QColor
    grid_minor: QColor
    grid_major: QColor
    node_fill: QColor
    node_border: QColor
    text: QColor
    muted: QColor
    highlight: QColor
    wire: QColor
    problem: QColor
    ok: QColor

    @classmethod
    def from_palette(cls, palette: QPalette | None = None) -> "Theme":
        if palette is None:
            app = QApplication.instance()
            palette = app.palette() if app is not None else QPalette()
        window = palette.color(QPalette.ColorRole.Window)
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        dark = window.lightness() < 128
        canvas = mix(window, QColor("black"), 0.18) if dark else mix(window, base, 0.5)
        node_fill = mix(base, QColor("white"), 0.08) if dark else base
        if dark and node_fill.lightness() - canvas.lightness() < 14:
            node_fill = mix(canvas, QColor("white"), 0.10)
        return cls(
            dark=dark,
            canvas=canvas,
            grid_minor=mix(canvas, text, 0.045),
            grid_major=mix(canvas, text, 0.09),
            node_fill=node_fill,
            node_border=mix(node_fill, text, 0.28),
            text=text,
            muted=mix(text, node_fill, 0.42),
            highlight=palette.color(QPalette.ColorRole.Highlight),
            wire=mix(canvas, text, 0.55),
            problem=QColor(PROBLEM),
            ok=QColor(OK_WIRE),
        )

    def accent(self, category: str) -> QColor:
        color = QColor(CATEGORY_HUES.get(category, FALLBACK_HUE))
        return color.lighter(115) if self.dark else color

    def header_fill(self, category: str) -> QColor:
        return mix(self.node_fill, self.accent(category), 0.30 if self.dark else 0.16)


class Fonts:
    """Fonts sized in pixels, so text scales with the scene, not with the screen's DPI."""

    def __init__(self) -> None:
        app = QApplication.instance()
        base = QFont(app.font()) if app is not None else QFont()
        self.title = QFont(base)
        self.title.setPixelSize(TITLE_PX)
        self.title.setBold(True)
        self.small = QFont(base)
        self.small.setPixelSize(10)
        self.body = QFont(base)
        self.body.setPixelSize(11)
        self.mono = QFont("monospace")
        self.mono.setStyleHint(QFont.StyleHint.Monospace)
        self.mono.setPixelSize(11)
        self.glyph = QFont(base)
        self.glyph.setPixelSize(13)
        self.glyph.setBold(True)
        # The large face (low zoom) fits its text to the card: metrics of a 100 px font give any size's width.
        self.big_title = QFont(base)
        self.big_title.setBold(True)
        self.big_title.setPixelSize(100)
        self.big_mono = QFont(self.mono)
        self.big_mono.setPixelSize(100)
        self.m_big_title = QFontMetricsF(self.big_title)
        self.m_big_mono = QFontMetricsF(self.big_mono)
        self.m_title = QFontMetricsF(self.title)
        self.m_small = QFontMetricsF(self.small)
        self.m_body = QFontMetricsF(self.body)
        self.m_mono = QFontMetricsF(self.mono)


_FONTS: Fonts | None = None


def fonts() -> Fonts:
    global _FONTS
    if _FONTS is None:
        _FONTS = Fonts()
    return _FONTS


def format_count(n: int) -> str:
    """``121930`` -> ``"121,930 params"``; ``0`` -> ``"no params"``."""
    if n <= 0:
        return "no params"
    return f"{n:,} param{'s' if n != 1 else ''}"
