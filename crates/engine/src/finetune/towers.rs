//! What a fine-tune trains, per model family, behind one type: the training loop, retrieval
//! batches, evaluation and checkpoints ([`super::train`]) only see [`Towers`].
//!
//! | | VideoCLIP | CLIP |
//! |---|---|---|
//! | trained | videomlp + video transformer + text transformer ([`TrainableTowers`]) | the temporal tower over the per-second image embeddings ([`TrainableTemporal`]) |
//! | video side | video tower (retrieval mode) on S3D-G features, pooled | temporal tower on the cached frame embeddings, pooled (a fresh tower: meanP) |
//! | text side | text tower on the sampled tokens (trained) | frozen CLIP text embedding of the sampled tokens, computed once per distinct text |
//! | tokens | bert-base-uncased WordPiece, ≤ 61 per text | CLIP BPE, ≤ 75 + `<|startoftext|>`/`<|endoftext|>` = 77 |
//! | default τ | 1.0 (the paper) | 0.01 (CLIP's logit scale 100) |
//! | result | `write_model_dir` (new towers, same S3D-G) | [`write_temporal_model`] (same CLIP weights, new tower) |
//!
//! Why τ = 0.01 for CLIP: its embeddings are unit vectors, so a batch's logits are cosines in
//! [−1, 1]; at τ = 1 the softmax over a batch stays close to flat whatever the tower does
//! (with the pairs perfectly aligned and the others orthogonal, the loss of a 512-pair batch is
//! still ln(1 + 511/e) ≈ 5.2 per direction, against ln 512 ≈ 6.2 at chance), so the gradient
//! carries little signal: on the learning library of `tests/finetune_clip.rs` held-out R@1
//! reaches 0.44 at τ = 1 and 1.00 at τ = 0.01. CLIP was trained at a logit scale of 100
//! (`logit_scale` = ln 100 in the released weights), and CLIP4Clip fine-tunes its temporal
//! transformer at that scale. VideoCLIP's pooled vectors are not normalised, which is why the
//! paper can use τ = 1.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor, Var};
use vclip_index::ModelVersion;
use vclip_model::clip_temporal::{write_temporal_model, TemporalConfig, TrainableTemporal};
use vclip_model::train::TrainableTowers;
use vclip_model::{text_batch, ClipModel, Model, VClipModel, VideoMode};

use crate::store::{clip_version, model_version, EngineError, Result};

/// The InfoNCE temperature of the CLIP family when the options name none (CLIP's logit scale
/// 100; see the module docs).
pub const CLIP_TAU: f64 = 0.01;
/// VideoCLIP's (the paper's).
pub const VIDEOCLIP_TAU: f64 = 1.0;
/// Texts per pass of the frozen CLIP text tower.
const TEXT_BATCH: usize = 64;

pub(super) fn model_err(context: &str) -> impl Fn(vclip_model::Error) -> EngineError + '_ {
    move |source| EngineError::Model {
        context: context.to_owned(),
        source,
    }
}

pub(super) fn candle_err(context: &str) -> impl Fn(candle_core::Error) -> EngineError + '_ {
    move |e| EngineError::Model {
        context: context.to_owned(),
        source: e.into(),
    }
}

/// The trainable part of the active model. See the module docs.
pub(super) enum Towers<'a> {
    VideoClip {
        model: &'a VClipModel,
        towers: Box<TrainableTowers>,
    },
    Clip {
        model: &'a ClipModel,
        temporal: Box<TrainableTemporal>,
        config: TemporalConfig,
        /// Frozen text embeddings (unit, f32) by their content tokens.
        texts: Mutex<HashMap<Vec<u32>, Vec<f32>>>,
    },
}

/// A caption's content tokens (no special tokens) with `model`'s tokenizer, at most what one
/// text of the model holds.
pub(super) fn caption_tokens(model: &Model, text: &str) -> Result<Vec<u32>> {
    match model {
        Model::VideoClip(m) => m
            .tokenizer
            .encode_up_to(text, m.config.videoclip.max_text_len.saturating_sub(2))
            .map_err(model_err("tokenizing subtitles")),
        Model::Clip(m) => {
            let ids = m
                .tokenizer()
                .encode(text)
                .map_err(model_err("tokenizing subtitles"))?;
            // `<|startoftext|> content <|endoftext|>`: the content.
            Ok(ids
                .get(1..ids.len().saturating_sub(1))
                .unwrap_or_default()
                .to_vec())
        }
    }
}

/// The InfoNCE temperature for `model` when the options name none.
pub fn default_tau(model: &Model) -> f64 {
    match model {
        Model::VideoClip(_) => VIDEOCLIP_TAU,
        Model::Clip(_) => CLIP_TAU,
    }
}

