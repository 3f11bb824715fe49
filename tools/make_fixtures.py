"""Write the test fixtures of `crates/model/tests/fixtures/` from the PyTorch reference.

    pip install torch safetensors numpy
    python3 tools/make_fixtures.py            # -> crates/model/tests/fixtures/
    python3 tools/make_fixtures.py --full --out /tmp/vclip-full   # full size, not committed

Everything is seeded: rerunning the script rewrites the same tensors (up to PyTorch's own
kernels). It writes

- `tiny/`: a model directory in the app's format (config.json, s3d.safetensors,
  videoclip.safetensors, vocab.txt) holding a TINY random S3D-G and VideoCLIP: few channels and
  layers, same structure as the real ones, BatchNorm with non-trivial running statistics.
- `pth/`: the same weights saved with real `torch.save`, as the released files are:
  `checkpoint_videoclip.pt` (zip format, fairseq-like: fp16 state dict under `model` with the
  `mmmodel.` prefix, an argparse.Namespace and an enum beside it, HF's stride-0 `position_ids`),
  `s3d_legacy.pth` (legacy non-zip format) and `s3d_zip.pth` (zip format), plus
  `*_state.safetensors` holding exactly the tensors those files contain.
- `s3d_io.safetensors`: uint8 input clips (T=30 and T=32, batch 2, non-square frames) and the
  reference outputs at the checkpoints of docs/model-notes.md §8.1 (s2d as uint8, conv1, mixed_3c,
  mixed_4f, mixed_5c pool, video_embedding) plus the L2-normalised features.
- `towers_io.safetensors`: video tower inputs with masked padding and the per-token hidden
  states / pooled vectors (normal and dummy-caption mode), text inputs of several lengths with
  their outputs, and the score matrix.
"""

from __future__ import annotations

import argparse
import collections
import enum
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as R  # noqa: E402

S3D_TINY = {
    "conv1": 8,
    "conv_2b": 8,
    "conv_2c": 12,
    "blocks": {
        "mixed_3b": [4, 6, 8, 2, 4, 4],
        "mixed_3c": [8, 8, 12, 2, 6, 4],
        "mixed_4b": [12, 6, 13, 2, 3, 4],
        "mixed_4c": [10, 7, 14, 2, 4, 4],
        "mixed_4d": [8, 8, 16, 2, 4, 4],
        "mixed_4e": [7, 9, 18, 2, 4, 4],
        "mixed_4f": [16, 10, 20, 2, 8, 8],
        "mixed_5b": [16, 10, 20, 2, 8, 8],
        "mixed_5c": [24, 12, 24, 3, 8, 8],
    },
    "embedding_dim": 32,
}

VIDEOCLIP_TINY = {
    "hidden_size": 32,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "num_video_layers": 2,
    "num_text_layers": 3,
    "vocab_size": 1000,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "video_feature_dim": 32,
    "max_video_len": 32,
    "max_text_len": 63,
}


class FakeChoice(enum.Enum):
    """Stands in for fairseq's `dataclass.constants` enums pickled inside checkpoints."""

    C10D = "c10d"
    NO_C10D = "no_c10d"


