//! Fine-tuning the CLIP family through the engine's API (issue #7): the temporal tower over the
//! cached per-second image embeddings, trained against frozen CLIP text embeddings with the
//! same recipe, data, evaluation, checkpoints and results as VideoCLIP's fine-tune.
//!
//! - The learning test: 40 generated videos (8 colours × 5 patterns), a tiny random CLIP;
//!   held-out R@1 from chance to ≥ 0.8 at the last epoch, shuffled labels stay at chance.
//! - Resume: a cancelled run continues exactly (retrieval batches through the tower).
//! - The plan, progress and the result: a model folder with the same CLIP weights and a
//!   trained tower, the same feature family, re-embedded from the cache without decoding.
#![cfg(feature = "media")]

#[path = "common/contrast_clip.rs"]
mod contrast_clip;
#[path = "common/finetune.rs"]
mod finetune_support;
#[path = "common/setup.rs"]
mod setup;

use std::path::{Path, PathBuf};

use vclip_engine::finetune::sampler::SamplerConfig;
use vclip_engine::finetune::{Batching, FinetuneOptions, FinetuneReport, CLIP_TAU};
use vclip_engine::{model_version_of, CancelToken, Engine, NoProgress};
use vclip_index::read_features;
use vclip_model::{Device, Model, Tensor};
use vclip_testkit::{colour_library, half_second_cues};

use contrast_clip::contrast_clip;
use finetune_support::{
    after_the_first_step, assert_small_plan, at_epoch_2, cancel_at, colour_videos, max_weight_diff,
    options, run, run_with_events, trained, uninterrupted, COLOURS as SMALL,
};
use setup::{open, tiny_clip, vector_file};

fn import(engine: &Engine, videos: &Path) -> usize {
    let report = setup::import(engine, &[videos.to_path_buf()]);
    assert!(report.failed.is_empty(), "{report:?}");
    report.imported.len()
}

// ---------------------------------------------------------------------------------------------
// The learning test

/// Patterns that survive the tiny model's 32×32 input (grid lines and noise do not: they blur
/// into a tint of the plain colour).
const PATTERNS: [(&str, &str); 5] = [
    ("plain", ""),
    ("box", ",drawbox=x=50:y=30:w=60:h=60:c=gray:t=fill"),
    ("stripes", ",drawgrid=w=32:h=1000:t=12:c=gray"),
    ("bands", ",drawgrid=w=1000:h=30:t=12:c=gray"),
    ("half", ",drawbox=x=0:y=0:w=160:h=90:c=gray:t=fill"),
];
/// Two phrasings, alternating over a video's eight cues, so that every held-out cue's text is
/// also among the video's training cues (see [`clip_finetuning_learns_the_library`]). Neither
/// starts with a word the other ends with (rolling-caption merging would join them).
const PHRASINGS: [&str; 2] = ["the {c} {p}", "a {p} in {c}"];

fn learning_options() -> FinetuneOptions {
    FinetuneOptions {
        epochs: 500,
        batch_videos: 10,
        pairs_per_video: 1,
        holdout: 0.25,
        lr: 3e-3,
        warmup_steps: 20,
        batching: Batching::Random,
        eval_every: 500,
        checkpoint_every: 0,
        sampler: SamplerConfig {
            text_tokens: (1, 8),
            ..SamplerConfig::default()
        },
        ..FinetuneOptions::default()
    }
}

