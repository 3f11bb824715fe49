//! `vclip import | list | search | remove | reindex` on generated videos with subtitles and a
//! tiny random-weight model (named as such), including a kill -9 in the middle of an import.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vclip_testkit::{lavfi, lavfi_srt};

pub(crate) fn vclip(lib: &Path, model: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(args)
        .arg("--library")
        .arg(lib)
        .arg("--model")
        .arg(model)
        .output()
        .expect("run vclip")
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The lavfi source of most test videos: moving `testsrc2`, 160×120 at 25 fps.
pub(crate) const PATTERN: &str = "testsrc2=size=160x120:rate=25";
/// A second source whose pictures are nothing like [`PATTERN`]'s: `mandelbrot`, 160×120, 25 fps.
pub(crate) const FRACTAL: &str = "mandelbrot=size=160x120:rate=25";

/// Asserts that the command succeeded, with its stderr as the message.
#[track_caller]
pub(crate) fn success(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `vclip models init-random ARGS OUT`, which must succeed: `out`.
pub(crate) fn init_random(out: &Path, args: &[&str]) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(["models", "init-random"])
        .args(args)
        .arg(out)
        .output()
        .expect("run vclip");
    success(&o);
    out.to_owned()
}

/// A tiny random VideoCLIP (seed 3) in `dir/model`.
pub(crate) fn tiny_model(dir: &Path) -> PathBuf {
    init_random(&dir.join("model"), &["--preset", "tiny", "--seed", "3"])
}

/// A temporary folder with [`tiny_model`] in it, and the path of a library there (`lib`, not
/// created): `(tmp, model, lib)`.
pub(crate) fn tiny_library() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(tmp.path());
    let lib = tmp.path().join("lib");
    (tmp, model, lib)
}

