#!/usr/bin/env bash
# Makes a camera-like 1080p H.264 test video for the decode benchmarks (`vclip bench decode FILE
# --per-second`, issue #7): testsrc2 (moving content, a clock) with sensor-like temporal noise,
# libx264 High profile, preset medium, ~16 Mbit/s (a phone's 1080p30 rate), a fixed GOP (no
# scene-cut keyframes, as camera encoders do) with B-frames (-g 250 -bf 3) unless told otherwise.
# `--clean`: no noise and CRF 23 instead (testsrc2 as it is: ~1 Mbit/s, far easier to decode).
# Nothing it makes is committed: it writes under target/bench/ by default.
#
# Usage: scripts/make-bench-video.sh [OUT] [--seconds N] [--gop FRAMES] [--bframes N]
#                                    [--size WxH] [--rate FPS] [--preset P] [--bitrate 16M] [--clean]
# e.g. a phone-like file without B-frames and a 1-second GOP:
#   scripts/make-bench-video.sh target/bench/phone-60s.mp4 --gop 30 --bframes 0
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench/cam-60s.mp4
seconds=60 gop=250 bframes=3 size=1920x1080 rate=30 preset=medium bitrate=16M clean=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --gop) gop="$2"; shift 2 ;;
    --bframes) bframes="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --preset) preset="$2"; shift 2 ;;
    --bitrate) bitrate="$2"; shift 2 ;;
    --clean) clean=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) out="$1"; shift ;;
  esac
done
command -v ffmpeg >/dev/null || ./scripts/deps.sh media
if [ -s "$out" ]; then
  echo "$out exists" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
if [ "$clean" = 1 ]; then
  look="no noise, CRF 23" filter=null rc=(-crf 23)
else
  # -bufsize = one second of video: a camera's rate control, not a streaming one.
  look="sensor noise, $bitrate" filter="noise=alls=6:allf=t"
  rc=(-b:v "$bitrate" -maxrate "$bitrate" -bufsize "$bitrate")
fi
echo "generating $out ($seconds s, $size, $rate fps, H.264 $preset, GOP $gop, $bframes B-frames, $look)…" >&2
ffmpeg -v error -nostdin -y -f lavfi -i "testsrc2=size=$size:rate=$rate" \
  -vf "$filter" -t "$seconds" -pix_fmt yuv420p \
  -c:v libx264 -profile:v high -preset "$preset" "${rc[@]}" \
  -g "$gop" -sc_threshold 0 -bf "$bframes" -movflags +faststart "$out.tmp.mp4"
mv "$out.tmp.mp4" "$out"
echo "$out" >&2
