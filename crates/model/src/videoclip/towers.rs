//! The two VideoCLIP towers (`MMFusionSeparate`): a video transformer over per-second S3D
//! features and a text transformer over WordPiece tokens, each average-pooled to one vector;
//! the score of a (text, video) pair is the raw dot product.
//!
//! Paper: Xu et al., "VideoCLIP: Contrastive Pre-training for Zero-shot Video-Text
//! Understanding" (EMNLP 2021, arXiv 2109.14084). Reference: `fairseq/examples/MMPT`
//! (`mmpt/models/mmfusion.py` `MMFusionSeparate`, `mmpt/modules/mm.py` `VideoTokenMLP` and
//! `MMBertForEncoder`); spec `docs/model-notes.md` §3 and §5.4; PyTorch port
//! `tools/reference.py`. Weights: `checkpoint_best.pt` (`mmmodel.video_encoder.*`,
//! `mmmodel.text_encoder.*`), imported into `videoclip.safetensors` without the prefix.
//!
//! Layouts (the details that decide parity):
//! - video: `[CLS] v_1..v_L [SEP]`, positions `0..=L` then `max_video_len + 1` for the SEP (33),
//!   token type 0, `v_i = videomlp(feature_i)` (Linear -> erf GELU -> LayerNorm eps 1e-5 ->
//!   Linear); attention mask `[1 (0 in dummy-caption mode), valid_i, 1]`; pooled = mean of the
//!   valid video tokens and the SEP (CLS excluded).
//! - text: `[CLS] t_1..t_n [SEP] [PAD]...` (n <= 61), positions `0..`, attention on CLS..SEP;
//!   pooled = mean of t_1..t_n and the SEP (CLS and PAD excluded).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module};

use crate::bert::{gelu, layer_norm, linear, masked_mean, Embeddings, Encoder, Norm};
use crate::config::VideoClipConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// bert-base-uncased ids of the special tokens.
pub const PAD_ID: u32 = 0;
pub const UNK_ID: u32 = 100;
pub const CLS_ID: u32 = 101;
pub const SEP_ID: u32 = 102;

/// LayerNorm eps of `videomlp`: PyTorch's default, not BERT's 1e-12.
const MLP_LN_EPS: f64 = 1e-5;

/// Per-token hidden states of the last layer and the pooled vector.
#[derive(Debug, Clone)]
pub struct TowerOutput {
    /// `(B, L, H)`: video `L = 2 + video tokens` (`[CLS] v.. [SEP]`), text `L` = layout length.
    pub hidden: Tensor,
    /// `(B, H)`: the masked mean used for retrieval.
    pub pooled: Tensor,
}

/// How the video tower is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoMode {
    /// Retrieval: the caption buffer's `[CLS]` is attended to (`cmasks[:, 0] = 1`).
    Retrieval,
    /// Token-level tasks (COIN, CrossTask, step localisation): the dummy caption
    /// `[CLS][SEP][PAD][SEP]` with mask `[0,1,0,1]`, i.e. `[CLS]` is not attended to. Use
    /// `hidden` positions `1..=L` as per-second token vectors.
    DummyCaption,
}

/// `video_encoder`: `videomlp` + a BERT encoder fed with embeddings.
#[derive(Debug, Clone)]
pub struct VideoTower {
    config: VideoClipConfig,
    linear1: Linear,
    mlp_norm: Norm,
    linear2: Linear,
    embeddings: Embeddings,
    encoder: Encoder,
    /// `(1, 1, H)` word embeddings of `[CLS]` and `[SEP]`.
    cls: Tensor,
    sep: Tensor,
}

