//! The CLIP family ([`crate::Family::Clip`]): CLIP ViT-B/32 (Radford et al., "Learning
//! Transferable Visual Models From Natural Language Supervision", 2021; weights
//! `openai/clip-vit-base-patch32`): the text tower is candle-transformers' `clip` module, the
//! image tower our own ViT (`vision.rs`: the same numbers, laid out for CPU throughput,
//! with an optional 8-bit mode, [`ClipModel::set_image_precision`]).
//!
//! Per video: one frame per second (224x224 RGB, short side scaled then centre-cropped by the
//! media layer) -> [`ClipModel::preprocess`] (CLIP mean/std) -> [`ClipModel::embed_frames`]: the
//! image tower's pooled `[CLS]` state, `visual_projection`, L2 normalisation = one 512-d
//! per-second embedding. A window is the mean of its seconds, re-normalised
//! ([`ClipModel::embed_windows`], CLIP4Clip "meanP" zero-shot, Luo et al. 2021, arXiv
//! 2104.08860); moments and steps score the per-second embeddings themselves. A query ->
//! [`ClipTokenizer`] -> the text tower's final state at the first `<|endoftext|>`,
//! `text_projection`, L2 normalisation. Score = cosine (dot product of unit vectors).
//!
//! The model directory: `config.json` ([`ClipModelConfig`], `"family": "clip-vit-b32"`),
//! `model.safetensors` with the tensor names and layout of HF transformers' `CLIPModel`
//! (f32), and `tokenizer.json` in HF tokenizers' format (what `CLIPTokenizerFast` saves).
//! [`import_clip`] writes one from HF's files, [`init_random_clip`] from random weights.
//!
//! Numerics follow HF transformers 4.57 `modeling_clip.py` (eager attention, quick_gelu,
//! LayerNorm eps 1e-5, causal text mask); `tools/make_clip_fixtures.py` writes the reference the
//! parity tests (`tests/clip_parity.rs`) compare against.

pub mod temporal;
pub(crate) mod vision;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::clip::text_model::{
    Activation, ClipTextConfig as CtTextConfig, ClipTextTransformer,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clip_temporal::{TemporalConfig, TemporalTower, TEMPORAL_FILE};
use crate::clip_vision::VisionTower;
use crate::config::{Preset, FORMAT, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::model_dir::{fingerprint, Init, SplitMix};
use crate::s3d::l2_normalize;
use crate::videoclip::Precision;
use crate::weights::Weights;

/// Files of a CLIP model directory.
pub const CLIP_CONFIG_FILE: &str = "config.json";
pub const CLIP_WEIGHTS_FILE: &str = "model.safetensors";
pub const CLIP_TOKENIZER_FILE: &str = "tokenizer.json";
/// HF's tokenizer files without `tokenizer.json` (what the slow `CLIPTokenizer` reads).
pub const CLIP_VOCAB_FILE: &str = "vocab.json";
pub const CLIP_MERGES_FILE: &str = "merges.txt";
/// HF's PyTorch weights (the format `openai/clip-vit-base-patch32` was first uploaded in), read
/// by [`import_clip`] when there is no `model.safetensors`.
pub const CLIP_PYTORCH_WEIGHTS_FILE: &str = "pytorch_model.bin";

/// CLIP's pixel mean and standard deviation (RGB, on values in [0, 1]; `CLIPImageProcessor`
/// defaults, written to f32 precision).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];
/// Tokens per text, `<|startoftext|>` and `<|endoftext|>` included (CLIP's context length).
pub const CLIP_MAX_TOKENS: usize = 77;
/// The only activation candle-transformers' CLIP implements (OpenAI's models use it).
pub const QUICK_GELU: &str = "quick_gelu";
/// The LayerNorm epsilon candle-transformers' CLIP hard-codes (HF's default).
pub const CLIP_LAYER_NORM_EPS: f64 = 1e-5;

const SOT: &str = "<|startoftext|>";
const EOT: &str = "<|endoftext|>";
/// Merges the original CLIP tokenizer reads at most (`49152 - 256 - 2`).
const MAX_MERGES: usize = 48_894;
/// CLIP's pre-tokenisation pattern (`openai/CLIP simple_tokenizer.py`, HF's `CLIPConverter`).
const CLIP_SPLIT: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

// ---------------------------------------------------------------------------------------------
// Configuration

/// Sizes of the image tower: the `vision_config` of an HF `CLIPModel` config (missing fields
/// take HF's defaults, which are ViT-B/32's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipVisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub num_channels: usize,
    /// Must be `quick_gelu`.
    pub hidden_act: String,
    /// Must be 1e-5.
    pub layer_norm_eps: f64,
}

impl Default for ClipVisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 224,
            patch_size: 32,
            num_channels: 3,
            hidden_act: QUICK_GELU.to_owned(),
            layer_norm_eps: CLIP_LAYER_NORM_EPS,
        }
    }
}

/// Sizes of the text tower: the `text_config` of an HF `CLIPModel` config (defaults: ViT-B/32's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipTextConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub vocab_size: usize,
    /// Longest text in tokens (77).
    pub max_position_embeddings: usize,
    /// Must be `quick_gelu`.
    pub hidden_act: String,
    /// Must be 1e-5.
    pub layer_norm_eps: f64,
}

impl Default for ClipTextConfig {
    fn default() -> Self {
        Self {
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            vocab_size: 49_408,
            max_position_embeddings: 77,
            hidden_act: QUICK_GELU.to_owned(),
            layer_norm_eps: CLIP_LAYER_NORM_EPS,
        }
    }
}

/// Sizes of a CLIP model and its image normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    pub vision: ClipVisionConfig,
    pub text: ClipTextConfig,
    /// Width of the joint embedding space (512).
    pub projection_dim: usize,
    #[serde(default = "clip_mean")]
    pub image_mean: [f32; 3],
    #[serde(default = "clip_std")]
    pub image_std: [f32; 3],
}

fn clip_mean() -> [f32; 3] {
    CLIP_MEAN
}

fn clip_std() -> [f32; 3] {
    CLIP_STD
}

