//! Encoding one video: decode on a CPU thread while S3D-G encodes on the model's device, then the
//! video tower over overlapping windows.
//!
//! The decoder thread hands clips over a bounded channel (at most two batches in flight), so
//! memory stays bounded and the device is fed while the next clips decode.

use std::path::Path;
use std::sync::mpsc;

use serde::Serialize;
use vclip_media::{
    Clip, ClipDecoder, DecodeOptions, DecodeReport, FrameSampler, MediaError, SampleOptions,
    SampledFrame,
};
use vclip_model::{ClipModel, Device, Model, Tensor, VClipModel, WindowStates};

use crate::progress::{CancelToken, ProgressEvent, ProgressSink, Tracker};

/// Longest window in seconds (the video tower's `max_video_len`) and the stride between window
/// starts: VideoCLIP's sliding windows (`docs/model-notes.md` §5.4–§5.5).
pub const WINDOW_S: usize = 32;
pub const STRIDE_S: usize = 16;

/// What the library stores for per-second `features` `(N, F)` with `model`: the windows of
/// [`WINDOW_S`] seconds every [`STRIDE_S`] — shorter when the model pools fewer seconds, with
/// the stride at most half a window so that every second stays covered — and the per-second
/// states ([`Model::window_states`]).
pub fn library_windows(model: &Model, features: &Tensor) -> vclip_model::Result<WindowStates> {
    let window = WINDOW_S.min(model.max_window()).max(1);
    let stride = STRIDE_S.min(window.div_ceil(2));
    model.window_states(features, window, stride)
}

/// One window's pooled embedding (768-d for VideoCLIP).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowEmbedding {
    pub start_s: usize,
    pub end_s: usize,
    pub embedding: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{}: {source}", path.display())]
    Model {
        path: std::path::PathBuf,
        #[source]
        source: vclip_model::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Per-second features and window embeddings of one video.
#[derive(Debug, Clone, Serialize)]
pub struct VideoEncoding {
    /// One L2-normalised S3D feature per second.
    pub features: Vec<Vec<f32>>,
    pub windows: Vec<WindowEmbedding>,
    pub decode: DecodeReport,
}

/// How much work goes to the device per call.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// One-second clips per S3D-G call (VideoCLIP).
    pub clip_batch: usize,
    /// Frames (seconds) per image-tower call (CLIP). 8–16 run about 35 % faster than 4 on a
    /// 2-core CPU (`vclip bench import FILE --family clip --batch N`).
    pub frame_batch: usize,
    /// CLIP: a closed keyframe at most this far from a second's middle represents the second
    /// instead of the frame at `k + 0.5 s` ([`SampleOptions::keyframe_tolerance_ms`]); 0: the
    /// exact frame (`vclip import --exact-frames`). The default, [`Self::KEYFRAMES_MS`], takes a
    /// keyframe inside the second (or on its edge) when there is one, so videos with a keyframe
    /// at least every second (most phones) decode only their keyframes: measured 1.9× faster
    /// imports of such a file on a 2-core CPU (`vclip bench import FILE --family clip
    /// [--exact-frames]`). Every frame lies within half a second of its second's middle; two
    /// neighbouring seconds may share a keyframe on their common edge (a tie goes to the
    /// earlier second's start). VideoCLIP's 30 fps clips ignore it.
    pub keyframe_tolerance_ms: u32,
}

impl EncodeOptions {
    /// Any keyframe inside the second or on its edges (the default).
    pub const KEYFRAMES_MS: u32 = 500;

    /// How the CLIP family samples `model`'s frames with these options: one frame per second at
    /// the model's image size. Import, re-embedding and the import estimate all use this.
    pub fn clip_sampling(&self, model: &ClipModel) -> SampleOptions {
        SampleOptions {
            size: u32::try_from(model.image_size()).unwrap_or(u32::MAX),
            keyframe_tolerance_ms: self.keyframe_tolerance_ms,
            ..SampleOptions::default()
        }
    }
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            clip_batch: 4,
            frame_batch: 16,
            keyframe_tolerance_ms: Self::KEYFRAMES_MS,
        }
    }
}

/// Brightness of one second (its middle frame), to keep thumbnails off black or flat frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameStats {
    /// Mean luma, 0–255.
    pub mean: f32,
    /// Standard deviation of luma (0 for a flat frame).
    pub std: f32,
}

