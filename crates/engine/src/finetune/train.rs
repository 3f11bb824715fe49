//! `Engine::finetune`: trains the active model's towers on the library's own videos and
//! subtitles with the paper's recipe (docs/model-notes.md §4), and writes the result as a new model
//! directory. No video is decoded: the per-second features come from the feature cache. Both
//! families train through the same loop; what differs (which weights, the text side, the
//! tokenizer, τ, the written folder) is `finetune::towers::Towers`: VideoCLIP's towers, or the
//! CLIP family's temporal tower over the frozen per-second image embeddings, against frozen
//! CLIP text embeddings.
//!
//! 1. Data: every ready video with subtitle cues and cached features. Rolling captions are
//!    merged ([`super::captions`]); per video a fraction of the captions is held out (at least
//!    one when the video has two or more) as text→video queries for evaluation.
//! 2. Each step takes `batch_videos` videos and draws `pairs_per_video` overlapped pairs from
//!    each ([`super::sampler`]): video features `[start, end)` (≤ 32 s) and the captions' tokens
//!    (≤ 61 for VideoCLIP, ≤ 75 for CLIP; budgets counted with the model's tokenizer). The
//!    batches of an epoch are retrieval-augmented clusters of similar videos
//!    ([`super::retrieval`], §4.4), or random ones ([`Batching::Random`], the ablation).
//! 3. Loss: symmetric InfoNCE (τ configurable; by default 1.0 for VideoCLIP as in the paper,
//!    0.01 for CLIP's unit vectors) on the pooled outputs of the video side (VideoCLIP's video
//!    tower in retrieval mode; CLIP's temporal tower) and the text side (VideoCLIP's text tower;
//!    CLIP's frozen text embeddings). AdamW with betas (0.9, 0.98), no weight decay, linear
//!    warm-up then linear decay, gradients clipped to a global norm of 2.0. VideoCLIP's text
//!    tower can be frozen.
//! 4. Evaluation before training and after every epoch on the held-out captions: each caption
//!    ranks every video by its best 32-second window (windows every 16 s, as search does);
//!    R@1/5/10 and the median rank. The best epoch (R@1, then median rank) is written.
//! 5. Checkpoints every `checkpoint_every` steps and when cancelled ([`super::checkpoint`]);
//!    [`FinetuneOptions::resume`] continues an unfinished run exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::time::Instant;

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use vclip_index::{read_features, CueOrigin, Features, Status};
use vclip_model::train::{retrieval_metrics, symmetric_info_nce};
use vclip_model::Model;

use super::adam::{Adam, AdamConfig};
use super::captions::dedup;
use super::checkpoint::{self, State};
use super::retrieval;
use super::rng::SplitMix64;
use super::sampler::{sample, Pair, SamplerConfig, Span};
use super::towers::{candle_err, caption_tokens, default_tau, model_err, Towers};
use crate::progress::{CancelToken, ProgressEvent, ProgressSink, Tracker, TrainStatus};
use crate::store::{model_version_of, Engine, EngineError, Result};

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
    /// InfoNCE temperature; `None`: the family's ([`super::VIDEOCLIP_TAU`], the paper's 1.0;
    /// [`super::CLIP_TAU`], 0.01, for CLIP's unit vectors).
    pub tau: Option<f64>,
    /// Global gradient-norm clip (the paper: 2.0).
    pub clip_norm: f64,
    /// Train only the video side (videomlp + video transformer). CLIP's text tower is always
    /// frozen.
    pub freeze_text: bool,
    pub sampler: SamplerConfig,
    /// Ablation: give each video another video's captions for training (evaluation keeps the
    /// true ones), so nothing true can be learnt.
    pub shuffle_labels: bool,
    /// How an epoch's batches are formed.
    pub batching: Batching,
    /// Aligned clips per video for the retrieval vectors (the paper: 16).
    pub retrieval_clips: usize,
    /// Evaluate on the held-out captions after every `eval_every` epochs (and after the last).
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (0: only when cancelled).
    pub checkpoint_every: usize,
    /// Continue the unfinished run whose checkpoint is in the output folder.
    pub resume: bool,
}

