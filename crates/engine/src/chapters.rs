//! Chapter files from placed steps (issue #6): WebVTT chapters for players and the web, and
//! ffmpeg's ffmetadata for muxing chapters into a file
//! (`ffmpeg -i video -i chapters.txt -map_metadata 1 -map_chapters 1 -codec copy out.mp4`).
//!
//! Steps may come straight from [`crate::Engine::steps`] or corrected by hand in the window, so
//! nothing is assumed about them: times are rounded to milliseconds (both formats then say the
//! same thing), chapters are sorted by start, steps that start on the same millisecond become one
//! chapter (titles joined with " / ", so no step is lost and no chapter is empty), each end is
//! clamped to the next start (chapters never overlap) and to the video's duration. Bad times
//! (NaN, negative, an end not after its start, a start at or past the end of the video) are
//! typed errors naming the step.
//!
//! Escaping: a WebVTT cue payload is text with `&`, `<` and `>` as character references (so
//! `-->` becomes `--&gt;` and cannot end the timing line), line breaks folded into spaces (a
//! blank line would end the cue). ffmetadata values escape `=`, `;`, `#`, `\` and newlines with
//! a backslash, as the format's specification asks.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One step to turn into a chapter: its text and span on the video, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChapterStep {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
}

impl From<&crate::StepSpan> for ChapterStep {
    fn from(s: &crate::StepSpan) -> Self {
        Self {
            text: s.text.clone(),
            start_s: s.start_s,
            end_s: s.end_s,
        }
    }
}

/// A chapter, in milliseconds from the start of the video; `start_ms < end_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub title: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ChapterFormat {
    /// WebVTT chapters (`.vtt`).
    Vtt,
    /// ffmpeg's ffmetadata (`;FFMETADATA1`, usually `.txt`).
    Ffmetadata,
}

impl ChapterFormat {
    /// WebVTT for a `.vtt` file (any case), ffmetadata otherwise.
    pub fn for_path(path: &Path) -> Self {
        match path.extension() {
            Some(e) if e.eq_ignore_ascii_case("vtt") => Self::Vtt,
            _ => Self::Ffmetadata,
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Vtt => "vtt",
            Self::Ffmetadata => "txt",
        }
    }

    /// The file's text for `chapters`.
    pub fn render(self, chapters: &[Chapter]) -> String {
        match self {
            Self::Vtt => webvtt(chapters),
            Self::Ffmetadata => ffmetadata(chapters),
        }
    }
}

/// Why steps could not become chapters, or the file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChaptersError {
    /// The list of steps is empty.
    #[error("no steps to turn into chapters")]
    NoSteps,
    /// A start or end is NaN or infinite.
    #[error("step {index} ({text:?}) has a time that is not a number")]
    NotFinite { index: usize, text: String },
    /// A start before 0 or an end not after its start.
    #[error("step {index} ({text:?}) has a bad span: {start_s} s to {end_s} s")]
    BadSpan {
        index: usize,
        text: String,
        start_s: f64,
        end_s: f64,
    },
    /// A start at or past the end of the video.
    #[error(
        "step {index} ({text:?}) starts at {start_s} s, past the end of the video ({duration_s} s)"
    )]
    PastTheEnd {
        index: usize,
        text: String,
        start_s: f64,
        duration_s: f64,
    },
    /// The file could not be written (the old one, if any, is left as it was).
    #[error("cannot write the chapters file {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: vclip_index::Error,
    },
}

/// Seconds to whole milliseconds (rounded to nearest).
fn ms(s: f64) -> u64 {
    (s * 1000.0).round() as u64
}