/// Training the temporal tower lifts held-out text→video R@1 from chance to ≥ 0.8 at the last
/// epoch (measured: 0.075 → 1.000), and the same run with shuffled labels stays at chance
/// (0.000), so the rise comes from the video–text pairs.
///
/// What the held-out cues measure here: the CLIP text tower is frozen, and a random one places
/// paraphrases no closer to each other than to other texts (with eight phrasings per video,
/// as `tests/cli_finetune_learns.rs` has, the same run ends at R@1 0.05). So each video's cues
/// alternate two phrasings, and a held-out cue's text is also one of the video's training cues:
/// what is held out is the cue, and what the tower must learn is where each video's captions
/// lie in the frozen text space, from the video's frames alone. Before training (meanP of a
/// random CLIP) that is at chance.
#[test]
fn clip_finetuning_learns_the_library() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = contrast_clip(tmp.path());
    let videos = colour_library(tmp.path(), &PATTERNS, |_, c, p| {
        half_second_cues(8, |k| PHRASINGS[k % 2].replace("{c}", c).replace("{p}", p))
    });
    let engine = open(&tmp.path().join("lib"), &model);
    assert_eq!(import(&engine, &videos), 40);

    let train = |name: &str, shuffle_labels: bool| -> FinetuneReport {
        let opts = FinetuneOptions {
            shuffle_labels,
            ..learning_options()
        };
        run(&engine, &tmp.path().join(name), &opts).expect("finetune")
    };
    let chance = 0.15; // 1/40 = 0.025 expected; 0.15 is over seven standard deviations above.
    let r = train("tuned", false);
    assert_eq!(r.heldout_queries, 80, "two of eight cues per video: {r:?}");
    assert_eq!(r.tau, CLIP_TAU, "the CLIP family's temperature");
    let last = r.epochs[499].heldout.expect("the last epoch is evaluated");
    eprintln!("held-out before {:?}\nlast epoch {last:?}", r.before);
    assert!(r.before.r1 < chance, "the random model is at chance: {r:?}");
    assert!(
        last.r1 >= 0.8,
        "held-out R@1 {} -> {}: {last:?}",
        r.before.r1,
        last.r1
    );

    let s = train("shuffled", true);
    let last = s.epochs[499].heldout.expect("evaluated");
    eprintln!("shuffled labels, last epoch {last:?}");
    assert!(
        last.r1 < chance,
        "shuffled labels learnt something: {last:?}"
    );
    assert!(last.median_rank >= 8.0, "{last:?}");
}

// ---------------------------------------------------------------------------------------------
// Resume, plan, progress, the written model

/// Six 6-second videos in distinct colours whose four cues name the colour, imported with a
/// tiny random CLIP (the standard initialisation: this is about the plumbing).
fn small_library(dir: &Path) -> (Engine, PathBuf, PathBuf) {
    let videos = colour_videos(dir);
    let model = tiny_clip(dir, "clip", 11);
    let engine = open(&dir.join("lib"), &model);
    assert_eq!(import(&engine, &videos), SMALL.len());
    (engine, model, videos)
}

/// A CLIP run cancelled mid-epoch and resumed (twice) ends like the uninterrupted run: same
/// batches (retrieval clusters found through the tower and the frozen text embeddings), same
/// draws, same optimizer state, same tower.
#[test]
fn a_cancelled_clip_run_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, _, _) = small_library(tmp.path());
    let opts = options();
    let what = "3 clusters of 2 videos x 3 epochs";
    let (whole_dir, whole) = uninterrupted(&engine, tmp.path(), &opts, what);
    assert_eq!(whole.batching, Batching::Retrieval);

    let split_dir = tmp.path().join("split");
    cancel_at(&engine, &split_dir, &opts, after_the_first_step);
    let saved = std::fs::read_dir(split_dir.join("checkpoint"))
        .expect("checkpoint")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".safetensors"))
        .expect("a tensor file");
    let saved = candle_core::safetensors::load(saved.path(), &Device::Cpu).expect("tensors");
    assert!(
        saved.contains_key("w.output.weight") && saved.contains_key("m.output.weight"),
        "the tower's weights and moments: {:?}",
        saved.keys().collect::<Vec<_>>()
    );

    let resume = FinetuneOptions {
        resume: true,
        ..opts.clone()
    };
    cancel_at(&engine, &split_dir, &resume, at_epoch_2);
    let resumed = run(&engine, &split_dir, &resume).expect("resume");
    assert_eq!(resumed.resumed_from_step, 6);
    assert_eq!(resumed.before, whole.before);
    assert_eq!(resumed.best_epoch, whole.best_epoch);
    for (x, y) in whole.epochs.iter().zip(&resumed.epochs) {
        assert!((x.mean_loss - y.mean_loss).abs() < 1e-4, "{x:?} vs {y:?}");
    }
    let file = "temporal.safetensors";
    let worst = max_weight_diff(&whole_dir.join(file), &split_dir.join(file));
    assert!(worst < 1e-4, "towers differ by up to {worst}");
    assert!(!split_dir.join("checkpoint").exists());
}

