//! Media errors: every error names the file and says what is wrong with it in words a user
//! understands; the ffmpeg error behind it is kept as the source.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error about one media file.
#[derive(Debug, thiserror::Error)]
pub struct MediaError {
    pub path: PathBuf,
    pub kind: MediaErrorKind,
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

impl MediaError {
    pub fn new(path: &Path, kind: MediaErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            kind,
        }
    }
}

/// What went wrong with a media file.
#[derive(Debug, thiserror::Error)]
pub enum MediaErrorKind {
    #[error("no such file")]
    NotFound,
    #[error("permission denied (the file cannot be read)")]
    PermissionDenied,
    #[error("not a regular file")]
    NotAFile,
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    #[error("not a media file ffmpeg can read ({0})")]
    NotMedia(#[source] ffmpeg_next::Error),
    #[error("the {container} file is truncated or damaged: {detail}")]
    Damaged { container: String, detail: String },
    #[error("no video stream (audio only)")]
    AudioOnly,
    #[error("no video stream")]
    NoVideo,
    #[error("a still image, not a video")]
    StillImage,
    #[error("no decoder for video codec `{0}` in this ffmpeg build")]
    UnsupportedCodec(String),
    #[error("no decodable video frame")]
    NoFrames,
    #[error("the time {at_s} s is outside the video (duration {duration_s:.3} s)")]
    OutOfRange { at_s: f64, duration_s: f64 },
    #[error("ffmpeg failed while {op}: {source}")]
    Ffmpeg {
        op: &'static str,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("the span {start_s:.3}-{end_s:.3} s holds no frame")]
    EmptySpan { start_s: f64, end_s: f64 },
    #[error("already exists (replace it with --force)")]
    Exists,
    #[error("subtitle file: {0}")]
    Subtitle(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Attach the ffmpeg operation that failed: `ctx.map_err(ff(path, "opening the decoder"))`.
pub(crate) fn ff<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl Fn(ffmpeg_next::Error) -> MediaError + 'a {
    move |source| MediaError::new(path, MediaErrorKind::Ffmpeg { op, source })
}