/// The chapters for `steps` on a video of `duration_s` seconds (if known). See the module docs.
/// Step numbers in errors count from 1, in the given order.
pub fn chapters(
    steps: &[ChapterStep],
    duration_s: Option<f64>,
) -> Result<Vec<Chapter>, ChaptersError> {
    if steps.is_empty() {
        return Err(ChaptersError::NoSteps);
    }
    let duration_ms = duration_s.filter(|d| d.is_finite() && *d > 0.0).map(ms);
    let mut spans = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let index = i + 1;
        let text = s.text.trim();
        if !(s.start_s.is_finite() && s.end_s.is_finite()) {
            return Err(ChaptersError::NotFinite {
                index,
                text: text.to_owned(),
            });
        }
        let (a, b) = (ms(s.start_s.max(0.0)), ms(s.end_s.max(0.0)));
        if s.start_s < 0.0 || b <= a {
            return Err(ChaptersError::BadSpan {
                index,
                text: text.to_owned(),
                start_s: s.start_s,
                end_s: s.end_s,
            });
        }
        if let (Some(d), Some(secs)) = (duration_ms, duration_s) {
            if a >= d {
                return Err(ChaptersError::PastTheEnd {
                    index,
                    text: text.to_owned(),
                    start_s: s.start_s,
                    duration_s: secs,
                });
            }
        }
        let title = if text.is_empty() {
            format!("Step {index}")
        } else {
            text.to_owned()
        };
        spans.push(Chapter {
            title,
            start_ms: a,
            end_ms: b,
        });
    }
    // Stable: steps starting together keep the given order in the joined title.
    spans.sort_by_key(|c| c.start_ms);
    let mut merged: Vec<Chapter> = Vec::with_capacity(spans.len());
    for c in spans {
        match merged.last_mut() {
            Some(last) if last.start_ms == c.start_ms => {
                last.title = format!("{} / {}", last.title, c.title);
                last.end_ms = last.end_ms.max(c.end_ms);
            }
            _ => merged.push(c),
        }
    }
    let starts: Vec<u64> = merged.iter().skip(1).map(|c| c.start_ms).collect();
    for (c, next) in merged
        .iter_mut()
        .zip(starts.into_iter().map(Some).chain([None]))
    {
        if let Some(n) = next {
            c.end_ms = c.end_ms.min(n);
        }
        if let Some(d) = duration_ms {
            c.end_ms = c.end_ms.min(d);
        }
        // Holds: starts are distinct and sorted, and every start is before the duration.
        debug_assert!(c.start_ms < c.end_ms);
    }
    Ok(merged)
}

/// `HH:MM:SS.mmm` (hours may take more than two digits).
fn vtt_time(ms: u64) -> String {
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}.{f:03}")
}

/// A cue payload: one line, with `&`, `<`, `>` as character references.
fn vtt_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        for ch in line.chars() {
            match ch {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                // A lone carriage return is a line break to WebVTT.
                '\r' => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

/// WebVTT chapters: the header, then one numbered cue per chapter.
pub fn webvtt(chapters: &[Chapter]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, c) in chapters.iter().enumerate() {
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            vtt_time(c.start_ms),
            vtt_time(c.end_ms),
            vtt_escape(&c.title)
        ));
    }
    out
}

/// An ffmetadata value: `=`, `;`, `#`, `\` and line breaks behind a backslash.
fn ffmetadata_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '=' | ';' | '#' | '\\' | '\n' | '\r') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// ffmpeg's ffmetadata: the header, then one `[CHAPTER]` section per chapter, in milliseconds.
pub fn ffmetadata(chapters: &[Chapter]) -> String {
    let mut out = String::from(";FFMETADATA1\n");
    for c in chapters {
        out.push_str(&format!(
            "\n[CHAPTER]\nTIMEBASE=1/1000\nSTART={}\nEND={}\ntitle={}\n",
            c.start_ms,
            c.end_ms,
            ffmetadata_escape(&c.title)
        ));
    }
    out
}

