"""Health of each layer for the canvas tint: the Qt-free logic lives in ``nnstudio.core.training.health``."""

from nnstudio.core.training.health import DEAD_BAD, DEAD_WARN, EXPLODING, VANISHING, layer_health

__all__ = ["DEAD_BAD", "DEAD_WARN", "EXPLODING", "VANISHING", "layer_health"]
