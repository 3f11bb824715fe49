//! `vclip finetune` end to end on generated videos with subtitles and a tiny random-weight
//! model: it trains from the feature cache, reports held-out recall before and after, writes a
//! new model folder that loads, and re-embeds the library with it.

use std::path::Path;

use crate::cli_library::{init_random, json, path_ends_with, success, tiny_library, vclip};
use crate::cli_versions::three_colour_videos;

/// `vclip finetune` for a short run on [`three_colour_videos`] (2 epochs, 2 videos × 3 pairs a
/// batch, a quarter of the cues held out) into `out`, with JSON output.
pub(crate) fn small_finetune(out: &Path) -> Vec<&str> {
    vec![
        "finetune",
        "--epochs",
        "2",
        "--batch-videos",
        "2",
        "--pairs-per-video",
        "3",
        "--holdout",
        "0.25",
        "--lr",
        "1e-3",
        "--warmup-steps",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
        "--json",
    ]
}

#[test]
fn finetune_writes_a_new_model_and_reembeds_the_library() {
    let (tmp, model, lib) = tiny_library();
    let videos = three_colour_videos(tmp.path());
    let o = vclip(&lib, &model, &["import", videos.to_str().expect("utf-8")]);
    success(&o);

    let out = tmp.path().join("tuned");
    let args = small_finetune(&out);
    let o = vclip(&lib, &model, &args);
    success(&o);
    let r = json(&o);
    for m in [&r["before"], &r["after"]] {
        for k in ["r1", "r5", "r10"] {
            assert!(
                m[k].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)),
                "{r}"
            );
        }
        assert!(
            m["median_rank"]
                .as_f64()
                .is_some_and(|x| (1.0..=3.0).contains(&x)),
            "{r}"
        );
    }
    assert_eq!(r["videos"], 3, "{r}");
    assert_eq!(
        r["heldout_queries"], 3,
        "one of four captions per video: {r}"
    );
    assert_eq!(r["epochs"].as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(
        r["steps"], 2,
        "one retrieval cluster (3 videos / 2) per epoch: {r}"
    );
    assert!(
        r["epochs"][0]["mean_loss"]
            .as_f64()
            .is_some_and(f64::is_finite),
        "{r}"
    );
    // A new model version (the towers changed), re-embedded from the feature cache.
    assert!(out.join("config.json").is_file());
    let version = r["model_version"].as_str().expect("version");
    let base = std::fs::read_to_string(model.join("config.json")).expect("config");
    let towers = version.rsplit('/').next().expect("towers id");
    assert!(
        !base.contains(towers),
        "the towers did not change: {version}"
    );
    assert_eq!(r["reindex"]["reembedded"], 3, "{r}");

    // The new model searches the library.
    let hits = json(&vclip(&lib, &out, &["search", "ocean", "--json"]));
    assert!(path_ends_with(&hits[0], "blue.mp4"), "{hits}");

    // The same folder again: refused, nothing overwritten; bad options are clear errors.
    let o = vclip(&lib, &model, &args);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a model"));
    let o = vclip(&lib, &model, &["finetune", "--epochs", "0", "--out", "x"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 1"));
}

/// `vclip finetune` with a CLIP model (a tiny random one): it trains the temporal tower from the
/// per-second features in the cache (the videos are deleted first: nothing can be decoded),
/// at the CLIP family's temperature, writes a CLIP model folder with a tower, re-embeds the
/// library with it from the same features, records it as the active version (its parent the
/// base), and `vclip models rollback` goes back.
#[test]
fn finetune_trains_a_clip_models_temporal_tower_from_the_feature_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = init_random(
        &tmp.path().join("clip"),
        &[
            "--family",
            "clip-vit-b32",
            "--preset",
            "tiny",
            "--seed",
            "3",
        ],
    );
    let lib = tmp.path().join("lib");
    let videos = three_colour_videos(tmp.path());
    let o = vclip(&lib, &model, &["import", videos.to_str().expect("utf-8")]);
    success(&o);
    std::fs::remove_dir_all(&videos).expect("remove the videos");

    let out = tmp.path().join("tuned");
    let o = vclip(&lib, &model, &small_finetune(&out));
    success(&o);
    let r = json(&o);
    assert_eq!(r["tau"], 0.01, "the CLIP family's temperature: {r}");
    assert_eq!(
        (r["videos"].clone(), r["steps"].clone()),
        (3.into(), 2.into()),
        "{r}"
    );
    assert_eq!(r["epochs"].as_array().map(Vec::len), Some(2), "{r}");
    for m in [&r["before"], &r["after"]] {
        assert!(
            m["median_rank"]
                .as_f64()
                .is_some_and(|x| (1.0..=3.0).contains(&x)),
            "{r}"
        );
    }
    // A CLIP folder: the base's weights and tokenizer, a tower, the same image tower id.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).expect("config"))
            .expect("json");
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(config["family"], "clip-vit-b32", "{config}");
    assert!(config["temporal"].is_object(), "{config}");
    assert!(out.join("temporal.safetensors").is_file());
    assert_eq!(
        config["vision_id"], base["vision_id"],
        "the features are shared"
    );
    assert_ne!(config["model_id"], base["model_id"]);
    // Re-embedded from the cache (the videos are gone), and the active version now.
    assert_eq!(r["reindex"]["reembedded"], 3, "{r}");
    assert!(
        r["reindex"]["need_import"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{r}"
    );
    // The library now opens with the new version (no --model), and rolls back to the base
    // without re-embedding.
    let bare = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_vclip"))
            .args(args)
            .arg("--library")
            .arg(&lib)
            .env_remove("VCLIP_MODEL")
            .env("VCLIP_MODELS", tmp.path().join("no-models-here"))
            .output()
            .expect("run vclip");
        success(&o);
        json(&o)
    };
    let version = r["model_version"].as_str().expect("version");
    let listed = bare(&["models", "versions", "--json"]);
    assert_eq!(listed["active"], version, "{listed}");
    let hits = bare(&["search", "ocean", "--json"]);
    assert!(path_ends_with(&hits[0], "blue.mp4"), "{hits}");
    let s = bare(&["models", "rollback", "--json"]);
    assert_eq!(s["from"], version, "{s}");
    // (The base, registered first.)
    assert_eq!(s["version"], listed["versions"][0]["version"], "{s}");
    assert!(s["reindex"].is_null(), "{s}");
}
