//! The per-second sampler: one frame per second, the right moment of each second (frame 15 of the
//! clip decoder's clip, checked byte for byte and against a video that paints its frame number),
//! the same frames whatever the speed options, odd sizes, rotation, variable frame rates and
//! damaged files. Videos are generated at test time (see `vclip_testkit::video`).

use std::path::Path;

use vclip_media::{
    decode_per_second, ClipDecoder, DecodeOptions, FrameSampler, MediaErrorKind, SampleOptions,
    SampleReport, SampledFrame, Threading,
};
use vclip_testkit::{audio_only, lavfi_args, mean_abs_diff, rotate90, testsrc, testsrc_with};

fn sample(path: &Path, opts: SampleOptions) -> (Vec<SampledFrame>, SampleReport) {
    let mut s =
        FrameSampler::open(path, opts).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let frames: Vec<_> = s
        .by_ref()
        .map(|f| f.unwrap_or_else(|e| panic!("sample: {e}")))
        .collect();
    (frames, s.report().clone())
}

/// The sampler gives one frame per clip of the clip decoder, and each is the clip's
/// `sample_frame()` byte for byte, with the default (fast) options and with every frame decoded.
fn assert_matches_clips(path: &Path) -> SampleReport {
    let mut dec = ClipDecoder::open(path, DecodeOptions::default()).expect("clip decoder");
    let clips: Vec<_> = dec.by_ref().map(|c| c.expect("clip")).collect();
    let mut fast_report = None;
    for opts in [SampleOptions::default(), SampleOptions::decode_all()] {
        let (frames, report) = sample(path, opts.clone());
        assert_eq!(
            frames.len(),
            clips.len(),
            "{}: {opts:?}: {} frames for {} clips",
            path.display(),
            frames.len(),
            clips.len()
        );
        for (f, c) in frames.iter().zip(&clips) {
            assert_eq!(f.second, c.index);
            assert_eq!(f.rgb.len(), 224 * 224 * 3);
            assert!(
                f.rgb == c.sample_frame(),
                "{}: {opts:?}: second {} differs from the clip's middle frame by {}/255",
                path.display(),
                f.second,
                mean_abs_diff(&f.rgb, c.sample_frame())
            );
        }
        assert!(frames.windows(2).all(|w| w[0].time_s <= w[1].time_s));
        assert_eq!(report.late_samples, 0);
        assert_eq!(report.decode.clips, clips.len() as u64);
        fast_report.get_or_insert(report);
    }
    fast_report.expect("ran")
}

/// B-frames (x264 `veryfast` with 3 B-frames) and a fixed GOP of `gop` frames.
fn with_b_frames(gop: &str) -> Vec<&str> {
    vec![
        "-preset",
        "veryfast",
        "-bf",
        "3",
        "-g",
        gop,
        "-sc_threshold",
        "0",
    ]
}

#[test]
fn one_frame_per_second_equal_to_the_clip_decoders_middle_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rate, secs) in [
        ("30", 3.0),
        ("25", 2.5),
        ("30000/1001", 3.3),
        ("60", 2.2),
        ("10", 3.3),
    ] {
        let name = format!("r{}.mp4", rate.replace('/', "_"));
        let gop = with_b_frames("15");
        let path = testsrc_with(dir.path(), &name, "320x240", rate, secs, &gop);
        assert_matches_clips(&path);
    }
}

#[test]
fn the_frame_of_second_k_is_the_one_on_screen_at_k_plus_half() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Red = frame number within its second × 8, green = the second × 40: frame n of second k
    // is (8 n, 40 k, 128). Encoded nearly losslessly with B-frames and 1-second GOPs.
    let painted = "color=black:size=64x48:rate=30,format=rgb24,geq=r='8*mod(N\\,30)':g='40*floor(N/30)':b=128";
    let lossless = [
        "-pix_fmt", "yuv444p", "-c:v", "libx264", "-qp", "0", "-bf", "3", "-g", "30",
    ];
    let path = lavfi_args(dir.path(), "painted.mp4", painted, 5.3, &lossless);
    let (frames, report) = sample(&path, SampleOptions::default());
    assert_eq!(frames.len(), 6, "5.3 s make 6 seconds");
    for f in &frames {
        let centre = &f.rgb[(112 * 224 + 112) * 3..][..3];
        let k = f.second;
        // The last second lasts 0.3 s: its middle is past the end, so it gets the last frame (8).
        let n = if k == 5 { 8 } else { 15 };
        let want = [8 * n, 40 * k as i32, 128];
        for (c, (&got, want)) in centre.iter().zip(want).enumerate() {
            assert!(
                (i32::from(got) - want).abs() <= 3,
                "second {k}: channel {c} is {got}, want {want} (frame {n} of the second)"
            );
        }
        let expected_t = k as f64 + f64::from(n as u8) / 30.0;
        assert!(
            (f.time_s - expected_t).abs() < 1e-3,
            "{} vs {expected_t}",
            f.time_s
        );
    }
    assert!(report.decode.decoded_frames < 159, "{report:?}");
}

