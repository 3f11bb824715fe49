//! `vclip bench finetune`: training steps per second and pairs per second of the fine-tuning
//! step (forward through both towers, symmetric InfoNCE, backward, gradient clipping, Adam) on a
//! fixed random batch, the same step `Engine::finetune` runs. `tools/train_step_bench.py` times
//! PyTorch eager on the same model and batch shape, for the ratio.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use serde::Serialize;
use vclip_model::train::{symmetric_info_nce, TrainableTowers};
use vclip_model::{text_batch, ModelConfig, VideoMode};

use super::adam::{Adam, AdamConfig};
use super::rng::SplitMix64;
use super::train::clip_gradients;
use crate::store::{EngineError, Result};

/// The batch and how many steps to time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainBenchOptions {
    /// Pairs per step (the paper: 32 videos x 16 pairs = 512).
    pub pairs: usize,
    /// Seconds of features per video clip and tokens per text (without `[CLS]`/`[SEP]`).
    pub video_seconds: usize,
    pub text_tokens: usize,
    pub warmup: usize,
    pub steps: usize,
    pub freeze_text: bool,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainBench {
    pub device: String,
    pub pairs: usize,
    pub video_seconds: usize,
    pub text_tokens: usize,
    pub trained_parameters: usize,
    pub steps: usize,
    /// Median and mean seconds per step, and the rates from the median.
    pub median_step_s: f64,
    pub mean_step_s: f64,
    pub steps_per_s: f64,
    pub pairs_per_s: f64,
    /// The loss of the first and last timed step (it should fall: the batch is fixed).
    pub first_loss: f64,
    pub last_loss: f64,
}

fn err(e: candle_core::Error) -> EngineError {
    EngineError::Model {
        context: "fine-tune benchmark".into(),
        source: e.into(),
    }
}

/// Times the training step of the model in `model_dir` on `device`.
pub fn bench_train_step(
    model_dir: &Path,
    opts: &TrainBenchOptions,
    device: &Device,
) -> Result<TrainBench> {
    let config = ModelConfig::load(&model_dir.join(vclip_model::model_dir::CONFIG_FILE)).map_err(
        |source| EngineError::Model {
            context: "reading the model's config".into(),
            source,
        },
    )?;
    let vc = &config.videoclip;
    let towers = TrainableTowers::load(
        &model_dir.join(vclip_model::model_dir::VIDEOCLIP_FILE),
        vc,
        device,
        DType::F32,
    )
    .map_err(|source| EngineError::Model {
        context: "loading the towers".into(),
        source,
    })?;
    let trained: Vec<(String, Var)> = towers
        .vars
        .iter()
        .filter(|(n, _)| !(opts.freeze_text && n.starts_with("text_encoder.")))
        .cloned()
        .collect();
    let trained_parameters = trained.iter().map(|(_, v)| v.elem_count()).sum();
    let vars: Vec<Var> = trained.iter().map(|(_, v)| v.clone()).collect();
    let mut adam = Adam::new(trained, AdamConfig::default()).map_err(err)?;

    // A fixed batch: random unit features, random token ids above the special tokens.
    let b = opts.pairs.max(2);
    let l = opts.video_seconds.clamp(1, vc.max_video_len);
    let t = opts
        .text_tokens
        .clamp(1, vc.max_text_len.saturating_sub(2).max(1));
    let mut rng = SplitMix64::new(1);
    let feats: Vec<f32> = (0..b * l * vc.video_feature_dim)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect();
    let feats = Tensor::from_vec(feats, (b, l, vc.video_feature_dim), device).map_err(err)?;
    let feats = vclip_model::l2_normalize(&feats).map_err(|source| EngineError::Model {
        context: "normalising".into(),
        source,
    })?;
    let vmask = Tensor::ones((b, l), DType::U8, device).map_err(err)?;
    let texts: Vec<Vec<u32>> = (0..b)
        .map(|_| {
            (0..t)
                .map(|_| rng.range(1000.min(vc.vocab_size / 2), vc.vocab_size - 1) as u32)
                .collect()
        })
        .collect();
    let (ids, tmask) = text_batch(&texts, vc.max_text_len, false, device).map_err(|source| {
        EngineError::Model {
            context: "laying out the texts".into(),
            source,
        }
    })?;

    let model_err = |source| EngineError::Model {
        context: "training step".into(),
        source,
    };
    let mut times = Vec::with_capacity(opts.steps);
    let mut losses = Vec::with_capacity(opts.steps);
    for i in 0..opts.warmup + opts.steps.max(1) {
        let start = Instant::now();
        let v = towers
            .video
            .forward(&feats, &vmask, VideoMode::Retrieval)
            .map_err(model_err)?
            .pooled;
        let tx = towers.text.forward(&ids, &tmask).map_err(model_err)?.pooled;
        let loss = symmetric_info_nce(&v, &tx, 1.0).map_err(model_err)?;
        let mut grads = loss.backward().map_err(err)?;
        clip_gradients(&mut grads, &vars, 2.0)?;
        adam.step(&grads, 1e-5).map_err(err)?;
        // Reading the loss waits for the device (a GPU runs asynchronously).
        let value = f64::from(loss.to_scalar::<f32>().map_err(err)?);
        if i >= opts.warmup {
            times.push(start.elapsed().as_secs_f64());
            losses.push(value);
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    Ok(TrainBench {
        device: if device.is_cpu() { "cpu" } else { "gpu" }.into(),
        pairs: b,
        video_seconds: l,
        text_tokens: t,
        trained_parameters,
        steps: times.len(),
        median_step_s: median,
        mean_step_s: mean,
        steps_per_s: 1.0 / median,
        pairs_per_s: b as f64 / median,
        first_loss: losses.first().copied().unwrap_or(f64::NAN),
        last_loss: losses.last().copied().unwrap_or(f64::NAN),
    })
}
