//! Test media made at test time with the ffmpeg CLI (lavfi sources), so no big binaries are
//! committed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ffmpeg -v error -nostdin ARGS…`: its stdout; a panic with `what` and its stderr when
/// it fails.
fn run_ffmpeg(args: &[&OsStr], what: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is installed (scripts/deps.sh)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {err}");
    out.stdout
}

/// A lavfi source showing a different still picture every second: stripes whose frequencies and
/// colours are functions of the second (`geq` of `floor(T)`), 160×120 at 25 fps. Each second is
/// one picture, so a frame names its second (searching by example, finding shared footage).
pub const SLIDES: &str = "nullsrc=size=160x120:rate=25,format=yuv420p,\
    geq=lum='128+100*sin(X/(1.5+mod(floor(T)*7\\,11)))*cos(Y/(2+mod(floor(T)*5\\,13)))':\
    cb='128+90*sin(floor(T)*1.7)':cr='128+90*cos(floor(T)*2.3)'";

/// Runs `ffmpeg -v error -y -nostdin ARGS…` and panics with its stderr when it fails.
pub fn ffmpeg(args: &[&str]) {
    let all: Vec<&OsStr> = ["-y"].iter().chain(args).map(OsStr::new).collect();
    run_ffmpeg(&all, &format!("ffmpeg {args:?}"));
}

/// `path` as an ffmpeg argument.
fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 test path")
}

/// An H.264 test pattern (`testsrc2`, moving content) of `size` at `rate` for `seconds`.
pub fn testsrc(dir: &Path, name: &str, size: &str, rate: &str, seconds: f64) -> PathBuf {
    testsrc_with(dir, name, size, rate, seconds, &[])
}

/// [`testsrc`] with extra output options (filters, muxer flags, bitstream filters).
pub fn testsrc_with(
    dir: &Path,
    name: &str,
    size: &str,
    rate: &str,
    seconds: f64,
    extra: &[&str],
) -> PathBuf {
    let src = format!("testsrc2=size={size}:rate={rate}");
    lavfi_with(dir, name, &src, seconds, extra)
}

/// `dir/name` (the folder is created): an H.264 video (yuv420p, x264 ultrafast) of `seconds`
/// from the lavfi `source` (`color=c=red:size=160x120:rate=10`, `mandelbrot=…`); the container
/// follows the name's extension (`.mp4`, `.mkv`).
pub fn lavfi(dir: &Path, name: &str, source: &str, seconds: impl Into<f64>) -> PathBuf {
    lavfi_with(dir, name, source, seconds, &[])
}

/// [`lavfi`] with `srt` written beside the video (`NAME.srt`), as a sidecar subtitle file.
pub fn lavfi_srt(
    dir: &Path,
    name: &str,
    source: &str,
    seconds: impl Into<f64>,
    srt: &str,
) -> PathBuf {
    let path = lavfi(dir, name, source, seconds);
    std::fs::write(path.with_extension("srt"), srt).expect("write srt");
    path
}

/// [`lavfi`] with extra output options (after the codec options, so they may override them).
pub fn lavfi_with(
    dir: &Path,
    name: &str,
    source: &str,
    seconds: impl Into<f64>,
    extra: &[&str],
) -> PathBuf {
    let mut args = vec![
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    lavfi_args(dir, name, source, seconds.into(), &args)
}

/// `dir/name` (the folder is created): `seconds` of the lavfi `source` encoded with exactly the
/// output options `args` (pixel format, codec, muxer…), for what [`lavfi`] does not make.
pub fn lavfi_args(dir: &Path, name: &str, source: &str, seconds: f64, args: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join(name);
    let secs = seconds.to_string();
    let mut all = vec!["-f", "lavfi", "-i", source, "-t", &secs];
    all.extend_from_slice(args);
    all.push(utf8(&path));
    ffmpeg(&all);
    path
}

/// `dir/name`: one second of a 440 Hz tone in AAC, no video stream.
pub fn audio_only(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-c:a",
        "aac",
        utf8(&path),
    ]);
    path
}

/// `dir/name`: a single 64×48 test picture, in the format the name's extension says (`.png`,
/// `.jpg`).
pub fn still_image(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48",
        "-frames:v",
        "1",
        utf8(&path),
    ]);
    path
}

