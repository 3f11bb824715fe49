//! `vclip bench finetune`: training steps/s and pairs/s of the fine-tuning step (both towers,
//! loss, backward, Adam) on a fixed random batch; the step itself is the engine's
//! ([`vclip_engine::finetune::bench`]).

use std::path::Path;

use anyhow::Context;
pub use vclip_engine::finetune::bench::{TrainBench, TrainBenchOptions};
use vclip_model::Device;

/// Times the fine-tuning step of `model` on `device`, or of a random-weight VideoCLIP model of
/// `preset` made in a temporary folder (speed does not depend on the weights).
pub fn finetune(
    model: Option<&Path>,
    preset: &str,
    opts: &TrainBenchOptions,
    device: &Device,
) -> anyhow::Result<TrainBench> {
    let tmp;
    let dir = match model {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().context("temporary folder for the random model")?;
            let preset: vclip_model::Preset = preset.parse()?;
            vclip_model::init_random(preset, 0, tmp.path(), None)?;
            tmp.path()
        }
    };
    Ok(vclip_engine::finetune::bench::bench_train_step(
        dir, opts, device,
    )?)
}