/// A JSON array of numbers.
pub(crate) fn numbers(v: &serde_json::Value) -> Vec<f64> {
    let values = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    values
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Whether the `path` of a JSON hit, row or failure ends with `file`.
pub(crate) fn path_ends_with(v: &serde_json::Value, file: &str) -> bool {
    v["path"].as_str().is_some_and(|p| p.ends_with(file))
}

#[test]
fn import_search_list_remove_reindex_with_json() {
    let (tmp, model, lib) = tiny_library();
    let videos = tmp.path().join("my videos");
    let cue = "1\n00:00:12,500 --> 00:00:15,000\nnow tighten the chain with a wrench\n";
    lavfi_srt(&videos, "bike repair.mp4", PATTERN, 24, cue);
    lavfi(&videos, "garden.mkv", FRACTAL, 8);
    std::fs::write(
        videos.join("corrupt.mp4"),
        b"\x00\x00\x00\x18ftypmp42 but not really",
    )
    .expect("write");
    std::fs::write(videos.join("readme.md"), "# not a video").expect("write");

    let o = vclip(
        &lib,
        &model,
        &["import", videos.to_str().expect("utf-8"), "--json"],
    );
    let r = json(&o);
    assert!(!o.status.success(), "a failed file makes the exit code 1");
    assert_eq!(r["imported"].as_array().map(Vec::len), Some(2), "{r}");
    let failed = r["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1, "{r}");
    assert!(path_ends_with(&failed[0], "corrupt.mp4"));
    assert!(failed[0]["reason"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(String::from_utf8_lossy(&o.stderr).contains("random weights"));

    let o = vclip(
        &lib,
        &model,
        &["search", "tighten the chain", "--json", "--limit", "5"],
    );
    success(&o);
    let hits = json(&o);
    let top = &hits[0];
    assert!(path_ends_with(top, "bike repair.mp4"), "{hits}");
    let (s, e) = (
        top["start_s"].as_f64().expect("start"),
        top["end_s"].as_f64().expect("end"),
    );
    assert!(s <= 12.5 && e >= 15.0, "{top}");
    assert!(top["score"].as_f64().is_some_and(|x| x > 0.0));
    let signals: Vec<&str> = top["signals"]
        .as_array()
        .expect("signals")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(signals.contains(&"subtitle"), "{top}");
    assert_eq!(top["snippet"], "now tighten the chain with a wrench");

    // Human output names the file and the time range.
    let o = vclip(&lib, &model, &["search", "wrench"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("bike repair.mp4") && text.contains("0:12.5"),
        "{text}"
    );
    assert!(text.contains("[wrench]"), "{text}");

    let list = json(&vclip(&lib, &model, &["list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    let garden = videos.join("garden.mkv");
    let o = vclip(
        &lib,
        &model,
        &["remove", garden.to_str().expect("utf-8"), "--json"],
    );
    success(&o);
    assert!(garden.exists());
    let list = json(&vclip(&lib, &model, &["list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let o = vclip(&lib, &model, &["remove", "nothing-like-this"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing-like-this"));

    let o = vclip(&lib, &model, &["reindex", "--json"]);
    success(&o);
    let r = json(&o);
    assert_eq!(
        (r["reembedded"].as_u64(), r["windows"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let hits = json(&vclip(&lib, &model, &["search", "wrench", "--json"]));
    assert!(path_ends_with(&hits[0], "bike repair.mp4"));
}

fn count_files(dir: &Path, ext: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p, ext)
            } else {
                usize::from(p.extension().is_some_and(|x| x == ext))
            }
        })
        .sum()
}

#[test]
fn kill_dash_nine_during_import_then_resume() {
    let (tmp, model, lib) = tiny_library();
    let videos = tmp.path().join("videos");
    let n = 6;
    for i in 0..n {
        lavfi_srt(
            &videos,
            &format!("clip{i}.mp4"),
            PATTERN,
            20 + i,
            &format!("1\n00:00:05,000 --> 00:00:07,000\nmarker phrase number{i}\n"),
        );
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .arg("import")
        .arg(&videos)
        .arg("--library")
        .arg(&lib)
        .arg("--model")
        .arg(&model)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn import");
    // Kill it once at least two videos have their features written (so one is committed or
    // about to be, and others are not started).
    let deadline = Instant::now() + Duration::from_secs(300);
    let features = lib.join("families");
    while count_files(&features, "f16") < 2 * 3 + 1 {
        assert!(Instant::now() < deadline, "import made no progress");
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // While it runs, a second process is refused with a clear message.
    if child.try_wait().expect("wait").is_none() {
        let o = vclip(&lib, &model, &["list"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("in use"), "{err}");
    }
    let _ = child.kill(); // SIGKILL on Unix
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the import was killed before it finished"
    );

    // Resume: the same command finishes the job without duplicating anything.
    let o = vclip(
        &lib,
        &model,
        &["import", videos.to_str().expect("utf-8"), "--json"],
    );
    success(&o);
    let r = json(&o);
    let imported = r["imported"].as_array().map_or(0, Vec::len);
    let skipped = r["skipped"].as_array().map_or(0, Vec::len);
    assert_eq!(imported + skipped, n as usize, "{r}");
    assert!(imported >= 1, "the kill left work to resume: {r}");
    let list = json(&vclip(&lib, &model, &["list", "--json"]));
    let rows = list.as_array().expect("list");
    assert_eq!(rows.len(), n as usize, "{list}");
    assert!(rows.iter().all(|v| v["status"] == "ready"), "{list}");
    // Every video is searchable exactly once for its own phrase.
    for i in 0..n {
        let hits = json(&vclip(
            &lib,
            &model,
            &["search", &format!("number{i}"), "--json"],
        ));
        let top = &hits[0];
        assert!(path_ends_with(top, &format!("clip{i}.mp4")), "{hits}");
        let (s, e) = (
            top["start_s"].as_f64().expect("s"),
            top["end_s"].as_f64().expect("e"),
        );
        assert!(s <= 5.0 && e >= 7.0, "{top}");
    }
}

#[test]
fn subtitles_are_found_by_meaning_with_the_real_sentence_encoder() {
    let Some(minilm) = vclip_testkit::minilm() else {
        return;
    };
    let (tmp, model, lib) = tiny_library();
    let videos = tmp.path().join("v");
    let eggs = "1\n00:00:06,000 --> 00:00:09,000\nwhisk them until they are light and fluffy\n";
    let bolts = "1\n00:00:03,000 --> 00:00:05,000\nnow tighten the bolts on the rear wheel\n";
    lavfi_srt(&videos, "a.mp4", PATTERN, 12, eggs);
    lavfi_srt(&videos, "b.mp4", FRACTAL, 12, bolts);
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--sentence-model", minilm.to_str().expect("utf-8")]);
        vclip(&lib, &model, &all)
    };
    let o = run(&["import", videos.to_str().expect("utf-8")]);
    success(&o);
    // No word in common with the cue ("beat eggs" vs "whisk … fluffy"): only meaning links them.
    for (query, file, start) in [
        ("how do I beat eggs", "a.mp4", 6.0),
        ("fixing a bicycle", "b.mp4", 3.0),
    ] {
        let o = run(&["search", query, "--json"]);
        success(&o);
        let hits = json(&o);
        let semantic: Vec<&serde_json::Value> = hits
            .as_array()
            .expect("array")
            .iter()
            .filter(|h| {
                h["signals"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == "semantic"))
            })
            .collect();
        let best = semantic
            .first()
            .unwrap_or_else(|| panic!("no semantic hit: {hits}"));
        assert!(path_ends_with(best, file), "{hits}");
        assert!(
            best["start_s"].as_f64().is_some_and(|s| s <= start),
            "{best}"
        );
    }
}

#[test]
fn pull_sentence_downloads_checks_and_loads_from_a_mirror() {
    let Some(minilm) = vclip_testkit::minilm() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let served = tmp.path().join("www/models");
    std::fs::create_dir_all(&served).expect("mkdir");
    for f in ["config.json", "model.safetensors", "vocab.txt"] {
        std::fs::copy(minilm.join(f), served.join(f)).expect("copy");
    }
    let server = vclip_testkit::http::serve_folder(&served);
    let out = tmp.path().join("all-minilm-l6-v2");
    let o = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(["models", "pull-sentence", "--mirror", &server.url, "--out"])
        .arg(&out)
        .output()
        .expect("run vclip");
    success(&o);
    assert!(out.join("model.safetensors").is_file());
    assert!(!out.join("model.safetensors.part").exists());
    // It loads: the search commands pick it up from there.
    assert!(vclip_model_loads(&out));
}

fn vclip_model_loads(dir: &Path) -> bool {
    // Through the CLI, as a user would: a search with it succeeds on an empty library.
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(tmp.path());
    let o = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(["search", "anything", "--json", "--sentence-model"])
        .arg(dir)
        .arg("--library")
        .arg(tmp.path().join("lib"))
        .arg("--model")
        .arg(model)
        .output()
        .expect("run vclip");
    o.status.success()
}
