"""PyTorch reference of the models that `crates/model` ports to candle.

Written from `docs/model-notes.md` (sections 1, 3 and 8), not copied from the original
repositories:

- S3D-G, the MIL-NCE HowTo100M variant (Miech et al., CVPR 2020; reference implementation
  `antoine77340/S3D_HowTo100M/s3dg.py`). Module attribute names follow spec section 1.5, so the
  released `s3d_howto100m.pth` loads into `S3D` with `load_state_dict` (the MIL-NCE word2vec text
  branch, `text_module.*`, is not part of this reference: use `strict=False`).
- The two VideoCLIP towers (Xu et al., EMNLP 2021, arXiv 2109.14084; reference implementation
  `facebookresearch/fairseq/examples/MMPT`, `MMFusionSeparate`): the video tower (`videomlp` +
  a BERT encoder fed with embeddings, 34-token layout) and the text tower (a BERT encoder), with
  state-dict names of the released `checkpoint_best.pt` after stripping `mmmodel.`.

Channel widths and layer counts come from a config dict (`S3D_FULL`, `VIDEOCLIP_FULL`) so that
tiny random models used as test fixtures run exactly the same code as the real ones.

The same file serves as the PyTorch eager baseline of the GPU benchmark.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# --------------------------------------------------------------------------------------------
# Configurations

# Inception blocks: (o0, o1a, o1b, o2a, o2b, o3b), input channels follow from the previous layer.
S3D_BLOCKS = ["mixed_3b", "mixed_3c", "mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e", "mixed_4f",
              "mixed_5b", "mixed_5c"]

S3D_FULL = {
    "conv1": 64,
    "conv_2b": 64,
    "conv_2c": 192,
    "blocks": {
        "mixed_3b": [64, 96, 128, 16, 32, 32],
        "mixed_3c": [128, 128, 192, 32, 96, 64],
        "mixed_4b": [192, 96, 208, 16, 48, 64],
        "mixed_4c": [160, 112, 224, 24, 64, 64],
        "mixed_4d": [128, 128, 256, 24, 64, 64],
        "mixed_4e": [112, 144, 288, 32, 64, 64],
        "mixed_4f": [256, 160, 320, 32, 128, 128],
        "mixed_5b": [256, 160, 320, 32, 128, 128],
        "mixed_5c": [384, 192, 384, 48, 128, 128],
    },
    "embedding_dim": 512,
}

VIDEOCLIP_FULL = {
    "hidden_size": 768,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "num_video_layers": 6,
    "num_text_layers": 12,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "video_feature_dim": 512,
    "max_video_len": 32,
    "max_text_len": 63,
}

BN_EPS = 1e-5          # torch BatchNorm3d default, S3D
BERT_LN_EPS = 1e-12    # BERT LayerNorm
MLP_LN_EPS = 1e-5      # videomlp LayerNorm: torch default, not BERT's
MASK_VALUE = -10000.0  # HF transformers 3.x additive attention mask
CLS_ID, SEP_ID, PAD_ID = 101, 102, 0


def block_out(o):
    o0, _o1a, o1b, _o2a, o2b, o3b = o
    return o0 + o1b + o2b + o3b


# --------------------------------------------------------------------------------------------
# S3D-G


class STConv3D(nn.Module):
    """conv (bias-free) -> BatchNorm -> ReLU; separable 3x3x3 = (1,3,3) then (3,1,1)."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0, separable=False):
        super().__init__()
        self.separable = separable
        if separable:
            self.conv1 = nn.Conv3d(cin, cout, (1, 3, 3), 1, (0, 1, 1), bias=False)
            self.bn1 = nn.BatchNorm3d(cout, eps=BN_EPS)
            self.conv2 = nn.Conv3d(cout, cout, (3, 1, 1), 1, (1, 0, 0), bias=False)
            self.bn2 = nn.BatchNorm3d(cout, eps=BN_EPS)
        else:
            self.conv1 = nn.Conv3d(cin, cout, kernel, stride, padding, bias=False)
            self.bn1 = nn.BatchNorm3d(cout, eps=BN_EPS)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = F.relu(self.bn2(self.conv2(x)))
        return x


