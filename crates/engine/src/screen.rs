//! On-screen text: the words shown in a video (slides, terminals, signs, captions burnt into the
//! picture) as timed cues with the origin `screen`, searched like subtitles.
//!
//! 1. **Frames**: one per second, the whole picture upright in gray, its height clamped to
//!    [`MIN_HEIGHT`]–[`MAX_HEIGHT`] ([`vclip_media::FrameShape::Gray`]), so small text stays
//!    legible and an 8K frame stays affordable.
//! 2. **Which frames are read**: a frame that shows the same picture as the last one read (no
//!    cell of a 64×36 grid of luma means moved by [`CHANGE_LEVELS`] gray levels) reuses its
//!    text; a frame without text-like strokes (too few rows crossed by many sharp edges) is not
//!    read at all. The report counts both.
//! 3. **Reading**: Tesseract ([`vclip_ocr`]), words under its confidence bar left out.
//! 4. **Cues**: a line that stays on screen over consecutive seconds (the same words, up to
//!    OCR's small slips) is one cue from the first second to the last, its most confident
//!    reading as the text; a line gone for one second and back continues its cue.

use std::path::Path;

use serde::Serialize;
use vclip_media::{FrameSampler, FrameShape, MediaError, SampleOptions, SampledFrame};
use vclip_ocr::Ocr;

use crate::progress::CancelToken;

/// Frames are read at least this tall (smaller videos are scaled up)…
pub const MIN_HEIGHT: u32 = 720;
/// …and at most this tall (larger ones are scaled down).
pub const MAX_HEIGHT: u32 = 1080;
/// A cell of the change grid moving by this many gray levels is a changed picture.
pub const CHANGE_LEVELS: f32 = 6.0;
/// Lines alike at least this much (character-level similarity, 0–1), with the same digits, are
/// the same line read twice ("Slide 1 …" and "Slide 2 …" are two lines).
const SAME_LINE: f64 = 0.8;
/// Seconds a line may be missing and still continue its cue.
const GAP_S: usize = 1;

/// One cue of on-screen text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScreenCue {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// Mean word confidence of the reading kept, 0–100.
    pub confidence: f32,
}

/// What reading a video's screen found and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScreenReport {
    pub cues: Vec<ScreenCue>,
    /// Seconds of video looked at.
    pub seconds: usize,
    /// Frames Tesseract read.
    pub read: usize,
    /// Frames that showed the picture last read (its text reused).
    pub unchanged: usize,
    /// Frames without text-like strokes (not read).
    pub textless: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Ocr(#[from] vclip_ocr::OcrError),
    #[error("cancelled")]
    Cancelled,
}

/// How the sampler is asked for the frames read.
pub fn frame_options() -> SampleOptions {
    SampleOptions {
        shape: FrameShape::Gray {
            min_height: MIN_HEIGHT,
            max_height: MAX_HEIGHT,
        },
        ..SampleOptions::default()
    }
}

/// Reads the on-screen text of the video at `path` with `ocr`, calling `on_second` after each
/// second.
pub fn read_screen(
    path: &Path,
    ocr: &mut Ocr,
    on_second: &mut dyn FnMut(usize),
    cancel: &CancelToken,
) -> Result<ScreenReport, ScreenError> {
    let sampler = FrameSampler::open(path, frame_options())?;
    let mut report = ScreenReport::default();
    let mut tracker = LineTracker::default();
    let mut last: Option<(Vec<f32>, Vec<vclip_ocr::Line>)> = None;
    for frame in sampler {
        if cancel.is_cancelled() {
            return Err(ScreenError::Cancelled);
        }
        let frame = frame?;
        let grid = change_grid(&frame);
        let lines = match &last {
            Some((g, lines)) if !changed(g, &grid) => {
                report.unchanged += 1;
                lines.clone()
            }
            _ if !has_text_strokes(&frame) => {
                report.textless += 1;
                Vec::new()
            }
            _ => {
                report.read += 1;
                ocr.read_gray(
                    &frame.rgb,
                    frame.width as usize,
                    frame.height as usize,
                    frame.width as usize,
                )?
            }
        };
        tracker.see(frame.second, &lines);
        last = Some((grid, lines));
        report.seconds += 1;
        on_second(report.seconds);
    }
    report.cues = tracker.finish();
    Ok(report)
}

