//! Text on screen from the command line: `vclip ocr FILE`, the import's screen-text stage,
//! `vclip ocr` over a library, and search by the words shown. Videos are generated with text
//! drawn at known times (ffmpeg `drawtext`, DejaVu Sans, Serif and Sans Mono at several sizes,
//! and a scrolling terminal-like screen); Tesseract is Debian's, with its English pack.

use std::path::{Path, PathBuf};

use vclip_testkit::{ffmpeg, lavfi};

use crate::cli_library::{json, success, tiny_model, vclip, FRACTAL};

const FONTS: &str = "/usr/share/fonts/truetype/dejavu";

/// Phrases of the slideshow: (text, font, size, first second, last second + 1).
const PHRASES: [(&str, &str, u32, f64, f64); 3] = [
    (
        "Preheat the oven to 180 degrees",
        "DejaVuSans.ttf",
        44,
        1.0,
        4.0,
    ),
    (
        "Whisk the eggs until fluffy",
        "DejaVuSerif.ttf",
        30,
        5.0,
        8.0,
    ),
    (
        "Fold in the flour gently",
        "DejaVuSansMono.ttf",
        22,
        9.0,
        12.0,
    ),
];

/// Lines of the terminal, scrolling up one line (36 px) per second from the bottom.
const TERMINAL: [&str; 6] = [
    "cargo build --release",
    "Compiling vclip engine",
    "Running unit tests now",
    "All checks passed today",
    "Packaging the installer",
    "Upload finished cleanly",
];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 test path")
}