/// Writes `chapters` to `path` in `format`, atomically: a reader sees the old file or the whole
/// new one, never a part.
pub fn write(
    path: &Path,
    format: ChapterFormat,
    chapters: &[Chapter],
) -> Result<(), ChaptersError> {
    let text = format.render(chapters);
    vclip_index::atomic::write_atomically(path, |w| w.write_all(text.as_bytes())).map_err(
        |source| ChaptersError::Write {
            path: path.to_owned(),
            source,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str, a: f64, b: f64) -> ChapterStep {
        ChapterStep {
            text: text.into(),
            start_s: a,
            end_s: b,
        }
    }

    fn ch(title: &str, a: u64, b: u64) -> Chapter {
        Chapter {
            title: title.into(),
            start_ms: a,
            end_ms: b,
        }
    }

    #[test]
    fn chapters_are_sorted_clamped_to_the_next_start_and_the_duration() {
        let got = chapters(
            &[
                step("lift the cover", 10.0, 20.0),
                step("remove the screws", 2.0, 12.5),
                step("unplug", 19.0004, 40.0),
            ],
            Some(30.25),
        )
        .expect("chapters");
        assert_eq!(
            got,
            vec![
                ch("remove the screws", 2000, 10000),
                ch("lift the cover", 10000, 19000),
                ch("unplug", 19000, 30250),
            ]
        );
        // Gaps between steps stay gaps.
        let got = chapters(&[step("a", 0.0, 1.0), step("b", 5.0, 6.0)], None).expect("ok");
        assert_eq!(got, vec![ch("a", 0, 1000), ch("b", 5000, 6000)]);
    }

    #[test]
    fn steps_starting_together_become_one_chapter() {
        let got = chapters(
            &[
                step("b", 3.0, 4.0),
                step("a", 3.0, 8.0),
                step("c", 6.0, 7.0),
            ],
            None,
        )
        .expect("chapters");
        assert_eq!(got, vec![ch("b / a", 3000, 6000), ch("c", 6000, 7000)]);
    }

    #[test]
    fn bad_times_are_errors_naming_the_step() {
        assert!(matches!(chapters(&[], None), Err(ChaptersError::NoSteps)));
        let e = chapters(&[step("a", 0.0, 1.0), step("b", f64::NAN, 2.0)], None);
        assert!(matches!(e, Err(ChaptersError::NotFinite { index: 2, .. })));
        let e = chapters(&[step("a", 5.0, 5.0)], None);
        assert!(matches!(e, Err(ChaptersError::BadSpan { index: 1, .. })));
        let e = chapters(&[step("a", -1.0, 5.0)], None);
        assert!(matches!(e, Err(ChaptersError::BadSpan { .. })));
        let e = chapters(&[step("late", 12.0, 13.0)], Some(12.0)).expect_err("past the end");
        assert!(e.to_string().contains("late"), "{e}");
        // An empty title gets a name.
        let got = chapters(&[step("  ", 0.0, 1.0)], None).expect("ok");
        assert_eq!(got[0].title, "Step 1");
    }

    #[test]
    fn webvtt_times_and_escaping() {
        let text = webvtt(&[
            ch("a --> b & <c>", 0, 1500),
            ch("two\nlines\r\n\nhere", 3_723_004, 36_000_000 + 1),
        ]);
        assert_eq!(
            text,
            "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\na --&gt; b &amp; &lt;c&gt;\n\
             \n2\n01:02:03.004 --> 10:00:00.001\ntwo lines here\n"
        );
        // Every cue's payload is one line without an arrow.
        for block in text.split("\n\n").skip(1) {
            let lines: Vec<&str> = block.lines().collect();
            assert_eq!(lines.len(), 3, "{block:?}");
            assert!(!lines[2].contains("-->"));
        }
    }

    #[test]
    fn ffmetadata_escapes_its_special_characters() {
        let text = ffmetadata(&[ch("a=b;c#d\\e\nf", 1000, 2500)]);
        assert_eq!(
            text,
            ";FFMETADATA1\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2500\n\
             title=a\\=b\\;c\\#d\\\\e\\\nf\n"
        );
    }

    #[test]
    fn format_follows_the_extension_and_writes_atomically() {
        assert_eq!(
            ChapterFormat::for_path(Path::new("x.VTT")),
            ChapterFormat::Vtt
        );
        assert_eq!(
            ChapterFormat::for_path(Path::new("x.txt")),
            ChapterFormat::Ffmetadata
        );
        assert_eq!(
            ChapterFormat::for_path(Path::new("chapters")),
            ChapterFormat::Ffmetadata
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("c.vtt");
        std::fs::write(&path, "old").expect("write");
        write(&path, ChapterFormat::Vtt, &[ch("a", 0, 1000)]).expect("write");
        assert!(std::fs::read_to_string(&path)
            .expect("read")
            .starts_with("WEBVTT\n"));
        // Only the file itself is left in the folder (no temporary).
        assert_eq!(std::fs::read_dir(tmp.path()).expect("ls").count(), 1);
        // A folder that does not exist: the error names the file.
        let bad = tmp.path().join("nope").join("c.txt");
        let e = write(&bad, ChapterFormat::Ffmetadata, &[ch("a", 0, 1000)]).expect_err("no dir");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
