//! `vclip finetune`: train the active model on this library's videos and subtitles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vclip_engine::finetune::sampler::{Overlap, SamplerConfig};
use vclip_engine::finetune::{Batching, FinetuneOptions, RecallMetrics};

use super::library::{ctrl_c_token, LibraryArgs};
use super::print_json;
use crate::progress::Bar;

/// `vclip finetune`'s options (defaults: the paper's recipe, `docs/model-notes.md` §4).
#[derive(Debug, Clone, clap::Args)]
pub struct FinetuneArgs {
    /// Folder for the new model (default: `<model>-ft-<unix time>` beside the active model;
    /// with --resume, the newest such folder holding an unfinished run).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue an unfinished (cancelled or crashed) run from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Write a checkpoint every N steps (0: only when cancelled).
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub checkpoint_every: usize,
    /// Batches of similar videos found by retrieval each epoch (the paper's §3.4), or random
    /// ones (the ablation).
    #[arg(long, default_value = "retrieval", value_name = "retrieval|random")]
    pub batching: Batching,
    /// Aligned clips per video for the retrieval vectors.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub retrieval_clips: usize,
    /// Video clips overlapping their text (the paper) or exactly aligned to it (the ablation).
    #[arg(long, default_value = "overlapped", value_name = "overlapped|aligned")]
    pub pairs: Overlap,
    /// The sampler's text budget in tokens, `MIN-MAX` (the paper: 8-64): captions are joined
    /// around a random one until the budget is reached.
    #[arg(long, default_value = "8-64", value_parser = range, value_name = "MIN-MAX")]
    pub text_tokens: (usize, usize),
    /// The sampler's video clip length in seconds, `MIN-MAX` (the paper: 3-32).
    #[arg(long, default_value = "3-32", value_parser = range, value_name = "MIN-MAX")]
    pub video_seconds: (usize, usize),
    /// Evaluate held-out recall every N epochs (and after the last).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub eval_every: usize,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Videos per batch (the paper's k).
    #[arg(long, default_value_t = 32)]
    pub batch_videos: usize,
    /// Overlapped pairs drawn per video in a batch.
    #[arg(long, default_value_t = 16)]
    pub pairs_per_video: usize,
    /// Fraction of each video's captions held out to measure text→video recall.
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Peak learning rate (warm-up, then linear decay).
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 100)]
    pub warmup_steps: usize,
    /// InfoNCE temperature (default: the model family's, 1.0 for VideoCLIP as in the paper,
    /// 0.01 for CLIP, whose embeddings are unit vectors).
    #[arg(long, value_name = "T")]
    pub tau: Option<f64>,
    /// Train only the video side (CLIP: the text tower is always frozen).
    #[arg(long)]
    pub freeze_text: bool,
    /// Ablation: train on other videos' captions (held-out recall should stay at chance).
    #[arg(long)]
    pub shuffle_labels: bool,
    /// Do not re-embed the library with the new model afterwards.
    #[arg(long)]
    pub no_reindex: bool,
    #[arg(long)]
    pub json: bool,
}

/// `MIN-MAX` with 1 <= MIN <= MAX.
fn range(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, not `{s}`"))?;
    let parse = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|e| format!("`{x}` in `{s}`: {e}"))
    };
    let (lo, hi) = (parse(a)?, parse(b)?);
    if lo == 0 || lo > hi {
        return Err(format!("expected 1 <= MIN <= MAX, not `{s}`"));
    }
    Ok((lo, hi))
}

fn metrics_line(m: &RecallMetrics) -> String {
    format!(
        "R@1 {:.3}  R@5 {:.3}  R@10 {:.3}  median rank {}",
        m.r1, m.r5, m.r10, m.median_rank
    )
}

pub fn finetune(args: &LibraryArgs, a: &FinetuneArgs) -> anyhow::Result<ExitCode> {
    let engine = args.open(true)?;
    let base = engine
        .model()
        .map(|m| m.dir().to_path_buf())
        .context("no model is active")?;
    let out = match &a.out {
        Some(d) => d.clone(),
        None if a.resume => vclip_engine::finetune::unfinished_beside(&base)
            .with_context(|| format!("looking beside {}", base.display()))?
            .with_context(|| {
                format!(
                    "no unfinished fine-tune beside {} to resume: name it with --out",
                    base.display()
                )
            })?,
        None => vclip_engine::finetune::output_dir(&base),
    };
    let opts = FinetuneOptions {
        epochs: a.epochs,
        batch_videos: a.batch_videos,
        pairs_per_video: a.pairs_per_video,
        holdout: a.holdout,
        seed: a.seed,
        lr: a.lr,
        warmup_steps: a.warmup_steps,
        tau: a.tau,
        freeze_text: a.freeze_text,
        shuffle_labels: a.shuffle_labels,
        batching: a.batching,
        retrieval_clips: a.retrieval_clips,
        eval_every: a.eval_every,
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        sampler: SamplerConfig {
            overlap: a.pairs,
            text_tokens: a.text_tokens,
            video_seconds: a.video_seconds,
            ..SamplerConfig::default()
        },
        ..FinetuneOptions::default()
    };
    let cancel = ctrl_c_token();
    let report = match engine.finetune(&out, &opts, &Bar::new(), &cancel) {
        Err(vclip_engine::EngineError::Cancelled) => {
            eprintln!(
                "cancelled; the run is saved in {}: continue it with \
                 `vclip finetune --resume --out {}` and the same options",
                out.display(),
                out.display()
            );
            return Ok(ExitCode::from(130));
        }
        r => r?,
    };

    // A new model version of this library (its parent the base, with the run's metrics),
    // active once the library is embedded with it; `vclip models rollback` goes back.
    let (root, metrics) = (args.library_dir()?, Some((&report).into()));
    vclip_engine::versions::record_finetune(&root, &base, &out, metrics, false)?;
    // Re-embed the library's windows with the new towers (from the feature cache), then
    // switch to them.
    let reindex = if a.no_reindex {
        None
    } else {
        drop(engine);
        let mut with_new = args.clone();
        with_new.model = Some(out.clone());
        let engine = with_new.open(true)?;
        let switch = engine.switch_to_its_model(&Bar::new(), &cancel)?;
        Some(switch.reindex.unwrap_or_default())
    };
    if a.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(r), Some(obj)) = (&reindex, value.as_object_mut()) {
            obj.insert("reindex".into(), serde_json::to_value(r)?);
        }
        print_json(&value)?;
    } else {
        println!("before   {}", metrics_line(&report.before));
        for e in &report.epochs {
            let heldout = e.heldout.as_ref().map_or_else(String::new, metrics_line);
            println!("epoch {:>2} loss {:.4}  {heldout}", e.epoch, e.mean_loss);
        }
        println!(
            "trained {} steps ({} pairs) at {:.2} steps/s, {:.1} pairs/s",
            report.steps, report.pairs, report.steps_per_s, report.pairs_per_s
        );
        if report.screen_captions > 0 {
            println!(
                "{} of {} training captions are text read off the screen (videos without \
                 subtitles)",
                report.screen_captions, report.train_captions
            );
        }
        println!(
            "after    {}  (epoch {}, {} held-out captions over {} videos)",
            metrics_line(&report.after),
            report.best_epoch,
            report.heldout_queries,
            report.videos
        );
        let state = if reindex.is_some() {
            "now the library's active model (`vclip models rollback` goes back)"
        } else {
            "not re-embedded yet: `vclip models use` switches to it"
        };
        println!(
            "new model {} in {}: {state}",
            report.model_version,
            report.model_dir.display(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