#[test]
fn fast_options_give_the_exact_frames_and_decode_less() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Short GOPs (0.5 s): tails dropped; long GOPs (4 s): non-reference B-frames skipped.
    for (name, gop) in [("short.mp4", "15"), ("long.mkv", "120")] {
        let args = with_b_frames(gop);
        let path = testsrc_with(dir.path(), name, "320x240", "30", 6.0, &args);
        let (exact, all) = sample(&path, SampleOptions::decode_all());
        assert_eq!(all.decode.decoded_frames, 180);
        assert_eq!((all.dropped_packets, all.nonref_skippable), (0, 0));
        let base = SampleOptions::decode_all();
        let variants = [
            SampleOptions::default(),
            SampleOptions {
                skip_nonref: true,
                ..base.clone()
            },
            SampleOptions {
                skip_gop_tails: true,
                ..base.clone()
            },
            SampleOptions {
                seek: true,
                ..base.clone()
            },
            SampleOptions {
                seek: true,
                ..SampleOptions::default()
            },
            SampleOptions {
                threading: Threading::Slice,
                ..SampleOptions::default()
            },
            SampleOptions {
                threads: 1,
                ..SampleOptions::default()
            },
        ];
        for opts in variants {
            let (frames, report) = sample(&path, opts.clone());
            assert!(
                frames == exact,
                "{name}: {opts:?} gives other frames than decoding everything"
            );
            assert_eq!(report.late_samples, 0, "{name}: {opts:?}");
            // (Seeking needs the keyframe ahead by byte position: Matroska's index points at
            // clusters, which hold several seconds of this small video.)
            if opts.skip_nonref || opts.skip_gop_tails || (opts.seek && gop == "15") {
                assert!(
                    report.decode.decoded_frames < 180,
                    "{name}: {opts:?} decoded everything: {report:?}"
                );
            }
        }
        let (_, fast) = sample(&path, SampleOptions::default());
        if gop == "15" {
            assert!(fast.dropped_packets > 60, "{fast:?}");
        } else {
            assert!(fast.nonref_skippable > 60, "{fast:?}");
        }
    }
}

#[test]
fn skipping_the_loop_filter_stays_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = with_b_frames("60");
    let path = testsrc_with(dir.path(), "lf.mp4", "640x360", "30", 4.0, &args);
    let (exact, _) = sample(&path, SampleOptions::decode_all());
    let opts = SampleOptions {
        skip_loop_filter: true,
        ..SampleOptions::default()
    };
    assert!(!opts.is_exact());
    let (approx, _) = sample(&path, opts);
    assert_eq!(approx.len(), exact.len());
    for (a, e) in approx.iter().zip(&exact) {
        let d = mean_abs_diff(&a.rgb, &e.rgb);
        assert!(d < 3.0, "second {}: {d}/255", a.second);
    }
}

#[test]
fn odd_sizes_portrait_and_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b_frames = ["-bf", "2"];
    let yuv444 = [&["-pix_fmt", "yuv444p"][..], &b_frames].concat();
    let odd = testsrc_with(dir.path(), "odd.mp4", "321x239", "30", 2.0, &yuv444);
    assert_matches_clips(&odd);
    let portrait = testsrc_with(dir.path(), "portrait.mp4", "240x426", "30", 2.0, &b_frames);
    assert_matches_clips(&portrait);
    let rotated = dir.path().join("rotated.mp4");
    rotate90(&portrait, &rotated);
    assert_matches_clips(&rotated);
    let (a, _) = sample(&portrait, SampleOptions::default());
    let (b, _) = sample(&rotated, SampleOptions::default());
    assert!(mean_abs_diff(&a[0].rgb, &b[0].rgb) > 10.0);
}

