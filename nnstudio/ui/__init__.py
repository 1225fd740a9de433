"""The desktop app (PySide6 + pyqtgraph): a thin layer turning gestures into core calls and core events into
pixels."""
