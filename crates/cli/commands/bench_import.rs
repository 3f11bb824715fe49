//! `vclip bench import`: import throughput (video-seconds per wall-second) into a fresh library,
//! as a ratio to decoding the same file alone in the same run. The harness is
//! `vclip_bench::import`; this turns the flags into its options and prints its report.

use std::path::PathBuf;
use std::process::ExitCode;

use vclip_bench::import::{ImportBenchOptions, ImportRun};

use super::print_json;

/// Settings of `vclip bench import`.
#[derive(Debug)]
pub struct ImportBench {
    pub file: PathBuf,
    pub model: Option<PathBuf>,
    pub preset: String,
    /// `videoclip` or `clip-vit-b32`: the random model made without `model`.
    pub family: String,
    /// `--family` was given (checked against `model`'s family).
    pub family_given: bool,
    /// Seconds per backbone call; `None`: the import's defaults.
    pub batch: Option<usize>,
    /// CLIP: `vclip import --exact-frames` (decode alone with the same sampler options).
    pub exact_frames: bool,
    pub dtype: String,
    /// CLIP's image tower; `None`: import's default on this device.
    pub image_precision: Option<vclip_model::Precision>,
    pub runs: usize,
    pub gpu: bool,
    pub json: bool,
}

pub fn import(a: ImportBench) -> anyhow::Result<ExitCode> {
    let device = vclip_model::device(a.gpu)?;
    let family = super::parse_family(&a.family)?;
    let dtype = super::bench::parse_dtype(&a.dtype)?;
    let image = super::image_precision(a.image_precision, &device)?;
    let r = vclip_bench::import::import(
        &ImportBenchOptions {
            file: a.file.clone(),
            model: a.model,
            preset: a.preset,
            family,
            family_given: a.family_given,
            batch: a.batch,
            exact_frames: a.exact_frames,
            dtype,
            image_precision: image,
            device: device.clone(),
            runs: a.runs,
        },
        &mut |i, run| {
            eprintln!(
                "run {i}: decode alone {:.2} video-s/s, import {:.2} video-s/s, ratio {:.3}",
                run.decode_rate,
                run.import_rate,
                run.ratio()
            );
        },
    )?;
    let (runs, median, dir, random, family) =
        (&r.runs, r.median(), &r.model, r.random_weights, r.family);
    let (batch, image_precision, backbone_rate) = (r.batch, r.image_precision, r.backbone_rate);
    if a.json {
        print_json(&serde_json::json!({
            "file": a.file, "video_s": median.video_s, "model": dir, "random_weights": random,
            "family": family.name(),
            "device": format!("{device:?}"), "batch": batch, "dtype": a.dtype,
            "image_precision": image_precision,
            "keyframe_tolerance_ms": r.keyframe_tolerance_ms,
            "runs": runs.len(),
            "decode_alone_s": median.decode_s, "decode_video_s_per_s": median.decode_rate,
            "import_s": median.import_s, "import_video_s_per_s": median.import_rate,
            "backbone_alone_video_s_per_s": backbone_rate,
            "ratio_to_decode": median.ratio(),
            "ratios": runs.iter().map(ImportRun::ratio).collect::<Vec<_>>(),
        }))?;
    } else {
        let sampling = match (r.per_second, r.keyframe_tolerance_ms) {
            (false, _) => "30 fps clips",
            (true, 0) => "the frame at the middle of each second",
            (true, _) => "a keyframe inside each second when there is one",
        };
        println!(
            "decode alone  {:.2} video-s/s ({:.0} s of video in {:.1} s; {sampling})",
            median.decode_rate, median.video_s, median.decode_s
        );
        println!(
            "backbone      {backbone_rate:.2} video-s/s alone ({family}'s network on synthetic \
             input, batch {batch}, no decoding)"
        );
        println!(
            "import        {:.2} video-s/s ({:.0} s of video in {:.1} s, {family}, {:?}, {})",
            median.import_rate,
            median.video_s,
            median.import_s,
            device,
            image_precision.map_or(a.dtype.clone(), |p| format!("image tower {p}"))
        );
        println!(
            "ratio         {:.3} of decode alone (1.0 = import is decode-bound; median of {} runs)",
            median.ratio(),
            runs.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
