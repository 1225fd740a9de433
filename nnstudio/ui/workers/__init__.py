"""Background work for the GUI. Only this package creates threads (see ARCHITECTURE.md)."""

from nnstudio.ui.workers.training_worker import Drained, ReportBuffer, TrainingWorker

__all__ = ["Drained", "ReportBuffer", "TrainingWorker"]
