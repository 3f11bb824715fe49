#!/usr/bin/env bash
# Quick start: installs whatever is missing, then opens the VClip window on the default library.
#
#   scripts/app.sh                   # default library ($VCLIP_LIBRARY or ~/.local/share/vclip/library)
#   scripts/app.sh --library DIR     # any other library folder (created if missing)
#
# Needs Rust (https://rustup.rs) and Node.js 20.19+ with npm (https://nodejs.org); everything else
# (system packages, npm packages) is installed here when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "app: '$1' not found: $2" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs"
need npm "install Node.js 20.19 or newer (https://nodejs.org, or nvm)"

scripts/deps.sh build

# npm ci when node_modules is missing or stale, then the UI build into ui/dist.
scripts/ui-build.sh

# `custom-protocol` embeds ui/dist in the binary; without it the window would wait for the Vite
# dev server (`devUrl`).
exec cargo run --release -p vclip-app --features custom-protocol -- "$@"