#[test]
fn variable_frame_rate_and_missing_timestamps() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Irregular gaps of 1 to 21 frames, including a gap over a whole second's middle.
    let mut args = with_b_frames("20");
    args.extend([
        "-vf",
        "select='not(between(n\\,20\\,50))*lt(mod(n\\,7)\\,4)'",
        "-fps_mode",
        "vfr",
    ]);
    let vfr = testsrc_with(dir.path(), "vfr.mkv", "320x240", "30", 4.0, &args);
    assert_matches_clips(&vfr);
    // A raw H.264 stream has no timestamps at all: nothing is skipped, frames still come out.
    let raw = testsrc(dir.path(), "raw.h264", "320x240", "30", 3.0);
    let (frames, report) = sample(&raw, SampleOptions::default());
    assert_eq!(frames.len(), 3);
    assert!(report.decode.missing_timestamps > 0);
}

#[test]
fn damaged_and_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [&with_b_frames("30")[..], &["-movflags", "+faststart"]].concat();
    let fast = testsrc_with(dir.path(), "fast.mp4", "320x240", "30", 6.0, &args);
    let bytes = std::fs::read(&fast).expect("read");
    // Cut in half: what is there is sampled, and the report says the file is truncated.
    let cut = dir.path().join("cut fast.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (frames, report) = sample(&cut, SampleOptions::default());
    assert!(report.decode.truncated, "{report:?}");
    assert!(!frames.is_empty() && frames.len() < 6, "{}", frames.len());
    assert!(report
        .decode
        .warnings
        .iter()
        .any(|w| w.contains("truncated")));
    // Garbage over a stretch of the media data: damaged packets are skipped, not fatal.
    let mut broken = bytes.clone();
    let start = broken.len() / 3;
    for (i, b) in broken[start..start + 4000].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    let broken_path = dir.path().join("broken.mp4");
    std::fs::write(&broken_path, &broken).expect("write");
    let (frames, _) = sample(&broken_path, SampleOptions::default());
    assert!(frames.len() >= 5, "{}", frames.len());

    let e = decode_per_second(&dir.path().join("missing.mp4"), SampleOptions::default())
        .expect_err("missing");
    assert!(matches!(e.kind, MediaErrorKind::NotFound), "{e}");
    assert!(e.to_string().contains("missing.mp4"));
    let audio = audio_only(dir.path(), "audio.mp4");
    let e = decode_per_second(&audio, SampleOptions::default()).expect_err("audio");
    assert!(matches!(e.kind, MediaErrorKind::AudioOnly), "{e}");
}

#[test]
fn expected_seconds_and_tensor_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = testsrc(dir.path(), "v.mp4", "160x120", "25", 2.6);
    let s = decode_per_second(&v, SampleOptions::default()).expect("open");
    assert_eq!(s.expected_seconds(), Some(3));
    let frames: Vec<_> = s.map(|f| f.expect("frame")).collect();
    assert_eq!(frames.len(), 3);
    let f = &frames[1];
    let t = f.to_chw_f32();
    assert_eq!(t.len(), 3 * 224 * 224);
    let px = &f.rgb[(10 * 224 + 20) * 3..];
    assert_eq!(t[224 * 224 + 10 * 224 + 20], f32::from(px[1]) / 255.0);
}

#[test]
fn keyframe_tolerance_takes_keyframes_within_the_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Keyframes every second (at 0, 1, 2, …), no B-frames: a phone's file.
    let args = ["-g", "30", "-sc_threshold", "0", "-bf", "0"];
    let path = testsrc_with(dir.path(), "phone.mp4", "320x240", "30", 6.0, &args);
    let (exact, exact_report) = sample(&path, SampleOptions::default());
    assert!(
        exact_report.max_offset_s < 1.0 / 30.0 + 1e-6,
        "{exact_report:?}"
    );
    // One decoder thread: frame threads decode a few frames before the first one comes out (the
    // grid starts there), and there are as many as cores.
    let opts = SampleOptions {
        keyframe_tolerance_ms: 500,
        threads: 1,
        ..SampleOptions::default()
    };
    assert!(!opts.is_exact());
    let (approx, report) = sample(&path, opts);
    assert_eq!(approx.len(), exact.len());
    // Only the keyframes are decoded, each second gets the one at its start (ties: earlier).
    assert_eq!(report.decode.decoded_frames, 6, "{report:?}");
    assert!(!report.decode.truncated);
    for f in &approx {
        assert!((f.time_s - f.second as f64).abs() < 1e-3, "{f:?}");
    }
    assert!((report.max_offset_s - 0.5).abs() < 1e-3, "{report:?}");
    // With a tolerance smaller than the distance to any keyframe, frames are exact.
    let opts = SampleOptions {
        keyframe_tolerance_ms: 200,
        ..SampleOptions::default()
    };
    let (near, _) = sample(&path, opts);
    assert!(near == exact);
}

