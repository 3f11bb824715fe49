//! A full disk. The library lives on a small tmpfs, mounted in a private mount namespace
//! (`unshare`), and is filled up: an import fails with a clear "disk is full" error naming the
//! library, everything stored before stays listed and searchable, and once space is freed the
//! same import completes.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use vclip_testkit::lavfi_srt;

use crate::cli_library::{json, success, tiny_model, vclip, PATTERN};

/// Set for the inner test, which only makes sense inside the namespace.
const INNER: &str = "VCLIP_FULL_DISK_INNER";

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let Some(prefix) = namespace_prefix() else {
        eprintln!(
            "skipped: cannot mount a tmpfs in a private mount namespace here \
             (needs root or unprivileged user namespaces)"
        );
        return;
    };
    let exe = std::env::current_exe().expect("test binary");
    let o = Command::new("unshare")
        .args(&prefix)
        .arg(exe)
        .args([
            "--exact",
            "cli_full_disk::inside_a_mount_namespace",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .expect("run unshare");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("1 passed"),
        "the inner test did not run:\n{out}\n{err}"
    );
}

/// `unshare` options under which a tmpfs can be mounted: a mount namespace of our own as root,
/// else a user namespace as well.
fn namespace_prefix() -> Option<Vec<&'static str>> {
    let probe = r#"d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r"#;
    [
        vec!["--mount", "--propagation", "private"],
        vec!["--map-root-user", "--mount", "--propagation", "private"],
    ]
    .into_iter()
    .find(|p| {
        Command::new("unshare")
            .args(p)
            .args(["sh", "-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run(cmd: &str, args: &[&str]) {
    let o = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Writes zeros to `path` until the disk refuses more.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("create filler");
    for chunk in [1 << 16, 1 << 12, 1 << 9] {
        let zeros = vec![0u8; chunk];
        while f.write_all(&zeros).is_ok() {}
    }
    let _ = f.sync_all();
}

fn top_path(hits: &serde_json::Value) -> String {
    hits[0]["path"].as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "run by a_full_disk_is_a_clear_error_and_loses_nothing inside a mount namespace"]
fn inside_a_mount_namespace() {
    assert!(
        std::env::var_os(INNER).is_some(),
        "run through a_full_disk_is_a_clear_error_and_loses_nothing"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(tmp.path());
    let videos = tmp.path().join("videos");
    let clip = |i: u32| {
        lavfi_srt(
            &videos,
            &format!("clip{i}.mp4"),
            PATTERN,
            20 + i, // distinct content, not a copy of the other
            &format!("1\n00:00:05,000 --> 00:00:07,000\nmarker phrase number{i}\n"),
        )
    };
    let (a, b) = (clip(0), clip(1));
    let disk = tmp.path().join("disk");
    std::fs::create_dir(&disk).expect("mkdir");
    run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=4m",
            "tmpfs",
            disk.to_str().expect("utf-8"),
        ],
    );
    let lib = disk.join("lib");
    let import = |v: &Path| {
        vclip(
            &lib,
            &model,
            &["import", v.to_str().expect("utf-8"), "--json"],
        )
    };

    let o = import(&a);
    success(&o);

    // The disk fills up; the next import fails and says why, naming the library.
    let filler = disk.join("filler");
    fill(&filler);
    let o = import(&b);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "an import on a full disk succeeded: {err}"
    );
    assert!(
        err.contains("is full") && err.contains("free some space"),
        "not a clear disk-full error: {err}"
    );
    assert!(
        err.contains(lib.to_str().expect("utf-8")),
        "the error does not name the library: {err}"
    );

    // Still on the full disk: what was stored is intact, listed and searchable.
    let o = vclip(&lib, &model, &["list", "--json"]);
    assert!(
        o.status.success(),
        "list on a full disk: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let list = json(&o);
    let rows = list.as_array().expect("list");
    let ready: Vec<&str> = rows
        .iter()
        .filter(|v| v["status"] == "ready")
        .filter_map(|v| v["path"].as_str())
        .collect();
    assert_eq!(ready, [a.to_str().expect("utf-8")], "{list}");
    let o = vclip(&lib, &model, &["search", "number0", "--json"]);
    assert!(
        o.status.success(),
        "search on a full disk: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let hits = json(&o);
    assert_eq!(top_path(&hits), a.to_str().expect("utf-8"), "{hits}");
    let (s, e) = (hits[0]["start_s"].as_f64(), hits[0]["end_s"].as_f64());
    assert!(
        s.is_some_and(|s| s <= 5.0) && e.is_some_and(|e| e >= 7.0),
        "{hits}"
    );

    // Exports onto the full disk: a clear error naming the file, and no partial file left.
    let clip_out = disk.join("moment.mp4");
    let o = Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args([
            "export",
            a.to_str().expect("utf-8"),
            "--start",
            "1",
            "--end",
            "15",
        ])
        .args(["--reencode", "--out", clip_out.to_str().expect("utf-8")])
        .output()
        .expect("run vclip");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "an export on a full disk succeeded: {err}"
    );
    assert!(
        err.contains("moment.mp4"),
        "the error does not name the file: {err}"
    );
    let edl = disk.join("moments.edl");
    let o = vclip(
        &lib,
        &model,
        &[
            "search",
            "number0",
            "--export",
            "edl",
            "--out",
            edl.to_str().expect("utf-8"),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "an EDL on a full disk was written: {err}"
    );
    assert!(
        err.contains("moments.edl"),
        "the error does not name the file: {err}"
    );
    let mut left: Vec<String> = std::fs::read_dir(&disk)
        .expect("list the disk")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["filler", "lib"], "a partial export was left behind");

    // Space comes back: the same import completes, and both videos are found.
    std::fs::remove_file(&filler).expect("remove filler");
    let o = import(&b);
    success(&o);
    let list = json(&vclip(&lib, &model, &["list", "--json"]));
    let rows = list.as_array().expect("list");
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows.iter().all(|v| v["status"] == "ready"), "{list}");
    for (i, v) in [(0, &a), (1, &b)] {
        let hits = json(&vclip(
            &lib,
            &model,
            &["search", &format!("number{i}"), "--json"],
        ));
        assert_eq!(top_path(&hits), v.to_str().expect("utf-8"), "{hits}");
    }
    run("umount", &[disk.to_str().expect("utf-8")]);
}
