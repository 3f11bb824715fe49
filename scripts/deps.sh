#!/usr/bin/env bash
# Installs every system package VClip needs to build, run and test, idempotently.
# Debian 12 / Ubuntu 22.04+. Only packages that are missing are installed.
# macOS: `brew install ffmpeg pkg-config node` (Tauri needs only Xcode's command-line tools).
# Windows: vcpkg `ffmpeg[core,avcodec,avformat,swscale]`, set FFMPEG_DIR; WebView2 ships with Windows.
set -euo pipefail

# ffmpeg (media crate, ffmpeg-next bindgen) and the ffmpeg CLI (used by tests to generate videos).
FFMPEG_PKGS="libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavfilter-dev
  libavdevice-dev libswresample-dev pkg-config clang libclang-dev ffmpeg"
# Tauri 2 desktop shell (WebKitGTK).
TAURI_PKGS="libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev build-essential libssl-dev patchelf"
# Window tests under a virtual display: Xvfb, WebDriver (scripts/app-e2e.sh), screenshots, and
# GStreamer's VP8/WebM plugins for the player test. (Users' H.264 files play with
# gstreamer1.0-libav installed; see the README.)
WINDOW_TEST_PKGS="xvfb webkit2gtk-driver imagemagick gstreamer1.0-plugins-good"
# The kernel tests also run on emulated CPUs whatever CPU the test machine has
# (scripts/test.sh): x86-64 without AVX-512 (qemu-user's Haswell and Nehalem), and aarch64 with
# and without dot products (cross-compiled: the aarch64 C toolchain links the test binary).
EMULATION_PKGS="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# On-screen text (crates/ocr links libtesseract; the English pack reads the text) and the fonts
# the OCR tests draw their text with.
OCR_PKGS="libtesseract-dev tesseract-ocr-eng fonts-dejavu-core"
# Python's venv and pip: scripts/fetch-test-assets.sh fetches test assets from PyPI and makes
# .cache/otio (OpenTimelineIO, which reads the exported EDL and FCPXML files back).
PYTHON_PKGS="python3-venv python3-pip"

case "${1:-all}" in
  build) want="$FFMPEG_PKGS $TAURI_PKGS $OCR_PKGS" ;;
  media) want="$FFMPEG_PKGS" ;;
  all) want="$FFMPEG_PKGS $TAURI_PKGS $OCR_PKGS $WINDOW_TEST_PKGS $EMULATION_PKGS $PYTHON_PKGS" ;;
  *) echo "usage: $0 [all|build|media]" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
