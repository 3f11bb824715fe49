#!/usr/bin/env bash
# Window smoke test: the desktop app starts under a virtual display, shows its bundled UI and keeps
# running. Catches a binary that cannot start, a UI that was not embedded (the window would show
# the unreachable dev server instead) and a page that fails to render.
#
#   scripts/window-smoke.sh             # builds the app (debug, with the UI embedded), then tests it
#   VCLIP_APP_BIN=path scripts/window-smoke.sh   # tests an already built binary
#
# Needs Xvfb and ImageMagick (scripts/deps.sh all). The screenshot is kept in
# $SMOKE_OUT (default: $CARGO_TARGET_DIR or target/) as window-smoke.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
out="${SMOKE_OUT:-$target}"
timeout_s="${SMOKE_TIMEOUT:-40}"
# The logo and the drop icon are drawn in this exact colour (ui/src/styles.css --accent, light
# scheme): finding enough of it proves our page rendered, not a blank or error page.
accent="#3b6cf6"
min_accent_pixels=200
min_colours=32

fail() { echo "window-smoke: FAIL: $*" >&2; exit 1; }
for tool in Xvfb import convert identify; do
  command -v "$tool" >/dev/null || fail "'$tool' not found (scripts/deps.sh all installs it)"
done

bin="${VCLIP_APP_BIN:-}"
if [ -z "$bin" ]; then
  scripts/ui-build.sh
  cargo build --locked -p vclip-app --features custom-protocol
  bin="$target/debug/vclip-app"
fi
[ -x "$bin" ] || fail "no app binary at $bin"

tmp="$(mktemp -d)"
xvfb_pid=""
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
# -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -s "$tmp/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || { cat "$tmp/xvfb.log" >&2; fail "Xvfb did not start"; }
  sleep 0.1
done
[ -s "$tmp/display" ] || fail "Xvfb did not report a display"
export DISPLAY=":$(head -n1 "$tmp/display")"

library="$tmp/library with spaces"
# A private HOME and library: the test never touches the user's own library or settings.
HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" \
  "$bin" --library "$library" >"$tmp/app.log" 2>&1 &
app_pid=$!

shot="$tmp/shot.png"
colours=0
accent_pixels=0
while :; do
  kill -0 "$app_pid" 2>/dev/null || { cat "$tmp/app.log" >&2; fail "the app exited early"; }
  if import -window root "$shot" 2>/dev/null; then
    colours=$(identify -format '%k' "$shot")
    accent_pixels=$(convert "$shot" -fill black +opaque "$accent" -fill white -opaque "$accent" \
      -format '%[fx:round(mean*w*h)]' info:)
    if [ "$colours" -ge "$min_colours" ] && [ "$accent_pixels" -ge "$min_accent_pixels" ]; then
      break
    fi
  fi
  if [ $(($(date +%s) - start)) -ge "$timeout_s" ]; then
    mkdir -p "$out" && cp "$shot" "$out/window-smoke.png" 2>/dev/null || true
    cat "$tmp/app.log" >&2
    fail "the UI did not render within ${timeout_s}s ($colours colours, $accent_pixels accent pixels; screenshot: $out/window-smoke.png)"
  fi
  sleep 0.5
done

# Rendered: it must also stay up (no crash right after the first paint).
sleep 2
kill -0 "$app_pid" 2>/dev/null || { cat "$tmp/app.log" >&2; fail "the app died after rendering"; }
import -window root "$shot"
[ -d "$library" ] || fail "the app did not create its library folder $library"
mkdir -p "$out"
cp "$shot" "$out/window-smoke.png"
echo "window-smoke: ok in $(($(date +%s) - start))s: $colours colours, $accent_pixels accent pixels; screenshot $out/window-smoke.png"
