"""PyTorch baseline for `vclip bench encode --family clip`: the same CLIP image tower (HF
transformers `CLIPVisionModelWithProjection`, the weights of the same model folder) on the same
synthetic uint8 frames, timed the same way (median seconds per call of BATCH frames after
warm-up, the output read back each call), on the CPU with torch's default thread count (one per
core) unless --threads is given, or on a CUDA GPU with --device cuda (the frames stay on the device,
as vclip's do; reading the output back synchronizes the device before the clock is read).
--precision tf32 or bf16 (bf16 autocast) times PyTorch's faster modes for reference; the ratio
is only a like-for-like comparison at f32.

Usage:
  python3 tools/clip_tower_bench.py --model DIR [--batch 16] [--runs 5] [--warmup 1]
      [--threads N] [--device cpu|cuda] [--precision f32|tf32|bf16] [--vclip VCLIP_JSON]
With --vclip (the JSON of `vclip bench encode --family clip --model DIR --json` with the same
batch), prints the ratio vclip / PyTorch of frames per second (>= 1.0: vclip is at least as fast)
and checks that both computed the same embedding of the first synthetic frame.
`scripts/bench-clip-tower.sh` runs both sides in one go.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection


def synthetic_frames(n, size):
    """`vclip_model::bench::synthetic_frames`: byte i is the top byte of i * 0x9e3779b97f4a7c15
    (mod 2^64), row-major over (n, size, size, 3)."""
    i = np.arange(n * size * size * 3, dtype=np.uint64)
    with np.errstate(over="ignore"):
        b = (i * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(56)
    return b.astype(np.uint8).reshape(n, size, size, 3)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="a CLIP model folder (vclip format)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="0: torch's default")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="f32", choices=["f32", "tf32", "bf16"])
    p.add_argument("--vclip", help="JSON of `vclip bench encode --family clip --json`")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")

    cfg = json.load(open(os.path.join(a.model, "config.json")))
    if cfg.get("family") != "clip-vit-b32":
        raise SystemExit(f"{a.model}: not a CLIP model folder (family {cfg.get('family')!r})")
    c = cfg["clip"]
    v = c["vision"]
    vision = CLIPVisionConfig(
        hidden_size=v["hidden_size"],
        intermediate_size=v["intermediate_size"],
        num_hidden_layers=v["num_hidden_layers"],
        num_attention_heads=v["num_attention_heads"],
        image_size=v["image_size"],
        patch_size=v["patch_size"],
        num_channels=v["num_channels"],
        hidden_act=v["hidden_act"],
        layer_norm_eps=v["layer_norm_eps"],
        projection_dim=c["projection_dim"],
    )
    model = CLIPVisionModelWithProjection(vision).eval()
    weights = load_file(os.path.join(a.model, "model.safetensors"))
    state = {
        k: t for k, t in weights.items() if k.startswith(("vision_model.", "visual_projection."))
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    model = model.to(dev)

    s = v["image_size"]
    mean = torch.tensor(c["image_mean"], device=dev).view(1, 3, 1, 1)
    std = torch.tensor(c["image_std"], device=dev).view(1, 3, 1, 1)

    def embed(frames_u8):
        x = frames_u8.permute(0, 3, 1, 2).float()
        x = (x / 255.0 - mean) / std
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            e = model(pixel_values=x).image_embeds
        return torch.nn.functional.normalize(e.float(), dim=-1)

    frames = torch.from_numpy(synthetic_frames(a.batch, s)).to(dev)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            start = time.perf_counter()
            embed(frames).sum().item()
            if i >= a.warmup:
                times.append(time.perf_counter() - start)
        check = embed(torch.from_numpy(synthetic_frames(1, s)).to(dev))[0].cpu()
    median = statistics.median(times)
    out = {
        "what": f"clip image {s}x{s}",
        "impl": f"PyTorch {torch.__version__} eager, transformers CLIPVisionModelWithProjection",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "precision": a.precision,
        "attention": model.config._attn_implementation,
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "batch": a.batch,
        "runs": a.runs,
        "median_s": median,
        "frames_per_s": a.batch / median,
    }
    if a.vclip:
        vc = json.load(open(a.vclip))
        theirs = vc["clip_image"]
        if theirs["batch"] != a.batch:
            raise SystemExit(f"vclip ran batch {theirs['batch']}, this run {a.batch}")
        ref = torch.tensor(vc["check_features"])
        out["check_max_abs_diff"] = float((check - ref).abs().max())
        out["vclip_frames_per_s"] = theirs["frames_per_s"]
        out["ratio_vclip_to_pytorch"] = theirs["frames_per_s"] / out["frames_per_s"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