impl VideoTower {
    pub(crate) fn from_weights(w: &Weights, c: &VideoClipConfig) -> Result<Self> {
        let (h, dv) = (c.hidden_size, c.video_feature_dim);
        let embeddings = Embeddings::load(w, "video_encoder.bert.embeddings", c)?;
        let cls = embeddings
            .word
            .narrow(0, CLS_ID as usize, 1)?
            .reshape((1, 1, h))?;
        let sep = embeddings
            .word
            .narrow(0, SEP_ID as usize, 1)?
            .reshape((1, 1, h))?;
        Ok(Self {
            config: c.clone(),
            linear1: linear(w, "video_encoder.videomlp.linear1", dv, h)?,
            mlp_norm: layer_norm(w, "video_encoder.videomlp.LayerNorm", h, MLP_LN_EPS)?,
            linear2: linear(w, "video_encoder.videomlp.linear2", h, h)?,
            encoder: Encoder::load(w, "video_encoder.bert.encoder", c.num_video_layers, c)?,
            embeddings,
            cls,
            sep,
        })
    }

    /// `feats (B, L, video_feature_dim)` f32 (L2-normalised S3D features, zero rows for
    /// padding), `mask (B, L)` (1 = valid second, any dtype), `L <= max_video_len`.
    ///
    /// MMPT always pads to `max_video_len` (32); padded keys get weight exactly 0 after the
    /// softmax, so a shorter `L` gives the same valid-token outputs up to float rounding.
    pub fn forward(&self, feats: &Tensor, mask: &Tensor, mode: VideoMode) -> Result<TowerOutput> {
        let c = &self.config;
        let (b, l, dv) = feats.dims3().map_err(|_| {
            Error::Input(format!(
                "video tower expects features (B, L, D), got {:?}",
                feats.dims()
            ))
        })?;
        if dv != c.video_feature_dim || l > c.max_video_len || mask.dims() != [b, l] {
            return Err(Error::Input(format!(
                "video tower expects features (B, L<={}, {}) and mask (B, L), got {:?} and {:?}",
                c.max_video_len,
                c.video_feature_dim,
                feats.dims(),
                mask.dims()
            )));
        }
        let dev = self.cls.device();
        let h = c.hidden_size;
        let feats = feats.to_device(dev)?.to_dtype(self.cls.dtype())?;
        let mask = mask.to_device(dev)?.to_dtype(DType::F32)?;
        let v = gelu(&self.linear1.forward(&feats)?)?;
        let v = self.linear2.forward(&self.mlp_norm.forward(&v)?)?;
        let tokens = Tensor::cat(
            &[
                self.cls.broadcast_as((b, 1, h))?,
                v,
                self.sep.broadcast_as((b, 1, h))?,
            ],
            1,
        )?;
        let mut pos: Vec<u32> = (0..=l as u32).collect();
        pos.push(c.max_video_len as u32 + 1);
        let pos = Tensor::new(pos.as_slice(), dev)?;
        let x = self.embeddings.forward(&tokens, &pos)?;
        let cls_attn = match mode {
            VideoMode::Retrieval => 1.0,
            VideoMode::DummyCaption => 0.0,
        };
        let ones = Tensor::ones((b, 1), DType::F32, dev)?;
        let attn = Tensor::cat(&[(&ones * cls_attn)?, mask.clone(), ones.clone()], 1)?;
        let hidden = self.encoder.forward(&x, &attn)?;
        let pool = Tensor::cat(&[ones.zeros_like()?, mask, ones], 1)?;
        let pooled = masked_mean(&hidden, &pool)?;
        Ok(TowerOutput {
            hidden: output(hidden)?,
            pooled: output(pooled)?,
        })
    }

    /// Loads the video tower from `videoclip.safetensors`.
    pub fn load(path: &Path, config: &VideoClipConfig, device: &Device) -> Result<Self> {
        Self::from_weights(&Weights::load(path, device)?, config)
    }

    /// The sizes this tower was built with.
    pub fn config(&self) -> &VideoClipConfig {
        &self.config
    }
}

/// Tower outputs are f32, except in f64 (gradient checks), which is kept.
fn output(t: Tensor) -> Result<Tensor> {
    Ok(match t.dtype() {
        DType::F64 => t,
        _ => t.to_dtype(DType::F32)?,
    })
}

/// `text_encoder`: a BERT encoder over token ids.
#[derive(Debug, Clone)]
pub struct TextTower {
    config: VideoClipConfig,
    embeddings: Embeddings,
    encoder: Encoder,
    precision: Precision,
}

