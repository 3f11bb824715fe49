#!/usr/bin/env bash
# What the import's screen-text stage costs: makes a 60 s screen recording (slides changing every
# 6 s, then a scrolling terminal; 1280x720) and a 60 s textured video without any text (a fractal
# zoom, standing in for camera footage: no camera video can be fetched here), then runs
# `vclip bench screen` on both (import alone vs. import + screen text, same run).
# Usage: scripts/bench-screen.sh [RUNS] [PRESET] [FAMILY]   (defaults: 3 full videoclip)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
preset="${2:-full}"
family="${3:-videoclip}"
dir="${VCLIP_BENCH_DIR:-$(mktemp -d)}"
fonts=/usr/share/fonts/truetype/dejavu
x264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p)

draws=""
for i in 0 1 2 3 4; do
  t0=$((i * 6)); t1=$((t0 + 6))
  draws+="drawtext=fontfile=$fonts/DejaVuSans.ttf:text='Slide $((i + 1)) of the quarterly review':fontsize=48:fontcolor=white:x=80:y=80:enable='between(t,$t0,$t1)',"
  draws+="drawtext=fontfile=$fonts/DejaVuSerif.ttf:text='Point $((i + 1)) - revenue grew in region $((i + 3))':fontsize=30:fontcolor=0xe0e0e0:x=80:y=260:enable='between(t,$t0,$t1)',"
done
seq 1 80 | sed 's/.*/$ make test  # step & of the build, compiling module_&.rs/' >"$dir/terminal.txt"
ffmpeg -v error -y -f lavfi -i "color=c=0x1d2b3a:s=1280x720:r=30" -t 30 -vf "${draws%,}" \
  "${x264[@]}" "$dir/slides.mp4"
ffmpeg -v error -y -f lavfi -i "color=c=black:s=1280x720:r=30" -t 30 \
  -vf "drawtext=fontfile=$fonts/DejaVuSansMono.ttf:textfile=$dir/terminal.txt:fontsize=22:fontcolor=0xd0ffd0:line_spacing=8:x=30:y=720-30*t" \
  "${x264[@]}" "$dir/terminal.mp4"
ffmpeg -v error -y -i "$dir/slides.mp4" -i "$dir/terminal.mp4" \
  -filter_complex "[0:v][1:v]concat=n=2:v=1:a=0[v]" -map "[v]" "${x264[@]}" "$dir/screen-recording.mp4"
ffmpeg -v error -y -f lavfi -i "mandelbrot=s=1280x720:r=30" -t 60 "${x264[@]}" "$dir/no-text.mp4"

bin="${VCLIP_BIN:-target/release/vclip}"
[ -x "$bin" ] || cargo build --release --bin vclip
"$bin" bench screen "$dir/screen-recording.mp4" "$dir/no-text.mp4" \
  --runs "$runs" --preset "$preset" --family "$family"
