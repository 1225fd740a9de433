"""Packaging: the desktop integration files, the installer scripts, and (slow) a real PyInstaller bundle whose
frozen ``--self-test`` must pass."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from fnmatch import fnmatch
from pathlib import Path

import pytest

from nnstudio import __version__
from nnstudio.selftest import SUCCESS_LINE

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
MIME_TYPE = "application/x-nnstudio"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
ON_LINUX = sys.platform.startswith("linux")
needs_bash = pytest.mark.skipif(not ON_LINUX or shutil.which("bash") is None, reason="Linux packaging scripts")


# -- Linux desktop integration ------------------------------------------------------------------------------
def _desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_file_validates():
    desktop = PACKAGING / "nnstudio.desktop"
    validator = shutil.which("desktop-file-validate")
    if validator:
        proc = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
        assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout + proc.stderr
    entry = _desktop_entry(desktop)
    assert entry["Type"] == "Application" and entry["Name"] == "NN Studio"
    assert entry["Icon"] == "nnstudio" and entry["Terminal"] == "false"
    assert re.fullmatch(r"nnstudio %[fF]", entry["Exec"])  # one file, passed as a path
    assert MIME_TYPE in entry["MimeType"].split(";") and entry["MimeType"].endswith(";")
    assert entry["Categories"].endswith(";") and entry["StartupWMClass"] == "nnstudio"


def test_mime_xml_is_well_formed_with_the_glob():
    root = ET.parse(PACKAGING / "nnstudio-mime.xml").getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mime,) = root.findall(f"{MIME_NS}mime-type")
    assert mime.get("type") == MIME_TYPE
    assert [g.get("pattern") for g in mime.findall(f"{MIME_NS}glob")] == ["*.nnstudio"]
    assert mime.find(f"{MIME_NS}comment").text
    assert mime.find(f"{MIME_NS}icon").get("name") == "nnstudio"


@pytest.mark.skipif(shutil.which("update-mime-database") is None, reason="update-mime-database not installed")
def test_mime_database_accepts_the_type(tmp_path):
    (tmp_path / "packages").mkdir()
    shutil.copy(PACKAGING / "nnstudio-mime.xml", tmp_path / "packages" / "nnstudio.xml")
    subprocess.run(["update-mime-database", str(tmp_path)], check=True, capture_output=True)
    assert f"{MIME_TYPE}:*.nnstudio" in (tmp_path / "globs2").read_text()


# -- Windows and macOS scripts (they can only run on their own systems) -------------------------------------
def test_inno_setup_script_declares_the_association():
    text = (PACKAGING / "windows" / "nnstudio.iss").read_text(encoding="utf-8")
    assert "ChangesAssociations=yes" in text
    assert '#define AssocExt ".nnstudio"' in text and '#define AssocProgId "NNStudio.Project.1"' in text
    registry = text.split("[Registry]", 1)[1].split("\n[", 1)[0]
    assert r'Subkey: "Software\Classes\{#AssocExt}"; ValueType: string; ValueName: ""; ValueData: "{#AssocProgId}"' \
        in registry
    assert r"Software\Classes\{#AssocExt}\OpenWithProgids" in registry
    assert r'{#AssocProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExeName},0"' \
        in registry
    assert r'{#AssocProgId}\shell\open\command"; ValueType: string; ValueName: ""; ' \
           r'ValueData: """{app}\{#AppExeName}"" ""%1"""' in registry
    assert 'Name: "desktopicon"' in text and "Flags: unchecked" in text  # optional desktop icon
    assert r'Name: "{autoprograms}\{#AppName}"' in text  # Start menu
    assert re.search(r"AppId=\{\{[0-9A-F-]{36}\}", text)  # the uninstaller / upgrade identity
    assert r'Source: "{#BundleDir}\_internal\*"' in text and "recursesubdirs" in text


def test_macos_build_script_makes_icns_app_and_dmg():
    script = PACKAGING / "macos" / "build_macos.sh"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "iconutil -c icns" in text and "hdiutil create" in text and "NNSTUDIO_ICNS=" in text
    spec = (PACKAGING / "nnstudio.spec").read_text()
    assert '"CFBundleDocumentTypes"' in spec and '"CFBundleTypeExtensions": ["nnstudio"]' in spec


# -- the spec -----------------------------------------------------------------------------------------------
def _spec_filters():
    """DROP / DROP_NAMES / KEEP and dropped() from the spec, without running PyInstaller."""
    tree = ast.parse((PACKAGING / "nnstudio.spec").read_text())
    names = ("DROP", "DROP_NAMES", "KEEP")
    keep = [n for n in tree.body
            if (isinstance(n, ast.Assign) and n.targets[0].id in names)
            or (isinstance(n, ast.AugAssign) and n.target.id in names)
            or (isinstance(n, ast.FunctionDef) and n.name == "dropped")]
    namespace = {"fnmatch": fnmatch}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "nnstudio.spec", "exec"), namespace)  # noqa: S102
    return namespace["dropped"]


