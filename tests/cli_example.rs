//! Find by example from the command line: `vclip search --image FILE` and `vclip search --like
//! VIDEO --at S`, for both families, with tiny **random-weight** models (named as such: they
//! prove the plumbing and the exact placement, not the quality of a trained model).
//!
//! The library has a slideshow (a different picture every second), a remix that shows four of
//! its seconds after other footage, and two unrelated videos.

use std::path::{Path, PathBuf};

use vclip_testkit::{ffmpeg, lavfi, SLIDES};

use crate::cli_library::{
    init_random, json, path_ends_with, success, tiny_model, vclip, FRACTAL, PATTERN,
};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 test path")
}

/// `dir/remix.mp4`: 4 s of [`PATTERN`], then seconds 2–6 of `slides` (so slide second 3 is at
/// remix second 5), then 2 s of [`FRACTAL`].
fn remix(dir: &Path, slides: &Path) -> PathBuf {
    let out = dir.join("remix.mp4");
    let graph = "[0:v]fps=25,scale=160:120,setsar=1,format=yuv420p[a];\
                 [1:v]trim=start=2:end=6,setpts=PTS-STARTPTS,fps=25,setsar=1,format=yuv420p[b];\
                 [2:v]fps=25,scale=160:120,setsar=1,format=yuv420p[c];\
                 [a][b][c]concat=n=3:v=1:a=0[v]";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-t",
        "4",
        "-i",
        PATTERN,
        "-i",
        s(slides),
        "-f",
        "lavfi",
        "-t",
        "2",
        "-i",
        FRACTAL,
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        s(&out),
    ]);
    out
}

/// A folder of videos for the example searches: `(videos, slides)`.
fn videos(dir: &Path) -> (PathBuf, PathBuf) {
    let videos = dir.join("videos");
    let slides = lavfi(&videos, "slides.mp4", SLIDES, 12);
    lavfi(&videos, "pattern.mp4", PATTERN, 6);
    lavfi(&videos, "fractal.mp4", FRACTAL, 6);
    remix(&videos, &slides);
    (videos, slides)
}

fn hits(o: &std::process::Output) -> Vec<serde_json::Value> {
    success(o);
    json(o).as_array().expect("an array of hits").clone()
}

fn start(h: &serde_json::Value) -> f64 {
    h["start_s"].as_f64().expect("start_s")
}

fn examples_are_found(model: &Path) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (videos, slides) = videos(tmp.path());
    let lib = tmp.path().join("lib");
    success(&vclip(&lib, model, &["import", s(&videos)]));

    // A frame grabbed at 7.5 s, resized and re-encoded as a JPEG of quality about 70.
    let grab = tmp.path().join("grab.jpg");
    ffmpeg(&[
        "-ss",
        "7.5",
        "-i",
        s(&slides),
        "-frames:v",
        "1",
        "-vf",
        "scale=240:180",
        "-q:v",
        "8",
        s(&grab),
    ]);
    let found = hits(&vclip(
        &lib,
        model,
        &["search", "--image", s(&grab), "--json"],
    ));
    let top = &found[0];
    assert!(path_ends_with(top, "slides.mp4"), "{found:?}");
    assert!((start(top) - 7.0).abs() <= 1.0, "{top}");
    assert_eq!(top["signals"], serde_json::json!(["example"]), "{top}");

    // More like second 3 of the slideshow: that moment first, then the remix where it appears.
    let like = [
        "search",
        "--like",
        s(&slides),
        "--at",
        "3",
        "--duration",
        "2",
        "--json",
    ];
    let found = hits(&vclip(&lib, model, &like));
    assert!(path_ends_with(&found[0], "slides.mp4"), "{found:?}");
    assert_eq!(start(&found[0]), 3.0, "{found:?}");
    let other = found
        .iter()
        .find(|h| !path_ends_with(h, "slides.mp4"))
        .expect("another video");
    assert!(path_ends_with(other, "remix.mp4"), "{found:?}");
    assert!((start(other) - 5.0).abs() <= 1.0, "{other}");
    let scores: Vec<f64> = found
        .iter()
        .map(|h| h["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.iter().all(|&x| x <= scores[0] + 1e-9), "{scores:?}");

    // Bad examples: clear errors that name what is wrong.
    let notes = tmp.path().join("notes.png");
    std::fs::write(&notes, "a shopping list").expect("write");
    let o = vclip(&lib, model, &["search", "--image", s(&notes)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("notes.png") && err.contains("picture"),
        "{err}"
    );
    let o = vclip(&lib, model, &["search", "--like", s(&slides), "--at", "40"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("slides.mp4") && err.contains("outside the video"),
        "{err}"
    );
    let o = vclip(
        &lib,
        model,
        &["search", "--like", "no-such-video", "--at", "1"],
    );
    assert!(!o.status.success());
}

#[test]
fn find_by_example_with_videoclip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    examples_are_found(&tiny_model(tmp.path()));
}

#[test]
fn find_by_example_with_clip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = init_random(
        &tmp.path().join("clip"),
        &["--family", "clip", "--preset", "tiny"],
    );
    examples_are_found(&model);
}
