"""A small plot of an activation function f(x) and its derivative f'(x) over x in [-5, 5].

Both curves come from torch itself: the same module the layer trains with (``activation_module``), with the
derivative taken by autograd, so what the plot shows is what the network computes."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from nnstudio.core.layers.activations import FORMULAS, activation_module
from nnstudio.core.layers.base import ACTIVATION_TITLES

X_RANGE = (-5.0, 5.0)
SAMPLES = 401


def activation_curves(name: str, samples: int = SAMPLES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, f(x) and f'(x). Softmax acts on a vector, so it is shown for two classes with scores (x, 0):
    the probability of the first, which is the logistic sigmoid of x."""
    x = torch.linspace(*X_RANGE, samples, dtype=torch.float64, requires_grad=True)
    if name == "softmax":
        pair = torch.stack([x, torch.zeros_like(x)], dim=1)
        y = activation_module(name, 2)(pair)[:, 0]
    else:
        y = activation_module(name, 1)(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return x.detach().numpy().copy(), y.detach().numpy().copy(), dy.detach().numpy().copy()


class ActivationPlot(QWidget):
    """Two curves created once (f and f'); ``set_activation(name)`` replaces their data."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name: str | None = None
        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName("activationPlot")
        self.plot.setMinimumHeight(170)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setXRange(*X_RANGE, padding=0.02)
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.f_curve = self.plot.plot([], [], pen=pg.mkPen("#3d7bd9", width=2.2), name="f(x)")
        self.df_curve = self.plot.plot([], [], pen=pg.mkPen("#e67e22", width=2.0, style=pg.QtCore.Qt.PenStyle.DashLine),
                                       name="f′(x)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.apply_palette()

    @property
    def curves(self) -> list[pg.PlotDataItem]:
        return [self.f_curve, self.df_curve]

    def apply_palette(self) -> None:
        pal = self.palette()
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        fg = pal.color(QPalette.ColorRole.Text)
        for axis in ("left", "bottom"):
            ax = self.plot.getAxis(axis)
            ax.setPen(pg.mkPen(fg))
            ax.setTextPen(pg.mkPen(fg))
        self.legend.setLabelTextColor(fg)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "legend"):
            self.apply_palette()

    def set_activation(self, name: str) -> None:
        if name == self.name:
            return
        self.name = name
        x, y, dy = activation_curves(name)
        self.f_curve.setData(x, y)
        self.df_curve.setData(x, dy)
        low, high = float(min(y.min(), dy.min())), float(max(y.max(), dy.max()))
        pad = 0.08 * max(high - low, 1.0)
        self.plot.setYRange(low - pad, high + pad, padding=0)
        title = ACTIVATION_TITLES.get(name, name)
        self.plot.setToolTip(f"{title}: {FORMULAS.get(name, '')}"
                             + ("\nshown for two classes with scores (x, 0)" if name == "softmax" else ""))
