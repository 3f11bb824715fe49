#!/usr/bin/env bash
# End-to-end test of the real window over WebDriver: Xvfb + tauri-driver + WebKitWebDriver
# (Debian's webkit2gtk-driver), driven by tests/app-e2e/run.mjs (a small W3C WebDriver client
# on Node's fetch). Two generated videos with subtitles and a tiny random model: drop them, wait
# until they are ready, type a subtitle phrase, the right moment is first, Enter plays it from
# its start (the player's currentTime), a path outside the library is refused by the media
# server, Esc closes the player. Screenshots of the library, a search and the player go to
# docs/screenshots/ (or $VCLIP_E2E_SHOTS).
#
#   scripts/app-e2e.sh                       # builds what it needs, then runs the test
#   VCLIP_APP_BIN=path scripts/app-e2e.sh    # with an already built app (custom-protocol)
#   VCLIP_CLI_BIN=path …                     # and an already built `vclip` (makes the model)
#
# Needs scripts/deps.sh all (Xvfb, webkit2gtk-driver, ffmpeg, Node). tauri-driver is installed
# with cargo into .cache/tools the first time (~1 min).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
shots="${VCLIP_E2E_SHOTS:-$root/docs/screenshots}"
fail() { echo "app-e2e: FAIL: $*" >&2; exit 1; }
for tool in Xvfb WebKitWebDriver ffmpeg node; do
  command -v "$tool" >/dev/null || fail "'$tool' not found (scripts/deps.sh all installs it)"
done

driver="$(command -v tauri-driver || true)"
if [ -z "$driver" ]; then
  driver="$root/.cache/tools/bin/tauri-driver"
  if [ ! -x "$driver" ]; then
    echo "app-e2e: installing tauri-driver into .cache/tools…" >&2
    cargo install tauri-driver --locked --version 2.1.0 --root "$root/.cache/tools" --quiet
  fi
fi

bin="${VCLIP_APP_BIN:-}"
if [ -z "$bin" ]; then
  scripts/ui-build.sh
  cargo build --locked -p vclip-app --features custom-protocol
  bin="$target/debug/vclip-app"
fi
bin="$(realpath "$bin")"
vclip="${VCLIP_CLI_BIN:-}"
if [ -z "$vclip" ]; then
  cargo build --locked --bin vclip
  vclip="$target/debug/vclip"
fi
[ -x "$vclip" ] || fail "no vclip binary at $vclip"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two videos the window can play (VP8 in WebM: GStreamer's vpx and matroska plugins, from
# gstreamer1.0-plugins-good), each with a subtitle file next to it.
mkdir -p "$tmp/videos/kitchen" "$tmp/videos/forest"
video() { # NAME SOURCE SECONDS SRT
  local out="$tmp/videos/$1/$1.webm"
  ffmpeg -v error -nostdin -y -f lavfi -i "$2=size=320x240:rate=25" -t "$3" \
    -c:v libvpx -b:v 300k -deadline realtime -cpu-used 8 "$out"
  printf '%b' "$4" >"${out%.webm}.srt"
}
video kitchen testsrc2 20 "1\n00:00:03,000 --> 00:00:05,000\nCrack two eggs into a bowl.\n\n2\n00:00:12,000 --> 00:00:14,000\nNow whisk the eggs until they are fluffy.\n\n3\n00:00:16,000 --> 00:00:18,000\nPour them into the hot pan.\n"
video forest mandelbrot 6 "1\n00:00:01,000 --> 00:00:03,000\nThe quick brown fox runs through the forest.\n"
model="$tmp/model"
"$vclip" models init-random --preset tiny --seed 0 "$model" >/dev/null

Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
pids+=($!)
for _ in $(seq 100); do
  [ -s "$tmp/display" ] && break
  sleep 0.1
done
[ -s "$tmp/display" ] || { cat "$tmp/xvfb.log" >&2; fail "Xvfb did not start"; }
export DISPLAY=":$(head -n1 "$tmp/display")"

# A private HOME; the app finds the tiny model through VCLIP_MODEL (tauri-driver's environment
# reaches the app through WebKitWebDriver).
port=$((4444 + RANDOM % 1000))
HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" XDG_CONFIG_HOME="$tmp/home/.config" \
  VCLIP_MODEL="$model" \
  "$driver" --port "$port" --native-port $((port + 1000)) \
  --native-driver "$(command -v WebKitWebDriver)" >"$tmp/driver.log" 2>&1 &
pids+=($!)
# Up to 30 s for the driver to listen (a loaded CI machine), then a clear failure.
up=0
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] || { cat "$tmp/driver.log" >&2; fail "tauri-driver is not listening on port $port after 30 s"; }

VCLIP_E2E_DRIVER="http://127.0.0.1:$port" VCLIP_E2E_APP="$bin" \
  VCLIP_E2E_LIBRARY="$tmp/library" VCLIP_E2E_SHOTS="$shots" VCLIP_E2E_MODEL="$model" \
  VCLIP_E2E_VIDEOS="$tmp/videos/kitchen/kitchen.webm:$tmp/videos/forest/forest.webm" \
  timeout 300 node tests/app-e2e/run.mjs || { tail -${VCLIP_E2E_LOG_LINES:-30} "$tmp/driver.log" >&2; fail "see above"; }