impl FinetuneOptions {
    /// The batches (steps) of an epoch over `videos` videos: `videos / k` retrieval clusters
    /// (the paper draws `n / k` query videos), else `ceil(videos / k)` random ones; a library
    /// of at most `k` videos is one batch.
    pub fn batches_per_epoch(&self, videos: usize) -> usize {
        let k = self.batch_videos.max(1);
        match self.batching {
            Batching::Retrieval if videos > k => videos / k,
            _ => videos.div_ceil(k),
        }
    }
}

/// How the videos of an epoch are grouped into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Batching {
    /// Clusters of similar videos, re-found at the start of every epoch (§4.4).
    Retrieval,
    /// A random partition (the ablation "w/o retrieval").
    Random,
}

impl std::str::FromStr for Batching {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "retrieval" => Ok(Self::Retrieval),
            "random" => Ok(Self::Random),
            _ => Err(format!("batching is `retrieval` or `random`, not `{s}`")),
        }
    }
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
            tau: None,
            clip_norm: 2.0,
            freeze_text: false,
            sampler: SamplerConfig::default(),
            shuffle_labels: false,
            batching: Batching::Retrieval,
            retrieval_clips: 16,
            eval_every: 1,
            checkpoint_every: 500,
            resume: false,
        }
    }
}

/// Text→video retrieval on the held-out captions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecallMetrics {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub median_rank: f64,
}

/// One epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub mean_loss: f64,
    /// `None` for an epoch that was not evaluated (see [`FinetuneOptions::eval_every`]).
    pub heldout: Option<RecallMetrics>,
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
    /// Of `train_captions`, those read off the screen (videos without subtitles).
    pub screen_captions: usize,
    pub heldout_queries: usize,
    pub steps: usize,
    /// Training pairs seen, and the training throughput (pairs and steps per second of the
    /// training loop, evaluation excluded).
    pub pairs: u64,
    pub pairs_per_s: f64,
    pub steps_per_s: f64,
    pub shuffled_labels: bool,
    pub batching: Batching,
    /// The InfoNCE temperature used.
    pub tau: f64,
    /// The step this run resumed from (0 for a fresh run).
    pub resumed_from_step: usize,
}

/// What a fine-tune would train on, and how long it should take here (see
/// [`Engine::finetune_plan`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FinetunePlan {
    /// Videos with subtitles or on-screen text and cached features, their training captions and
    /// the held-out
    /// queries.
    pub videos: usize,
    pub train_captions: usize,
    /// Of `train_captions`, those read off the screen (videos without subtitles).
    pub screen_captions: usize,
    pub heldout_queries: usize,
    /// Steps in all (batches per epoch × epochs).
    pub steps: usize,
    /// Measured on this machine: seconds per training step, per evaluation and per epoch's
    /// retrieval clustering, and the whole run's estimate.
    pub step_s: f64,
    pub eval_s: f64,
    pub cluster_s: f64,
    pub seconds_estimate: f64,
    /// Where training runs (`cpu` or `gpu`: the model's device).
    pub device: String,
}

/// One video's training material.
pub(super) struct VideoData {
    pub(super) path: String,
    pub(super) feats: Features,
    /// Training captions in time order, with their tokens.
    pub(super) train: Vec<(Span, Vec<u32>)>,
    /// Held-out captions' tokens.
    pub(super) heldout: Vec<Vec<u32>>,
    /// The captions are on-screen text (the video has no subtitles).
    pub(super) from_screen: bool,
}

/// Captions of `videos` read off the screen.
fn screen_captions(videos: &[VideoData]) -> usize {
    videos
        .iter()
        .filter(|v| v.from_screen)
        .map(|v| v.train.len())
        .sum()
}

/// One sampled pair: video `video`'s seconds `[start, end)` and the text's tokens.
pub(super) struct PairRef {
    video: usize,
    start: usize,
    end: usize,
    text: Vec<u32>,
}

impl PairRef {
    /// The pair `pair` of video `vi`, its clip cut to `max_seconds`.
    pub(super) fn new(vi: usize, v: &VideoData, pair: &Pair, max_seconds: usize) -> Self {
        let (s, e) = pair.video;
        let end = e.min(s + max_seconds).max(s + 1).min(v.feats.rows);
        Self {
            video: vi,
            start: s.min(end.saturating_sub(1)),
            end,
            text: v.train[pair.text.clone()]
                .iter()
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect(),
        }
    }
}