/// How a tower's dense layers store their weights: VideoCLIP's text tower (queries) and CLIP's
/// image tower (import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The checkpoint's f32 weights: exact (the parity tests' setting, and the GPU's).
    #[default]
    F32,
    /// ggml `q8_0` blocks (8-bit weights, one f16 scale per 32). A query on the CPU reads a
    /// quarter of the bytes, and CLIP's image tower multiplies about twice as fast;
    /// `vclip bench search --preset full` and `vclip bench encode --family clip
    /// --image-precision q8` measure the speed and the agreement with f32.
    Q8,
}

impl Precision {
    /// What runs on `device` unless asked otherwise: [`Precision::cpu_default`] on the CPU,
    /// f32 on a GPU.
    pub fn default_for(device: &Device) -> Self {
        if device.is_cpu() {
            Self::cpu_default()
        } else {
            Precision::F32
        }
    }

    /// The CPU's default, chosen by the kernels this CPU runs at its level
    /// ([`crate::cpu_level`]): q8 where VClip has an 8-bit kernel for it (AVX2, AVX-VNNI,
    /// AVX-512 VNNI, NEON dot product: faster than f32 on every CPU measured, see `vclip bench
    /// encode --kernels`), else f32 (candle's own 8-bit fallback is slower than f32 there).
    pub fn cpu_default() -> Self {
        if crate::q8_path().is_some() {
            Precision::Q8
        } else {
            Precision::F32
        }
    }

    /// Why [`Precision::cpu_default`] chose what it chose, in a sentence for the settings
    /// screen and the benchmarks.
    pub fn cpu_default_reason() -> String {
        let level = crate::cpu_level();
        match crate::q8_path() {
            Some(path) => format!(
                "q8: VClip's {path} 8-bit kernel runs at this CPU's level ({level}) and is \
                 faster than f32"
            ),
            None => format!(
                "f32: no 8-bit kernel of VClip's at this CPU's level ({level}); the fallback \
                 8-bit code is slower than f32"
            ),
        }
    }

    /// `f32` or `q8`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Q8 => "q8",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "q8" | "q8_0" | "int8" => Ok(Precision::Q8),
            other => Err(Error::Input(format!(
                "unknown precision `{other}` (expected `f32` or `q8`)"
            ))),
        }
    }
}

impl TextTower {
    pub(crate) fn from_weights(w: &Weights, c: &VideoClipConfig) -> Result<Self> {
        Ok(Self {
            config: c.clone(),
            embeddings: Embeddings::load(w, "text_encoder.embeddings", c)?,
            encoder: Encoder::load(w, "text_encoder.encoder", c.num_text_layers, c)?,
            precision: Precision::F32,
        })
    }

    /// Converts the dense layers to `precision`. Going back to f32 from q8 needs a reload (the
    /// f32 weights are dropped to save memory), so that is an error.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        match (self.precision, precision) {
            (Precision::F32, Precision::F32) | (Precision::Q8, Precision::Q8) => Ok(()),
            (Precision::F32, Precision::Q8) => {
                self.encoder.quantize_q8()?;
                self.precision = Precision::Q8;
                Ok(())
            }
            (Precision::Q8, Precision::F32) => Err(Error::Input(
                "the text tower is already 8-bit; reload the model for f32".into(),
            )),
        }
    }

    /// How the dense layers store their weights.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Loads the text tower from `videoclip.safetensors`.
    pub fn load(path: &Path, config: &VideoClipConfig, device: &Device) -> Result<Self> {
        Self::from_weights(&Weights::load(path, device)?, config)
    }

    /// `ids (B, L)` laid out by [`text_layout`] (u32 or i64), `mask (B, L)` 1 on `[CLS]`..`[SEP]`.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<TowerOutput> {
        let c = &self.config;
        let (b, l) = ids.dims2().map_err(|_| {
            Error::Input(format!(
                "text tower expects ids (B, L), got {:?}",
                ids.dims()
            ))
        })?;
        if l > c.max_position_embeddings || l == 0 || mask.dims() != [b, l] {
            return Err(Error::Input(format!(
                "text tower expects ids and mask (B, 1..={}), got {:?} and {:?}",
                c.max_position_embeddings,
                ids.dims(),
                mask.dims()
            )));
        }
        let dev = self.embeddings.word.device();
        let ids = ids.to_device(dev)?.to_dtype(DType::U32)?;
        let max_id = ids.max_all()?.to_scalar::<u32>()?;
        if max_id as usize >= c.vocab_size {
            return Err(Error::Input(format!(
                "token id {max_id} is outside the vocabulary of {} tokens",
                c.vocab_size
            )));
        }
        let mask = mask.to_device(dev)?.to_dtype(DType::F32)?;
        let pos = Tensor::arange(0u32, l as u32, dev)?;
        let x = self
            .embeddings
            .forward(&self.embeddings.words(&ids)?, &pos)?;
        let hidden = self.encoder.forward(&x, &mask)?;
        let pool = Tensor::cat(
            &[
                Tensor::zeros((b, 1), DType::F32, dev)?,
                mask.narrow(1, 1, l - 1)?,
            ],
            1,
        )?;
        let pooled = masked_mean(&hidden, &pool)?;
        Ok(TowerOutput {
            hidden: output(hidden)?,
            pooled: output(pooled)?,
        })
    }

    /// The sizes this tower was built with.
    pub fn config(&self) -> &VideoClipConfig {
        &self.config
    }
}

