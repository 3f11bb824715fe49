#!/usr/bin/env bash
# Renders assets/icon.svg into the PNG icon the Tauri bundle uses. Needs rsvg-convert
# (Debian: librsvg2-bin; macOS: brew install librsvg). Only needed when the logo changes.
set -euo pipefail
cd "$(dirname "$0")/.."
rsvg-convert -w 512 -h 512 assets/icon.svg -o src-tauri/icons/icon.png