def test_spec_keeps_what_the_app_needs_and_drops_the_rest():
    dropped = _spec_filters()
    for needed in ("PySide6/Qt/lib/libicudata.so.73", "PySide6/Qt/lib/libQt6Core.so.6", "torch/lib/libtorch_cpu.so",
                   "torch/lib/libc10.so", "torch/bin/torch_shm_manager", "resources/examples/spiral_mlp.nnstudio",
                   "nnstudio/core/layers/modules.py", "PySide6/Qt/plugins/platforms/libqxcb.so",
                   "PySide6/Qt/plugins/platforms/libqoffscreen.so", "torch/lib/torch_cpu.dll",
                   "PySide6/Qt6Widgets.dll", "PySide6/plugins/platforms/qwindows.dll", "PySide6/opengl32sw.dll",
                   "PySide6/Qt/lib/QtWidgets.framework/Versions/A/QtWidgets",
                   "PySide6/Qt/plugins/platforms/libqcocoa.dylib"):
        assert not dropped(needed), needed
    for unwanted in ("torch/lib/libtorch_cuda.so", "torch/lib/libc10_cuda.so", "nvidia/cublas/lib/libcublas.so.12",
                     "torch/bin/test_api", "torch/test/c10_Half_test", "torch/include/ATen/ATen.h",
                     "torch/lib/libtorchbind_test.so", "torch/lib/torch_cpu.lib", "PySide6/Qt/qml/QtQuick/qmldir",
                     "PySide6/Qt/translations/qtbase_de.qm", "torch/lib/cudnn64_9.dll",
                     "PySide6/translations/qtbase_de.qm", "PySide6/Qt6Quick.dll", "PySide6/Qt6Pdf.dll",
                     "PySide6/Qt/lib/QtQuick.framework/Versions/A/QtQuick"):
        assert dropped(unwanted), unwanted


def test_spec_ships_sources_resources_and_a_windowed_app():
    spec = (PACKAGING / "nnstudio.spec").read_text()
    ast.parse(spec)
    # .py files next to the archive: inspect.getsource in the exporter, and onnxscript parsing its own functions
    assert 'COLLECTION_MODES = {"nnstudio": "pyz+py"}' in spec and "module_collection_mode=COLLECTION_MODES" in spec
    assert '"onnxscript": "pyz+py"' in spec
    assert 'for sub in ("examples", "data", "icons", "guide")' in spec
    assert "console=False" in spec and 'name="nnstudio"' in spec and "exclude_binaries=True" in spec
    assert '"tkinter"' in spec and '"PySide6.QtWebEngineCore"' in spec


# -- Linux archive and .deb from a stand-in bundle (fast) ---------------------------------------------------
@pytest.fixture
def fake_bundle(tmp_path) -> Path:
    """A directory shaped like the PyInstaller bundle whose program only reports its arguments."""
    bundle = tmp_path / "bundle" / "nnstudio"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    program = bundle / "nnstudio"
    program.write_text("#!/bin/sh\necho \"fake nnstudio $*\"\n")
    program.chmod(0o755)
    return bundle


@needs_bash
def test_linux_archive_installs_and_uninstalls_per_user(fake_bundle, tmp_path):
    dist, work = tmp_path / "dist", tmp_path / "work"
    subprocess.run(["bash", str(PACKAGING / "build_linux.sh"), "--bundle", str(fake_bundle), "--skip-self-test",
                    "--dist", str(dist), "--work", str(work)], check=True, capture_output=True, text=True)
    archive = dist / f"nnstudio-{__version__}-linux-{os.uname().machine}.tar.gz"
    assert archive.is_file()
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(unpacked)], check=True)
    top = unpacked / archive.name.removesuffix(".tar.gz")
    for part in ("install.sh", "README.txt", "nnstudio/nnstudio", "share/applications/nnstudio.desktop",
                 "share/mime/packages/nnstudio.xml", "share/icons/hicolor/256x256/apps/nnstudio.png",
                 "share/icons/hicolor/scalable/apps/nnstudio.svg"):
        assert (top / part).exists(), part

    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "share"), NNSTUDIO_BIN_DIR=str(home / "bin"))
    subprocess.run(["bash", str(top / "install.sh")], check=True, env=env, capture_output=True)
    app = home / "share" / "nnstudio" / "nnstudio"
    entry = _desktop_entry(home / "share" / "applications" / "nnstudio.desktop")
    assert entry["Exec"] == f"{app} %f" and entry["TryExec"] == str(app)
    assert (home / "share" / "mime" / "packages" / "nnstudio.xml").is_file()
    assert (home / "share" / "icons" / "hicolor" / "48x48" / "apps" / "nnstudio.png").is_file()
    if shutil.which("update-mime-database"):
        assert f"{MIME_TYPE}:*.nnstudio" in (home / "share" / "mime" / "globs2").read_text()
    launched = subprocess.run([str(home / "bin" / "nnstudio"), "x.nnstudio"], capture_output=True, text=True)
    assert launched.stdout.strip() == "fake nnstudio x.nnstudio"

    subprocess.run(["bash", str(home / "share" / "nnstudio" / "install.sh"), "--uninstall"], check=True, env=env,
                   capture_output=True)
    assert not app.exists() and not (home / "bin" / "nnstudio").exists()
    assert not (home / "share" / "applications" / "nnstudio.desktop").exists()
    assert not (home / "share" / "mime" / "packages" / "nnstudio.xml").exists()


