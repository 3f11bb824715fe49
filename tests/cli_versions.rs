//! Model versions end to end (`models.json`): `vclip finetune` records its model as a version
//! of the library, `vclip models versions` lists them, `rollback` and `use` switch, re-embedding
//! from the feature cache only when the version's windows are missing. Every command after the
//! import runs without `--model`: the library opens with its active version (the models
//! folder is empty, so nothing else could be found).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vclip_testkit::{lavfi_srt, srt};

use crate::cli_finetune::small_finetune;
use crate::cli_library::{json, path_ends_with, tiny_model};

/// `vclip ARGS --library LIB` with no model named anywhere but in the library.
pub(crate) fn run(tmp: &Path, lib: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(args)
        .arg("--library")
        .arg(lib)
        .env_remove("VCLIP_MODEL")
        .env_remove("VCLIP_SENTENCE_MODEL")
        .env("VCLIP_MODELS", tmp.join("no-models-here"))
        .output()
        .expect("run vclip")
}

pub(crate) fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A search for `query` finds `file` first, with the visual signal among the results (so the
/// active version's vector index is there).
fn search_finds(tmp: &Path, lib: &Path, query: &str, file: &str) {
    let hits = json(&ok(run(tmp, lib, &["search", query, "--json"])));
    assert!(path_ends_with(&hits[0], file), "{query}: {hits}");
    let visual = hits
        .as_array()
        .expect("array")
        .iter()
        .any(|h| h["signals"].to_string().contains("visual"));
    assert!(visual, "no visual hit: {hits}");
}

/// Four cues, `2k` to `2k + 1.9` s: `{word} number {k} in {colour}`.
fn cues(word: &str, colour: &str) -> String {
    let cue = |k: u32| {
        (
            f64::from(2 * k),
            f64::from(2 * k) + 1.9,
            format!("{word} number {k} in {colour}"),
        )
    };
    srt(&(0..4).map(cue).collect::<Vec<_>>())
}

/// `red.mp4`, `blue.mp4`, `green.mp4` (8, 9, 10 s) in `dir/videos`, each with four cues naming
/// a word and its colour (apples, ocean, forest).
pub(crate) fn three_colour_videos(dir: &Path) -> PathBuf {
    let videos = dir.join("videos");
    for (i, (colour, word)) in [("red", "apples"), ("blue", "ocean"), ("green", "forest")]
        .iter()
        .enumerate()
    {
        lavfi_srt(
            &videos,
            &format!("{colour}.mp4"),
            &format!("color=c={colour}:size=160x120:rate=10"),
            8 + i as u32,
            &cues(word, colour),
        );
    }
    videos
}

#[test]
fn finetune_versions_rollback_and_use_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let model = tiny_model(t);
    let lib = t.join("lib");
    let videos = three_colour_videos(t);
    let m = model.to_str().expect("utf-8");
    ok(run(
        t,
        &lib,
        &["import", videos.to_str().expect("utf-8"), "--model", m],
    ));

    // The import recorded its model (issue "One way in"): the library opens with it, and a
    // search needs no --model.
    let v = json(&ok(run(t, &lib, &["models", "versions", "--json"])));
    assert_eq!(v["versions"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["in_use"]["by"], "models.json", "{v}");
    let base_version = v["active"].as_str().expect("an active version").to_owned();
    assert_eq!(v["versions"][0]["version"], base_version.as_str(), "{v}");
    ok(run(t, &lib, &["search", "ocean"]));

    // Fine-tune: the new model becomes the active version, the base its parent.
    let tuned = t.join("tuned");
    let mut args = small_finetune(&tuned);
    args.extend(["--model", m]);
    let r = json(&ok(run(t, &lib, &args)));
    let new = r["model_version"].as_str().expect("version").to_owned();
    let v = json(&ok(run(t, &lib, &["models", "versions", "--json"])));
    let rows = v["versions"].as_array().expect("versions");
    assert_eq!(rows.len(), 2, "{v}");
    let base = rows[0]["version"].as_str().expect("base").to_owned();
    assert_eq!(base, base_version, "{v}");
    assert_ne!(base, new);
    assert_eq!(v["active"], new.as_str(), "{v}");
    assert_eq!(v["in_use"]["by"], "models.json", "{v}");
    assert_eq!(rows[1]["version"], new.as_str());
    assert_eq!(rows[1]["parent"], base.as_str(), "{v}");
    assert_eq!(rows[1]["active"], true);
    assert_eq!(rows[0]["active"], false);
    assert_eq!(rows[1]["finetune"]["before"], r["before"], "{v}");
    assert_eq!(rows[1]["finetune"]["after"], r["after"], "{v}");
    assert_eq!(rows[1]["finetune"]["epochs"], 2);
    assert!(rows[0]["finetune"].is_null());
    search_finds(t, &lib, "ocean", "blue.mp4");
    let text =
        String::from_utf8_lossy(&ok(run(t, &lib, &["models", "versions"])).stdout).into_owned();
    assert!(text.contains(&format!("* {new} (active)")), "{text}");
    assert!(text.contains(&format!("fine-tuned from {base}")), "{text}");
    assert!(text.contains("held-out R@1"), "{text}");

    // Roll back: the base's windows are still there, nothing is re-embedded.
    let s = json(&ok(run(t, &lib, &["models", "rollback", "--json"])));
    assert_eq!(s["version"], base.as_str(), "{s}");
    assert_eq!(s["from"], new.as_str(), "{s}");
    assert!(s["reindex"].is_null(), "re-embedded for nothing: {s}");
    search_finds(t, &lib, "apples", "red.mp4");
    // Steps use the base's token states, though the videos were embedded last with the new one.
    let steps = json(&ok(run(
        t,
        &lib,
        &["steps", "1", "--step", "apples", "--step", "red", "--json"],
    )));
    assert_eq!(steps["steps"].as_array().map(Vec::len), Some(2), "{steps}");

    // A video imported while the base is active has no windows of the new version: using the
    // new version again re-embeds the library from the feature cache (by a start of its name).
    lavfi_srt(
        &videos,
        "yellow.mp4",
        "color=c=yellow:size=160x120:rate=10",
        6,
        &cues("bananas", "yellow"),
    );
    ok(run(t, &lib, &["import", videos.to_str().expect("utf-8")]));
    let towers = new.rsplit('/').next().expect("towers id");
    let s = json(&ok(run(
        t,
        &lib,
        &["models", "use", &towers[..8], "--json"],
    )));
    assert_eq!(s["version"], new.as_str(), "{s}");
    assert_eq!(s["from"], base.as_str(), "{s}");
    assert_eq!(s["reindex"]["reembedded"], 4, "{s}");
    search_finds(t, &lib, "bananas", "yellow.mp4");
    search_finds(t, &lib, "ocean", "blue.mp4");

    // Back to the base by its folder, then rollback toggles to the new one: no re-embedding.
    let s = json(&ok(run(t, &lib, &["models", "use", m, "--json"])));
    assert_eq!(s["version"], base.as_str(), "{s}");
    assert!(s["reindex"].is_null(), "{s}");
    search_finds(t, &lib, "bananas", "yellow.mp4");
    let s = json(&ok(run(t, &lib, &["models", "rollback", "--json"])));
    assert_eq!(s["version"], new.as_str(), "{s}");
    assert!(s["reindex"].is_null(), "{s}");
    search_finds(t, &lib, "forest", "green.mp4");

    // Unknown versions are clear errors and change nothing.
    let registry = lib.join("models.json");
    let before = std::fs::read(&registry).expect("read");
    let o = run(t, &lib, &["models", "use", "no-such-version"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no model version"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&registry).expect("read"), before);

    // A damaged registry: every command that needs it names the file; nothing rewrites it;
    // an explicit --model still works.
    std::fs::write(&registry, b"{\"format\": 1, \"versions\": [{\"vers").expect("write");
    for args in [
        &["search", "ocean"][..],
        &["models", "versions"],
        &["models", "rollback"],
    ] {
        let o = run(t, &lib, args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("models.json"), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read(&registry).expect("read"),
        b"{\"format\": 1, \"versions\": [{\"vers"
    );
    ok(run(t, &lib, &["search", "ocean", "--model", m]));
}
