//! `vclip-bench`: the benchmark harnesses behind `vclip bench …`, kept out of the product
//! crates. Each module measures one thing and returns a report; the command line turns its
//! flags into the options here and prints the report (text or JSON).
//!
//! - [`search`]: HNSW recall and latency against exact search on synthetic vectors, optionally
//!   after a model's text tower (`vclip bench search`);
//! - [`encode`]: S3D-G clips/s or CLIP image-tower frames/s, and text queries/s
//!   (`vclip bench encode`);
//! - [`finetune`]: training steps/s of the fine-tuning step (`vclip bench finetune`);
//! - `decode` (feature `media`): our clip decoder against the ffmpeg CLI, and the
//!   one-frame-per-second sampler's speed options (`vclip bench decode`);
//! - `import` (feature `media`): import throughput against decoding alone (`vclip bench import`);
//! - `rescan` (feature `media`): a watched-folder rescan of a large unchanged library against
//!   walking its folders alone (`vclip bench rescan`).

// Tests may unwrap: a panic there is a failed test, not a user-facing crash.
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "media")]
pub mod decode;
pub mod encode;
pub mod finetune;
#[cfg(feature = "media")]
pub mod import;
#[cfg(feature = "media")]
pub mod rescan;
#[cfg(feature = "ocr")]
pub mod screen;
pub mod search;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vclip_model::{DType, Device, Family, Model};

/// The model folder a benchmark runs: `model` (its family checked against `family` when
/// `family_given`), or a fresh random-weight model of `preset` and `family` written into `tmp`
/// (speed does not depend on the weights).
pub fn model_dir(
    model: Option<&Path>,
    family: Family,
    family_given: bool,
    preset: &str,
    tmp: &Path,
) -> anyhow::Result<PathBuf> {
    if let Some(d) = model {
        let of_dir = Family::of_dir(d)?;
        if family_given && of_dir != family {
            anyhow::bail!(
                "--family {family} but the model in {} is {of_dir}",
                d.display()
            );
        }
        return Ok(d.to_owned());
    }
    let preset: vclip_model::Preset = preset.parse()?;
    let d = tmp.join("model");
    match family {
        Family::VideoClip => drop(vclip_model::init_random(preset, 0, &d, None)?),
        Family::Clip => drop(vclip_model::init_random_clip(preset, 0, &d, None)?),
    }
    Ok(d)
}

/// Which model a benchmark loads and how ([`load_model`]).
#[derive(Debug, Clone, Copy)]
pub struct ModelChoice<'a> {
    pub model: Option<&'a Path>,
    pub family: Family,
    pub family_given: bool,
    pub preset: &'a str,
    /// S3D-G's precision (VideoCLIP).
    pub dtype: DType,
}

/// [`model_dir`] loaded on `device`: the temporary folder (keep it while the model is used),
/// the model folder and the model.
pub fn load_model(
    choice: ModelChoice<'_>,
    device: &Device,
) -> anyhow::Result<(tempfile::TempDir, PathBuf, Model)> {
    let tmp = tempfile::tempdir().context("temporary folder for the random model")?;
    let dir = model_dir(
        choice.model,
        choice.family,
        choice.family_given,
        choice.preset,
        tmp.path(),
    )?;
    let model = Model::load_with_s3d_dtype(&dir, device, choice.dtype)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    Ok((tmp, dir, model))
}
