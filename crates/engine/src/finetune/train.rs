//! `Engine::finetune`: trains the active model's towers on the library's own videos and
//! subtitles with the paper's recipe (`VIDEOCLIP.md` §4), and writes the result as a new model
//! directory. No video is decoded: the S3D features come from the feature cache.
//!
//! 1. Data: every ready video with subtitle cues and cached features. Rolling captions are
//!    merged ([`super::captions`]); per video a fraction of the captions is held out (at least
//!    one when the video has two or more) as text→video queries for evaluation.
//! 2. Each step takes `batch_videos` videos and draws `pairs_per_video` overlapped pairs from
//!    each ([`super::sampler`]): video features `[start, end)` (≤ 32 s) and the captions' tokens
//!    (≤ 61). Batches are random clusters of videos (retrieval-augmented clusters are not built
//!    yet).
//! 3. Loss: symmetric InfoNCE (τ configurable, 1.0 in the paper) on the pooled outputs of the
//!    video tower (retrieval mode) and the text tower. AdamW with betas (0.9, 0.98), no weight
//!    decay, linear warm-up then linear decay, gradients clipped to a global norm of 2.0. The
//!    text tower can be frozen.
//! 4. Evaluation before training and after every epoch on the held-out captions: each caption
//!    ranks every video by its best 32-second window (windows every 16 s, as search does);
//!    R@1/5/10 and the median rank. The best epoch (R@1, then median rank) is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::Serialize;
use vclip_index::{read_features, Features, Status};
use vclip_model::train::{retrieval_metrics, symmetric_info_nce, TrainableTowers};
use vclip_model::{text_batch, VClipModel, VideoMode};

use super::captions::dedup;
use super::rng::SplitMix64;
use super::sampler::{sample, SamplerConfig, Span};
use crate::progress::{CancelToken, ProgressSink, Tracker};
use crate::store::{model_version, Engine, EngineError, Result};

/// What to train and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneOptions {
    pub epochs: usize,
    /// Videos per batch (the paper's k = 32).
    pub batch_videos: usize,
    /// Pairs drawn from each video of a batch (the paper: 16).
    pub pairs_per_video: usize,
    /// Fraction of each video's captions held out for evaluation.
    pub holdout: f64,
    pub seed: u64,
    /// Peak learning rate (the paper: 5e-5 from a pre-trained model).
    pub lr: f64,
    /// Warm-up steps (linear), then linear decay to zero at the last step.
    pub warmup_steps: usize,
    /// InfoNCE temperature (the paper: 1.0).
    pub tau: f64,
    /// Global gradient-norm clip (the paper: 2.0).
    pub clip_norm: f64,
    /// Train only the video side (videomlp + video transformer).
    pub freeze_text: bool,
    pub sampler: SamplerConfig,
    /// Ablation: give each video another video's captions for training (evaluation keeps the
    /// true ones), so nothing true can be learnt.
    pub shuffle_labels: bool,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_videos: 32,
            pairs_per_video: 16,
            holdout: 0.1,
            seed: 0,
            lr: 5e-5,
            warmup_steps: 100,
            tau: 1.0,
            clip_norm: 2.0,
            freeze_text: false,
            sampler: SamplerConfig::default(),
            shuffle_labels: false,
        }
    }
}

/// Text→video retrieval on the held-out captions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecallMetrics {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub median_rank: f64,
}

/// One epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub mean_loss: f64,
    pub heldout: RecallMetrics,
}

/// What [`Engine::finetune`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinetuneReport {
    pub before: RecallMetrics,
    /// The best epoch's metrics (the written model's).
    pub after: RecallMetrics,
    pub best_epoch: usize,
    pub epochs: Vec<EpochReport>,
    /// The new model directory and its `family/version`.
    pub model_dir: PathBuf,
    pub model_version: String,
    pub videos: usize,
    pub train_captions: usize,
    pub heldout_queries: usize,
    pub steps: usize,
    pub shuffled_labels: bool,
}

