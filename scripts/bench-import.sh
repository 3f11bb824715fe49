#!/usr/bin/env bash
# Import benchmark of issue #4: video-seconds per wall-second of `vclip import` with the
# full-size random-weight model, as a ratio to decoding the same file alone in the same run.
# Generates a 1080p H.264 file once under target/bench/. Usage:
#   scripts/bench-import.sh [SECONDS] [extra `vclip bench import` options, e.g. --json --gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh media
secs=${1:-20}
[ $# -gt 0 ] && shift
file=target/bench/1080p-${secs}s.mp4
if [ ! -s "$file" ]; then
  mkdir -p target/bench
  echo "generating $file ($secs s, 1920x1080, 30 fps, H.264)…" >&2
  ffmpeg -v error -nostdin -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" -t "$secs" \
    -pix_fmt yuv420p -c:v libx264 -preset veryfast -g 60 "$file.tmp.mp4"
  mv "$file.tmp.mp4" "$file"
fi
cargo build --release --bin vclip
./target/release/vclip bench import "$file" "$@"
