"""CLIP's real byte-level BPE vocabulary, with the standard library only.

OpenAI CLIP's `bpe_simple_vocab_16e6.txt.gz` (the file of `openai/CLIP`, whose vocab.json /
merges.txt HF's `openai/clip-vit-base-patch32` holds) is taken from the PyPI wheel
`open_clip_torch==3.3.0` (`open_clip/bpe_simple_vocab_16e6.txt.gz`, SHA-256 checked), downloaded
with `pip download --no-deps`. From it, as `simple_tokenizer.py`: the 256 byte symbols, the same
with `</w>`, the 48,894 merges, `<|startoftext|>` (49406) and `<|endoftext|>` (49407), written
as HF's `vocab.json` + `merges.txt`.

    python3 tools/clip_vocab.py OUT_DIR    # e.g. .cache/clip-vit-b32 (scripts/fetch-test-assets.sh)

`tools/make_clip_fixtures.py` uses the same functions (and needs torch and transformers).
"""

from __future__ import annotations

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

WHEEL = "open_clip_torch==3.3.0"
BPE_IN_WHEEL = "open_clip/bpe_simple_vocab_16e6.txt.gz"
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
FULL_MERGES = 49152 - 256 - 2  # as openai/CLIP simple_tokenizer.py


def bytes_to_unicode():
    """openai/CLIP `simple_tokenizer.bytes_to_unicode` (also GPT-2's)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe(path):
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != BPE_SHA256:
        sys.exit(f"{path}: SHA-256 {digest}, expected {BPE_SHA256}")
    lines = gzip.decompress(data).decode("utf-8").split("\n")
    return [tuple(line.split()) for line in lines[1 : FULL_MERGES + 1]]


def fetch_bpe():
    tmp = tempfile.mkdtemp()
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", tmp],
            check=True,
        )
        (whl,) = glob.glob(os.path.join(tmp, "open_clip_torch-*.whl"))
        out = os.path.join(tmp, "bpe_simple_vocab_16e6.txt.gz")
        with zipfile.ZipFile(whl) as z, open(out, "wb") as f:
            f.write(z.read(BPE_IN_WHEEL))
        return read_bpe(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_vocab(merges, out_dir):
    """vocab.json + merges.txt in HF's format, openai/CLIP's token order."""
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.writelines(" ".join(m) + "\n" for m in merges)
    return len(vocab)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    merges = fetch_bpe()
    assert len(merges) == FULL_MERGES, len(merges)
    assert write_vocab(merges, sys.argv[1]) == 49408