impl FrameStats {
    /// Of one RGB24 frame.
    fn of_frame(frame: &[u8]) -> Self {
        let (mut sum, mut sq, mut n) = (0f64, 0f64, 0f64);
        // Every 7th pixel is plenty for a mean and a spread.
        for px in frame.chunks_exact(3).step_by(7) {
            let y = 0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2]);
            sum += y;
            sq += y * y;
            n += 1.0;
        }
        let mean = sum / n.max(1.0);
        let var = (sq / n.max(1.0) - mean * mean).max(0.0);
        Self {
            mean: mean as f32,
            std: var.sqrt() as f32,
        }
    }

    /// Neither near-black, near-white nor flat.
    pub fn is_presentable(&self) -> bool {
        (24.0..=232.0).contains(&self.mean) && self.std >= 12.0
    }
}

/// What one decode pass over a video gives: a feature per second and the frame statistics.
#[derive(Debug, Clone)]
pub struct FeaturePass {
    /// One L2-normalised S3D feature per second.
    pub features: Vec<Vec<f32>>,
    /// One entry per second.
    pub frames: Vec<FrameStats>,
    /// One picture fingerprint per second ([`crate::fingerprint`]).
    pub fingerprints: Vec<[u8; crate::fingerprint::CELLS]>,
    pub decode: DecodeReport,
}

/// The second whose frame best represents the video: among presentable seconds (see
/// [`FrameStats::is_presentable`]) the one whose feature is closest to the video's mean
/// feature; if none is presentable, the one with the most contrast. `None` for no seconds.
pub fn representative_second(pass: &FeaturePass) -> Option<usize> {
    let n = pass.features.len().min(pass.frames.len());
    if n == 0 {
        return None;
    }
    let dim = pass.features[0].len();
    let mut mean = vec![0f32; dim];
    for f in &pass.features[..n] {
        mean.iter_mut().zip(f).for_each(|(m, v)| *m += v);
    }
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let presentable = (0..n).filter(|&i| pass.frames[i].is_presentable());
    presentable
        .max_by(|&a, &b| dot(&pass.features[a], &mean).total_cmp(&dot(&pass.features[b], &mean)))
        .or_else(|| (0..n).max_by(|&a, &b| pass.frames[a].std.total_cmp(&pass.frames[b].std)))
}

