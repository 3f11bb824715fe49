#!/usr/bin/env bash
# Builds the frontend into ui/dist (the Tauri crate embeds it at compile time): `npm ci` when
# node_modules is missing or older than package-lock.json, then `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
npm run build --silent