/// The parts of an HF `CLIPModel` `config.json` that describe sizes. The projection width is the
/// top-level `projection_dim` (the sub-configs carry an unused one of their own).
#[derive(Debug, Deserialize)]
struct HfClipConfig {
    #[serde(default)]
    text_config: Option<ClipTextConfig>,
    #[serde(default)]
    vision_config: Option<ClipVisionConfig>,
    #[serde(default = "default_projection")]
    projection_dim: usize,
}

fn default_projection() -> usize {
    512
}

impl ClipConfig {
    /// CLIP ViT-B/32 (`openai/clip-vit-base-patch32`): image 224, patch 32, width 768, 12 layers,
    /// 12 heads; text width 512, 12 layers, 8 heads, vocab 49,408, 77 tokens; projection 512.
    pub fn vit_b32() -> Self {
        Self {
            vision: ClipVisionConfig::default(),
            text: ClipTextConfig::default(),
            projection_dim: 512,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
        }
    }

    /// The tiny test model of `tools/make_clip_fixtures.py`: 32x32 images, patch 8, widths 32,
    /// 2 layers, 4 heads, a 1,024-token vocab, projection 16.
    pub fn tiny() -> Self {
        Self {
            vision: ClipVisionConfig {
                hidden_size: 32,
                intermediate_size: 64,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                image_size: 32,
                patch_size: 8,
                ..ClipVisionConfig::default()
            },
            text: ClipTextConfig {
                hidden_size: 32,
                intermediate_size: 64,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                vocab_size: 1024,
                ..ClipTextConfig::default()
            },
            projection_dim: 16,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
        }
    }

    /// The sizes of a preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Tiny => Self::tiny(),
            Preset::Full => Self::vit_b32(),
        }
    }

    /// Reads the sizes from an HF `CLIPModel` `config.json` (`text_config`, `vision_config`,
    /// `projection_dim`; HF's defaults where absent) and validates them.
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let hf: HfClipConfig =
            serde_json::from_str(&text).map_err(|e| Error::config(path, e.to_string()))?;
        let config = Self {
            vision: hf.vision_config.unwrap_or_default(),
            text: hf.text_config.unwrap_or_default(),
            projection_dim: hf.projection_dim,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that candle-transformers' CLIP can run these sizes. `path` is only used in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let fail = |reason: String| Err(Error::config(path, reason));
        let (v, t) = (&self.vision, &self.text);
        for (tower, hidden, heads, inter, layers) in [
            (
                "vision",
                v.hidden_size,
                v.num_attention_heads,
                v.intermediate_size,
                v.num_hidden_layers,
            ),
            (
                "text",
                t.hidden_size,
                t.num_attention_heads,
                t.intermediate_size,
                t.num_hidden_layers,
            ),
        ] {
            if [hidden, heads, inter, layers].contains(&0) {
                return fail(format!("clip.{tower} has a zero size"));
            }
            if !hidden.is_multiple_of(heads) {
                return fail(format!(
                    "clip.{tower}.hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
                ));
            }
        }
        for (tower, act, eps) in [
            ("vision", &v.hidden_act, v.layer_norm_eps),
            ("text", &t.hidden_act, t.layer_norm_eps),
        ] {
            if act != QUICK_GELU {
                return fail(format!(
                    "clip.{tower}.hidden_act is `{act}`: only `{QUICK_GELU}` is supported \
                     (candle-transformers' CLIP; OpenAI's CLIP models use it)"
                ));
            }
            if (eps - CLIP_LAYER_NORM_EPS).abs() > 1e-12 {
                return fail(format!(
                    "clip.{tower}.layer_norm_eps is {eps}: only {CLIP_LAYER_NORM_EPS} is supported"
                ));
            }
        }
        if v.patch_size == 0 || v.image_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return fail(format!(
                "clip.vision.image_size {} is not a multiple of patch_size {}",
                v.image_size, v.patch_size
            ));
        }
        if v.num_channels != 3 {
            return fail(format!(
                "clip.vision.num_channels is {}: frames are RGB",
                v.num_channels
            ));
        }
        if t.max_position_embeddings < 2 || t.vocab_size < 2 {
            return fail("clip.text needs room for <|startoftext|> and <|endoftext|>".into());
        }
        if self.projection_dim == 0 {
            return fail("clip.projection_dim is zero".into());
        }
        if self.image_std.iter().any(|s| !s.is_finite() || *s <= 0.0)
            || self.image_mean.iter().any(|m| !m.is_finite())
        {
            return fail("clip.image_std must be positive and image_mean finite".into());
        }
        Ok(())
    }

    /// Tokens per text: 77, or fewer when the position table is shorter.
    pub fn max_tokens(&self) -> usize {
        self.text.max_position_embeddings.min(CLIP_MAX_TOKENS)
    }

    fn candle_text(&self) -> CtTextConfig {
        let t = &self.text;
        CtTextConfig {
            vocab_size: t.vocab_size,
            embed_dim: t.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: t.intermediate_size,
            max_position_embeddings: t.max_position_embeddings,
            pad_with: None,
            num_hidden_layers: t.num_hidden_layers,
            num_attention_heads: t.num_attention_heads,
            projection_dim: self.projection_dim,
        }
    }
}

/// `config.json` of a CLIP model directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipModelConfig {
    /// Always [`FORMAT`] (`vclip-model`).
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this version.
    pub version: u32,
    /// Always [`Family::Clip`].
    pub family: Family,
    /// True for weights made up by [`init_random_clip`] (or test fixtures).
    pub random_weights: bool,
    /// Free text: where the weights came from.
    #[serde(default)]
    pub description: String,
    /// Fingerprint of the weights (`clip-<16 hex>`): the model version an index is built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Fingerprint of the image tower alone (`vision_model.*`, `visual_projection.*`;
    /// `clipv-<16 hex>`): what the per-second features depend on, so a fine-tuned model (same
    /// image tower, another `model_id`) reuses cached features. Absent in older directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision_id: Option<String>,
    pub clip: ClipConfig,
    /// The temporal tower over the per-second embeddings (`temporal.safetensors`), when the
    /// model was fine-tuned; without one, windows are meanP ([`crate::clip_temporal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal: Option<TemporalConfig>,
}

