//! `vclip search … --export edl|fcpxml|csv --out FILE`: found moments as editor timelines, on
//! generated videos at 29.97 and 25 fps and a tiny random-weight model (named as such).

use std::path::Path;
use std::process::Command;

use vclip_testkit::{lavfi_srt, lavfi_with};
use vclip_timeline::{FrameRate, Timecode};

use crate::cli_library::{json, path_ends_with, success, tiny_library, vclip, PATTERN};

/// The clips OpenTimelineIO reads from an EDL (at `fps`) or FCPXML file:
/// `[{name, start_s, duration_s, markers}]`; `None` when the reader is not fetched (a skip, or
/// a failure under `VCLIP_REQUIRE_TEST_ASSETS`, see `vclip_testkit::assets`).
fn otio_clips(file: &Path, fps: f64) -> Option<Vec<serde_json::Value>> {
    let venv = vclip_testkit::assets::fetched(
        "VCLIP_TEST_OTIO",
        "otio",
        |d| d.join("bin/python").is_file(),
        "OpenTimelineIO",
    )?;
    let script = vclip_testkit::workspace_root().join("tests/otio_read.py");
    let o = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(file)
        .arg(fps.to_string())
        .output()
        .expect("run python");
    assert!(
        o.status.success(),
        "OpenTimelineIO cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    Some(v.as_array().expect("clips").clone())
}

/// OpenTimelineIO finds each hit as a clip of its file, starting at the hit's start and as long
/// as the hit, within a frame (`frame_s`: the adapters round rates their own way).
fn assert_clips_match(clips: &[serde_json::Value], hits: &[serde_json::Value], frame_s: f64) {
    assert_eq!(clips.len(), hits.len(), "{clips:?}");
    for (c, h) in clips.iter().zip(hits) {
        let name = c["name"].as_str().expect("name");
        assert!(path_ends_with(h, name), "{name} vs {h}");
        let (start, end) = (
            h["start_s"].as_f64().expect("start"),
            h["end_s"].as_f64().expect("end"),
        );
        let (cs, cd) = (
            c["start_s"].as_f64().expect("start"),
            c["duration_s"].as_f64().expect("duration"),
        );
        assert!(
            (cs - start).abs() <= frame_s + 1e-6,
            "start {cs} vs {start}: {c}"
        );
        assert!(
            (cd - (end - start)).abs() <= 2.0 * frame_s + 1e-6,
            "length {cd} vs {}: {c}",
            end - start
        );
    }
}

/// The events of an EDL: (file, source in, source out, record in, record out), the times in
/// frames at `rate`.
fn edl_events(text: &str, rate: FrameRate) -> Vec<(String, [u64; 4])> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() == 8 && f[0].len() == 3 && f[0].bytes().all(|b| b.is_ascii_digit()) {
            let times = std::array::from_fn(|j| {
                Timecode::parse(f[4 + j], rate)
                    .unwrap_or_else(|e| panic!("{e} in {l}"))
                    .frames
            });
            let name = lines[i + 1]
                .strip_prefix("* FROM CLIP NAME: ")
                .unwrap_or_else(|| panic!("no clip name after {l}"));
            out.push((name.to_string(), times));
        }
    }
    out
}

