"""The sweep dialog: it starts with the optimizers compared, says how many runs OK starts, refuses a bad value in
the words of the command line with OK disabled, and gives the checked SweepSpec."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from nnstudio.core.examples import EXAMPLES
from nnstudio.ui.sweep_dialog import SweepDialog


def ok_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_the_dialog_says_what_it_would_run_and_gives_the_spec(qtbot):
    project = EXAMPLES["spiral_mlp"]()
    drop = project.graph.add_node("dropout", {"rate": 0.5}).id
    dialog = SweepDialog(project.graph)
    qtbot.addWidget(dialog)
    assert dialog.rows[0][0].currentText() == "optimizer" and ok_button(dialog).isEnabled()
    assert dialog.status.text() == "3 runs: 3 points x 1 seed"
    dialog.seeds.setValue(2)
    dialog.add_row("lr", "0.01, 0.001")
    assert dialog.status.text() == "12 runs: 6 points x 2 seeds"
    assert f"dropout:{drop}" in [dialog.rows[0][0].itemText(i) for i in range(dialog.rows[0][0].count())]
    spec = dialog.spec()
    assert spec.values == {"optimizer": ["sgd", "adam", "rmsprop"], "lr": [0.01, 0.001]} and spec.seeds == 2
    dialog.random_mode.setChecked(True)
    dialog.draws.setValue(4)
    assert dialog.status.text() == "8 runs: 4 points x 2 seeds" and dialog.spec().mode == "random"


def test_a_bad_value_is_named_and_ok_is_disabled_until_it_is_mended(qtbot):
    dialog = SweepDialog(EXAMPLES["spiral_mlp"]().graph)
    qtbot.addWidget(dialog)
    dialog.rows[0][1].setText("sgd, lion")
    assert not ok_button(dialog).isEnabled() and dialog.status.text().startswith("sweep setting 'optimizer': ")
    dialog.rows[0][1].setText("sgd")
    assert ok_button(dialog).isEnabled()
    dialog.add_row("optimizer", "adam")
    assert "is in two rows" in dialog.status.text() and not ok_button(dialog).isEnabled()
    dialog.remove_row(dialog.rows[1])
    assert ok_button(dialog).isEnabled() and dialog.status.text() == "1 run: 1 point x 1 seed"


def test_a_loaded_sweep_shows_its_rows_and_leaves_no_removed_widget_on_screen(qtbot):
    from PySide6.QtWidgets import QWidget

    from nnstudio.core.sweep import SweepSpec
    from nnstudio.ui.sweep_dialog import SweepDialog

    dialog = SweepDialog(None)
    qtbot.addWidget(dialog)
    dialog.load(SweepSpec({"optimizer": ["sgd", "adam"], "lr": [0.01, 0.001]}, seeds=2, seed=4))
    dialog.show()
    assert [(c.currentText(), line.text()) for c, line, _ in dialog.rows] == [
        ("optimizer", "sgd, adam"), ("lr", "0.01, 0.001")]
    assert dialog.seeds.value() == 2 and dialog.spec().seed == 4
    assert dialog.status.text() == "8 runs: 4 points x 2 seeds"
    shown = [w for w in dialog.findChildren(QWidget) if w.parent() is dialog and w.isVisible()]
    assert all(w.geometry().width() < dialog.width() for w in shown if w.geometry().top() == 0) and all(
        w.geometry().top() > 0 for w in shown)  # nothing removed lies over the dialog
