//! `vclip probe`, `frames`, `subtitles`, `thumbnail`: data on stdout, errors on stderr naming the
//! file and the reason, a non-zero exit when some file failed, and the other files still done.

use std::path::Path;
use std::process::{Command, Output};

use vclip_testkit::{audio_only, still_image, testsrc};

use crate::cli_library::numbers;

fn vclip(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(args)
        .output()
        .expect("run vclip")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `vclip WORDS… FILE ARGS…`.
fn vclip_on(words: &[&str], file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(words)
        .arg(file)
        .args(args)
        .output()
        .expect("run vclip")
}

/// `vclip frames FILE --at AT --out OUT`.
fn frames(file: &Path, at: &str, out: &Path) -> Output {
    vclip(&[
        os("frames"),
        file.as_os_str(),
        os("--at"),
        os(at),
        os("--out"),
        out.as_os_str(),
    ])
}

/// The JSON on stdout of a command that succeeded.
fn json_of(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn probe_reports_good_files_and_names_bad_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = testsrc(dir.path(), "good clip.mp4", "320x240", "25", 2.0);
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    let noise = dir.path().join("noise.mp4");
    std::fs::write(&noise, vec![0x5a; 4096]).expect("write");

    let out = vclip(&[
        os("probe"),
        good.as_os_str(),
        empty.as_os_str(),
        noise.as_os_str(),
        os("--json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "some files failed: exit 1");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let items = json.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["video"]["width"], 320);
    assert_eq!(items[0]["video"]["avg_frame_rate"], 25.0);
    assert_eq!(items[0]["duration_s"], 2.0);
    assert!(items[1]["error"].as_str().expect("error").contains("empty"));
    assert!(items[2]["error"]
        .as_str()
        .expect("error")
        .contains("not a media file"));
    let err = stderr(&out);
    assert!(
        err.contains("empty.mp4") && err.contains("noise.mp4"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let out = vclip(&[os("probe"), good.as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("h264") && text.contains("320x240"), "{text}");
}

#[test]
fn unreadable_file_gets_permission_denied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "secret.mp4", "160x120", "30", 1.0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&video, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        // Root reads any file, so as root run vclip as `nobody` (setpriv, util-linux).
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let out = if root {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod dir");
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_vclip"))
                .arg("probe")
                .arg(&video)
                .output()
                .expect("setpriv (util-linux) runs")
        } else {
            vclip(&[os("probe"), video.as_os_str()])
        };
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("secret.mp4") && err.contains("permission denied"),
            "{err}"
        );
    }
}

#[test]
fn frames_writes_the_thirty_frames_of_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "v.mp4", "640x360", "25", 2.5);
    let out_dir = dir.path().join("frames out");
    let out = frames(&video, "2.2", &out_dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed.len(), 30);
    // The last second is half video, half black padding: say so.
    assert!(stderr(&out).contains("black padding"), "{}", stderr(&out));
    let first = vclip_media::probe(Path::new(&listed[0])).expect("PNG probes");
    let v = first.video.expect("image");
    assert_eq!((v.width, v.height, v.codec.as_str()), (224, 224, "png"));

    let out = frames(&video, "9", &out_dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("past the end"), "{}", stderr(&out));
}

#[test]
fn subtitles_and_thumbnail_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "talk.mp4", "320x240", "30", 2.0);
    std::fs::write(
        dir.path().join("talk.srt"),
        "1\n00:00:00,200 --> 00:00:01,000\nhello there\n",
    )
    .expect("write");
    let json = json_of(&vclip_on(&["subtitles"], &video, &["--json"]));
    assert_eq!(json[0]["cues"][0]["text"], "hello there");
    assert_eq!(json[0]["cues"][0]["start_s"], 0.2);

    let thumb = dir.path().join("t.jpg");
    let at = ["--at", "1", "--out", thumb.to_str().expect("utf-8")];
    let out = vclip_on(&["thumbnail"], &video, &at);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(&std::fs::read(&thumb).expect("jpeg")[..2], &[0xFF, 0xD8]);
}

/// `vclip frames FILE --at 0` fails (exit 1) and says `message` on stderr.
fn refused_by_frames(file: &Path, message: &str) {
    let out = frames(file, "0", file.parent().expect("a folder"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(message), "{}", stderr(&out));
}

#[test]
fn audio_only_and_still_image_are_refused_by_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = audio_only(dir.path(), "song.mp4");
    refused_by_frames(&audio, "song.mp4: no video stream (audio only)");
    let still = still_image(dir.path(), "photo.jpg");
    refused_by_frames(&still, "photo.jpg: a still image, not a video");
}

#[test]
fn bench_decode_reports_a_ratio_to_the_ffmpeg_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "b.mp4", "640x360", "30", 2.0);
    let out = vclip_on(&["bench", "decode"], &video, &["--runs", "1", "--json"]);
    let json = json_of(&out);
    assert_eq!(json["frames"], 60);
    let ratio = json["ratio"].as_f64().expect("ratio");
    let ours = json["vclip_fps"].as_f64().expect("fps");
    let theirs = json["ffmpeg_cli_fps"].as_f64().expect("fps");
    assert!((ratio - ours / theirs).abs() < 1e-9 && ratio > 0.0);
    assert!(json["peak_rss_mb"].as_f64().expect("rss") > 1.0);
}

#[test]
fn bench_import_reports_the_median_ratio_to_decode_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "i.mp4", "320x240", "30", 2.0);
    let args = ["--preset", "tiny", "--runs", "2", "--json"];
    let json = json_of(&vclip_on(&["bench", "import"], &video, &args));
    assert_eq!(json["video_s"], 2.0);
    assert_eq!(json["runs"], 2);
    assert_eq!(json["random_weights"], true);
    let ratios = numbers(&json["ratios"]);
    assert_eq!(ratios.len(), 2);
    let ratio = json["ratio_to_decode"].as_f64().expect("ratio");
    assert!(ratios.contains(&ratio), "{ratio} not one of {ratios:?}");
    let (import, decode) = (
        json["import_video_s_per_s"].as_f64().expect("import"),
        json["decode_video_s_per_s"].as_f64().expect("decode"),
    );
    assert!((ratio - import / decode).abs() < 1e-9 && ratio > 0.0);
}