/// Mean luma of a 64×36 grid of cells.
fn change_grid(f: &SampledFrame) -> Vec<f32> {
    const GW: usize = 64;
    const GH: usize = 36;
    let (w, h) = (f.width as usize, f.height as usize);
    let mut out = vec![0f32; GW * GH];
    if w == 0 || h == 0 {
        return out;
    }
    for (gy, row) in out.chunks_exact_mut(GW).enumerate() {
        let (y0, y1) = (gy * h / GH, ((gy + 1) * h / GH).max(gy * h / GH + 1).min(h));
        for (gx, cell) in row.iter_mut().enumerate() {
            let (x0, x1) = (gx * w / GW, ((gx + 1) * w / GW).max(gx * w / GW + 1).min(w));
            let mut sum = 0u64;
            for y in y0..y1 {
                sum += f.rgb[y * w + x0..y * w + x1]
                    .iter()
                    .map(|&v| u64::from(v))
                    .sum::<u64>();
            }
            *cell = sum as f32 / ((y1 - y0) * (x1 - x0)).max(1) as f32;
        }
    }
    out
}

fn changed(a: &[f32], b: &[f32]) -> bool {
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| (x - y).abs() >= CHANGE_LEVELS)
}

/// Whether a gray frame has rows crossed by many sharp edges, as lines of text do: at least
/// three rows (of every other row) with a sharp luma step every ~100 pixels or more *and* well
/// above the frame's median row (2.5×), so that a texture busy on every row (foliage, water, a
/// fractal) is not taken for text while a caption over it still is.
fn has_text_strokes(f: &SampledFrame) -> bool {
    let (w, h) = (f.width as usize, f.height as usize);
    if w < 2 || h == 0 {
        return false;
    }
    let need = (w / 100).max(6);
    let steps: Vec<usize> = (0..h)
        .step_by(2)
        .map(|y| {
            f.rgb[y * w..(y + 1) * w]
                .windows(2)
                .filter(|p| p[0].abs_diff(p[1]) >= 48)
                .count()
        })
        .collect();
    let busy = |threshold: f64| steps.iter().filter(|&&n| n as f64 >= threshold).count();
    let mut sorted = steps.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2] as f64;
    busy((need as f64).max(2.5 * median)) >= 3
}

/// Lines as keys: lower case, letters and digits, single spaces.
fn key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let w: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&w);
        }
    }
    out
}

/// Whether a line (as a key) is text rather than what OCR reads into a texture: two words or
/// more, or one of at least four letters or digits ("we", "Se", "pas" read off a fractal are
/// not kept).
fn worth_keeping(key: &str) -> bool {
    let alnum = key.chars().filter(|c| c.is_alphanumeric()).count();
    alnum >= 3 && (key.contains(' ') || alnum >= 4)
}

/// The digits of a key, in order: a changed number is new text, not an OCR slip.
fn digits(key: &str) -> String {
    key.chars().filter(char::is_ascii_digit).collect()
}

/// Character-level similarity of two keys: 1 − edit distance / longer length.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f64 / longest as f64
}

/// A line being followed over the seconds.
#[derive(Debug)]
struct Open {
    key: String,
    text: String,
    confidence: f32,
    start: usize,
    last: usize,
}

/// Turns the lines seen each second into cues (see the module docs).
#[derive(Debug, Default)]
struct LineTracker {
    open: Vec<Open>,
    done: Vec<ScreenCue>,
}