class SelfGating(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        g = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return g[:, :, None, None, None] * x


class MaxPool3dTFPadding(nn.Module):
    """TF 'SAME' padding computed statically from kernel and stride, zero-padded, ceil mode."""

    def __init__(self, kernel, stride):
        super().__init__()
        pads = []
        for k, s in zip(kernel, stride):
            total = max(k - s, 0)
            pads.append((total // 2, total - total // 2))
        (t_lo, t_hi), (h_lo, h_hi), (w_lo, w_hi) = pads
        self.pad = nn.ConstantPad3d((w_lo, w_hi, h_lo, h_hi, t_lo, t_hi), 0.0)
        self.pool = nn.MaxPool3d(kernel, stride, ceil_mode=True)

    def forward(self, x):
        return self.pool(self.pad(x))


class InceptionBlock(nn.Module):
    def __init__(self, cin, o):
        super().__init__()
        o0, o1a, o1b, o2a, o2b, o3b = o
        self.conv_b0 = STConv3D(cin, o0, 1)
        self.conv_b1_a = STConv3D(cin, o1a, 1)
        self.conv_b1_b = STConv3D(o1a, o1b, 3, padding=1, separable=True)
        self.conv_b2_a = STConv3D(cin, o2a, 1)
        self.conv_b2_b = STConv3D(o2a, o2b, 3, padding=1, separable=True)
        self.maxpool_b3 = nn.MaxPool3d(3, stride=1, padding=1)
        self.conv_b3_b = STConv3D(cin, o3b, 1)
        self.gating_b0 = SelfGating(o0)
        self.gating_b1 = SelfGating(o1b)
        self.gating_b2 = SelfGating(o2b)
        self.gating_b3 = SelfGating(o3b)

    def forward(self, x):
        b0 = self.gating_b0(self.conv_b0(x))
        b1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        b2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        b3 = self.gating_b3(self.conv_b3_b(self.maxpool_b3(x)))
        return torch.cat([b0, b1, b2, b3], dim=1)


def space_to_depth(x):
    """(B,3,T,H,W) -> (B,24,T/2,H/2,W/2); new channel = dt*12 + dh*6 + dw*3 + c."""
    b, c, t, h, w = x.shape
    x = x.view(b, c, t // 2, 2, h // 2, 2, w // 2, 2)
    x = x.permute(0, 3, 5, 7, 1, 2, 4, 6)
    return x.contiguous().view(b, 8 * c, t // 2, h // 2, w // 2)


class S3D(nn.Module):
    def __init__(self, cfg=S3D_FULL):
        super().__init__()
        self.conv1 = STConv3D(24, cfg["conv1"], (2, 4, 4), stride=1, padding=(1, 2, 2))
        self.conv_2b = STConv3D(cfg["conv1"], cfg["conv_2b"], 1)
        self.conv_2c = STConv3D(cfg["conv_2b"], cfg["conv_2c"], 3, padding=1, separable=True)
        self.gating = SelfGating(cfg["conv_2c"])
        self.maxpool_2a = MaxPool3dTFPadding((1, 3, 3), (1, 2, 2))
        self.maxpool_3a = MaxPool3dTFPadding((1, 3, 3), (1, 2, 2))
        self.maxpool_4a = MaxPool3dTFPadding((3, 3, 3), (2, 2, 2))
        self.maxpool_5a = MaxPool3dTFPadding((2, 2, 2), (2, 2, 2))
        cin = cfg["conv_2c"]
        for name in S3D_BLOCKS:
            o = cfg["blocks"][name]
            setattr(self, name, InceptionBlock(cin, o))
            cin = block_out(o)
        self.fc = nn.Linear(cin, cfg["embedding_dim"])

    def forward(self, x, taps=None):
        """x: (B,3,T,H,W) in [0,1]. `taps`, if a dict, receives the intermediate outputs."""
        taps = {} if taps is None else taps
        x = space_to_depth(x)
        taps["s2d"] = x
        x = self.conv1(x)[:, :, 1:, 1:, 1:]
        taps["conv1"] = x
        x = self.maxpool_2a(x)
        x = self.conv_2b(x)
        x = self.conv_2c(x)
        x = self.gating(x)
        x = self.maxpool_3a(x)
        x = self.mixed_3b(x)
        x = self.mixed_3c(x)
        taps["mixed_3c"] = x
        x = self.maxpool_4a(x)
        x = self.mixed_4b(x)
        x = self.mixed_4c(x)
        x = self.mixed_4d(x)
        x = self.mixed_4e(x)
        x = self.mixed_4f(x)
        taps["mixed_4f"] = x
        x = self.maxpool_5a(x)
        x = self.mixed_5b(x)
        x = self.mixed_5c(x)
        pooled = x.mean(dim=(2, 3, 4))
        taps["mixed_5c"] = pooled
        emb = self.fc(pooled)
        taps["video_embedding"] = emb
        return {"video_embedding": emb, "mixed_5c": pooled}


def s3d_features(model, frames_u8):
    """What VideoCLIP stores per second: uint8 frames /255 -> S3D -> L2-normalised 512-d."""
    x = frames_u8.float() / 255.0
    emb = model(x)["video_embedding"]
    return F.normalize(emb, dim=-1)


# --------------------------------------------------------------------------------------------
# BERT pieces (HF transformers 3.x naming), fed with ids or with embeddings


class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], h)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=BERT_LN_EPS)
        # HF registers an expanded (1, max_pos) buffer: stride 0 on the first dim.
        self.register_buffer(
            "position_ids", torch.arange(cfg["max_position_embeddings"]).expand((1, -1)))

    def forward(self, inputs_embeds, position_ids):
        tt = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        x = inputs_embeds + self.position_embeddings(position_ids) + self.token_type_embeddings(tt)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x, ext_mask):
        b, n, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, n, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + ext_mask
        probs = scores.softmax(dim=-1)
        return (probs @ v).transpose(1, 2).reshape(b, n, h)


class BertDenseLN(nn.Module):
    """`attention.output` and `output`: dense -> + residual -> LayerNorm."""

    def __init__(self, cin, h):
        super().__init__()
        self.dense = nn.Linear(cin, h)
        self.LayerNorm = nn.LayerNorm(h, eps=BERT_LN_EPS)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertDenseLN(cfg["hidden_size"], cfg["hidden_size"])

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact erf GELU


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertDenseLN(cfg["intermediate_size"], cfg["hidden_size"])

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, cfg, layers):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(layers)])

    def forward(self, x, ext_mask):
        for layer in self.layer:
            x = layer(x, ext_mask)
        return x