impl Engine {
    /// Fine-tunes the active model on this library and writes the best epoch's towers (with
    /// the same S3D-G weights and vocabulary; for CLIP, the same CLIP weights with the trained
    /// temporal tower) to `out_dir` as a new model directory.
    ///
    /// Progress events carry the step, loss, learning rate and throughput
    /// ([`crate::Progress::train`]), and a [`ProgressEvent::Epoch`] after each evaluation.
    /// When `cancel` is set the run stops after its current step, writes a checkpoint and
    /// returns [`EngineError::Cancelled`]; `opts.resume` continues it.
    pub fn finetune(
        &self,
        out_dir: &Path,
        opts: &FinetuneOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<FinetuneReport> {
        let mut run = Run::prepare(self, out_dir, opts, sink)?;
        run.train(out_dir, sink, cancel)?;
        run.finish(out_dir)
    }

    /// What [`Engine::finetune`] would train on with `opts`, and a time estimate measured by
    /// running a few real training steps, one evaluation and one retrieval clustering here
    /// (the weights are not changed).
    pub fn finetune_plan(&self, opts: &FinetuneOptions) -> Result<FinetunePlan> {
        let model = self.trainable_model()?;
        check_options(opts)?;
        let mut rng = SplitMix64::new(opts.seed);
        let videos = self.training_data(model, opts, &mut rng, &crate::NoProgress)?;
        let device = model.device().clone();
        let steps_per_epoch = batches_per_epoch(videos.len(), opts);
        let mut plan = FinetunePlan {
            videos: videos.len(),
            train_captions: videos.iter().map(|v| v.train.len()).sum(),
            screen_captions: screen_captions(&videos),
            heldout_queries: videos.iter().map(|v| v.heldout.len()).sum(),
            steps: steps_per_epoch * opts.epochs,
            step_s: 0.0,
            eval_s: 0.0,
            cluster_s: 0.0,
            seconds_estimate: 0.0,
            device: if device.is_cpu() { "cpu" } else { "gpu" }.into(),
        };
        if videos.len() < 2 {
            return Ok(plan);
        }
        let towers = Towers::load(model, opts.seed)?;
        let tau = opts.tau.unwrap_or_else(|| default_tau(model));
        let t = Instant::now();
        if plan.heldout_queries > 0 {
            evaluate(&towers, &videos)?;
        }
        plan.eval_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let batches = epoch_batches(&towers, &videos, opts, &mut rng)?;
        plan.cluster_s = t.elapsed().as_secs_f64();
        // A forward and backward pass of full batches (the update itself is cheap).
        let trials = batches.len().min(3);
        let t = Instant::now();
        for chunk in batches.iter().take(trials) {
            let batch = make_batch(&videos, chunk, opts, &towers, &mut rng)?;
            let (loss, _) = forward_loss(&towers, &batch, tau)?;
            loss.backward().map_err(candle_err("backward pass"))?;
        }
        plan.step_s = t.elapsed().as_secs_f64() / trials.max(1) as f64;
        let evals = opts.epochs.div_ceil(opts.eval_every.max(1)) + 1;
        let clusters = match opts.batching {
            Batching::Retrieval => opts.epochs,
            Batching::Random => 0,
        };
        plan.seconds_estimate = plan.step_s * plan.steps as f64
            + plan.eval_s * evals as f64
            + plan.cluster_s * clusters as f64;
        Ok(plan)
    }

    /// Ready videos with cached features and text, captions deduplicated and split: the
    /// subtitles, or where a video has none, the text read off its screen.
    fn training_data(
        &self,
        model: &Model,
        opts: &FinetuneOptions,
        rng: &mut SplitMix64,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<VideoData>> {
        let version = model_version_of(model)?;
        let mut out = Vec::new();
        for video in self.videos_with_status(Status::Ready)? {
            let mut cues = self.library().catalogue().cues_of(video.id)?;
            let from_screen = !cues.iter().any(|c| c.origin == CueOrigin::Subtitle);
            if !from_screen {
                cues.retain(|c| c.origin == CueOrigin::Subtitle);
            }
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
                let ids = caption_tokens(model, &c.text)?;
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
                from_screen,
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

fn check_options(opts: &FinetuneOptions) -> Result<()> {
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
    Ok(())
}

/// A fine-tuning run: its data, towers, optimizer and where it stands.
struct Run<'a> {
    opts: FinetuneOptions,
    /// The InfoNCE temperature (the options' or the family's).
    tau: f64,
    videos: Vec<VideoData>,
    towers: Towers<'a>,
    adam: Adam,
    rng: SplitMix64,
    state: State,
    /// The best epoch's weights so far.
    best: Option<HashMap<String, Tensor>>,
    total_steps: usize,
    /// Time spent in training steps (evaluation and clustering excluded) in this process.
    train_s: f64,
    pairs_here: u64,
    steps_here: usize,
}

impl<'a> Run<'a> {
    /// Loads the data and the towers, and the checkpoint when resuming.
    fn prepare(
        engine: &'a Engine,
        out_dir: &Path,
        opts: &FinetuneOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Self> {
        let model = engine.trainable_model()?;
        check_options(opts)?;
        if out_dir.join(vclip_model::model_dir::CONFIG_FILE).exists() {
            return Err(EngineError::Invalid(format!(
                "{} already holds a model; choose a new folder",
                out_dir.display()
            )));
        }
        let unfinished = checkpoint::exists(out_dir);
        if unfinished && !opts.resume {
            return Err(EngineError::Invalid(format!(
                "{} holds an unfinished fine-tune: resume it (--resume) or choose a new folder",
                out_dir.display()
            )));
        }
        if opts.resume && !unfinished {
            return Err(EngineError::Invalid(format!(
                "{} holds no unfinished fine-tune to resume",
                out_dir.display()
            )));
        }
        let mut rng = SplitMix64::new(opts.seed);
        let videos = engine.training_data(model, opts, &mut rng, sink)?;
        if videos.len() < 2 {
            return Err(EngineError::Invalid(format!(
                "fine-tuning needs at least 2 ready videos with subtitles (or text on screen, \
                 `vclip ocr`) and cached features; this library has {}",
                videos.len()
            )));
        }
        let towers = Towers::load(model, opts.seed)?;
        let trained = towers.trained_vars(opts.freeze_text);
        let adam = Adam::new(trained, AdamConfig::default())
            .map_err(candle_err("creating the optimizer"))?;
        let total_steps = batches_per_epoch(videos.len(), opts) * opts.epochs;
        let fingerprint = FinetuneOptions {
            resume: false,
            checkpoint_every: 0,
            ..opts.clone()
        };
        let data = format!(
            "{} videos, {} training captions, {} held out: {:016x}",
            videos.len(),
            videos.iter().map(|v| v.train.len()).sum::<usize>(),
            videos.iter().map(|v| v.heldout.len()).sum::<usize>(),
            fnv1a(videos.iter().flat_map(|v| {
                v.path.bytes().chain(
                    v.train
                        .iter()
                        .flat_map(|(_, ids)| ids.iter().flat_map(|i| i.to_le_bytes())),
                )
            }))
        );
        let mut run = Self {
            opts: opts.clone(),
            tau: opts.tau.unwrap_or_else(|| default_tau(model)),
            videos,
            towers,
            adam,
            rng,
            state: State {
                format: 1,
                base_version: model_version_of(model)?.key(),
                options: format!("{fingerprint:?}"),
                data,
                step: 0,
                epoch: 1,
                batch_in_epoch: 0,
                batches: Vec::new(),
                losses: Vec::new(),
                rng: 0,
                adam_t: 0,
                pairs: 0,
                before: RecallMetrics {
                    r1: 0.0,
                    r5: 0.0,
                    r10: 0.0,
                    median_rank: 0.0,
                },
                epochs: Vec::new(),
                best: None,
                tensors: String::new(),
            },
            best: None,
            total_steps,
            train_s: 0.0,
            pairs_here: 0,
            steps_here: 0,
        };
        if opts.resume {
            run.restore(out_dir)?;
        } else {
            run.state.before = evaluate(&run.towers, &run.videos)?;
        }
        sink.emit(ProgressEvent::Epoch {
            epoch: 0,
            mean_loss: None,
            heldout: run.state.before,
        });
        Ok(run)
    }

    /// Loads the checkpoint of `out_dir` into this run, after checking that it is the same run.
    fn restore(&mut self, out_dir: &Path) -> Result<()> {
        let (saved, tensors) = checkpoint::load(out_dir)?;
        let dir = checkpoint::dir_of(out_dir);
        for (what, theirs, ours) in [
            ("base model", &saved.base_version, &self.state.base_version),
            ("options", &saved.options, &self.state.options),
            ("training data", &saved.data, &self.state.data),
        ] {
            if theirs != ours {
                return Err(EngineError::Invalid(format!(
                    "the unfinished fine-tune in {} was started with other {what} \
                     ({theirs}; now {ours}): it cannot be resumed, choose a new folder",
                    dir.display()
                )));
            }
        }
        let device = self.towers.device().clone();
        let get = |name: String| {
            let t = tensors.get(&name).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "fine-tune checkpoint {}: {name} is missing",
                    dir.display()
                ))
            })?;
            t.to_device(&device)
                .map_err(candle_err("moving the checkpoint to the device"))
        };
        for (name, var) in self.towers.vars() {
            var.set(&get(format!("w.{name}"))?)
                .map_err(candle_err("restoring the checkpoint"))?;
        }
        for slot in &mut self.adam.slots {
            slot.m = get(format!("m.{}", slot.name))?;
            slot.v = get(format!("v.{}", slot.name))?;
        }
        self.adam.t = saved.adam_t;
        if saved.best.is_some() {
            let mut best = HashMap::new();
            for (name, _) in self.towers.vars() {
                best.insert(name.clone(), get(format!("best.{name}"))?);
            }
            self.best = Some(best);
        }
        self.rng = SplitMix64::new(saved.rng);
        self.state = saved;
        Ok(())
    }

    fn save_checkpoint(&mut self, out_dir: &Path) -> Result<()> {
        let mut tensors = HashMap::new();
        for (name, var) in self.towers.vars() {
            tensors.insert(format!("w.{name}"), var.as_tensor().clone());
        }
        for slot in &self.adam.slots {
            tensors.insert(format!("m.{}", slot.name), slot.m.clone());
            tensors.insert(format!("v.{}", slot.name), slot.v.clone());
        }
        if let Some(best) = &self.best {
            for (name, t) in best {
                tensors.insert(format!("best.{name}"), t.clone());
            }
        }
        self.state.rng = self.rng.state();
        self.state.adam_t = self.adam.t;
        checkpoint::save(out_dir, self.state.clone(), &tensors)
    }

    /// Runs the remaining steps and evaluations.
    fn train(
        &mut self,
        out_dir: &Path,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let opts = self.opts.clone();
        let mut tracker = Tracker::new(
            "finetune",
            "steps",
            Some(self.total_steps.saturating_sub(self.state.step) as u64),
        );
        tracker.start(sink);
        while self.state.epoch <= opts.epochs {
            let epoch = self.state.epoch;
            if self.state.batches.is_empty() {
                self.state.batches =
                    epoch_batches(&self.towers, &self.videos, &opts, &mut self.rng)?;
                self.state.batch_in_epoch = 0;
            }
            while self.state.batch_in_epoch < self.state.batches.len() {
                if cancel.is_cancelled() {
                    self.save_checkpoint(out_dir)?;
                    tracker.cancelled(sink);
                    return Err(EngineError::Cancelled);
                }
                let started = Instant::now();
                let step = self.state.step;
                let lr = schedule(opts.lr, step, opts.warmup_steps, self.total_steps);
                let chunk = self.state.batches[self.state.batch_in_epoch].clone();
                let batch = make_batch(&self.videos, &chunk, &opts, &self.towers, &mut self.rng)?;
                let (loss, value) = forward_loss(&self.towers, &batch, self.tau)?;
                if !value.is_finite() {
                    return Err(EngineError::Invalid(format!(
                        "the loss diverged ({value}) at step {step}: lower the learning rate"
                    )));
                }
                let mut grads = loss.backward().map_err(candle_err("backward pass"))?;
                let vars: Vec<Var> = self.adam.slots.iter().map(|s| s.var.clone()).collect();
                clip_gradients(&mut grads, &vars, opts.clip_norm)?;
                self.adam
                    .step(&grads, lr)
                    .map_err(candle_err("optimizer step"))?;
                self.train_s += started.elapsed().as_secs_f64();
                self.pairs_here += batch.pairs as u64;
                self.steps_here += 1;
                self.state.pairs += batch.pairs as u64;
                self.state.losses.push(value);
                self.state.step += 1;
                self.state.batch_in_epoch += 1;
                tracker.set_current(Some(format!(
                    "epoch {epoch}/{}, loss {value:.4}, lr {lr:.2e}",
                    opts.epochs
                )));
                tracker.set_train(Some(TrainStatus {
                    epoch: epoch as u64,
                    epochs: opts.epochs as u64,
                    loss: value,
                    lr,
                    pairs_per_s: self.pairs_here as f64 / tracker.elapsed_s().max(1e-9),
                }));
                tracker.advance(1, sink);
                if opts.checkpoint_every > 0
                    && self.state.step.is_multiple_of(opts.checkpoint_every)
                {
                    self.save_checkpoint(out_dir)?;
                }
            }
            let losses = std::mem::take(&mut self.state.losses);
            let mean_loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
            let evaluate_now = epoch.is_multiple_of(opts.eval_every.max(1)) || epoch == opts.epochs;
            let heldout = if evaluate_now {
                Some(evaluate(&self.towers, &self.videos)?)
            } else {
                None
            };
            self.state.epochs.push(EpochReport {
                epoch,
                mean_loss,
                heldout,
            });
            if let Some(m) = heldout {
                sink.emit(ProgressEvent::Epoch {
                    epoch: epoch as u64,
                    mean_loss: Some(mean_loss),
                    heldout: m,
                });
                let better = self.state.best.as_ref().is_none_or(|(_, b)| {
                    m.r1 > b.r1 || (m.r1 == b.r1 && m.median_rank < b.median_rank)
                });
                if better {
                    self.state.best = Some((epoch, m));
                    self.best = Some(self.towers.snapshot()?);
                }
            }
            self.state.epoch += 1;
            self.state.batches.clear();
            self.state.batch_in_epoch = 0;
        }
        tracker.finish(sink);
        Ok(())
    }

    /// Writes the best epoch as a new model and removes the checkpoint.
    fn finish(self, out_dir: &Path) -> Result<FinetuneReport> {
        let (Some((best_epoch, after)), Some(tensors)) = (self.state.best, &self.best) else {
            return Err(EngineError::Invalid("no epoch was evaluated".into()));
        };
        let version = self.towers.write(out_dir, tensors, best_epoch)?;
        checkpoint::remove(out_dir)?;
        let resumed_from_step = self.state.step - self.steps_here;
        Ok(FinetuneReport {
            before: self.state.before,
            after,
            best_epoch,
            model_dir: out_dir.to_path_buf(),
            model_version: version.key(),
            videos: self.videos.len(),
            train_captions: self.videos.iter().map(|v| v.train.len()).sum(),
            screen_captions: screen_captions(&self.videos),
            heldout_queries: self.videos.iter().map(|v| v.heldout.len()).sum(),
            steps: self.state.step,
            pairs: self.state.pairs,
            pairs_per_s: self.pairs_here as f64 / self.train_s.max(1e-9),
            steps_per_s: self.steps_here as f64 / self.train_s.max(1e-9),
            shuffled_labels: self.opts.shuffle_labels,
            batching: self.opts.batching,
            tau: self.tau,
            resumed_from_step,
            epochs: self.state.epochs,
        })
    }
}

/// Fisher–Yates.
pub(super) fn shuffle<T>(v: &mut [T], rng: &mut SplitMix64) {
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
pub(super) fn clip_gradients(
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

/// Hashes bytes (FNV-1a, 64-bit): a fingerprint of the training data for resuming.
fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How many batches an epoch of `n` videos has (see [`FinetuneOptions::batches_per_epoch`]).
fn batches_per_epoch(n: usize, opts: &FinetuneOptions) -> usize {
    opts.batches_per_epoch(n)
}

/// An epoch's batches of video indices.
fn epoch_batches(
    towers: &Towers<'_>,
    videos: &[VideoData],
    opts: &FinetuneOptions,
    rng: &mut SplitMix64,
) -> Result<Vec<Vec<usize>>> {
    match opts.batching {
        Batching::Retrieval if videos.len() > opts.batch_videos => {
            let vectors =
                retrieval::video_vectors(towers, videos, opts.retrieval_clips, &opts.sampler, rng)?;
            retrieval::clusters(&vectors, opts.batch_videos, rng)
        }
        _ => {
            let mut order: Vec<usize> = (0..videos.len()).collect();
            shuffle(&mut order, rng);
            Ok(order
                .chunks(opts.batch_videos)
                .map(<[usize]>::to_vec)
                .collect())
        }
    }
}

/// The symmetric InfoNCE loss of a batch, and its value.
fn forward_loss(towers: &Towers<'_>, batch: &Batch, tau: f64) -> Result<(Tensor, f64)> {
    let v = towers.embed_video(&batch.feats, &batch.vmask)?;
    let t = towers.embed_texts(&batch.texts)?;
    let loss = symmetric_info_nce(&v, &t, tau).map_err(model_err("loss"))?;
    let value = f64::from(
        loss.to_scalar::<f32>()
            .map_err(candle_err("reading the loss"))?,
    );
    Ok((loss, value))
}

/// A batch of pairs: the video clips padded to the longest with their mask, and each pair's
/// text (content tokens).
pub(super) struct Batch {
    pub(super) feats: Tensor,
    pub(super) vmask: Tensor,
    pub(super) texts: Vec<Vec<u32>>,
    pub(super) pairs: usize,
}

/// `pairs_per_video` overlapped pairs from each of `chosen`.
fn make_batch(
    videos: &[VideoData],
    chosen: &[usize],
    opts: &FinetuneOptions,
    towers: &Towers<'_>,
    rng: &mut SplitMix64,
) -> Result<Batch> {
    let mut pairs = Vec::new();
    for &i in chosen {
        let v = &videos[i];
        let spans: Vec<Span> = v.train.iter().map(|(s, _)| *s).collect();
        for _ in 0..opts.pairs_per_video {
            if let Some(pair) = sample(&spans, v.feats.rows, &opts.sampler, rng) {
                pairs.push(PairRef::new(i, v, &pair, towers.max_seconds()));
            }
        }
    }
    if pairs.len() < 2 {
        return Err(EngineError::Invalid(
            "a batch needs at least two pairs: the videos have too few captions".into(),
        ));
    }
    let refs: Vec<&PairRef> = pairs.iter().collect();
    pairs_batch(videos, &refs, towers)
}

/// Lays out pairs as the towers' inputs: features padded to the longest clip, with masks.
pub(super) fn pairs_batch(
    videos: &[VideoData],
    pairs: &[&PairRef],
    towers: &Towers<'_>,
) -> Result<Batch> {
    let spans: Vec<(usize, usize, usize)> =
        pairs.iter().map(|p| (p.video, p.start, p.end)).collect();
    let (feats, vmask) = video_batch(videos, &spans, towers)?;
    Ok(Batch {
        feats,
        vmask,
        texts: pairs.iter().map(|p| p.text.clone()).collect(),
        pairs: pairs.len(),
    })
}

/// Feature rows `[start, end)` of videos, padded to the longest, and the mask.
fn video_batch(
    videos: &[VideoData],
    spans: &[(usize, usize, usize)],
    towers: &Towers<'_>,
) -> Result<(Tensor, Tensor)> {
    let err = candle_err("building a batch");
    let device = towers.device();
    let dim = towers.feature_dim();
    let l = spans
        .iter()
        .map(|(_, s, e)| e - s)
        .max()
        .unwrap_or(1)
        .max(1);
    let b = spans.len();
    let mut feats = vec![0f32; b * l * dim];
    let mut mask = vec![0u8; b * l];
    for (k, &(vi, s, e)) in spans.iter().enumerate() {
        let v = &videos[vi];
        for (j, row) in (s..e).enumerate() {
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
    Ok((
        Tensor::from_vec(feats, (b, l, dim), device).map_err(&err)?,
        Tensor::from_vec(mask, (b, l), device).map_err(&err)?,
    ))
}

/// Held-out captions against every video's best window (32-second windows every 16 s, as
/// search sees them).
fn evaluate(towers: &Towers<'_>, videos: &[VideoData]) -> Result<RecallMetrics> {
    let err = candle_err("evaluating");
    let device = towers.device();
    let mut spans = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        for (s, e) in vclip_model::window_spans(v.feats.rows, 32.min(towers.max_seconds()), 16) {
            spans.push((vi, s, e));
        }
    }
    let mut windows: Vec<(usize, Vec<f32>)> = Vec::with_capacity(spans.len());
    for chunk in spans.chunks(64) {
        let (feats, mask) = video_batch(videos, chunk, towers)?;
        let pooled = towers
            .embed_video(&feats, &mask)?
            .detach()
            .to_vec2::<f32>()
            .map_err(&err)?;
        windows.extend(chunk.iter().map(|(vi, _, _)| *vi).zip(pooled));
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
        let t = towers
            .embed_texts(&owned)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

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
