//! Model families: what the engine needs to know about a model before it loads one.
//!
//! Two families search videos here:
//!
//! - [`Family::VideoClip`] — VideoCLIP (Xu et al., EMNLP 2021, arXiv 2109.14084): frames at 30 fps,
//!   one 30-frame 224x224 clip per second -> S3D-G (MIL-NCE HowTo100M) -> 512-d per-second
//!   features -> the VideoCLIP video transformer over windows of up to 32 seconds -> 768-d vectors;
//!   queries through bert-base-uncased WordPiece and the VideoCLIP text transformer. Moments and
//!   steps score the video transformer's per-second token states. Model directory:
//!   [`crate::model_dir`].
//! - [`Family::Clip`] — CLIP ViT-B/32 (Radford et al. 2021, `openai/clip-vit-base-patch32`): one
//!   224x224 frame per second -> the CLIP image tower -> 512-d L2-normalised per-second
//!   embeddings, already in the joint space; a window is the mean of its seconds, re-normalised
//!   (CLIP4Clip "meanP" zero-shot, Luo et al. 2021); queries through CLIP's byte-level BPE and
//!   the CLIP text tower. Moments and steps score the per-second embeddings directly. Model
//!   directory: [`crate::clip`].
//!
//! A model directory names its family in `config.json` (`"family"`); directories written before
//! families existed have no such field and are VideoCLIP ([`Family::of_dir`]).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A kind of model: which code runs it and what its vectors mean. Vectors of different
/// families never compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// S3D-G + the VideoCLIP towers (`config.json` without `family`, or `"videoclip"`).
    #[serde(rename = "videoclip")]
    VideoClip,
    /// CLIP with the ViT-B/32 layout and HF transformers weight names (`"clip-vit-b32"`).
    #[serde(rename = "clip-vit-b32")]
    Clip,
}

/// How video frames are sampled for one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSampling {
    /// Frames decoded per second of video.
    pub fps: u32,
    /// Frames behind one per-second feature: 30 (a one-second S3D clip) or 1.
    pub frames_per_feature: usize,
    /// Side of the square frames: the short side is scaled to it (bicubic), then the centre is
    /// cropped (what `vclip-media` does, and CLIP's `CLIPImageProcessor`).
    pub frame_size: u32,
}

/// How a window of seconds becomes one search vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPooling {
    /// The VideoCLIP video transformer over at most `max_seconds` per-second features, pooled
    /// by its masked average.
    VideoTransformer { max_seconds: usize },
    /// The mean of the window's per-second embeddings, L2-normalised (CLIP4Clip meanP).
    Mean,
}

/// Which tokenizer the text tower reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerKind {
    /// bert-base-uncased WordPiece from `vocab.txt` ([`crate::Tokenizer`]).
    BertWordPiece,
    /// CLIP's byte-level BPE from an HF `tokenizer.json` ([`crate::ClipTokenizer`]).
    ClipBpe,
}

/// Everything the engine needs to plan work for a family, at the released model's sizes (a
/// loaded model reports its own sizes, which differ for tiny test models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySpec {
    pub family: Family,
    /// Frame sampling for the per-second features.
    pub sampling: FrameSampling,
    /// The network that turns frames into per-second features.
    pub backbone: &'static str,
    /// How windows of seconds become search vectors.
    pub video_tower: &'static str,
    /// The network that turns a query into a search vector.
    pub text_tower: &'static str,
    /// Width of a per-second feature (512 for both).
    pub feature_dim: usize,
    /// Width of the search vectors, windows and texts (768 VideoCLIP, 512 CLIP).
    pub embedding_dim: usize,
    pub window_pooling: WindowPooling,
    pub tokenizer: TokenizerKind,
    /// Tokens per text, special tokens included (63 VideoCLIP, 77 CLIP).
    pub max_text_tokens: usize,
}

impl Family {
    /// Every family, VideoCLIP first (the default).
    pub const ALL: [Family; 2] = [Family::VideoClip, Family::Clip];

    /// The name in `config.json` and in on-disk paths: `"videoclip"`, `"clip-vit-b32"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::VideoClip => "videoclip",
            Self::Clip => "clip-vit-b32",
        }
    }

    /// The family's description at the released sizes.
    pub fn spec(self) -> FamilySpec {
        match self {
            Self::VideoClip => FamilySpec {
                family: self,
                sampling: FrameSampling {
                    fps: 30,
                    frames_per_feature: 30,
                    frame_size: 224,
                },
                backbone: "S3D-G (MIL-NCE HowTo100M), 512-d per-second features",
                video_tower: "VideoCLIP video transformer (6 layers) over windows of <= 32 s",
                text_tower: "VideoCLIP text transformer (BERT-base, 12 layers)",
                feature_dim: 512,
                embedding_dim: 768,
                window_pooling: WindowPooling::VideoTransformer { max_seconds: 32 },
                tokenizer: TokenizerKind::BertWordPiece,
                max_text_tokens: 63,
            },
            Self::Clip => FamilySpec {
                family: self,
                sampling: FrameSampling {
                    fps: 1,
                    frames_per_feature: 1,
                    frame_size: 224,
                },
                backbone: "CLIP ViT-B/32 image tower, 512-d per-second frame embeddings",
                video_tower: "mean of the per-second embeddings (CLIP4Clip meanP)",
                text_tower: "CLIP text transformer (12 layers, width 512)",
                feature_dim: 512,
                embedding_dim: 512,
                window_pooling: WindowPooling::Mean,
                tokenizer: TokenizerKind::ClipBpe,
                max_text_tokens: 77,
            },
        }
    }

    /// The family of the model directory `dir`, from the `family` field of its `config.json`
    /// (absent: VideoCLIP). Does not validate the rest of the file.
    pub fn of_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::config(&path, e.to_string()))?;
        match value.get("family") {
            None | Some(serde_json::Value::Null) => Ok(Self::VideoClip),
            Some(serde_json::Value::String(name)) => name
                .parse()
                .map_err(|_| Error::config(&path, format!("unknown model family `{name}`"))),
            Some(other) => Err(Error::config(
                &path,
                format!("`family` must be a string, not {other}"),
            )),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Family {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::Input(format!(
                    "unknown model family `{s}` (expected `videoclip` or `clip-vit-b32`)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Family::ALL {
            assert_eq!(f.name().parse::<Family>().ok(), Some(f));
            let json = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert_eq!(f.spec().family, f);
        }
        assert!("clip".parse::<Family>().is_err());
    }

    #[test]
    fn directories_without_a_family_are_videoclip() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let cfg = dir.path().join("config.json");
        let write = |text: &str| std::fs::write(&cfg, text).map_err(|e| Error::io(&cfg, e));
        write(r#"{"format": "vclip-model"}"#)?;
        assert_eq!(Family::of_dir(dir.path())?, Family::VideoClip);
        write(r#"{"family": "clip-vit-b32"}"#)?;
        assert_eq!(Family::of_dir(dir.path())?, Family::Clip);
        write(r#"{"family": "dalle"}"#)?;
        let err = Family::of_dir(dir.path()).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("dalle") && e.contains("config.json")));
        Ok(())
    }
}
