#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (after tools/gpu-build.sh here, plain and with VCLIP_CUDNN=1; carry
# `.gpu/pack`, or the plain binaries): the CUDA parity tests, then S3D-G clips/s at T=32, batch
# 32, in f32 and bf16 for each of our builds (.gpu/vclip: candle's im2col conv2d;
# .gpu/vclip-cudnn: conv2d through cuDNN, when present) with a per-stage profile at f32, and the
# PyTorch eager reference (tools/reference.py) on the same weights and input. Prints a table last
# (one row per build and dtype); everything is also written to $OUT.
# Usage: tools/gpu-bench.sh [RUNS] [FRAMES] [BATCH]   (defaults 20 32 32)
# A dry run of this script's logic on a machine without a GPU: VCLIP_GPU_FLAG= (empty) and
# VCLIP_GPU_DIR=a folder holding CPU builds under the same names, in place of .gpu.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
FRAMES=${2:-32}
BATCH=${3:-32}
GPU_FLAG=${VCLIP_GPU_FLAG---gpu}
G=${VCLIP_GPU_DIR:-.gpu}
OUT=${OUT:-$G/out}
mkdir -p "$OUT"
start=$(date +%s)
step() { echo "== $* ($(($(date +%s) - start)) s)"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

# Unpack the xz-packed binaries (tools/gpu-build.sh writes .gpu/pack/*.xz); plain ones are used
# as they are when no pack came along.
for f in "$G"/pack/*.xz; do
  [ -e "$f" ] || continue
  b=$G/$(basename "$f" .xz)
  python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as i, open(sys.argv[2], "wb") as o:
    shutil.copyfileobj(i, o)' "$f" "$b" && chmod +x "$b"
done
ls -la "$G"/

# cuDNN for .gpu/vclip-cudnn (it links libcudnn.so.9): PyTorch's wheel, site-packages/nvidia/cudnn.
CUDNN_LIB=$(python3 - <<'EOF' 2>/dev/null
import glob, importlib, os
for mod, sub in (("nvidia.cudnn", "lib"), ("torch", "lib")):
    try:
        roots = importlib.import_module(mod).__path__
    except ImportError:
        continue
    for r in roots:
        if glob.glob(os.path.join(r, sub, "libcudnn.so.9*")):
            print(os.path.join(r, sub))
            raise SystemExit
EOF
)
echo "cuDNN library folder: ${CUDNN_LIB:-not found}"
run() { # NAME CMD...: CMD with the run-time library path that build NAME (vclip-cudnn, ...) needs
  local name=$1
  shift
  case $name in
    *-cudnn) LD_LIBRARY_PATH="$CUDNN_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@" ;;
    *) "$@" ;;
  esac
}
bins=()
for b in vclip vclip-cudnn; do [ -x "$G/$b" ] && bins+=("$b"); done
for b in "${bins[@]}"; do
  echo "-- $b links:"
  run "$b" ldd "$G/$b" | grep -E 'cud|cublas|curand|nvrtc|not found'
done

# Parity first: every `::cuda` test of the model crate (f32 parity with the PyTorch fixtures,
# bf16/f16 closeness), on this GPU, for each build of the tests that came along.
status=()
for t in model-tests model-tests-cudnn; do
  [ -x "$G/$t" ] || continue
  step "parity: $t"
  VCLIP_MODEL_FIXTURES=$PWD/crates/model/tests/fixtures run "$t" "$G/$t" cuda --test-threads 1 \
    --nocapture > "$OUT/$t.txt" 2>&1
  rc=$?
  grep -E 'features|mixed_5c|FAILED|panicked|test result' "$OUT/$t.txt"
  status+=("$t: exit $rc")
done

M=$G/model-full
# A random-weight full-size model: speed does not depend on the weights, and both sides load it.
[ -f "$M/config.json" ] || "$G/${bins[0]}" models init-random --preset full --seed 0 "$M"
jsons=()
for b in "${bins[@]}"; do
  for dt in f32 bf16; do
    step "bench: $b $dt"
    prof=0
    profile_flag=
    [ "$dt" = f32 ] && prof=1 && profile_flag=--profile # the per-stage profile, once per build
    run "$b" "$G/$b" bench encode --model "$M" $GPU_FLAG $profile_flag --frames "$FRAMES" \
      --batch "$BATCH" --dtype "$dt" --runs "$RUNS" --json > "$OUT/${b}_$dt.json" \
      2> "$OUT/${b}_$dt.err"
    rc=$?
    [ "$prof" = 1 ] && cat "$OUT/${b}_$dt.err"
    if [ "$rc" = 0 ]; then
      jsons+=("$OUT/${b}_$dt.json")
    else
      head -5 "$OUT/${b}_$dt.err"
      status+=("bench $b $dt: exit $rc")
    fi
  done
done
step "PyTorch baseline"
python3 tools/gpu_bench.py --model "$M" --frames "$FRAMES" --batch "$BATCH" --runs "$RUNS" \
  "${jsons[@]}" | tee "$OUT/table.txt"
step "done"
printf '%s\n' "${status[@]}"