/// `out`: `video`'s streams copied, with `rotate=90` metadata on the video stream (a display
/// matrix: players and decoders turn the picture).
pub fn rotate90(video: &Path, out: &Path) {
    ffmpeg(&[
        "-i",
        utf8(video),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        utf8(out),
    ]);
}

/// `out`: `video`'s streams copied with the subtitle file `srt` muxed in as a track of
/// `codec` (`mov_text`, `srt`, `ass`, `webvtt`…); `extra` output options come before `out`.
pub fn mux_subtitles(video: &Path, srt: &Path, codec: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "-i",
        utf8(video),
        "-i",
        utf8(srt),
        "-map",
        "0",
        "-map",
        "1",
        "-c:v",
        "copy",
        "-c:s",
        codec,
    ];
    args.extend_from_slice(extra);
    args.push(utf8(out));
    ffmpeg(&args);
}

/// SubRip text of `cues` (`(start_s, end_s, text)`): numbered from 1, times to the
/// millisecond, each cue followed by a blank line.
pub fn srt<S: AsRef<str>>(cues: &[(f64, f64, S)]) -> String {
    let time = |s: f64| {
        let ms = (s * 1000.0).round() as u64;
        let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
        format!("{h:02}:{m:02}:{s:02},{:03}", ms % 1000)
    };
    cues.iter()
        .enumerate()
        .map(|(i, (a, b, text))| {
            format!(
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                time(*a),
                time(*b),
                text.as_ref()
            )
        })
        .collect()
}

/// The eight colours of the fine-tuning libraries ([`colour_library`]).
pub const COLOURS: [&str; 8] = [
    "red", "green", "blue", "yellow", "purple", "orange", "white", "black",
];

/// `dir/videos`, a fine-tuning library: for each of [`COLOURS`] and each `(name, filter)` of
/// `patterns`, `<colour>_<name>.mp4`, 4 s of the colour at 160×120 and 10 fps with the lavfi
/// `filter` drawn over it (`",drawbox=…"`, or `""` for the plain colour), and beside it the
/// subtitles `cues(i, colour, name)` of the `i`-th video (counted from 0 in that order).
pub fn colour_library(
    dir: &Path,
    patterns: &[(&str, &str)],
    cues: impl Fn(usize, &str, &str) -> String,
) -> PathBuf {
    let dir = dir.join("videos");
    let videos = COLOURS
        .iter()
        .flat_map(|c| patterns.iter().map(move |p| (*c, *p)));
    for (i, (c, (p, filter))) in videos.enumerate() {
        let source = format!("color=c={c}:size=160x120:rate=10{filter}");
        lavfi_srt(&dir, &format!("{c}_{p}.mp4"), &source, 4, &cues(i, c, p));
    }
    dir
}

/// `count` back-to-back subtitle cues of half a second each from 0 s, the `k`-th saying
/// `text(k)` (SubRip, as [`srt`] writes it).
pub fn half_second_cues(count: usize, text: impl Fn(usize) -> String) -> String {
    let half = |k: usize| k as f64 / 2.0;
    srt(&(0..count)
        .map(|k| (half(k), half(k + 1), text(k)))
        .collect::<Vec<_>>())
}

/// What the ffmpeg CLI outputs for `-vf FILTER -pix_fmt rgb24 -f rawvideo`: all frames, RGB24.
pub fn cli_rgb_frames(input: &Path, filter: &str) -> Vec<u8> {
    let head = ["-threads", "0", "-i"].map(OsStr::new);
    let tail = ["-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"].map(OsStr::new);
    let args = [&head[..], &[input.as_os_str()], &tail].concat();
    run_ffmpeg(&args, "ffmpeg reference decode")
}

/// Mean absolute difference of two equally long byte slices, in units of 1/255.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    // Exact: a sum of at most 2^53 / 255 integers.
    let total: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum();
    total / a.len() as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn srt_writes_subrip() {
        let cues = [(0.5, 2.4, "one"), (3723.25, 3725.0, "two\nlines")];
        assert_eq!(
            super::srt(&cues),
            "1\n00:00:00,500 --> 00:00:02,400\none\n\n\
             2\n01:02:03,250 --> 01:02:05,000\ntwo\nlines\n\n"
        );
    }
}
