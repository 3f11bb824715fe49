#!/usr/bin/env bash
# Builds the CUDA `vclip` (no ffmpeg: the GPU machine has no ffmpeg libraries) for Hopper
# (H100/H200) on this CPU machine, as docs/gpu.md describes, into .gpu/vclip and the model
# crate's CUDA test binary into .gpu/model-tests (git-ignored, carried to the GPU machine).
# First build: ~11 min on 2 cores.
#
# VCLIP_CUDNN=1 builds the cuDNN variant instead (feature `cudnn`: candle's conv2d through cuDNN
# rather than im2col + cuBLAS) into .gpu/vclip-cudnn and .gpu/model-tests-cudnn, in its own target
# folder (target-cudnn). It links libcudnn.so.9 directly; at run time the GPU machine's own cuDNN
# (PyTorch's wheel, site-packages/nvidia/cudnn/lib) must be on LD_LIBRARY_PATH
# (tools/gpu-bench.sh does that).
#
# VCLIP_MEDIA=1 builds the CUDA `vclip` with ffmpeg (feature `media`, for `vclip bench import
# --gpu`) into .gpu/vclip-media, and packs the ffmpeg libraries it needs into .gpu/ffmpeg-libs
# (tools/pack-ffmpeg-libs.py: the decoders are real, the rest of Debian's closure is stubbed);
# tools/gpu-import-bench.sh runs it with LD_LIBRARY_PATH pointing there.
#
# Every binary is also packed with xz into .gpu/pack/ (about 1/5 of the size): carry `.gpu/pack`
# alone when the plain binaries together exceed what travels; tools/gpu-bench.sh unpacks them.
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
features=cuda
suffix=
if [ "${VCLIP_CUDNN:-0}" = 1 ]; then
  # The cuDNN that PyTorch 2.11 (CUDA 13) pins, i.e. the library the GPU machine has. Its own
  # folder: a second `pip install --target` into $CUDA_PIP would wipe `nvidia/`.
  CUDNN_PIP=${CUDNN_PIP:-$HOME/.cache/cudnn13-pip}
  CUDNN_LIB=$CUDNN_PIP/nvidia/cudnn/lib
  if [ ! -f "$CUDNN_LIB/libcudnn.so.9" ]; then
    python3 -m pip install -q --no-deps --target "$CUDNN_PIP" nvidia-cudnn-cu13==9.19.0.56
  fi
  ln -sf libcudnn.so.9 "$CUDNN_LIB/libcudnn.so"
  RUSTFLAGS="$RUSTFLAGS -L native=$CUDNN_LIB"
  features=cudnn
  suffix=-cudnn
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-cudnn}
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-cuda}
if [ "${VCLIP_MEDIA:-0}" = 1 ]; then
  features="$features,media"
  suffix="$suffix-media"
fi
cargo build --release --locked --no-default-features --features "$features" --bin vclip
mkdir -p .gpu/pack
cp "$CARGO_TARGET_DIR/release/vclip" ".gpu/vclip$suffix"
strip ".gpu/vclip$suffix"
if [ "${VCLIP_MEDIA:-0}" = 1 ]; then
  python3 tools/pack-ffmpeg-libs.py ".gpu/vclip$suffix" .gpu/ffmpeg-libs
  tar -cJf .gpu/pack/ffmpeg-libs.tar.xz.part -C .gpu ffmpeg-libs
  mv .gpu/pack/ffmpeg-libs.tar.xz.part .gpu/pack/ffmpeg-libs.tar.xz
  xz -T0 -6 -c ".gpu/vclip$suffix" > ".gpu/pack/vclip$suffix.xz.part"
  mv ".gpu/pack/vclip$suffix.xz.part" ".gpu/pack/vclip$suffix.xz"
  ls -la ".gpu/vclip$suffix" .gpu/pack/
  exit 0
fi
# The model crate's test binary with CUDA: the parity tests' `::cuda` variants run on the GPU host.
tests=$(cargo test --release --locked -p vclip-model --features "$features" --test tests --no-run \
  --message-format=json | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "tests" and m.get("executable"):
        print(m["executable"])')
cp "$tests" ".gpu/model-tests$suffix"
strip ".gpu/model-tests$suffix"
for f in "vclip$suffix" "model-tests$suffix"; do
  xz -T0 -6 -c ".gpu/$f" > ".gpu/pack/$f.xz.part" && mv ".gpu/pack/$f.xz.part" ".gpu/pack/$f.xz"
done
ls -la ".gpu/vclip$suffix" ".gpu/model-tests$suffix" .gpu/pack/
