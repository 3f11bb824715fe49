//! `vclip duplicates`: videos that share footage, with the time ranges on both sides. The test
//! library has a slideshow, its re-encode at another resolution, a trimmed copy, a compilation
//! that includes 10 s of it, a fractal zoom with a copy trimmed mid-second and resized, and
//! unrelated videos made to tempt a look-alike detector: another slideshow in the same style,
//! and two different videos that both end on 6 s of black.

use std::path::{Path, PathBuf};

use vclip_testkit::{ffmpeg, lavfi, SLIDES};

use crate::cli_library::{json, success, tiny_model, vclip, FRACTAL, PATTERN};

/// Another slideshow of the same kind (stripes and colours changing every second), with other
/// pictures.
const OTHER_SLIDES: &str = "nullsrc=size=160x120:rate=25,format=yuv420p,\
    geq=lum='128+100*cos(X/(2.5+mod(floor(T)*3\\,7)))*sin(Y/(1+mod(floor(T)*11\\,5)))':\
    cb='128+90*cos(floor(T)*0.9)':cr='128+90*sin(floor(T)*3.1)'";

/// A fractal zoom elsewhere in the Mandelbrot set than [`FRACTAL`] (lavfi's default, which the
/// `zoom.mp4` pair also shows: rendered at two sizes it is the same footage).
const ELSEWHERE: &str =
    "mandelbrot=size=160x120:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.3";

const X264: [&str; 6] = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 test path")
}

/// `ffmpeg ARGS… X264 out`.
fn encode(args: &[&str], out: &Path) {
    ffmpeg(&[args, &X264[..], &[s(out)]].concat());
}

/// `first` (lavfi) then 6 s of black, into `out`.
fn then_black(first: &str, out: &Path) {
    encode(
        &[
            "-f",
            "lavfi",
            "-t",
            "8",
            "-i",
            first,
            "-f",
            "lavfi",
            "-t",
            "6",
            "-i",
            "color=c=black:size=160x120:rate=25",
            "-filter_complex",
            "[0:v]setsar=1[a];[1:v]setsar=1[b];[a][b]concat=n=2:v=1:a=0[v]",
            "-map",
            "[v]",
        ],
        out,
    );
}

fn library_videos(dir: &Path) -> PathBuf {
    let videos = dir.join("videos");
    let orig = lavfi(&videos, "orig.mp4", SLIDES, 20);
    let o = s(&orig);
    encode(
        &["-i", o, "-vf", "scale=320:240", "-crf", "30"],
        &videos.join("orig-320.mp4"),
    );
    encode(&["-ss", "4", "-i", o, "-t", "12"], &videos.join("trim.mp4"));
    let graph = "[0:v]fps=25,setsar=1,format=yuv420p[a];\
                 [1:v]trim=start=5:end=15,setpts=PTS-STARTPTS,fps=25,setsar=1,format=yuv420p[b];\
                 [2:v]fps=25,setsar=1,format=yuv420p[c];[a][b][c]concat=n=3:v=1:a=0[v]";
    encode(
        &[
            "-f",
            "lavfi",
            "-t",
            "4",
            "-i",
            PATTERN,
            "-i",
            o,
            "-f",
            "lavfi",
            "-t",
            "3",
            "-i",
            FRACTAL,
            "-filter_complex",
            graph,
            "-map",
            "[v]",
        ],
        &videos.join("compilation.mp4"),
    );
    let zoom = lavfi(&videos, "zoom.mp4", "mandelbrot=size=320x240:rate=25", 20);
    encode(
        &[
            "-ss",
            "3.5",
            "-i",
            s(&zoom),
            "-t",
            "10",
            "-vf",
            "scale=200:150",
        ],
        &videos.join("zoom-cut.mp4"),
    );
    lavfi(&videos, "other-slides.mp4", OTHER_SLIDES, 12);
    then_black(PATTERN, &videos.join("pattern-black.mp4"));
    then_black(ELSEWHERE, &videos.join("fractal-black.mp4"));
    videos
}

