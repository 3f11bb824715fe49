#!/usr/bin/env bash
# The aarch64 build, from an x86-64 machine: vclip-kernels' tests (the NEON dot-product 8-bit
# kernel and the NEON quantization against their scalar reference) cross-compiled and run
# under qemu-user — on an emulated CPU with dot products (`max`: the NEON kernel runs) and one
# without (`cortex-a72`: the portable path) — and `cargo check` of the model crate (candle,
# the towers, the NEON dispatch) for aarch64, the code Apple silicon, Graviton and Snapdragon
# laptops build.
# Needs `rustup`, Debian's gcc-aarch64-linux-gnu and qemu-user (scripts/deps.sh all).
# Its own target folder, so the host build's artifacts are never invalidated.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  # The aarch64 standard library comes from rustup's server; on a machine that cannot reach it
  # the check is skipped, loudly, rather than failing every other test with it.
  if ! rustup target add "$target"; then
    echo "test-arm: SKIPPED — could not install the $target standard library (rustup target add failed)" >&2
    exit 0
  fi
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/aarch64"
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "test-arm: aarch64-linux-gnu-gcc missing (scripts/deps.sh all)" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "test-arm: qemu-aarch64 missing (scripts/deps.sh all)" >&2; exit 1; }
# Each emulated CPU, and the 8-bit kernels it must run.
declare -A expect=([max]="NeonDot" [cortex-a72]="")
for cpu in max cortex-a72; do
  echo "test-arm: vclip-kernels on an emulated aarch64 $cpu"
  out=$(CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu" \
    cargo test --locked -p vclip-kernels --target "$target" --lib -- --nocapture --test-threads 1 2>&1) ||
    { echo "$out" >&2; echo "test-arm: vclip-kernels failed on $cpu" >&2; exit 1; }
  echo "$out" | grep -E "^test |test result"
  grep -qF "8-bit kernels this CPU runs: [${expect[$cpu]}]" <<<"$out" ||
    { echo "test-arm: $cpu did not run the 8-bit kernels [${expect[$cpu]}]" >&2; exit 1; }
done
echo "test-arm: cargo check of vclip-model for $target"
cargo check --locked -p vclip-model --target "$target"
