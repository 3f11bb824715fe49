#!/usr/bin/env bash
# Runs ON THE GPU MACHINE: issue #7's GPU checks of the CLIP family in one call, each against a
# baseline measured in the same run.
#   1. `vclip bench import --family clip --gpu` (tools/gpu-import-bench.sh): video-seconds per
#      wall-second with the full-size random ViT-B/32, as a ratio to decoding the same file alone;
#   2. the image tower alone, vclip (candle, f32) against PyTorch + transformers on the same
#      weights and synthetic frames (tools/clip_tower_bench.py), f32 — plus PyTorch's TF32 and
#      bf16 autocast for reference — with the largest difference of one frame's embedding.
# Optionally (FINETUNE=1) the fine-tuning step of the full VideoCLIP towers against PyTorch
# (tools/gpu-finetune-bench.sh) with the same binary.
# Prepare here:
#   VCLIP_MEDIA=1 tools/gpu-build.sh && tools/gpu-import-bench.sh --prepare
#   tools/gpu-build.sh        # optional: the model crate's CUDA parity tests, run first
# then carry .gpu/pack/vclip-media.xz, .gpu/pack/ffmpeg-libs.tar.xz, .gpu/bench (and
# .gpu/pack/model-tests.xz).
# Usage: [IMPORT=0] [FINETUNE=1] tools/gpu-clip-bench.sh [TOWER_BATCH...]   (default 64 256)
set -uo pipefail
cd "$(dirname "$0")/.."
G=${VCLIP_GPU_DIR:-.gpu}
export OUT=${OUT:-$G/out}
mkdir -p "$OUT"
# Parity first, when the model crate's CUDA test binary came along (`tools/gpu-build.sh`, carry
# .gpu/pack/model-tests.xz): every `::cuda` test, CLIP's image tower against the PyTorch fixture
# among them.
if [ -f "$G/pack/model-tests.xz" ]; then
  python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as i, open(sys.argv[2], "wb") as o:
    shutil.copyfileobj(i, o)' "$G/pack/model-tests.xz" "$G/model-tests" && chmod +x "$G/model-tests"
  VCLIP_MODEL_FIXTURES=$PWD/crates/model/tests/fixtures "$G/model-tests" cuda --test-threads 1 \
    --nocapture > "$OUT/model-tests.txt" 2>&1
  echo "model-tests (cuda): exit $?"
  grep -E 'parity|FAILED|panicked|test result' "$OUT/model-tests.txt"
fi
if [ "${IMPORT:-1}" = 1 ]; then
  FAMILY=clip RUNS=${RUNS:-3} tools/gpu-import-bench.sh 16 64
else # IMPORT=0: the towers alone (no video has to travel)
  python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as i, open(sys.argv[2], "wb") as o:
    shutil.copyfileobj(i, o)' "$G/pack/vclip-media.xz" "$G/vclip-media" && chmod +x "$G/vclip-media"
  tar -xJf "$G/pack/ffmpeg-libs.tar.xz" -C "$G"
fi
export LD_LIBRARY_PATH="$PWD/$G/ffmpeg-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
M=$G/model-full-clip
[ -f "$M/config.json" ] ||
  "$G/vclip-media" models init-random --family clip --preset full --seed 0 "$M"
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(64 256)
for b in "${batches[@]}"; do
  echo "== image tower, batch $b"
  "$G/vclip-media" bench encode --family clip --model "$M" --gpu --batch "$b" --runs 20 --json \
    > "$OUT/tower_vclip_b$b.json" || continue
  for p in f32 tf32 bf16; do
    python3 tools/clip_tower_bench.py --model "$M" --device cuda --batch "$b" --runs 20 \
      --warmup 3 --precision "$p" --vclip "$OUT/tower_vclip_b$b.json" \
      > "$OUT/tower_torch_b${b}_$p.json"
  done
done
if [ "${FINETUNE:-0}" = 1 ]; then
  cp "$G/vclip-media" "$G/vclip"
  tools/gpu-finetune-bench.sh 512 10
fi
python3 - "$OUT" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
print("\n| what | vclip | baseline | ratio |\n|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "import_clip_*.json"))):
    j = json.load(open(f))
    print(f"| import, CLIP batch {j['batch']} ({j['device']}) | {j['import_video_s_per_s']:.1f} "
          f"video-s/s | decode alone {j['decode_video_s_per_s']:.1f} | {j['ratio_to_decode']:.2f} "
          f"(tower alone {j['backbone_alone_video_s_per_s']:.1f}) |")
for f in sorted(glob.glob(os.path.join(out, "tower_torch_*.json"))):
    j = json.load(open(f))
    print(f"| image tower batch {j['batch']}, PyTorch {j['precision']} ({j['device']}) | "
          f"{j['vclip_frames_per_s']:.0f} frames/s | {j['frames_per_s']:.0f} | "
          f"{j['ratio_vclip_to_pytorch']:.2f} (max diff {j['check_max_abs_diff']:.1e}) |")
f = os.path.join(out, "finetune-pytorch.json")
if os.path.exists(f):
    j = json.load(open(f))
    print(f"| fine-tune step, {j['pairs']} pairs, f32 | {j['vclip_steps_per_s']:.2f} steps/s | "
          f"{j['steps_per_s']:.2f} | {j['ratio_vclip_over_pytorch']:.2f} |")
EOF
