//! Encoding one video: decode on a CPU thread while S3D-G encodes on the model's device, then the
//! video tower over overlapping windows.
//!
//! The decoder thread hands clips over a bounded channel (at most two batches in flight), so
//! memory stays bounded and the device is fed while the next clips decode.

use std::path::Path;
use std::sync::mpsc;

use serde::Serialize;
use vclip_media::{Clip, ClipDecoder, DecodeOptions, DecodeReport, MediaError};
use vclip_model::{Device, Tensor, VClipModel};

use crate::progress::{CancelToken, ProgressEvent, ProgressSink, Tracker};

/// Longest window in seconds (the video tower's `max_video_len`) and the stride between window
/// starts: VideoCLIP's sliding windows (`VIDEOCLIP.md` §5.4–§5.5).
pub const WINDOW_S: usize = 32;
pub const STRIDE_S: usize = 16;

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
    /// Clips (seconds) per S3D-G call.
    pub clip_batch: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self { clip_batch: 4 }
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
    fn of_clip(clip: &Clip) -> Self {
        let frames = clip.valid_frames.clamp(1, clip.frame_count().max(1));
        let bytes = clip.frame_bytes();
        let at = (frames / 2) * bytes;
        let Some(frame) = clip.frames.get(at..at + bytes) else {
            return Self {
                mean: 0.0,
                std: 0.0,
            };
        };
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
    let model_err = |source| EncodeError::Model {
        path: path.to_path_buf(),
        source,
    };
    let batch = opts.clip_batch.max(1);
    let (tx, rx) = mpsc::sync_channel::<Result<Clip, MediaError>>(2 * batch);
    let worker_cancel = cancel.clone();
    let worker = std::thread::Builder::new()
        .name("vclip-decode".into())
        .spawn(move || {
            // The decoder moves to this thread and is used only here.
            let mut decoder = decoder;
            for clip in decoder.by_ref() {
                if worker_cancel.is_cancelled() || tx.send(clip).is_err() {
                    break;
                }
            }
            decoder.report().clone()
        })
        .map_err(|e| {
            EncodeError::Media(MediaError::new(path, vclip_media::MediaErrorKind::Io(e)))
        })?;

    let mut features: Vec<Vec<f32>> = Vec::new();
    let mut frames: Vec<FrameStats> = Vec::new();
    let mut pending: Vec<Clip> = Vec::with_capacity(batch);
    let mut failure = None;
    let flush =
        |pending: &mut Vec<Clip>, features: &mut Vec<Vec<f32>>| -> Result<(), EncodeError> {
            if pending.is_empty() {
                return Ok(());
            }
            let t = clips_tensor(pending, model.s3d.device()).map_err(model_err)?;
            let f = model
                .encode_clips(&t)
                .and_then(|f| Ok(f.to_vec2::<f32>()?))
                .map_err(model_err)?;
            features.extend(f);
            pending.clear();
            Ok(())
        };
    for clip in rx.iter() {
        if cancel.is_cancelled() {
            break;
        }
        match clip {
            Ok(c) => {
                frames.push(FrameStats::of_clip(&c));
                pending.push(c);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        if pending.len() == batch {
            let n = pending.len() as u64;
            if let Err(e) = flush(&mut pending, &mut features) {
                drop(rx);
                let _ = worker.join();
                return Err(e);
            }
            on_clips(n);
        }
    }
    let report = worker.join().unwrap_or_default();
    if cancel.is_cancelled() {
        return Err(EncodeError::Cancelled);
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    let n = pending.len() as u64;
    flush(&mut pending, &mut features)?;
    on_clips(n);
    Ok(FeaturePass {
        features,
        frames,
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
