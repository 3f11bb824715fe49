#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine: installs whatever is missing (apt
# packages, npm packages, test assets) and runs every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh all
./scripts/ui-build.sh
./scripts/fetch-test-assets.sh

# All crates' unit, integration and end-to-end tests (tests/ drives the vclip binary).
cargo test --workspace --locked

# The desktop window really opens and renders under a virtual display.
./scripts/window-smoke.sh
