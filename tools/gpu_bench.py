"""PyTorch eager baseline for `vclip bench encode` on the same weights and the same input.

Loads S3D-G from a VClip model directory (`s3d.safetensors`, the released state-dict names) into
`tools/reference.py`'s S3D, times it at the given T and batch in f32 (TF32 off), TF32 and bf16
autocast, compares the features of the deterministic synthetic clip that vclip also encodes
(`check_features` in its JSON), and prints a table of clips/s with the ratio vclip / PyTorch
(f32 against PyTorch f32 with TF32 off, f16/bf16 against bf16 autocast). Each JSON's row is named
after its file, `NAME_DTYPE.json` (tools/gpu-bench.sh writes `vclip_f32.json`,
`vclip-cudnn_bf16.json`, ...).

Usage: python3 tools/gpu_bench.py --model DIR [--frames 32] [--batch 32] [--runs 20] [--f32-only]
       VCLIP_JSON...
(`--f32-only`: the f32 row alone, as scripts/bench-s3d-cpu.sh runs it on the CPU.)
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from reference import S3D, S3D_FULL, s3d_features  # noqa: E402


def synthetic_clips(batch, frames, size):
    """Same bytes as vclip_model::bench::synthetic_clips."""
    n = batch * 3 * frames * size * size
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = ((i * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(56)).astype(np.uint8)
    return torch.from_numpy(x.reshape(batch, 3, frames, size, size))


def time_it(fn, runs):
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    fn()
    sync()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--f32-only", action="store_true")
    ap.add_argument("vclip", nargs="*")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    s3d_cfg = dict(S3D_FULL)
    for k in ("conv1", "conv_2b", "conv_2c", "blocks", "embedding_dim"):
        if k in cfg.get("s3d", {}):
            s3d_cfg[k] = cfg["s3d"][k]
    model = S3D(s3d_cfg)
    missing, unexpected = model.load_state_dict(
        load_file(os.path.join(a.model, "s3d.safetensors")), strict=False)
    assert not missing, f"missing weights: {missing[:5]}"
    # CPU fallback only to check this script itself on a machine without a GPU.
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(dev).eval()
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"

    with torch.no_grad():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        check = s3d_features(model, synthetic_clips(1, a.frames, 224).to(dev))[0].cpu().numpy()
        x = synthetic_clips(a.batch, a.frames, 224).to(dev)
        rows = []
        t = time_it(lambda: s3d_features(model, x), a.runs)
        rows.append(("pytorch", "f32", a.batch / t))
    if not a.f32_only:
        with torch.no_grad():
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            t = time_it(lambda: s3d_features(model, x), a.runs)
            rows.append(("pytorch", "tf32", a.batch / t))
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                t = time_it(lambda: s3d_features(model, x), a.runs)
            rows.append(("pytorch", "bf16 autocast", a.batch / t))

    low = rows[2][2] if len(rows) > 2 else None
    base = {"f32": rows[0][2], "f16": low, "bf16": low}
    print(f"\nS3D-G, T={a.frames}, 224x224, batch {a.batch}, {name}, median of {a.runs}")
    print(f"{'impl':<14}{'precision':<16}{'clips/s':>10}{'vs PyTorch':>12}{'max rel err':>14}")
    for impl, prec, cps in rows:
        print(f"{impl:<14}{prec:<16}{cps:>10.2f}{'':>12}{'':>14}")
    for path in a.vclip:
        impl = os.path.basename(path).rsplit("_", 1)[0] or "vclip"
        r = json.load(open(path))
        prec = r["s3d"]["dtype"].lower()
        ours = np.array(r["check_features"], dtype=np.float32)
        err = float(np.abs(ours - check).max() / np.abs(check).max())
        cps = r["s3d"]["clips_per_s"]
        ratio = cps / (base.get(prec) or rows[0][2])
        print(f"{impl:<14}{prec:<16}{cps:>10.2f}{ratio:>11.2f}x{err:>14.2e}")


if __name__ == "__main__":
    main()
