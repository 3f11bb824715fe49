//! The three export formats over one list of moments.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::{FrameRate, Timecode, TimelineError};

/// One moment of one source file, with what the formats need to know of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    pub path: PathBuf,
    pub start_s: f64,
    pub end_s: f64,
    /// The source's frame rate.
    pub rate: FrameRate,
    pub width: u32,
    pub height: u32,
    /// The source's duration.
    pub duration_s: f64,
    /// What found it (the query, a step's text): the EDL comment, the marker's name.
    pub note: String,
}

impl Clip {
    fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// `(first frame, frame after the last)` at the clip's own rate, at least one frame long.
    fn frames(&self) -> Result<(u64, u64), TimelineError> {
        let bad = || TimelineError::BadSpan {
            path: self.path.display().to_string(),
            start_s: self.start_s,
            end_s: self.end_s,
            duration_s: self.duration_s,
        };
        let ok = self.start_s.is_finite()
            && self.end_s.is_finite()
            && self.start_s >= 0.0
            && self.end_s > self.start_s
            && self.start_s < self.duration_s;
        if !ok {
            return Err(bad());
        }
        let last = self.rate.frame_at(self.duration_s).max(1);
        let start = self.rate.frame_at(self.start_s).min(last - 1);
        let end = self
            .rate
            .frame_at(self.end_s.min(self.duration_s))
            .clamp(start + 1, last);
        Ok((start, end))
    }
}

/// An export format, by the name the command line and the window use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Edl,
    Fcpxml,
    Csv,
}

impl Format {
    pub fn parse(name: &str) -> Result<Self, TimelineError> {
        match name.to_ascii_lowercase().as_str() {
            "edl" => Ok(Self::Edl),
            "fcpxml" | "xml" => Ok(Self::Fcpxml),
            "csv" => Ok(Self::Csv),
            _ => Err(TimelineError::UnknownFormat(name.to_string())),
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Edl => "edl",
            Self::Fcpxml => "fcpxml",
            Self::Csv => "csv",
        }
    }

    /// The file's text.
    pub fn write(self, title: &str, clips: &[Clip]) -> Result<String, TimelineError> {
        match self {
            Self::Edl => edl(title, clips),
            Self::Fcpxml => fcpxml(title, clips),
            Self::Csv => markers_csv(clips),
        }
    }
}

/// The rate of the timeline: the most common source rate (the first one on a tie).
fn timeline_rate(clips: &[Clip]) -> FrameRate {
    let mut best = (clips[0].rate, 0);
    for c in clips {
        let n = clips.iter().filter(|o| o.rate == c.rate).count();
        if n > best.1 {
            best = (c.rate, n);
        }
    }
    best.0
}

/// One line of free text for an EDL comment or title: no line breaks, at most `max` chars.
fn one_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A CMX 3600 EDL: one video cut event per moment, laid end to end on a record timeline that
/// starts at 01:00:00:00, at the most common source rate (drop-frame at 29.97 and 59.94).
/// Every source is the auxiliary reel `AX` named by a `* FROM CLIP NAME:` comment (how
/// Premiere, Resolve and Avid link file-based media); the moment's note follows as
/// `* COMMENT:`. Source timecodes count from 00:00:00:00 at the start of the file.
pub fn edl(title: &str, clips: &[Clip]) -> Result<String, TimelineError> {
    if clips.is_empty() {
        return Err(TimelineError::Empty);
    }
    if clips.len() > 999 {
        return Err(TimelineError::TooManyEvents(clips.len()));
    }
    let rate = timeline_rate(clips);
    let drop = rate.drop_per_minute().is_some();
    let mut out = String::new();
    let _ = writeln!(out, "TITLE: {}", one_line(title, 60));
    let _ = writeln!(
        out,
        "FCM: {}",
        if drop { "DROP FRAME" } else { "NON-DROP FRAME" }
    );
    let mut record =
        Timecode::parse(if drop { "01:00:00;00" } else { "01:00:00:00" }, rate)?.frames;
    for (i, clip) in clips.iter().enumerate() {
        clip.frames()?;
        let (a, b) = (
            rate.frame_at(clip.start_s),
            rate.frame_at(clip.end_s.min(clip.duration_s)),
        );
        let b = b.max(a + 1);
        let tc = |f| Timecode::new(f, rate, drop);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:03}  AX       V     C        {} {} {} {}",
            i + 1,
            tc(a),
            tc(b),
            tc(record),
            tc(record + b - a)
        );
        let _ = writeln!(
            out,
            "* FROM CLIP NAME: {}",
            one_line(&clip.file_name(), 200)
        );
        if !clip.note.trim().is_empty() {
            let _ = writeln!(out, "* COMMENT: {}", one_line(&clip.note, 200));
        }
        record += b - a;
    }
    Ok(out)
}