impl ClipModelConfig {
    /// A configuration with `clip`'s sizes.
    pub fn new(clip: ClipConfig, random_weights: bool, description: impl Into<String>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            family: Family::Clip,
            random_weights,
            description: description.into(),
            model_id: None,
            vision_id: None,
            clip,
            temporal: None,
        }
    }

    /// Reads and validates `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::config(path, e.to_string()))?;
        let family = value.get("family").and_then(|f| f.as_str());
        if family != Some(Family::Clip.name()) {
            return Err(Error::config(
                path,
                format!(
                    "not a CLIP model directory (family `{}`, expected `{}`)",
                    family.unwrap_or(Family::VideoClip.name()),
                    Family::Clip.name()
                ),
            ));
        }
        let config: Self =
            serde_json::from_value(value).map_err(|e| Error::config(path, e.to_string()))?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks the format, version, family and sizes. `path` is only used in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if self.format != FORMAT {
            return Err(Error::config(
                path,
                format!("format is `{}`, expected `{FORMAT}`", self.format),
            ));
        }
        if self.version > FORMAT_VERSION {
            return Err(Error::config(
                path,
                format!(
                    "version {} is newer than this program understands ({FORMAT_VERSION})",
                    self.version
                ),
            ));
        }
        if self.family != Family::Clip {
            return Err(Error::config(
                path,
                format!("family is `{}`, expected `{}`", self.family, Family::Clip),
            ));
        }
        self.clip.validate(path)?;
        if let Some(t) = &self.temporal {
            t.validate(path, self.clip.projection_dim)?;
        }
        Ok(())
    }

    /// Writes `config.json` (pretty-printed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().map_or_else(
            || CLIP_CONFIG_FILE.to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        crate::folder::FolderWriter::create(dir)?
            .finish(&name, &crate::folder::config_json(self, path)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

/// CLIP's byte-level BPE tokenizer, as HF's `CLIPTokenizerFast`: NFC, whitespace runs to one
/// space, lower-casing; CLIP's split pattern; byte-level symbols; BPE with `</w>` word ends;
/// `<|startoftext|> ... <|endoftext|>`, at most 77 tokens (the content is cut, the end token
/// kept). Texts containing the special tokens' literal text get the special ids, as in HF.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    sot: u32,
    eot: u32,
    vocab_size: usize,
    max_tokens: usize,
}

impl ClipTokenizer {
    /// Loads an HF `tokenizer.json` (what `CLIPTokenizerFast.save_pretrained` writes).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, path)
    }

    /// Parses the text of a `tokenizer.json`; `path` names it in errors.
    pub fn from_json(json: &str, path: &Path) -> Result<Self> {
        let inner: tokenizers::Tokenizer = json.parse().map_err(|e| Error::Tokenizer {
            path: path.to_owned(),
            reason: format!("not an HF tokenizers file: {e}"),
        })?;
        Self::wrap(inner, path)
    }

    /// Builds the tokenizer from HF's `vocab.json` + `merges.txt` exactly as transformers'
    /// `CLIPConverter` does (the fast tokenizer of `openai/clip-vit-base-patch32`).
    pub fn from_vocab_merges(vocab: &Path, merges: &Path) -> Result<Self> {
        let vocab_text = std::fs::read_to_string(vocab).map_err(|e| Error::io(vocab, e))?;
        let vocab_map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&vocab_text).map_err(|e| Error::Tokenizer {
                path: vocab.to_owned(),
                reason: format!("not a JSON object of token -> id: {e}"),
            })?;
        let merges_text = std::fs::read_to_string(merges).map_err(|e| Error::io(merges, e))?;
        let mut pairs = Vec::new();
        for (i, line) in merges_text.lines().enumerate() {
            if (i == 0 && line.starts_with("#version")) || line.trim().is_empty() {
                continue;
            }
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                    pairs.push(json!([a, b]));
                }
                _ => {
                    return Err(Error::Tokenizer {
                        path: merges.to_owned(),
                        reason: format!("line {} is not a merge `a b`: {line:?}", i + 1),
                    })
                }
            }
        }
        pairs.truncate(MAX_MERGES);
        let json = tokenizer_json(serde_json::Value::Object(vocab_map), pairs, vocab)?;
        Self::from_json(&json, vocab)
    }

    /// A byte-level tokenizer of `vocab_size` tokens for random models written without CLIP's
    /// vocabulary: the 512 byte symbols (with and without `</w>`), unreachable fillers, and the
    /// two special tokens last, as in CLIP. Texts tokenize into characters.
    pub fn synthetic(vocab_size: usize) -> Result<Self> {
        let path = Path::new("<synthetic tokenizer>");
        if vocab_size < 514 {
            return Err(Error::Tokenizer {
                path: path.to_owned(),
                reason: format!("{vocab_size} tokens: a byte-level vocab needs at least 514"),
            });
        }
        let symbols = byte_symbols();
        let mut tokens: Vec<String> = symbols.iter().map(|c| c.to_string()).collect();
        tokens.extend(symbols.iter().map(|c| format!("{c}</w>")));
        let fillers = vocab_size - tokens.len() - 2;
        tokens.extend((0..fillers).map(|i| format!("<|unused{i}|>")));
        tokens.extend([SOT.to_owned(), EOT.to_owned()]);
        let vocab: serde_json::Map<String, serde_json::Value> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, json!(i)))
            .collect();
        let json = tokenizer_json(serde_json::Value::Object(vocab), Vec::new(), path)?;
        Self::from_json(&json, path)
    }

    fn wrap(inner: tokenizers::Tokenizer, path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Tokenizer {
            path: path.to_owned(),
            reason,
        };
        let sot = inner
            .token_to_id(SOT)
            .ok_or_else(|| fail(format!("no `{SOT}` token")))?;
        let eot = inner
            .token_to_id(EOT)
            .ok_or_else(|| fail(format!("no `{EOT}` token")))?;
        let vocab_size = inner.get_vocab_size(true);
        Ok(Self {
            inner,
            path: path.to_owned(),
            sot,
            eot,
            vocab_size,
            max_tokens: CLIP_MAX_TOKENS,
        })
    }

    /// The file this tokenizer was read from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens in the vocabulary, special tokens included (49,408 for CLIP).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Id of `<|startoftext|>` (49406 in CLIP).
    pub fn sot_id(&self) -> u32 {
        self.sot
    }

    /// Id of `<|endoftext|>` (49407), also the padding id.
    pub fn eot_id(&self) -> u32 {
        self.eot
    }

    /// Tokens per text, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn with_max_tokens(mut self, max: usize) -> Self {
        self.max_tokens = max.clamp(2, CLIP_MAX_TOKENS);
        self
    }

    /// The `tokenizer.json` text of this tokenizer.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(|e| Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// `<|startoftext|> ids.. <|endoftext|>` of `text`, the content cut to fit
    /// [`Self::max_tokens`] (HF: `truncation=True, max_length=77`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let content = enc.get_ids();
        let keep = content.len().min(self.max_tokens - 2);
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(self.sot);
        ids.extend_from_slice(&content[..keep]);
        ids.push(self.eot);
        Ok(ids)
    }

    /// A batch for the text tower: ids `(B, L)` u32 padded with `<|endoftext|>` to the longest
    /// text (to [`Self::max_tokens`] when `pad_to_max`), the attention mask `(B, L)` u8 (1 on
    /// real tokens), and each text's pooling position (its first `<|endoftext|>`).
    pub fn batch(
        &self,
        texts: &[&str],
        pad_to_max: bool,
        device: &Device,
    ) -> Result<(Tensor, Tensor, Vec<usize>)> {
        let ids = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        let len = if pad_to_max {
            self.max_tokens
        } else {
            ids.iter().map(Vec::len).max().unwrap_or(2)
        };
        let mut flat = Vec::with_capacity(ids.len() * len);
        let mut mask = Vec::with_capacity(ids.len() * len);
        let mut pool = Vec::with_capacity(ids.len());
        for row in &ids {
            pool.push(
                row.iter()
                    .position(|&i| i == self.eot)
                    .unwrap_or(row.len() - 1),
            );
            flat.extend(row.iter().copied());
            flat.extend(std::iter::repeat_n(self.eot, len - row.len()));
            mask.extend((0..len).map(|i| u8::from(i < row.len())));
        }
        let b = ids.len();
        Ok((
            Tensor::from_vec(flat, (b, len), device)?,
            Tensor::from_vec(mask, (b, len), device)?,
            pool,
        ))
    }
}

