#!/usr/bin/env bash
# The CLIP image tower alone, vclip (candle) against PyTorch in the same run, on the same
# random-weight full-size ViT-B/32 and the same synthetic frames: frames per second of each and
# their ratio, plus the largest difference of one frame's embedding; for vclip's f32 tower and
# for its q8 tower (import's default on the CPU). Needs torch and
# transformers (`pip install torch transformers safetensors`). Usage:
#   scripts/bench-clip-tower.sh [BATCH] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-16}
runs=${2:-5}
cargo build --release --locked --bin vclip
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/vclip models init-random --family clip --preset full "$tmp/model" >/dev/null
# vclip's f32 tower is the like-for-like comparison (the embeddings agree to ~1e-7); its q8 tower
# (import's default on the CPU) is compared with the same PyTorch f32 baseline, measured again.
for precision in f32 q8; do
  echo "== vclip image tower $precision vs PyTorch f32"
  ./target/release/vclip bench encode --family clip --model "$tmp/model" --batch "$batch" \
    --runs "$runs" --image-precision "$precision" --json > "$tmp/vclip-$precision.json"
  python3 tools/clip_tower_bench.py --model "$tmp/model" --batch "$batch" --runs "$runs" \
    --vclip "$tmp/vclip-$precision.json"
done
