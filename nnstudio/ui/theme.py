"""Look and feel: the Fusion style with a light or dark palette that follows the system's colour scheme, the
application icon, and the small glyph icons of the layer palette."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from nnstudio.core.paths import RESOURCES

ICONS = RESOURCES / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

def is_dark(app: QGuiApplication | None = None) -> bool:
    app = app or QGuiApplication.instance()
    if app is None:
        return False
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _palette(colors: dict[QPalette.ColorRole, QColor], disabled: QColor) -> QPalette:
    p = QPalette()
    for role, color in colors.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def dark_palette() -> QPalette:
    window, base, text = QColor("#2b2d30"), QColor("#1f2023"), QColor("#e6e6e6")
    disabled = QColor("#7a7a7a")
    return _palette({
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#26282b"),
        QPalette.ColorRole.ToolTipBase: QColor("#3c3f41"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#8c8c8c"),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#35373b"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Light: QColor("#45484c"),
        QPalette.ColorRole.Midlight: QColor("#3c3f43"),
        QPalette.ColorRole.Mid: QColor("#2f3134"),
        QPalette.ColorRole.Dark: QColor("#18191b"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
        QPalette.ColorRole.Highlight: QColor("#3d7bd9"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#6ea8ff"),
    }, disabled)


def light_palette() -> QPalette:
    return _palette({
        QPalette.ColorRole.Window: QColor("#f3f4f6"),
        QPalette.ColorRole.WindowText: QColor("#1d1f23"),
        QPalette.ColorRole.Base: QColor("#ffffff"),
        QPalette.ColorRole.AlternateBase: QColor("#f6f7f9"),
        QPalette.ColorRole.ToolTipBase: QColor("#ffffe8"),
        QPalette.ColorRole.ToolTipText: QColor("#1d1f23"),
        QPalette.ColorRole.PlaceholderText: QColor("#8a8f98"),
        QPalette.ColorRole.Text: QColor("#1d1f23"),
        QPalette.ColorRole.Button: QColor("#eceef1"),
        QPalette.ColorRole.ButtonText: QColor("#1d1f23"),
        QPalette.ColorRole.BrightText: QColor("#c0392b"),
        QPalette.ColorRole.Light: QColor("#ffffff"),
        QPalette.ColorRole.Midlight: QColor("#e4e6ea"),
        QPalette.ColorRole.Mid: QColor("#c4c8ce"),
        QPalette.ColorRole.Dark: QColor("#9aa0a8"),
        QPalette.ColorRole.Shadow: QColor("#5c6066"),
        QPalette.ColorRole.Highlight: QColor("#3d7bd9"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#2a62c9"),
    }, QColor("#a0a4aa"))


def apply_theme(app: QApplication) -> None:
    """Fusion with a palette matching the system's light/dark setting, re-applied when the system switches."""
    app.setStyle("Fusion")
    _apply_palette(app)
    if not getattr(app, "_nnstudio_theme_connected", False):
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _apply_palette(app))
        app._nnstudio_theme_connected = True  # type: ignore[attr-defined]


def _apply_palette(app: QApplication) -> None:
    app.setPalette(dark_palette() if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else light_palette())


def app_icon() -> QIcon:
    """The application icon: the PNG sizes rendered from icons/nnstudio.svg, or the SVG itself."""
    icon = QIcon()
    for size in ICON_SIZES:
        png = ICONS / f"nnstudio-{size}.png"
        if png.exists():
            icon.addFile(str(png), QSize(size, size))
    svg = ICONS / "nnstudio.svg"
    if icon.isNull() and svg.exists():
        icon = QIcon(str(svg))
    return icon


@lru_cache(maxsize=256)
def glyph_icon(glyph: str, color: str, size: int = 32, fallback: str = "") -> QIcon:
    """A rounded tile in the category's colour with the layer's glyph drawn on it (``fallback``, e.g. the
    title's initial, where the fonts at hand have no such character: never an empty box)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    tile = QRectF(1, 1, size - 2, size - 2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawRoundedRect(tile, size * 0.22, size * 0.22)
    font = QFont()
    font.setPixelSize(int(size * 0.62))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    text = glyph or fallback or "•"
    if fallback and not all(QFontMetrics(font).inFontUcs4(ord(ch)) for ch in text):
        text = fallback
    painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pix)


def category_color(category: str) -> str:
    """The category's accent, the same hue the canvas gives its nodes."""
    from nnstudio.ui.canvas import style

    return style.CATEGORY_HUES.get(category, style.FALLBACK_HUE)


# -- toolbar icons ------------------------------------------------------------------------------------------
# Simple line icons drawn with QPainter in the palette's text colour, so they suit light and dark themes alike
# (QStyle's standard icons cover only a few of these and look different on every platform).
def tool_icon(name: str, color: QColor | None = None) -> QIcon:
    app = QGuiApplication.instance()
    if color is None:
        color = app.palette().color(QPalette.ColorRole.WindowText) if app else QColor("#333333")
    icon = QIcon()
    for size in (16, 24, 32, 48):
        icon.addPixmap(_tool_pixmap(name, color.name(), size))
    return icon


