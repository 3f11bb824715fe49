//! `vclip bench import`: import throughput (video-seconds per wall-second) into a fresh library,
//! as a ratio to decoding the same file alone in the same run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use vclip_engine::encode::EncodeOptions;
use vclip_engine::{CancelToken, Engine, ImportOptions, NoProgress};
use vclip_media::{ClipDecoder, DecodeOptions};

use super::print_json;

/// Settings of `vclip bench import`.
#[derive(Debug)]
pub struct ImportBench {
    pub file: PathBuf,
    pub model: Option<PathBuf>,
    pub preset: String,
    pub batch: usize,
    pub gpu: bool,
    pub json: bool,
}

pub fn import(a: ImportBench) -> anyhow::Result<ExitCode> {
    let device = vclip_model::device(a.gpu)?;
    let tmp = tempfile::tempdir().context("temporary folder")?;
    let dir = match &a.model {
        Some(d) => d.clone(),
        None => {
            let preset: vclip_model::Preset = a.preset.parse()?;
            let d = tmp.path().join("model");
            vclip_model::init_random(preset, 0, &d, None)?;
            d
        }
    };
    let model = vclip_model::VClipModel::load(&dir, &device)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let random = model.is_random();

    // Baseline: decoding alone, every clip the import will decode.
    let (decode_s, seconds) = decode_alone(&a.file)?;

    // The import into an empty library (decode + S3D-G + towers + thumbnail + indexes).
    let (engine, _) = Engine::open(&tmp.path().join("library"), Some(model))?;
    let opts = ImportOptions {
        encode: EncodeOptions {
            clip_batch: a.batch.max(1),
        },
    };
    let start = Instant::now();
    let report = engine.import(
        std::slice::from_ref(&a.file),
        opts,
        &NoProgress,
        &CancelToken::new(),
    )?;
    let import_s = start.elapsed().as_secs_f64();
    if let Some(f) = report.failed.first() {
        anyhow::bail!("{}: {}", f.path.display(), f.reason);
    }
    let decode_rate = seconds / decode_s;
    let import_rate = report.video_s / import_s;
    let ratio = import_rate / decode_rate;
    if a.json {
        print_json(&serde_json::json!({
            "file": a.file, "video_s": report.video_s, "model": dir, "random_weights": random,
            "device": format!("{device:?}"), "batch": a.batch,
            "decode_alone_s": decode_s, "decode_video_s_per_s": decode_rate,
            "import_s": import_s, "import_video_s_per_s": import_rate,
            "ratio_to_decode": ratio,
        }))?;
    } else {
        println!(
            "decode alone  {decode_rate:.2} video-s/s ({seconds:.0} s of video in {decode_s:.1} s)"
        );
        println!(
            "import        {import_rate:.2} video-s/s ({:.0} s of video in {import_s:.1} s, {:?})",
            report.video_s, device
        );
        println!("ratio         {ratio:.3} of decode alone (1.0 = import is decode-bound)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds to decode every clip of `file`, and the clips (video-seconds) decoded.
fn decode_alone(file: &Path) -> anyhow::Result<(f64, f64)> {
    let start = Instant::now();
    let mut decoder = ClipDecoder::open(file, DecodeOptions::default())?;
    let mut clips = 0u64;
    for clip in decoder.by_ref() {
        std::hint::black_box(clip?);
        clips += 1;
    }
    Ok((start.elapsed().as_secs_f64(), clips as f64))
}
