"""Packaging glue that pyproject.toml cannot say: the repository's top-level ``resources/`` (examples, bundled
datasets, icons) travels in the wheel as ``nnstudio/resources/``, where ``nnstudio.core.paths`` finds it in an
installed copy. Everything else about the package is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["nnstudio", "nnstudio.*"]) + ["nnstudio.resources"],
    package_dir={"nnstudio.resources": "resources"},
    package_data={
        "nnstudio": ["core/project/*.json"],
        "nnstudio.resources": ["examples/*.nnstudio", "examples/*.png", "data/*.csv", "data/*.npz", "data/*.md",
                               "icons/*.png", "icons/*.svg", "guide/*.md", "guide/*.png"],
    },
)