#[test]
fn other_codecs_give_the_clip_decoders_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = |name: &str, codec_args: &[&str]| -> std::path::PathBuf {
        let args = [&["-pix_fmt", "yuv420p"], codec_args].concat();
        lavfi_args(
            dir.path(),
            name,
            "testsrc2=size=320x240:rate=30",
            3.0,
            &args,
        )
    };
    let half_second_gops = [
        // HEVC with closed GOPs (IDR keyframes: tails dropped) and x265's default open GOPs
        // (CRA keyframes: nothing dropped, since leading pictures may reference the GOP before).
        v(
            "closed.mkv",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error:keyint=15:min-keyint=15:bframes=3:open-gop=0:scenecut=0",
            ],
        ),
        v(
            "open.mp4",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "fast",
                "-x265-params",
                "log-level=error:keyint=15:min-keyint=15:bframes=3:scenecut=0",
            ],
        ),
        v(
            "vp9.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-g",
                "15",
            ],
        ),
        v("mpeg4.mkv", &["-c:v", "mpeg4", "-bf", "2", "-g", "15"]),
        v("mpeg2.ts", &["-c:v", "mpeg2video", "-bf", "2", "-g", "15"]),
    ];
    for path in &half_second_gops {
        let report = assert_matches_clips(path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name != "open.mp4" {
            assert!(
                report.decode.decoded_frames < 90,
                "{name}: nothing skipped: {report:?}"
            );
        }
    }
}

/// An image file reads as the frame the sampler would take from a video showing that picture:
/// a frame grabbed as PNG is the sampler's frame up to the colour conversions, a JPEG at
/// quality 70 and half the size stays close, and a file that is no picture is an error that
/// names it.
#[test]
fn a_still_image_reads_as_the_samplers_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "v.mp4", "480x360", "30", 3.0);
    let (frames, _) = sample(&video, SampleOptions::default());
    // Second 1 is the frame on screen at 1.5 s.
    let png = dir.path().join("grab.png");
    let jpg = dir.path().join("grab.jpg");
    vclip_testkit::ffmpeg(&[
        "-ss",
        "1.5",
        "-i",
        video.to_str().expect("utf-8"),
        "-frames:v",
        "1",
        png.to_str().expect("utf-8"),
    ]);
    vclip_testkit::ffmpeg(&[
        "-i",
        png.to_str().expect("utf-8"),
        "-vf",
        "scale=240:180",
        "-q:v",
        "9",
        jpg.to_str().expect("utf-8"),
    ]);
    let from_png = vclip_media::still_rgb(&png, 224).expect("png");
    assert_eq!(from_png.len(), 224 * 224 * 3);
    let d_png = mean_abs_diff(&from_png, &frames[1].rgb);
    assert!(d_png < 5.0, "png differs by {d_png}");
    let d_jpg = mean_abs_diff(
        &vclip_media::still_rgb(&jpg, 224).expect("jpg"),
        &frames[1].rgb,
    );
    assert!(d_jpg < 8.0, "jpeg differs by {d_jpg}");
    // Another second's frame is much further away than the re-encoded grab.
    let d_other = mean_abs_diff(&from_png, &frames[0].rgb);
    assert!(d_other > 2.0 * d_jpg, "{d_other} vs {d_jpg}");

    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "not a picture at all").expect("write");
    let e = vclip_media::still_rgb(&text, 224).expect_err("text is no image");
    assert!(e.to_string().contains("notes.jpg"), "{e}");
    let missing = vclip_media::still_rgb(&dir.path().join("gone.png"), 224).expect_err("missing");
    assert!(missing.to_string().contains("gone.png"), "{missing}");
}
