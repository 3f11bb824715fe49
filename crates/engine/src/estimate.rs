//! How long an import with a model would take on this machine, measured, not guessed (issue #7).
//!
//! [`Engine::import_estimate`] times the real pieces of an import for one model on the device it
//! is loaded on, in a few seconds:
//!
//! - the backbone ([`EstimateStages::encode`]): a warm-up call, then timed calls on synthetic
//!   input of the import's shape — S3D-G on 30-frame 224×224 clips (VideoCLIP) or the CLIP image
//!   tower on frames (CLIP), in the import's batches ([`EstimateOptions::encode`]; single
//!   seconds where such a call would take longer than [`EstimateOptions::max_call`]);
//! - the window tower ([`EstimateStages::windows`]): `window_states` over a minute of features,
//!   as every import and re-embedding runs it after the backbone;
//! - the family's decoder on the library's own videos ([`DecodeSample`]): the first
//!   [`EstimateOptions::sample_seconds`] of up to [`EstimateOptions::samples`] ready videos
//!   (those the model would have to decode first, longest first) with
//!   [`vclip_media::ClipDecoder`] (VideoCLIP: every frame at 30 fps) or
//!   [`vclip_media::FrameSampler`] (CLIP: one frame per second); with each, the per-video work
//!   around decoding (content hash, probe, opening the decoder, the thumbnail);
//! - both at once ([`Concurrent`]): the family's decoder on the first sample in a thread while
//!   the backbone runs here, as the import's pipeline runs them, so the estimate sees how they
//!   share this machine (on a CPU both want every core; with a GPU they hardly compete).
//!
//! Combined: the import's pipeline overlaps decoding and the backbone, so the slower stage sets
//! the pace; while the faster one is busy (a fraction of the time) the slower one runs at its
//! shared rate. For a decode-bound video (decoding alone `d`, shared `d'`; backbone shared `e'`)
//! that gives `r = d / (1 + (d − d′) / e′)` video-seconds per second, between `min(d, e)` (no
//! competition) and `1 / (1/d + 1/e)` (none overlaps), and symmetrically when the backbone is
//! slower. Each sample gets its own `r` (the shares measured on the first apply to all),
//! weighted by the sampled videos' durations; the window tower follows the pipeline; plus the
//! measured per-video work for every video. [`LibraryWork`] says what a switch to the model's
//! family would do in this library: videos without that family's features are decoded, the
//! others re-embedded from the feature cache.

use std::path::Path;

use serde::Serialize;
use vclip_index::{ModelVersion, Status};

use crate::store::{Engine, Result};
#[cfg(feature = "media")]
pub use measure::*;

/// What a switch to a model version means for this library's ready videos.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LibraryWork {
    /// Ready videos and their total duration.
    pub videos: usize,
    pub total_s: f64,
    /// Every ready video already has this version's windows: a switch does nothing.
    pub embedded: bool,
    /// Videos without features of the version's family: a switch decodes them.
    pub decode_videos: usize,
    pub decode_s: f64,
    /// Of those, videos whose file is no longer there (they cannot be decoded).
    pub missing_files: usize,
    /// Videos with cached features of the family: a switch re-embeds them without decoding.
    pub reembed_videos: usize,
    pub reembed_s: f64,
}

impl Engine {
    /// What [`Engine::ensure_embedded`] would do with the model version `version` active: nothing
    /// when every ready video has its windows; otherwise it re-embeds the videos with cached
    /// features of `version`'s family and decodes the rest.
    pub fn embed_work(&self, version: &ModelVersion) -> Result<LibraryWork> {
        let key = version.key();
        let mut work = LibraryWork {
            embedded: true,
            ..LibraryWork::default()
        };
        for v in self.videos_with_status(Status::Ready)? {
            let lib = self.library();
            let duration = v.duration_s.unwrap_or(0.0).max(0.0);
            work.videos += 1;
            work.total_s += duration;
            let windows = lib.catalogue().windows_of(v.id, &key)?;
            let files_there = lib.window_vectors_path(version, &v.hash)?.is_file()
                && lib.tokens_path(version, &v.hash)?.is_file();
            if windows.is_empty() || !files_there {
                work.embedded = false;
            }
            if lib.features_path(version.family(), &v.hash)?.is_file() {
                work.reembed_videos += 1;
                work.reembed_s += duration;
            } else {
                work.decode_videos += 1;
                work.decode_s += duration;
                if !Path::new(&v.path).is_file() {
                    work.missing_files += 1;
                }
            }
        }
        Ok(work)
    }
}

