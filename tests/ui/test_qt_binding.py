"""The installed Qt binding keeps Python's reference counts right (PySide6 6.12.0 did not: every Qt call that
returns nothing dropped a reference to None until Python aborted)."""

import sys

from PySide6.QtCore import QObject


def test_qt_calls_do_not_leak_references_to_none():
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(2000):
        obj.setObjectName("x")
    assert abs(sys.getrefcount(None) - before) < 50
