#!/usr/bin/env bash
# Build the reference CNN (the Digits CNN example's network) from an empty canvas in a real X window, the way a
# person would with the canvas gestures: a double-click on empty canvas opens the quick-add search, Tab opens it
# again after the selected layer, a few letters and Enter place the layer wired after it; the arrow keys walk
# the chain and Enter edits a layer's first setting. No port is aimed at. Screenshots go to OUT (default
# /tmp/nnstudio-drive): look at them.
#
#   apt-get install -y xvfb xdotool imagemagick libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
#   bash docs/drive_build_cnn.sh [OUT]
#
# Counted (printed at the end): gestures (a double-click, one quick-add search per layer, one edit per changed
# setting) and actions (every key press, typed word and mouse gesture once).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/nnstudio-drive}
mkdir -p "$OUT"
export DISPLAY=${DISPLAY:-:98}
if ! xdotool getmouselocation >/dev/null 2>&1; then
  Xvfb "$DISPLAY" -screen 0 1600x1000x24 >/dev/null 2>&1 &
  XVFB=$!
  trap 'kill $XVFB 2>/dev/null || true' EXIT
  sleep 1
fi
HOME_DIR=$(mktemp -d)
HOME=$HOME_DIR XDG_CONFIG_HOME=$HOME_DIR/.config XDG_DATA_HOME=$HOME_DIR/.local/share .venv/bin/nnstudio &
APP=$!
trap 'kill $APP 2>/dev/null || true; kill ${XVFB:-0} 2>/dev/null || true' EXIT
for _ in $(seq 60); do xdotool search --name "NN Studio" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 12  # the editor loads behind the start page
actions=0
act() { actions=$((actions + 1)); }
shot() { import -window root "$OUT/$1.png"; }

WID=$(xdotool search --name "NN Studio" | head -1)
eval "$(xdotool getwindowgeometry --shell "$WID")"
xdotool mousemove --window "$WID" $((WIDTH - 200)) 150 click 1  # the window takes the keys (no window manager)
xdotool key ctrl+n; sleep 4                                   # File > New: an empty canvas (not counted)
CX=$((X + WIDTH / 2)); CY=$((Y + HEIGHT / 3))
xdotool mousemove $CX $CY click --repeat 2 --delay 80 1; act; sleep 1   # quick-add on empty canvas
xdotool type --delay 60 "input (image"; act; xdotool key Return; act; sleep 1
shot 1-input
add() {  # quick-add after the selected layer: Tab, its name, Enter
  xdotool key Tab; act; sleep 0.8
  xdotool type --delay 60 "$1"; act
  xdotool key Return; act; sleep 0.8
  gestures=$((gestures + 1))
}
set_first() {  # Enter on the canvas edits the layer's first setting; Enter takes the value, back to the canvas
  xdotool key Return; act; sleep 0.5
  xdotool key ctrl+a; xdotool type "$1"; act; xdotool key Return; act; sleep 0.8
  gestures=$((gestures + 1))
}
gestures=2  # the double-click and the first layer's search
add conv2d; add maxpool; add conv2d; set_first 64; add maxpool; add flatten; add dense; add dense; set_first 10
add output
shot 2-chain
xdotool key ctrl+l; sleep 1; xdotool key f; sleep 1                # auto layout and fit (not counted)
shot 3-laid-out
echo "gestures: $gestures (a double-click, a quick-add search per layer, an edit per changed setting)"
echo "actions: $actions (each key press, typed word and mouse gesture once; no port aimed at)"
echo "screenshots in $OUT"
