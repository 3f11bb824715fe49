//! `probe`: what a media file holds, without decoding it.

use std::path::{Path, PathBuf};

use ffmpeg::media::Type as MediaType;
use ffmpeg_next as ffmpeg;
use serde::Serialize;

use crate::error::{MediaError, MediaErrorKind};
use crate::ffmpeg_util::{display_rotation, open_input, rate, seconds};
use crate::subtitles::sidecar_files;

/// What [`probe`] found in a file.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MediaInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    /// ffmpeg's short name(s) of the container, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    pub container_long: String,
    /// Container duration in seconds, when known.
    pub duration_s: Option<f64>,
    /// Whether the duration was only estimated from the bit rate (raw streams).
    pub duration_estimated: bool,
    pub bit_rate: Option<i64>,
    /// The container's `title` tag.
    pub title: Option<String>,
    /// The container's `description`, `synopsis` or `comment` tag (the first that is set).
    pub description: Option<String>,
    pub creation_time: Option<String>,
    /// The stream [`crate::ClipDecoder`] would decode (ffmpeg's "best" video stream).
    pub video: Option<VideoInfo>,
    pub has_audio: bool,
    pub streams: Vec<StreamInfo>,
    /// Sidecar subtitle files next to the video (`name.srt`, `name.en.srt`, `name.vtt`, …).
    pub sidecar_subtitles: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    Video,
    Audio,
    Subtitle,
    Data,
    Attachment,
    Unknown,
}

/// One stream of the container.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StreamInfo {
    pub index: usize,
    pub kind: StreamKind,
    pub codec: String,
    /// ISO 639 language tag, when the container has one (`und` is dropped).
    pub language: Option<String>,
    pub title: Option<String>,
    pub duration_s: Option<f64>,
    /// An embedded cover image rather than a video track.
    pub attached_picture: bool,
}

/// The video stream that will be decoded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VideoInfo {
    pub stream_index: usize,
    pub codec: String,
    pub pixel_format: String,
    /// Coded size, before rotation.
    pub width: u32,
    pub height: u32,
    /// Clockwise rotation applied for display (0, 90, 180, 270).
    pub rotation: i32,
    /// Size as displayed (after rotation).
    pub display_width: u32,
    pub display_height: u32,
    /// Average frame rate (frames / duration).
    pub avg_frame_rate: Option<f64>,
    /// ffmpeg's "real" base frame rate (lowest rate that represents all timestamps).
    pub real_frame_rate: Option<f64>,
    pub frame_count: Option<i64>,
    /// The container is an image format, or the stream is a single picture.
    pub still_image: bool,
}

/// Reads container, streams, video geometry, rotation, frame rates, audio and subtitle tracks.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let input = open_input(path)?;
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let format = input.format();
    let container = format.name().to_owned();

    let streams: Vec<StreamInfo> = input.streams().map(|s| stream_info(&s)).collect();
    let best_video = input.streams().best(MediaType::Video).filter(|s| {
        !s.disposition()
            .contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
    });
    let video = best_video.map(|s| video_info(&s, &container));

    // SAFETY: reading a plain enum field of the live format context.
    let estimation = unsafe { (*input.as_ptr()).duration_estimation_method };
    let duration = input.duration();
    let meta = input.metadata();
    Ok(MediaInfo {
        path: path.to_path_buf(),
        size_bytes,
        container,
        container_long: format.description().to_owned(),
        duration_s: (duration > 0).then(|| duration as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)),
        duration_estimated: estimation
            == ffmpeg::ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE,
        bit_rate: (input.bit_rate() > 0).then(|| input.bit_rate()),
        title: meta
            .get("title")
            .map(str::to_owned)
            .filter(|t| !t.is_empty()),
        description: ["description", "synopsis", "comment"]
            .iter()
            .filter_map(|k| meta.get(k))
            .map(str::trim)
            .find(|t| !t.is_empty())
            .map(str::to_owned),
        creation_time: meta.get("creation_time").map(str::to_owned),
        has_audio: streams.iter().any(|s| s.kind == StreamKind::Audio),
        video,
        streams,
        sidecar_subtitles: sidecar_files(path),
    })
}

impl MediaInfo {
    /// The error [`crate::ClipDecoder`] would give for a file without a decodable video stream.
    pub fn require_video(&self) -> Result<&VideoInfo, MediaError> {
        match &self.video {
            Some(v) if v.still_image => {
                Err(MediaError::new(&self.path, MediaErrorKind::StillImage))
            }
            Some(v) => Ok(v),
            None if self.has_audio => Err(MediaError::new(&self.path, MediaErrorKind::AudioOnly)),
            None => Err(MediaError::new(&self.path, MediaErrorKind::NoVideo)),
        }
    }
}

fn kind(t: MediaType) -> StreamKind {
    match t {
        MediaType::Video => StreamKind::Video,
        MediaType::Audio => StreamKind::Audio,
        MediaType::Subtitle => StreamKind::Subtitle,
        MediaType::Data => StreamKind::Data,
        MediaType::Attachment => StreamKind::Attachment,
        MediaType::Unknown => StreamKind::Unknown,
    }
}

fn stream_info(s: &ffmpeg::format::stream::Stream<'_>) -> StreamInfo {
    let params = s.parameters();
    let meta = s.metadata();
    let tb = s.time_base();
    StreamInfo {
        index: s.index(),
        kind: kind(params.medium()),
        codec: params.id().name().to_owned(),
        language: meta
            .get("language")
            .map(str::to_owned)
            .filter(|l| !l.is_empty() && l != "und"),
        title: meta.get("title").map(str::to_owned),
        duration_s: (s.duration() > 0).then(|| seconds(s.duration(), tb)),
        attached_picture: s
            .disposition()
            .contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC),
    }
}

/// Containers that hold pictures, not video (ffmpeg's image2 demuxer and the `*_pipe` family).
fn is_image_container(name: &str) -> bool {
    name == "image2" || name.ends_with("_pipe") || name == "webp_pipe"
}

pub(crate) fn video_info(s: &ffmpeg::format::stream::Stream<'_>, container: &str) -> VideoInfo {
    let params = s.parameters();
    // SAFETY: `params` owns a valid AVCodecParameters for its whole lifetime; we read plain fields.
    let (width, height, format) = unsafe {
        let p = &*params.as_ptr();
        (p.width.max(0) as u32, p.height.max(0) as u32, p.format)
    };
    let pixel_format = if (0..ffmpeg::ffi::AVPixelFormat::AV_PIX_FMT_NB as i32).contains(&format) {
        // SAFETY: AVPixelFormat's values are contiguous from 0 to AV_PIX_FMT_NB, so any value in
        // that range is a valid discriminant of the generated enum.
        let pix: ffmpeg::format::Pixel =
            unsafe { std::mem::transmute::<i32, ffmpeg::ffi::AVPixelFormat>(format) }.into();
        pix.descriptor()
            .map(|d| d.name().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let rotation = display_rotation(s);
    let (display_width, display_height) = if rotation == 90 || rotation == 270 {
        (height, width)
    } else {
        (width, height)
    };
    let frames = s.frames();
    VideoInfo {
        stream_index: s.index(),
        codec: params.id().name().to_owned(),
        pixel_format,
        width,
        height,
        rotation,
        display_width,
        display_height,
        avg_frame_rate: rate(s.avg_frame_rate()),
        real_frame_rate: rate(s.rate()),
        frame_count: (frames > 0).then_some(frames),
        still_image: is_image_container(container) || (frames == 1 && s.duration() <= 0),
    }
}
