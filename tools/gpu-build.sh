#!/usr/bin/env bash
# Builds the CUDA `vclip` (no ffmpeg: the GPU machine has no ffmpeg libraries) for Hopper
# (H100/H200) on this CPU machine, as shared/docs/GPU.md describes, into .gpu/vclip
# (git-ignored, carried to the GPU machine). First build: ~11 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA_PIP=${CUDA_PIP:-$HOME/.cache/cuda13-pip}
if [ ! -x "$CUDA_PIP/nvidia/cu13/bin/nvcc" ]; then
  # One pip command: a second `pip install --target` into the same folder wipes `nvidia/`.
  python3 -m pip install -q --target "$CUDA_PIP" \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88 \
    nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35
fi
export CUDA_HOME=$CUDA_PIP/nvidia/cu13 PATH=$CUDA_PIP/nvidia/cu13/bin:$PATH
# candle-core links the libraries directly: unversioned names plus a link-time libcuda stub
# (never on the run-time library path: the GPU machine has the real libcuda).
(cd "$CUDA_HOME/lib" && for l in cublas cublasLt nvrtc cudart; do ln -sf "lib$l.so.13" "lib$l.so"; done \
  && ln -sf libcurand.so.10 libcurand.so && mkdir -p stubs && cd stubs \
  && { gcc -E -P -I"$CUDA_HOME/include" "$CUDA_HOME/include/cuda.h" \
         | grep -oE '\bcu[A-Z][A-Za-z0-9_]*\s*\(' | sed 's/\s*(//';
       grep -oE 'CUDAAPI\s+cu[A-Za-z0-9_]+' "$CUDA_HOME/include/cuda.h" | awk '{print $2}'; } \
     | sort -u | sed 's/.*/void &(void){}/' > cuda_stub.c \
  && gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so cuda_stub.c)
export CUDA_COMPUTE_CAP=90
export RUSTFLAGS="-L native=$CUDA_HOME/lib -L native=$CUDA_HOME/lib/stubs"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-cuda}
cargo build --release --locked --no-default-features --features cuda --bin vclip
mkdir -p .gpu
cp "$CARGO_TARGET_DIR/release/vclip" .gpu/vclip
strip .gpu/vclip
# The model crate's test binary with CUDA: the parity tests' `::cuda` variants run on the GPU host.
tests=$(cargo test --release --locked -p vclip-model --features cuda --test tests --no-run \
  --message-format=json | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "tests" and m.get("executable"):
        print(m["executable"])')
cp "$tests" .gpu/model-tests
strip .gpu/model-tests
ls -la .gpu/vclip .gpu/model-tests
