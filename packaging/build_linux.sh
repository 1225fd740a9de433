#!/usr/bin/env bash
# Build NN Studio for Linux: the PyInstaller bundle (dist/nnstudio/), its self-test, and
# dist/nnstudio-<version>-linux-<arch>.tar.gz holding the bundle, the .desktop file, the icons, the MIME type
# and install.sh (a per-user install into ~/.local).
#
#   packaging/build_linux.sh                  build, self-test, archive
#   packaging/build_linux.sh --bundle DIR     archive an existing bundle (no PyInstaller run)
#   packaging/build_linux.sh --bundle-only    build and self-test the bundle, no archive
#   options: --dist DIR (default dist/), --work DIR (default build/), --skip-self-test
#   environment: PYTHON (default: .venv/bin/python, else python3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/linux_common.sh"

DIST="$ROOT/dist"
WORK="$ROOT/build"
BUNDLE=""
BUNDLE_ONLY=0
SELF_TEST=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE="$(cd "$2" && pwd)"; shift 2 ;;
        --bundle-only) BUNDLE_ONLY=1; shift ;;
        --dist) DIST="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --skip-self-test) SELF_TEST=0; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$DIST" "$WORK"
DIST="$(cd "$DIST" && pwd)"
WORK="$(cd "$WORK" && pwd)"
VERSION="$(nnstudio_version)"
ARCH="$(uname -m)"
NAME="nnstudio-$VERSION-linux-$ARCH"

if [ -z "$BUNDLE" ]; then
    started=$(date +%s)
    build_bundle "$DIST" "$WORK/pyinstaller"
    BUNDLE="$DIST/nnstudio"
    echo "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)) built in $(( $(date +%s) - started )) s"
fi
[ -x "$BUNDLE/nnstudio" ] || { echo "error: $BUNDLE/nnstudio is not an executable bundle" >&2; exit 1; }
if [ "$SELF_TEST" = 1 ]; then
    self_test "$BUNDLE" "$WORK/selftest.log"
fi
[ "$BUNDLE_ONLY" = 1 ] && exit 0

STAGE="$WORK/stage/$NAME"
rm -rf "$WORK/stage"
mkdir -p "$STAGE"
cp -a "$BUNDLE" "$STAGE/nnstudio"
# The real Exec path is written by install.sh; the archive's copy names the program.
stage_share "$STAGE/share" "nnstudio"
install -m 0755 "$PACKAGING/install.sh" "$STAGE/install.sh"
cat > "$STAGE/README.txt" <<EOF
NN Studio $VERSION for Linux ($ARCH)

Run it in place:       ./nnstudio/nnstudio [FILE.nnstudio]
Install for yourself:  ./install.sh              (into ~/.local: menu entry, icon, .nnstudio files open in it)
Uninstall:             ~/.local/share/nnstudio/install.sh --uninstall
Check it works:        ./nnstudio/nnstudio --self-test   (prints where its log is; exit code 0 = passed)

On X11 Qt needs the system's xcb libraries (Debian/Ubuntu: libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
libgl1 libegl1).
EOF

tar --owner=0 --group=0 --numeric-owner -C "$WORK/stage" -czf "$DIST/$NAME.tar.gz" "$NAME"
echo "wrote $DIST/$NAME.tar.gz ($(du -h "$DIST/$NAME.tar.gz" | cut -f1))"
