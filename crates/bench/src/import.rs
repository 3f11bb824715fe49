//! `vclip bench import`: import throughput (video-seconds per wall-second) into a fresh library,
//! as a ratio to decoding the same file alone in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use vclip_engine::encode::EncodeOptions;
use vclip_engine::{CancelToken, Engine, ImportOptions, NoProgress};
use vclip_media::{ClipDecoder, DecodeOptions, FrameSampler, SampleOptions};
use vclip_model::{DType, Device, Family, Model, Precision};

/// Settings of [`import`].
#[derive(Debug, Clone)]
pub struct ImportBenchOptions {
    pub file: PathBuf,
    /// Model folder; `None`: a random-weight model of `preset` and `family` (see
    /// [`crate::model_dir`]).
    pub model: Option<PathBuf>,
    pub preset: String,
    pub family: Family,
    /// `family` was asked for (checked against `model`'s family).
    pub family_given: bool,
    /// Seconds per backbone call; `None`: the import's defaults.
    pub batch: Option<usize>,
    /// CLIP: `vclip import --exact-frames` (decode alone with the same sampler options).
    pub exact_frames: bool,
    /// S3D-G's precision.
    pub dtype: DType,
    /// CLIP's image tower (ignored by VideoCLIP).
    pub image_precision: Precision,
    pub device: Device,
    /// Measured runs (decode alone, then import into a fresh library).
    pub runs: usize,
}

/// What [`import`] measured.
#[derive(Debug, Clone)]
pub struct ImportBench {
    /// The model folder run (a temporary one for a random model).
    pub model: PathBuf,
    pub random_weights: bool,
    pub family: Family,
    /// Seconds per backbone call.
    pub batch: usize,
    /// CLIP's image-tower precision (`None` for VideoCLIP).
    pub image_precision: Option<&'static str>,
    pub keyframe_tolerance_ms: u32,
    /// CLIP: frames are sampled one per second (VideoCLIP: 30 fps clips).
    pub per_second: bool,
    /// Video-seconds per second of the backbone alone on synthetic input (no decoding).
    pub backbone_rate: f64,
    /// Every run, by increasing ratio.
    pub runs: Vec<ImportRun>,
}

impl ImportBench {
    /// The run of median ratio: the one reported.
    pub fn median(&self) -> ImportRun {
        self.runs[self.runs.len() / 2]
    }
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportRun {
    /// Seconds to decode the file alone, and video-seconds per second.
    pub decode_s: f64,
    pub decode_rate: f64,
    /// Seconds to import it, and video-seconds per second.
    pub import_s: f64,
    pub import_rate: f64,
    /// Seconds of video imported.
    pub video_s: f64,
}

impl ImportRun {
    /// Import throughput as a fraction of decoding alone (1.0: the import is decode-bound).
    pub fn ratio(&self) -> f64 {
        self.import_rate / self.decode_rate
    }
}

/// Imports `a.file` into a fresh library `a.runs` times, each after decoding it alone;
/// `on_run(run, result)` hears of each run (`run` counts from 1).
pub fn import(
    a: &ImportBenchOptions,
    on_run: &mut dyn FnMut(usize, &ImportRun),
) -> anyhow::Result<ImportBench> {
    let device = &a.device;
    let choice = crate::ModelChoice {
        model: a.model.as_deref(),
        family: a.family,
        family_given: a.family_given,
        preset: &a.preset,
        dtype: a.dtype,
    };
    let (tmp, dir, mut model) = crate::load_model(choice, device)?;
    model.set_image_precision(a.image_precision)?;
    let image_precision = model.image_precision().map(Precision::name);
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
                let clips = vclip_model::bench::synthetic_clips(batch, 30, 224, device)?;
                let f = std::hint::black_box(m.encode_clips(&clips)?.to_vec2::<f32>()?);
                f.first().map_or(0, Vec::len)
            }
            Model::Clip(m) => {
                // Varied pixels, as the S3D-G side's synthetic clips: never time on zeros.
                let frames = vclip_model::bench::synthetic_frames(batch, m.image_size(), device)?;
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
    let features = vclip_model::Tensor::zeros((40, dim), DType::F32, device)?;
    std::hint::black_box(model.window_states(&features, 32, 16)?);
    let sampling = model.as_clip().map(|m| encode.clip_sampling(m));

    // The import into an empty library (decode + S3D-G + towers + thumbnail + indexes), each
    // run after decoding the same file alone (the baseline), in a fresh library.
    let (mut engine, _) = Engine::open(&tmp.path().join("library-0"), Some(model))?;
    let opts = ImportOptions { encode };
    let mut runs: Vec<ImportRun> = Vec::new();
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
        let run = ImportRun {
            decode_s,
            decode_rate: seconds / decode_s,
            import_s,
            import_rate: report.video_s / import_s,
            video_s: report.video_s,
        };
        on_run(i + 1, &run);
        runs.push(run);
        // The next run imports into a fresh library with the same (warm) model.
        let next = tmp.path().join(format!("library-{}", i + 1));
        engine = Engine::open(&next, engine.into_model()?)?.0;
    }
    runs.sort_by(|x, y| x.ratio().total_cmp(&y.ratio()));
    Ok(ImportBench {
        model: dir,
        random_weights: random,
        family,
        batch,
        image_precision,
        keyframe_tolerance_ms: encode.keyframe_tolerance_ms,
        per_second: sampling.is_some(),
        backbone_rate,
        runs,
    })
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