#[test]
fn search_results_export_as_edl_fcpxml_and_csv() {
    let (tmp, model, lib) = tiny_library();
    let videos = tmp.path().join("videos");
    let cue = "1\n00:00:05,000 --> 00:00:08,000\npour the water into the pot\n";
    // 29.97 fps (drop-frame timecode) with the cue, and 25 fps.
    let ntsc = lavfi_srt(
        &videos,
        "kitchen.mp4",
        "testsrc2=size=160x120:rate=30000/1001",
        12,
        cue,
    );
    lavfi_with(&videos, "garden & shed.mp4", PATTERN, 8, &[]);
    success(&vclip(
        &lib,
        &model,
        &["import", videos.to_str().expect("utf-8")],
    ));

    let out = tmp.path().join("moments.edl");
    let search = |format: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "search",
            "pour the water",
            "--json",
            "--export",
            format,
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        vclip(&lib, &model, &args)
    };
    let o = search("edl", &out, &[]);
    success(&o);
    let hits = json(&o);
    let hits = hits.as_array().expect("results");
    assert!(!hits.is_empty());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("wrote {} moment", hits.len())),
        "{stderr}"
    );

    // The EDL: one event per result, at the most common rate of the sources, source times
    // at the results' seconds, cut end to end from 01:00:00.
    let text = std::fs::read_to_string(&out).expect("edl written");
    assert!(text.starts_with("TITLE: VClip: pour the water\n"), "{text}");
    let ntsc_rate = FrameRate::new(30000, 1001).expect("rate");
    let pal = FrameRate::new(25, 1).expect("rate");
    let rate = if text.contains("FCM: DROP FRAME\n") {
        ntsc_rate
    } else {
        pal
    };
    let events = edl_events(&text, rate);
    assert_eq!(events.len(), hits.len(), "{text}");
    let mut record = None;
    for ((name, [si, so, ri, ro]), hit) in events.iter().zip(hits) {
        assert!(path_ends_with(hit, name), "{name} vs {hit}");
        let (start, end) = (
            hit["start_s"].as_f64().expect("start"),
            hit["end_s"].as_f64().expect("end"),
        );
        assert_eq!(*si, rate.frame_at(start), "{text}");
        assert!(so > si && *so <= rate.frame_at(end).max(si + 1), "{text}");
        assert_eq!(so - si, ro - ri);
        if let Some(prev) = record {
            assert_eq!(*ri, prev, "events cut end to end");
        }
        record = Some(*ro);
    }

    // An independent reader (OpenTimelineIO's CMX 3600 adapter) finds the same clips.
    if let Some(clips) = otio_clips(&out, rate.fps()) {
        assert_clips_match(&clips, hits, 1.0 / rate.fps());
    }

    // An existing file is refused, untouched, unless --force.
    let o = search("edl", &out, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("moments.edl") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).expect("edl"), text);
    success(&search("csv", &out, &["--force"]));
    assert!(std::fs::read_to_string(&out)
        .expect("csv")
        .starts_with("name,file,timecode_in"));

    // FCPXML: well-formed XML (Python's parser), with each source once as an asset at its
    // own rate.
    let fcp = tmp.path().join("moments.fcpxml");
    success(&search("fcpxml", &fcp, &[]));
    let text = std::fs::read_to_string(&fcp).expect("fcpxml written");
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
        ])
        .arg(&fcp)
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(text.contains("frameDuration=\"1001/30000s\""), "{text}");
    // OpenTimelineIO's Final Cut Pro X adapter reads the project: the same clips, each with
    // the query as its marker.
    if let Some(clips) = otio_clips(&fcp, 0.0) {
        assert_clips_match(&clips, hits, 1.0 / 25.0);
        assert!(
            clips.iter().all(|c| c["markers"][0] == "pour the water"),
            "{clips:?}"
        );
    }
    assert!(
        text.contains("garden &amp; shed.mp4") || !text.contains("garden"),
        "{text}"
    );

    // A source gone since the import is left out and named; the rest is written.
    std::fs::remove_file(&ntsc).expect("remove");
    let csv = tmp.path().join("moments.csv");
    let o = search("csv", &csv, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        assert!(
            stderr.contains("left out") && stderr.contains("kitchen.mp4"),
            "{stderr}"
        );
        assert!(!std::fs::read_to_string(&csv)
            .expect("csv")
            .contains("kitchen.mp4"));
    } else {
        // Every result was in the removed file: nothing to write, and no file.
        assert!(stderr.contains("kitchen.mp4"), "{stderr}");
        assert!(!csv.exists());
    }

    // A format the tool does not write.
    let o = search("aaf", &tmp.path().join("x.aaf"), &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("aaf"));
}

/// `vclip` without a library: the media commands.
fn vclip_bare(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(args)
        .output()
        .expect("run vclip")
}

