#!/usr/bin/env bash
# S3D-G on the CPU against PyTorch eager (tools/reference.py) on the same random full-size
# weights, the same synthetic clips and the same cores, in one run; prints PyTorch's clips/s,
# ours, the ratio and the largest relative difference of the features (tools/gpu_bench.py).
# Needs a release build (`cargo build --release`) and PyTorch (`pip install torch safetensors
# numpy`; the CPU is enough).
# Usage: scripts/bench-s3d-cpu.sh [RUNS] [BATCH] [FRAMES]   (defaults 3 4 30, import's batch)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BATCH=${2:-4}
FRAMES=${3:-30}
VCLIP=${VCLIP:-target/release/vclip}
[ -x "$VCLIP" ] || { echo "bench-s3d-cpu: $VCLIP missing (cargo build --release)" >&2; exit 1; }
python3 -c 'import torch, safetensors, numpy' 2>/dev/null ||
  { echo "bench-s3d-cpu: needs PyTorch (pip install torch safetensors numpy)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$VCLIP" models init-random --preset full "$dir/model" >/dev/null
echo "== vclip (batch $BATCH, T=$FRAMES, median of $RUNS)"
"$VCLIP" bench encode --model "$dir/model" --batch "$BATCH" --frames "$FRAMES" --runs "$RUNS" \
  --text-batch 1 --json >"$dir/vclip_f32.json"
echo "== PyTorch eager, $(nproc) threads"
OMP_NUM_THREADS=$(nproc) python3 tools/gpu_bench.py --model "$dir/model" --frames "$FRAMES" \
  --batch "$BATCH" --runs "$RUNS" --f32-only "$dir/vclip_f32.json"
