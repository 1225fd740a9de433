"""Finding resources/: the PyInstaller bundle first (sys.frozen / sys._MEIPASS), then the source tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nnstudio.core import paths


def _bundle(tmp_path: Path, name: str = "_internal") -> Path:
    folder = tmp_path / name
    (folder / "resources" / "examples").mkdir(parents=True)
    return folder


def test_source_tree_resources_exist():
    assert paths.RESOURCES == paths.ROOT / "resources"
    for sub in (paths.EXAMPLES, paths.DATA, paths.ICONS):
        assert sub.is_dir(), sub
    assert (paths.EXAMPLES / "spiral_mlp.nnstudio").is_file()


def test_not_frozen_uses_the_package_then_the_source_tree(tmp_path):
    bundle = _bundle(tmp_path)
    roots = paths.candidate_roots(frozen=False, bundle_dir=str(bundle), executable=str(tmp_path / "python"))
    assert roots == [paths.PACKAGE, paths.ROOT]


def test_resources_inside_the_package_come_before_the_source_tree(tmp_path):
    package, source = tmp_path / "site-packages" / "nnstudio", tmp_path / "checkout"
    (package / "resources").mkdir(parents=True)
    (source / "resources").mkdir(parents=True)
    roots = paths.candidate_roots(frozen=False, package_root=package, source_root=source)
    assert paths.find_resources(roots) == package / "resources"
    (package / "resources").rmdir()
    assert paths.find_resources(roots) == source / "resources"


def test_frozen_prefers_the_bundle(tmp_path):
    bundle = _bundle(tmp_path)
    roots = paths.candidate_roots(frozen=True, bundle_dir=str(bundle), executable=str(tmp_path / "nnstudio"))
    assert roots[0] == bundle and roots[-1] == paths.ROOT
    assert paths.find_resources(roots) == bundle / "resources"


def test_frozen_falls_back_beside_the_executable_then_the_source_tree(tmp_path):
    exe_dir = tmp_path / "app"
    (exe_dir / "resources").mkdir(parents=True)
    empty_bundle = tmp_path / "_internal"
    empty_bundle.mkdir()
    roots = paths.candidate_roots(frozen=True, bundle_dir=str(empty_bundle), executable=str(exe_dir / "nnstudio"))
    assert paths.find_resources(roots) == exe_dir / "resources"
    nothing = tmp_path / "nothing"
    roots = paths.candidate_roots(frozen=True, bundle_dir=str(nothing), executable=str(nothing / "nnstudio"))
    assert paths.find_resources(roots) == paths.ROOT / "resources"


def test_macos_app_resources_folder(tmp_path):
    contents = tmp_path / "NN Studio.app" / "Contents"
    (contents / "Resources" / "resources").mkdir(parents=True)
    (contents / "MacOS").mkdir()
    (contents / "Frameworks").mkdir()
    roots = paths.candidate_roots(frozen=True, bundle_dir=str(contents / "Frameworks"),
                                  executable=str(contents / "MacOS" / "nnstudio"))
    assert paths.find_resources(roots) == contents / "Resources" / "resources"


def test_nothing_found_names_the_last_root(tmp_path):
    assert paths.find_resources([tmp_path / "a", tmp_path / "b"]) == tmp_path / "b" / "resources"


def test_module_constants_follow_a_frozen_process(tmp_path):
    """What a frozen app sees at import time: sys.frozen and sys._MEIPASS are set before nnstudio is imported."""
    bundle = _bundle(tmp_path)
    code = ("import sys; sys.frozen = True; sys._MEIPASS = sys.argv[1]\n"
            "from nnstudio.core import paths\n"
            "print(paths.RESOURCES); print(paths.EXAMPLES)")
    out = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, check=True,
                         timeout=60).stdout.split("\n")
    assert Path(out[0]) == bundle / "resources"
    assert Path(out[1]) == bundle / "resources" / "examples"
