//! The clip decoder against the ffmpeg CLI: clip counts, frame-exactness, rotation, pixel formats,
//! damaged and odd files. Videos are generated at test time (see `vclip_testkit::video`).

use std::path::Path;

use vclip_media::{probe, ClipDecoder, DecodeOptions, MediaErrorKind, CLIP_FRAMES};
use vclip_testkit::{
    audio_only, cli_rgb_frames, lavfi_args, mean_abs_diff, rotate90, still_image, testsrc,
    testsrc_with,
};

const FRAME_BYTES: usize = 224 * 224 * 3;

fn decode_all(path: &Path) -> (Vec<vclip_media::Clip>, vclip_media::DecodeReport) {
    let mut dec = ClipDecoder::open(path, DecodeOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let clips: Vec<_> = dec
        .by_ref()
        .map(|c| c.unwrap_or_else(|e| panic!("decode: {e}")))
        .collect();
    (clips, dec.report().clone())
}

/// Every clip count is ceil(duration), and every frame equals the CLI's
/// `fps=30,scale=…,crop=224:224` output (mean absolute difference under 2/255).
fn assert_matches_cli(path: &Path) {
    let info = probe(path).expect("probe");
    let v = info.video.as_ref().expect("a video stream");
    let duration = info.duration_s.expect("a duration");
    let (clips, report) = decode_all(path);
    assert_eq!(
        clips.len() as f64,
        duration.ceil(),
        "{}: {} clips for {duration} s",
        path.display(),
        clips.len()
    );
    for (i, c) in clips.iter().enumerate() {
        assert_eq!(c.index, i);
        assert_eq!(c.frames.len(), CLIP_FRAMES * FRAME_BYTES);
    }
    let s = vclip_media::scaled_size(v.display_width, v.display_height, 224);
    let filter = format!(
        "fps=30,scale={}:{},crop=224:224:{}:{}",
        s.width, s.height, s.crop_x, s.crop_y
    );
    let reference = cli_rgb_frames(path, &filter);
    let n_ref = reference.len() / FRAME_BYTES;
    assert_eq!(
        report.output_frames as usize,
        n_ref,
        "{}: frame count differs from the ffmpeg CLI",
        path.display()
    );
    let ours: Vec<u8> = clips
        .iter()
        .flat_map(|c| c.frames.iter().copied())
        .collect();
    for k in 0..n_ref {
        let d = mean_abs_diff(
            &ours[k * FRAME_BYTES..(k + 1) * FRAME_BYTES],
            &reference[k * FRAME_BYTES..(k + 1) * FRAME_BYTES],
        );
        assert!(d < 2.0, "{}: frame {k} differs by {d}/255", path.display());
    }
    // The padding after the last real frame is black, like the reference's zero padding.
    let last = clips.last().expect("at least one clip");
    assert_eq!(last.valid_frames, n_ref - (clips.len() - 1) * CLIP_FRAMES);
    assert!(ours[n_ref * FRAME_BYTES..].iter().all(|&b| b == 0));
}

#[test]
fn frame_rates_10_25_2997_30_60_match_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rate, secs) in [
        ("10", 3.3),
        ("25", 2.5),
        ("30000/1001", 3.3),
        ("30", 2.0),
        ("60", 2.2),
    ] {
        let name = format!("r{}.mp4", rate.replace('/', "_"));
        let path = testsrc(dir.path(), &name, "320x240", rate, secs);
        assert_matches_cli(&path);
    }
}

#[test]
fn variable_frame_rate_matches_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Drop irregular runs of frames and keep the timestamps: gaps of 1 to 21 frames.
    let select = "select='not(between(n\\,20\\,40))*lt(mod(n\\,7)\\,4)'";
    let vfr = ["-vf", select, "-fps_mode", "vfr"];
    let path = testsrc_with(dir.path(), "vfr.mkv", "320x240", "30", 4.0, &vfr);
    let v = probe(&path).expect("probe");
    assert!(v.video.is_some());
    assert_matches_cli(&path);
}

