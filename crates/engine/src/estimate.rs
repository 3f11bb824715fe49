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
//! - both together ([`JointRun`]): the first seconds of one sample through the import's own
//!   decode/encode pipeline ([`crate::encode::encode_prefix_of`]), so the estimate sees how
//!   decoding and encoding share this machine's cores instead of assuming they overlap
//!   perfectly.
//!
//! Combined (decode and encode overlap in the import's pipeline, the window tower follows):
//! seconds per video-second = max(decode, encode) × contention + windows, where contention is
//! the joint run's time over what a perfect overlap of the separately measured stages predicts
//! (at least 1); plus the measured per-video work for every video. [`LibraryWork`] says what a
//! switch to the model's family would do in this library: videos without that family's
//! features are decoded, the others re-embedded from the feature cache.

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
    use vclip_media::{ClipDecoder, DecodeOptions, FrameSampler, SampleOptions};
    use vclip_model::{Device, Model, Tensor};

    use super::LibraryWork;
    use crate::encode::{encode_prefix_of, EncodeError, EncodeOptions, STRIDE_S, WINDOW_S};
    use crate::progress::CancelToken;
    use crate::store::{model_version_of, Engine, EngineError, Result};

    /// How long [`Engine::import_estimate`] may measure, and on what.
    #[derive(Debug, Clone, Copy)]
    pub struct EstimateOptions {
        /// Library videos whose decoding is timed (the first seconds of each).
        pub samples: usize,
        /// Video-seconds decoded at most per sample.
        pub sample_seconds: usize,
        /// Wall time each stage aims for (the backbone, each sample's decoding, the joint
        /// run); a stage always completes at least one call, so a slow device takes longer.
        pub stage_budget: Duration,
        /// How the import batches backbone calls (`clip_batch` for S3D-G, `frame_batch` for
        /// CLIP's image tower).
        pub encode: EncodeOptions,
        /// The longest backbone call at the import's batch the measurement makes (predicted
        /// from the warm-up); beyond it, calls of one second are timed instead.
        pub max_call: Duration,
        /// The longest joint run (two batches of the slower stage, predicted); beyond it there
        /// is none.
        pub max_joint: Duration,
        /// Also run the decode/encode pipeline on the first sample ([`JointRun`]).
        pub joint: bool,
    }

    impl Default for EstimateOptions {
        fn default() -> Self {
            Self {
                samples: 2,
                sample_seconds: 20,
                stage_budget: Duration::from_millis(800),
                encode: EncodeOptions::default(),
                max_call: Duration::from_secs(3),
                max_joint: Duration::from_secs(6),
                joint: true,
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

    /// The first seconds of one sample through the import's decode/encode pipeline.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    pub struct JointRun {
        pub path: String,
        pub seconds: f64,
        pub wall_s: f64,
        /// What a perfect overlap of the separately timed stages predicts for the same seconds:
        /// opening, the first batch's decoding and the last batch's encoding alone, the slower
        /// stage for every batch in between.
        pub predicted_s: f64,
        /// How much slower than predicted the batches in between ran, when decoding and
        /// encoding ran at once (they share the CPU cores): between 1 and 4.
        pub contention: f64,
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
        /// Decoding over all samples (`None`: no ready video could be read, so decoding was
        /// not measured and the estimate counts the model only).
        pub decode: Option<StageRate>,
        pub samples: Vec<DecodeSample>,
        /// `None` without a sample, or when two batches of the slower stage would take longer
        /// than [`EstimateOptions::max_joint`] (S3D-G on a CPU: decoding then hardly competes
        /// with it, and contention counts as 1).
        pub joint: Option<JointRun>,
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
        let window = WINDOW_S.min(model.max_window());
        std::hint::black_box(
            model
                .window_states(&features, window, STRIDE_S)
                .map_err(&err)?,
        );
        let started = Instant::now();
        let mut calls = 0;
        loop {
            cancelled(cancel)?;
            std::hint::black_box(
                model
                    .window_states(&features, window, STRIDE_S)
                    .map_err(&err)?,
            );
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
                let sample = SampleOptions {
                    size: u32::try_from(m.image_size()).unwrap_or(u32::MAX),
                    ..SampleOptions::default()
                };
                let Ok(mut sampler) = FrameSampler::open(path, sample) else {
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
            let decode = (!samples.is_empty()).then(|| {
                let seconds = samples.iter().map(|s| s.decode.seconds).sum();
                let wall = samples.iter().map(|s| s.decode.wall_s).sum();
                StageRate::new(seconds, wall, samples.len())
            });
            let per_video_s = if samples.is_empty() {
                0.0
            } else {
                samples.iter().map(|s| s.overhead_s).sum::<f64>() / samples.len() as f64
            };

            // Both at once, on the first sample, through the import's own pipeline.
            let joint = match (samples.first(), opts.joint) {
                (Some(s), true) => joint_run(model, &stages, s, opts, cancel)?,
                _ => None,
            };
            let contention = joint.as_ref().map_or(1.0, |j| j.contention);
            let encode_s = stages.encode.per_second();
            let decode_s = decode.map_or(0.0, |d| d.per_second());
            let per_second = encode_s.max(decode_s) * contention + stages.windows.per_second();
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
                joint,
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

    /// The first seconds of `sample` through [`encode_prefix_of`]: enough whole batches to take
    /// about one stage budget by the separate measurements (at least two, at most what was
    /// decoded of it), compared with what a perfect overlap of those measurements predicts.
    fn joint_run(
        model: &Model,
        stages: &EstimateStages,
        sample: &DecodeSample,
        opts: &EstimateOptions,
        cancel: &CancelToken,
    ) -> Result<Option<JointRun>> {
        let batch = stages.batch;
        let batch_decode = batch as f64 * sample.decode.per_second();
        let batch_encode = batch as f64 * stages.encode.per_second();
        let slowest = batch_decode.max(batch_encode);
        let budget = opts.stage_budget.as_secs_f64();
        if 2.0 * slowest > opts.max_joint.as_secs_f64() {
            // Two batches would take longer than the measurement should (S3D-G on a CPU, where
            // decoding is some ten times faster and hardly competes with it).
            return Ok(None);
        }
        let fit = (budget / slowest.max(1e-9)).floor() as usize;
        // Whole batches of the video, not only what its decoding sample covered: fewer than two
        // would show no overlap at all.
        let available = (sample.duration_s.floor() as usize).max(sample.decode.seconds as usize);
        let seconds = (fit.max(2) * batch).min(available);
        if seconds == 0 {
            return Ok(None);
        }
        let path = Path::new(&sample.path);
        let t = Instant::now();
        let enc = EncodeOptions {
            clip_batch: batch,
            frame_batch: batch,
        };
        let pass = match encode_prefix_of(path, model, enc, seconds, cancel) {
            Ok(p) => p,
            Err(EncodeError::Cancelled) => return Err(EngineError::Cancelled),
            // It decoded alone a moment ago; a failure here says nothing about speed.
            Err(_) => return Ok(None),
        };
        let wall_s = t.elapsed().as_secs_f64();
        let done = pass.features.len();
        if done == 0 {
            return Ok(None);
        }
        // Opening; the first batch decodes alone; then the slower stage sets the pace; the last
        // batch (`last` seconds) is encoded after the decoder has finished.
        let per_decode = sample.decode.per_second();
        let per_encode = stages.encode.per_second();
        let batches = done.div_ceil(batch);
        let last = done - (batches - 1) * batch;
        let alone = sample.open_s + batch.min(done) as f64 * per_decode + last as f64 * per_encode;
        let overlapped = (batches - 1) as f64 * slowest;
        let predicted_s = alone + overlapped;
        // The steady state of a long import is the overlapped part (both stages at once):
        // its slowdown is the contention. With a single batch there is none to see.
        let contention = if batches > 1 {
            (wall_s - alone) / overlapped.max(1e-9)
        } else {
            wall_s / predicted_s.max(1e-9)
        };
        Ok(Some(JointRun {
            path: sample.path.clone(),
            seconds: done as f64,
            wall_s,
            predicted_s,
            contention: contention.clamp(1.0, 4.0),
        }))
    }
}
