//! `models import|pull|init-random` and `encode`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vclip_engine::{default_models_dir, CancelToken};
use vclip_model::{Family, Preset};

use crate::progress::Bar;

/// The default model directory: `videoclip` in the models folder.
pub fn default_model_dir() -> anyhow::Result<PathBuf> {
    Ok(default_models_dir()?.join("videoclip"))
}

/// The default CLIP model directory: `clip-vit-b32` in the models folder.
pub fn default_clip_dir() -> anyhow::Result<PathBuf> {
    Ok(default_models_dir()?.join(Family::Clip.name()))
}

fn preset(name: &str) -> anyhow::Result<Preset> {
    Ok(name.parse::<Preset>()?)
}

fn family(name: &str) -> anyhow::Result<Family> {
    super::parse_family(name)
}

fn print_clip_import(summary: &vclip_model::ClipImportSummary) {
    println!("{}", summary.dir.display());
    let tokenizer: Vec<String> = summary
        .tokenizer_from
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    eprintln!(
        "imported {} CLIP tensors and the tokenizer ({}); {} unused entries skipped",
        summary.tensors,
        tokenizer.join(" + "),
        summary.ignored.len()
    );
}

/// `vclip models import --clip DIR`: an HF CLIP folder, written atomically.
pub fn import_clip(src: &Path, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let out = match out {
        Some(o) => o,
        None => default_clip_dir()?,
    };
    let summary = vclip_engine::models::import_clip_dir(src, &out)?;
    print_clip_import(&summary);
    Ok(ExitCode::SUCCESS)
}

fn print_import(summary: &vclip_model::ImportSummary) {
    println!("{}", summary.dir.display());
    eprintln!(
        "imported {} S3D-G tensors ({:?} format) and {} VideoCLIP tensors ({:?} format); \
         {} unused entries skipped",
        summary.s3d_tensors,
        summary.s3d_format,
        summary.videoclip_tensors,
        summary.videoclip_format,
        summary.ignored.len()
    );
}

pub fn import(
    videoclip: &Path,
    s3d: &Path,
    vocab: &Path,
    out: Option<PathBuf>,
    preset_name: &str,
) -> anyhow::Result<ExitCode> {
    let out = match out {
        Some(o) => o,
        None => default_model_dir()?,
    };
    let summary = vclip_engine::models::import(videoclip, s3d, vocab, &out, preset(preset_name)?)?;
    print_import(&summary);
    Ok(ExitCode::SUCCESS)
}

pub fn pull(
    family_name: &str,
    mirrors: Vec<String>,
    out: Option<PathBuf>,
    preset_name: &str,
) -> anyhow::Result<ExitCode> {
    if family(family_name)? == Family::Clip {
        if preset(preset_name)? != Preset::Full {
            anyhow::bail!("--preset is for videoclip: CLIP's sizes come from its config.json");
        }
        let out_dir = match out {
            Some(o) => o,
            None => default_clip_dir()?,
        };
        let bar = Bar::new();
        let summary =
            vclip_engine::models::pull_clip(&out_dir, &mirrors, &bar, &CancelToken::new())?;
        print_clip_import(&summary.import);
        // What the weights' SHA-256 was checked against: the hash the server declared (Hugging
        // Face does), or nothing (a mirror folder) — then the import's structural checks alone.
        eprintln!("weights: {}", summary.weights_line());
        return Ok(ExitCode::SUCCESS);
    }
    let out_dir = match out {
        Some(o) => o,
        None => default_model_dir()?,
    };
    let downloads = out_dir
        .parent()
        .map(|p| p.join("downloads"))
        .unwrap_or_else(|| PathBuf::from("downloads"));
    let opts = vclip_engine::models::PullOptions {
        downloads,
        out_dir,
        mirrors,
        preset: preset(preset_name)?,
    };
    let bar = Bar::new();
    let summary = vclip_engine::models::pull(&opts, &bar, &CancelToken::new())?;
    print_import(&summary);
    Ok(ExitCode::SUCCESS)
}

/// The default sentence encoder folder: `all-minilm-l6-v2` in the models folder.
pub fn default_sentence_dir() -> anyhow::Result<PathBuf> {
    Ok(default_models_dir()?.join("all-minilm-l6-v2"))
}

pub fn pull_sentence(mirrors: Vec<String>, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let out_dir = match out {
        Some(o) => o,
        None => default_sentence_dir()?,
    };
    std::fs::create_dir_all(&out_dir)?;
    let bar = Bar::new();
    vclip_engine::models::pull_sentence(&out_dir, &mirrors, &bar, &CancelToken::new())?;
    println!("{}", out_dir.display());
    eprintln!("all-MiniLM-L6-v2 is ready: searches now also match subtitles by meaning");
    Ok(ExitCode::SUCCESS)
}

pub fn init_random(
    family_name: &str,
    preset_name: &str,
    seed: u64,
    vocab: Option<&Path>,
    tokenizer: Option<&Path>,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    let description = match family(family_name)? {
        Family::VideoClip => {
            if tokenizer.is_some() {
                anyhow::bail!("--tokenizer is for clip-vit-b32; VideoCLIP reads --vocab");
            }
            vclip_model::init_random(preset(preset_name)?, seed, dir, vocab)?.description
        }
        Family::Clip => {
            if vocab.is_some() {
                anyhow::bail!("--vocab is for videoclip; CLIP reads --tokenizer (tokenizer.json)");
            }
            vclip_model::init_random_clip(preset(preset_name)?, seed, dir, tokenizer)?.description
        }
    };
    println!("{}", dir.display());
    eprintln!("{description}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "media")]
pub fn encode(
    video: &Path,
    model: Option<PathBuf>,
    gpu: bool,
    batch: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use vclip_engine::encode::{encode_video, EncodeOptions};

    use super::print_json;

    let dir = match model {
        Some(m) => m,
        None => default_model_dir()?,
    };
    let device = vclip_model::device(gpu)?;
    let model = vclip_model::VClipModel::load(&dir, &device).with_context(|| {
        format!(
            "loading the model in {} (see `vclip models --help`)",
            dir.display()
        )
    })?;
    if model.is_random() {
        eprintln!(
            "warning: {} has random weights: the numbers mean nothing",
            dir.display()
        );
    }
    let bar = Bar::new();
    let enc = encode_video(
        video,
        &model,
        EncodeOptions {
            clip_batch: batch,
            ..EncodeOptions::default()
        },
        &bar,
        &CancelToken::new(),
    )?;
    if json {
        print_json(&serde_json::json!({
            "path": video,
            "model": dir,
            "random_weights": model.is_random(),
            "seconds": enc.features.len(),
            "features": enc.features,
            "windows": enc.windows,
            "decode": enc.decode,
        }))?;
    } else {
        println!(
            "{}: {} seconds -> {} features of {} dims, {} windows of {} dims",
            video.display(),
            enc.features.len(),
            enc.features.len(),
            enc.features.first().map_or(0, Vec::len),
            enc.windows.len(),
            enc.windows.first().map_or(0, |w| w.embedding.len())
        );
        for w in &enc.windows {
            println!("  window {:>5}–{:<5} s", w.start_s, w.end_s);
        }
    }
    Ok(ExitCode::SUCCESS)
}