impl<'a> Towers<'a> {
    /// Loads the trainable part of `model` in f32 on its device. A CLIP model without a
    /// temporal tower gets a fresh one (exactly meanP; random layers drawn from `seed` when the
    /// text transformer's sizes do not fit, see [`TrainableTemporal::for_model`]); one with a
    /// tower is trained further.
    pub(super) fn load(model: &'a Model, seed: u64) -> Result<Self> {
        let context = "loading the towers to train";
        Ok(match model {
            Model::VideoClip(m) => {
                let weights = m.dir().join(vclip_model::model_dir::VIDEOCLIP_FILE);
                let towers =
                    TrainableTowers::load(&weights, &m.config.videoclip, m.device(), DType::F32)
                        .map_err(model_err(context))?;
                Self::VideoClip {
                    model: m,
                    towers: Box::new(towers),
                }
            }
            Model::Clip(m) => {
                let (temporal, config) = TrainableTemporal::for_model(m, seed, DType::F32)
                    .map_err(model_err(context))?;
                Self::Clip {
                    model: m,
                    temporal: Box::new(temporal),
                    config,
                    texts: Mutex::new(HashMap::new()),
                }
            }
        })
    }

    /// Every weight, by its name in the model's file, sorted.
    pub(super) fn vars(&self) -> &[(String, Var)] {
        match self {
            Self::VideoClip { towers, .. } => &towers.vars,
            Self::Clip { temporal, .. } => &temporal.vars,
        }
    }

    /// The weights the optimizer updates: all of them, less VideoCLIP's text tower when
    /// `freeze_text` (CLIP's text tower is frozen anyway: it is not among the variables).
    pub(super) fn trained_vars(&self, freeze_text: bool) -> Vec<(String, Var)> {
        self.vars()
            .iter()
            .filter(|(name, _)| {
                !(freeze_text
                    && matches!(self, Self::VideoClip { .. })
                    && name.starts_with("text_encoder."))
            })
            .cloned()
            .collect()
    }

    /// The device training runs on (the model's).
    pub(super) fn device(&self) -> &Device {
        match self {
            Self::VideoClip { model, .. } => model.device(),
            Self::Clip { model, .. } => model.device(),
        }
    }

    /// The longest video clip the video side takes, in seconds.
    pub(super) fn max_seconds(&self) -> usize {
        match self {
            Self::VideoClip { model, .. } => model.config.videoclip.max_video_len,
            Self::Clip { config, .. } => config.max_seconds,
        }
    }

    /// Values per second of the cached features.
    pub(super) fn feature_dim(&self) -> usize {
        match self {
            Self::VideoClip { model, .. } => model.config.videoclip.video_feature_dim,
            Self::Clip { config, .. } => config.width,
        }
    }

    /// Width of the pooled video and text vectors (768 VideoCLIP, CLIP's projection width).
    pub(super) fn embedding_dim(&self) -> usize {
        match self {
            Self::VideoClip { model, .. } => model.config.videoclip.hidden_size,
            Self::Clip { model, .. } => model.embedding_dim(),
        }
    }

    /// Pooled video vectors `(B, D)` of padded clips `feats (B, L, F)` with `mask (B, L)`;
    /// gradients flow to the trained weights.
    pub(super) fn embed_video(&self, feats: &Tensor, mask: &Tensor) -> Result<Tensor> {
        match self {
            Self::VideoClip { towers, .. } => Ok(towers
                .video
                .forward(feats, mask, VideoMode::Retrieval)
                .map_err(model_err("video tower"))?
                .pooled),
            Self::Clip { temporal, .. } => Ok(temporal
                .tower
                .forward(feats, mask)
                .map_err(model_err("temporal tower"))?
                .pooled),
        }
    }

    /// Pooled text vectors `(B, D)` of content tokens: VideoCLIP's text tower (trained), or
    /// CLIP's frozen text embeddings (each distinct text computed once, then cached).
    pub(super) fn embed_texts(&self, texts: &[Vec<u32>]) -> Result<Tensor> {
        match self {
            Self::VideoClip { model, towers } => {
                let (ids, mask) = text_batch(
                    texts,
                    model.config.videoclip.max_text_len,
                    false,
                    model.device(),
                )
                .map_err(model_err("laying out the texts"))?;
                Ok(towers
                    .text
                    .forward(&ids, &mask)
                    .map_err(model_err("text tower"))?
                    .pooled)
            }
            Self::Clip {
                model,
                texts: cache,
                ..
            } => clip_texts(model, cache, texts),
        }
    }

    /// A copy of the current weights.
    pub(super) fn snapshot(&self) -> Result<HashMap<String, Tensor>> {
        match self {
            Self::VideoClip { towers, .. } => towers
                .vars
                .iter()
                .map(|(n, v)| {
                    Ok((
                        n.clone(),
                        v.as_tensor()
                            .detach()
                            .copy()
                            .map_err(candle_err("copying weights"))?,
                    ))
                })
                .collect(),
            Self::Clip { temporal, .. } => {
                temporal.snapshot().map_err(model_err("copying weights"))
            }
        }
    }

