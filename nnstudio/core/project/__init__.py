"""Project files: one ``.nnstudio`` zip per project (see docs/file-format.md)."""

from nnstudio.core.project.io import load_project, save_project
from nnstudio.core.project.model import Project

__all__ = ["Project", "load_project", "save_project"]
