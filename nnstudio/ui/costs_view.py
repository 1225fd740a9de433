"""What each layer costs, shown in the window: each node's forward FLOPs on its card and the summary's costs
and training memory, at the training batch size and optimizer of the session's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnstudio.core.costs import node_costs
from nnstudio.core.errors import NNStudioError
from nnstudio.core.shapes import GraphInfo
from nnstudio.core.training.config import TrainConfig

if TYPE_CHECKING:
    from nnstudio.ui.main_window import MainWindow


def show_costs(window: "MainWindow", info: GraphInfo | None = None) -> None:
    """Hand the costs of the graph as it is now (``info``: its shapes, default the session's) to the summary
    and the canvas; neither keeps the batch size itself."""
    try:
        config = TrainConfig.from_dict(window.session.training)
        batch, optimizer = config.batch_size, config.optimizer
    except (NNStudioError, ValueError, TypeError):  # bad settings are the Training panel's to say
        batch, optimizer = 32, "adam"
    window.summary.set_training(batch, optimizer)
    info = info if info is not None else window.session.info
    window.scene.set_costs(node_costs(window.document.graph, batch, info))