#[cfg(feature = "media")]
mod measure {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use serde::Serialize;
    use vclip_media::{ClipDecoder, DecodeOptions, FrameSampler};
    use vclip_model::{Device, Model, Tensor};

    use super::LibraryWork;
    use crate::encode::{library_windows, EncodeOptions};
    use crate::progress::CancelToken;
    use crate::store::{model_version_of, Engine, EngineError, Result};

    /// How long [`Engine::import_estimate`] may measure, and on what.
    #[derive(Debug, Clone, Copy)]
    pub struct EstimateOptions {
        /// Library videos whose decoding is timed (the first seconds of each).
        pub samples: usize,
        /// Video-seconds decoded at most per sample.
        pub sample_seconds: usize,
        /// Wall time each stage aims for (the backbone, each sample's decoding, both at
        /// once); a stage always completes at least one call, so a slow device takes longer.
        pub stage_budget: Duration,
        /// How the import batches backbone calls (`clip_batch` for S3D-G, `frame_batch` for
        /// CLIP's image tower).
        pub encode: EncodeOptions,
        /// The longest backbone call at the import's batch the measurement makes (predicted
        /// from the warm-up); beyond it, calls of one second are timed instead.
        pub max_call: Duration,
        /// Also time decoding and the backbone at once ([`Concurrent`]); without it they are
        /// assumed not to compete.
        pub concurrent: bool,
    }

    impl Default for EstimateOptions {
        fn default() -> Self {
            Self {
                samples: 2,
                sample_seconds: 20,
                stage_budget: Duration::from_millis(800),
                encode: EncodeOptions::default(),
                max_call: Duration::from_secs(3),
                concurrent: true,
            }
        }
    }

