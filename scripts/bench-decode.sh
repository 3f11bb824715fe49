#!/usr/bin/env bash
# Decode benchmark of issue #2: our clip decoder vs. the ffmpeg CLI on a 10-minute 1080p H.264
# file, plus peak resident memory. Generates the file once (a few minutes on 2 cores) under
# target/bench/. Usage: scripts/bench-decode.sh [FILE] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh media
file="${1:-}"
if [ -z "$file" ] || [ "${file#--}" != "$file" ]; then
  file=target/bench/1080p-10min.mp4
  if [ ! -s "$file" ]; then
    mkdir -p target/bench
    echo "generating $file (10 min, 1920x1080, 30 fps, H.264)…" >&2
    ffmpeg -v error -nostdin -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" -t 600 \
      -pix_fmt yuv420p -c:v libx264 -preset veryfast -g 60 "$file.tmp.mp4"
    mv "$file.tmp.mp4" "$file"
  fi
else
  shift
fi
cargo build --release --bin vclip
./target/release/vclip bench decode "$file" "$@"
