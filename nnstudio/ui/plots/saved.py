"""Drawing the dashboard's plots from a saved training history (``training.saved_reports.SavedReports``): what
a trained project shows when it is opened, and what a finished run leaves on screen (the same figures, so that
reopening the saved project shows what the person saw).

Each function draws one tab, or makes it say in its own words why it cannot: a part the history does not keep
(``SavedReports.missing``), or, for a project never trained, what training would show there.
"""

from __future__ import annotations

from typing import Any

from nnstudio.core.training.saved_reports import SavedReports
from nnstudio.ui.plots.activations import ActivationsPlot
from nnstudio.ui.plots.boundary import BoundaryPlot
from nnstudio.ui.plots.confusion import ConfusionPlot
from nnstudio.ui.plots.histograms import HistogramPlot
from nnstudio.ui.plots.loss import LearningRatePlot, LossPlot, MetricsPlot
from nnstudio.ui.safe_text import one_line

# What each tab of a project never trained says.
UNTRAINED = {
    "curves": "No training yet: train the network to see its loss, metrics and learning rate here.",
    "confusion": "No training yet: train a classification network with validation data to see its confusion "
                 "matrix here.",
    "layers": "No training yet: train the network to see the histograms of its weights and gradients here.",
    "activations": "No training yet: train the network to see what its layers output here.",
    "boundary": "No training yet: train a network on data with two input features (such as the spiral, moons or "
                "blobs datasets) to see its decision boundary here.",
}
NO_HISTORY = ("This project's weights were trained, but its training history was not saved or could not be read "
              "(see the Problems panel): train again to see its plots.")
BOUNDARY_NOT_SAVED = ("The decision boundary is drawn while the network trains; it is not saved with the project: "
                      "train again to see it.")
OLDER_FORM = ("the epoch curves are kept in an older form (one list per metric) that this version does not draw: "
              "train again to see them")
NO_METRICS = "The epochs kept no metric to draw: the accuracy, F1 or error are measured on validation data."
NO_LOSS = "The history keeps no finite loss to draw (a run whose loss became NaN or infinite diverged)."
NO_LR = "The epochs kept no learning rate to draw."
STEP_LOSS_NOTE = " The training loss is drawn once per epoch."
MAX_EPOCH_NUMBER = 10**9  # a row numbered beyond this (only a hand-made file has one) is left out
KEPT = "the weights kept"  # what the saved confusion matrix is of (maybe an earlier epoch's weights)


def sentence(text: str) -> str:
    """A reason from ``SavedReports.missing`` as a sentence: capital first letter, full stop."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def epoch_rows(reports: SavedReports) -> list[dict[str, Any]]:
    """The epoch rows the curves draw (and the CSV writes): those whose epoch number can be an axis position."""
    return [dict(r) for r in reports.rows if r.get("epoch", 1) < MAX_EPOCH_NUMBER]


def status_line(reports: SavedReports, rows: list[dict[str, Any]], history: Any) -> str | None:
    """The dashboard's status line for a saved history (None: the history cannot be read at all)."""
    if rows:
        reason = history.get("stop_reason") if isinstance(history, dict) else None
        reason = one_line(reason.replace("_", " "), 80) if isinstance(reason, str) else ""
        return (f"Trained for {len(rows)} epoch{'s' if len(rows) != 1 else ''}" + (f" ({reason})" if reason else "")
                + ". Train again to see the live plots.")
    if "cannot be read" in reports.missing.get("epochs", ""):
        return None
    return "This project has no finished epoch: train it to see its curves."


def draw_curves(loss: LossPlot, metrics: MetricsPlot, lr: LearningRatePlot, reports: SavedReports,
                history: Any) -> str | None:
    """The loss (step by step when the history keeps it, else per epoch with a note why), the metrics and the
    learning rate of ``reports``; returns why the whole Curves tab cannot be drawn, or None when it is."""
    rows = epoch_rows(reports)
    step = reports.step_loss if reports.step_loss is not None and len(reports.step_loss.losses) else None
    if not rows and step is None:
        if history is None:
            return UNTRAINED["curves"]
        older = isinstance(history, dict) and "epochs" not in history and any(
            isinstance(v, list) for v in history.values())
        why = OLDER_FORM if older else reports.missing.get("epochs", "no epoch finished")
        return sentence(why)
    ends = [float(r["epoch"]) for r in rows if "epoch" in r]
    if step is not None:
        ends.append(float(step.epochs[-1]))
    for plot in (loss, metrics, lr):
        plot.x_limit = max(max(ends, default=1.0), 1.0)
    if step is not None:
        loss.ingest_step_points(step.epochs, step.losses)
        loss.ingest_epochs(rows)  # the validation loss
    else:
        loss.ingest_epochs(rows, history=True)
        loss.set_note(sentence(reports.missing.get("step_loss", "")) + STEP_LOSS_NOTE)
    metrics.ingest_epochs(rows, history=True)
    lr.ingest_epochs(rows, history=True)
    no_rows = sentence(reports.missing.get("epochs", "no epoch finished")) if not rows else None
    loss.say(None if len(loss.raw) or len(loss.smooth) or len(loss.val) else NO_LOSS)
    metrics.say(no_rows or (None if any(len(v) for v in metrics.series.values()) else NO_METRICS))
    lr.say(no_rows or (None if len(lr.lr) else NO_LR))
    return None


def draw_confusion(plot: ConfusionPlot, reports: SavedReports, trained: bool) -> None:
    """The confusion matrix and per-class table of the weights kept, or why there is none."""
    plot.set_classes(reports.classes)
    last = reports.last_epoch
    if last is not None and last.confusion is not None:
        plot.say(None)
        plot.ingest(last.epoch, last.confusion, last.per_class, when=KEPT)
        return
    if not trained:
        plot.say(UNTRAINED["confusion"])
    else:
        plot.say(sentence(reports.missing.get("confusion") or reports.missing.get("epochs", "no epoch finished")))


def draw_layers(plot: HistogramPlot, reports: SavedReports, trained: bool, total_steps: Any = None) -> None:
    """The last weight and gradient histograms the history keeps, or why there are none."""
    if reports.layers is None:
        plot.say(sentence(reports.missing.get("layers", "")) if trained else UNTRAINED["layers"])
        return
    plot.say(None)
    if isinstance(total_steps, int) and total_steps > 0:
        plot.total_steps = float(total_steps)
    plot.ingest(reports.layers)


def draw_activations(plot: ActivationsPlot, reports: SavedReports, trained: bool) -> None:
    """The last activations the history keeps (without feature maps), or why there are none."""
    if reports.activations is None:
        plot.say(sentence(reports.missing.get("activations", "")) if trained else UNTRAINED["activations"])
        return
    plot.say(None)
    plot.ingest(reports.activations)


def draw_boundary(plot: BoundaryPlot, reports: SavedReports, trained: bool) -> None:
    """A history keeps no decision boundary: say so (or what training would show)."""
    plot.set_classes(reports.classes, reports.task or "multiclass")
    plot.say(BOUNDARY_NOT_SAVED if trained else UNTRAINED["boundary"])