/// One video's training material.
struct VideoData {
    path: String,
    feats: Features,
    /// Training captions in time order, with their tokens.
    train: Vec<(Span, Vec<u32>)>,
    /// Held-out captions' tokens.
    heldout: Vec<Vec<u32>>,
}

fn model_err(context: &str) -> impl Fn(vclip_model::Error) -> EngineError + '_ {
    move |source| EngineError::Model {
        context: context.to_owned(),
        source,
    }
}

fn candle_err(context: &str) -> impl Fn(candle_core::Error) -> EngineError + '_ {
    move |e| EngineError::Model {
        context: context.to_owned(),
        source: e.into(),
    }
}

impl Engine {
    /// Fine-tunes the active model on this library and writes the best epoch's towers (with
    /// the same S3D-G weights and vocabulary) to `out_dir` as a new model directory.
    pub fn finetune(
        &self,
        out_dir: &Path,
        opts: &FinetuneOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<FinetuneReport> {
        let model = self.model().ok_or(EngineError::NoModel)?;
        if opts.epochs == 0 || opts.batch_videos == 0 || opts.pairs_per_video == 0 {
            return Err(EngineError::Invalid(
                "epochs, videos per batch and pairs per video must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&opts.holdout) {
            return Err(EngineError::Invalid(format!(
                "the held-out fraction must be in [0, 1), not {}",
                opts.holdout
            )));
        }
        let mut rng = SplitMix64::new(opts.seed);
        let videos = self.training_data(model, opts, &mut rng, sink)?;
        if videos.len() < 2 {
            return Err(EngineError::Invalid(format!(
                "fine-tuning needs at least 2 ready videos with subtitles and cached features; \
                 this library has {}",
                videos.len()
            )));
        }
        let heldout_queries: usize = videos.iter().map(|v| v.heldout.len()).sum();
        let train_captions: usize = videos.iter().map(|v| v.train.len()).sum();

        let device = Device::Cpu;
        let config = &model.config.videoclip;
        let weights = model.dir().join(vclip_model::model_dir::VIDEOCLIP_FILE);
        let towers = TrainableTowers::load(&weights, config, &device, DType::F32)
            .map_err(model_err("loading the towers to train"))?;
        let trained: Vec<Var> = towers
            .vars
            .iter()
            .filter(|(name, _)| !(opts.freeze_text && name.starts_with("text_encoder.")))
            .map(|(_, v)| v.clone())
            .collect();
        let mut optimizer = AdamW::new(
            trained.clone(),
            ParamsAdamW {
                lr: opts.lr,
                beta1: 0.9,
                beta2: 0.98,
                eps: 1e-8,
                weight_decay: 0.0,
            },
        )
        .map_err(candle_err("creating the optimizer"))?;

        let before = evaluate(&towers, &videos, config, &device)?;
        let steps_per_epoch = videos.len().div_ceil(opts.batch_videos);
        let total_steps = steps_per_epoch * opts.epochs;
        let mut tracker = Tracker::new("finetune", "steps", Some(total_steps as u64));
        tracker.start(sink);
        let mut epochs = Vec::with_capacity(opts.epochs);
        let mut best: Option<(usize, RecallMetrics, HashMap<String, Tensor>)> = None;
        let mut step = 0;
        for epoch in 1..=opts.epochs {
            let mut order: Vec<usize> = (0..videos.len()).collect();
            shuffle(&mut order, &mut rng);
            let mut losses = Vec::with_capacity(steps_per_epoch);
            for chunk in order.chunks(opts.batch_videos) {
                if cancel.is_cancelled() {
                    tracker.cancelled(sink);
                    return Err(EngineError::Cancelled);
                }
                let lr = schedule(opts.lr, step, opts.warmup_steps, total_steps);
                optimizer.set_learning_rate(lr);
                let batch = make_batch(&videos, chunk, opts, config, &device, &mut rng)?;
                let v = towers
                    .video
                    .forward(&batch.feats, &batch.vmask, VideoMode::Retrieval)
                    .map_err(model_err("video tower"))?
                    .pooled;
                let t = towers
                    .text
                    .forward(&batch.ids, &batch.tmask)
                    .map_err(model_err("text tower"))?
                    .pooled;
                let loss = symmetric_info_nce(&v, &t, opts.tau).map_err(model_err("loss"))?;
                let value = f64::from(
                    loss.to_scalar::<f32>()
                        .map_err(candle_err("reading the loss"))?,
                );
                if !value.is_finite() {
                    return Err(EngineError::Invalid(format!(
                        "the loss diverged ({value}) at step {step}: lower the learning rate"
                    )));
                }
                let mut grads = loss.backward().map_err(candle_err("backward pass"))?;
                clip_gradients(&mut grads, &trained, opts.clip_norm)?;
                optimizer
                    .step(&grads)
                    .map_err(candle_err("optimizer step"))?;
                losses.push(value);
                step += 1;
                tracker.set_current(Some(format!(
                    "epoch {epoch}/{}, loss {value:.4}, lr {lr:.2e}",
                    opts.epochs
                )));
                tracker.advance(1, sink);
            }
            let heldout = evaluate(&towers, &videos, config, &device)?;
            let mean_loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
            epochs.push(EpochReport {
                epoch,
                mean_loss,
                heldout,
            });
            let better = best.as_ref().is_none_or(|(_, m, _)| {
                heldout.r1 > m.r1 || (heldout.r1 == m.r1 && heldout.median_rank < m.median_rank)
            });
            if better {
                best = Some((epoch, heldout, snapshot(&towers)?));
            }
        }
        tracker.finish(sink);
        let Some((best_epoch, after, tensors)) = best else {
            return Err(EngineError::Invalid("no epoch ran".into()));
        };
        let written = write_finetuned(model, out_dir, &tensors, best_epoch)?;
        let version = model_version(&written)?;
        Ok(FinetuneReport {
            before,
            after,
            best_epoch,
            epochs,
            model_dir: out_dir.to_path_buf(),
            model_version: version.key(),
            videos: videos.len(),
            train_captions,
            heldout_queries,
            steps: step,
            shuffled_labels: opts.shuffle_labels,
        })
    }

    /// Ready videos with cached features and subtitle cues, captions deduplicated and split.
    fn training_data(
        &self,
        model: &VClipModel,
        opts: &FinetuneOptions,
        rng: &mut SplitMix64,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<VideoData>> {
        let version = model_version(&model.config)?;
        let max_tokens = model.config.videoclip.max_text_len.saturating_sub(2);
        let mut out = Vec::new();
        for video in self.videos_with_status(Status::Ready)? {
            let cues = self.library().catalogue().cues_of(video.id)?;
            if cues.is_empty() {
                continue;
            }
            let path = self
                .library()
                .features_path(version.family(), &video.hash)?;
            let feats = match read_features(&path) {
                Ok(f) if f.rows > 0 => f,
                Ok(_) => continue,
                Err(e) => {
                    sink.emit(crate::ProgressEvent::Warning {
                        item: video.path.clone(),
                        message: format!("left out of fine-tuning: {e}"),
                    });
                    continue;
                }
            };
            let raw: Vec<(f64, f64, &str)> = cues
                .iter()
                .map(|c| (c.start_s, c.end_s, c.text.as_str()))
                .collect();
            let mut captions = Vec::new();
            for c in dedup(&raw, rng) {
                let ids = model
                    .tokenizer
                    .encode_up_to(&c.text, max_tokens)
                    .map_err(model_err("tokenizing subtitles"))?;
                if !ids.is_empty() {
                    captions.push((c, ids));
                }
            }
            if captions.is_empty() {
                continue;
            }
            // Hold out a fraction of this video's captions (at least one when it has two).
            let n = captions.len();
            let k = if n >= 2 && opts.holdout > 0.0 {
                ((n as f64 * opts.holdout).round() as usize).clamp(1, n - 1)
            } else {
                0
            };
            let mut idx: Vec<usize> = (0..n).collect();
            shuffle(&mut idx, rng);
            let held: std::collections::HashSet<usize> = idx[..k].iter().copied().collect();
            let mut train = Vec::new();
            let mut heldout = Vec::new();
            for (i, (c, ids)) in captions.into_iter().enumerate() {
                if held.contains(&i) {
                    heldout.push(ids);
                } else {
                    let span = Span {
                        start_s: c.start_s,
                        end_s: c.end_s,
                        tokens: ids.len(),
                    };
                    train.push((span, ids));
                }
            }
            out.push(VideoData {
                path: video.path.clone(),
                feats,
                train,
                heldout,
            });
        }
        if opts.shuffle_labels && out.len() >= 2 {
            // A derangement by rotation after a shuffle: no video keeps its own captions.
            let mut order: Vec<usize> = (0..out.len()).collect();
            shuffle(&mut order, rng);
            let trains: Vec<_> = out
                .iter_mut()
                .map(|v| std::mem::take(&mut v.train))
                .collect();
            let mut trains: Vec<Option<_>> = trains.into_iter().map(Some).collect();
            for (i, &from) in order.iter().enumerate() {
                let to = order[(i + 1) % order.len()];
                out[to].train = trains[from].take().unwrap_or_default();
            }
        }
        Ok(out)
    }
}

/// Fisher–Yates.
fn shuffle<T>(v: &mut [T], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.range(0, i));
    }
}

/// Linear warm-up to `peak` over `warmup` steps, then linear decay to 0 at `total`.
fn schedule(peak: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        peak * (step + 1) as f64 / warmup as f64
    } else {
        let left = total.saturating_sub(step) as f64;
        let span = total.saturating_sub(warmup).max(1) as f64;
        peak * (left / span).clamp(0.0, 1.0)
    }
}

/// Scales every gradient so that their global L2 norm is at most `max_norm`.
fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max_norm: f64,
) -> Result<()> {
    let err = candle_err("clipping gradients");
    let mut sq = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += f64::from(
                g.sqr()
                    .and_then(|s| s.sum_all())
                    .and_then(|s| s.to_scalar::<f32>())
                    .map_err(&err)?,
            );
        }
    }
    let norm = sq.sqrt();
    if norm > max_norm && norm.is_finite() {
        let scale = max_norm / norm;
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * scale).map_err(&err)?);
            }
        }
    }
    Ok(())
}

