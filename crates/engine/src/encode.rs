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
    let batch = opts.clip_batch.max(1);
    // Opened here so that an unreadable file fails before a thread starts.
    let decoder = ClipDecoder::open(path, DecodeOptions::default())?;
    let mut tracker = Tracker::new("encoding", "s", decoder.expected_clips());
    tracker.set_current(path.file_name().map(|n| n.to_string_lossy().into_owned()));
    tracker.start(sink);

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
            Ok(c) => pending.push(c),
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
            tracker.advance(n, sink);
        }
    }
    let report = worker.join().unwrap_or_default();
    if cancel.is_cancelled() {
        tracker.cancelled(sink);
        return Err(EncodeError::Cancelled);
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    let n = pending.len() as u64;
    flush(&mut pending, &mut features)?;
    tracker.advance(n, sink);
    for w in &report.warnings {
        sink.emit(ProgressEvent::Warning {
            item: path.display().to_string(),
            message: w.clone(),
        });
    }
    let windows = window_embeddings(model, &features).map_err(model_err)?;
    tracker.finish(sink);
    Ok(VideoEncoding {
        features,
        windows,
        decode: report,
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