#[test]
fn rotation_metadata_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = testsrc(dir.path(), "flat.mp4", "320x240", "30", 1.0);
    let rotated = dir.path().join("rotated.mp4");
    rotate90(&src, &rotated);
    let info = probe(&rotated).expect("probe");
    let v = info.video.as_ref().expect("video");
    // ffmpeg 5.1 stores `rotate=90` as a display matrix that its CLI undoes with
    // `transpose=cclock`: a quarter turn, 270° clockwise.
    assert!(
        v.rotation == 90 || v.rotation == 270,
        "rotation {}",
        v.rotation
    );
    assert_eq!((v.width, v.height), (320, 240));
    assert_eq!((v.display_width, v.display_height), (240, 320));
    // The CLI autorotates too, so the frames must still match.
    assert_matches_cli(&rotated);
    // And they differ from the unrotated video's frames.
    let (a, _) = decode_all(&src);
    let (b, _) = decode_all(&rotated);
    assert!(mean_abs_diff(a[0].frame(0), b[0].frame(0)) > 10.0);
}

#[test]
fn pixel_formats_8_and_10_bit_444_paletted_and_rgb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &[&str]); 5] = [
        (
            "p10.mkv",
            &[
                "-pix_fmt",
                "yuv420p10le",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
            ],
        ),
        (
            "p444.mkv",
            &[
                "-pix_fmt",
                "yuv444p",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
            ],
        ),
        ("pal8.mkv", &["-pix_fmt", "pal8", "-c:v", "png"]),
        ("rgb.mkv", &["-pix_fmt", "rgb24", "-c:v", "ffv1"]),
        ("gray.mkv", &["-pix_fmt", "gray", "-c:v", "ffv1"]),
    ];
    for (name, args) in cases {
        let out = lavfi_args(dir.path(), name, "testsrc2=size=256x144:rate=30", 1.5, args);
        assert_matches_cli(&out);
    }
}

#[test]
fn one_by_one_and_4k_videos() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = "testsrc2=size=64x64:rate=30";
    let one_pixel = ["-vf", "scale=1:1", "-pix_fmt", "yuv444p", "-c:v", "ffv1"];
    let tiny = lavfi_args(dir.path(), "tiny.mkv", source, 1.0, &one_pixel);
    let (clips, _) = decode_all(&tiny);
    assert_eq!(clips.len(), 1);
    assert_eq!(clips[0].valid_frames, 30);

    let uhd = testsrc(dir.path(), "uhd.mp4", "3840x2160", "30", 1.0);
    assert_matches_cli(&uhd);
}

#[test]
fn frames_without_timestamps_are_given_some() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A raw H.264 stream carries no timestamps at all.
    let raw = testsrc(dir.path(), "raw.h264", "320x240", "30", 3.0);
    let (clips, report) = decode_all(&raw);
    assert_eq!(report.decoded_frames, 90);
    assert_eq!(clips.len(), 3);
    assert!(report.missing_timestamps > 0);
    assert!(!report.truncated);

    // A Matroska file whose first ten frames lost their timestamps (the muxer squeezed them to
    // 0..9 ms): still decodes to three clips.
    let setts = "setts=pts=if(lt(N\\,10)\\,NOPTS\\,PTS):dts=if(lt(N\\,10)\\,NOPTS\\,DTS)";
    let squeezed = ["-bf", "0", "-bsf:v", setts];
    let mkv = testsrc_with(dir.path(), "nopts.mkv", "320x240", "30", 3.0, &squeezed);
    let (clips, _) = decode_all(&mkv);
    assert_eq!(clips.len(), 3);
}

