//! `vclip watch`: a library that keeps itself current with a folder. Rescans one at a time
//! (`--once`) for adds, renames (relinked without decoding), deletions (missing, restored),
//! in-place changes (imported again); then a running watcher and a file copied in slowly,
//! imported once and only once complete. Tiny random-weight model (named as such).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vclip_testkit::lavfi;

use crate::cli_library::{json, success, tiny_library, vclip, FRACTAL, PATTERN};

/// One `vclip watch DIR --once --json --settle 0` rescan's report.
fn rescan(lib: &Path, model: &Path, dir: &Path) -> serde_json::Value {
    let o = vclip(
        lib,
        model,
        &[
            "watch",
            dir.to_str().expect("utf-8"),
            "--once",
            "--json",
            "--settle",
            "0",
        ],
    );
    success(&o);
    json(&o)
}

/// The file name of a path in a report.
fn file_name(path: &serde_json::Value) -> String {
    let p = path
        .as_str()
        .unwrap_or_else(|| panic!("not a path: {path}"));
    Path::new(p)
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(file_name)
        .collect()
}

/// The file names `vclip search QUERY` returns.
fn found(lib: &Path, model: &Path, query: &str) -> Vec<String> {
    let o = vclip(lib, model, &["search", query, "--json"]);
    success(&o);
    json(&o)
        .as_array()
        .expect("results")
        .iter()
        .map(|r| file_name(&r["path"]))
        .collect()
}

#[test]
fn a_watched_folder_keeps_the_library_current() {
    let (tmp, model, lib) = tiny_library();
    let dir = tmp.path().join("watched");
    lavfi(&dir, "sunset beach.mp4", PATTERN, 4);

    // Added: imported (and the folder is remembered).
    let r = rescan(&lib, &model, &dir);
    assert_eq!(names(&r["imported"]), ["sunset beach.mp4"], "{r}");
    assert!(r["decoded_s"].as_f64().expect("decoded") > 0.0);
    let o = vclip(&lib, &model, &["watch", "--list", "--json"]);
    success(&o);
    assert_eq!(json(&o).as_array().map(Vec::len), Some(1));
    // Nothing changed: a stat per file, nothing else.
    let r = rescan(&lib, &model, &dir);
    assert_eq!(r["unchanged"], 1, "{r}");
    assert_eq!(r["decoded_s"], 0.0, "{r}");

    // Renamed: relinked by content, not decoded.
    std::fs::rename(dir.join("sunset beach.mp4"), dir.join("beach at dusk.mp4")).expect("mv");
    let r = rescan(&lib, &model, &dir);
    let relinked = r["relinked"].as_array().expect("relinked");
    assert_eq!(relinked.len(), 1, "{r}");
    assert!(relinked[0]["to"]
        .as_str()
        .expect("to")
        .ends_with("beach at dusk.mp4"));
    assert_eq!(r["decoded_s"], 0.0, "a relink decodes nothing: {r}");
    assert!(names(&r["missing"]).is_empty(), "{r}");
    assert!(names(&r["imported"]).is_empty(), "{r}");
    assert_eq!(found(&lib, &model, "beach at dusk"), ["beach at dusk.mp4"]);

    // Deleted: missing (listed, not searched); put back: restored.
    let stash = tmp.path().join("stash.mp4");
    std::fs::rename(dir.join("beach at dusk.mp4"), &stash).expect("mv out");
    let r = rescan(&lib, &model, &dir);
    assert_eq!(names(&r["missing"]), ["beach at dusk.mp4"], "{r}");
    let o = vclip(&lib, &model, &["list", "--json"]);
    let rows = json(&o);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["missing"], true, "{rows:?}");
    assert!(found(&lib, &model, "beach at dusk").is_empty());
    std::fs::rename(&stash, dir.join("beach at dusk.mp4")).expect("mv back");
    let r = rescan(&lib, &model, &dir);
    assert_eq!(names(&r["restored"]), ["beach at dusk.mp4"], "{r}");
    assert_eq!(r["decoded_s"], 0.0, "{r}");
    assert_eq!(found(&lib, &model, "beach at dusk"), ["beach at dusk.mp4"]);

    // Changed in place: imported again, the old entry gone.
    let other = lavfi(&tmp.path().join("other"), "x.mp4", FRACTAL, 3);
    std::fs::copy(&other, dir.join("beach at dusk.mp4")).expect("overwrite");
    let r = rescan(&lib, &model, &dir);
    assert_eq!(names(&r["reimported"]), ["beach at dusk.mp4"], "{r}");
    let o = vclip(&lib, &model, &["list", "--json"]);
    let rows = json(&o);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!((rows[0]["duration_s"].as_f64().expect("duration") - 3.0).abs() < 0.2);
}

#[test]
fn a_file_copied_in_slowly_is_imported_once_complete() {
    let (tmp, model, lib) = tiny_library();
    let dir = tmp.path().join("watched");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let source = lavfi(&tmp.path().join("src"), "slow.mp4", PATTERN, 4);
    let bytes = std::fs::read(&source).expect("read");

    let mut child = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args([
            "watch",
            dir.to_str().expect("utf-8"),
            "--json",
            "--settle",
            "1",
        ])
        .arg("--library")
        .arg(&lib)
        .arg("--model")
        .arg(&model)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vclip watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });

    // Copy it in over about 3 s, in pieces.
    let target = dir.join("slow.mp4");
    let mut f = std::fs::File::create(&target).expect("create");
    for chunk in bytes.chunks(bytes.len().div_ceil(8)) {
        f.write_all(chunk).expect("write");
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(400));
        // No report while it grows names it as imported or failed.
        while let Ok(r) = rx.try_recv() {
            assert!(names(&r["imported"]).is_empty(), "imported half-way: {r}");
            assert!(r["failed"].as_array().is_none_or(Vec::is_empty), "{r}");
        }
    }
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut imported = false;
    while Instant::now() < deadline && !imported {
        if let Ok(r) = rx.recv_timeout(Duration::from_millis(500)) {
            assert!(r["failed"].as_array().is_none_or(Vec::is_empty), "{r}");
            imported = names(&r["imported"]) == ["slow.mp4"];
        }
    }
    // Ctrl-C: the watcher stops cleanly.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    assert!(
        imported,
        "never imported: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = vclip(&lib, &model, &["list", "--json"]);
    let rows = json(&o);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "ready");
    assert!((rows[0]["duration_s"].as_f64().expect("duration") - 4.0).abs() < 0.2);
}