def init_s3d(model: R.S3D, gen: torch.Generator) -> None:
    """He-normal convs, BatchNorm with non-trivial affine and running statistics."""
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv3d):
            fan_in = mod.weight[0].numel()
            mod.weight.data = torch.randn(mod.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif isinstance(mod, torch.nn.BatchNorm3d):
            c = mod.num_features
            # Log-uniform variances in [0.01, 2] make a wrong BatchNorm eps visible; gamma scaled
            # by sqrt(var) keeps the activations O(1) through the 20-odd layers.
            var = torch.exp(
                torch.empty(c).uniform_(float(np.log(0.01)), float(np.log(2.0)), generator=gen))
            mod.running_var.data = var
            mod.weight.data = var.sqrt() * (0.5 + torch.rand(c, generator=gen))
            mod.bias.data = 0.2 * torch.randn(c, generator=gen)
            mod.running_mean.data = 0.3 * torch.randn(c, generator=gen)
            mod.num_batches_tracked.fill_(1000 + len(name))
        elif isinstance(mod, torch.nn.Linear):
            fan_in = mod.weight.shape[1]
            mod.weight.data = torch.randn(mod.weight.shape, generator=gen) / fan_in ** 0.5
            mod.bias.data = 0.3 * torch.randn(mod.bias.shape, generator=gen)


def init_videoclip(model: R.VideoCLIP, gen: torch.Generator) -> None:
    for name, p in model.named_parameters():
        if "LayerNorm.weight" in name:
            p.data = 0.8 + 0.4 * torch.rand(p.shape, generator=gen)
        elif name.endswith(".bias") or "LayerNorm" in name:
            p.data = 0.1 * torch.randn(p.shape, generator=gen)
        elif "embeddings" in name:
            p.data = 0.5 * torch.randn(p.shape, generator=gen)
        else:
            p.data = torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5
    # Small inputs to two LayerNorms make their eps visible in the outputs: videomlp's LayerNorm
    # (eps 1e-5, not BERT's 1e-12) and the text embeddings' LayerNorm (eps 1e-12, not 1e-5).
    model.video_encoder.videomlp.linear1.weight.data *= 0.01
    model.video_encoder.videomlp.linear1.bias.data *= 0.01
    for name in ["word_embeddings", "position_embeddings", "token_type_embeddings"]:
        getattr(model.text_encoder.embeddings, name).weight.data *= 0.002
    # The checkpoint is fp16: round the weights once so that the f32 safetensors, the fp16
    # checkpoint cast back to f32, and the reference all hold the same numbers.
    for p in model.parameters():
        p.data = p.data.half().float()


def tiny_vocab(size: int) -> list[str]:
    """A bert-like vocab.txt: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103."""
    words = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    base = ["the", "a", "to", "and", "of", "how", "make", "cut", "onion", "pan", "cake", "fry",
            "egg", "bread", "water", "boil", "salt", "add", "mix", "bowl", "video", "cook", "."]
    words += base
    words += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += ["##ing", "##ed", "##cake", "##ion"]
    words = list(dict.fromkeys(words))  # no duplicates: one id per token
    i = 0
    while len(words) < size:
        words.append(f"tok{i}")
        i += 1
    return words[:size]


def contiguous_state(sd):
    return {k: v.contiguous().clone() for k, v in sd.items()}


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "crates", "model", "tests", "fixtures"))
    ap.add_argument("--seed", type=int, default=20260)
    ap.add_argument("--full", action="store_true",
                    help="full-size S3D-G and BERT-base towers at 224x224 (hundreds of MB: "
                         "for a one-off parity check, never committed; needs --out)")
    args = ap.parse_args()
    if args.full and "--out" not in sys.argv:
        ap.error("--full needs --out DIR (the full fixtures are not committed)")
    s3d_cfg = R.S3D_FULL if args.full else S3D_TINY
    vc_cfg = R.VIDEOCLIP_FULL if args.full else VIDEOCLIP_TINY
    cases = ({"t30": (2, 30, 224, 224), "t32": (1, 32, 224, 224)} if args.full
             else {"t30": (2, 30, 32, 48), "t32": (2, 32, 48, 40)})
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    out = os.path.abspath(args.out)
    tiny = os.path.join(out, "tiny")
    pth = os.path.join(out, "pth")
    os.makedirs(tiny, exist_ok=True)
    os.makedirs(pth, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)

    # ---------------------------------------------------------------- S3D
    s3d = R.S3D(s3d_cfg).eval()
    init_s3d(s3d, gen)
    sd = s3d.state_dict()
    # The released file also carries MIL-NCE's word2vec text branch: add a tiny stand-in.
    sd["text_module.word_embd.weight"] = torch.randn(50, 8, generator=gen)
    sd["text_module.fc1.weight"] = torch.randn(16, 8, generator=gen)
    sd["text_module.fc1.bias"] = torch.randn(16, generator=gen)
    sd["text_module.fc2.weight"] = torch.randn(s3d_cfg["embedding_dim"], 16, generator=gen)
    sd["text_module.fc2.bias"] = torch.randn(s3d_cfg["embedding_dim"], generator=gen)
    torch.save(sd, os.path.join(pth, "s3d_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(pth, "s3d_zip.pth"))
    save_file(contiguous_state(sd), os.path.join(pth, "s3d_state.safetensors"))
    # What `models import` keeps: the visual network, f32, no BatchNorm counters.
    s3d_weights = {k: v.contiguous() for k, v in sd.items()
                   if not k.startswith("text_module.") and not k.endswith("num_batches_tracked")}
    save_file(s3d_weights, os.path.join(tiny, "s3d.safetensors"))

    s3d_io = {}
    for name, (b, t, h, w) in cases.items():
        frames = torch.randint(0, 256, (b, 3, t, h, w), generator=gen, dtype=torch.uint8)
        # Make the clips differ in brightness so that batch mix-ups show.
        frames[0] = frames[0] // 2
        taps = {}
        with torch.no_grad():
            s3d(frames.float() / 255.0, taps)
            feats = R.s3d_features(s3d, frames)
        s3d_io[f"{name}.input"] = frames
        for k, v in taps.items():
            s3d_io[f"{name}.{k}"] = v.contiguous()
        # s2d is a pure permutation of the input: store it as uint8 (compare with x/255).
        assert torch.equal(R.space_to_depth(frames).float() / 255.0, taps["s2d"])
        s3d_io[f"{name}.s2d"] = R.space_to_depth(frames).contiguous()
        s3d_io[f"{name}.features"] = feats
        print(name, {k: tuple(v.shape) for k, v in taps.items()},
              "std", {k: round(float(v.std()), 3) for k, v in taps.items()})
    save_file(s3d_io, os.path.join(out, "s3d_io.safetensors"))

    # ---------------------------------------------------------------- VideoCLIP
    vc = R.VideoCLIP(vc_cfg).eval()
    init_videoclip(vc, gen)
    vsd = vc.state_dict()
    ckpt_model = collections.OrderedDict(
        ("mmmodel." + k, v.half() if v.is_floating_point() else v) for k, v in vsd.items())
    ckpt_model._metadata = collections.OrderedDict()  # as a real state_dict() carries
    # Layouts a reader must handle (the importer ignores these names): a stride-0 expanded
    # buffer, a transposed view, and a slice sharing its storage with another entry.
    shared = torch.randn(6, 4, generator=gen).half()
    ckpt_model["mmmodel.layout_test.expanded"] = torch.arange(8).expand((3, -1))
    ckpt_model["mmmodel.layout_test.transposed"] = torch.randn(3, 5, generator=gen).half().t()
    ckpt_model["mmmodel.layout_test.shared"] = shared
    ckpt_model["mmmodel.layout_test.slice"] = shared[2:5, 1:3]
    namespace = argparse.Namespace(task="mmtask", arch="mmarch", lr=[5e-05], fp16=True,
                                   max_video_len=32, ddp_backend=FakeChoice.NO_C10D,
                                   adam_betas="(0.9, 0.98)", seed=1, clip_norm=2.0)
    checkpoint = {
        "args": None,
        "cfg": {"task": namespace, "model": namespace, "criterion": None,
                "common": {"fp16": True, "seed": 1, "log_interval": 100}},
        "model": ckpt_model,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "MMCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 1.2345}, "num_updates": 1024}],
        "task_state": {},
        "extra_state": {"train_iterator": {"epoch": 25, "iterations_in_epoch": 7, "shuffle": True},
                        "val_loss": 1.5, "best": FakeChoice.C10D, "previous_training_time": 3.5},
        "last_optimizer_state": {"state": {0: {"exp_avg": torch.ones(3)}}},
    }
    torch.save(checkpoint, os.path.join(pth, "checkpoint_videoclip.pt"))
    save_file(contiguous_state(ckpt_model), os.path.join(pth, "videoclip_state.safetensors"))
    # What `models import` keeps: no position_ids buffers, no (unused) BERT poolers.
    vc_weights = {k: v.contiguous() for k, v in vsd.items()
                  if not k.endswith("position_ids") and ".pooler." not in k}
    save_file(vc_weights, os.path.join(tiny, "videoclip.safetensors"))

    towers = {}
    b, n, dv = 3, vc_cfg["max_video_len"], vc_cfg["video_feature_dim"]
    lengths = [32, 20, 5]
    vfeats = torch.nn.functional.normalize(torch.randn(b, n, dv, generator=gen), dim=-1)
    vmask = torch.zeros(b, n, dtype=torch.bool)
    for i, length in enumerate(lengths):
        vmask[i, :length] = True
        vfeats[i, length:] = 0.0  # MMPT zero-pads shorter videos
    texts = [[], [7], list(range(110, 117)), [int(x) for x in
                                              torch.randint(104, 1000, (61,), generator=gen)]]
    layouts = [R.text_layout(t) for t in texts]
    ids = torch.tensor([l[0] for l in layouts], dtype=torch.long)
    cmask = torch.tensor([l[1] for l in layouts], dtype=torch.long)
    with torch.no_grad():
        vh, vp = vc.forward_video(vfeats, vmask)
        dh, dp = vc.forward_video(vfeats, vmask, dummy_caption=True)
        th, tp = vc.forward_text(ids, cmask)
        sc = R.scores(tp, vp)
    towers.update({
        "video.feats": vfeats, "video.mask": vmask.to(torch.uint8),
        "video.hidden": vh, "video.pooled": vp,
        "video_dummy.hidden": dh, "video_dummy.pooled": dp,
        "text.ids": ids.to(torch.int64), "text.mask": cmask.to(torch.uint8),
        "text.hidden": th, "text.pooled": tp, "scores": sc,
    })
    save_file({k: v.contiguous() for k, v in towers.items()},
              os.path.join(out, "towers_io.safetensors"))
    print("video pooled std", float(vp.std()), "text pooled std", float(tp.std()),
          "dummy vs normal", rel_err(dh, vh))

    # ---------------------------------------------------------------- model directory
    config = {
        "format": "vclip-model",
        "version": 1,
        "random_weights": True,
        "description": f"random fixture written by tools/make_fixtures.py (seed {args.seed})",
        "s3d": s3d_cfg,
        "videoclip": vc_cfg,
    }
    with open(os.path.join(tiny, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(tiny, "vocab.txt"), "w") as f:
        f.write("\n".join(tiny_vocab(vc_cfg["vocab_size"])) + "\n")

    # Self-check: the files reload into the reference and give the same outputs.
    s3d2 = R.S3D(s3d_cfg).eval()
    s3d2.load_state_dict(torch.load(os.path.join(pth, "s3d_legacy.pth")), strict=False)
    with torch.no_grad():
        x = s3d_io["t30.input"].float() / 255.0
        assert torch.equal(s3d2(x)["video_embedding"], s3d_io["t30.video_embedding"])
    ck = torch.load(os.path.join(pth, "checkpoint_videoclip.pt"), weights_only=False)
    vc2 = R.VideoCLIP(vc_cfg).eval()
    vc2.load_state_dict({k[len("mmmodel."):]: v.float() for k, v in ck["model"].items()
                         if "layout_test" not in k})
    with torch.no_grad():
        assert torch.equal(vc2.forward_text(ids, cmask)[1], tp)
    total = 0
    for root, _dirs, files in os.walk(out):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    print(f"fixtures written to {out}: {total / 1e6:.2f} MB")
    _ = np  # numpy is a safetensors.torch requirement


if __name__ == "__main__":
    main()
