#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (after tools/gpu-build.sh here; carry `.gpu`): S3D-G clips/s at T=32,
# batch 32, in f32, f16 and bf16, for our candle build and for the PyTorch eager reference
# (tools/reference.py) with the same weights, checking both compute the same features.
# Prints a table last. Usage: tools/gpu-bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
OUT=${OUT:-.gpu/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
# Parity first: every `::cuda` test of the model crate (f32 parity with the PyTorch fixtures, bf16/f16
# closeness), on this GPU.
VCLIP_MODEL_FIXTURES=$PWD/crates/model/tests/fixtures .gpu/model-tests cuda --test-threads 1 \
  2>&1 | tee "$OUT/cuda-tests.txt"
M=.gpu/model-full
# A random-weight full-size model: speed does not depend on the weights, and both sides load it.
[ -f "$M/config.json" ] || .gpu/vclip models init-random --preset full --seed 0 "$M"
for dt in f32 f16 bf16; do
  .gpu/vclip bench encode --model "$M" --gpu --frames 32 --batch 32 --dtype "$dt" \
    --runs "$RUNS" --json > "$OUT/vclip_$dt.json"
done
python3 tools/gpu_bench.py --model "$M" --frames 32 --batch 32 --runs "$RUNS" \
  "$OUT/vclip_f32.json" "$OUT/vclip_f16.json" "$OUT/vclip_bf16.json"