/// `text` escaped for an XML attribute or text node.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A `file://` URL of an absolute path, every byte outside the unreserved set and `/`
/// percent-encoded.
fn file_url(path: &std::path::Path) -> String {
    let mut out = String::from("file://");
    let text = path.to_string_lossy();
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An FCPXML 1.10 document: one format per distinct source rate and size, one asset per
/// source file, and a project whose spine holds each moment as an `asset-clip` (in the order
/// given) with a marker carrying its note. Times are exact frame multiples of each source's
/// rate.
pub fn fcpxml(title: &str, clips: &[Clip]) -> Result<String, TimelineError> {
    if clips.is_empty() {
        return Err(TimelineError::Empty);
    }
    let mut formats: Vec<(FrameRate, u32, u32)> = Vec::new();
    let mut assets: Vec<usize> = Vec::new(); // index of the first clip of each source file
    for (i, c) in clips.iter().enumerate() {
        c.frames()?;
        if !formats.contains(&(c.rate, c.width, c.height)) {
            formats.push((c.rate, c.width, c.height));
        }
        if !assets.iter().any(|&a| clips[a].path == c.path) {
            assets.push(i);
        }
    }
    let format_id = |c: &Clip| {
        let i = formats
            .iter()
            .position(|f| *f == (c.rate, c.width, c.height))
            .unwrap_or(0);
        format!("r{}", i + 1)
    };
    let asset_id = |c: &Clip| {
        let i = assets
            .iter()
            .position(|&a| clips[a].path == c.path)
            .unwrap_or(0);
        format!("r{}", formats.len() + i + 1)
    };
    let seq_rate = timeline_rate(clips);
    let seq = clips
        .iter()
        .find(|c| c.rate == seq_rate)
        .unwrap_or(&clips[0]);
    let tc_format = |r: FrameRate| {
        if r.drop_per_minute().is_some() {
            "DF"
        } else {
            "NDF"
        }
    };
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE fcpxml>\n");
    out.push_str("<fcpxml version=\"1.10\">\n  <resources>\n");
    for (i, (rate, w, h)) in formats.iter().enumerate() {
        let _ = writeln!(
            out,
            "    <format id=\"r{}\" frameDuration=\"{}\" width=\"{w}\" height=\"{h}\"/>",
            i + 1,
            rate.rational_time(1)
        );
    }
    for &a in &assets {
        let c = &clips[a];
        let _ = writeln!(
            out,
            "    <asset id=\"{}\" name=\"{}\" start=\"0s\" duration=\"{}\" hasVideo=\"1\" format=\"{}\">",
            asset_id(c),
            xml(&c.file_name()),
            c.rate.rational_time(c.rate.frame_at(c.duration_s).max(1)),
            format_id(c)
        );
        let _ = writeln!(
            out,
            "      <media-rep kind=\"original-media\" src=\"{}\"/>\n    </asset>",
            xml(&file_url(&c.path))
        );
    }
    out.push_str("  </resources>\n  <library>\n    <event name=\"VClip\">\n");
    // The spine: each clip at the running offset, in seconds exact to the sequence's frames.
    let mut spine = String::new();
    let mut offset = 0u64; // sequence frames
    for c in clips {
        let (a, b) = c.frames()?;
        let len_s = (b - a) as f64 * f64::from(c.rate.den) / f64::from(c.rate.num);
        let seq_len = seq_rate.frame_at(len_s).max(1);
        let _ = writeln!(
            spine,
            "            <asset-clip ref=\"{}\" name=\"{}\" offset=\"{}\" start=\"{}\" duration=\"{}\" format=\"{}\" tcFormat=\"{}\">",
            asset_id(c),
            xml(&c.file_name()),
            seq_rate.rational_time(offset),
            c.rate.rational_time(a),
            c.rate.rational_time(b - a),
            format_id(c),
            tc_format(c.rate)
        );
        if !c.note.trim().is_empty() {
            let _ = writeln!(
                spine,
                "              <marker start=\"{}\" duration=\"{}\" value=\"{}\"/>",
                c.rate.rational_time(a),
                c.rate.rational_time(1),
                xml(c.note.trim())
            );
        }
        spine.push_str("            </asset-clip>\n");
        offset += seq_len;
    }
    let _ = writeln!(out, "      <project name=\"{}\">", xml(title.trim()));
    let _ = writeln!(
        out,
        "        <sequence format=\"{}\" duration=\"{}\" tcStart=\"0s\" tcFormat=\"{}\">\n          <spine>",
        format_id(seq),
        seq_rate.rational_time(offset),
        tc_format(seq_rate)
    );
    out.push_str(&spine);
    out.push_str("          </spine>\n        </sequence>\n      </project>\n    </event>\n  </library>\n</fcpxml>\n");
    Ok(out)
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A marker list, one row per moment: name, file, in and out timecodes at the source's rate
/// (drop-frame at 29.97 and 59.94), seconds, frame rate and note (RFC 4180 quoting).
pub fn markers_csv(clips: &[Clip]) -> Result<String, TimelineError> {
    if clips.is_empty() {
        return Err(TimelineError::Empty);
    }
    let mut out =
        String::from("name,file,timecode_in,timecode_out,start_s,end_s,duration_s,fps,note\r\n");
    for (i, c) in clips.iter().enumerate() {
        let (a, b) = c.frames()?;
        let tc = |f| Timecode::new(f, c.rate, true).to_string();
        let secs = |f: u64| f as f64 * f64::from(c.rate.den) / f64::from(c.rate.num);
        let _ = write!(
            out,
            "{},{},{},{},{:.3},{:.3},{:.3},{},{}\r\n",
            csv(&format!("Moment {}", i + 1)),
            csv(&c.path.display().to_string()),
            tc(a),
            tc(b),
            secs(a),
            secs(b),
            secs(b - a),
            c.rate,
            csv(c.note.trim())
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(name: &str, start_s: f64, end_s: f64, fps: f64, note: &str) -> Clip {
        Clip {
            path: PathBuf::from(format!("/videos/{name}")),
            start_s,
            end_s,
            rate: FrameRate::from_fps(fps).expect("rate"),
            width: 1920,
            height: 1080,
            duration_s: 900.0,
            note: note.to_string(),
        }
    }

    /// The events of an EDL: (source in, source out, record in, record out) as frames.
    fn events(text: &str, rate: FrameRate) -> Vec<[u64; 4]> {
        text.lines()
            .filter(|l| l.len() > 3 && l.as_bytes()[..3].iter().all(u8::is_ascii_digit))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(&f[1..4], ["AX", "V", "C"], "{l}");
                std::array::from_fn(|i| Timecode::parse(f[4 + i], rate).expect("timecode").frames)
            })
            .collect()
    }

    #[test]
    fn edl_events_cut_end_to_end_at_each_rate() {
        for (fps, fcm) in [
            (23.976, "NON-DROP FRAME"),
            (25.0, "NON-DROP FRAME"),
            (29.97, "DROP FRAME"),
            (59.94, "DROP FRAME"),
        ] {
            let clips = [
                clip("a.mp4", 61.5, 64.0, fps, "pour the water"),
                clip("b b.mov", 599.0, 601.25, fps, ""),
                clip("a.mp4", 3.0, 4.0, fps, "line\nbreak"),
            ];
            let text = edl("Search: pour water", &clips).expect("edl");
            assert!(text.starts_with("TITLE: Search: pour water\n"), "{text}");
            assert!(text.contains(&format!("FCM: {fcm}\n")), "{text}");
            let rate = clips[0].rate;
            let ev = events(&text, rate);
            assert_eq!(ev.len(), 3, "{text}");
            let hour = Timecode::parse(
                if fcm == "DROP FRAME" {
                    "01:00:00;00"
                } else {
                    "01:00:00:00"
                },
                rate,
            )
            .expect("tc")
            .frames;
            assert_eq!(ev[0][2], hour);
            for (e, c) in ev.iter().zip(&clips) {
                assert_eq!(e[0], rate.frame_at(c.start_s), "{fps}: source in");
                assert_eq!(e[1], rate.frame_at(c.end_s), "{fps}: source out");
                assert_eq!(e[1] - e[0], e[3] - e[2], "{fps}: source and record lengths");
            }
            assert_eq!(ev[1][2], ev[0][3]);
            assert_eq!(ev[2][2], ev[1][3]);
            assert!(text.contains("* FROM CLIP NAME: b b.mov\n"));
            assert!(text.contains("* COMMENT: pour the water\n"));
            assert!(
                text.contains("* COMMENT: line break\n"),
                "no raw line break in a comment"
            );
        }
    }

    #[test]
    fn bad_moments_are_refused() {
        assert_eq!(edl("t", &[]), Err(TimelineError::Empty));
        let many = vec![clip("a.mp4", 1.0, 2.0, 25.0, ""); 1000];
        assert_eq!(edl("t", &many), Err(TimelineError::TooManyEvents(1000)));
        for (s, e) in [(950.0, 951.0), (5.0, 5.0), (-1.0, 2.0), (f64::NAN, 1.0)] {
            let c = [clip("a.mp4", s, e, 25.0, "")];
            for f in [Format::Edl, Format::Fcpxml, Format::Csv] {
                assert!(
                    matches!(f.write("t", &c), Err(TimelineError::BadSpan { .. })),
                    "{f:?} {s}-{e}"
                );
            }
        }
        // An end past the video is cut at its end.
        let c = [clip("a.mp4", 899.0, 905.0, 25.0, "")];
        let ev = events(&edl("t", &c).expect("edl"), c[0].rate);
        assert_eq!(ev[0][1], 900 * 25);
        assert_eq!(Format::parse("EDL"), Ok(Format::Edl));
        assert!(Format::parse("aaf").is_err());
    }

    #[test]
    fn fcpxml_times_are_exact_frames_of_each_source() {
        let clips = [
            clip("a&b.mp4", 1.0, 2.0, 29.97, "say \"hi\" <now>"),
            clip("c.mp4", 10.0, 10.48, 25.0, ""),
        ];
        let text = fcpxml("VClip: hi", &clips).expect("fcpxml");
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE fcpxml>\n<fcpxml version=\"1.10\">"));
        assert!(
            text.contains(
                "<format id=\"r1\" frameDuration=\"1001/30000s\" width=\"1920\" height=\"1080\"/>"
            ),
            "{text}"
        );
        assert!(
            text.contains("<format id=\"r2\" frameDuration=\"1/25s\""),
            "{text}"
        );
        assert!(text.contains("src=\"file:///videos/a%26b.mp4\""), "{text}");
        // 29.97: frames 30..60 -> start 30*1001/30000 s = 1001/1000 s, 30 frames long.
        assert!(text.contains("name=\"a&amp;b.mp4\" offset=\"0s\" start=\"1001/1000s\" duration=\"1001/1000s\" format=\"r1\" tcFormat=\"DF\""), "{text}");
        assert!(
            text.contains("value=\"say &quot;hi&quot; &lt;now&gt;\""),
            "{text}"
        );
        // The second clip starts where the first ends, in the sequence's (29.97) frames.
        assert!(text.contains("offset=\"1001/1000s\" start=\"10s\" duration=\"12/25s\" format=\"r2\" tcFormat=\"NDF\""), "{text}");
        let open = text.matches("<asset-clip ").count();
        assert_eq!(open, text.matches("</asset-clip>").count());
        assert_eq!(open, 2);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let clips = [clip("x,y.mp4", 60.0, 61.0, 29.97, "a \"quoted\", note")];
        let text = markers_csv(&clips).expect("csv");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "name,file,timecode_in,timecode_out,start_s,end_s,duration_s,fps,note"
        );
        assert_eq!(
            lines[1],
            "Moment 1,\"/videos/x,y.mp4\",00:00:59;28,00:01:01;00,59.993,60.994,1.001,29.97,\"a \"\"quoted\"\", note\""
        );
    }
}
