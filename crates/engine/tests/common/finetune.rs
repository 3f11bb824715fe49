//! What the fine-tune tests of both families share (`#[path]` module of `finetune.rs` and
//! `finetune_clip.rs`): the small run's options and the comparison of two runs' weights.
#![allow(dead_code)]

use std::path::Path;

use vclip_engine::finetune::FinetuneOptions;
use vclip_model::Device;

/// A short run on a small library: 3 epochs of 2 videos × 2 pairs, retrieval batches from 4
/// clips per video, a checkpoint every 2 steps.
pub fn options() -> FinetuneOptions {
    FinetuneOptions {
        epochs: 3,
        batch_videos: 2,
        pairs_per_video: 2,
        holdout: 0.25,
        seed: 5,
        lr: 1e-3,
        warmup_steps: 2,
        retrieval_clips: 4,
        checkpoint_every: 2,
        ..FinetuneOptions::default()
    }
}

/// Every tensor of a safetensors file, as f32 values, sorted by name.
pub fn weights(file: &Path) -> Vec<(String, Vec<f32>)> {
    let t = candle_core::safetensors::load(file, &Device::Cpu).expect("load weights");
    let mut v: Vec<_> = t
        .into_iter()
        .map(|(n, t)| {
            let data = t
                .flatten_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .expect("values");
            (n, data)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The largest difference between the same tensors of two safetensors files (which must hold
/// the same names).
pub fn max_weight_diff(a: &Path, b: &Path) -> f32 {
    let (ta, tb) = (weights(a), weights(b));
    assert_eq!(ta.len(), tb.len());
    let mut worst = 0f32;
    for ((na, va), (nb, vb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        for (x, y) in va.iter().zip(vb) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}
