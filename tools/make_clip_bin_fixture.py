#!/usr/bin/env python3
"""Write `crates/model/tests/fixtures/clip/bin/pytorch_model.bin`: the tiny CLIP fixture's weights
(`clip/hf/model.safetensors`, from `tools/make_clip_fixtures.py`) as a PyTorch state dict, the
form `openai/clip-vit-base-patch32` publishes on its `main` branch (`pytorch_model.bin`).

Like that file (written by transformers 4.x in 2021) it also holds the `position_ids` buffers
(int64, `arange(n).expand((1, -1))`: a stride-0 view), which the import must skip.

    pip install torch safetensors
    python3 tools/make_clip_bin_fixture.py
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "crates/model/tests/fixtures/clip"


def main() -> None:
    tensors = load_file(str(CLIP / "hf/model.safetensors"))
    state = OrderedDict()
    for name in sorted(tensors):
        state[name] = tensors[name]
    for tower in ("text_model", "vision_model"):
        n = tensors[f"{tower}.embeddings.position_embedding.weight"].shape[0]
        state[f"{tower}.embeddings.position_ids"] = torch.arange(n).expand((1, -1))
    out = CLIP / "bin/pytorch_model.bin"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
