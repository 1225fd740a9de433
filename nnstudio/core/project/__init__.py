"""Project files: one ``.nnstudio`` zip per project (see docs/file-format.md)."""

from nnstudio.core.project.model import Project

__all__ = ["Project"]
