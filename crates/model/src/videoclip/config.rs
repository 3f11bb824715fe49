//! Model sizes: the `config.json` of a model directory.
//!
//! S3D-G (MIL-NCE HowTo100M, `antoine77340/S3D_HowTo100M/s3dg.py`) and the VideoCLIP towers
//! (arXiv 2109.14084, `fairseq/examples/MMPT`) are described by their sizes, so that the real
//! model (`Preset::Full`, the released `s3d_howto100m.pth` + `checkpoint_best.pt`) and tiny random
//! test models (`Preset::Tiny`, the fixtures of `tools/make_fixtures.py`) run the same code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Names of the nine Inception blocks of S3D-G, in network order.
pub const S3D_BLOCKS: [&str; 9] = [
    "mixed_3b", "mixed_3c", "mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e", "mixed_4f", "mixed_5b",
    "mixed_5c",
];

/// The value of `format` in `config.json`.
pub const FORMAT: &str = "vclip-model";
/// The current version of the model directory format.
pub const FORMAT_VERSION: u32 = 1;

/// Channel widths of S3D-G. The structure (layers, kernels, pools) is fixed; widths can shrink
/// for tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3dConfig {
    /// Output channels of `conv1` (64).
    pub conv1: usize,
    /// Output channels of `conv_2b` (64).
    pub conv_2b: usize,
    /// Output channels of `conv_2c` and `gating` (192).
    pub conv_2c: usize,
    /// Per Inception block: `[o0, o1a, o1b, o2a, o2b, o3b]`.
    pub blocks: BTreeMap<String, [usize; 6]>,
    /// Size of `video_embedding`, the output of `fc` (512).
    pub embedding_dim: usize,
}

/// One Inception block of S3D-G: its name, input channels and `[o0, o1a, o1b, o2a, o2b, o3b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    pub name: &'static str,
    pub cin: usize,
    pub widths: [usize; 6],
}

/// Sizes of the two VideoCLIP transformers (BERT-base for the real model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoClipConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    /// Layers of the video transformer (6).
    pub num_video_layers: usize,
    /// Layers of the text transformer (12).
    pub num_text_layers: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    /// Size of the per-second video features fed to `videomlp` (S3D's 512).
    pub video_feature_dim: usize,
    /// Video tokens per window (32 seconds); the video `[SEP]` sits at position `max_video_len + 1`.
    pub max_video_len: usize,
    /// Text tokens with `[CLS]` and `[SEP]` (63 = 61 content tokens + 2).
    pub max_text_len: usize,
}

/// `config.json` of a model directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this version.
    pub version: u32,
    /// True for weights made up by `init-random` (or test fixtures): search results are
    /// meaningless and the app should say so.
    pub random_weights: bool,
    /// Free text: where the weights came from.
    #[serde(default)]
    pub description: String,
    /// Fingerprint of the S3D-G weights (`s3d-<16 hex>`), written with the model directory.
    /// Per-second features computed with one backbone are reused by every model with the
    /// same fingerprint; `None` in directories written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone_id: Option<String>,
    /// Fingerprint of the video and text towers (`vc-<16 hex>`): the model version a
    /// library's window index is built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub towers_id: Option<String>,
    pub s3d: S3dConfig,
    pub videoclip: VideoClipConfig,
}

/// Named model sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// A few channels and layers: fast tests, a few hundred kB of weights.
    Tiny,
    /// The released model: S3D-G (9.7 M parameters) + BERT-base towers (177 M).
    Full,
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tiny" => Ok(Self::Tiny),
            "full" => Ok(Self::Full),
            other => Err(Error::Input(format!(
                "unknown preset `{other}` (expected `tiny` or `full`)"
            ))),
        }
    }
}

fn blocks(table: [[usize; 6]; 9]) -> BTreeMap<String, [usize; 6]> {
    S3D_BLOCKS
        .iter()
        .zip(table)
        .map(|(name, o)| ((*name).to_owned(), o))
        .collect()
}

impl S3dConfig {
    /// The released S3D-G (`s3dg.py:263-293`).
    pub fn full() -> Self {
        Self {
            conv1: 64,
            conv_2b: 64,
            conv_2c: 192,
            blocks: blocks([
                [64, 96, 128, 16, 32, 32],
                [128, 128, 192, 32, 96, 64],
                [192, 96, 208, 16, 48, 64],
                [160, 112, 224, 24, 64, 64],
                [128, 128, 256, 24, 64, 64],
                [112, 144, 288, 32, 64, 64],
                [256, 160, 320, 32, 128, 128],
                [256, 160, 320, 32, 128, 128],
                [384, 192, 384, 48, 128, 128],
            ]),
            embedding_dim: 512,
        }
    }

    /// The tiny test model of `tools/make_fixtures.py`.
    pub fn tiny() -> Self {
        Self {
            conv1: 8,
            conv_2b: 8,
            conv_2c: 12,
            blocks: blocks([
                [4, 6, 8, 2, 4, 4],
                [8, 8, 12, 2, 6, 4],
                [12, 6, 13, 2, 3, 4],
                [10, 7, 14, 2, 4, 4],
                [8, 8, 16, 2, 4, 4],
                [7, 9, 18, 2, 4, 4],
                [16, 10, 20, 2, 8, 8],
                [16, 10, 20, 2, 8, 8],
                [24, 12, 24, 3, 8, 8],
            ]),
            embedding_dim: 32,
        }
    }