/// GPT-2/CLIP `bytes_to_unicode`: the printable character standing for each byte, in CLIP's
/// vocabulary order (the printable bytes first, then the others mapped past U+0100).
fn byte_symbols() -> Vec<char> {
    let mut bytes: Vec<u32> = (u32::from(b'!')..=u32::from(b'~'))
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = bytes.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bytes.contains(&b) {
            bytes.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    chars.into_iter().filter_map(char::from_u32).collect()
}

/// The `tokenizer.json` of HF's `CLIPConverter` (transformers 4.57) for a vocab and merges.
fn tokenizer_json(
    vocab: serde_json::Value,
    merges: Vec<serde_json::Value>,
    path: &Path,
) -> Result<String> {
    let id = |token: &str| {
        vocab
            .get(token)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| Error::Tokenizer {
                path: path.to_owned(),
                reason: format!("the vocabulary has no `{token}`"),
            })
    };
    let (sot, eot) = (id(SOT)?, id(EOT)?);
    let special = |id: u64, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": true, "special": true})
    };
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false,
                            "trim_offsets": true, "use_regex": true});
    let value = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(sot, SOT), special(eot, EOT)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_SPLIT}, "behavior": "Removed",
             "invert": true},
            byte_level,
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOT, eot], "cls": [SOT, sot],
                           "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": EOT,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>",
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    });
    serde_json::to_string(&value).map_err(|e| Error::Tokenizer {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Weights

/// Every tensor the model needs: HF `CLIPModel` name and shape (`logit_scale`, unused for
/// embeddings, is optional and not listed).
fn clip_specs(c: &ClipConfig) -> Vec<(String, Vec<usize>, Init)> {
    let mut out = Vec::new();
    let lin = |out: &mut Vec<_>, p: &str, cin: usize, cout: usize| {
        out.push((format!("{p}.weight"), vec![cout, cin], Init::Normal(0.02)));
        out.push((format!("{p}.bias"), vec![cout], Init::Const(0.0)));
    };
    let ln = |out: &mut Vec<_>, p: &str, n: usize| {
        out.push((format!("{p}.weight"), vec![n], Init::Const(1.0)));
        out.push((format!("{p}.bias"), vec![n], Init::Const(0.0)));
    };
    let encoder = |out: &mut Vec<_>, p: &str, h: usize, i: usize, layers: usize| {
        for l in 0..layers {
            let p = format!("{p}.encoder.layers.{l}");
            for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                lin(out, &format!("{p}.self_attn.{n}"), h, h);
            }
            ln(out, &format!("{p}.layer_norm1"), h);
            lin(out, &format!("{p}.mlp.fc1"), h, i);
            lin(out, &format!("{p}.mlp.fc2"), i, h);
            ln(out, &format!("{p}.layer_norm2"), h);
        }
    };
    let v = &c.vision;
    let hv = v.hidden_size;
    let positions = (v.image_size / v.patch_size.max(1)).pow(2) + 1;
    out.push((
        "vision_model.embeddings.class_embedding".into(),
        vec![hv],
        Init::Normal((hv as f32).powf(-0.5)),
    ));
    out.push((
        "vision_model.embeddings.patch_embedding.weight".into(),
        vec![hv, v.num_channels, v.patch_size, v.patch_size],
        Init::Normal(0.02),
    ));
    out.push((
        "vision_model.embeddings.position_embedding.weight".into(),
        vec![positions, hv],
        Init::Normal(0.02),
    ));
    ln(&mut out, "vision_model.pre_layrnorm", hv);
    encoder(
        &mut out,
        "vision_model",
        hv,
        v.intermediate_size,
        v.num_hidden_layers,
    );
    ln(&mut out, "vision_model.post_layernorm", hv);
    let t = &c.text;
    let ht = t.hidden_size;
    out.push((
        "text_model.embeddings.token_embedding.weight".into(),
        vec![t.vocab_size, ht],
        Init::Normal(0.02),
    ));
    out.push((
        "text_model.embeddings.position_embedding.weight".into(),
        vec![t.max_position_embeddings, ht],
        Init::Normal(0.01),
    ));
    encoder(
        &mut out,
        "text_model",
        ht,
        t.intermediate_size,
        t.num_hidden_layers,
    );
    ln(&mut out, "text_model.final_layer_norm", ht);
    out.push((
        "visual_projection.weight".into(),
        vec![c.projection_dim, hv],
        Init::Normal((hv as f32).powf(-0.5)),
    ));
    out.push((
        "text_projection.weight".into(),
        vec![c.projection_dim, ht],
        Init::Normal((ht as f32).powf(-0.5)),
    ));
    out
}

/// `logit_scale` (a scalar parameter of HF's `CLIPModel`): kept when present, not needed.
const LOGIT_SCALE: &str = "logit_scale";
/// CLIP's initial `logit_scale`, ln(1/0.07).
const LOGIT_SCALE_INIT: f32 = 2.6592;

/// Checks every needed tensor's name and shape in `w` (errors name the file) and returns them,
/// plus `logit_scale` when present.
fn checked_tensors(w: &Weights, c: &ClipConfig) -> Result<HashMap<String, Tensor>> {
    let specs = clip_specs(c);
    let mut out = HashMap::with_capacity(specs.len() + 1);
    for (name, shape, _) in specs {
        let t = w.get(&name, &shape)?;
        if t.dtype() != DType::F32 {
            return Err(Error::Weights {
                path: w.path().to_owned(),
                reason: format!("tensor `{name}` is {:?}, not a float tensor", t.dtype()),
            });
        }
        out.insert(name, t);
    }
    if w.has(LOGIT_SCALE) {
        let t = w
            .get(LOGIT_SCALE, &[])
            .or_else(|_| w.get(LOGIT_SCALE, &[1]))?;
        out.insert(LOGIT_SCALE.to_owned(), t.reshape(())?.to_dtype(DType::F32)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The model

/// A loaded CLIP model directory: both towers, their projections and the tokenizer on one
/// device, in f32.
#[derive(Debug, Clone)]
pub struct ClipModel {
    pub config: ClipModelConfig,
    vision: VisionTower,
    text: ClipTextTransformer,
    text_projection: Linear,
    tokenizer: ClipTokenizer,
    /// The fine-tuned temporal tower, when `config.json` names one.
    temporal: Option<TemporalTower>,
    device: Device,
    dir: PathBuf,
}

impl ClipModel {
    /// Loads the model directory `dir` (`config.json`, `model.safetensors`, `tokenizer.json`)
    /// onto `device`. Every tensor is checked by name and shape; errors name the file.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config = ClipModelConfig::load(&dir.join(CLIP_CONFIG_FILE))?;
        let w = Weights::load(&dir.join(CLIP_WEIGHTS_FILE), device)?;
        let tensors = checked_tensors(&w, &config.clip)?;
        let tokenizer_path = dir.join(CLIP_TOKENIZER_FILE);
        let tokenizer = ClipTokenizer::from_file(&tokenizer_path)?;
        check_vocab(&tokenizer, &config.clip, &tokenizer_path)?;
        Self::from_tensors(config, tensors, tokenizer, device, dir)
    }

    fn from_tensors(
        config: ClipModelConfig,
        tensors: HashMap<String, Tensor>,
        tokenizer: ClipTokenizer,
        device: &Device,
        dir: &Path,
    ) -> Result<Self> {
        let c = &config.clip;
        let vision = VisionTower::new(&tensors, c)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let text = ClipTextTransformer::new(vb.pp("text_model"), &c.candle_text())?;
        let text_projection = candle_nn::linear_no_bias(
            c.text.hidden_size,
            c.projection_dim,
            vb.pp("text_projection"),
        )?;
        let tokenizer = tokenizer.with_max_tokens(c.max_tokens());
        let temporal = match &config.temporal {
            Some(t) => Some(TemporalTower::load(&dir.join(TEMPORAL_FILE), t, device)?),
            None => None,
        };
        Ok(Self {
            config,
            vision,
            text,
            text_projection,
            tokenizer,
            temporal,
            device: device.clone(),
            dir: dir.to_owned(),
        })
    }

    /// The directory this model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device the weights sit on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// True when the weights are random (`init-random`, fixtures): results mean nothing.
    pub fn is_random(&self) -> bool {
        self.config.random_weights
    }

    /// Side of the square input frames (224).
    pub fn image_size(&self) -> usize {
        self.config.clip.vision.image_size
    }

    /// Width of every vector this model returns: frames, windows, texts (512).
    pub fn embedding_dim(&self) -> usize {
        self.config.clip.projection_dim
    }

    /// Stores the image tower's dense layers in `precision` ([`Precision::Q8`]: about twice as
    /// fast on the CPU; see `vclip bench encode --family clip --image-precision q8` for the
    /// speed and the agreement with f32). Back to f32 from q8 needs a reload, so that is an
    /// error.
    pub fn set_image_precision(&mut self, precision: Precision) -> Result<()> {
        self.vision.set_precision(precision)
    }

    /// How the image tower's dense layers store their weights (f32 when loaded).
    pub fn image_precision(&self) -> Precision {
        self.vision.precision()
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// uint8 RGB frames `(N, S, S, 3)` (S = [`Self::image_size`], already scaled and cropped)
    /// -> the image tower's input `(N, 3, S, S)` f32 on the model's device:
    /// `(x / 255 - mean) / std` per channel, as `CLIPImageProcessor`.
    pub fn preprocess(&self, frames: &Tensor) -> Result<Tensor> {
        let s = self.image_size();
        let dims = frames.dims();
        if dims.len() != 4 || dims[1] != s || dims[2] != s || dims[3] != 3 {
            return Err(Error::Input(format!(
                "frames of shape {dims:?}, expected (N, {s}, {s}, 3) RGB"
            )));
        }
        if frames.dtype() != DType::U8 {
            return Err(Error::Input(format!(
                "frames are {:?}, expected u8",
                frames.dtype()
            )));
        }
        let c = &self.config.clip;
        let scale: Vec<f32> = c.image_std.iter().map(|s| 1.0 / (255.0 * s)).collect();
        let shift: Vec<f32> = c
            .image_mean
            .iter()
            .zip(c.image_std)
            .map(|(m, s)| -m / s)
            .collect();
        let scale = Tensor::from_vec(scale, (1, 3, 1, 1), &self.device)?;
        let shift = Tensor::from_vec(shift, (1, 3, 1, 1), &self.device)?;
        let x = frames
            .to_device(&self.device)?
            .permute((0, 3, 1, 2))?
            .to_dtype(DType::F32)?;
        Ok(x.broadcast_mul(&scale)?.broadcast_add(&shift)?)
    }

    /// Per-second frame embeddings: preprocessed frames `(N, 3, S, S)` f32 -> L2-normalised
    /// `(N, D)` (the image tower's `[CLS]` state after `post_layernorm`, `visual_projection`).
    pub fn embed_frames(&self, pixels: &Tensor) -> Result<Tensor> {
        let s = self.image_size();
        let dims = pixels.dims();
        if dims.len() != 4 || dims[1] != 3 || dims[2] != s || dims[3] != s {
            return Err(Error::Input(format!(
                "pixels of shape {dims:?}, expected (N, 3, {s}, {s}) (see ClipModel::preprocess)"
            )));
        }
        let pixels = pixels.to_device(&self.device)?.to_dtype(DType::F32)?;
        l2_normalize(&self.vision.forward(&pixels)?)
    }

    /// Frame embeddings straight from uint8 frames `(N, S, S, 3)`:
    /// [`Self::preprocess`] then [`Self::embed_frames`].
    pub fn embed_rgb(&self, frames: &Tensor) -> Result<Tensor> {
        self.embed_frames(&self.preprocess(frames)?)
    }

    /// L2-normalised text embeddings `(N, D)` (the text tower's final state at each text's first
    /// `<|endoftext|>`, `text_projection`). Texts are padded to the longest of the batch; the
    /// causal mask makes padding irrelevant.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Tensor> {
        if texts.is_empty() {
            return Ok(Tensor::zeros(
                (0, self.embedding_dim()),
                DType::F32,
                &self.device,
            )?);
        }
        let (ids, _mask, pool) = self.tokenizer.batch(texts, false, &self.device)?;
        self.embed_token_ids(&ids, &pool)
    }

    /// Text embeddings of already tokenized ids `(B, L)` (u32 or i64), pooled at `pool[b]`.
    pub fn embed_token_ids(&self, ids: &Tensor, pool: &[usize]) -> Result<Tensor> {
        let (b, l) = ids.dims2()?;
        if pool.len() != b || pool.iter().any(|&p| p >= l) {
            return Err(Error::Input(format!(
                "{} pooling positions for {b} texts of {l} tokens",
                pool.len()
            )));
        }
        if l > self.config.clip.text.max_position_embeddings {
            return Err(Error::Input(format!(
                "{l} tokens, the model takes at most {}",
                self.config.clip.text.max_position_embeddings
            )));
        }
        let ids = ids.to_device(&self.device)?.to_dtype(DType::U32)?;
        let hidden = self.text.forward_with_mask(&ids, usize::MAX)?;
        let h = self.config.clip.text.hidden_size;
        let rows: Vec<u32> = pool
            .iter()
            .enumerate()
            .map(|(i, &p)| (i * l + p) as u32)
            .collect();
        let rows = Tensor::from_vec(rows, b, &self.device)?;
        let pooled = hidden.reshape((b * l, h))?.index_select(&rows, 0)?;
        l2_normalize(&self.text_projection.forward(&pooled)?)
    }

    /// Window embeddings from per-second embeddings `(T, D)`: the mean over each `[start, end)`
    /// span, L2-normalised (CLIP4Clip meanP); with a temporal tower, its pooled output (spans
    /// of at most [`Self::max_window`] seconds). Returns `(W, D)`.
    pub fn embed_windows(&self, per_second: &Tensor, spans: &[(usize, usize)]) -> Result<Tensor> {
        match &self.temporal {
            Some(t) => t.embed_windows(per_second, spans),
            None => mean_pool_windows(per_second, spans),
        }
    }

    /// What moments and steps score, `(T, D)`: the per-second embeddings themselves, or with a
    /// temporal tower its per-second outputs averaged over overlapping windows
    /// ([`TemporalTower::second_states`]).
    pub fn second_states(&self, per_second: &Tensor) -> Result<Tensor> {
        match &self.temporal {
            Some(t) => t.second_states(per_second),
            None => Ok(per_second.clone()),
        }
    }

    /// [`Self::embed_windows`] and the per-second states over the same `spans` in one pass:
    /// meanP windows and the embeddings themselves, or the temporal tower's pooled windows and
    /// its per-second outputs averaged over the windows that cover each second
    /// ([`TemporalTower::windows`]). Returns `(W, D)` and `(T, D)`.
    pub fn window_states(
        &self,
        per_second: &Tensor,
        spans: &[(usize, usize)],
    ) -> Result<(Tensor, Tensor)> {
        match &self.temporal {
            Some(t) => t.windows(per_second, spans),
            None => Ok((mean_pool_windows(per_second, spans)?, per_second.clone())),
        }
    }

    /// The fine-tuned temporal tower, when the model has one.
    pub fn temporal(&self) -> Option<&TemporalTower> {
        self.temporal.as_ref()
    }

    /// The longest window [`Self::embed_windows`] takes: the tower's `max_seconds`, unbounded
    /// for meanP.
    pub fn max_window(&self) -> usize {
        self.temporal
            .as_ref()
            .map_or(usize::MAX, |t| t.config().max_seconds)
    }

    /// Cosine scores `(Nt, Nv)` of unit text and video vectors.
    pub fn scores(&self, text: &Tensor, video: &Tensor) -> Result<Tensor> {
        Ok(text.matmul(&video.t()?)?)
    }
}

/// See [`ClipModel::embed_windows`]: mean over each `[start, end)` span of `(T, D)`, then L2
/// normalisation. Empty or out-of-range spans are an [`Error::Input`].
pub fn mean_pool_windows(per_second: &Tensor, spans: &[(usize, usize)]) -> Result<Tensor> {
    let (t, d) = per_second.dims2()?;
    if spans.is_empty() {
        return Ok(Tensor::zeros((0, d), DType::F32, per_second.device())?);
    }
    let mut rows = Vec::with_capacity(spans.len());
    for &(start, end) in spans {
        if start >= end || end > t {
            return Err(Error::Input(format!(
                "window [{start}, {end}) over {t} seconds"
            )));
        }
        rows.push(per_second.narrow(0, start, end - start)?.mean(0)?);
    }
    l2_normalize(&Tensor::stack(&rows, 0)?.to_dtype(DType::F32)?)
}

fn check_vocab(tok: &ClipTokenizer, c: &ClipConfig, path: &Path) -> Result<()> {
    if tok.vocab_size() > c.text.vocab_size {
        return Err(Error::Tokenizer {
            path: path.to_owned(),
            reason: format!(
                "{} tokens, but the text tower embeds only {}",
                tok.vocab_size(),
                c.text.vocab_size
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing model directories

/// Writes a CLIP model directory: `model.safetensors`, `tokenizer.json`, and `config.json`
/// last (a directory with a config is complete). Returns the config as written, with the
/// weight fingerprint.
pub fn write_clip_dir(
    out_dir: &Path,
    config: &ClipModelConfig,
    tensors: &HashMap<String, Tensor>,
    tokenizer_json: &str,
) -> Result<ClipModelConfig> {
    config.validate(&out_dir.join(CLIP_CONFIG_FILE))?;
    let mut config = config.clone();
    config.model_id = Some(format!("clip-{:016x}", fingerprint(tensors)?));
    config.vision_id = Some(vision_fingerprint(tensors)?);
    let folder = crate::folder::FolderWriter::create(out_dir)?;
    folder.weights(CLIP_WEIGHTS_FILE, tensors)?;
    folder.text(CLIP_TOKENIZER_FILE, tokenizer_json)?;
    let config_path = out_dir.join(CLIP_CONFIG_FILE);
    folder.finish(
        CLIP_CONFIG_FILE,
        &crate::folder::config_json(&config, &config_path)?,
    )?;
    Ok(config)
}

/// `clipv-<16 hex>`: the fingerprint of the image tower's tensors (`vision_model.*`,
/// `visual_projection.*`) among `tensors` (see [`ClipModelConfig::vision_id`]).
pub(crate) fn vision_fingerprint(tensors: &HashMap<String, Tensor>) -> Result<String> {
    let vision: HashMap<String, Tensor> = tensors
        .iter()
        .filter(|(n, _)| n.starts_with("vision_model.") || n.starts_with("visual_projection."))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    Ok(format!("clipv-{:016x}", fingerprint(&vision)?))
}

/// What [`import_clip`] did.
#[derive(Debug, Clone)]
pub struct ClipImportSummary {
    pub dir: PathBuf,
    pub config: ClipModelConfig,
    /// Tensors written.
    pub tensors: usize,
    /// Names in the source weights the model does not use (`position_ids` buffers of older
    /// checkpoints, ...).
    pub ignored: Vec<String>,
    /// The tokenizer file(s) read.
    pub tokenizer_from: Vec<PathBuf>,
}

/// The weights of an HF CLIP folder: `model.safetensors`, or without it `pytorch_model.bin`
/// (either PyTorch serialisation). Floats are widened to f32.
fn source_weights(src_dir: &Path) -> Result<Weights> {
    let safetensors = src_dir.join(CLIP_WEIGHTS_FILE);
    let bin = src_dir.join(CLIP_PYTORCH_WEIGHTS_FILE);
    if safetensors.is_file() {
        return Weights::load(&safetensors, &Device::Cpu);
    }
    if !bin.is_file() {
        return Err(Error::Weights {
            path: src_dir.to_owned(),
            reason: format!("neither {CLIP_WEIGHTS_FILE} nor {CLIP_PYTORCH_WEIGHTS_FILE} is there"),
        });
    }
    let mut tensors = HashMap::new();
    for (name, t) in crate::pth::read_state_dict(&bin, None)? {
        let t = if t.dtype().is_float() {
            t.to_dtype(DType::F32)?
        } else {
            t
        };
        tensors.insert(name, t);
    }
    Ok(Weights::from_map(&bin, tensors))
}

/// Imports HF's CLIP files from `src_dir` into the model directory `out_dir`:
/// `model.safetensors` or, without it, `pytorch_model.bin` (HF `CLIPModel` names; f16/bf16 are
/// widened to f32), the sizes from
/// `config.json` when present (ViT-B/32 otherwise), and the tokenizer from `tokenizer.json` or,
/// without it, `vocab.json` + `merges.txt`. Every tensor is checked by name and shape; errors
/// name the file.
pub fn import_clip(src_dir: &Path, out_dir: &Path) -> Result<ClipImportSummary> {
    let hf_config = src_dir.join("config.json");
    let clip = if hf_config.is_file() {
        ClipConfig::from_hf_config(&hf_config)?
    } else {
        ClipConfig::vit_b32()
    };
    let w = source_weights(src_dir)?;
    let tensors = checked_tensors(&w, &clip)?;
    let mut ignored: Vec<String> = w
        .tensors()
        .keys()
        .filter(|n| !tensors.contains_key(*n))
        .cloned()
        .collect();
    ignored.sort();

    let tok_json = src_dir.join(CLIP_TOKENIZER_FILE);
    let (tokenizer, tokenizer_text, tokenizer_from) = if tok_json.is_file() {
        let text = std::fs::read_to_string(&tok_json).map_err(|e| Error::io(&tok_json, e))?;
        let tok = ClipTokenizer::from_json(&text, &tok_json)?;
        (tok, text, vec![tok_json])
    } else {
        let (vocab, merges) = (
            src_dir.join(CLIP_VOCAB_FILE),
            src_dir.join(CLIP_MERGES_FILE),
        );
        if !vocab.is_file() || !merges.is_file() {
            return Err(Error::io(
                &tok_json,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no tokenizer: neither tokenizer.json nor vocab.json + merges.txt",
                ),
            ));
        }
        let tok = ClipTokenizer::from_vocab_merges(&vocab, &merges)?;
        let text = tok.to_json()?;
        (tok, text, vec![vocab, merges])
    };
    check_vocab(&tokenizer, &clip, &tokenizer_from[0])?;

    let config = ClipModelConfig::new(clip, false, format!("imported from {}", src_dir.display()));
    let config = write_clip_dir(out_dir, &config, &tensors, &tokenizer_text)?;
    Ok(ClipImportSummary {
        dir: out_dir.to_owned(),
        config,
        tensors: tensors.len(),
        ignored,
        tokenizer_from,
    })
}

/// Random weights for every tensor of a CLIP of sizes `clip` (HF names, on the CPU),
/// deterministic in `seed`; the logit scale is not among them.
pub(crate) fn random_clip_tensors(clip: &ClipConfig, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = SplitMix(seed);
    let mut tensors = HashMap::new();
    for (name, shape, init) in clip_specs(clip) {
        let n = shape.iter().product();
        tensors.insert(
            name,
            Tensor::from_vec(rng.fill(n, init), shape, &Device::Cpu)?,
        );
    }
    Ok(tensors)
}

/// Writes a random-weight CLIP model of `preset` (Tiny: [`ClipConfig::tiny`], Full: ViT-B/32)
/// to `out_dir`, deterministic in `seed`, marked `random_weights: true`. The tokenizer is
/// `tokenizer` (an HF `tokenizer.json` whose vocab fits the preset: CLIP's for `full`) or,
/// when `None`, [`ClipTokenizer::synthetic`]. Returns its config.
pub fn init_random_clip(
    preset: Preset,
    seed: u64,
    out_dir: &Path,
    tokenizer: Option<&Path>,
) -> Result<ClipModelConfig> {
    init_random_clip_sized(ClipConfig::preset(preset), seed, out_dir, tokenizer)
}

/// [`init_random_clip`] with any sizes `clip` allows (tests that need layers wide enough for
/// the 8-bit kernel without ViT-B/32's size).
pub fn init_random_clip_sized(
    clip: ClipConfig,
    seed: u64,
    out_dir: &Path,
    tokenizer: Option<&Path>,
) -> Result<ClipModelConfig> {
    clip.validate(out_dir)?;
    let (tok, tok_text) = match tokenizer {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            (ClipTokenizer::from_json(&text, path)?, text)
        }
        None => {
            let tok = ClipTokenizer::synthetic(clip.text.vocab_size)?;
            let text = tok.to_json()?;
            (tok, text)
        }
    };
    check_vocab(&tok, &clip, tok.path())?;
    let mut tensors = random_clip_tensors(&clip, seed)?;
    tensors.insert(
        LOGIT_SCALE.to_owned(),
        Tensor::new(LOGIT_SCALE_INIT, &Device::Cpu)?,
    );
    let config = ClipModelConfig::new(
        clip,
        true,
        format!("random weights (init-random, seed {seed}): for tests and benchmarks only"),
    );
    write_clip_dir(out_dir, &config, &tensors, &tok_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for p in [Preset::Tiny, Preset::Full] {
            ClipConfig::preset(p)
                .validate(Path::new("preset"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn gelu_and_odd_eps_are_refused() {
        let mut c = ClipConfig::tiny();
        c.text.hidden_act = "gelu".into();
        let err = c
            .validate(Path::new("x/config.json"))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("gelu") && e.contains("x/config.json")));
        let mut c = ClipConfig::tiny();
        c.vision.layer_norm_eps = 1e-6;
        assert!(c.validate(Path::new("c")).is_err());
    }

    #[test]
    fn byte_symbols_are_gpt2s() {
        let s = byte_symbols();
        assert_eq!(s.len(), 256);
        assert_eq!((s[0], s[93], s[94], s[255]), ('!', '~', '¡', 'Ń'));
        assert_eq!(s[188], 'Ā'); // byte 0
        assert_eq!(s[220], 'Ġ'); // byte 32, the space
    }

    #[test]
    fn synthetic_tokenizer_spells_characters() -> Result<()> {
        let tok = ClipTokenizer::synthetic(1000)?;
        assert_eq!(
            (tok.sot_id(), tok.eot_id(), tok.vocab_size()),
            (998, 999, 1000)
        );
        // "Hi!" -> "h" "i</w>" "!</w>": h = 71, i</w> = 256 + 72, !</w> = 256 + 0.
        assert_eq!(tok.encode("Hi!")?, vec![998, 71, 328, 256, 999]);
        let long = "a ".repeat(100);
        let ids = tok.encode(&long)?;
        assert_eq!(ids.len(), 77);
        assert_eq!(ids.last(), Some(&999));
        Ok(())
    }

    #[test]
    fn pytorch_model_bin_imports_like_model_safetensors() -> Result<()> {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip");
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        // The HF folder without model.safetensors: config, tokenizer and pytorch_model.bin.
        let src = tmp.path().join("hf-bin");
        std::fs::create_dir_all(&src).map_err(|e| Error::io(&src, e))?;
        for (from, name) in [
            ("hf/config.json", "config.json"),
            ("hf/tokenizer.json", "tokenizer.json"),
            ("bin/pytorch_model.bin", CLIP_PYTORCH_WEIGHTS_FILE),
        ] {
            std::fs::copy(fixtures.join(from), src.join(name))
                .map_err(|e| Error::io(fixtures.join(from), e))?;
        }
        let from_bin = import_clip(&src, &tmp.path().join("a"))?;
        let from_st = import_clip(&fixtures.join("hf"), &tmp.path().join("b"))?;
        // The same tensors (the fingerprint covers every name and value); the buffers skipped.
        assert!(from_bin.config.model_id.is_some());
        assert_eq!(from_bin.config.model_id, from_st.config.model_id);
        assert_eq!(from_bin.tensors, from_st.tensors);
        assert!(from_bin.ignored.iter().any(|n| n.ends_with("position_ids")));

        // Neither weights file: the error says so.
        std::fs::remove_file(src.join(CLIP_PYTORCH_WEIGHTS_FILE))
            .map_err(|e| Error::io(&src, e))?;
        let err = import_clip(&src, &tmp.path().join("c"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("pytorch_model.bin"), "{err}");
        assert!(!tmp.path().join("c").exists());
        Ok(())
    }

    #[test]
    fn windows_average_then_normalise() -> Result<()> {
        let x = Tensor::new(&[[1f32, 0.], [0., 1.], [0., 1.]], &Device::Cpu)?;
        let w = mean_pool_windows(&x, &[(0, 2), (1, 3)])?.to_vec2::<f32>()?;
        let r = std::f32::consts::FRAC_1_SQRT_2;
        assert!((w[0][0] - r).abs() < 1e-6 && (w[0][1] - r).abs() < 1e-6);
        assert!((w[1][1] - 1.0).abs() < 1e-6);
        assert!(mean_pool_windows(&x, &[(2, 2)]).is_err());
        assert!(mean_pool_windows(&x, &[(0, 4)]).is_err());
        Ok(())
    }
}
