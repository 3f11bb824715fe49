//! `vclip steps` and `vclip eval crosstask` on generated videos with a tiny random-weight model.
//!
//! A random model cannot find "remove the screws" in a video, so where a test needs the steps to
//! be findable it supplies the step embeddings itself through the engine's `StepEmbedder` seam:
//! vectors built from the video's *stored* token states so that their dot products are a known
//! pattern. That checks the plumbing exactly (token file → rows → seconds → DP → spans), not the
//! model's quality.

use std::path::Path;
use std::process::Output;

use vclip_engine::{Engine, EngineError, StepEmbedder, StepOptions};
use vclip_model::{Device, VClipModel};

use vclip_testkit::{ffmpeg, lavfi, lavfi_args, lavfi_srt};

use crate::cli_library::{json, success, tiny_library, tiny_model, vclip, PATTERN};

const CUES: &str = "1\n00:00:02,000 --> 00:00:06,000\nremove the screws\n\n\
                    2\n00:00:10,000 --> 00:00:14,000\nlift the cover\n\n\
                    3\n00:00:17,000 --> 00:00:21,000\nunplug the battery\n";

/// Step embeddings given by the test (the seam), one per step text, in any order.
struct Given(Vec<(String, Vec<f32>)>);

impl StepEmbedder for Given {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EngineError> {
        Ok(texts
            .iter()
            .map(|t| {
                self.0
                    .iter()
                    .find(|(s, _)| s == t)
                    .map(|(_, z)| z.clone())
                    .unwrap_or_default()
            })
            .collect())
    }
}

/// Solves `a x = b` (Gaussian elimination with partial pivoting, f64).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .expect("rows");
        a.swap(c, p);
        b.swap(c, p);
        assert!(a[c][c].abs() > 1e-12, "singular Gram matrix");
        let pivot = a[c].clone();
        for r in c + 1..n {
            let f = a[r][c] / pivot[c];
            for (x, p) in a[r].iter_mut().zip(&pivot).skip(c) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

/// The minimum-norm `z` with `H z = y` (`H`: seconds × dims, seconds ≤ dims):
/// `z = Hᵀ (H Hᵀ)⁻¹ y`.
fn min_norm(h: &[Vec<f32>], y: &[f64]) -> Vec<f64> {
    let gram: Vec<Vec<f64>> = h
        .iter()
        .map(|a| {
            h.iter()
                .map(|b| {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| f64::from(*x) * f64::from(*y))
                        .sum()
                })
                .collect()
        })
        .collect();
    let w = solve(gram, y.to_vec());
    let dims = h[0].len();
    (0..dims)
        .map(|d| {
            h.iter()
                .zip(&w)
                .map(|(row, wi)| f64::from(row[d]) * wi)
                .sum()
        })
        .collect()
}

/// `vclip steps VIDEO ARGS… --library LIB --model MODEL`.
fn run_steps(lib: &Path, model: &Path, video: &str, args: &[&str]) -> Output {
    vclip(lib, model, &[&["steps", video][..], args].concat())
}

