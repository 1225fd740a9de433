#!/usr/bin/env bash
# Build dist/nnstudio_<version>_<arch>.deb from the PyInstaller bundle: the program in /opt/nnstudio, the
# command /usr/bin/nnstudio (a symlink), the menu entry, the icons and the .nnstudio MIME type. postinst/postrm
# refresh the MIME, desktop and icon databases when those tools are installed.
#
#   packaging/make_deb.sh                 package dist/nnstudio (built first with build_linux.sh if missing)
#   packaging/make_deb.sh --bundle DIR    package an existing bundle
#   options: --dist DIR (default dist/), --work DIR (default build/)
#   environment: DEB_COMPRESSION (dpkg-deb -Z: xz (default), zstd, gzip), DEB_MAINTAINER
#
# Check the result without installing it:  dpkg-deb --info FILE.deb; dpkg-deb --contents FILE.deb
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/linux_common.sh"

DIST="$ROOT/dist"
WORK="$ROOT/build"
BUNDLE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE="$(cd "$2" && pwd)"; shift 2 ;;
        --dist) DIST="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v dpkg-deb >/dev/null || { echo "error: dpkg-deb is needed (Debian/Ubuntu: apt install dpkg)" >&2; exit 1; }
mkdir -p "$DIST" "$WORK"
DIST="$(cd "$DIST" && pwd)"
WORK="$(cd "$WORK" && pwd)"
if [ -z "$BUNDLE" ]; then
    BUNDLE="$DIST/nnstudio"
    [ -x "$BUNDLE/nnstudio" ] || "$PACKAGING/build_linux.sh" --bundle-only --dist "$DIST" --work "$WORK"
fi
[ -x "$BUNDLE/nnstudio" ] || { echo "error: $BUNDLE/nnstudio is not an executable bundle" >&2; exit 1; }

VERSION="$(nnstudio_version)"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
PKG="$WORK/deb/nnstudio_${VERSION}_${ARCH}"
rm -rf "$WORK/deb"
install -d "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/doc/nnstudio"
cp -a "$BUNDLE" "$PKG/opt/nnstudio"
ln -s /opt/nnstudio/nnstudio "$PKG/usr/bin/nnstudio"
stage_share "$PKG/usr/share" "nnstudio"
cat > "$PKG/usr/share/doc/nnstudio/copyright" <<'EOF'
NN Studio - build neural networks visually and watch them learn.
License: MIT.
This package bundles Python, PyTorch (BSD-3-Clause), Qt 6 / PySide6 (LGPL-3.0), NumPy (BSD-3-Clause),
pyqtgraph (MIT), safetensors (Apache-2.0), jsonschema (MIT) and Pillow (MIT-CMU) with their licences in
/opt/nnstudio/_internal. The bundled datasets' origins and licences: /opt/nnstudio/_internal/resources/data/ATTRIBUTION.md
EOF
chmod -R u+rwX,go+rX,go-w "$PKG"

# The newest glibc symbol version any bundled binary uses: the one libc6 dependency the bundle cannot carry.
GLIBC="2.31"
if command -v objdump >/dev/null; then
    found="$(find "$PKG/opt/nnstudio" -type f \( -name '*.so*' -o -name nnstudio \) -exec objdump -T {} + 2>/dev/null \
             | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)"
    [ -n "$found" ] && GLIBC="$found"
fi
INSTALLED_KB="$(du -sk --apparent-size "$PKG" | cut -f1)"

cat > "$PKG/DEBIAN/control" <<EOF
Package: nnstudio
Version: $VERSION
Section: science
Priority: optional
Architecture: $ARCH
Maintainer: ${DEB_MAINTAINER:-NN Studio developers <nnstudio@example.org>}
Installed-Size: $INSTALLED_KB
Depends: libc6 (>= $GLIBC), libgl1, libegl1, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libfontconfig1
Recommends: libwayland-client0, libwayland-cursor0, libwayland-egl1, shared-mime-info, desktop-file-utils
Description: build neural networks visually and watch them learn
 NN Studio is a desktop app for designing neural networks on a canvas,
 training them on bundled or your own data with live plots, and exporting
 them as standalone PyTorch scripts, safetensors weights or ONNX models.
 .
 This package carries its own Python, PyTorch (CPU) and Qt in /opt/nnstudio.
EOF

cat > "$PKG/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    if command -v update-mime-database >/dev/null 2>&1; then update-mime-database /usr/share/mime || true; fi
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -f -t /usr/share/icons/hicolor || true; fi
fi
exit 0
EOF
cat > "$PKG/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    if command -v update-mime-database >/dev/null 2>&1; then update-mime-database /usr/share/mime || true; fi
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -f -t /usr/share/icons/hicolor || true; fi
fi
exit 0
EOF
chmod 0755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/postrm"

OUT="$DIST/nnstudio_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$PKG" "$OUT"
echo "wrote $OUT ($(du -h "$OUT" | cut -f1))"