/// Decodes `path` on a CPU thread and encodes every second with S3D-G on the model's device,
/// calling `on_clips(n)` after each batch of `n` seconds.
pub fn encode_features(
    path: &Path,
    model: &VClipModel,
    opts: EncodeOptions,
    on_clips: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<FeaturePass, EncodeError> {
    let decoder = ClipDecoder::open(path, DecodeOptions::default())?;
    encode_opened(path, decoder, model, opts, on_clips, cancel)
}

/// [`encode_features`] on a decoder the caller already opened.
fn encode_opened(
    path: &Path,
    decoder: ClipDecoder,
    model: &VClipModel,
    opts: EncodeOptions,
    on_clips: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<FeaturePass, EncodeError> {
    let encode = |clips: &[Clip]| -> vclip_model::Result<Vec<Vec<f32>>> {
        let t = clips_tensor(clips, model.s3d.device())?;
        Ok(model.encode_clips(&t)?.to_vec2::<f32>()?)
    };
    let decoded = |d: &ClipDecoder| d.report().clone();
    fn stats(c: &Clip) -> &[u8] {
        c.sample_frame()
    }
    let source = Source {
        items: decoder,
        report: &decoded,
    };
    pipeline(
        path,
        source,
        opts.clip_batch,
        &stats,
        &encode,
        on_clips,
        cancel,
    )
}

/// Samples one frame per second of `path` (a keyframe inside the second, or the frame at
/// `k + 0.5 s`: [`EncodeOptions::clip_sampling`], [`vclip_media::FrameSampler`])
/// on a CPU thread and embeds the frames with CLIP's image tower on the model's device, calling
/// `on_seconds(n)` after each batch of `n` seconds. The features are the unit frame embeddings.
pub fn encode_frames(
    path: &Path,
    model: &ClipModel,
    opts: EncodeOptions,
    on_seconds: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<FeaturePass, EncodeError> {
    let size = model.image_size();
    let sampler = FrameSampler::open(path, opts.clip_sampling(model))?;
    let encode = |frames: &[SampledFrame]| -> vclip_model::Result<Vec<Vec<f32>>> {
        let mut data = Vec::with_capacity(frames.len() * size * size * 3);
        for f in frames {
            data.extend_from_slice(&f.rgb);
        }
        let t = Tensor::from_vec(data, (frames.len(), size, size, 3), &Device::Cpu)?;
        Ok(model
            .embed_rgb(&t)?
            .to_device(&Device::Cpu)?
            .to_vec2::<f32>()?)
    };
    let decoded = |s: &FrameSampler| s.report().decode.clone();
    fn stats(f: &SampledFrame) -> &[u8] {
        &f.rgb
    }
    let source = Source {
        items: sampler,
        report: &decoded,
    };
    pipeline(
        path,
        source,
        opts.frame_batch,
        &stats,
        &encode,
        on_seconds,
        cancel,
    )
}

/// [`encode_features`] or [`encode_frames`], as the model's family samples its frames.
pub fn encode_features_of(
    path: &Path,
    model: &Model,
    opts: EncodeOptions,
    on_seconds: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<FeaturePass, EncodeError> {
    match model {
        Model::VideoClip(m) => encode_features(path, m, opts, on_seconds, cancel),
        Model::Clip(m) => encode_frames(path, m, opts, on_seconds, cancel),
    }
}

/// Encodes a batch of items (one per second) into one feature per item.
type EncodeBatch<'a, I> = dyn Fn(&[I]) -> vclip_model::Result<Vec<Vec<f32>>> + 'a;

/// A decoder of one item per second and how to read its report once it has ended.
struct Source<'a, S> {
    items: S,
    report: &'a (dyn Fn(&S) -> DecodeReport + Sync),
}

/// The decode/encode pipeline: `source` runs on its own thread and hands one item per second
/// over a bounded channel (two batches), while this thread encodes batches of `batch` items on
/// the device.
fn pipeline<S, I>(
    path: &Path,
    source: Source<'_, S>,
    batch: usize,
    frame_of: &dyn Fn(&I) -> &[u8],
    encode: &EncodeBatch<'_, I>,
    on_items: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<FeaturePass, EncodeError>
where
    S: Iterator<Item = Result<I, MediaError>> + Send,
    I: Send,
{
    let model_err = |source| EncodeError::Model {
        path: path.to_path_buf(),
        source,
    };
    let batch = batch.max(1);
    let (tx, rx) = mpsc::sync_channel::<Result<I, MediaError>>(2 * batch);
    let mut features: Vec<Vec<f32>> = Vec::new();
    let mut frames: Vec<FrameStats> = Vec::new();
    let mut fingerprints: Vec<[u8; crate::fingerprint::CELLS]> = Vec::new();
    let mut pending: Vec<I> = Vec::with_capacity(batch);
    let mut failure = None;
    let mut flush = |pending: &mut Vec<I>, features: &mut Vec<Vec<f32>>| {
        if pending.is_empty() {
            return Ok(());
        }
        let n = pending.len() as u64;
        features.extend(encode(pending).map_err(model_err)?);
        pending.clear();
        on_items(n);
        Ok::<(), EncodeError>(())
    };
    let report = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("vclip-decode".into())
            .spawn_scoped(scope, move || {
                let Source { mut items, report } = source;
                for item in items.by_ref() {
                    if cancel.is_cancelled() || tx.send(item).is_err() {
                        break;
                    }
                }
                report(&items)
            })
            .map_err(|e| {
                EncodeError::Media(MediaError::new(path, vclip_media::MediaErrorKind::Io(e)))
            })?;
        for item in rx.iter() {
            if cancel.is_cancelled() {
                break;
            }
            match item {
                Ok(i) => {
                    let frame = frame_of(&i);
                    frames.push(FrameStats::of_frame(frame));
                    fingerprints.push(
                        crate::fingerprint::of_rgb(frame).unwrap_or([0; crate::fingerprint::CELLS]),
                    );
                    pending.push(i);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if pending.len() == batch {
                if let Err(e) = flush(&mut pending, &mut features) {
                    drop(rx);
                    let _ = worker.join();
                    return Err(e);
                }
            }
        }
        drop(rx);
        Ok(worker.join().unwrap_or_default())
    })?;
    if cancel.is_cancelled() {
        return Err(EncodeError::Cancelled);
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    flush(&mut pending, &mut features)?;
    Ok(FeaturePass {
        features,
        frames,
        fingerprints,
        decode: report,
    })
}

/// Decodes `path`, encodes every second with S3D-G, and embeds the windows.
pub fn encode_video(
    path: &Path,
    model: &VClipModel,
    opts: EncodeOptions,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<VideoEncoding, EncodeError> {
    let model_err = |source| EncodeError::Model {
        path: path.to_path_buf(),
        source,
    };
    // Opened here so that an unreadable file fails before a thread starts.
    let decoder = ClipDecoder::open(path, DecodeOptions::default())?;
    let mut tracker = Tracker::new("encoding", "s", decoder.expected_clips());
    tracker.set_current(path.file_name().map(|n| n.to_string_lossy().into_owned()));
    tracker.start(sink);
    let pass = encode_opened(
        path,
        decoder,
        model,
        opts,
        &mut |n| tracker.advance(n, sink),
        cancel,
    );
    let pass = match pass {
        Err(EncodeError::Cancelled) => {
            tracker.cancelled(sink);
            return Err(EncodeError::Cancelled);
        }
        other => other?,
    };
    for w in &pass.decode.warnings {
        sink.emit(ProgressEvent::Warning {
            item: path.display().to_string(),
            message: w.clone(),
        });
    }
    let windows = window_embeddings(model, &pass.features).map_err(model_err)?;
    tracker.finish(sink);
    Ok(VideoEncoding {
        features: pass.features,
        windows,
        decode: pass.decode,
    })
}

/// Embeds the overlapping windows of per-second `features` with the video tower.
fn window_embeddings(
    model: &VClipModel,
    features: &[Vec<f32>],
) -> vclip_model::Result<Vec<WindowEmbedding>> {
    if features.is_empty() {
        return Ok(Vec::new());
    }
    let dim = features[0].len();
    let flat: Vec<f32> = features.iter().flatten().copied().collect();
    let t = Tensor::from_vec(flat, (features.len(), dim), model.s3d.device())?;
    let window = WINDOW_S.min(model.config.videoclip.max_video_len);
    let (spans, pooled) = model.embed_windows(&t, window, STRIDE_S)?;
    let pooled = pooled.to_device(&Device::Cpu)?.to_vec2::<f32>()?;
    Ok(spans
        .into_iter()
        .zip(pooled)
        .map(|((start_s, end_s), embedding)| WindowEmbedding {
            start_s,
            end_s,
            embedding,
        })
        .collect())
}

/// One per-second feature of a still picture (an image file): for VideoCLIP, S3D-G over a clip
/// of 30 copies of the picture (a second in which nothing moves); for CLIP, the picture's
/// embedding. The picture is read as a frame of the family's size ([`vclip_media::still_rgb`]).
pub fn still_feature(model: &Model, path: &Path) -> crate::store::Result<Vec<f32>> {
    let size = match model {
        Model::VideoClip(_) => vclip_media::CLIP_SIZE,
        Model::Clip(m) => m.image_size() as u32,
    };
    let rgb = vclip_media::still_rgb(path, size)
        .map_err(|e| crate::EngineError::Invalid(format!("not a picture VClip can read: {e}")))?;
    let s = size as usize;
    let encoded = match model {
        Model::VideoClip(m) => {
            let frames = vclip_media::CLIP_FRAMES;
            let data: Vec<u8> = rgb.repeat(frames);
            vclip_model::s3d::clips_from_thwc(data, 1, frames, s, s, m.s3d.device())
                .and_then(|t| Ok(m.encode_clips(&t)?.to_vec2::<f32>()?))
        }
        Model::Clip(m) => Tensor::from_vec(rgb, (1, s, s, 3), &Device::Cpu)
            .map_err(Into::into)
            .and_then(|t| Ok(m.embed_rgb(&t)?.to_device(&Device::Cpu)?.to_vec2::<f32>()?)),
    };
    encoded
        .map_err(|source| crate::EngineError::Model {
            context: format!("encoding the picture {}", path.display()),
            source,
        })?
        .into_iter()
        .next()
        .ok_or_else(|| crate::EngineError::Invalid(format!("{}: no feature", path.display())))
}

/// Stacks clips (T, H, W, C) uint8 into the `(B, 3, T, H, W)` uint8 tensor S3D takes.
fn clips_tensor(clips: &[Clip], device: &Device) -> vclip_model::Result<Tensor> {
    let c0 = &clips[0];
    let (t, s) = (c0.frame_count(), c0.size as usize);
    let mut data = Vec::with_capacity(clips.len() * c0.frames.len());
    for c in clips {
        data.extend_from_slice(&c.frames);
    }
    vclip_model::s3d::clips_from_thwc(data, clips.len(), t, s, s, device)
}