struct Batch {
    feats: Tensor,
    vmask: Tensor,
    ids: Tensor,
    tmask: Tensor,
}

/// `pairs_per_video` overlapped pairs from each of `chosen`.
fn make_batch(
    videos: &[VideoData],
    chosen: &[usize],
    opts: &FinetuneOptions,
    config: &vclip_model::VideoClipConfig,
    device: &Device,
    rng: &mut SplitMix64,
) -> Result<Batch> {
    let err = candle_err("building a batch");
    let dim = config.video_feature_dim;
    let max_len = config.max_video_len;
    let mut clips: Vec<(&VideoData, (usize, usize))> = Vec::new();
    let mut texts: Vec<Vec<u32>> = Vec::new();
    for &i in chosen {
        let v = &videos[i];
        let spans: Vec<Span> = v.train.iter().map(|(s, _)| *s).collect();
        for _ in 0..opts.pairs_per_video {
            let Some(pair) = sample(&spans, v.feats.rows, &opts.sampler, rng) else {
                continue;
            };
            let (s, e) = pair.video;
            let e = e.min(s + max_len).max(s + 1).min(v.feats.rows);
            clips.push((v, (s, e)));
            texts.push(
                v.train[pair.text]
                    .iter()
                    .flat_map(|(_, ids)| ids.iter().copied())
                    .collect(),
            );
        }
    }
    if clips.len() < 2 {
        return Err(EngineError::Invalid(
            "a batch needs at least two pairs: the videos have too few captions".into(),
        ));
    }
    let l = clips.iter().map(|(_, (s, e))| e - s).max().unwrap_or(1);
    let b = clips.len();
    let mut feats = vec![0f32; b * l * dim];
    let mut mask = vec![0u8; b * l];
    for (k, (v, (s, e))) in clips.iter().enumerate() {
        for (j, row) in (*s..*e).enumerate() {
            let src = v.feats.row(row);
            if src.len() != dim {
                return Err(EngineError::Invalid(format!(
                    "{}: cached features have {} values per second, the model expects {dim}",
                    v.path,
                    src.len()
                )));
            }
            feats[(k * l + j) * dim..(k * l + j + 1) * dim].copy_from_slice(src);
            mask[k * l + j] = 1;
        }
    }
    let (ids, tmask) = text_batch(&texts, config.max_text_len, false, device)
        .map_err(model_err("laying out the texts"))?;
    Ok(Batch {
        feats: Tensor::from_vec(feats, (b, l, dim), device).map_err(&err)?,
        vmask: Tensor::from_vec(mask, (b, l), device).map_err(&err)?,
        ids,
        tmask,
    })
}

