//! Subtitle cues from embedded tracks and sidecar files, and thumbnails.

use std::path::{Path, PathBuf};

use vclip_media::subtitles::{read_all, read_embedded, read_sidecar, SubtitleSource};
use vclip_media::{probe, MediaErrorKind};
use vclip_testkit::{mux_subtitles, testsrc};

const SRT: &str = "1\n00:00:00,500 --> 00:00:01,250\nCrack the <b>eggs</b>\n\n2\n00:00:01,750 --> 00:00:02,900\nWhisk them &amp; add salt\nslowly\n";

fn cues(t: &vclip_media::SubtitleTrack) -> Vec<(f64, f64, &str)> {
    t.cues
        .iter()
        .map(|c| (c.start_s, c.end_s, c.text.as_str()))
        .collect()
}

/// `dir/plain.mp4` (3 s, no subtitles) and `dir/in.srt` holding [`SRT`].
fn plain_and_srt(dir: &Path) -> (PathBuf, PathBuf) {
    let video = testsrc(dir, "plain.mp4", "160x120", "30", 3.0);
    let srt = dir.join("in.srt");
    std::fs::write(&srt, SRT).expect("write");
    (video, srt)
}

#[test]
fn mov_text_track_and_sidecar_srt_give_the_cues_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, srt) = plain_and_srt(dir.path());
    let muxed = dir.path().join("cooking.mp4");
    mux_subtitles(
        &video,
        &srt,
        "mov_text",
        &muxed,
        &["-metadata:s:s:0", "language=eng"],
    );
    std::fs::write(dir.path().join("cooking.en.srt"), SRT).expect("write");
    std::fs::write(dir.path().join("other.srt"), SRT).expect("write");

    let info = probe(&muxed).expect("probe");
    let sub = info
        .streams
        .iter()
        .find(|s| s.kind == vclip_media::StreamKind::Subtitle)
        .expect("a subtitle stream");
    assert_eq!(sub.codec, "mov_text");
    assert_eq!(sub.language.as_deref(), Some("eng"));
    assert_eq!(
        info.sidecar_subtitles,
        vec![dir.path().join("cooking.en.srt")]
    );

    let expected = vec![
        (0.5, 1.25, "Crack the eggs"),
        (1.75, 2.9, "Whisk them & add salt\nslowly"),
    ];
    let (tracks, errors) = read_all(&muxed).expect("subtitles");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(tracks.len(), 2);
    assert!(matches!(tracks[0].source, SubtitleSource::Embedded { .. }));
    assert_eq!(tracks[0].format, "mov_text");
    assert_eq!(tracks[0].language.as_deref(), Some("eng"));
    let embedded = cues(&tracks[0]);
    assert_eq!(embedded.len(), 2);
    for (got, want) in embedded.iter().zip(&expected) {
        // mov_text stores milliseconds: times are exact to the millisecond.
        assert!(
            (got.0 - want.0).abs() < 1e-3 && (got.1 - want.1).abs() < 1e-3,
            "{got:?}"
        );
        assert_eq!(got.2, want.2);
    }
    assert!(matches!(tracks[1].source, SubtitleSource::Sidecar { .. }));
    assert_eq!(tracks[1].language.as_deref(), Some("en"));
    assert_eq!(cues(&tracks[1]), expected);
}

#[test]
fn embedded_subrip_and_ass_tracks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, srt) = plain_and_srt(dir.path());
    for codec in ["srt", "ass", "webvtt"] {
        let out = dir.path().join(format!("with-{codec}.mkv"));
        mux_subtitles(&video, &srt, codec, &out, &[]);
        let tracks = read_embedded(&out).expect("subtitles");
        assert_eq!(tracks.len(), 1, "{codec}");
        let texts: Vec<&str> = tracks[0].cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Crack the eggs", "Whisk them & add salt\nslowly"],
            "{codec}"
        );
        assert!((tracks[0].cues[1].start_s - 1.75).abs() < 0.011, "{codec}");
    }
}

#[test]
fn sidecar_encodings_and_broken_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);

    // Latin-1 / Windows-1252 (a "wrong" encoding for a UTF-8 reader).
    std::fs::write(
        p("latin.srt"),
        b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n",
    )
    .expect("write");
    let t = read_sidecar(&p("latin.srt")).expect("latin-1 reads");
    assert_eq!(t.cues[0].text, "Café crème");
    assert_eq!(t.encoding.as_deref(), Some("windows-1252"));

    // UTF-16 with a byte-order mark, as Windows tools write it.
    let text = "1\r\n00:00:01,000 --> 00:00:02,000\r\nnaïve\r\n";
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(p("wide.srt"), bytes).expect("write");
    assert_eq!(
        read_sidecar(&p("wide.srt")).expect("utf-16").cues[0].text,
        "naïve"
    );

    // Some broken timestamps: the good cues are kept and the bad ones reported by line.
    std::fs::write(
        p("partly.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x,000 --> 00:00:04,000\nbad\n",
    )
    .expect("write");
    let t = read_sidecar(&p("partly.srt")).expect("partly broken");
    assert_eq!(t.cues.len(), 1);
    assert!(t.warnings[0].contains("line 6"), "{:?}", t.warnings);

    // Only broken timestamps: an error naming the file and the reason.
    std::fs::write(p("broken.srt"), "1\n00:00:aa --> zz\nbad\n").expect("write");
    let e = read_sidecar(&p("broken.srt")).expect_err("broken");
    assert!(matches!(e.kind, MediaErrorKind::Subtitle(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("broken.srt") && msg.contains("broken timestamp"),
        "{msg}"
    );

    // Binary garbage named .srt.
    std::fs::write(p("garbage.srt"), [0u8, 159, 146, 150, 1, 2, 3]).expect("write");
    assert!(read_sidecar(&p("garbage.srt")).is_err());
}

#[test]
fn a_broken_sidecar_does_not_hide_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "talk.mp4", "160x120", "30", 1.0);
    std::fs::write(dir.path().join("talk.srt"), "garbage\n").expect("write");
    std::fs::write(
        dir.path().join("talk.de.vtt"),
        "WEBVTT\n\n00:00.100 --> 00:00.900\nHallo\n",
    )
    .expect("write");
    let (tracks, errors) = read_all(&video).expect("read");
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].cues[0].text, "Hallo");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("talk.srt"));
}

#[test]
fn thumbnails_are_jpegs_of_the_right_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = testsrc(dir.path(), "v.mp4", "640x360", "30", 3.0);
    let jpeg = vclip_media::thumbnail_jpeg(&video, 1.5, 320).expect("thumbnail");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let out = dir.path().join("thumb.jpg");
    std::fs::write(&out, &jpeg).expect("write");
    let info = probe(&out).expect("the JPEG probes");
    let v = info.video.expect("image stream");
    assert_eq!((v.width, v.height), (320, 180));
    // Different moments give different pictures (testsrc2 moves).
    let other = vclip_media::thumbnail_jpeg(&video, 0.0, 320).expect("thumbnail");
    assert_ne!(jpeg, other);
    let e = vclip_media::thumbnail_jpeg(&video, 60.0, 320).expect_err("past the end");
    assert!(matches!(e.kind, MediaErrorKind::OutOfRange { .. }));
}