/// The plan counts the data with the CLIP tokenizer and times real steps; the run reports
/// progress and epoch events (epoch 0 = meanP); the written model has the base's CLIP weights
/// and a trained tower, the same feature family and a new version; switching the library to it
/// re-embeds every video from the feature cache — the videos are deleted first, so nothing can
/// be decoded — and its windows are the tower's, not meanP.
#[test]
fn a_finetuned_clip_model_reembeds_from_the_feature_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, base_dir, videos) = small_library(tmp.path());
    let opts = FinetuneOptions {
        eval_every: 2,
        ..options()
    };
    let plan = engine.finetune_plan(&opts).expect("plan");
    assert_small_plan(&plan);
    assert_eq!(plan.device, "cpu");

    let out = tmp.path().join("tuned");
    let (report, events) = run_with_events(&engine, &out, &opts);
    assert!(trained(&events).is_some_and(|t| t.loss.is_finite() && t.epochs == 3));
    assert!(!out.join("checkpoint").exists());

    // The written model: base CLIP weights, a tower, the base's feature family, a new version.
    let base = engine.model().expect("model");
    let base_version = model_version_of(base).expect("version");
    let tuned = Model::load(&out, &Device::Cpu).expect("the new model loads");
    let clip = tuned.as_clip().expect("a CLIP model");
    assert!(clip.temporal().is_some(), "with its temporal tower");
    let tuned_version = model_version_of(&tuned).expect("version");
    assert_eq!(report.model_version, tuned_version.key());
    assert_eq!(
        tuned_version.family(),
        base_version.family(),
        "shared features"
    );
    assert_ne!(tuned_version.version(), base_version.version());
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).expect("weights"),
        std::fs::read(base_dir.join("model.safetensors")).expect("weights"),
        "the CLIP weights are the base's"
    );
    let lib = engine.root().to_path_buf();
    let hashes: Vec<String> = engine
        .list()
        .expect("list")
        .into_iter()
        .map(|v| engine.find(&v.path).expect("find").hash)
        .collect();
    drop(engine);

    // Switch to it with no video left to decode.
    std::fs::remove_dir_all(&videos).expect("remove the videos");
    let (engine, _) = Engine::open(&lib, Some(tuned)).expect("open with the new model");
    let r = engine
        .ensure_embedded(&NoProgress, &CancelToken::new())
        .expect("re-embed")
        .expect("the new version had no windows");
    assert_eq!((r.reembedded, r.decoded), (SMALL.len(), 0), "{r:?}");
    assert!(r.need_import.is_empty() && r.failed.is_empty(), "{r:?}");
    assert!(engine.embedding_gaps().expect("gaps").is_empty());
    let model = engine.model().expect("model");
    for hash in &hashes {
        let feats =
            read_features(&vector_file(&lib, &tuned_version, "features", hash)).expect("features");
        let x = Tensor::from_vec(feats.data.clone(), (feats.rows, feats.cols), &Device::Cpu)
            .expect("tensor");
        let want = model.window_states(&x, 32, 16).expect("windows");
        let stored =
            read_features(&vector_file(&lib, &tuned_version, "windows", hash)).expect("windows");
        let meanp =
            read_features(&vector_file(&lib, &base_version, "windows", hash)).expect("windows");
        assert_eq!(stored.rows, want.pooled.len());
        let (mut to_tower, mut to_meanp) = (0f32, 0f32);
        for (w, row) in want.pooled.iter().enumerate() {
            for ((s, t), m) in stored.row(w).iter().zip(row).zip(meanp.row(w)) {
                to_tower = to_tower.max((s - t).abs());
                to_meanp = to_meanp.max((s - m).abs());
            }
        }
        assert!(
            to_tower < 2e-3,
            "stored windows are the tower's: {to_tower}"
        );
        assert!(to_meanp > 1e-2, "and not meanP's: {to_meanp}");
    }
}
