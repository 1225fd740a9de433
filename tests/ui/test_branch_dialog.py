"""The Branch dialog: starts from the run's settings, says which epochs it trains, refuses a bad value in red."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from nnstudio.ui.branch_dialog import BranchDialog


def test_branch_dialog_starts_from_the_run_and_checks_each_value(qtbot):
    run = {"name": "Lower <b>lr</b>", "settings": {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "epochs": 20}}
    dialog = BranchDialog(run, 20)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.overrides() == {"epochs": 20, "optimizer": "sgd", "lr": 0.05, "batch_size": 16}
    assert dialog.status.text() == "Trains epochs 21 to 40 with sgd, learning rate 0.05, batch size 16."
    assert ok.isEnabled()
    dialog.lr.setText("fast")
    assert not ok.isEnabled() and "is not a number" in dialog.status.text()
    dialog.lr.setText("-1")
    assert not ok.isEnabled() and "Learning rate" in dialog.status.text()
    dialog.lr.setText("0.001")
    dialog.epochs.setValue(5)
    dialog.optimizer.setCurrentText("adam")
    assert ok.isEnabled() and dialog.overrides() == {"epochs": 5, "optimizer": "adam", "lr": 0.001, "batch_size": 16}
    assert "Lower <b>lr</b>" in dialog.findChildren(type(dialog.status))[0].text()  # the name shown literally
