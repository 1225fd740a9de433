"""Errors the core raises. Each carries a plain message a person can act on."""

from __future__ import annotations


class NNStudioError(Exception):
    """Base class: ``str(error)`` is the whole user-facing message."""


class GraphError(NNStudioError):
    """An edit the graph refuses (a cycle, a filled port, an invalid parameter value...)."""


class ProjectFileError(NNStudioError):
    """A project file that cannot be read: names the file and, where known, the field."""

    def __init__(self, path: object, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        self.detail = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


class DatasetError(NNStudioError):
    """Data that cannot be used: names the file, row and column where known."""


class TrainingError(NNStudioError):
    """Training could not start or had to stop (bad device, NaN loss, out of memory...)."""


class ExportError(NNStudioError):
    """The project cannot be exported in the chosen format; the message says why and names the layer."""
