"""PyTorch eager baseline for `vclip bench finetune`: the same fine-tuning step (both VideoCLIP
towers, symmetric InfoNCE with tau 1, backward, gradient clipping to 2.0, AdamW with betas
(0.9, 0.98)) on the same model and the same batch shape, timed the same way (median seconds per
step after warm-up, the loss read back each step).

Usage:
  python3 tools/train_step_bench.py --model DIR [--pairs 32] [--video-seconds 16]
      [--text-tokens 32] [--steps 5] [--warmup 1] [--device cpu|cuda] [--vclip VCLIP_JSON]
With --vclip (the JSON of `vclip bench finetune --json` on the same shapes), prints the ratio
vclip / PyTorch of steps per second (>= 1.0: vclip is at least as fast).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from reference import CLS_ID, SEP_ID, VideoCLIP  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--video-seconds", type=int, default=16)
    p.add_argument("--text-tokens", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--vclip", help="vclip bench finetune --json output to compare with")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    cfg = json.load(open(os.path.join(a.model, "config.json")))["videoclip"]
    model = VideoCLIP(cfg)
    missing, unexpected = model.load_state_dict(
        load_file(os.path.join(a.model, "videoclip.safetensors")), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and ".pooler." not in k]
    if missing or unexpected:
        sys.exit(f"weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.to(dev).train()
    # The BERT poolers are not part of VideoCLIP's towers (average pooling; vclip drops them).
    params = [q for n, q in model.named_parameters() if q.requires_grad and ".pooler." not in n]
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0)

    b, l = a.pairs, min(a.video_seconds, cfg["max_video_len"])
    t = min(a.text_tokens, cfg["max_text_len"] - 2)
    g = torch.Generator().manual_seed(1)
    feats = F.normalize(torch.rand(b, l, cfg["video_feature_dim"], generator=g) * 2 - 1, dim=-1)
    vmask = torch.ones(b, l, dtype=torch.bool)
    lo = min(1000, cfg["vocab_size"] // 2)
    body = torch.randint(lo, cfg["vocab_size"], (b, t), generator=g)
    ids = torch.cat([torch.full((b, 1), CLS_ID), body, torch.full((b, 1), SEP_ID)], dim=1)
    tmask = torch.ones_like(ids)
    feats, vmask, ids, tmask = (x.to(dev) for x in (feats, vmask, ids, tmask))
    target = torch.arange(b, device=dev)

    times, losses = [], []
    for i in range(a.warmup + max(a.steps, 1)):
        start = time.perf_counter()
        _, v = model.forward_video(feats, vmask)
        _, tx = model.forward_text(ids, tmask)
        logits = v @ tx.T
        loss = F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 2.0)
        opt.step()
        value = loss.item()  # waits for the device, as vclip's read of the loss does
        if i >= a.warmup:
            times.append(time.perf_counter() - start)
            losses.append(value)
    median = statistics.median(times)
    out = {
        "device": a.device, "threads": torch.get_num_threads(), "pairs": b,
        "video_seconds": l, "text_tokens": t,
        "trained_parameters": sum(q.numel() for q in params), "steps": len(times),
        "median_step_s": median, "steps_per_s": 1 / median, "pairs_per_s": b / median,
        "first_loss": losses[0], "last_loss": losses[-1],
    }
    if a.vclip:
        ours = json.load(open(a.vclip))
        for k in ("pairs", "video_seconds", "text_tokens", "trained_parameters"):
            if ours[k] != out[k]:
                sys.exit(f"not the same benchmark: {k} is {ours[k]} in vclip, {out[k]} here")
        out["vclip_steps_per_s"] = ours["steps_per_s"]
        out["ratio_vclip_over_pytorch"] = ours["steps_per_s"] / out["steps_per_s"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
