#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine: installs whatever is missing (apt
# packages, npm packages, test assets) and runs every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh all
./scripts/ui-build.sh
./scripts/fetch-test-assets.sh

# All crates' unit, integration and end-to-end tests (tests/ drives the vclip binary). The app's
# tests build with the UI embedded (custom-protocol), as window-smoke.sh builds the app below, so
# Tauri is compiled once, not twice (minutes and hundreds of MB on a 2-core CI machine).
cargo test --workspace --locked --features vclip-app/custom-protocol

# The kernels on a CPU without AVX-512, whatever this machine has: vclip-kernels' and the model
# crate's unit tests (each 8-bit kernel against its scalar reference, the fused CPU ops) and every CPU level it can
# run (tests/cpu_levels.rs) on qemu-user's emulated Haswell (AVX2 + FMA, no AVX-512). The
# binaries are the ones the line above built.
./scripts/test-avx2.sh

# The aarch64 build: the NEON 8-bit kernel against its scalar reference under qemu-user, and the
# model crate type-checked for aarch64 (its own target folder).
./scripts/test-arm.sh

# The desktop window really opens and renders under a virtual display.
./scripts/window-smoke.sh

# The real window driven over WebDriver: drop, search, play the moment (scripts/app-e2e.sh), on
# the app binary window-smoke.sh built and the `vclip` binary the tests above built (building it
# alone would compile its dependencies again with other features); screenshots go to
# target/app-e2e/.
target="${CARGO_TARGET_DIR:-$PWD/target}"
VCLIP_APP_BIN="$target/debug/vclip-app" VCLIP_CLI_BIN="$target/debug/vclip" \
  VCLIP_E2E_SHOTS="$target/app-e2e" ./scripts/app-e2e.sh
