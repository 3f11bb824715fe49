//! Found moments handed to video editors: SMPTE timecode for the source's frame rate
//! ([`FrameRate`], [`Timecode`]; 29.97 and 59.94 drop-frame included), and a set of moments
//! ([`Clip`]) written as a CMX 3600 EDL ([`edl`]: Premiere, Resolve, Avid), an FCPXML project
//! ([`fcpxml`]: Final Cut Pro) or a marker CSV ([`markers_csv`]).
//!
//! Pure text: the engine probes the files (frame rate, size, duration) and writes the result.

mod formats;
mod timecode;

pub use formats::{edl, fcpxml, markers_csv, Clip, Format};
pub use timecode::{FrameRate, Timecode};

/// What cannot be written.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TimelineError {
    #[error("{0:?} is not a timecode (HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame)")]
    BadTimecode(String),
    #[error("{label} does not exist in {rate} drop-frame timecode (frames 0 and 1 of every minute but each tenth are skipped)")]
    DroppedLabel { label: String, rate: FrameRate },
    #[error("frame rate {0} is not usable for timecode")]
    BadRate(String),
    #[error("{path}: the moment {start_s:.3}-{end_s:.3} s is empty or outside the video ({duration_s:.3} s)")]
    BadSpan {
        path: String,
        start_s: f64,
        end_s: f64,
        duration_s: f64,
    },
    #[error("a CMX 3600 EDL holds at most 999 events; {0} moments given")]
    TooManyEvents(usize),
    #[error("no moments to export")]
    Empty,
    #[error("unknown export format {0:?} (edl, fcpxml or csv)")]
    UnknownFormat(String),
}
