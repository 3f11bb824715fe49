#!/usr/bin/env python3
"""Write the CLIP parity fixtures of `crates/model/tests/fixtures/clip/` (crates/model/src/clip/mod.rs).

    pip install torch transformers safetensors numpy pillow
    python3 tools/make_clip_fixtures.py                  # -> crates/model/tests/fixtures/clip/
    python3 tools/make_clip_fixtures.py --bpe FILE.gz    # use a local bpe_simple_vocab_16e6.txt.gz

The reference is HF `transformers` (`CLIPModel`, `CLIPTokenizerFast`, `CLIPImageProcessor`),
eager attention, f32 on the CPU. Everything is seeded.

The BPE vocabulary. OpenAI CLIP's byte-level BPE (`bpe_simple_vocab_16e6.txt.gz`, the file of
`openai/CLIP`, whose vocab.json/merges.txt HF's `openai/clip-vit-base-patch32` holds) is taken
from the PyPI wheel `open_clip_torch==3.3.0` (`open_clip/bpe_simple_vocab_16e6.txt.gz`, checked
by SHA-256 below), downloaded with `pip download --no-deps` unless `--bpe` names the file. From
it the script builds, as OpenAI's `SimpleTokenizer` orders it: 256 byte symbols, the same with
`</w>`, the 48,894 merges, `<|startoftext|>` (49406) and `<|endoftext|>` (49407).

- The full vocab (49,408 tokens) goes to `.cache/clip-vit-b32/` (`vocab.json`, `merges.txt`,
  `tokenizer.json`; git-ignored, ~3.5 MB); the ids the real CLIP tokenizer gives the test texts
  are committed in `texts.json` (`full_ids`), and the Rust test checks them when that folder is
  there (`VCLIP_TEST_CLIP_TOKENIZER` overrides the path of its `tokenizer.json`).
- The tiny fixture model uses the first 510 merges of the same file: a 1,024-token vocab
  (512 byte symbols, 510 merges, the two specials), which HF tokenizes with the same
  normaliser, pre-tokeniser and BPE as the real one.

It writes, under `crates/model/tests/fixtures/clip/`:

- `hf/`: a TINY random `CLIPModel` as `save_pretrained` writes it (`config.json`,
  `model.safetensors` with HF names) plus its tokenizer (`tokenizer.json`, `vocab.json`,
  `merges.txt`): the input of `vclip_model::import_clip`. Every parameter, LayerNorms included,
  is perturbed away from its init so that a swapped name shows.
- `io.safetensors`: uint8 frames `(N, H, W, 3)`, the processor's `pixel_values`, the projected
  L2-normalised image embeddings, the tokenizer's `input_ids`/`attention_mask` (padded to 77)
  and the projected L2-normalised text embeddings.
- `texts.json`: the test texts, the tiny tokenizer's ids (no padding) and the full vocab's ids.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

from clip_vocab import FULL_MERGES, fetch_bpe, read_bpe, write_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "model", "tests", "fixtures", "clip")
CACHE = os.path.join(ROOT, ".cache", "clip-vit-b32")

TINY_MERGES = 510  # -> 1,024 tokens

SEED = 20261127
TINY_TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
)
TINY_VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=32,
    patch_size=8,
    num_channels=3,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
)
TINY_PROJECTION = 16

TEXTS = [
    "a photo of a cat",
    "How do I beat eggs?",
    "",
    "Now, tighten the chain -- with a 10 mm wrench!",
    "Café crème brûlée, naïve façade",
    "♪ 日本語の字幕 🎬 ♪",
    "  several   spaces\tand\ttabs\nand new lines  ",
    "don't I'll we've THEY'RE it's o'clock",
    "numbers 12345 and 3.14159, 1st 2nd",
    "an <|endoftext|> in the middle",
    "the quick brown fox jumps over the lazy dog " * 12,  # > 77 tokens: truncated
]


def tokenizers(vocab_dir):
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    v, m = os.path.join(vocab_dir, "vocab.json"), os.path.join(vocab_dir, "merges.txt")
    return CLIPTokenizerFast(v, m), CLIPTokenizer(v, m)


def compare_slow(fast, slow, label):
    """Reports where the slow tokenizer (without ftfy: BasicTokenizer) differs from the fast one."""
    for t in TEXTS:
        a = fast(t, truncation=True, max_length=77)["input_ids"]
        b = slow(t, truncation=True, max_length=77)["input_ids"]
        if a != b:
            print(f"note ({label}): slow CLIPTokenizer differs from the fast one on {t!r}")


def perturb(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if p.dim() == 1 and name.endswith(".weight"):  # LayerNorm gains
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:  # biases
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.add_(0.02 * torch.randn(p.shape, generator=gen))


def frames(gen):
    """Three uint8 RGB frames (N, H, W, 3): noise, a gradient, a flat colour with a square."""
    size = TINY_VISION["image_size"]
    noise = torch.randint(0, 256, (size, size, 3), generator=gen, dtype=torch.uint8)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    grad = torch.stack([x * 255 // (size - 1), y * 255 // (size - 1), (x + y) * 127 // (size - 1)], -1)
    flat = torch.empty(size, size, 3, dtype=torch.long)
    flat[:] = torch.tensor([200, 30, 90])
    flat[8:20, 10:24] = torch.tensor([10, 240, 120])
    return torch.stack([noise, grad.to(torch.uint8), flat.to(torch.uint8)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bpe", help="a local bpe_simple_vocab_16e6.txt.gz (else: pip download)")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--cache", default=CACHE, help="where the full tokenizer goes")
    args = ap.parse_args()

    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    merges = read_bpe(args.bpe) if args.bpe else fetch_bpe()
    assert len(merges) == FULL_MERGES, len(merges)

    # The full tokenizer (not committed) and the ids it gives the texts.
    assert write_vocab(merges, args.cache) == 49408
    full_fast, full_slow = tokenizers(args.cache)
    full_fast.save_pretrained(args.cache)
    for extra in ("tokenizer_config.json", "special_tokens_map.json"):
        os.remove(os.path.join(args.cache, extra))
    got = full_fast("a photo of a cat")["input_ids"]
    assert got == [49406, 320, 1125, 539, 320, 2368, 49407], got  # CLIP's well-known ids
    compare_slow(full_fast, full_slow, "full vocab")

    # The tiny tokenizer and model.
    hf = os.path.join(args.out, "hf")
    shutil.rmtree(hf, ignore_errors=True)
    vocab_size = write_vocab(merges[:TINY_MERGES], hf)
    fast, slow = tokenizers(hf)
    fast.save_pretrained(hf)
    for extra in ("tokenizer_config.json", "special_tokens_map.json"):
        os.remove(os.path.join(hf, extra))
    compare_slow(fast, slow, "tiny vocab")
    bos, eos = fast.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"])
    assert (bos, eos) == (vocab_size - 2, vocab_size - 1)

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    config = CLIPConfig(
        text_config=dict(TINY_TEXT, vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=eos),
        vision_config=TINY_VISION,
        projection_dim=TINY_PROJECTION,
    )
    config._attn_implementation = "eager"
    model = CLIPModel(config).eval()
    perturb(model, gen)
    model.save_pretrained(hf, safe_serialization=True)

    # Inputs and reference outputs.
    images = frames(gen)
    proc = CLIPImageProcessor(do_resize=False, do_center_crop=False)
    pixels = proc(list(images.numpy()), return_tensors="pt")["pixel_values"].float()
    enc = fast(TEXTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    img = torch.nn.functional.normalize(img, dim=-1)
    txt = torch.nn.functional.normalize(txt, dim=-1)
    save_file(
        {
            "frames": images.contiguous(),
            "pixel_values": pixels.contiguous(),
            "image_embeds": img.contiguous(),
            "input_ids": enc["input_ids"].to(torch.int64).contiguous(),
            "attention_mask": enc["attention_mask"].to(torch.int64).contiguous(),
            "text_embeds": txt.contiguous(),
        },
        os.path.join(args.out, "io.safetensors"),
    )
    texts = {
        "texts": TEXTS,
        "ids": [fast(t, truncation=True, max_length=77)["input_ids"] for t in TEXTS],
        "full_ids": [full_fast(t, truncation=True, max_length=77)["input_ids"] for t in TEXTS],
    }
    with open(os.path.join(args.out, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False, indent=1)
        f.write("\n")
    total = sum(
        os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(args.out) for n in ns
    )
    print(f"wrote {args.out} ({total / 1024:.0f} kB) and {args.cache}")


if __name__ == "__main__":
    main()
