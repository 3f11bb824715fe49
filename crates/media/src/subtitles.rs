//! Subtitle cues: embedded text streams (SubRip, ASS/SSA, mov_text, WebVTT) and sidecar files next
//! to the video (`name.srt`, `name.en.srt`, `name.vtt`, …), as (start, end, text) with markup
//! stripped. Sidecar files are read as UTF-8, UTF-16 (with a byte-order mark) or, failing those,
//! Windows-1252/Latin-1, so old `.srt` files from any editor read correctly.
//!
//! Times are seconds from the start of the video, on the same axis as [`crate::ClipDecoder`]'s
//! clips (the container's start time is second 0).

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use serde::Serialize;

use crate::error::{MediaError, MediaErrorKind};
use crate::ffmpeg_util::{open_input, seconds, start_time};

/// One subtitle cue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// Where a track came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubtitleSource {
    Embedded { stream_index: usize },
    Sidecar { path: PathBuf },
}

/// The cues of one subtitle track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubtitleTrack {
    pub source: SubtitleSource,
    pub language: Option<String>,
    /// Codec (`subrip`, `mov_text`, …) or sidecar format (`srt`, `vtt`).
    pub format: String,
    /// Text encoding a sidecar file was read with.
    pub encoding: Option<String>,
    pub cues: Vec<Cue>,
    /// Cues that were skipped, with the reason (e.g. a broken timestamp on line 12).
    pub warnings: Vec<String>,
}

/// Sidecar subtitle files for `video`: same folder, named `<stem>.srt`/`.vtt` or
/// `<stem>.<lang>.srt`/`.vtt` (case-insensitive extension), sorted by name.
pub fn sidecar_files(video: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (video.parent(), video.file_stem()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let stem = stem.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && sidecar_language(&stem, p).is_some())
        .collect();
    found.sort();
    found
}

/// For a sidecar of a video with stem `stem`: `Some(None)` for `stem.srt`, `Some(Some("en"))` for
/// `stem.en.srt`, `None` when `path` is not a sidecar of that video.
fn sidecar_language(stem: &str, path: &Path) -> Option<Option<String>> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "srt" && ext != "vtt" {
        return None;
    }
    let name_stem = path.file_stem()?.to_string_lossy().into_owned();
    if name_stem == stem {
        return Some(None);
    }
    let lang = name_stem.strip_prefix(stem)?.strip_prefix('.')?;
    (!lang.is_empty() && !lang.contains('.')).then(|| Some(lang.to_owned()))
}

/// All subtitle tracks of `video`: embedded streams first, then sidecar files. A sidecar that
/// cannot be read is returned in the second list and does not stop the others.
pub fn read_all(video: &Path) -> Result<(Vec<SubtitleTrack>, Vec<MediaError>), MediaError> {
    let mut tracks = read_embedded(video)?;
    let mut errors = Vec::new();
    for path in sidecar_files(video) {
        match read_sidecar(&path) {
            Ok(t) => tracks.push(t),
            Err(e) => errors.push(e),
        }
    }
    Ok((tracks, errors))
}

/// Reads and parses one `.srt` or `.vtt` file.
pub fn read_sidecar(path: &Path) -> Result<SubtitleTrack, MediaError> {
    let bytes = std::fs::read(path).map_err(|e| {
        MediaError::new(
            path,
            match e.kind() {
                std::io::ErrorKind::NotFound => MediaErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => MediaErrorKind::PermissionDenied,
                _ => MediaErrorKind::Io(e),
            },
        )
    })?;
    let (text, encoding) = decode_text(&bytes);
    let is_vtt = text.trim_start().starts_with("WEBVTT")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("vtt"));
    let (cues, warnings) = parse_cues(&text, is_vtt);
    if cues.is_empty() {
        let reason = warnings
            .first()
            .cloned()
            .unwrap_or_else(|| "no subtitle cue found".into());
        return Err(MediaError::new(path, MediaErrorKind::Subtitle(reason)));
    }
    let language = path
        .file_stem()
        .and_then(|s| Path::new(s).extension())
        .map(|l| l.to_string_lossy().into_owned());
    Ok(SubtitleTrack {
        source: SubtitleSource::Sidecar {
            path: path.to_path_buf(),
        },
        language,
        format: if is_vtt { "vtt" } else { "srt" }.into(),
        encoding: Some(encoding.into()),
        cues,
        warnings,
    })
}