#[test]
fn steps_from_subtitles_land_on_their_true_times_through_the_plumbing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model_dir = tiny_model(tmp.path());
    let lib = tmp.path().join("lib");
    let clip = lavfi_srt(tmp.path(), "repair.mp4", PATTERN, 24, CUES);
    let o = vclip(&lib, &model_dir, &["import", clip.to_str().expect("utf-8")]);
    success(&o);

    let model = VClipModel::load(&model_dir, &Device::Cpu).expect("model");
    let (engine, _) = Engine::open(&lib, Some(model.into())).expect("open");
    let v = engine
        .find(clip.to_str().expect("utf-8"))
        .expect("imported");
    // The steps and their true times come from the video's own subtitles.
    let cues = engine.with_catalogue(|c| c.cues_of(v.id)).expect("cues");
    assert_eq!(cues.len(), 3);
    let states = engine.token_states(&v).expect("token states");
    let h: Vec<Vec<f32>> = (0..states.rows).map(|t| states.row(t).to_vec()).collect();
    assert!(
        h.len() <= states.cols,
        "the construction needs seconds <= dims"
    );

    // For step k, similarities +1 on its cue's seconds and -1/2 elsewhere, scaled by c so that
    // COIN's threshold γ = max z_j·z_k (quadratic in c) stays within ±c/4: below the cue's c
    // and above the -c/2 outside it, whichever sign the states give it (a negative γ below
    // -c/2 would let noise among the steps decide the seconds outside every cue).
    let truth: Vec<(usize, usize)> = cues
        .iter()
        .map(|c| (c.start_s.floor() as usize, c.end_s.ceil() as usize))
        .collect();
    let pattern = |k: usize| -> Vec<f64> {
        (0..h.len())
            .map(|t| {
                if (truth[k].0..truth[k].1).contains(&t) {
                    1.0
                } else {
                    -0.5
                }
            })
            .collect()
    };
    let unit: Vec<Vec<f64>> = (0..3).map(|k| min_norm(&h, &pattern(k))).collect();
    // The largest pairwise dot product (γ at c = 1), which may be negative.
    let mut g1 = f64::NEG_INFINITY;
    for j in 0..3 {
        for k in 0..3 {
            if j != k {
                g1 = g1.max(unit[j].iter().zip(&unit[k]).map(|(a, b)| a * b).sum());
            }
        }
    }
    let c = if g1.abs() > 0.0 {
        (0.25 / g1.abs()).min(1.0)
    } else {
        1.0
    };
    let z: Vec<Vec<f32>> = unit
        .iter()
        .map(|u| u.iter().map(|x| (x * c) as f32).collect())
        .collect();
    // The construction holds on the stored (f16) states: H z = c · pattern.
    for (k, zk) in z.iter().enumerate() {
        for (t, row) in h.iter().enumerate() {
            let s: f32 = row.iter().zip(zk).map(|(a, b)| a * b).sum();
            let want = c * pattern(k)[t];
            assert!(
                (f64::from(s) - want).abs() < 0.05 * c,
                "step {k} second {t}: {s} vs {want}"
            );
        }
    }
    let given = Given(
        cues.iter()
            .map(|c| c.text.clone())
            .zip(z.iter().cloned())
            .collect(),
    );
    let texts: Vec<String> = cues.iter().map(|c| c.text.clone()).collect();

    for ordered in [true, false] {
        let opts = StepOptions {
            ordered,
            ..StepOptions::default()
        };
        let r = engine
            .steps_with(clip.to_str().expect("utf-8"), &texts, opts, &given)
            .expect("steps");
        assert_eq!(r.seconds, h.len());
        for (s, (a, b)) in r.steps.iter().zip(&truth) {
            // Every step's span is exactly its cue's seconds, and holds the step's second.
            assert_eq!((s.start_s, s.end_s), (*a as f64, *b as f64), "{r:?}");
            assert!((*a..*b).contains(&s.second));
            assert!(s.score > 0.0 && s.score <= 1.0);
        }
    }
    // Listed out of order, the unordered mode still finds each.
    let reversed: Vec<String> = texts.iter().rev().cloned().collect();
    let opts = StepOptions {
        ordered: false,
        ..StepOptions::default()
    };
    let r = engine
        .steps_with(clip.to_str().expect("utf-8"), &reversed, opts, &given)
        .expect("steps");
    assert_eq!(r.steps[0].start_s, truth[2].0 as f64);
    assert_eq!(r.steps[2].start_s, truth[0].0 as f64);
}

