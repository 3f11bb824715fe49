//! Found moments handed to editors: a search's results (or a video's steps) written as a CMX
//! 3600 EDL, an FCPXML project or a marker CSV (`vclip-timeline` writes the text). Each source
//! file is probed once for what the formats need (frame rate, picture size, duration); a file
//! that cannot be probed is left out and named in the report, the others are written. The file
//! is written whole through a temporary file renamed into place: a full disk or a killed process
//! leaves no partial export, and an existing file is replaced only when asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vclip_timeline::{Clip, Format, FrameRate};

use crate::store::{EngineError, Result};

/// One moment to export.
#[derive(Debug, Clone)]
pub struct ExportMoment {
    pub path: PathBuf,
    pub start_s: f64,
    pub end_s: f64,
    /// What found it: the EDL comment, the FCPXML marker, the CSV note.
    pub note: String,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub out: PathBuf,
    pub format: String,
    /// Moments written.
    pub moments: usize,
    /// Moments left out, each with its file and why.
    pub skipped: Vec<SkippedMoment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedMoment {
    pub path: PathBuf,
    pub reason: String,
}

/// What the formats need to know of a source file.
struct Source {
    rate: FrameRate,
    width: u32,
    height: u32,
    duration_s: f64,
}

fn probe_source(path: &Path) -> std::result::Result<Source, String> {
    let info = vclip_media::probe(path).map_err(|e| e.to_string())?;
    let video = info
        .video
        .as_ref()
        .filter(|v| !v.still_image)
        .ok_or("no video stream")?;
    let fps = video
        .avg_frame_rate
        .filter(|r| r.is_finite() && *r > 0.0)
        .or(video.real_frame_rate)
        .ok_or("no frame rate")?;
    let rate = FrameRate::from_fps(fps).map_err(|e| e.to_string())?;
    let duration_s = info
        .duration_s
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or("no duration")?;
    Ok(Source {
        rate,
        width: video.display_width,
        height: video.display_height,
        duration_s,
    })
}

/// Writes `moments` to `out` as `format` (`edl`, `fcpxml` or `csv`) under `title`; refuses an
/// existing `out` unless `overwrite`.
pub fn export_moments(
    moments: &[ExportMoment],
    format: &str,
    title: &str,
    out: &Path,
    overwrite: bool,
) -> Result<ExportReport> {
    let fail = |reason: String| EngineError::Export {
        path: out.to_path_buf(),
        reason,
    };
    let format = Format::parse(format).map_err(|e| EngineError::Invalid(e.to_string()))?;
    if !overwrite && out.symlink_metadata().is_ok() {
        return Err(fail("already exists (replace it with --force)".into()));
    }
    let mut sources: HashMap<&Path, std::result::Result<Source, String>> = HashMap::new();
    let mut clips = Vec::new();
    let mut skipped = Vec::new();
    for m in moments {
        let source = sources
            .entry(m.path.as_path())
            .or_insert_with(|| probe_source(&m.path));
        let reason = match source {
            Ok(s) if m.start_s >= s.duration_s || m.end_s <= m.start_s || m.start_s < 0.0 => {
                format!(
                    "the moment {:.2}-{:.2} s is outside the video ({:.2} s)",
                    m.start_s, m.end_s, s.duration_s
                )
            }
            Ok(s) => {
                clips.push(Clip {
                    path: m.path.clone(),
                    start_s: m.start_s,
                    end_s: m.end_s,
                    rate: s.rate,
                    width: s.width,
                    height: s.height,
                    duration_s: s.duration_s,
                    note: m.note.clone(),
                });
                continue;
            }
            Err(e) => e.clone(),
        };
        skipped.push(SkippedMoment {
            path: m.path.clone(),
            reason,
        });
    }
    if clips.is_empty() {
        return Err(fail(match skipped.first() {
            Some(s) => format!(
                "no moment can be exported ({}: {})",
                s.path.display(),
                s.reason
            ),
            None => "no moments to export".into(),
        }));
    }
    let text = format
        .write(title, &clips)
        .map_err(|e| fail(e.to_string()))?;
    vclip_index::atomic::write_atomically(out, |w| std::io::Write::write_all(w, text.as_bytes()))?;
    Ok(ExportReport {
        out: out.to_path_buf(),
        format: format.extension().to_string(),
        moments: clips.len(),
        skipped,
    })
}