/// Held-out captions against every video's best window.
fn evaluate(
    towers: &TrainableTowers,
    videos: &[VideoData],
    config: &vclip_model::VideoClipConfig,
    device: &Device,
) -> Result<RecallMetrics> {
    let err = candle_err("evaluating");
    let dim = config.video_feature_dim;
    // Window vectors of every video, as search sees them.
    let mut windows: Vec<(usize, Vec<f32>)> = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        for (s, e) in vclip_model::window_spans(v.feats.rows, 32.min(config.max_video_len), 16) {
            let data = v.feats.data[s * dim..e * dim].to_vec();
            let feats = Tensor::from_vec(data, (1, e - s, dim), device).map_err(&err)?;
            let mask = Tensor::ones((1, e - s), DType::U8, device).map_err(&err)?;
            let pooled = towers
                .video
                .forward(&feats, &mask, VideoMode::Retrieval)
                .map_err(model_err("video tower"))?
                .pooled
                .detach()
                .squeeze(0)
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(&err)?;
            windows.push((vi, pooled));
        }
    }
    let mut queries: Vec<&Vec<u32>> = Vec::new();
    let mut truth = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        for q in &v.heldout {
            queries.push(q);
            truth.push(vi);
        }
    }
    if queries.is_empty() {
        return Err(EngineError::Invalid(
            "no held-out captions to evaluate on: raise --holdout or add subtitles".into(),
        ));
    }
    let mut scores = vec![vec![f32::NEG_INFINITY; videos.len()]; queries.len()];
    for (chunk_i, chunk) in queries.chunks(64).enumerate() {
        let owned: Vec<Vec<u32>> = chunk.iter().map(|q| (*q).clone()).collect();
        let (ids, mask) = text_batch(&owned, config.max_text_len, false, device)
            .map_err(model_err("laying out the queries"))?;
        let t = towers
            .text
            .forward(&ids, &mask)
            .map_err(model_err("text tower"))?
            .pooled
            .detach()
            .to_vec2::<f32>()
            .map_err(&err)?;
        for (qi, tv) in t.iter().enumerate() {
            let row = &mut scores[chunk_i * 64 + qi];
            for (vi, w) in &windows {
                let s: f32 = tv.iter().zip(w).map(|(a, b)| a * b).sum();
                if s > row[*vi] {
                    row[*vi] = s;
                }
            }
        }
    }
    let flat: Vec<f32> = scores.iter().flatten().copied().collect();
    let scores = Tensor::from_vec(flat, (queries.len(), videos.len()), device).map_err(&err)?;
    let (r, median_rank) =
        retrieval_metrics(&scores, &truth, &[1, 5, 10]).map_err(model_err("metrics"))?;
    Ok(RecallMetrics {
        r1: r[0],
        r5: r[1],
        r10: r[2],
        median_rank,
    })
}

