//! Tests of the plain functions behind the commands; no window is opened.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{probe_paths, resolve_library, LibraryError, ProbeResult};

/// A 1-second 64×48 H.264 video at 25 fps with an AAC audio track, made with the ffmpeg CLI.
fn make_video(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&path)
        .status()
        .expect("the ffmpeg CLI is needed to generate test videos (scripts/deps.sh installs it)");
    assert!(
        status.success(),
        "ffmpeg failed to generate {}",
        path.display()
    );
    path
}

#[test]
fn probe_files_reports_every_file_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let video = make_video(dir.path(), "a clip é.mp4");
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").expect("write empty file");
    let missing = dir.path().join("missing.mp4");

    let results = probe_paths(&[video.clone(), empty.clone(), missing.clone()]);

    let paths: Vec<&str> = results.iter().map(ProbeResult::path).collect();
    let want: Vec<String> = [&video, &empty, &missing]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, want);

    match &results[0] {
        ProbeResult::Ok { info, .. } => {
            let v = info.video.as_ref().expect("a video stream");
            assert_eq!((v.display_width, v.display_height), (64, 48));
            assert_eq!(v.codec, "h264");
            let fps = v.avg_frame_rate.expect("a frame rate");
            assert!((fps - 25.0).abs() < 0.01, "fps {fps}");
            let duration = info.duration_s.expect("a duration");
            assert!((duration - 1.0).abs() < 0.1, "duration {duration}");
            assert!(info.has_audio);
        }
        ProbeResult::Error(e) => panic!("the generated video failed to probe: {e:?}"),
    }
    for bad in &results[1..] {
        match bad {
            ProbeResult::Error(e) => {
                assert!(!e.message.is_empty());
                // The UI shows the path beside the reason; the reason must not repeat it.
                assert!(!e.message.contains(&e.path), "{e:?}");
            }
            ProbeResult::Ok { path, .. } => panic!("{path} should not probe"),
        }
    }
}

/// The UI relies on this exact shape: `{status: "ok", path, info}` or
/// `{status: "error", path, message}` (ui/src/api.ts).
#[test]
fn probe_results_serialize_to_the_shape_the_ui_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let video = make_video(dir.path(), "v.mp4");
    let missing = dir.path().join("nope.mp4");
    let json = serde_json::to_value(probe_paths(&[video, missing])).expect("serialize");

    let ok = &json[0];
    assert_eq!(ok["status"], "ok");
    assert!(ok["path"].as_str().is_some_and(|p| p.ends_with("v.mp4")));
    assert_eq!(ok["info"]["video"]["width"], 64);
    assert_eq!(ok["info"]["has_audio"], true);

    let err = json[1].as_object().expect("an object");
    let mut keys: Vec<&str> = err.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["message", "path", "status"]);
    assert_eq!(err["status"], "error");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn probe_files_of_nothing_is_nothing() {
    assert!(probe_paths(&[]).is_empty());
}

#[test]
fn library_folder_is_created_and_absolute() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wanted = dir.path().join("nested").join("library");
    let got = resolve_library(Some(wanted.clone())).expect("library");
    assert!(got.is_absolute());
    assert!(got.is_dir());
    assert_eq!(got, wanted.canonicalize().expect("canonical"));
    // Opening it again is fine.
    assert_eq!(resolve_library(Some(wanted)).expect("again"), got);
}

#[test]
fn library_that_is_a_file_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write");
    match resolve_library(Some(file.clone())) {
        Err(LibraryError::Create { path, .. }) => assert_eq!(path, file),
        other => panic!("expected a Create error, got {other:?}"),
    }
}
