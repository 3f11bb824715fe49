//! `vclip bench import`: import throughput (video-seconds per wall-second) into a fresh library,
//! as a ratio to decoding the same file alone in the same run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use vclip_engine::encode::EncodeOptions;
use vclip_engine::{CancelToken, Engine, ImportOptions, NoProgress};
use vclip_media::{ClipDecoder, DecodeOptions, FrameSampler, SampleOptions};
use vclip_model::{Family, Model};

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
    let tmp = tempfile::tempdir().context("temporary folder")?;
    let dir = super::bench::bench_model_dir(
        a.model.as_deref(),
        &a.family,
        a.family_given,
        &a.preset,
        tmp.path(),
    )?;
    let dtype = super::bench::parse_dtype(&a.dtype)?;
    let mut model = Model::load_with_s3d_dtype(&dir, &device, dtype)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let image = vclip_model::Precision::image_or_default(a.image_precision, &device)?;
    model.set_image_precision(image)?;
    let image_precision = model.image_precision().map(vclip_model::Precision::name);
    let family = model.family();
    let random = model.is_random();

    // Warm-up, untimed: the device's first calls load kernels and plan matmuls (seconds on a
    // GPU), which a long-running app pays once, not per import.
    let defaults = EncodeOptions::default();
    let encode = EncodeOptions {
        clip_batch: a.batch.map_or(defaults.clip_batch, |b| b.max(1)),
        frame_batch: a.batch.map_or(defaults.frame_batch, |b| b.max(1)),
        keyframe_tolerance_ms: if a.exact_frames {
            0
        } else {
            defaults.keyframe_tolerance_ms
        },
    };
    let batch = match family {
        Family::VideoClip => encode.clip_batch,
        Family::Clip => encode.frame_batch,
    };
    // One backbone call on a synthetic batch (a clip or a frame per second): the warm-up, then
    // timed alone, so the report shows which side bounds the import.
    let backbone = |model: &Model| -> anyhow::Result<usize> {
        Ok(match model {
            Model::VideoClip(m) => {
                let clips = vclip_model::bench::synthetic_clips(batch, 30, 224, &device)?;
                let f = std::hint::black_box(m.encode_clips(&clips)?.to_vec2::<f32>()?);
                f.first().map_or(0, Vec::len)
            }
            Model::Clip(m) => {
                // Varied pixels, as the S3D-G side's synthetic clips: never time on zeros.
                let frames = vclip_model::bench::synthetic_frames(batch, m.image_size(), &device)?;
                std::hint::black_box(m.embed_rgb(&frames)?.to_vec2::<f32>()?);
                m.embedding_dim()
            }
        })
    };
    let dim = backbone(&model)?;
    let timed_calls = 3;
    let start = Instant::now();
    for _ in 0..timed_calls {
        backbone(&model)?;
    }
    let backbone_rate = (timed_calls * batch) as f64 / start.elapsed().as_secs_f64();
    let features = vclip_model::Tensor::zeros((40, dim), vclip_model::DType::F32, &device)?;
    std::hint::black_box(model.window_states(&features, 32, 16)?);
    let sampling = model.as_clip().map(|m| encode.clip_sampling(m));

    // The import into an empty library (decode + S3D-G + towers + thumbnail + indexes), each
    // run after decoding the same file alone (the baseline), in a fresh library.
    let (mut engine, _) = Engine::open(&tmp.path().join("library-0"), Some(model))?;
    let opts = ImportOptions { encode };
    let mut runs: Vec<Run> = Vec::new();
    for i in 0..a.runs.max(1) {
        let (decode_s, seconds) = decode_alone(&a.file, sampling.clone())?;
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
        let run = Run {
            decode_s,
            decode_rate: seconds / decode_s,
            import_s,
            import_rate: report.video_s / import_s,
            video_s: report.video_s,
        };
        eprintln!(
            "run {}: decode alone {:.2} video-s/s, import {:.2} video-s/s, ratio {:.3}",
            i + 1,
            run.decode_rate,
            run.import_rate,
            run.ratio()
        );
        runs.push(run);
        // The next run imports into a fresh library with the same (warm) model.
        let next = tmp.path().join(format!("library-{}", i + 1));
        engine = Engine::open(&next, engine.into_model()?)?.0;
    }
    runs.sort_by(|x, y| x.ratio().total_cmp(&y.ratio()));
    let median = runs[runs.len() / 2];
    if a.json {
        print_json(&serde_json::json!({
            "file": a.file, "video_s": median.video_s, "model": dir, "random_weights": random,
            "family": family.name(),
            "device": format!("{device:?}"), "batch": batch, "dtype": a.dtype,
            "image_precision": image_precision,
            "keyframe_tolerance_ms": encode.keyframe_tolerance_ms,
            "runs": runs.len(),
            "decode_alone_s": median.decode_s, "decode_video_s_per_s": median.decode_rate,
            "import_s": median.import_s, "import_video_s_per_s": median.import_rate,
            "backbone_alone_video_s_per_s": backbone_rate,
            "ratio_to_decode": median.ratio(),
            "ratios": runs.iter().map(Run::ratio).collect::<Vec<_>>(),
        }))?;
    } else {
        let sampling = match (&sampling, encode.keyframe_tolerance_ms) {
            (None, _) => "30 fps clips",
            (Some(_), 0) => "the frame at the middle of each second",
            (Some(_), _) => "a keyframe inside each second when there is one",
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

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Run {
    decode_s: f64,
    decode_rate: f64,
    import_s: f64,
    import_rate: f64,
    video_s: f64,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.import_rate / self.decode_rate
    }
}

/// Seconds to decode `file` as the import does, and the video-seconds decoded: every
/// 30 fps clip (VideoCLIP), or one frame per second as `sampling` says (CLIP).
fn decode_alone(file: &Path, sampling: Option<SampleOptions>) -> anyhow::Result<(f64, f64)> {
    let start = Instant::now();
    let mut seconds = 0u64;
    match sampling {
        None => {
            let mut decoder = ClipDecoder::open(file, DecodeOptions::default())?;
            for clip in decoder.by_ref() {
                std::hint::black_box(clip?);
                seconds += 1;
            }
        }
        Some(opts) => {
            for frame in FrameSampler::open(file, opts)? {
                std::hint::black_box(frame?);
                seconds += 1;
            }
        }
    }
    Ok((start.elapsed().as_secs_f64(), seconds as f64))
}
