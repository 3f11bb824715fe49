//! What the fine-tune tests of both families share (`#[path]` module of `finetune.rs` and
//! `finetune_clip.rs`): the small library and run, cancelling a run, its progress events, and
//! the comparison of two runs' weights.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vclip_engine::finetune::{FinetuneOptions, FinetunePlan, FinetuneReport};
use vclip_engine::{CancelToken, Engine, EngineError, NoProgress, ProgressEvent, TrainStatus};
use vclip_model::Device;

/// The colours of [`colour_videos`], in order.
pub const COLOURS: [&str; 6] = ["red", "green", "blue", "yellow", "white", "purple"];

/// `dir/videos`: six 6-second videos in distinct colours ([`COLOURS`]) whose four cues name the
/// colour.
pub fn colour_videos(dir: &Path) -> PathBuf {
    let videos = dir.join("videos");
    for c in COLOURS {
        let cue = |k: u32| {
            (
                f64::from(k + 1),
                f64::from(k) + 2.4,
                format!("the {c} one, part {k}"),
            )
        };
        let srt = vclip_testkit::srt(&(0..4).map(cue).collect::<Vec<_>>());
        vclip_testkit::lavfi_srt(
            &videos,
            &format!("{c}.mp4"),
            &format!("color=c={c}:size=96x64:rate=10"),
            6,
            &srt,
        );
    }
    videos
}

/// The plan of [`options`] on the [`colour_videos`] library: every video, one held-out cue
/// each, three training captions each, 9 steps, and a positive time estimate.
pub fn assert_small_plan(plan: &FinetunePlan) {
    assert_eq!(plan.videos, COLOURS.len());
    assert_eq!(plan.heldout_queries, COLOURS.len(), "{plan:?}");
    assert_eq!(plan.train_captions, 3 * COLOURS.len(), "{plan:?}");
    assert_eq!(plan.steps, 9);
    assert!(
        plan.step_s > 0.0 && plan.seconds_estimate > plan.step_s,
        "{plan:?}"
    );
}

/// The first progress event after a training step (never throttled): mid-epoch 1.
pub fn after_the_first_step(e: &ProgressEvent) -> bool {
    matches!(e, ProgressEvent::Progress(p) if p.done >= 1)
}

/// The end of epoch 2 (step 6 of [`options`], an epoch boundary).
pub fn at_epoch_2(e: &ProgressEvent) -> bool {
    matches!(e, ProgressEvent::Epoch { epoch: 2, .. })
}

/// Runs `opts` into `out` with no progress and no cancel.
#[allow(clippy::result_large_err)] // the engine's own error type
pub fn run(
    engine: &Engine,
    out: &Path,
    opts: &FinetuneOptions,
) -> Result<FinetuneReport, EngineError> {
    engine.finetune(out, opts, &NoProgress, &CancelToken::new())
}

/// The uninterrupted run of `opts` into `dir/whole`, which takes 9 steps (`what` says why):
/// its folder and report.
pub fn uninterrupted(
    engine: &Engine,
    dir: &Path,
    opts: &FinetuneOptions,
    what: &str,
) -> (PathBuf, FinetuneReport) {
    let whole_dir = dir.join("whole");
    let whole = run(engine, &whole_dir, opts).expect("uninterrupted run");
    assert_eq!(whole.steps, 9, "{what}: {whole:?}");
    (whole_dir, whole)
}

/// Runs `opts` into `out`, cancelled at the first event `stop` picks: the run ends as
/// cancelled.
pub fn cancel_at(
    engine: &Engine,
    out: &Path,
    opts: &FinetuneOptions,
    stop: fn(&ProgressEvent) -> bool,
) {
    let cancel = CancelToken::new();
    let flag = cancel.clone();
    let sink = move |e: ProgressEvent| {
        if stop(&e) {
            flag.cancel();
        }
    };
    let err = engine
        .finetune(out, opts, &sink, &cancel)
        .expect_err("cancelled");
    assert!(matches!(err, EngineError::Cancelled), "{err}");
}

/// Runs `opts` (3 epochs, evaluated every 2nd) into `out` and returns its report and progress
/// events, whose `Epoch` events came before training (epoch 0), at epoch 2 and at the last.
pub fn run_with_events(
    engine: &Engine,
    out: &Path,
    opts: &FinetuneOptions,
) -> (FinetuneReport, Vec<ProgressEvent>) {
    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    let report = engine
        .finetune(out, opts, &sink, &CancelToken::new())
        .expect("finetune");
    let events = events.into_inner().expect("lock");
    let epochs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Epoch { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, [0, 2, 3], "before, every 2nd epoch and the last");
    (report, events)
}

/// The training status the `Finished` event carries.
pub fn trained(events: &[ProgressEvent]) -> Option<TrainStatus> {
    events.iter().find_map(|e| match e {
        ProgressEvent::Finished(p) => p.train,
        _ => None,
    })
}

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
