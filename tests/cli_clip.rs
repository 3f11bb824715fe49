//! The CLIP family from the command line (issue #7): import and search with a tiny
//! **random-weight** CLIP model (named as such: it proves the plumbing, not quality), and
//! switching a library between families with `vclip models use`, which decodes only the videos
//! that have no features for the family switched to.

use std::path::{Path, PathBuf};
use std::process::Command;

use vclip_testkit::{lavfi, lavfi_srt};

use crate::cli_library::{init_random, json, path_ends_with, tiny_model};
use crate::cli_versions::{ok, run};

/// 160×120 of plain green at 10 fps.
const GREEN: &str = "color=c=green:size=160x120:rate=10";

/// A tiny random CLIP in `out`.
fn tiny_clip_in(out: &Path) -> PathBuf {
    init_random(out, &["--family", "clip", "--preset", "tiny"])
}

fn tiny_clip(dir: &Path) -> PathBuf {
    tiny_clip_in(&dir.join("clip"))
}

fn has_visual(hits: &serde_json::Value) -> bool {
    hits.as_array().is_some_and(|a| {
        a.iter()
            .any(|h| h["signals"].to_string().contains("visual"))
    })
}

#[test]
fn import_with_clip_then_switch_families_without_decoding_twice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (clip, videoclip) = (tiny_clip(t), tiny_model(t));
    let (clip_s, videoclip_s) = (
        clip.to_str().expect("utf-8"),
        videoclip.to_str().expect("utf-8"),
    );
    let videos = t.join("videos");
    for (colour, seconds) in [("red", 5), ("blue", 7)] {
        let cue = format!("1\n00:00:01,000 --> 00:00:03,000\na {colour} balloon\n");
        lavfi_srt(
            &videos,
            &format!("{colour}.mp4"),
            &format!("color=c={colour}:size=160x120:rate=10"),
            seconds,
            &cue,
        );
    }
    let lib = t.join("lib");
    let v = videos.to_str().expect("utf-8");

    // Import with CLIP: one feature per second, every video ready, searchable by subtitle and
    // by the image embeddings (the visual signal).
    let r = json(&ok(run(
        t,
        &lib,
        &["import", v, "--model", clip_s, "--json"],
    )));
    assert_eq!(r["imported"].as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(r["video_s"], 12.0, "{r}");
    let hits = json(&ok(run(
        t,
        &lib,
        &["search", "blue balloon", "--model", clip_s, "--json"],
    )));
    assert!(path_ends_with(&hits[0], "blue.mp4"), "{hits}");
    assert!(has_visual(&hits), "{hits}");
    let steps = json(&ok(run(
        t,
        &lib,
        &[
            "steps", "1", "--step", "inflate", "--step", "release", "--model", clip_s, "--json",
        ],
    )));
    assert_eq!(steps["steps"].as_array().map(Vec::len), Some(2), "{steps}");

    // Switch to VideoCLIP: no S3D-G features yet, so both videos are decoded (30 fps clips).
    let s = json(&ok(run(t, &lib, &["models", "use", videoclip_s, "--json"])));
    assert_eq!(s["reindex"]["decoded"], 2, "{s}");
    assert_eq!(s["reindex"]["reembedded"], 0, "{s}");
    let hits = json(&ok(run(t, &lib, &["search", "red balloon", "--json"])));
    assert!(path_ends_with(&hits[0], "red.mp4"), "{hits}");
    assert!(has_visual(&hits), "{hits}");

    // Back to CLIP: its windows are all there, nothing decoded or re-embedded; and again.
    let s = json(&ok(run(t, &lib, &["models", "use", clip_s, "--json"])));
    assert!(s["reindex"].is_null(), "{s}");
    let s = json(&ok(run(t, &lib, &["models", "rollback", "--json"])));
    assert!(s["reindex"].is_null(), "{s}");
    let text =
        String::from_utf8_lossy(&ok(run(t, &lib, &["models", "versions"])).stdout).into_owned();
    assert!(text.contains("clip-vit-b32-"), "{text}");
    assert!(text.contains("videoclip-"), "{text}");
}

#[test]
fn the_clip_folder_is_the_default_when_it_is_the_only_model() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let models = t.join("models");
    std::fs::create_dir_all(&models).expect("mkdir");
    tiny_clip_in(&models.join("clip-vit-b32"));
    let videos = t.join("videos");
    lavfi(&videos, "green.mp4", GREEN, 3);
    let vclip = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vclip"))
            .args(args)
            .arg("--library")
            .arg(t.join("lib"))
            .env_remove("VCLIP_MODEL")
            .env_remove("VCLIP_SENTENCE_MODEL")
            .env("VCLIP_MODELS", &models)
            .output()
            .expect("run vclip")
    };
    ok(vclip(&["import", videos.to_str().expect("utf-8")]));
    let list = json(&ok(vclip(&["list", "--json"])));
    assert!(
        list[0]["model_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("clip-vit-b32-")),
        "{list}"
    );
}

#[test]
fn import_with_exact_frames_takes_one_frame_per_second() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let clip = tiny_clip(t);
    let videos = t.join("videos");
    lavfi(&videos, "green.mp4", GREEN, 4);
    let lib = t.join("lib");
    let r = json(&ok(run(
        t,
        &lib,
        &[
            "import",
            videos.to_str().expect("utf-8"),
            "--model",
            clip.to_str().expect("utf-8"),
            "--exact-frames",
            "--json",
        ],
    )));
    assert_eq!(r["imported"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["video_s"], 4.0, "{r}");
}
