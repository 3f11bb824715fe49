//! Fine-tuning through the engine's API on generated videos with subtitles and a tiny
//! random-weight model: checkpoints, cancel and resume, retrieval-augmented batches, the
//! plan's estimate, and progress events.
#![cfg(feature = "media")]

#[path = "common/finetune.rs"]
mod finetune_support;
#[path = "../../media/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vclip_engine::finetune::{Batching, FinetuneOptions, FinetuneReport};
use vclip_engine::{CancelToken, Engine, EngineError, ImportOptions, NoProgress, ProgressEvent};
use vclip_model::{init_random, Device, Preset, VClipModel};

use finetune_support::{max_weight_diff, options};
use support::ffmpeg;

const COLOURS: [&str; 6] = ["red", "green", "blue", "yellow", "white", "purple"];

/// Six 6-second videos in distinct colours whose four cues name the colour.
fn library(dir: &Path) -> Engine {
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos).expect("mkdir");
    for c in COLOURS {
        let path = videos.join(format!("{c}.mp4"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("color=c={c}:size=96x64:rate=10"),
            "-t",
            "6",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            path.to_str().expect("utf-8"),
        ]);
        let srt: String = (0..4)
            .map(|k| {
                format!(
                    "{}\n00:00:0{},000 --> 00:00:0{},400\nthe {c} one, part {k}\n\n",
                    k + 1,
                    k + 1,
                    k + 2
                )
            })
            .collect();
        std::fs::write(path.with_extension("srt"), srt).expect("write srt");
    }
    let m = dir.join("model");
    init_random(Preset::Tiny, 11, &m, None).expect("init tiny model");
    let model = VClipModel::load(&m, &Device::Cpu).expect("load tiny model");
    let (engine, _) = Engine::open(&dir.join("lib"), Some(model.into())).expect("open");
    let report = engine
        .import(
            &[videos],
            ImportOptions::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .expect("import");
    assert_eq!(report.imported.len(), COLOURS.len(), "{report:?}");
    engine
}

fn assert_same_run(a: &FinetuneReport, b: &FinetuneReport, a_dir: &Path, b_dir: &Path) {
    assert_eq!(a.steps, b.steps);
    assert_eq!(a.before, b.before);
    assert_eq!(a.best_epoch, b.best_epoch);
    assert_eq!(a.epochs.len(), b.epochs.len());
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert!(
            (x.mean_loss - y.mean_loss).abs() < 1e-4,
            "epoch {}: {} vs {}",
            x.epoch,
            x.mean_loss,
            y.mean_loss
        );
    }
    let file = "videoclip.safetensors";
    let worst = max_weight_diff(&a_dir.join(file), &b_dir.join(file));
    assert!(worst < 1e-4, "weights differ by up to {worst}");
}

