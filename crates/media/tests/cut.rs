//! Cutting a moment into its own file: copy from a keyframe, exact re-encode, and the refusals.
//! The source is generated at test time: 10 s of a moving pattern at 25 fps with a keyframe
//! every 2 s, and a tone.

use std::path::{Path, PathBuf};

use vclip_media::{cut, probe, CutMode, MediaErrorKind};
use vclip_testkit::{cli_rgb_frames, ffmpeg, mean_abs_diff};

/// Bytes of one 32x24 RGB frame (the size frames are compared at).
const SMALL: usize = 32 * 24 * 3;

fn source(dir: &Path) -> PathBuf {
    let path = dir.join("source.mp4");
    let p = path.to_str().expect("utf-8");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=10",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-bf",
        "2",
        "-c:a",
        "aac",
        "-shortest",
        p,
    ]);
    path
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    cli_rgb_frames(path, "scale=32:24")
        .chunks_exact(SMALL)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The index of the source frame nearest to `frame`.
fn nearest(frame: &[u8], source: &[Vec<u8>]) -> usize {
    (0..source.len())
        .min_by(|&a, &b| {
            mean_abs_diff(frame, &source[a]).total_cmp(&mean_abs_diff(frame, &source[b]))
        })
        .expect("frames")
}

/// What ffprobe says of `path`'s video stream: (frames counted by decoding, duration in s).
fn ffprobe(path: &Path) -> (u64, f64) {
    let o = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames:format=duration"])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .expect("ffprobe (scripts/deps.sh installs ffmpeg)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The stream's line, then the container's.
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines().map(str::trim);
    let count = lines.next().and_then(|l| l.parse().ok());
    let seconds = lines.next().and_then(|l| l.parse().ok());
    (count.expect("frames"), seconds.expect("duration"))
}

/// Nothing but `keep` in `dir`: no temporary file left behind.
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}

/// A copy holds the source's frames from its declared start to its declared end, which is at
/// or after the end asked for (by at most a few frames: pictures B-frames refer to).
fn assert_copy(got: &[Vec<u8>], source: &[Vec<u8>], r: &vclip_media::CutReport, end_s: f64) {
    let (first, end) = (
        (r.start_s * 25.0).round() as usize,
        (r.end_s * 25.0).round() as usize,
    );
    assert!(r.end_s >= end_s - 1e-6 && r.end_s <= end_s + 0.2, "{r:?}");
    assert_eq!(got.len() as u64, r.frames, "{r:?}");
    assert_eq!(got.len(), end - first, "{r:?}");
    for (i, f) in got.iter().enumerate() {
        assert_eq!(nearest(f, source), first + i, "frame {i} of {r:?}");
    }
}

#[test]
fn cuts_copy_from_a_keyframe_or_reencode_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = source(tmp.path());
    let src_frames = frames(&src);
    assert_eq!(src_frames.len(), 250);

    // On a keyframe (4 s), auto copies: frames 100..150, the same pictures.
    let out = tmp.path().join("copy.mp4");
    let r = cut(&src, &out, 4.0, 6.0, CutMode::Auto, false).expect("cut");
    assert_eq!(r.mode, CutMode::Copy);
    assert!((r.start_s - 4.0).abs() < 1e-6, "{r:?}");
    let got = frames(&out);
    assert_copy(&got, &src_frames, &r, 6.0);
    let info = probe(&out).expect("probe");
    assert!(info.has_audio, "the audio is kept");
    let duration = info.duration_s.expect("duration");
    assert!(
        (duration - (r.end_s - r.start_s)).abs() < 0.1,
        "{info:?} {r:?}"
    );

    // Mid-GOP (5 s): auto re-encodes, exact to the frame: source frames 125..150.
    let out = tmp.path().join("exact.mp4");
    let r = cut(&src, &out, 5.0, 6.0, CutMode::Auto, false).expect("cut");
    assert_eq!(r.mode, CutMode::Reencode);
    assert!((r.start_s - 5.0).abs() <= 0.04 / 2.0 + 1e-6, "{r:?}");
    let got = frames(&out);
    assert_eq!(got.len(), 25, "{r:?}");
    assert_eq!(r.frames, 25);
    assert_eq!(nearest(&got[0], &src_frames), 125);
    assert_eq!(nearest(&got[24], &src_frames), 149);
    // ffprobe agrees with the report: its frames, and a duration of one second.
    let (probed, seconds) = ffprobe(&out);
    assert_eq!(probed, r.frames, "{r:?}");
    assert!((seconds - 1.0).abs() < 0.05, "{seconds} s: {r:?}");
    assert!(mean_abs_diff(&got[0], &src_frames[125]) < 4.0);
    assert!(probe(&out).expect("probe").has_audio);

    // Mid-GOP with copy forced: from the keyframe before (4 s), which the report declares.
    let out = tmp.path().join("forced.mkv");
    let r = cut(&src, &out, 5.0, 6.0, CutMode::Copy, false).expect("cut");
    assert_eq!(r.mode, CutMode::Copy);
    assert!((r.start_s - 4.0).abs() < 1e-6, "{r:?}");
    let got = frames(&out);
    assert_copy(&got, &src_frames, &r, 6.0);
    assert_eq!(nearest(&got[0], &src_frames), 100);
    let (probed, seconds) = ffprobe(&out);
    assert_eq!(probed, r.frames, "{r:?}");
    assert!(
        (seconds - (r.end_s - r.start_s)).abs() < 0.1,
        "{seconds} s: {r:?}"
    );

    only(
        tmp.path(),
        &["source.mp4", "copy.mp4", "exact.mp4", "forced.mkv"],
    );
}

#[test]
fn bad_cuts_are_refused_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = source(tmp.path());
    let out = tmp.path().join("out.mp4");
    let kind =
        |r: Result<vclip_media::CutReport, vclip_media::MediaError>| r.expect_err("refused").kind;
    // Past the end, before the start, an empty span.
    assert!(matches!(
        kind(cut(&src, &out, 9.0, 12.0, CutMode::Auto, false)),
        MediaErrorKind::OutOfRange { .. }
    ));
    assert!(matches!(
        kind(cut(&src, &out, -1.0, 2.0, CutMode::Auto, false)),
        MediaErrorKind::OutOfRange { .. }
    ));
    assert!(matches!(
        kind(cut(&src, &out, 3.0, 3.0, CutMode::Auto, false)),
        MediaErrorKind::EmptySpan { .. }
    ));
    // An existing file is kept unless asked to replace it.
    std::fs::write(&out, b"mine").expect("write");
    let err = cut(&src, &out, 1.0, 2.0, CutMode::Auto, false).expect_err("exists");
    assert!(matches!(err.kind, MediaErrorKind::Exists));
    assert!(err.to_string().contains("out.mp4"), "{err}");
    assert_eq!(std::fs::read(&out).expect("read"), b"mine");
    cut(&src, &out, 1.0, 2.0, CutMode::Auto, true).expect("replaced");
    assert!(probe(&out).is_ok());
    // An output the muxer cannot write (no such folder): a clear error, nothing left.
    let bad = tmp.path().join("missing").join("x.mp4");
    assert!(cut(&src, &bad, 1.0, 2.0, CutMode::Auto, false).is_err());
    only(tmp.path(), &["source.mp4", "out.mp4"]);
}
