#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (which has no ffmpeg): `vclip bench import --gpu` of issue #4 — import
# throughput (video-seconds per wall-second) with the full-size random-weight model on CUDA, as a
# ratio to decoding the same file alone in the same run (target: >= 0.8, import decode-bound).
# Prepare here:
#   VCLIP_MEDIA=1 tools/gpu-build.sh      # .gpu/pack/vclip-media.xz, .gpu/pack/ffmpeg-libs.tar.xz
#   tools/gpu-import-bench.sh --prepare   # .gpu/bench/1080p-60s.mp4 (H.264, 1920x1080, 30 fps)
# then carry .gpu/pack/vclip-media.xz, .gpu/pack/ffmpeg-libs.tar.xz and .gpu/bench.
# Usage: tools/gpu-import-bench.sh [BATCH...]   (S3D-G seconds per call; default 32)
#        FAMILY=clip tools/gpu-import-bench.sh [BATCH...]   (CLIP ViT-B/32 frames per call, f32)
set -uo pipefail
cd "$(dirname "$0")/.."
G=${VCLIP_GPU_DIR:-.gpu}
VIDEO=$G/bench/1080p-60s.mp4
if [ "${1:-}" = --prepare ]; then
  mkdir -p "$G/bench"
  # testsrc2 moves everywhere in the frame; 4 Mb/s is a typical 1080p30 camera/phone rate.
  ffmpeg -v error -nostdin -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" -t 60 \
    -pix_fmt yuv420p -c:v libx264 -preset veryfast -b:v 4M -g 60 "$VIDEO.tmp.mp4" &&
    mv "$VIDEO.tmp.mp4" "$VIDEO" && ls -la "$VIDEO"
  exit $?
fi
OUT=${OUT:-$G/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
nproc
python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as i, open(sys.argv[2], "wb") as o:
    shutil.copyfileobj(i, o)' "$G/pack/vclip-media.xz" "$G/vclip-media" && chmod +x "$G/vclip-media"
tar -xJf "$G/pack/ffmpeg-libs.tar.xz" -C "$G"
export LD_LIBRARY_PATH="$PWD/$G/ffmpeg-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$G/vclip-media" | grep -E 'not found|avcodec|cublas' || true
"$G/vclip-media" probe "$VIDEO" || exit 1
FAMILY=${FAMILY:-videoclip}
M=$G/model-full-$FAMILY
[ -f "$M/config.json" ] ||
  "$G/vclip-media" models init-random --family "$FAMILY" --preset full --seed 0 "$M"
dtypes=(f32 bf16)
[ "$FAMILY" = videoclip ] || dtypes=(f32) # --dtype is S3D-G's; CLIP runs in f32
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(32)
for b in "${batches[@]}"; do
  for dt in "${dtypes[@]}"; do
    echo "== batch $b, $dt"
    "$G/vclip-media" bench import "$VIDEO" --model "$M" --gpu --batch "$b" --dtype "$dt" --json \
      --runs "${RUNS:-3}" | tee "$OUT/import_${FAMILY}_b${b}_$dt.json"
  done
done
