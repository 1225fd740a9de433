# Shared by build_linux.sh and make_deb.sh (sourced, not run).

PACKAGING="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PACKAGING/.." && pwd)"
ICON_SIZES="16 24 32 48 64 128 256 512"

# The version from nnstudio/__init__.py (no Python needed).
nnstudio_version() {
    sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' "$ROOT/nnstudio/__init__.py"
}

# The Python that builds the bundle: $PYTHON, else the project's .venv, else python3.
nnstudio_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
    elif [ -x "$ROOT/.venv/bin/python" ]; then
        echo "$ROOT/.venv/bin/python"
    else
        echo python3
    fi
}

# stage_share SHARE_DIR EXEC: the .desktop file (with Exec/TryExec pointing at EXEC), the MIME type and the
# icons, laid out as under /usr/share or ~/.local/share.
stage_share() {
    local share="$1" exec_path="$2" size
    install -d "$share/applications" "$share/mime/packages" "$share/icons/hicolor/scalable/apps"
    sed -e "s|^Exec=nnstudio |Exec=$exec_path |" -e "s|^TryExec=nnstudio$|TryExec=$exec_path|" \
        "$PACKAGING/nnstudio.desktop" > "$share/applications/nnstudio.desktop"
    chmod 0644 "$share/applications/nnstudio.desktop"
    install -m 0644 "$PACKAGING/nnstudio-mime.xml" "$share/mime/packages/nnstudio.xml"
    install -m 0644 "$ROOT/resources/icons/nnstudio.svg" "$share/icons/hicolor/scalable/apps/nnstudio.svg"
    for size in $ICON_SIZES; do
        if [ -f "$ROOT/resources/icons/nnstudio-$size.png" ]; then
            install -d "$share/icons/hicolor/${size}x${size}/apps"
            install -m 0644 "$ROOT/resources/icons/nnstudio-$size.png" \
                "$share/icons/hicolor/${size}x${size}/apps/nnstudio.png"
        fi
    done
}

# build_bundle DISTPATH WORKPATH: run PyInstaller on packaging/nnstudio.spec -> DISTPATH/nnstudio.
build_bundle() {
    local python
    python="$(nnstudio_python)"
    if ! "$python" -c "import PyInstaller" 2>/dev/null; then
        echo "error: PyInstaller is not installed for $python: pip install -e '.[package]'" >&2
        return 1
    fi
    "$python" -m PyInstaller --noconfirm --distpath "$1" --workpath "$2" "$PACKAGING/nnstudio.spec"
}

# self_test BUNDLE LOG: run the frozen app's --self-test offscreen; fails with the log's last line.
self_test() {
    local bundle="$1" log="$2"
    if QT_QPA_PLATFORM=offscreen "$bundle/nnstudio" --self-test --self-test-log "$log" >/dev/null 2>&1; then
        echo "self-test passed ($log)"
    else
        echo "error: the bundle's self-test failed: $(tail -n 1 "$log" 2>/dev/null || echo 'no log written')" >&2
        return 1
    fi
}
