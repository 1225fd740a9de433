#!/usr/bin/env bash
# Install NN Studio for the current user (no root): the program into ~/.local/share/nnstudio, a `nnstudio`
# command in ~/.local/bin, a menu entry, the icon, and the .nnstudio file type (so project files open in
# NN Studio). Run it from the unpacked nnstudio-<version>-linux-<arch> folder.
#
#   ./install.sh               install (or upgrade)
#   ./install.sh --uninstall   remove everything this script installed
#
# Honours XDG_DATA_HOME (default ~/.local/share) and NNSTUDIO_BIN_DIR (default ~/.local/bin).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN_DIR="${NNSTUDIO_BIN_DIR:-$HOME/.local/bin}"
APP_DIR="$DATA/nnstudio"
ICON_SIZES="16 24 32 48 64 128 256 512"

have() { command -v "$1" >/dev/null 2>&1; }

refresh_databases() {
    if have update-mime-database && [ -d "$DATA/mime" ]; then
        update-mime-database "$DATA/mime" >/dev/null 2>&1 || true
    fi
    if have update-desktop-database && [ -d "$DATA/applications" ]; then
        update-desktop-database -q "$DATA/applications" 2>/dev/null || true
    fi
    if have gtk-update-icon-cache && [ -d "$DATA/icons/hicolor" ]; then
        gtk-update-icon-cache -q -f -t "$DATA/icons/hicolor" 2>/dev/null || true
    fi
}

uninstall() {
    rm -f "$BIN_DIR/nnstudio" "$DATA/applications/nnstudio.desktop" "$DATA/mime/packages/nnstudio.xml" \
          "$DATA/icons/hicolor/scalable/apps/nnstudio.svg"
    for size in $ICON_SIZES; do
        rm -f "$DATA/icons/hicolor/${size}x${size}/apps/nnstudio.png"
    done
    rm -rf "$APP_DIR"
    refresh_databases
    echo "NN Studio removed (your projects and settings are untouched)."
}

if [ "${1:-}" = "--uninstall" ]; then
    uninstall
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--uninstall]" >&2
    exit 2
fi

[ -x "$HERE/nnstudio/nnstudio" ] || { echo "error: run install.sh from the unpacked NN Studio folder" >&2; exit 1; }
[ "$HERE" != "$APP_DIR" ] || { echo "error: this is the installed copy; run the install.sh of a new download" >&2; exit 1; }

# The program: replace any earlier version as a whole.
rm -rf "$APP_DIR"
mkdir -p "$APP_DIR" "$BIN_DIR"
cp -a "$HERE/nnstudio/." "$APP_DIR/"
install -m 0755 "$HERE/install.sh" "$APP_DIR/install.sh"
ln -sfn "$APP_DIR/nnstudio" "$BIN_DIR/nnstudio"

# Menu entry (Exec names the installed program: ~/.local/bin is not always on PATH), icons, MIME type.
exec_path="$APP_DIR/nnstudio"
case "$exec_path" in *" "*) exec_path="\"$exec_path\"" ;; esac
mkdir -p "$DATA/applications" "$DATA/mime/packages"
sed -e "s|^Exec=nnstudio |Exec=$exec_path |" -e "s|^TryExec=.*$|TryExec=$APP_DIR/nnstudio|" \
    "$HERE/share/applications/nnstudio.desktop" > "$DATA/applications/nnstudio.desktop"
install -m 0644 "$HERE/share/mime/packages/nnstudio.xml" "$DATA/mime/packages/nnstudio.xml"
(cd "$HERE/share" && find icons -type f) | while read -r icon; do
    install -D -m 0644 "$HERE/share/$icon" "$DATA/$icon"
done
refresh_databases
if have xdg-mime; then
    xdg-mime default nnstudio.desktop application/x-nnstudio 2>/dev/null || true
fi

echo "NN Studio installed in $APP_DIR"
echo "Start it from the applications menu or with: $BIN_DIR/nnstudio"
case ":$PATH:" in *":$BIN_DIR:"*) ;; *) echo "($BIN_DIR is not on your PATH)" ;; esac