    /// One timed stage: `seconds` of video processed in `wall_s` by `calls` calls.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct StageRate {
        pub seconds: f64,
        pub wall_s: f64,
        pub calls: usize,
        /// Video-seconds per wall-second.
        pub rate: f64,
    }

    impl StageRate {
        fn new(seconds: f64, wall_s: f64, calls: usize) -> Self {
            Self {
                seconds,
                wall_s,
                calls,
                rate: seconds / wall_s.max(1e-9),
            }
        }

        /// Wall-seconds per video-second.
        fn per_second(&self) -> f64 {
            1.0 / self.rate.max(1e-12)
        }
    }

    /// The backbone and the window tower, timed on synthetic input.
    #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct EstimateStages {
        /// Backbone calls (S3D-G clips or CLIP frames), after one untimed warm-up call.
        pub encode: StageRate,
        /// Seconds per backbone call: the import's batch, or 1 where one call of that many
        /// would take longer than [`EstimateOptions::max_call`] (a CPU running S3D-G).
        pub batch: usize,
        /// `window_states` over a minute of per-second features.
        pub windows: StageRate,
    }

    /// The family's decoder on the first seconds of one library video.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct DecodeSample {
        pub path: String,
        /// Video-seconds decoded, in `wall_s` (opening excluded).
        pub decode: StageRate,
        /// Frames the decoder handed over (30 per second for VideoCLIP, 1 for CLIP) and frames
        /// the codec decoded to get them.
        pub output_frames: u64,
        pub decoded_frames: u64,
        /// The video's duration (seconds, from the library).
        pub duration_s: f64,
        /// Opening the decoder (seconds).
        pub open_s: f64,
        /// The per-video work around decoding: content hash, probe, opening the decoder, the
        /// thumbnail (seconds).
        pub overhead_s: f64,
    }

    /// Decoding (in a thread) and the backbone at the same time.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct Concurrent {
        /// The video decoded (the first sample).
        pub path: String,
        pub wall_s: f64,
        /// Video-seconds per second of each while the other ran.
        pub decode: StageRate,
        pub encode: StageRate,
        /// Those rates over each one's rate alone (1: they do not compete; about 0.5: they
        /// share the cores evenly).
        pub decode_share: f64,
        pub encode_share: f64,
    }

    /// What [`Engine::import_estimate`] measured and what it makes of it. Times in seconds.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct ImportEstimate {
        /// `videoclip` or `clip-vit-b32`.
        pub family: String,
        /// `family/version` of the model measured.
        pub version: String,
        /// `cpu` or `gpu`.
        pub device: String,
        pub random_weights: bool,
        /// What decoded the samples: `"30 fps clips"` (VideoCLIP) or `"one frame per second"`
        /// (CLIP).
        pub decoder: String,
        pub stages: EstimateStages,
        /// Decoding alone over the samples, weighted by their videos' durations (`None`: no
        /// ready video could be read, so decoding was not measured and the estimate counts
        /// the model only).
        pub decode: Option<StageRate>,
        pub samples: Vec<DecodeSample>,
        /// `None` without a sample (or with [`EstimateOptions::concurrent`] off, or when the
        /// sample could not be read again): the stages are then assumed not to compete.
        pub concurrent: Option<Concurrent>,
        /// Mean per-video work around decoding (0 without samples).
        pub per_video_s: f64,
        /// The import's rate: video-seconds per second, per-video work aside.
        pub video_s_per_s: f64,
        /// Importing one hour of video (in videos as long as this library's on average).
        pub per_hour_s: f64,
        pub library: LibraryWork,
        /// Importing the whole library's duration from scratch with this model.
        pub library_import_s: f64,
        /// What a switch to this model would take: decoding the videos without the family's
        /// features, re-embedding the others (0 when the library is already embedded).
        pub switch_s: f64,
        /// How long the measurement took (model loading not included).
        pub measured_s: f64,
    }

    fn cancelled(cancel: &CancelToken) -> Result<()> {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        Ok(())
    }

    fn model_err(context: &str) -> impl Fn(vclip_model::Error) -> EngineError + '_ {
        move |source| EngineError::Model {
            context: context.to_owned(),
            source,
        }
    }

    /// One backbone call on `batch` synthetic seconds; returns the features' width.
    fn backbone_call(model: &Model, batch: usize) -> vclip_model::Result<usize> {
        // Deterministic noise, the same bytes a decoder could hand over.
        let noise = |n: usize| -> Vec<u8> {
            (0..n as u64)
                .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
                .collect()
        };
        let features = match model {
            Model::VideoClip(m) => {
                let d = DecodeOptions::default();
                let (t, s) = (d.clip_frames, d.size as usize);
                let clips = vclip_model::clips_from_thwc(
                    noise(batch * t * s * s * 3),
                    batch,
                    t,
                    s,
                    s,
                    m.s3d.device(),
                )?;
                m.encode_clips(&clips)?.to_vec2::<f32>()?
            }
            Model::Clip(m) => {
                let s = m.image_size();
                // As `encode::encode_frames` builds them: on the CPU, moved by `embed_rgb`.
                let frames =
                    Tensor::from_vec(noise(batch * s * s * 3), (batch, s, s, 3), &Device::Cpu)?;
                m.embed_rgb(&frames)?
                    .to_device(&Device::Cpu)?
                    .to_vec2::<f32>()?
            }
        };
        Ok(std::hint::black_box(features).first().map_or(0, Vec::len))
    }

    /// Times the backbone (warm-up first) and the window tower.
    fn time_model(
        model: &Model,
        opts: &EstimateOptions,
        cancel: &CancelToken,
    ) -> Result<EstimateStages> {
        let err = model_err("timing the model");
        // Warm-up on one second: a device's first calls load kernels and plan work.
        let t = Instant::now();
        let dim = backbone_call(model, 1).map_err(&err)?;
        let warm_up = t.elapsed();
        let import_batch = match model {
            Model::VideoClip(_) => opts.encode.clip_batch,
            Model::Clip(_) => opts.encode.frame_batch,
        }
        .max(1);
        // The import's batch, unless one such call would take too long (S3D-G's four clips on
        // a CPU: some 6 s); then single seconds, which a CPU runs within about 10 % of the rate
        // (`vclip bench encode --batch 1|4`: 0.68 vs 0.62 clips/s here).
        let batch = if warm_up * import_batch as u32 <= opts.max_call {
            import_batch
        } else {
            1
        };
        let encode = if batch == 1 && warm_up >= opts.stage_budget {
            // Another call would only repeat what this one measured, in as long again: it is
            // the measurement (a first call is, if anything, slower).
            StageRate::new(1.0, warm_up.as_secs_f64(), 1)
        } else {
            if batch > 1 && warm_up * batch as u32 <= opts.stage_budget / 4 {
                // A fast device: one untimed call at the batch's shape too.
                cancelled(cancel)?;
                backbone_call(model, batch).map_err(&err)?;
            }
            let started = Instant::now();
            let mut calls = 0;
            loop {
                cancelled(cancel)?;
                backbone_call(model, batch).map_err(&err)?;
                calls += 1;
                if started.elapsed() >= opts.stage_budget || calls >= 16 {
                    break;
                }
            }
            StageRate::new(
                (calls * batch) as f64,
                started.elapsed().as_secs_f64(),
                calls,
            )
        };
        // The window tower over a minute of features, as the import runs it after the backbone.
        cancelled(cancel)?;
        let n = 60;
        let features = Tensor::from_vec(
            (0..n * dim)
                .map(|i| ((i * 7919 % 1000) as f32 / 1000.0) - 0.5)
                .collect::<Vec<f32>>(),
            (n, dim),
            model.device(),
        )
        .map_err(|e| err(e.into()))?;
        std::hint::black_box(library_windows(model, &features).map_err(&err)?);
        let started = Instant::now();
        let mut calls = 0;
        loop {
            cancelled(cancel)?;
            std::hint::black_box(library_windows(model, &features).map_err(&err)?);
            calls += 1;
            if started.elapsed() >= opts.stage_budget / 4 || calls >= 8 {
                break;
            }
        }
        let windows = StageRate::new((calls * n) as f64, started.elapsed().as_secs_f64(), calls);
        Ok(EstimateStages {
            encode,
            batch,
            windows,
        })
    }

    /// The family's decoder over the first seconds of `path`, and the per-video work around it.
    /// `None` when the file cannot be read (it would fail the import; it says nothing of speed).
    fn time_decode(
        path: &Path,
        duration_s: f64,
        model: &Model,
        opts: &EstimateOptions,
        cancel: &CancelToken,
    ) -> Result<Option<DecodeSample>> {
        let started = Instant::now();
        if crate::discover::content_hash(path).is_err() || vclip_media::probe(path).is_err() {
            return Ok(None);
        }
        let before_open = started.elapsed().as_secs_f64();
        let max = opts.sample_seconds.max(1);
        let budget = opts.stage_budget;
        let mut seconds = 0usize;
        let (open_s, decode_s, output_frames, decoded_frames) = match model {
            Model::VideoClip(_) => {
                let Ok(mut decoder) = ClipDecoder::open(path, DecodeOptions::default()) else {
                    return Ok(None);
                };
                let open_s = started.elapsed().as_secs_f64();
                let t = Instant::now();
                for clip in decoder.by_ref() {
                    cancelled(cancel)?;
                    if std::hint::black_box(clip).is_err() {
                        break;
                    }
                    seconds += 1;
                    if seconds >= max || t.elapsed() >= budget {
                        break;
                    }
                }
                let decode_s = t.elapsed().as_secs_f64();
                let r = decoder.report();
                (open_s, decode_s, r.output_frames, r.decoded_frames)
            }
            Model::Clip(m) => {
                let Ok(mut sampler) = FrameSampler::open(path, opts.encode.clip_sampling(m)) else {
                    return Ok(None);
                };
                let open_s = started.elapsed().as_secs_f64();
                let t = Instant::now();
                let mut frames = 0u64;
                for frame in sampler.by_ref() {
                    cancelled(cancel)?;
                    if std::hint::black_box(frame).is_err() {
                        break;
                    }
                    frames += 1;
                    seconds += 1;
                    if seconds >= max || t.elapsed() >= budget {
                        break;
                    }
                }
                let decode_s = t.elapsed().as_secs_f64();
                (
                    open_s,
                    decode_s,
                    frames,
                    sampler.report().decode.decoded_frames,
                )
            }
        };
        if seconds == 0 {
            return Ok(None);
        }
        // The thumbnail the import writes (one seek and decode, then a JPEG).
        let t = Instant::now();
        let _ =
            vclip_media::thumbnail_jpeg(path, seconds as f64 / 2.0, crate::import::THUMBNAIL_SIDE);
        let thumbnail_s = t.elapsed().as_secs_f64();
        Ok(Some(DecodeSample {
            path: path.to_string_lossy().into_owned(),
            decode: StageRate::new(seconds as f64, decode_s, seconds),
            output_frames,
            decoded_frames,
            duration_s,
            open_s: open_s - before_open,
            overhead_s: open_s + thumbnail_s,
        }))
    }

    impl Engine {
        /// Measures how fast `model` (the active model for `None`) would import into this
        /// library on the device it is loaded on; see the module docs. Takes a few seconds
        /// (longer on a slow device: every stage completes at least one call); `cancel` stops
        /// it between calls.
        pub fn import_estimate(
            &self,
            model: Option<&Model>,
            opts: &EstimateOptions,
            cancel: &CancelToken,
        ) -> Result<ImportEstimate> {
            let model = match model {
                Some(m) => m,
                None => self.model().ok_or(EngineError::NoModel)?,
            };
            let version = model_version_of(model)?;
            let library = self.embed_work(&version)?;
            let started = Instant::now();
            let stages = time_model(model, opts, cancel)?;

            // The decoder on the library's own videos: those the model would decode first (no
            // features of its family), the longest first, as they weigh most.
            let mut ready = self.videos_with_status(vclip_index::Status::Ready)?;
            let has_features = |hash: &str| -> Result<bool> {
                Ok(self
                    .library()
                    .features_path(version.family(), hash)?
                    .is_file())
            };
            let mut keyed = Vec::with_capacity(ready.len());
            for v in ready.drain(..) {
                let cached = has_features(&v.hash)?;
                keyed.push((cached, v));
            }
            keyed.sort_by(|(ca, a), (cb, b)| {
                ca.cmp(cb).then(
                    b.duration_s
                        .unwrap_or(0.0)
                        .total_cmp(&a.duration_s.unwrap_or(0.0)),
                )
            });
            let mut samples = Vec::new();
            for (_, v) in &keyed {
                if samples.len() >= opts.samples {
                    break;
                }
                let path = PathBuf::from(&v.path);
                if !path.is_file() {
                    continue;
                }
                let duration = v.duration_s.unwrap_or(0.0);
                if let Some(s) = time_decode(&path, duration, model, opts, cancel)? {
                    samples.push(s);
                }
            }
            // Each sample stands for its video: weights by duration (at least a second).
            let weights: Vec<f64> = samples.iter().map(|s| s.duration_s.max(1.0)).collect();
            let total_w: f64 = weights.iter().sum();
            let decode = (!samples.is_empty()).then(|| {
                let per_second: f64 = samples
                    .iter()
                    .zip(&weights)
                    .map(|(s, w)| w * s.decode.per_second())
                    .sum::<f64>()
                    / total_w;
                let seconds = samples.iter().map(|s| s.decode.seconds).sum::<f64>();
                StageRate {
                    seconds,
                    wall_s: samples.iter().map(|s| s.decode.wall_s).sum(),
                    calls: samples.len(),
                    rate: 1.0 / per_second.max(1e-12),
                }
            });
            let per_video_s = if samples.is_empty() {
                0.0
            } else {
                samples.iter().map(|s| s.overhead_s).sum::<f64>() / samples.len() as f64
            };

            // Both at once, on the first sample.
            let concurrent = match (samples.first(), opts.concurrent) {
                (Some(s), true) => concurrent_run(model, &stages, s, opts, cancel)?,
                _ => None,
            };
            let (decode_share, encode_share) = concurrent
                .as_ref()
                .map_or((1.0, 1.0), |c| (c.decode_share, c.encode_share));
            let e = stages.encode.rate;
            let pipeline_s = if samples.is_empty() {
                stages.encode.per_second()
            } else {
                samples
                    .iter()
                    .zip(&weights)
                    .map(|(s, w)| w / pipeline_rate(s.decode.rate, e, decode_share, encode_share))
                    .sum::<f64>()
                    / total_w
            };
            let per_second = pipeline_s + stages.windows.per_second();
            let mean_len = if library.videos > 0 {
                library.total_s / library.videos as f64
            } else {
                0.0
            };
            let per_hour_s = 3600.0 * per_second
                + if mean_len > 0.0 {
                    per_video_s * 3600.0 / mean_len
                } else {
                    0.0
                };
            let library_import_s =
                library.total_s * per_second + library.videos as f64 * per_video_s;
            let switch_s = if library.embedded {
                0.0
            } else {
                library.decode_s * per_second
                    + (library.decode_videos - library.missing_files) as f64 * per_video_s
                    + library.reembed_s * stages.windows.per_second()
            };
            Ok(ImportEstimate {
                family: model.family().name().to_owned(),
                version: version.key(),
                device: if model.device().is_cpu() {
                    "cpu"
                } else {
                    "gpu"
                }
                .to_owned(),
                random_weights: model.is_random(),
                decoder: match model {
                    Model::VideoClip(_) => "30 fps clips",
                    Model::Clip(_) => "one frame per second",
                }
                .to_owned(),
                stages,
                decode,
                samples,
                concurrent,
                per_video_s,
                video_s_per_s: 1.0 / per_second.max(1e-12),
                per_hour_s,
                library,
                library_import_s,
                switch_s,
                measured_s: started.elapsed().as_secs_f64(),
            })
        }
    }

    /// Video-seconds per second of the import's pipeline on a video that decodes at `d` alone
    /// with a backbone at `e` alone, when running both at once leaves `decode_share` of `d`
    /// and `encode_share` of `e` (see the module docs).
    pub fn pipeline_rate(d: f64, e: f64, decode_share: f64, encode_share: f64) -> f64 {
        let d_shared = d * decode_share.clamp(0.0, 1.0);
        let e_shared = e * encode_share.clamp(0.0, 1.0);
        let r = if d <= e {
            d / (1.0 + (d - d_shared) / e_shared.max(1e-12))
        } else {
            e / (1.0 + (e - e_shared) / d_shared.max(1e-12))
        };
        r.clamp(1.0 / (1.0 / d + 1.0 / e), d.min(e))
    }

    /// The family's decoder on `sample` (from its start, again when it ends) in a thread while
    /// the backbone runs here for about one stage budget (at least one call, and until the
    /// decoder has delivered a second).
    fn concurrent_run(
        model: &Model,
        stages: &EstimateStages,
        sample: &DecodeSample,
        opts: &EstimateOptions,
        cancel: &CancelToken,
    ) -> Result<Option<Concurrent>> {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let err = model_err("timing the model");
        let path = Path::new(&sample.path);
        let stop = AtomicBool::new(false);
        let decoded = AtomicU64::new(0);
        let batch = stages.batch;
        let started = Instant::now();
        let (calls, encode_wall, decode_wall) = std::thread::scope(|scope| {
            let decoder = scope.spawn(|| {
                let t = Instant::now();
                let keep_going = || !stop.load(Ordering::SeqCst) && !cancel.is_cancelled();
                let mut count = |ok: bool| {
                    if ok {
                        decoded.fetch_add(1, Ordering::SeqCst);
                    }
                    ok && keep_going()
                };
                while keep_going() {
                    let opened = match model {
                        Model::VideoClip(_) => ClipDecoder::open(path, DecodeOptions::default())
                            .map(|d| d.map(|c| c.is_ok()).all(&mut count)),
                        Model::Clip(m) => FrameSampler::open(path, opts.encode.clip_sampling(m))
                            .map(|s| s.map(|f| f.is_ok()).all(&mut count)),
                    };
                    if opened.is_err() || decoded.load(Ordering::SeqCst) == 0 {
                        break; // unreadable now, or nothing in it: nothing to measure
                    }
                }
                t.elapsed().as_secs_f64()
            });
            let t = Instant::now();
            let mut calls = 0usize;
            let outcome = loop {
                if cancel.is_cancelled() {
                    break Err(EngineError::Cancelled);
                }
                if let Err(e) = backbone_call(model, batch) {
                    break Err(err(e));
                }
                calls += 1;
                let waited = t.elapsed();
                let enough = waited >= opts.stage_budget
                    && (decoded.load(Ordering::SeqCst) > 0 || decoder.is_finished());
                if enough || waited >= 4 * opts.stage_budget.max(Duration::from_millis(100)) {
                    break Ok(());
                }
            };
            let encode_wall = t.elapsed().as_secs_f64();
            stop.store(true, Ordering::SeqCst);
            let decode_wall = decoder.join().unwrap_or(encode_wall);
            outcome.map(|()| (calls, encode_wall, decode_wall))
        })?;
        let seconds = decoded.load(Ordering::SeqCst) as f64;
        if seconds == 0.0 {
            // It decoded alone a moment ago; nothing now says nothing about speed.
            return Ok(None);
        }
        // A decoder that finished its video early ran alone for the rest: its own time counts.
        let decode = StageRate::new(seconds, decode_wall.min(encode_wall).max(1e-9), 0);
        let encode = StageRate::new((calls * batch) as f64, encode_wall, calls);
        Ok(Some(Concurrent {
            path: sample.path.clone(),
            wall_s: started.elapsed().as_secs_f64(),
            decode_share: (decode.rate / sample.decode.rate.max(1e-12)).min(1.0),
            encode_share: (encode.rate / stages.encode.rate.max(1e-12)).min(1.0),
            decode,
            encode,
        }))
    }
}