#[test]
fn a_moment_saves_as_a_clip_with_its_subtitles() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cue = "1\n00:00:04,000 --> 00:00:05,500\nhold the pan steady\n\n\
               2\n00:00:09,000 --> 00:00:09,500\nlater\n";
    let video = lavfi_srt(tmp.path(), "pan.mp4", PATTERN, 10, cue);
    let v = video.to_str().expect("utf-8");
    let out = tmp.path().join("moment.mp4");
    let o = out.to_str().expect("utf-8");
    let args = [
        "export", v, "--start", "5", "--end", "6", "--out", o, "--srt", "--json",
    ];
    let run = vclip_bare(&args);
    success(&run);
    let r = json(&run);
    // 5 s is mid-GOP: re-encoded, exact to the frame (25 fps).
    assert_eq!(r["mode"], "reencode", "{r}");
    assert_eq!(r["frames"], 25, "{r}");
    assert!(
        (r["start_s"].as_f64().expect("start") - 5.0).abs() <= 0.02,
        "{r}"
    );
    let info = vclip_media::probe(&out).expect("the clip is a video");
    assert!(
        (info.duration_s.expect("duration") - 1.0).abs() < 0.05,
        "{info:?}"
    );
    // The cue across the start, timed from the clip.
    let srt = std::fs::read_to_string(out.with_extension("srt")).expect("srt beside");
    assert_eq!(
        srt,
        "1\n00:00:00,000 --> 00:00:00,500\nhold the pan steady\n\n"
    );

    // Not over an existing clip, not past the end; both name the file.
    let run = vclip_bare(&args);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("already exists"));
    let past = vclip_bare(&["export", v, "--start", "8", "--end", "30", "--out", "x.mp4"]);
    assert!(!past.status.success());
    let err = String::from_utf8_lossy(&past.stderr);
    assert!(
        err.contains("pan.mp4") && err.contains("outside the video"),
        "{err}"
    );
    // --copy: lossless, from the keyframe before (the start of this file's only GOP).
    let copy = tmp.path().join("copy.mkv");
    let c = copy.to_str().expect("utf-8");
    let run = vclip_bare(&[
        "export", v, "--start", "5", "--end", "6", "--out", c, "--copy", "--json",
    ]);
    success(&run);
    let r = json(&run);
    assert_eq!(r["mode"], "copy", "{r}");
    assert!(r["start_s"].as_f64().expect("start") <= 5.0, "{r}");
}

#[test]
fn a_moment_link_names_the_video_by_content_and_opens_where_it_points() {
    let (tmp, model, lib) = tiny_library();
    let videos = tmp.path().join("videos");
    let video = lavfi_with(&videos, "lesson.mp4", PATTERN, 6, &[]);
    success(&vclip(
        &lib,
        &model,
        &["import", videos.to_str().expect("utf-8")],
    ));
    let v = video.to_str().expect("utf-8");
    let o = vclip(&lib, &model, &["link", v, "--at", "4.5"]);
    success(&o);
    let link = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        link.starts_with("vclip://open?v=") && link.ends_with("&t=4.5"),
        "{link}"
    );
    // The link follows the content: the file is renamed and relinked, the link still opens it.
    let moved = videos.join("lesson (final).mp4");
    std::fs::rename(&video, &moved).expect("rename");
    success(&vclip(
        &lib,
        &model,
        &[
            "watch",
            videos.to_str().expect("utf-8"),
            "--once",
            "--settle",
            "0",
        ],
    ));
    let o = vclip(&lib, &model, &["open", &link, "--json"]);
    success(&o);
    let at = json(&o);
    assert!(
        at["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("lesson (final).mp4")),
        "{at}"
    );
    assert_eq!(at["at_s"], 4.5);
    // Past the end, a bad link, a link to a video this library does not have.
    assert!(!vclip(&lib, &model, &["link", v, "--at", "60"])
        .status
        .success());
    let o = vclip(&lib, &model, &["open", "vclip://open?t=3", "--print"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a VClip link"));
    let other = format!("vclip://open?v={}&t=1", "0".repeat(64));
    assert!(!vclip(&lib, &model, &["open", &other, "--print"])
        .status
        .success());
}