/// The file name of a span.
fn name(span: &serde_json::Value) -> String {
    let p = span["path"].as_str().expect("path");
    Path::new(p)
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// The shared runs of a group as `(file a, start a, end a, file b, start b, end b)`, each pair
/// named in alphabetical order.
fn runs(group: &serde_json::Value) -> Vec<(String, f64, f64, String, f64, f64)> {
    let mut out: Vec<_> = group["shared"]
        .as_array()
        .expect("shared")
        .iter()
        .map(|r| {
            let t = |v: &serde_json::Value, k: &str| v[k].as_f64().expect("a time");
            let (a, b) = (&r["a"], &r["b"]);
            let (x, y) = (
                (name(a), t(a, "start_s"), t(a, "end_s")),
                (name(b), t(b, "start_s"), t(b, "end_s")),
            );
            let (x, y) = if x.0 <= y.0 { (x, y) } else { (y, x) };
            (x.0, x.1, x.2, y.0, y.1, y.2)
        })
        .collect();
    out.sort_by(|p, q| (&p.0, &p.3).cmp(&(&q.0, &q.3)));
    out
}

/// Asserts the runs are `expected` within a second at each end.
fn assert_runs(
    got: &[(String, f64, f64, String, f64, f64)],
    expected: &[(&str, f64, f64, &str, f64, f64)],
) {
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!((g.0.as_str(), g.3.as_str()), (e.0, e.3), "{got:#?}");
        for (x, y) in [(g.1, e.1), (g.2, e.2), (g.4, e.4), (g.5, e.5)] {
            assert!((x - y).abs() <= 1.0, "{g:?} vs {e:?}");
        }
    }
}

#[test]
fn shared_footage_is_grouped_with_its_time_ranges_and_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(tmp.path());
    let videos = library_videos(tmp.path());
    let lib = tmp.path().join("lib");
    success(&vclip(&lib, &model, &["import", s(&videos)]));

    let check = |r: &serde_json::Value| {
        assert_eq!(r["videos"], 9, "{r:#}");
        let groups = r["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), 2, "{r:#}");
        let members = |g: &serde_json::Value| -> Vec<String> {
            g["videos"]
                .as_array()
                .expect("videos")
                .iter()
                .map(|v| name(&serde_json::json!({ "path": v[1] })))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        assert_eq!(
            members(&groups[0]),
            ["compilation.mp4", "orig-320.mp4", "orig.mp4", "trim.mp4"],
            "{r:#}"
        );
        assert_runs(
            &runs(&groups[0]),
            &[
                ("compilation.mp4", 4.0, 14.0, "orig-320.mp4", 5.0, 15.0),
                ("compilation.mp4", 4.0, 14.0, "orig.mp4", 5.0, 15.0),
                ("compilation.mp4", 4.0, 14.0, "trim.mp4", 1.0, 11.0),
                ("orig-320.mp4", 0.0, 20.0, "orig.mp4", 0.0, 20.0),
                ("orig-320.mp4", 4.0, 16.0, "trim.mp4", 0.0, 12.0),
                ("orig.mp4", 4.0, 16.0, "trim.mp4", 0.0, 12.0),
            ],
        );
        assert_eq!(members(&groups[1]), ["zoom-cut.mp4", "zoom.mp4"], "{r:#}");
        assert_runs(
            &runs(&groups[1]),
            &[("zoom-cut.mp4", 0.0, 10.0, "zoom.mp4", 3.5, 13.5)],
        );
    };
    let o = vclip(&lib, &model, &["duplicates", "--json"]);
    success(&o);
    let first = json(&o);
    check(&first);
    assert_eq!(first["fingerprinted"], 0, "import wrote the fingerprints");

    // A library imported before fingerprints existed: they are made once, the answer is the same.
    let prints = lib.join("fingerprints");
    let mut removed = 0;
    for shard in std::fs::read_dir(&prints).expect("fingerprints folder") {
        for f in std::fs::read_dir(shard.expect("shard").path()).expect("shard") {
            std::fs::remove_file(f.expect("file").path()).expect("remove");
            removed += 1;
        }
    }
    assert_eq!(removed, 9);
    let o = vclip(&lib, &model, &["duplicates", "--json"]);
    success(&o);
    let again = json(&o);
    check(&again);
    assert_eq!(again["fingerprinted"], 9);

    // The text report names the files and the ranges.
    let o = vclip(&lib, &model, &["duplicates"]);
    success(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("group 1: 4 videos share footage"), "{text}");
    assert!(text.contains("trim.mp4 0:00.0–0:12.0"), "{text}");
    // Bad options are refused with the reason.
    let o = vclip(&lib, &model, &["duplicates", "--similarity", "1.5"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("similarity"));
}