impl LineTracker {
    fn see(&mut self, second: usize, lines: &[vclip_ocr::Line]) {
        for l in lines {
            let k = key(&l.text);
            if !worth_keeping(&k) {
                continue;
            }
            let best = self
                .open
                .iter_mut()
                .filter(|o| o.last + 1 + GAP_S >= second && o.last < second)
                .filter(|o| digits(&o.key) == digits(&k))
                .map(|o| (similarity(&o.key, &k), o))
                .filter(|(s, _)| *s >= SAME_LINE)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, o)) => {
                    o.last = second;
                    if l.confidence > o.confidence {
                        o.text = l.text.clone();
                        o.key = k;
                        o.confidence = l.confidence;
                    }
                }
                None => self.open.push(Open {
                    key: k,
                    text: l.text.clone(),
                    confidence: l.confidence,
                    start: second,
                    last: second,
                }),
            }
        }
        let (gone, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| o.last + GAP_S < second);
        self.open = open;
        self.close(gone);
    }

    fn close(&mut self, gone: Vec<Open>) {
        self.done.extend(gone.into_iter().map(|o| ScreenCue {
            start_s: o.start as f64,
            end_s: (o.last + 1) as f64,
            text: o.text,
            confidence: o.confidence,
        }));
    }

    fn finish(mut self) -> Vec<ScreenCue> {
        let open = std::mem::take(&mut self.open);
        self.close(open);
        self.done
            .sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.text.cmp(&b.text)));
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, confidence: f32) -> vclip_ocr::Line {
        vclip_ocr::Line {
            text: text.to_owned(),
            confidence,
            bbox: [0, 0, 1, 1],
        }
    }

    #[test]
    fn a_line_on_screen_over_seconds_is_one_cue_despite_slips() {
        let mut t = LineTracker::default();
        t.see(0, &[line("Step 1: preheat the oven", 90.0)]);
        t.see(
            1,
            &[
                line("Step 1: preheat the oven", 92.0),
                line("$ cargo build", 80.0),
            ],
        );
        t.see(
            2,
            &[
                line("Step 1: preheat tne ovem", 70.0),
                line("$ cargo build", 85.0),
            ],
        );
        // Gone for one second, back: the same cue.
        t.see(4, &[line("Step 1: preheat the oven", 91.0)]);
        t.see(5, &[line("Whisk the eggs", 88.0)]);
        t.see(
            9,
            &[
                line("$ cargo build", 80.0),
                line("Slide 1 of the review", 90.0),
            ],
        );
        t.see(10, &[line("Slide 2 of the review", 90.0)]);
        let cues = t.finish();
        let got: Vec<(f64, f64, &str)> = cues
            .iter()
            .map(|c| (c.start_s, c.end_s, c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.0, 5.0, "Step 1: preheat the oven"),
                (1.0, 3.0, "$ cargo build"),
                (5.0, 6.0, "Whisk the eggs"),
                (9.0, 10.0, "$ cargo build"),
                (9.0, 10.0, "Slide 1 of the review"),
                (10.0, 11.0, "Slide 2 of the review"),
            ]
        );
        assert_eq!(cues[0].confidence, 92.0);
    }

    #[test]
    fn keys_and_similarity() {
        assert_eq!(key("  Hello,   World! "), "hello world");
        assert_eq!(similarity("kitten", "sitting"), 1.0 - 3.0 / 7.0);
        assert_eq!(similarity("", ""), 1.0);
        // Noise of a few characters is not a line; short words together are.
        let mut t = LineTracker::default();
        t.see(
            0,
            &[
                line("|", 95.0),
                line("a", 95.0),
                line("Se", 90.0),
                line("pas", 90.0),
            ],
        );
        assert!(t.finish().is_empty());
        let mut t = LineTracker::default();
        t.see(0, &[line("go on", 90.0), line("Menu", 90.0)]);
        assert_eq!(t.finish().len(), 2);
    }
}

/// What reading the library's screen text did (`vclip ocr`, the import's screen-text stage).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScreenTextReport {
    /// Videos read, with the cues found in each.
    pub read: Vec<(String, usize)>,
    /// Videos whose text had been read with these language packs already.
    pub up_to_date: usize,
    /// Videos that could not be read, and why (the others carry on).
    pub failed: Vec<(String, String)>,
    /// Seconds of video looked at, and frames Tesseract read.
    pub seconds: usize,
    pub frames_read: usize,
    pub cancelled: bool,
}