/// The towers' current weights, copied.
fn snapshot(towers: &TrainableTowers) -> Result<HashMap<String, Tensor>> {
    towers
        .vars
        .iter()
        .map(|(n, v)| {
            Ok((
                n.clone(),
                v.as_tensor()
                    .detach()
                    .copy()
                    .map_err(candle_err("copying weights"))?,
            ))
        })
        .collect()
}

/// A model directory with `model`'s S3D-G weights and vocabulary and the trained towers.
fn write_finetuned(
    model: &VClipModel,
    out_dir: &Path,
    towers: &HashMap<String, Tensor>,
    epoch: usize,
) -> Result<vclip_model::ModelConfig> {
    use vclip_model::model_dir::{S3D_FILE, VOCAB_FILE};
    if out_dir.join(vclip_model::model_dir::CONFIG_FILE).exists() {
        return Err(EngineError::Invalid(format!(
            "{} already holds a model; choose a new folder",
            out_dir.display()
        )));
    }
    let base = model.dir();
    let s3d_path = base.join(S3D_FILE);
    let s3d = candle_core::safetensors::load(&s3d_path, &Device::Cpu)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", s3d_path.display())))?;
    // Non-trainable tensors of the towers' file (none today) are carried over as they are.
    let towers_path = base.join(vclip_model::model_dir::VIDEOCLIP_FILE);
    let mut videoclip = candle_core::safetensors::load(&towers_path, &Device::Cpu)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", towers_path.display())))?;
    for (name, t) in towers {
        videoclip.insert(name.clone(), t.clone());
    }
    let vocab_path = base.join(VOCAB_FILE);
    let vocab = std::fs::read_to_string(&vocab_path)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", vocab_path.display())))?;
    let mut config = model.config.clone();
    config.description = format!(
        "fine-tuned on a VClip library (best epoch {epoch}) from: {}",
        model.config.description
    );
    vclip_model::write_model_dir(out_dir, &config, &s3d, &videoclip, &vocab)
        .map_err(model_err("writing the fine-tuned model"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_then_linear_decay() {
        assert_eq!(schedule(1.0, 0, 4, 10), 0.25);
        assert_eq!(schedule(1.0, 3, 4, 10), 1.0);
        assert_eq!(schedule(1.0, 4, 4, 10), 1.0);
        assert_eq!(schedule(1.0, 7, 4, 10), 0.5);
        assert_eq!(schedule(1.0, 10, 4, 10), 0.0);
        assert_eq!(schedule(2.0, 5, 0, 10), 1.0);
    }

    #[test]
    fn clipping_bounds_the_global_norm() -> Result<()> {
        let dev = Device::Cpu;
        let a = Var::new(&[1f32, 2.0], &dev).map_err(candle_err("t"))?;
        let b = Var::new(&[3f32], &dev).map_err(candle_err("t"))?;
        let loss = ((a.as_tensor().sum_all().map_err(candle_err("t"))? * 3.0)
            .map_err(candle_err("t"))?
            + (b.as_tensor().sum_all().map_err(candle_err("t"))? * 4.0)
                .map_err(candle_err("t"))?)
        .map_err(candle_err("t"))?;
        // Gradients (3, 3) and (4): norm sqrt(34).
        let mut grads = loss.backward().map_err(candle_err("t"))?;
        let vars = [a.clone(), b.clone()];
        clip_gradients(&mut grads, &vars, 1.0)?;
        let mut sq = 0.0;
        for v in &vars {
            let g = grads
                .get(v.as_tensor())
                .expect("grad")
                .to_vec1::<f32>()
                .expect("vec");
            sq += g.iter().map(|x| f64::from(x * x)).sum::<f64>();
        }
        assert!((sq.sqrt() - 1.0).abs() < 1e-6, "{}", sq.sqrt());
        // Under the bound: unchanged.
        let mut grads = loss.backward().map_err(candle_err("t"))?;
        clip_gradients(&mut grads, &vars, 100.0)?;
        assert_eq!(
            grads
                .get(b.as_tensor())
                .expect("grad")
                .to_vec1::<f32>()
                .expect("vec"),
            [4.0]
        );
        Ok(())
    }
}