/// A run cancelled mid-epoch and resumed ends exactly like the uninterrupted run: same
/// batches, same random draws, same optimizer state. The checkpoint is gone afterwards.
#[test]
fn a_cancelled_run_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = library(tmp.path());
    let opts = options();

    let whole_dir = tmp.path().join("whole");
    let whole = engine
        .finetune(&whole_dir, &opts, &NoProgress, &CancelToken::new())
        .expect("uninterrupted run");
    assert_eq!(
        whole.steps, 9,
        "3 batches of 2 videos x 3 epochs: {whole:?}"
    );
    assert_eq!(whole.resumed_from_step, 0);
    assert!(!whole_dir.join("checkpoint").exists());

    // Cancel after the first step (mid-epoch 1; the first progress event is never
    // throttled): a checkpoint is written.
    let split_dir = tmp.path().join("split");
    let cancel = CancelToken::new();
    let flag = cancel.clone();
    let sink = move |e: ProgressEvent| {
        if matches!(&e, ProgressEvent::Progress(p) if p.done >= 1) {
            flag.cancel();
        }
    };
    let err = engine
        .finetune(&split_dir, &opts, &sink, &cancel)
        .expect_err("cancelled");
    assert!(matches!(err, EngineError::Cancelled), "{err}");
    assert!(split_dir.join("checkpoint/checkpoint.json").is_file());
    assert!(!split_dir.join("config.json").exists());

    // Not resuming into a folder with an unfinished run is refused; other options too.
    let err = engine
        .finetune(&split_dir, &opts, &NoProgress, &CancelToken::new())
        .expect_err("unfinished run");
    assert!(err.to_string().contains("unfinished"), "{err}");
    let resume = FinetuneOptions {
        resume: true,
        ..opts.clone()
    };
    let other = FinetuneOptions {
        lr: 2e-3,
        ..resume.clone()
    };
    let err = engine
        .finetune(&split_dir, &other, &NoProgress, &CancelToken::new())
        .expect_err("other options");
    assert!(err.to_string().contains("other options"), "{err}");

    // Resume, and cancel again at the end of epoch 2 (step 6, an epoch boundary).
    let cancel = CancelToken::new();
    let flag = cancel.clone();
    let sink = move |e: ProgressEvent| {
        if matches!(&e, ProgressEvent::Epoch { epoch: 2, .. }) {
            flag.cancel();
        }
    };
    let err = engine
        .finetune(&split_dir, &resume, &sink, &cancel)
        .expect_err("cancelled again");
    assert!(matches!(err, EngineError::Cancelled), "{err}");

    let resumed = engine
        .finetune(&split_dir, &resume, &NoProgress, &CancelToken::new())
        .expect("resume");
    assert_eq!(resumed.resumed_from_step, 6);
    assert_same_run(&whole, &resumed, &whole_dir, &split_dir);
    assert!(!split_dir.join("checkpoint").exists());

    // Nothing left to resume.
    let err = engine
        .finetune(
            &tmp.path().join("nothing"),
            &FinetuneOptions {
                resume: true,
                ..opts
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .expect_err("nothing to resume");
    assert!(err.to_string().contains("no unfinished"), "{err}");
}

/// Progress events carry the training status and an `Epoch` event per evaluation (epoch 0 is
/// the base model); the plan counts the data and measures a positive time estimate; random
/// batching is a partition of the videos, retrieval batching runs too.
#[test]
fn plan_progress_and_batching() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = library(tmp.path());
    let opts = FinetuneOptions {
        eval_every: 2,
        ..options()
    };
    let plan = engine.finetune_plan(&opts).expect("plan");
    assert_eq!(plan.videos, COLOURS.len());
    assert_eq!(plan.heldout_queries, COLOURS.len(), "{plan:?}");
    assert_eq!(plan.train_captions, 3 * COLOURS.len(), "{plan:?}");
    assert_eq!(plan.steps, 9);
    assert!(
        plan.step_s > 0.0 && plan.seconds_estimate > plan.step_s,
        "{plan:?}"
    );

    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    let out: PathBuf = tmp.path().join("tuned");
    let report = engine
        .finetune(&out, &opts, &sink, &CancelToken::new())
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
    let trained = events.iter().find_map(|e| match e {
        ProgressEvent::Finished(p) => p.train,
        _ => None,
    });
    let t = trained.expect("the last event carries the training status");
    let finished = events.iter().find_map(|e| match e {
        ProgressEvent::Finished(p) => Some((p.done, p.total)),
        _ => None,
    });
    assert_eq!(finished, Some((9, Some(9))), "the bar ends full");
    assert_eq!((t.epoch, t.epochs), (3, 3));
    assert!(
        t.loss.is_finite() && t.lr >= 0.0 && t.pairs_per_s > 0.0,
        "{t:?}"
    );
    assert!(report.epochs[0].heldout.is_none() && report.epochs[1].heldout.is_some());
    assert_eq!(report.batching, Batching::Retrieval);
    assert!(report.pairs > 0 && report.pairs_per_s > 0.0);

    let random = engine
        .finetune(
            &tmp.path().join("random"),
            &FinetuneOptions {
                batching: Batching::Random,
                ..options()
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .expect("random batches");
    assert_eq!(random.steps, 9);
    assert_eq!(random.batching, Batching::Random);
}