    /// The widths of a block, by name.
    pub fn block(&self, name: &str) -> Option<[usize; 6]> {
        self.blocks.get(name).copied()
    }

    /// The blocks in network order with their input channels, and the output channels of the
    /// last one (`mixed_5c`, 1024); `None` if a block is missing.
    pub fn block_inputs(&self) -> Option<(Vec<BlockSpec>, usize)> {
        let mut cin = self.conv_2c;
        let mut out = Vec::with_capacity(S3D_BLOCKS.len());
        for name in S3D_BLOCKS {
            let widths = self.block(name)?;
            out.push(BlockSpec { name, cin, widths });
            cin = widths[0] + widths[2] + widths[4] + widths[5];
        }
        Some((out, cin))
    }

    fn validate(&self, path: &Path) -> Result<()> {
        for name in S3D_BLOCKS {
            match self.block(name) {
                None => return Err(Error::config(path, format!("s3d.blocks lacks `{name}`"))),
                Some(o) if o.contains(&0) => {
                    return Err(Error::config(
                        path,
                        format!("s3d.blocks.{name} has a zero width"),
                    ))
                }
                Some(_) => {}
            }
        }
        if [self.conv1, self.conv_2b, self.conv_2c, self.embedding_dim].contains(&0) {
            return Err(Error::config(path, "s3d has a zero width"));
        }
        Ok(())
    }
}

impl VideoClipConfig {
    /// The released VideoCLIP: BERT-base, 6 video layers, 12 text layers.
    pub fn full() -> Self {
        Self {
            hidden_size: 768,
            num_attention_heads: 12,
            intermediate_size: 3072,
            num_video_layers: 6,
            num_text_layers: 12,
            vocab_size: 30522,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            video_feature_dim: 512,
            max_video_len: 32,
            max_text_len: 63,
        }
    }

    /// The tiny test model of `tools/make_fixtures.py`.
    pub fn tiny() -> Self {
        Self {
            hidden_size: 32,
            num_attention_heads: 4,
            intermediate_size: 64,
            num_video_layers: 2,
            num_text_layers: 3,
            vocab_size: 1000,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            video_feature_dim: 32,
            max_video_len: 32,
            max_text_len: 63,
        }
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let c = self;
        let fail = |reason: String| Err(Error::config(path, reason));
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return fail(format!(
                "videoclip.hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            ));
        }
        if c.max_video_len + 2 > c.max_position_embeddings
            || c.max_text_len > c.max_position_embeddings
        {
            return fail("videoclip.max_position_embeddings is too small".into());
        }
        if c.max_text_len < 2 {
            return fail("videoclip.max_text_len must leave room for [CLS] and [SEP]".into());
        }
        // [CLS]=101, [SEP]=102 are looked up in the word embeddings.
        if c.vocab_size <= 102 || c.type_vocab_size == 0 {
            return fail("videoclip.vocab_size must cover the BERT special tokens".into());
        }
        if c.intermediate_size == 0 || c.video_feature_dim == 0 || c.max_video_len == 0 {
            return fail("videoclip has a zero size".into());
        }
        Ok(())
    }
}

impl ModelConfig {
    /// A configuration for a preset.
    pub fn preset(preset: Preset, random_weights: bool, description: impl Into<String>) -> Self {
        let (s3d, videoclip) = match preset {
            Preset::Tiny => (S3dConfig::tiny(), VideoClipConfig::tiny()),
            Preset::Full => (S3dConfig::full(), VideoClipConfig::full()),
        };
        Self {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            random_weights,
            description: description.into(),
            backbone_id: None,
            towers_id: None,
            s3d,
            videoclip,
        }
    }

    /// Reads and validates `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: Self =
            serde_json::from_str(&text).map_err(|e| Error::config(path, e.to_string()))?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the sizes describe a model this code can run. `path` is only used in errors.
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
        self.s3d.validate(path)?;
        self.videoclip.validate(path)?;
        if self.videoclip.video_feature_dim != self.s3d.embedding_dim {
            return Err(Error::config(
                path,
                format!(
                    "videoclip.video_feature_dim {} differs from s3d.embedding_dim {}",
                    self.videoclip.video_feature_dim, self.s3d.embedding_dim
                ),
            ));
        }
        Ok(())
    }

    /// Writes `config.json` (pretty-printed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().map_or_else(
            || crate::model_dir::CONFIG_FILE.to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        crate::folder::FolderWriter::create(dir)?
            .finish(&name, &crate::folder::config_json(self, path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for p in [Preset::Tiny, Preset::Full] {
            ModelConfig::preset(p, true, "")
                .validate(Path::new("preset"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn full_s3d_ends_with_1024_channels() {
        let (blocks, out) = S3dConfig::full().block_inputs().unwrap_or_default();
        assert_eq!(out, 1024);
        assert_eq!(blocks[0].cin, 192);
        assert_eq!(blocks[8].cin, 832);
    }
}