/// Decodes subtitle text: UTF-8 (BOM optional), UTF-16 LE/BE with a BOM, else Windows-1252.
pub fn decode_text(bytes: &[u8]) -> (String, &'static str) {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return (String::from_utf8_lossy(rest).into_owned(), "utf-8");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return (utf16(rest, u16::from_le_bytes), "utf-16le");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return (utf16(rest, u16::from_be_bytes), "utf-16be");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), "utf-8"),
        Err(_) => (bytes.iter().map(|&b| cp1252(b)).collect(), "windows-1252"),
    }
}

fn utf16(bytes: &[u8], to_u16: fn([u8; 2]) -> u16) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| to_u16([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Windows-1252, which is Latin-1 except for printable characters in 0x80..0x9F.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Parses SubRip or WebVTT text into cues, collecting a warning for each block it had to skip.
pub fn parse_cues(text: &str, vtt: bool) -> (Vec<Cue>, Vec<String>) {
    let mut cues = Vec::new();
    let mut warnings = Vec::new();
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut i = 0;
    while i < lines.len() {
        // A block runs until the next blank line.
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let block = &lines[start..i];
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        if block.is_empty() {
            continue;
        }
        if vtt {
            let first = block[0].trim_start();
            if first.starts_with("WEBVTT")
                || first.starts_with("NOTE")
                || first.starts_with("STYLE")
                || first.starts_with("REGION")
            {
                continue;
            }
        }
        let Some(timing_at) = block.iter().position(|l| l.contains("-->")) else {
            // A lone number or stray text: only worth a warning if it is not an SRT index.
            if !(block.len() == 1 && block[0].trim().chars().all(|c| c.is_ascii_digit())) {
                warnings.push(format!("line {}: no timing line in this block", start + 1));
            }
            continue;
        };
        let line_no = start + timing_at + 1;
        let timing = block[timing_at];
        let Some((a, b)) = timing.split_once("-->") else {
            continue;
        };
        // WebVTT puts cue settings after the end time.
        let b = b.split_whitespace().next().unwrap_or("");
        let (Some(start_s), Some(end_s)) = (parse_timestamp(a.trim()), parse_timestamp(b)) else {
            warnings.push(format!(
                "line {line_no}: broken timestamp `{}`",
                timing.trim()
            ));
            continue;
        };
        if end_s < start_s {
            warnings.push(format!("line {line_no}: cue ends before it starts"));
            continue;
        }
        let raw = block[timing_at + 1..].join("\n");
        let text = strip_markup(&raw);
        if text.is_empty() {
            continue;
        }
        cues.push(Cue {
            start_s,
            end_s,
            text,
        });
    }
    cues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    (cues, warnings)
}

/// `HH:MM:SS,mmm`, `HH:MM:SS.mmm`, `MM:SS.mmm` (WebVTT), fractional part optional.
fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let (hms, frac) = match s.find([',', '.']) {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let num = |p: &str| -> Option<u64> {
        (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        [m, s] => (0, num(m)?, num(s)?),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    let frac_s = if frac.is_empty() {
        0.0
    } else {
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        frac.parse::<f64>().ok()? / 10f64.powi(frac.len() as i32)
    };
    Some((h * 3600 + m * 60 + sec) as f64 + frac_s)
}

/// Removes HTML-like tags (`<i>`, `<font …>`, `<v Speaker>`, `<00:01.000>`), ASS override blocks
/// (`{\an8}`), decodes the common entities, turns ASS line breaks into newlines, trims each line.
pub fn strip_markup(s: &str) -> String {
    let s = s
        .replace("\\N", "\n")
        .replace("\\n", "\n")
        .replace("\\h", " ");
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                // Only treat it as a tag when it closes on this line; a lone '<' is text.
                let rest: String = chars.clone().take_while(|&c| c != '\n').collect();
                if let Some(end) = rest.find('>') {
                    for _ in 0..=end {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            '{' if chars.peek() == Some(&'\\') => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    let out = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&lrm;", "")
        .replace("&rlm;", "")
        .replace("&quot;", "\"");
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text of an ASS dialogue event as ffmpeg's subtitle decoders produce it:
/// `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text` (or a full `Dialogue:` line).
fn ass_text(ass: &str) -> String {
    let body = ass.strip_prefix("Dialogue:").unwrap_or(ass);
    let fields = if ass.starts_with("Dialogue:") { 10 } else { 9 };
    let text = body.splitn(fields, ',').nth(fields - 1).unwrap_or(body);
    strip_markup(text)
}

/// Reads every embedded text subtitle stream of `video`. Bitmap subtitles (DVD/Blu-ray) carry no
/// text and are skipped.
pub fn read_embedded(video: &Path) -> Result<Vec<SubtitleTrack>, MediaError> {
    let mut input = open_input(video)?;
    let offset_us = match start_time(&input) {
        t if t == ffmpeg::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    struct Open {
        index: usize,
        time_base: ffmpeg::Rational,
        decoder: ffmpeg::decoder::Subtitle,
        track: SubtitleTrack,
    }
    let mut open: Vec<Open> = Vec::new();
    for s in input.streams() {
        let params = s.parameters();
        if params.medium() != ffmpeg::media::Type::Subtitle {
            continue;
        }
        let codec = params.id().name().to_owned();
        let Ok(mut ctx) = ffmpeg::codec::context::Context::from_parameters(params) else {
            continue;
        };
        // SAFETY: plain field of a codec context we own, set before opening, as the CLI does.
        unsafe {
            (*ctx.as_mut_ptr()).pkt_timebase = s.time_base().into();
        }
        let Ok(decoder) = ctx.decoder().subtitle() else {
            continue;
        };
        let language = s
            .metadata()
            .get("language")
            .map(str::to_owned)
            .filter(|l| !l.is_empty() && l != "und");
        open.push(Open {
            index: s.index(),
            time_base: s.time_base(),
            decoder,
            track: SubtitleTrack {
                source: SubtitleSource::Embedded {
                    stream_index: s.index(),
                },
                language,
                format: codec,
                encoding: None,
                cues: Vec::new(),
                warnings: Vec::new(),
            },
        });
    }
    if open.is_empty() {
        return Ok(Vec::new());
    }
    // Let the demuxer skip everything but the subtitle streams.
    for mut s in input.streams_mut() {
        if !open.iter().any(|o| o.index == s.index()) {
            // SAFETY: plain field of a stream of the live format context, set before reading.
            unsafe {
                (*s.as_mut_ptr()).discard = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL;
            }
        }
    }
    let mut read_errors = 0;
    loop {
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(&mut input) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) if read_errors < 64 => {
                read_errors += 1;
                continue;
            }
            Err(_) => break,
        }
        let Some(o) = open.iter_mut().find(|o| o.index == packet.stream()) else {
            continue;
        };
        let mut sub = ffmpeg::Subtitle::new();
        match o.decoder.decode(&packet, &mut sub) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                o.track
                    .warnings
                    .push(format!("undecodable subtitle packet: {e}"));
                continue;
            }
        }
        let Some(pts) = packet.pts().or(packet.dts()) else {
            o.track
                .warnings
                .push("subtitle packet without a timestamp".into());
            continue;
        };
        let offset = offset_us as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE);
        let base = seconds(pts, o.time_base) - offset;
        let start_s = base + f64::from(sub.start()) / 1000.0;
        let end_s = if packet.duration() > 0 {
            base + seconds(packet.duration(), o.time_base)
        } else {
            base + f64::from(sub.end()) / 1000.0
        };
        let text: Vec<String> = sub
            .rects()
            .filter_map(|r| match r {
                ffmpeg::codec::subtitle::Rect::Text(t) => Some(strip_markup(t.get())),
                ffmpeg::codec::subtitle::Rect::Ass(a) => Some(ass_text(a.get())),
                _ => None,
            })
            .filter(|t| !t.is_empty())
            .collect();
        if text.is_empty() {
            continue;
        }
        o.track.cues.push(Cue {
            start_s,
            end_s: end_s.max(start_s),
            text: text.join("\n"),
        });
    }
    Ok(open
        .into_iter()
        .map(|mut o| {
            o.track.cues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
            o.track
        })
        .filter(|t| !t.cues.is_empty() || !t.warnings.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_srt_with_markup_and_crlf() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> {\\an8}world\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nTom &amp; Jerry\r\nsecond line\r\n";
        let (cues, warnings) = parse_cues(srt, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].start_s, 1.0);
        assert_eq!(cues[0].end_s, 2.5);
        assert_eq!(cues[0].text, "Hello world");
        assert_eq!(cues[1].text, "Tom & Jerry\nsecond line");
    }

    #[test]
    fn parses_vtt_short_timestamps_settings_and_notes() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\n00:01.000 --> 00:02.000 align:start\n<v Bob>Hi there\n\ncue-id\n01:00:00.250 --> 01:00:01.000\nLate\n";
        let (cues, warnings) = parse_cues(vtt, true);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0].start_s, cues[0].end_s), (1.0, 2.0));
        assert_eq!(cues[0].text, "Hi there");
        assert_eq!(cues[1].start_s, 3600.25);
    }

    #[test]
    fn broken_timestamps_are_skipped_with_a_line_number() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:xx,000 --> 00:00:04,000\nbad\n\n3\n00:00:05,000 --> 00:00:04,000\nbackwards\n";
        let (cues, warnings) = parse_cues(srt, false);
        assert_eq!(cues.len(), 1);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("line 6:"), "{warnings:?}");
        assert!(warnings[1].contains("ends before it starts"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("00:00:01,5"), Some(1.5));
        assert_eq!(parse_timestamp("1:02:03.004"), Some(3723.004));
        assert_eq!(parse_timestamp("00:61:00,000"), None);
        assert_eq!(parse_timestamp("abc"), None);
        assert_eq!(parse_timestamp("00:00:01,0000"), None);
    }

    #[test]
    fn decodes_encodings() {
        assert_eq!(
            decode_text(b"\xEF\xBB\xBFcaf\xC3\xA9"),
            ("café".into(), "utf-8")
        );
        assert_eq!(
            decode_text(b"caf\xE9 \x93q\x94"),
            ("café “q”".into(), "windows-1252")
        );
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("née".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(&le), ("née".into(), "utf-16le"));
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("née".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&be), ("née".into(), "utf-16be"));
    }

    #[test]
    fn ass_events() {
        assert_eq!(
            ass_text("0,0,Default,,0,0,0,,Hello, {\\i1}world\\Nbye"),
            "Hello, world\nbye"
        );
        assert_eq!(
            ass_text("Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Hi, you"),
            "Hi, you"
        );
    }

    #[test]
    fn sidecar_names() {
        let l = |p: &str| sidecar_language("clip", Path::new(p));
        assert_eq!(l("dir/clip.srt"), Some(None));
        assert_eq!(l("dir/clip.en.srt"), Some(Some("en".into())));
        assert_eq!(l("dir/clip.VTT"), Some(None));
        assert_eq!(l("dir/clip2.srt"), None);
        assert_eq!(l("dir/clip.mp4"), None);
        assert_eq!(l("dir/clip.a.b.srt"), None);
    }
}