impl crate::store::Engine {
    /// Reads the on-screen text of the ready videos (`only`: of these ids) whose text was not
    /// read yet with `ocr`'s language packs, and stores it as `screen` cues: searchable by
    /// words, by meaning (with a sentence encoder) and as the snippet of a hit. A video stores
    /// its cues in one transaction when read, so a cancelled or killed run resumes with the
    /// videos not read yet.
    pub fn read_screen_texts(
        &self,
        ocr: &mut Ocr,
        only: Option<&[i64]>,
        sink: &dyn crate::progress::ProgressSink,
        cancel: &CancelToken,
    ) -> crate::store::Result<ScreenTextReport> {
        use vclip_index::Status;
        let languages = ocr.languages().to_owned();
        let mut report = ScreenTextReport::default();
        let mut todo = Vec::new();
        for v in self.videos_with_status(Status::Ready)? {
            if v.missing_since.is_some() || only.is_some_and(|ids| !ids.contains(&v.id)) {
                continue;
            }
            if v.screen_text.as_deref() == Some(languages.as_str()) {
                report.up_to_date += 1;
            } else {
                todo.push(v);
            }
        }
        let total: f64 = todo
            .iter()
            .map(|v| v.duration_s.unwrap_or(0.0).ceil())
            .sum();
        let mut tracker = crate::progress::Tracker::new("screen text", "s", Some(total as u64));
        tracker.set_items(0, Some(todo.len() as u64));
        tracker.start(sink);
        for (i, v) in todo.iter().enumerate() {
            tracker.set_current(
                Path::new(&v.path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
            );
            let before = tracker.snapshot().done;
            let read = read_screen(
                Path::new(&v.path),
                ocr,
                &mut |_| tracker.advance(1, sink),
                cancel,
            );
            match read {
                Ok(r) => {
                    report.seconds += r.seconds;
                    report.frames_read += r.read;
                    self.store_screen_text(v, &languages, &r.cues, sink)?;
                    report.read.push((v.path.clone(), r.cues.len()));
                }
                Err(ScreenError::Cancelled) => {
                    report.cancelled = true;
                    tracker.cancelled(sink);
                    return Ok(report);
                }
                Err(e) => {
                    sink.emit(crate::ProgressEvent::Warning {
                        item: v.path.clone(),
                        message: format!("screen text: {e}"),
                    });
                    report.failed.push((v.path.clone(), e.to_string()));
                }
            }
            let expected = before + v.duration_s.unwrap_or(0.0).ceil() as u64;
            let after = tracker.snapshot().done;
            if after < expected {
                tracker.advance(expected - after, sink);
            }
            tracker.set_items(i as u64 + 1, Some(todo.len() as u64));
        }
        self.save_sentence_index()?;
        tracker.finish(sink);
        Ok(report)
    }

    /// Stores `cues` as video `v`'s screen text: catalogue (one transaction), text index, and
    /// the sentence index when there is one.
    fn store_screen_text(
        &self,
        v: &vclip_index::Video,
        languages: &str,
        cues: &[ScreenCue],
        sink: &dyn crate::progress::ProgressSink,
    ) -> crate::store::Result<()> {
        let rows: Vec<vclip_index::Cue> = cues
            .iter()
            .map(|c| vclip_index::Cue {
                start_s: c.start_s,
                end_s: c.end_s,
                text: c.text.clone(),
                origin: vclip_index::CueOrigin::Screen,
            })
            .collect();
        let old = self
            .library()
            .catalogue_mut()
            .replace_screen_text(v.id, languages, &rows)?;
        self.unindex_cues(&old)?;
        let docs = crate::import::text_docs(self, v)?;
        self.text_write().replace_video(v.id, &docs)?;
        self.index_cues(v, sink);
        Ok(())
    }
}