class BertPooler(nn.Module):
    """Present in the checkpoint, never used by VideoCLIP (it pools by averaging)."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])


class BertModel(nn.Module):
    def __init__(self, cfg, layers):
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg, layers)
        self.pooler = BertPooler(cfg)


def extended_mask(mask):
    """(B,N) {0,1} -> additive (B,1,1,N) with -10000 on masked keys (HF 3.x)."""
    return (1.0 - mask[:, None, None, :].float()) * MASK_VALUE


def masked_mean(hidden, mask):
    m = mask.float().unsqueeze(-1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1)


# --------------------------------------------------------------------------------------------
# VideoCLIP towers


class VideoTokenMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.linear1 = nn.Linear(cfg["video_feature_dim"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=MLP_LN_EPS)
        self.linear2 = nn.Linear(h, h)

    def forward(self, x):
        return self.linear2(self.LayerNorm(F.gelu(self.linear1(x))))


class VideoEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.videomlp = VideoTokenMLP(cfg)
        self.bert = BertModel(cfg, cfg["num_video_layers"])


class VideoCLIP(nn.Module):
    """`MMFusionSeparate`: separate video and text towers, average pooling, dot product."""

    def __init__(self, cfg=VIDEOCLIP_FULL):
        super().__init__()
        self.cfg = cfg
        self.video_encoder = VideoEncoder(cfg)
        self.text_encoder = BertModel(cfg, cfg["num_text_layers"])

    def forward_video(self, vfeats, vmasks, dummy_caption=False):
        """vfeats (B,32,Dv) zero-padded, vmasks (B,32) bool.

        Layout: [CLS] v_1..v_32 [SEP], positions 0..33, token types 0. The caption buffer's
        first two entries supply CLS/SEP and their attention mask: (1,1) normally, (0,1) with
        the dummy caption [CLS][SEP][PAD][SEP] / mask [0,1,0,1] used for token-level tasks.
        Returns (hidden (B,34,H), pooled (B,H)); pooling = mean over valid video tokens + SEP.
        """
        b, n, _ = vfeats.shape
        enc = self.video_encoder
        emb = enc.bert.embeddings
        ids = torch.tensor([CLS_ID, SEP_ID], device=vfeats.device).expand(b, 2)
        words = emb.word_embeddings(ids)
        tokens = torch.cat([words[:, :1], enc.videomlp(vfeats), words[:, 1:]], dim=1)
        pos = torch.arange(n + 2, device=vfeats.device)
        pos[-1] = self.cfg["max_video_len"] + 1
        x = emb(tokens, pos.expand(b, -1))
        cls_mask = torch.zeros if dummy_caption else torch.ones
        ones = torch.ones((b, 1), dtype=torch.bool, device=vfeats.device)
        attn = torch.cat([cls_mask((b, 1), dtype=torch.bool, device=vfeats.device), vmasks, ones],
                         dim=1)
        hidden = enc.bert.encoder(x, extended_mask(attn))
        zeros = torch.zeros((b, 1), dtype=torch.bool, device=vfeats.device)
        pool_mask = torch.cat([zeros, vmasks, ones], dim=1)
        return hidden, masked_mean(hidden, pool_mask)

    def forward_text(self, ids, mask):
        """ids (B,L) = [CLS] t_1..t_n [SEP] [PAD]..., mask (B,L) 1 on CLS..SEP.

        Returns (hidden (B,L,H), pooled (B,H)); pooling = mean over t_1..t_n and SEP.
        """
        b, n = ids.shape
        emb = self.text_encoder.embeddings
        pos = torch.arange(n, device=ids.device).expand(b, -1)
        x = emb(emb.word_embeddings(ids), pos)
        hidden = self.text_encoder.encoder(x, extended_mask(mask))
        pool_mask = mask.clone()
        pool_mask[:, 0] = 0
        return hidden, masked_mean(hidden, pool_mask)


def text_layout(token_ids, max_content=61, pad_to=63):
    """[CLS] t_1..t_n [SEP] [PAD]... (n <= 61) and its mask, as the MMPT aligner builds it."""
    t = list(token_ids)[:max_content]
    ids = [CLS_ID] + t + [SEP_ID]
    mask = [1] * len(ids)
    ids += [PAD_ID] * (pad_to - len(ids))
    mask += [0] * (pad_to - len(mask))
    return ids, mask


def scores(text_pooled, video_pooled):
    """Raw dot products (no cosine, no temperature): (Nt, Nv)."""
    return text_pooled @ video_pooled.T
