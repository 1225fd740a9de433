#!/usr/bin/env bash
# Build NN Studio for macOS: "dist/NN Studio.app" (PyInstaller BUNDLE: .nnstudio document type, .icns icon),
# its self-test, and dist/nnstudio-<version>-macos-<arch>.dmg (the app + a link to /Applications).
#
#   packaging/macos/build_macos.sh [--skip-self-test]
#   environment: PYTHON (default .venv/bin/python, else python3),
#                NNSTUDIO_CODESIGN_IDENTITY ("Developer ID Application: ..."; default: ad-hoc signature)
#
# Run it on the architecture you ship (arm64 on Apple silicon, x86_64 on Intel): PyInstaller does not
# cross-build. Needs the Xcode command line tools (iconutil, hdiutil and codesign come with macOS).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SELF_TEST=1
[ "${1:-}" = "--skip-self-test" ] && SELF_TEST=0
if [ -n "${PYTHON:-}" ]; then :; elif [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
VERSION="$(sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' nnstudio/__init__.py)"
ARCH="$(uname -m)"
APP="dist/NN Studio.app"
WORK="build/macos"
rm -rf "$WORK"
mkdir -p "$WORK" dist

# 1. The icon: an .iconset of the rendered PNGs (name -> pixel size), then iconutil. There is no 1024 px PNG,
#    so icon_512x512@2x is left out; macOS scales the 512 px one.
ICONSET="$WORK/nnstudio.iconset"
mkdir -p "$ICONSET"
for pair in 16x16:16 16x16@2x:32 32x32:32 32x32@2x:64 128x128:128 128x128@2x:256 256x256:256 256x256@2x:512 \
            512x512:512; do
    cp "resources/icons/nnstudio-${pair#*:}.png" "$ICONSET/icon_${pair%%:*}.png"
done
iconutil -c icns "$ICONSET" -o "$WORK/nnstudio.icns"

# 2. The app bundle (the spec adds BUNDLE on macOS, with CFBundleDocumentTypes for .nnstudio).
NNSTUDIO_ICNS="$ROOT/$WORK/nnstudio.icns" "$PYTHON" -m PyInstaller --noconfirm --distpath dist \
    --workpath "$WORK/pyinstaller" packaging/nnstudio.spec
/usr/libexec/PlistBuddy -c "Print :CFBundleDocumentTypes:0:CFBundleTypeExtensions:0" "$APP/Contents/Info.plist"

# 3. The self-test, run from inside the .app as Finder would start it.
if [ "$SELF_TEST" = 1 ]; then
    LOG="$ROOT/$WORK/selftest.log"
    if QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/nnstudio" --self-test --self-test-log "$LOG" >/dev/null 2>&1; then
        echo "self-test passed ($LOG)"
    else
        echo "error: the app's self-test failed: $(tail -n 1 "$LOG" 2>/dev/null || echo 'no log written')" >&2
        exit 1
    fi
fi
if codesign --verify --deep --strict "$APP"; then echo "signature OK ($(codesign -dv "$APP" 2>&1 | grep -m1 Signature))"; else echo "warning: codesign --verify failed for $APP" >&2; fi

# 4. The disk image: the app beside a link to /Applications, compressed (UDZO).
STAGE="$WORK/dmg"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="dist/nnstudio-$VERSION-macos-$ARCH.dmg"
rm -f "$DMG"
hdiutil create -volname "NN Studio $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
hdiutil verify "$DMG"
echo "wrote $DMG ($(du -h "$DMG" | cut -f1))"
