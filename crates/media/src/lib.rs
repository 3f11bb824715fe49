//! The VClip media layer: everything between a file on disk and the pixels and words the model sees.
//!
//! - [`probe`]: what a file holds (container, streams, rotation, frame rates, subtitle tracks).
//! - [`ClipDecoder`]: a streaming decoder that yields 1-second clips of 30 RGB frames, 224×224,
//!   exactly as the VideoCLIP feature extractor prepares them (fps=30 → short side 224 → centre crop;
//!   see `docs/model-notes.md` §2). Memory stays bounded whatever the video's length.
//! - [`FrameSampler`] ([`decode_per_second`]): one 224×224 RGB frame per second for per-frame
//!   models (CLIP), the frame on screen at each second's middle (frame 15 of the matching clip),
//!   decoding only what that frame needs.
//! - [`subtitles`]: cues from embedded text streams and sidecar `.srt`/`.vtt` files.
//! - [`thumbnail`]: a JPEG of one moment, for the UI.
//!
//! Decoding runs ffmpeg's own filter graph (`fps`, `scale`, `crop`, `format`), the same filters the
//! reference extractor runs through the ffmpeg CLI, so frames match the reference bit for bit.

mod error;
mod ffmpeg_util;
mod geometry;
mod image;
mod probe;

pub mod cut;
pub mod decode;
pub mod sample;
pub mod subtitles;
pub mod thumbnail;

pub use cut::{cut, span_srt, CutMode, CutReport};
pub use decode::{Clip, ClipDecoder, DecodeOptions, DecodeReport, CLIP_FRAMES, CLIP_SIZE, FPS};
pub use error::{MediaError, MediaErrorKind};
pub use geometry::{scaled_size, ScaledSize};
pub use image::write_png_rgb;
pub use probe::{probe, MediaInfo, StreamInfo, StreamKind, VideoInfo};
pub use sample::{
    decode_per_second, FrameSampler, FrameShape, SampleOptions, SampleReport, SampledFrame,
    Threading,
};
pub use subtitles::{Cue, SubtitleTrack};
pub use thumbnail::{still_rgb, thumbnail_jpeg};

/// File extensions VClip treats as video without probing (lower case, no dot).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "wmv", "flv", "mpg", "mpeg", "ts", "m2ts", "mts",
    "3gp", "ogv", "mxf", "vob", "dv", "y4m",
];

/// Whether `path` has one of [`VIDEO_EXTENSIONS`].
pub fn has_video_extension(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