#[test]
fn steps_command_json_table_files_and_errors() {
    let (tmp, model, lib) = tiny_library();
    let clip = lavfi(tmp.path(), "repair.mp4", PATTERN, 12);
    let path = clip.to_str().expect("utf-8");
    // Not imported yet: the error names the video.
    let o = vclip(&lib, &model, &["steps", path, "--step", "a", "--json"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("repair.mp4"));

    let o = vclip(&lib, &model, &["import", path]);
    success(&o);
    let two = ["--step", "remove the screws", "--step", "lift the cover"];
    let o = run_steps(&lib, &model, path, &[&two[..], &["--json"]].concat());
    success(&o);
    let r = json(&o);
    assert!(
        r["video"]
            .as_str()
            .is_some_and(|p| p.ends_with("repair.mp4")),
        "{r}"
    );
    let steps = r["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["text"], "remove the screws");
    let span = |s: &serde_json::Value| {
        (
            s["start_s"].as_f64().expect("start"),
            s["end_s"].as_f64().expect("end"),
        )
    };
    let ((a0, b0), (a1, b1)) = (span(&steps[0]), span(&steps[1]));
    assert!(
        a0 < b0 && b0 <= a1 && a1 < b1 && b1 <= 12.0,
        "in order: {r}"
    );
    assert!(steps.iter().all(|s| s["score"]
        .as_f64()
        .is_some_and(|x| (0.0..=1.0).contains(&x))));

    // A pasted list (numbering and bullets go), by id, as a table with m:ss times.
    let list = tmp.path().join("steps.txt");
    std::fs::write(
        &list,
        "1. remove the screws\n\n- lift the cover\nStep 3: unplug it\n",
    )
    .expect("write");
    let id = r["video_id"].as_i64().expect("id").to_string();
    let file = list.to_str().expect("utf-8");
    let o = run_steps(&lib, &model, &id, &["--steps-file", file, "--unordered"]);
    success(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(" 3  0:") && text.contains("unplug it"),
        "{text}"
    );
    assert!(!text.contains("Step 3"), "{text}");

    // More steps than seconds in order: a clear error naming the video; unordered is fine.
    let mut args = vec!["steps", path];
    let many: Vec<String> = (0..13).map(|i| format!("step number {i}")).collect();
    for s in &many {
        args.extend(["--step", s.as_str()]);
    }
    let o = vclip(&lib, &model, &args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("13 steps") && err.contains("repair.mp4"),
        "{err}"
    );
    args.push("--unordered");
    assert!(vclip(&lib, &model, &args).status.success());

    // An empty steps file and an unknown video are refused.
    std::fs::write(&list, "\n  \n").expect("write");
    let o = run_steps(&lib, &model, path, &["--steps-file", file]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no steps"));
    let o = vclip(&lib, &model, &["steps", "no-such-video", "--step", "a"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-video"));
}

/// `read_assignment` of CrossTask, written again for the test: `[second][step]`.
fn truth(csv: &str, seconds: usize, steps: usize) -> Vec<Vec<bool>> {
    let mut y = vec![vec![false; steps]; seconds];
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<f64> = line.split(',').map(|x| x.parse().expect("num")).collect();
        let (k, a, b) = (
            f[0] as usize - 1,
            f[1].floor() as usize,
            f[2].ceil() as usize,
        );
        for row in y.iter_mut().take(b.min(seconds)).skip(a) {
            row[k] = true;
        }
    }
    y
}

#[test]
fn eval_crosstask_reads_the_release_format_and_computes_recall() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(tmp.path());
    let data = tmp.path().join("crosstask_release");
    let ann = data.join("annotations");
    let videos = tmp.path().join("videos");
    std::fs::create_dir_all(&ann).expect("mkdir");
    std::fs::create_dir_all(&videos).expect("mkdir");
    std::fs::write(
        data.join("tasks_primary.txt"),
        "111\nMake Tea\nhttp://x/tea\n2\nboil water,pour water\n\n\
         222\nFix Tyre\nhttp://x/tyre\n3\nremove wheel,patch tube,refit wheel\n\n",
    )
    .expect("write");
    std::fs::write(data.join("videos_val.csv"), "111,heldout,http://x\n").expect("write");
    let annotations: [(&str, &str, &str, u32); 3] = [
        ("111", "vidA", "1,0.5,3.2\n2,6,8.9\n", 12),
        ("222", "vid_B", "1,0,2\n3,7.5,9\n", 10),
        ("111", "heldout", "1,0,1\n", 0),
    ];
    for (task, vid, csv, secs) in annotations {
        std::fs::write(ann.join(format!("{task}_{vid}.csv")), csv).expect("write");
        if secs > 0 {
            lavfi(&videos, &format!("{vid}.mp4"), PATTERN, secs);
        }
    }
    std::fs::write(ann.join("222_gone.csv"), "1,0,1\n").expect("write");

    // `vclip eval crosstask [--json] --annotations ANNOTATIONS --videos VIDEOS --model MODEL`.
    let eval = |json: &[&str], annotations: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vclip"))
            .args(["eval", "crosstask"])
            .args(json)
            .arg("--annotations")
            .arg(annotations)
            .arg("--videos")
            .arg(&videos)
            .arg("--model")
            .arg(&model)
            .output()
            .expect("run vclip")
    };
    let o = eval(&["--json"], &data);
    success(&o);
    let r = json(&o);
    assert_eq!(r["missing"], serde_json::json!(["222_gone"]), "{r}");
    let vids = r["videos"].as_array().expect("videos");
    assert_eq!(vids.len(), 2, "the held-out video is skipped: {r}");
    // Recompute hits and recall from the reported predictions with the test's own reading of
    // the annotation files.
    let mut per_task: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for v in vids {
        let (task, vid) = (
            v["task"].as_str().expect("task"),
            v["video"].as_str().expect("vid"),
        );
        let (_, _, csv, _) = annotations
            .iter()
            .find(|a| a.1 == vid)
            .expect("known video");
        let seconds = v["seconds"].as_u64().expect("seconds") as usize;
        let pred: Vec<usize> = v["predicted"]
            .as_array()
            .expect("predicted")
            .iter()
            .map(|x| x.as_u64().expect("second") as usize)
            .collect();
        let steps = if task == "111" { 2 } else { 3 };
        assert_eq!(pred.len(), steps);
        assert!(
            pred.windows(2).all(|w| w[0] < w[1]) && pred[steps - 1] < seconds,
            "{v}"
        );
        let y = truth(csv, seconds, steps);
        let present = (0..steps).filter(|&k| y.iter().any(|row| row[k])).count();
        let hit = (0..steps).filter(|&k| y[pred[k]][k]).count();
        assert_eq!(v["steps_present"].as_u64(), Some(present as u64), "{v}");
        assert_eq!(v["steps_hit"].as_u64(), Some(hit as u64), "{v}");
        let e = per_task.entry(task.to_owned()).or_default();
        e.0 += present;
        e.1 += hit;
    }
    assert_eq!(per_task["111"].0, 2);
    assert_eq!(per_task["222"].0, 2, "step 2 of vid_B is not annotated");
    let mean = per_task
        .values()
        .map(|(p, h)| *h as f64 / *p as f64)
        .sum::<f64>()
        / per_task.len() as f64;
    let got = r["recall"].as_f64().expect("recall");
    assert!((got - mean).abs() < 1e-12, "{got} vs {mean}");
    // Its own library, inside the videos folder, unless --library says otherwise.
    assert!(videos.join(".vclip-crosstask").is_dir());
    // A folder that is not CrossTask's: a clear error naming the file.
    let o = eval(&[], tmp.path());
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("tasks_primary.txt"));
}

/// `(title, start_ms, end_ms)` of `ffprobe -show_chapters` on `file`.
fn probed_chapters(file: &Path) -> Vec<(String, i64, i64)> {
    let o = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(file)
        .output()
        .expect("the ffprobe CLI is installed (scripts/deps.sh)");
    success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("ffprobe JSON");
    let secs = |x: &serde_json::Value| -> i64 {
        let s: f64 = x.as_str().expect("time").parse().expect("number");
        (s * 1000.0).round() as i64
    };
    v["chapters"]
        .as_array()
        .expect("chapters")
        .iter()
        .map(|c| {
            (
                c["tags"]["title"].as_str().expect("title").to_owned(),
                secs(&c["start_time"]),
                secs(&c["end_time"]),
            )
        })
        .collect()
}

/// A WebVTT file read back (the test's own reader): `(payload, start_ms, end_ms)` per cue.
fn read_vtt(text: &str) -> Vec<(String, i64, i64)> {
    let mut blocks = text.split("\n\n");
    assert_eq!(blocks.next().map(str::trim_end), Some("WEBVTT"), "{text}");
    let time = |t: &str| -> i64 {
        let (hms, ms) = t.trim().split_once('.').expect("HH:MM:SS.mmm");
        assert_eq!(ms.len(), 3, "{t}");
        let f: Vec<i64> = hms.split(':').map(|x| x.parse().expect("num")).collect();
        assert_eq!(f.len(), 3, "{t}");
        ((f[0] * 60 + f[1]) * 60 + f[2]) * 1000 + ms.parse::<i64>().expect("ms")
    };
    blocks
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let lines: Vec<&str> = b.lines().collect();
            let timing = lines
                .iter()
                .position(|l| l.contains("-->"))
                .expect("timing line");
            let (a, z) = lines[timing].split_once("-->").expect("arrow");
            let payload = lines[timing + 1..].join("\n");
            assert!(!payload.contains("-->") && !payload.contains('<'), "{b}");
            let payload = payload
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            (payload, time(a), time(z))
        })
        .collect()
}