/// Loads both towers from one read of `videoclip.safetensors`.
pub fn load_towers(
    path: &Path,
    config: &VideoClipConfig,
    device: &Device,
) -> Result<(VideoTower, TextTower)> {
    let w = Weights::load(path, device)?;
    Ok((
        VideoTower::from_weights(&w, config)?,
        TextTower::from_weights(&w, config)?,
    ))
}

/// `[CLS] t_1..t_n [SEP] [PAD]...` and its attention mask, as MMPT's aligner builds the text
/// buffer (the placeholder SEP at index 1 dropped): content truncated to `max_len - 2` tokens
/// (61 for the real model), padded with `[PAD]` up to `pad_to` (63 in MMPT; any length >= n + 2
/// gives the same valid-token outputs).
pub fn text_layout(content: &[u32], max_len: usize, pad_to: usize) -> (Vec<u32>, Vec<u8>) {
    let n = content.len().min(max_len.saturating_sub(2));
    let mut ids = Vec::with_capacity(pad_to.max(n + 2));
    ids.push(CLS_ID);
    ids.extend_from_slice(&content[..n]);
    ids.push(SEP_ID);
    let mut mask = vec![1u8; ids.len()];
    while ids.len() < pad_to {
        ids.push(PAD_ID);
        mask.push(0);
    }
    (ids, mask)
}

/// Lays out a batch of token lists with [`text_layout`], padded to the longest (or to
/// `max_len` when `pad_to_max`), as `(ids (B, L) u32, mask (B, L) u8)` on `device`.
pub fn text_batch(
    contents: &[Vec<u32>],
    max_len: usize,
    pad_to_max: bool,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    if contents.is_empty() {
        return Err(Error::Input("no texts to encode".into()));
    }
    let longest = contents
        .iter()
        .map(|c| c.len().min(max_len.saturating_sub(2)) + 2)
        .max()
        .unwrap_or(2);
    let pad_to = if pad_to_max { max_len } else { longest };
    let mut ids = Vec::with_capacity(contents.len() * pad_to);
    let mut mask = Vec::with_capacity(contents.len() * pad_to);
    for c in contents {
        let (i, m) = text_layout(c, max_len, pad_to);
        ids.extend(i);
        mask.extend(m);
    }
    let shape = (contents.len(), pad_to);
    Ok((
        Tensor::from_vec(ids, shape, device)?,
        Tensor::from_vec(mask, shape, device)?,
    ))
}

/// Raw dot products `(Nt, Nv)` of pooled text `(Nt, H)` and video `(Nv, H)` vectors: VideoCLIP
/// scores (no cosine, no temperature).
pub fn scores(text: &Tensor, video: &Tensor) -> Result<Tensor> {
    Ok(text.matmul(&video.t()?)?)
}
