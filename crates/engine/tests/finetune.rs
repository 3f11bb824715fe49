//! Fine-tuning through the engine's API on generated videos with subtitles and a tiny
//! random-weight model: checkpoints, cancel and resume, retrieval-augmented batches, the
//! plan's estimate, and progress events.
#![cfg(feature = "media")]

#[path = "common/finetune.rs"]
mod finetune_support;
#[path = "common/setup.rs"]
mod setup;

use std::path::Path;

use vclip_engine::finetune::{Batching, FinetuneOptions, FinetuneReport};
use vclip_engine::{Engine, ProgressEvent};

use finetune_support::{
    after_the_first_step, assert_small_plan, at_epoch_2, cancel_at, colour_videos, max_weight_diff,
    options, run, run_with_events, trained, uninterrupted, COLOURS,
};
use setup::{import, tiny_videoclip};

/// Six 6-second videos in distinct colours whose four cues name the colour.
fn library(dir: &Path) -> Engine {
    let videos = colour_videos(dir);
    let engine = setup::open(&dir.join("lib"), &tiny_videoclip(dir, "model", 11));
    let report = import(&engine, &[videos]);
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
    let what = "3 batches of 2 videos x 3 epochs";
    let (whole_dir, whole) = uninterrupted(&engine, tmp.path(), &opts, what);
    assert_eq!(whole.resumed_from_step, 0);
    assert!(!whole_dir.join("checkpoint").exists());

    // Cancel after the first step (mid-epoch 1; the first progress event is never
    // throttled): a checkpoint is written.
    let split_dir = tmp.path().join("split");
    cancel_at(&engine, &split_dir, &opts, after_the_first_step);
    assert!(split_dir.join("checkpoint/checkpoint.json").is_file());
    assert!(!split_dir.join("config.json").exists());

    // Not resuming into a folder with an unfinished run is refused; other options too.
    let err = run(&engine, &split_dir, &opts).expect_err("unfinished run");
    assert!(err.to_string().contains("unfinished"), "{err}");
    let resume = FinetuneOptions {
        resume: true,
        ..opts.clone()
    };
    let other = FinetuneOptions {
        lr: 2e-3,
        ..resume.clone()
    };
    let err = run(&engine, &split_dir, &other).expect_err("other options");
    assert!(err.to_string().contains("other options"), "{err}");

    // Resume, and cancel again at the end of epoch 2 (step 6, an epoch boundary).
    cancel_at(&engine, &split_dir, &resume, at_epoch_2);

    let resumed = run(&engine, &split_dir, &resume).expect("resume");
    assert_eq!(resumed.resumed_from_step, 6);
    assert_same_run(&whole, &resumed, &whole_dir, &split_dir);
    assert!(!split_dir.join("checkpoint").exists());

    // Nothing left to resume.
    let err = run(
        &engine,
        &tmp.path().join("nothing"),
        &FinetuneOptions {
            resume: true,
            ..opts
        },
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
    assert_small_plan(&engine.finetune_plan(&opts).expect("plan"));

    let (report, events) = run_with_events(&engine, &tmp.path().join("tuned"), &opts);
    let t = trained(&events).expect("the last event carries the training status");
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

    let random = run(
        &engine,
        &tmp.path().join("random"),
        &FinetuneOptions {
            batching: Batching::Random,
            ..options()
        },
    )
    .expect("random batches");
    assert_eq!(random.steps, 9);
    assert_eq!(random.batching, Batching::Random);
}

/// A video without subtitles trains on the text read off its screen, and the plan says how
/// many captions came from there; a video with subtitles keeps training on them alone.
#[test]
fn screen_text_is_training_text_where_there_are_no_subtitles() {
    use vclip_index::{Catalogue, Cue, CueOrigin};
    let tmp = tempfile::tempdir().expect("tempdir");
    // The engine holds its catalogue exclusively: edit it while the library is closed.
    drop(library(tmp.path()));
    let mut cat =
        Catalogue::open(&tmp.path().join("lib/catalogue.sqlite"), false).expect("catalogue");
    let videos = cat.list_videos().expect("videos");
    let id = |name: &str| {
        videos
            .iter()
            .find(|v| v.path.ends_with(name))
            .map(|v| v.id)
            .expect("imported")
    };
    // Red: its lines move from the subtitles to the screen. Green: screen text besides its
    // subtitles, which it keeps training on.
    let red = id("red.mp4");
    let lines: Vec<Cue> = cat
        .cues_of(red)
        .expect("cues")
        .into_iter()
        .map(|c| Cue {
            origin: CueOrigin::Screen,
            ..c
        })
        .collect();
    cat.replace_cues(red, CueOrigin::Subtitle, &[])
        .expect("no subtitles");
    cat.replace_screen_text(red, "eng", &lines)
        .expect("screen text");
    let green = id("green.mp4");
    let shown = [Cue {
        start_s: 0.0,
        end_s: 6.0,
        text: "a green sign on the wall".into(),
        origin: CueOrigin::Screen,
    }];
    cat.replace_screen_text(green, "eng", &shown)
        .expect("screen text");
    drop(cat);
    let engine = setup::open(&tmp.path().join("lib"), &tmp.path().join("model"));
    let plan = engine.finetune_plan(&options()).expect("plan");
    assert_small_plan(&plan);
    assert_eq!(plan.screen_captions, 3, "{plan:?}");
}