    /// Writes `tensors` (the best epoch's weights) as a new model directory `out_dir` and
    /// returns its version.
    pub(super) fn write(
        &self,
        out_dir: &Path,
        tensors: &HashMap<String, Tensor>,
        epoch: usize,
    ) -> Result<ModelVersion> {
        match self {
            Self::VideoClip { model, .. } => {
                model_version(&write_videoclip(model, out_dir, tensors, epoch)?)
            }
            Self::Clip { model, config, .. } => {
                let description = format!(
                    "temporal tower fine-tuned on a VClip library (best epoch {epoch}) from: {}",
                    model.config.description
                );
                let written =
                    write_temporal_model(model.dir(), out_dir, config, tensors, &description)
                        .map_err(model_err("writing the fine-tuned model"))?;
                clip_version(&written)
            }
        }
    }
}

/// CLIP text embeddings `(B, D)` of content tokens through `cache`: the missing ones are run
/// through the frozen text tower, `TEXT_BATCH` at a time (content cut to the tokenizer's 77
/// tokens with `<|startoftext|>` and `<|endoftext|>`, pooled at `<|endoftext|>`).
fn clip_texts(
    model: &ClipModel,
    cache: &Mutex<HashMap<Vec<u32>, Vec<f32>>>,
    texts: &[Vec<u32>],
) -> Result<Tensor> {
    let tok = model.tokenizer();
    let keep = tok.max_tokens().saturating_sub(2);
    let key = |t: &Vec<u32>| t[..t.len().min(keep)].to_vec();
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let mut missing: Vec<Vec<u32>> = Vec::new();
    for t in texts {
        let k = key(t);
        if !cache.contains_key(&k) && !missing.contains(&k) {
            missing.push(k);
        }
    }
    let err = candle_err("frozen text tower");
    for chunk in missing.chunks(TEXT_BATCH) {
        let len = chunk.iter().map(Vec::len).max().unwrap_or(0) + 2;
        let mut ids = Vec::with_capacity(chunk.len() * len);
        let mut pool = Vec::with_capacity(chunk.len());
        for c in chunk {
            ids.push(tok.sot_id());
            ids.extend_from_slice(c);
            ids.push(tok.eot_id());
            ids.extend(std::iter::repeat_n(tok.eot_id(), len - c.len() - 2));
            pool.push(c.len() + 1);
        }
        let ids = Tensor::from_vec(ids, (chunk.len(), len), model.device()).map_err(&err)?;
        let rows = model
            .embed_token_ids(&ids, &pool)
            .map_err(model_err("frozen text tower"))?
            .to_dtype(DType::F32)
            .and_then(|t| t.to_vec2::<f32>())
            .map_err(&err)?;
        for (c, row) in chunk.iter().zip(rows) {
            cache.insert(c.clone(), row);
        }
    }
    let d = model.embedding_dim();
    let mut flat = Vec::with_capacity(texts.len() * d);
    for t in texts {
        flat.extend_from_slice(&cache[&key(t)]);
    }
    Tensor::from_vec(flat, (texts.len(), d), model.device()).map_err(&err)
}

/// A model directory with `model`'s S3D-G weights and vocabulary and the trained towers.
fn write_videoclip(
    model: &VClipModel,
    out_dir: &Path,
    towers: &HashMap<String, Tensor>,
    epoch: usize,
) -> Result<vclip_model::ModelConfig> {
    use vclip_model::model_dir::{S3D_FILE, VOCAB_FILE};
    if out_dir.join(vclip_model::model_dir::CONFIG_FILE).exists() {
        return Err(EngineError::Invalid(format!(
            "{} already holds a model; choose a new folder",
            out_dir.display()
        )));
    }
    let base = model.dir();
    let s3d_path = base.join(S3D_FILE);
    let s3d = candle_core::safetensors::load(&s3d_path, &Device::Cpu)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", s3d_path.display())))?;
    // Non-trainable tensors of the towers' file (none today) are carried over as they are.
    let towers_path = base.join(vclip_model::model_dir::VIDEOCLIP_FILE);
    let mut videoclip = candle_core::safetensors::load(&towers_path, &Device::Cpu)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", towers_path.display())))?;
    for (name, t) in towers {
        let t = t
            .to_device(&Device::Cpu)
            .map_err(candle_err("copying the trained weights"))?;
        videoclip.insert(name.clone(), t);
    }
    let vocab_path = base.join(VOCAB_FILE);
    let vocab = std::fs::read_to_string(&vocab_path)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", vocab_path.display())))?;
    let mut config = model.config.clone();
    config.description = format!(
        "fine-tuned on a VClip library (best epoch {epoch}) from: {}",
        model.config.description
    );
    vclip_model::write_model_dir(out_dir, &config, &s3d, &videoclip, &vocab)
        .map_err(model_err("writing the fine-tuned model"))
}
