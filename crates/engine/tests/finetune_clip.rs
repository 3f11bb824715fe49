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
#[path = "../../media/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vclip_engine::finetune::sampler::SamplerConfig;
use vclip_engine::finetune::{Batching, FinetuneOptions, FinetuneReport, CLIP_TAU};
use vclip_engine::{
    model_version_of, CancelToken, Engine, EngineError, ImportOptions, NoProgress, ProgressEvent,
};
use vclip_index::read_features;
use vclip_model::{init_random_clip, Device, Model, Preset, Tensor};

use contrast_clip::contrast_clip;
use finetune_support::{max_weight_diff, options};
use support::ffmpeg;

fn video(dir: &Path, name: &str, source: &str, seconds: u32, srt: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        source,
        "-t",
        &seconds.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        path.to_str().expect("utf-8"),
    ]);
    std::fs::write(path.with_extension("srt"), srt).expect("write srt");
    path
}

fn open(lib: &Path, model_dir: &Path) -> Engine {
    let model = Model::load(model_dir, &Device::Cpu).expect("load model");
    Engine::open(lib, Some(model)).expect("open").0
}

fn import(engine: &Engine, videos: &Path) -> usize {
    let report = engine
        .import(
            &[videos.to_path_buf()],
            ImportOptions::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .expect("import");
    assert!(report.failed.is_empty(), "{report:?}");
    report.imported.len()
}

// ---------------------------------------------------------------------------------------------
// The learning test

const COLOURS: [&str; 8] = [
    "red", "green", "blue", "yellow", "purple", "orange", "white", "black",
];
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

fn srt(colour: &str, pattern: &str) -> String {
    (0..8)
        .map(|k| {
            let text = PHRASINGS[k % 2]
                .replace("{c}", colour)
                .replace("{p}", pattern);
            let ms = |n: usize| format!("00:00:0{},{:03}", n / 2, n % 2 * 500);
            format!("{}\n{} --> {}\n{text}\n\n", k + 1, ms(k), ms(k + 1))
        })
        .collect()
}

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
    let videos = tmp.path().join("videos");
    std::fs::create_dir_all(&videos).expect("mkdir");
    for c in COLOURS {
        for (p, filter) in PATTERNS {
            video(
                &videos,
                &format!("{c}_{p}.mp4"),
                &format!("color=c={c}:size=160x120:rate=10{filter}"),
                4,
                &srt(c, p),
            );
        }
    }
    let engine = open(&tmp.path().join("lib"), &model);
    assert_eq!(import(&engine, &videos), 40);

    let run = |name: &str, shuffle_labels: bool| -> FinetuneReport {
        let opts = FinetuneOptions {
            shuffle_labels,
            ..learning_options()
        };
        engine
            .finetune(
                &tmp.path().join(name),
                &opts,
                &NoProgress,
                &CancelToken::new(),
            )
            .expect("finetune")
    };
    let chance = 0.15; // 1/40 = 0.025 expected; 0.15 is over seven standard deviations above.
    let r = run("tuned", false);
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

    let s = run("shuffled", true);
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

const SMALL: [&str; 6] = ["red", "green", "blue", "yellow", "white", "purple"];

/// Six 6-second videos in distinct colours whose four cues name the colour, imported with a
/// tiny random CLIP (the standard initialisation: this is about the plumbing).
fn small_library(dir: &Path) -> (Engine, PathBuf, PathBuf) {
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos).expect("mkdir");
    for c in SMALL {
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
        video(
            &videos,
            &format!("{c}.mp4"),
            &format!("color=c={c}:size=96x64:rate=10"),
            6,
            &srt,
        );
    }
    let model = dir.join("clip");
    init_random_clip(Preset::Tiny, 11, &model, None).expect("init tiny clip");
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
    let whole_dir = tmp.path().join("whole");
    let whole = engine
        .finetune(&whole_dir, &opts, &NoProgress, &CancelToken::new())
        .expect("uninterrupted run");
    assert_eq!(
        whole.steps, 9,
        "3 clusters of 2 videos x 3 epochs: {whole:?}"
    );
    assert_eq!(whole.batching, Batching::Retrieval);

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
    assert_eq!(plan.videos, SMALL.len());
    assert_eq!(plan.heldout_queries, SMALL.len(), "{plan:?}");
    assert_eq!(plan.train_captions, 3 * SMALL.len(), "{plan:?}");
    assert_eq!(plan.steps, 9);
    assert_eq!(plan.device, "cpu");
    assert!(
        plan.step_s > 0.0 && plan.seconds_estimate > plan.step_s,
        "{plan:?}"
    );

    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    let out = tmp.path().join("tuned");
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
    assert!(trained.is_some_and(|t| t.loss.is_finite() && t.epochs == 3));
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
    let versioned = |v: &vclip_index::ModelVersion, kind: &str, hash: &str| {
        lib.join("families")
            .join(v.family())
            .join("models")
            .join(v.version())
            .join(kind)
            .join(&hash[..2])
            .join(format!("{hash}.f16"))
    };
    for hash in &hashes {
        let feats = read_features(
            &lib.join("families")
                .join(tuned_version.family())
                .join("features")
                .join(&hash[..2])
                .join(format!("{hash}.f16")),
        )
        .expect("features");
        let x = Tensor::from_vec(feats.data.clone(), (feats.rows, feats.cols), &Device::Cpu)
            .expect("tensor");
        let want = model.window_states(&x, 32, 16).expect("windows");
        let stored = read_features(&versioned(&tuned_version, "windows", hash)).expect("windows");
        let meanp = read_features(&versioned(&base_version, "windows", hash)).expect("windows");
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
