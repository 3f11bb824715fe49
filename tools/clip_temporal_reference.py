#!/usr/bin/env python3
"""PyTorch reference of the CLIP family's temporal tower (crates/model/src/clip/temporal.rs)
and the writer of its parity fixture.

    pip install torch safetensors numpy
    python3 tools/clip_temporal_reference.py      # -> crates/model/tests/fixtures/clip/temporal/

Written from the description in `crates/model/src/clip/temporal.rs`'s module docs (CLIP4Clip "seqTransf",
Luo et al. 2021, arXiv 2104.08860, with a zero-initialised output projection on the residual),
not from the Rust code:

    h0     = x + P[:L]                                    x: (B, L, D) per-second embeddings
    h      = h + Attn(LN1(h)); h = h + FC2(quick_gelu(FC1(LN2(h))))      per layer (pre-LN)
    y      = x + W_out LN_final(h) + b_out
    s_t    = m_t * y_t / max(|y_t|, 1e-12)               per-second outputs, zero where padded
    pooled = normalize(sum_t s_t / sum_t m_t)

Attention is bidirectional over the seconds with -1e9 added to the logits of padded keys;
LayerNorm eps 1e-5; quick_gelu(x) = x * sigmoid(1.702 x) (CLIP's activation).

The fixture (a few KB; CI does not need torch):
- `config.json`: the tower's sizes (`TemporalConfig` in Rust);
- `temporal.safetensors`: random f32 weights, every tensor away from its init (the output
  projection is not zero, LayerNorms are not 1/0) so that a swapped name or a dropped term shows;
- `io.safetensors`: `features (B, L, D)` f32 (rows of different scales), `mask (B, L)` u8
  (windows of 6, 3 and 5 seconds; padded rows hold garbage, which must not matter), and the
  reference outputs `pooled (B, D)` and `seconds (B, L, D)` computed in float64 (stored f64).
"""

from __future__ import annotations

import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "model", "tests", "fixtures", "clip", "temporal")

SEED = 20261203
CONFIG = dict(layers=2, heads=2, width=8, intermediate_size=16, max_seconds=6)
LN_EPS = 1e-5
MASKED = -1e9


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, LN_EPS)


def linear(x, w, b):
    return x @ w.t() + b


def normalize(v):
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def tower(weights: dict, cfg: dict, x: torch.Tensor, mask: torch.Tensor):
    """x: (B, L, D) float; mask: (B, L) {0, 1}. Returns (pooled (B, D), seconds (B, L, D))."""
    w = weights
    B, L, D = x.shape
    H = cfg["heads"]
    dh = D // H
    m = mask.to(x.dtype)
    key_bias = (1.0 - m)[:, None, None, :] * MASKED  # (B, 1, 1, L): per key
    h = x + w["position_embedding.weight"][:L][None]
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        n = layer_norm(h, w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"])

        def heads(t):
            return t.view(B, L, H, dh).transpose(1, 2)  # (B, H, L, dh)

        q = heads(linear(n, w[p + "self_attn.q_proj.weight"], w[p + "self_attn.q_proj.bias"]))
        k = heads(linear(n, w[p + "self_attn.k_proj.weight"], w[p + "self_attn.k_proj.bias"]))
        v = heads(linear(n, w[p + "self_attn.v_proj.weight"], w[p + "self_attn.v_proj.bias"]))
        logits = q @ k.transpose(-1, -2) / math.sqrt(dh) + key_bias
        ctx = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        h = h + linear(ctx, w[p + "self_attn.out_proj.weight"], w[p + "self_attn.out_proj.bias"])
        n = layer_norm(h, w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"])
        mlp = quick_gelu(linear(n, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"]))
        h = h + linear(mlp, w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"])
    h = layer_norm(h, w["final_layer_norm.weight"], w["final_layer_norm.bias"])
    y = x + linear(h, w["output.weight"], w["output.bias"])
    seconds = normalize(y) * m[..., None]
    pooled = normalize(seconds.sum(1) / m.sum(1, keepdim=True))
    return pooled, seconds


def shapes(cfg: dict) -> dict:
    D, I = cfg["width"], cfg["intermediate_size"]
    out = {"position_embedding.weight": (cfg["max_seconds"], D)}
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        for ln in ("layer_norm1", "layer_norm2"):
            out[p + ln + ".weight"] = (D,)
            out[p + ln + ".bias"] = (D,)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out[p + f"self_attn.{proj}.weight"] = (D, D)
            out[p + f"self_attn.{proj}.bias"] = (D,)
        out[p + "mlp.fc1.weight"] = (I, D)
        out[p + "mlp.fc1.bias"] = (I,)
        out[p + "mlp.fc2.weight"] = (D, I)
        out[p + "mlp.fc2.bias"] = (D,)
    out["final_layer_norm.weight"] = (D,)
    out["final_layer_norm.bias"] = (D,)
    out["output.weight"] = (D, D)
    out["output.bias"] = (D,)
    return out


def main():
    g = torch.Generator().manual_seed(SEED)
    cfg = CONFIG
    weights = {}
    for name, shape in shapes(cfg).items():
        t = torch.randn(shape, generator=g, dtype=torch.float32)
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.startswith(
            "final_layer_norm.weight"
        ):
            t = 1.0 + 0.2 * t
        elif len(shape) == 2 and name != "position_embedding.weight":
            t = t / math.sqrt(shape[1])  # fan-in scaling: activations stay O(1)
        else:
            t = 0.3 * t
        weights[name] = t.contiguous()

    B, L, D = 3, cfg["max_seconds"], cfg["width"]
    x = torch.randn((B, L, D), generator=g, dtype=torch.float32)
    x = normalize(x) * torch.tensor([1.0, 0.5, 2.0]).view(B, 1, 1)
    lengths = [6, 3, 5]
    mask = torch.zeros((B, L), dtype=torch.uint8)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        x[b, n:] = 7.0 * torch.randn((L - n, D), generator=g)  # garbage in padding

    w64 = {k: v.double() for k, v in weights.items()}
    pooled, seconds = tower(w64, cfg, x.double(), mask)

    # Padding must not matter: the same windows alone, unpadded, give the same outputs.
    for b, n in enumerate(lengths):
        p1, s1 = tower(w64, cfg, x[b : b + 1, :n].double(), mask[b : b + 1, :n])
        assert torch.allclose(p1, pooled[b : b + 1], atol=1e-12)
        assert torch.allclose(s1, seconds[b : b + 1, :n], atol=1e-12)
    # A zero output projection is meanP.
    zero = dict(w64, **{"output.weight": torch.zeros(D, D, dtype=torch.float64),
                        "output.bias": torch.zeros(D, dtype=torch.float64)})
    pz, _ = tower(zero, cfg, x.double(), mask)
    xm = normalize(x.double()) * mask[..., None]
    assert torch.allclose(pz, normalize(xm.sum(1) / mask.sum(1, keepdim=True)), atol=1e-12)

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    save_file(weights, os.path.join(OUT, "temporal.safetensors"))
    save_file(
        {
            "features": x.contiguous(),
            "mask": mask.contiguous(),
            "pooled": pooled.contiguous(),
            "seconds": seconds.contiguous(),
        },
        os.path.join(OUT, "io.safetensors"),
    )
    for name in ("config.json", "temporal.safetensors", "io.safetensors"):
        print(f"{os.path.join(OUT, name)}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