/// Issue #6: `--chapters` writes ffmetadata that the real ffmpeg muxes (titles with `=`, `;`,
/// `#`, `\`, `&`, `<`, `-->` survive) and WebVTT that reads back to the same chapters.
#[test]
fn steps_export_chapters_that_ffmpeg_muxes_and_webvtt_reads_back() {
    let (tmp, model, lib) = tiny_library();
    let clip = lavfi(tmp.path(), "repair.mp4", PATTERN, 12);
    let path = clip.to_str().expect("utf-8");
    let o = vclip(&lib, &model, &["import", path]);
    success(&o);

    let texts = [
        "remove the screws; then = the cover",
        "lift #1 \\ <cover> & go --> now",
        "unplug the battery",
    ];
    let ffmeta = tmp.path().join("chapters.txt");
    let vtt = tmp.path().join("chapters.vtt");
    let run = |file: &Path| {
        let mut args = vec!["steps", path, "--json", "--chapters"];
        args.push(file.to_str().expect("utf-8"));
        for t in &texts {
            args.extend(["--step", t]);
        }
        let o = vclip(&lib, &model, &args);
        success(&o);
        json(&o)
    };
    let r = run(&ffmeta);
    assert_eq!(r, run(&vtt), "the same steps both times");

    // What the chapters must be: the steps (in order, disjoint) in ms, each ending at the
    // next one's start at the latest, the last at the video's end.
    let duration = (r["duration_s"].as_f64().expect("duration") * 1000.0).round() as i64;
    let steps = r["steps"].as_array().expect("steps");
    let ms =
        |s: &serde_json::Value, k: &str| (s[k].as_f64().expect("time") * 1000.0).round() as i64;
    let mut want: Vec<(String, i64, i64)> = steps
        .iter()
        .map(|s| {
            (
                s["text"].as_str().expect("text").to_owned(),
                ms(s, "start_s"),
                ms(s, "end_s").min(duration),
            )
        })
        .collect();
    for i in 0..want.len().saturating_sub(1) {
        want[i].2 = want[i].2.min(want[i + 1].1);
    }
    assert_eq!(want.iter().map(|w| w.0.as_str()).collect::<Vec<_>>(), texts);

    assert_eq!(read_vtt(&std::fs::read_to_string(&vtt).expect("vtt")), want);

    // Muxed by the real ffmpeg. Matroska keeps every start and end.
    let mkv = tmp.path().join("out.mkv");
    let mp4 = tmp.path().join("out.mp4");
    let meta = ffmeta.to_str().expect("utf-8");
    for out in [&mkv, &mp4] {
        let out = out.to_str().expect("utf-8");
        let chapters = ["-map_metadata", "1", "-map_chapters", "1", "-codec", "copy"];
        ffmpeg(&[&["-i", path, "-i", meta][..], &chapters, &[out]].concat());
    }
    let close = |a: &[(String, i64, i64)], b: &[(String, i64, i64)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() <= 1 && (x.2 - y.2).abs() <= 1)
    };
    let got = probed_chapters(&mkv);
    assert!(close(&got, &want), "{got:?} vs {want:?}");
    // MP4 stores only where each chapter starts: a chapter runs to the next one, the first
    // from 0. Titles, the later starts and the last end are what it keeps.
    let got = probed_chapters(&mp4);
    let mut want_mp4 = want.clone();
    want_mp4[0].1 = 0;
    for i in 0..want_mp4.len() - 1 {
        want_mp4[i].2 = want_mp4[i + 1].1;
    }
    assert!(close(&got, &want_mp4), "{got:?} vs {want_mp4:?}");

    // A file that cannot be written: the error names it, and no chapters file appears.
    let bad = tmp.path().join("no-such-folder").join("c.vtt");
    let bad = bad.to_str().expect("utf-8");
    let o = run_steps(&lib, &model, path, &["--step", "a", "--chapters", bad]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no-such-folder"), "{err}");
    // --chapters-format overrides the name.
    let forced = tmp.path().join("chapters.data");
    let name = forced.to_str().expect("utf-8");
    let args = [
        "--step",
        "a",
        "--chapters",
        name,
        "--chapters-format",
        "vtt",
    ];
    let o = run_steps(&lib, &model, path, &args);
    success(&o);
    assert!(std::fs::read_to_string(&forced)
        .expect("written")
        .starts_with("WEBVTT\n"));
}

