#!/usr/bin/env bash
# Regenerates the UI's TypeScript types (ui/src/bindings/) from the Rust types that cross the
# desktop app's IPC boundary (ts-rs; see src-tauri/src/bindings.rs). Run it after changing such a
# type and commit the result: `cargo test` fails while the committed files are out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
VCLIP_UPDATE_BINDINGS=1 cargo test -p vclip-app --lib --locked bindings_are_up_to_date -- --exact bindings::bindings_are_up_to_date