@lru_cache(maxsize=128)
def _tool_pixmap(name: str, color: str, size: int) -> QPixmap:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QPainterPath, QPen

    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 24.0, size / 24.0)  # draw on a 24 x 24 grid
    pen = QPen(QColor(color), 1.8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    accent = QColor("#3d7bd9")

    def undo_arrow():
        path = QPainterPath(QPointF(19, 19))
        path.cubicTo(QPointF(21.5, 11.5), QPointF(14, 8.5), QPointF(5.5, 9.5))
        p.drawPath(path)
        p.drawPolyline([QPointF(9.5, 5.5), QPointF(5.5, 9.5), QPointF(9.5, 13.5)])

    if name == "new":
        path = QPainterPath(QPointF(6, 3))
        for pt in ((14, 3), (19, 8), (19, 21), (6, 21)):
            path.lineTo(*pt)
        path.closeSubpath()
        p.drawPath(path)
        p.drawPolyline([QPointF(14, 3), QPointF(14, 8), QPointF(19, 8)])
    elif name == "open":
        path = QPainterPath(QPointF(3, 19))
        for pt in ((3, 5), (9, 5), (11, 7), (19, 7), (19, 10)):
            path.lineTo(*pt)
        p.drawPath(path)
        path = QPainterPath(QPointF(3, 19))
        for pt in ((6.5, 10), (22, 10), (18.5, 19)):
            path.lineTo(*pt)
        path.closeSubpath()
        p.drawPath(path)
    elif name == "save":
        path = QPainterPath(QPointF(4, 4))
        for pt in ((17, 4), (20, 7), (20, 20), (4, 20)):
            path.lineTo(*pt)
        path.closeSubpath()
        p.drawPath(path)
        p.drawRect(QRectF(8, 4, 7, 5))
        p.drawRect(QRectF(7, 13, 10, 7))
    elif name == "undo":
        undo_arrow()
    elif name == "redo":
        p.translate(24, 0)
        p.scale(-1, 1)
        undo_arrow()
    elif name in ("zoom_in", "zoom_out"):
        p.drawEllipse(QRectF(3.5, 3.5, 12, 12))
        p.drawLine(QPointF(14, 14), QPointF(20.5, 20.5))
        p.drawLine(QPointF(6.5, 9.5), QPointF(12.5, 9.5))
        if name == "zoom_in":
            p.drawLine(QPointF(9.5, 6.5), QPointF(9.5, 12.5))
    elif name == "fit":
        for (x, y, dx, dy) in ((3, 3, 1, 1), (21, 3, -1, 1), (3, 21, 1, -1), (21, 21, -1, -1)):
            p.drawPolyline([QPointF(x, y + 5 * dy), QPointF(x, y), QPointF(x + 5 * dx, y)])
        p.drawRect(QRectF(8, 8, 8, 8))
    elif name == "layout":
        for r in (QRectF(2.5, 4, 6, 5), QRectF(2.5, 15, 6, 5), QRectF(15.5, 9.5, 6, 5)):
            p.drawRoundedRect(r, 1.5, 1.5)
        path = QPainterPath(QPointF(8.5, 6.5))
        path.cubicTo(QPointF(12, 6.5), QPointF(12, 12), QPointF(15.5, 12))
        path.moveTo(8.5, 17.5)
        path.cubicTo(QPointF(12, 17.5), QPointF(12, 12), QPointF(15.5, 12))
        p.drawPath(path)
    elif name == "delete":
        p.drawLine(QPointF(4, 6.5), QPointF(20, 6.5))
        p.drawPolyline([QPointF(9, 6.5), QPointF(9, 3.5), QPointF(15, 3.5), QPointF(15, 6.5)])
        path = QPainterPath(QPointF(6, 6.5))
        for pt in ((7, 21), (17, 21), (18, 6.5)):
            path.lineTo(*pt)
        p.drawPath(path)
        p.drawLine(QPointF(10, 10), QPointF(10.4, 17.5))
        p.drawLine(QPointF(14, 10), QPointF(13.6, 17.5))
    elif name == "duplicate":
        p.drawRoundedRect(QRectF(3, 3, 12, 12), 2, 2)
        p.setBrush(QColor(color))
        p.drawRoundedRect(QRectF(9, 9, 12, 12), 2, 2)
    elif name == "examples":
        p.setPen(QPen(QColor(color), 1.6))
        nodes = [(5, 7), (5, 17), (12, 5), (12, 12), (12, 19), (19, 12)]
        for a in nodes[:2]:
            for b in nodes[2:5]:
                p.drawLine(QPointF(*a), QPointF(*b))
        for b in nodes[2:5]:
            p.drawLine(QPointF(*b), QPointF(*nodes[5]))
        p.setBrush(accent)
        p.setPen(Qt.PenStyle.NoPen)
        for x, y in nodes:
            p.drawEllipse(QPointF(x, y), 2.4, 2.4)
    p.end()
    return pix