@needs_bash
@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")
def test_deb_package_layout(fake_bundle, tmp_path):
    dist = tmp_path / "dist"
    env = dict(os.environ, DEB_COMPRESSION="gzip")
    subprocess.run(["bash", str(PACKAGING / "make_deb.sh"), "--bundle", str(fake_bundle), "--dist", str(dist),
                    "--work", str(tmp_path / "work")], check=True, capture_output=True, text=True, env=env)
    (deb,) = dist.glob(f"nnstudio_{__version__}_*.deb")
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True, text=True).stdout
    assert "Package: nnstudio" in info and f"Version: {__version__}" in info
    assert re.search(r"Depends: libc6 \(>= [\d.]+\)", info) and "postinst" in info and "postrm" in info
    contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True,
                              text=True).stdout
    assert re.search(r"-rwxr-xr-x root/root .* \./opt/nnstudio/nnstudio\n", contents)
    assert "./usr/bin/nnstudio -> /opt/nnstudio/nnstudio" in contents
    for path in ("./usr/share/applications/nnstudio.desktop", "./usr/share/mime/packages/nnstudio.xml",
                 "./usr/share/icons/hicolor/128x128/apps/nnstudio.png",
                 "./usr/share/icons/hicolor/scalable/apps/nnstudio.svg"):
        assert path in contents, path
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(control)], check=True)
    postinst = (control / "postinst").read_text()
    assert "update-mime-database /usr/share/mime" in postinst and "update-desktop-database" in postinst
    assert "command -v update-mime-database" in postinst  # only where the tool exists


# -- the real bundle (slow) ---------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                    reason="PyInstaller is not installed: pip install -e .[package]")
def test_frozen_bundle_passes_its_self_test(tmp_path, bundle_build):
    code, log_tail, built = bundle_build.wait(timeout=1500)  # started when the tests were collected (conftest)
    assert code == 0, log_tail
    started = time.perf_counter()
    bundle = bundle_build.folder / "dist" / "nnstudio"
    program = bundle / ("nnstudio.exe" if sys.platform == "win32" else "nnstudio")
    internal = bundle / "_internal"
    assert (internal / "resources" / "examples" / "spiral_mlp.nnstudio").is_file()
    assert (internal / "nnstudio" / "core" / "layers" / "modules.py").is_file()  # sources for the exporter
    cuda = [p for pattern in ("libcudart*", "libcudnn*", "libcublas*", "libtorch_cuda*", "cudart64*")
            for p in internal.rglob(pattern)]
    assert cuda == [] and not (internal / "tkinter").exists() and not (internal / "torch" / "bin" / "test_api").exists()

    log = tmp_path / "selftest.log"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([str(program), "--self-test", "--self-test-log", str(log)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    text = log.read_text(encoding="utf-8") if log.exists() else "(no log)"
    assert run.returncode == 0, text + run.stderr[-2000:]
    assert text.splitlines()[-1] == SUCCESS_LINE
    assert "(frozen)" in text and str(internal / "resources") in text  # resources came from the bundle
    size_mb = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20
    print(f"bundle {size_mb:.0f} MiB, built in the background in {built:.0f} s, "
          f"self-test {time.perf_counter() - started:.0f} s")


# -- the wheel -----------------------------------------------------------------------------------------------
def test_the_wheel_carries_the_resources_and_an_installed_copy_finds_them(tmp_path):
    """A non-editable install (pip install nnstudio from a wheel) has the examples, datasets and icons inside the
    package, and the app finds them there rather than in a source tree."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("nnstudio-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    for name in ("examples/spiral_mlp.nnstudio", "examples/spiral_mlp.png", "data/digits.npz", "data/ATTRIBUTION.md",
                 "icons/nnstudio.svg", "guide/index.md", "guide/dashboard.png"):
        assert (target / "nnstudio" / "resources" / name).is_file(), name
    code = ("import nnstudio, nnstudio.core.paths as p\n"
            "from nnstudio.core.data.registry import load_dataset\n"
            "from nnstudio.core.project.io import load_project\n"
            "print(nnstudio.__file__); print(p.RESOURCES)\n"
            "print(len(load_project(p.EXAMPLES / 'digits_cnn.nnstudio').graph.nodes))\n"
            "print(load_dataset({'name': 'iris'}).x.shape[0])\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    module, resources, nodes, rows = run.stdout.split()
    assert Path(module).is_relative_to(target) and Path(resources) == target / "nnstudio" / "resources"
    assert int(nodes) == 9 and int(rows) == 150
