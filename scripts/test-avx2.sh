#!/usr/bin/env bash
# Runs the CPU-kernel tests (vclip-kernels' unit tests: every 8-bit kernel against its scalar
# reference; the model crate's unit tests and tests/cpu_levels.rs) on emulated
# CPUs without AVX-512 — qemu-user's Haswell (AVX2 and FMA) and Nehalem (SSE4.2, no AVX) — so
# the paths of an AVX2-only laptop and of an older CPU are exercised on any machine, including
# one with AVX-512 VNNI. Uses the test binaries of the workspace build (`cargo test --workspace
# --features vclip-app/custom-protocol`, as scripts/test.sh builds them; nothing is rebuilt).
# `CPUS="..."` picks other qemu CPU models.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each model, the CPU levels it must report (tests/cpu_levels.rs prints them) and the 8-bit
# kernels it must run (vclip-kernels' tests print them).
declare -A expect=([Haswell-v4]="Portable, Avx2" [Nehalem]="Portable")
declare -A expect_q8=([Haswell-v4]="Avx2" [Nehalem]="")
cpus="${CPUS:-Haswell-v4 Nehalem}"
command -v qemu-x86_64 >/dev/null || { echo "test-avx2: qemu-x86_64 missing (scripts/deps.sh all)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "test-avx2: not an x86-64 machine, nothing to emulate"; exit 0; }
mapfile -t bins < <(cargo test --workspace --locked --features vclip-app/custom-protocol --no-run \
    --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    if (t["name"] in ("vclip_model", "vclip_kernels") and "lib" in t["kind"]) or t["name"] == "cpu_levels":
        print(m["executable"])
')
[ "${#bins[@]}" -eq 3 ] || { echo "test-avx2: expected 3 test binaries, found: ${bins[*]}" >&2; exit 1; }
for cpu in $cpus; do
  for b in "${bins[@]}"; do
    echo "test-avx2: $(basename "$b") on an emulated $cpu"
    # TCG warns about CPUID bits it does not model; they do not matter here.
    if ! out=$(qemu-x86_64 -cpu "$cpu" "$b" --test-threads 2 --nocapture 2>&1 |
      grep -v "TCG doesn't support"); then
      echo "$out" >&2
      echo "test-avx2: $(basename "$b") failed on an emulated $cpu" >&2
      exit 1
    fi
    echo "$out" | grep -E "^test |test result|levels this CPU|kernels this CPU"
    if [[ $(basename "$b") == cpu_levels-* && -n "${expect[$cpu]:-}" ]] &&
      ! grep -qF "levels this CPU runs: [${expect[$cpu]}]" <<<"$out"; then
      echo "test-avx2: $cpu did not report the levels [${expect[$cpu]}]: the emulation did not hide the wider instructions" >&2
      exit 1
    fi
    if [[ $(basename "$b") == vclip_kernels-* && -n "${expect_q8[$cpu]+set}" ]] &&
      ! grep -qF "8-bit kernels this CPU runs: [${expect_q8[$cpu]}]" <<<"$out"; then
      echo "test-avx2: $cpu did not run the 8-bit kernels [${expect_q8[$cpu]}]" >&2
      exit 1
    fi
  done
done