/// `dir/slides.mp4`: 1280×720, 13 s, each phrase of [`PHRASES`] shown over its seconds.
fn slides(dir: &Path) -> PathBuf {
    let draws: Vec<String> = PHRASES
        .iter()
        .enumerate()
        .map(|(i, (text, font, size, from, to))| {
            format!(
                "drawtext=fontfile={FONTS}/{font}:text='{text}':fontsize={size}:fontcolor=white:\
                 x={}:y={}:enable='gte(t,{from})*lt(t,{to})'",
                80 + 120 * i,
                120 + 180 * i
            )
        })
        .collect();
    let out = dir.join("slides.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=0x1d2b3a:s=1280x720:r=25",
        "-t",
        "13",
        "-vf",
        &draws.join(","),
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

/// `dir/terminal.mp4`: 960×540, 12 s of a dark terminal whose lines scroll up: line `i` enters
/// at the bottom at second `i + 1` and moves up a line a second.
fn terminal(dir: &Path) -> PathBuf {
    let text = dir.join("terminal.txt");
    std::fs::write(&text, TERMINAL.join("\n")).expect("write");
    let out = dir.join("terminal.mp4");
    let draw = format!(
        "drawtext=fontfile={FONTS}/DejaVuSansMono.ttf:textfile={}:fontsize=26:fontcolor=0xd0ffd0:\
         line_spacing=10:x=40:y=540-36*floor(t):enable='gte(t,1)'",
        s(&text)
    );
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=960x540:r=25",
        "-t",
        "12",
        "-vf",
        &draw,
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

/// `1 - edit distance / length`, over characters.
fn accuracy(expected: &str, got: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (expected.chars().collect(), got.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f64 / a.len().max(1) as f64
}

fn ocr_json(file: &Path) -> serde_json::Value {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(["ocr", s(file), "--json"])
        .output()
        .expect("run vclip");
    success(&o);
    json(&o)
}

/// The cue best matching `text` and its character accuracy.
fn best<'a>(cues: &'a [serde_json::Value], text: &str) -> (&'a serde_json::Value, f64) {
    cues.iter()
        .map(|c| (c, accuracy(text, c["text"].as_str().expect("text"))))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("some cue")
}

#[test]
fn text_drawn_at_known_times_is_read_there_and_found_by_search() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let videos = tmp.path().join("videos");
    std::fs::create_dir_all(&videos).expect("mkdir");
    let slides = slides(&videos);
    let terminal = terminal(&videos);
    let fractal = lavfi(&videos, "fractal.mp4", FRACTAL, 6);

    // Each phrase is one cue at its time (±1 s), read within a few characters.
    let mut total = (0.0, 0usize);
    let r = ocr_json(&slides);
    let cues = r["cues"].as_array().expect("cues");
    for (text, font, size, from, to) in PHRASES {
        let (c, acc) = best(cues, text);
        let (start, end) = (
            c["start_s"].as_f64().expect("start"),
            c["end_s"].as_f64().expect("end"),
        );
        assert!(
            (start - from).abs() <= 1.0 && (end - to).abs() <= 1.0,
            "{text} ({font} {size}): {c}"
        );
        assert!(acc >= 0.9, "{text} read as {c}");
        total = (total.0 + acc, total.1 + 1);
    }
    // The picture changes only when a phrase comes or goes: most frames are not read again.
    assert!(r["read"].as_u64().expect("read") <= 8, "{r}");
    let r = ocr_json(&terminal);
    let cues = r["cues"].as_array().expect("cues");
    for (i, line) in TERMINAL.iter().enumerate() {
        let (c, acc) = best(cues, line);
        let start = c["start_s"].as_f64().expect("start");
        assert!((start - (i as f64 + 1.0)).abs() <= 1.0, "{line}: {c}");
        assert!(acc >= 0.85, "{line} read as {c}");
        total = (total.0 + acc, total.1 + 1);
    }
    eprintln!(
        "character accuracy on the rendered text: {:.1} % over {} lines",
        100.0 * total.0 / total.1 as f64,
        total.1
    );
    let r = ocr_json(&fractal);
    assert_eq!(r["cues"], serde_json::json!([]), "no text, no cue: {r}");

    // A missing language pack is named; the import carries on without the stage.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(["ocr", s(&slides), "--languages", "xyz"])
        .output()
        .expect("run vclip");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("xyz.traineddata"));

    // The import reads the screen text; search finds a phrase at its time, by its words.
    let model = tiny_model(tmp.path());
    let lib = tmp.path().join("lib");
    let o = vclip(&lib, &model, &["import", s(&videos), "--json"]);
    success(&o);
    let report = json(&o);
    assert_eq!(
        report["screen_text"]["read"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    let o = vclip(&lib, &model, &["search", "whisk eggs fluffy", "--json"]);
    success(&o);
    let hits = json(&o);
    let top = &hits[0];
    assert!(
        top["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("slides.mp4")),
        "{hits}"
    );
    assert!(top["signals"].to_string().contains("screen"), "{top}");
    assert!(
        top["snippet"]
            .as_str()
            .is_some_and(|t| t.contains("fluffy")),
        "{top}"
    );
    assert!(
        top["start_s"].as_f64().expect("start") <= 6.0
            && top["end_s"].as_f64().expect("end") >= 7.0,
        "{top}"
    );

    // A library imported without the stage: `vclip ocr` reads what is missing, once.
    let lib2 = tmp.path().join("lib2");
    let o = vclip(
        &lib2,
        &model,
        &["import", s(&videos), "--no-screen-text", "--json"],
    );
    success(&o);
    assert_eq!(json(&o)["screen_text"], serde_json::Value::Null);
    let o = vclip(&lib2, &model, &["search", "cargo build release", "--json"]);
    assert!(!json(&o).to_string().contains("screen"));
    let o = vclip(&lib2, &model, &["ocr", "--json"]);
    success(&o);
    let r = json(&o);
    assert_eq!(r["read"].as_array().map(Vec::len), Some(3), "{r}");
    let o = vclip(&lib2, &model, &["search", "cargo build release", "--json"]);
    success(&o);
    let hits = json(&o);
    assert!(
        hits[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("terminal.mp4")),
        "{hits}"
    );
    assert!(hits[0]["signals"].to_string().contains("screen"), "{hits}");
    let o = vclip(&lib2, &model, &["ocr", "--json"]);
    success(&o);
    let again = json(&o);
    assert_eq!(
        (
            again["read"].as_array().map(Vec::len),
            again["up_to_date"].as_u64()
        ),
        (Some(0), Some(3)),
        "{again}"
    );
}
