//! `vclip finetune`: train the active model on this library's videos and subtitles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vclip_engine::finetune::{FinetuneOptions, RecallMetrics};

use super::library::{ctrl_c_token, LibraryArgs};
use super::print_json;
use crate::progress::Bar;

/// `vclip finetune`'s options (defaults: the paper's recipe, `VIDEOCLIP.md` §4).
#[derive(Debug, Clone, clap::Args)]
pub struct FinetuneArgs {
    /// Folder for the new model (default: `<model>-ft-<unix time>` beside the active model).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
    /// InfoNCE temperature.
    #[arg(long, default_value_t = 1.0)]
    pub tau: f64,
    /// Train only the video side.
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
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let name = base
                .file_name()
                .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
            base.with_file_name(format!("{name}-ft-{secs}"))
        }
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
        ..FinetuneOptions::default()
    };
    let cancel = ctrl_c_token();
    let report = engine.finetune(&out, &opts, &Bar::new(), &cancel)?;

    // Re-embed the library's windows with the new towers (from the feature cache).
    let reindex = if a.no_reindex {
        None
    } else {
        drop(engine);
        let mut with_new = args.clone();
        with_new.model = Some(out.clone());
        let engine = with_new.open(true)?;
        Some(engine.reindex(&Bar::new(), &cancel)?)
    };
    // A new model version of this library (its parent the base), active once the library is
    // embedded with it; `vclip models rollback` goes back.
    let (root, metrics) = (args.library_dir()?, Some((&report).into()));
    vclip_engine::versions::record_finetune(&root, &base, &out, metrics, reindex.is_some())?;
    if a.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(r), Some(obj)) = (&reindex, value.as_object_mut()) {
            obj.insert("reindex".into(), serde_json::to_value(r)?);
        }
        print_json(&value)?;
    } else {
        println!("before   {}", metrics_line(&report.before));
        for e in &report.epochs {
            println!(
                "epoch {:>2} loss {:.4}  {}",
                e.epoch,
                e.mean_loss,
                metrics_line(&e.heldout)
            );
        }
        println!(
            "after    {}  (epoch {}, {} held-out captions over {} videos)",
            metrics_line(&report.after),
            report.best_epoch,
            report.heldout_queries,
            report.videos
        );
        println!(
            "new model {} in {}; use it with --model {}",
            report.model_version,
            report.model_dir.display(),
            report.model_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