#[test]
fn truncated_mp4_decodes_what_it_can_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Index at the front (faststart): the first half still decodes.
    let faststart = ["-movflags", "+faststart"];
    let fast = testsrc_with(dir.path(), "fast.mp4", "320x240", "30", 6.0, &faststart);
    let bytes = std::fs::read(&fast).expect("read");
    let cut = dir.path().join("cut fast.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (clips, report) = decode_all(&cut);
    assert!(report.truncated, "{report:?}");
    assert!(
        !clips.is_empty() && clips.len() < 6,
        "{} clips",
        clips.len()
    );
    assert!(report.warnings.iter().any(|w| w.contains("truncated")));

    // Index at the end (the default): nothing can be decoded; the error names the problem.
    let normal = testsrc(dir.path(), "normal.mp4", "320x240", "30", 4.0);
    let bytes = std::fs::read(&normal).expect("read");
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = ClipDecoder::open(&cut, DecodeOptions::default()).expect_err("no index");
    assert!(matches!(err.kind, MediaErrorKind::Damaged { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cut.mp4") && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn bad_files_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);

    std::fs::write(p("empty.mp4"), b"").expect("write");
    let e = probe(&p("empty.mp4")).expect_err("empty");
    assert!(matches!(e.kind, MediaErrorKind::Empty), "{e}");
    assert!(e.to_string().contains("empty.mp4"));

    let noise: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(p("noise.mp4"), noise).expect("write");
    let e = probe(&p("noise.mp4")).expect_err("noise");
    assert!(matches!(e.kind, MediaErrorKind::NotMedia(_)), "{e}");

    audio_only(dir.path(), "audio.mp4");
    let info = probe(&p("audio.mp4")).expect("an audio file probes fine");
    assert!(info.has_audio && info.video.is_none());
    let e = ClipDecoder::open(&p("audio.mp4"), DecodeOptions::default()).expect_err("audio");
    assert!(matches!(e.kind, MediaErrorKind::AudioOnly), "{e}");

    still_image(dir.path(), "still.png");
    let e = ClipDecoder::open(&p("still.png"), DecodeOptions::default()).expect_err("image");
    assert!(matches!(e.kind, MediaErrorKind::StillImage), "{e}");

    let e = probe(&p("missing.mp4")).expect_err("missing");
    assert!(matches!(e.kind, MediaErrorKind::NotFound), "{e}");
    let e = probe(dir.path()).expect_err("a folder");
    assert!(matches!(e.kind, MediaErrorKind::NotAFile), "{e}");
}

#[test]
fn odd_paths_decode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "my vidéo 日本 (1).mp4", "160x120", "30", 1.0);
    assert_eq!(decode_all(&video).0.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // A file name that is not valid UTF-8 (Latin-1 "é").
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.mp4");
        let latin1 = dir.path().join(name);
        std::fs::copy(&video, &latin1).expect("copy");
        assert_eq!(decode_all(&latin1).0.len(), 1);
        assert!(probe(&latin1).is_ok());
    }
}

#[test]
fn expected_clips_matches_the_decoded_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = testsrc(dir.path(), "v.mp4", "160x120", "25", 2.6);
    let dec = ClipDecoder::open(&v, DecodeOptions::default()).expect("open");
    assert_eq!(dec.expected_clips(), Some(3));
    assert_eq!(dec.count(), 3);
}

#[test]
fn clip_tensor_layout_is_cthw_in_unit_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = testsrc(dir.path(), "v.mp4", "160x120", "30", 1.0);
    let (clips, _) = decode_all(&v);
    let c = &clips[0];
    let t = c.to_cthw_f32();
    assert_eq!(t.len(), 3 * 30 * 224 * 224);
    // Pixel (t=5, y=10, x=20), green channel.
    let px = &c.frame(5)[(10 * 224 + 20) * 3..];
    assert_eq!(
        t[(30 + 5) * 224 * 224 + 10 * 224 + 20],
        f32::from(px[1]) / 255.0
    );
    assert!(t.iter().all(|&x| (0.0..=1.0).contains(&x)));
}