#[test]
fn steps_the_video_lists_itself_come_from_its_description_or_subtitles() {
    let (tmp, model, lib) = tiny_library();
    let announced =
        "1\n00:00:02,000 --> 00:00:04,000\nStep 1: remove the screws. They are tiny.\n\n\
                     2\n00:00:10,000 --> 00:00:11,000\nStep two.\n\n\
                     3\n00:00:11,000 --> 00:00:13,000\nlift the cover\n\n\
                     4\n00:00:17,000 --> 00:00:19,000\nstep three, unplug the battery!\n";
    let repair = lavfi_srt(tmp.path(), "repair.mp4", PATTERN, 24, announced);
    // A container description tag (Matroska keeps any tag).
    let description = "description=Grandma's cake.\n1. Whisk the eggs\n2. Fold in the flour\n3. Bake\nhttps://example.com";
    let args = [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-metadata",
        description,
    ];
    let bars = "smptebars=size=160x120:rate=25";
    let cake = lavfi_args(tmp.path(), "cake.mkv", bars, 15.0, &args);
    let plain = lavfi(tmp.path(), "plain.mp4", "mandelbrot=size=160x120", 10);
    for v in [&repair, &cake, &plain] {
        let o = vclip(&lib, &model, &["import", v.to_str().expect("utf-8")]);
        success(&o);
    }
    let from_video = |v: &Path| {
        let v = v.to_str().expect("utf-8");
        run_steps(&lib, &model, v, &["--from-video", "--json"])
    };
    let texts = |r: &serde_json::Value| -> Vec<String> {
        r["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // The steps found in `v`, which must succeed: the output, its JSON and the step texts.
    let found = |v: &Path| {
        let o = from_video(v);
        success(&o);
        let r = json(&o);
        let t = texts(&r);
        (o, r, t)
    };

    // Subtitles: "Step 1: …", "Step two." + the next cue, "step three, …".
    let (o, r, listed) = found(&repair);
    let want = ["remove the screws", "lift the cover", "unplug the battery"];
    assert_eq!(listed, want, "{r}");
    assert_eq!(r["found"]["origin"]["kind"], "subtitles", "{r}");
    assert_eq!(
        r["found"]["origin"]["at_s"],
        serde_json::json!([2.0, 10.0, 17.0])
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("3 steps announced in repair.mp4's subtitles")
    );

    // A NAME.description beside the video (yt-dlp's) comes first.
    let desc = tmp.path().join("repair.description");
    std::fs::write(
        &desc,
        "Fan repair\n\n1) Open the case\n2) Blow out the dust\n",
    )
    .expect("write");
    let r = json(&from_video(&repair));
    assert_eq!(texts(&r), ["Open the case", "Blow out the dust"], "{r}");
    assert_eq!(r["found"]["origin"]["kind"], "description_file");
    assert_eq!(r["found"]["list"], "numbered");

    // The container's description tag.
    let (_, r, listed) = found(&cake);
    assert_eq!(
        listed,
        ["Whisk the eggs", "Fold in the flour", "Bake"],
        "{r}"
    );
    assert_eq!(r["found"]["origin"]["kind"], "container_tag");

    // Nothing listed: a clear error that says where it looked.
    let o = from_video(&plain);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("plain.mp4 lists no steps") && err.contains("plain.description"),
        "{err}"
    );
    // --from-video excludes --step.
    let o = vclip(&lib, &model, &["steps", "x", "--from-video", "--step", "a"]);
    assert!(!o.status.success());
}
