//! Test media made at test time with the ffmpeg CLI (lavfi sources), so no big binaries are
//! committed. Shared by the media crate's tests and the workspace's end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ffmpeg -v error -y ARGS…` and panics with its stderr when it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is installed (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// An H.264 video (yuv420p, x264 ultrafast) of `seconds` from the lavfi `source`
/// (`color=c=red:size=160x120:rate=10`, `mandelbrot=…`).
pub fn lavfi(dir: &Path, name: &str, source: &str, seconds: f64) -> PathBuf {
    lavfi_with(dir, name, source, seconds, &[])
}

/// [`lavfi`] with extra output options.
pub fn lavfi_with(dir: &Path, name: &str, source: &str, seconds: f64, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let secs = seconds.to_string();
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        source,
        "-t",
        &secs,
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    args.push(path.to_str().expect("utf-8 test path"));
    ffmpeg(&args);
    path
}

/// What the ffmpeg CLI outputs for `-vf FILTER -pix_fmt rgb24 -f rawvideo`: all frames, RGB24.
pub fn cli_rgb_frames(input: &Path, filter: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-threads", "0", "-i"])
        .arg(input)
        .args(["-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("the ffmpeg CLI is installed");
    assert!(
        out.status.success(),
        "ffmpeg reference decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Mean absolute difference of two equally long byte slices, in units of 1/255.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.len() as f64
}
