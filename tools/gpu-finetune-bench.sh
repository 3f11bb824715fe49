#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (after tools/gpu-build.sh here; carry `.gpu`): the fine-tuning step
# of the full-size model (random weights: speed does not depend on them) with `vclip bench
# finetune --gpu` and PyTorch eager on the same model and batch shape
# (tools/train_step_bench.py), in the same run; prints PyTorch's JSON with the ratio
# vclip / PyTorch (issue #8's target: >= 1.0). Everything is also written to $OUT.
# Usage: tools/gpu-finetune-bench.sh [PAIRS] [STEPS]   (defaults 512 10: the paper's batch)
# Dry run without a GPU: VCLIP_GPU_FLAG= (empty) VCLIP_GPU_DIR=target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-512}
STEPS=${2:-10}
GPU_FLAG=${VCLIP_GPU_FLAG---gpu}
G=${VCLIP_GPU_DIR:-.gpu}
OUT=${OUT:-$G/out}
mkdir -p "$OUT"
for f in "$G"/pack/vclip.xz; do
  [ -e "$f" ] || continue
  python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as i, open(sys.argv[2], "wb") as o:
    shutil.copyfileobj(i, o)' "$f" "$G/vclip" && chmod +x "$G/vclip"
done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
model=$OUT/full-model
[[ -f $model/config.json ]] || "$G/vclip" models init-random --preset full --seed 0 "$model"
# shellcheck disable=SC2086
"$G/vclip" bench finetune --model "$model" --pairs "$PAIRS" --steps "$STEPS" --warmup 2 \
  $GPU_FLAG --json | tee "$OUT/finetune-vclip.json"
device=cuda
[[ -z $GPU_FLAG ]] && device=cpu
python3 tools/train_step_bench.py --model "$model" --pairs "$PAIRS" --steps "$STEPS" --warmup 2 \
  --device "$device" --vclip "$OUT/finetune-vclip.json" | tee "$OUT/finetune-pytorch.json"
