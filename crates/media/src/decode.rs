//! The streaming clip decoder: a video file in, 1-second clips of 30 RGB frames (224×224) out.
//!
//! The pipeline is the one the VideoCLIP feature extractor runs through the ffmpeg CLI
//! (`docs/model-notes.md` §2, MMPT `videoreader.py`): `fps=30` (frames resampled by presentation
//! timestamp: dropped or repeated, so variable and odd frame rates give 30 frames per second of
//! video), `scale` so the short side is 224 (long side truncated), `crop` 224×224 at the centre,
//! RGB24. It is built as an in-process libavfilter graph with the same filters, so frames match the
//! CLI's output; display rotation is applied first, as the CLI's autorotate does. The last partial
//! second is padded with black frames, like the reference's zero padding.
//!
//! Memory is bounded: packets are read one at a time and at most one clip is assembled at once
//! (plus whatever the codec's frame threads hold), whatever the video's length.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg::codec::threading;
use ffmpeg::format::context::Input;
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg::Rational;
use ffmpeg_next as ffmpeg;

use crate::error::{ff, MediaError, MediaErrorKind};
use crate::ffmpeg_util::{open_input, rate, rotate_filter, seconds, start_time, video_graph};
use crate::geometry::scaled_size;
use crate::probe::{video_info, VideoInfo};

/// Frames per second the model sees.
pub const FPS: u32 = 30;
/// Frames in one clip (one second).
pub const CLIP_FRAMES: usize = 30;
/// Side of the square frames the model sees.
pub const CLIP_SIZE: u32 = 224;

/// Give up on a file after this many unreadable packets in a row.
pub(crate) const MAX_CONSECUTIVE_READ_ERRORS: usize = 64;

/// How [`ClipDecoder`] samples and shapes frames. The defaults are VideoCLIP's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    pub fps: u32,
    /// Output side: short side scaled to this, then centre-cropped to `size`×`size`.
    pub size: u32,
    /// Frames per clip (`fps` for 1-second clips).
    pub clip_frames: usize,
    /// Decoder threads; 0 lets ffmpeg pick one per core.
    pub threads: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            fps: FPS,
            size: CLIP_SIZE,
            clip_frames: CLIP_FRAMES,
            threads: 0,
        }
    }
}

/// One clip: `clip_frames` RGB frames of `size`×`size`, frame-major, row-major, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Position of the clip in the video: clip `i` covers seconds `[i, i+1)` for 1-second clips.
    pub index: usize,
    /// `clip_frames * size * size * 3` bytes, layout (T, H, W, C).
    pub frames: Vec<u8>,
    /// Frames decoded from the video; the rest (at the end of the last clip) are black padding.
    pub valid_frames: usize,
    pub size: u32,
    pub fps: u32,
}

impl Clip {
    pub fn frame_count(&self) -> usize {
        self.frames.len() / self.frame_bytes()
    }

    /// Bytes of one RGB frame.
    pub fn frame_bytes(&self) -> usize {
        self.size as usize * self.size as usize * 3
    }

    /// Frame `t` as RGB24 bytes.
    pub fn frame(&self, t: usize) -> &[u8] {
        let n = self.frame_bytes();
        &self.frames[t * n..(t + 1) * n]
    }

    /// The one frame of this second that the per-second sampler ([`crate::FrameSampler`]) takes:
    /// the middle frame (`frame_count() / 2`: frame 15, the frame on screen at `start + 0.5 s`),
    /// or the last decoded frame when the video ends before the middle. For 1-second clips at the
    /// sampler's `fps` and `size`, these are the sampler's exact frames (the same filters on the
    /// same decoded frame), so one decoding pass can feed a per-clip model and a per-frame one.
    pub fn sample_frame(&self) -> &[u8] {
        let middle = self.frame_count() / 2;
        self.frame(middle.min(self.valid_frames.max(1) - 1))
    }

    /// Start of the clip in seconds.
    pub fn start_s(&self) -> f64 {
        (self.index * self.frame_count()) as f64 / f64::from(self.fps)
    }

    /// The clip as S3D takes it: (C=3, T, H, W) floats in [0, 1] (`/255`, no mean/std).
    pub fn to_cthw_f32(&self) -> Vec<f32> {
        let t_n = self.frame_count();
        let hw = self.size as usize * self.size as usize;
        let mut out = vec![0f32; 3 * t_n * hw];
        for t in 0..t_n {
            let frame = self.frame(t);
            for (p, px) in frame.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    out[(c * t_n + t) * hw + p] = f32::from(px[c]) / 255.0;
                }
            }
        }
        out
    }
}

/// What happened while decoding, for the caller to report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DecodeReport {
    /// Frames that came out of the codec.
    pub decoded_frames: u64,
    /// Frames at the output rate (before padding).
    pub output_frames: u64,
    pub clips: u64,
    /// Packets or frames that ffmpeg could not decode and that were skipped.
    pub corrupt_packets: u64,
    /// Frames without a timestamp, given one from the previous frame's.
    pub missing_timestamps: u64,
    /// End of the decoded video in seconds (last frame's time plus its duration).
    pub decoded_s: f64,
    /// The file ended (or broke off) well before the duration its container declares.
    pub truncated: bool,
    pub warnings: Vec<String>,
}

/// A demuxer and an opened decoder for a file's best video stream, with the timing facts both
/// the clip decoder and the per-second sampler need.
pub(crate) struct VideoInput {
    pub input: Input,
    pub info: VideoInfo,
    /// The container's duration, unless ffmpeg only estimated it from the bit rate.
    pub container_duration_s: Option<f64>,
    pub stream_index: usize,
    pub time_base: Rational,
    /// Timestamp of the container's start in the stream's time base (the CLI shifts it to 0).
    pub ts_offset: i64,
    /// Fallback frame duration in stream time base, for frames without one.
    pub default_duration: i64,
    pub decoder: ffmpeg::decoder::Video,
}

/// Puts `frame` on the decoder's axis (container start = 0; `axis` = (offset, fallback frame
/// duration)) and returns its timestamp: a frame without one follows the last, and timestamps
/// are kept strictly increasing so no frame is lost to a backwards jump. Updates the last
/// frame's timestamp and duration, and counts missing timestamps.
pub(crate) fn stamp_frame(
    frame: &mut VideoFrame,
    (ts_offset, default_duration): (i64, i64),
    last_pts: &mut Option<i64>,
    last_duration: &mut i64,
    missing: &mut u64,
) -> i64 {
    let pts = match frame.timestamp() {
        Some(ts) => ts - ts_offset,
        None => {
            *missing += 1;
            last_pts.map_or(0, |p| p + *last_duration)
        }
    };
    let pts = match *last_pts {
        Some(last) if pts <= last => last + 1,
        _ => pts,
    };
    let duration = frame.packet().duration;
    *last_duration = if duration > 0 {
        duration
    } else {
        default_duration
    };
    *last_pts = Some(pts);
    frame.set_pts(Some(pts));
    pts
}

impl VideoInput {
    /// Opens `path`'s best video stream (not a cover picture) with `threads` decoder threads of
    /// `kind` (0: one per core); `fallback_fps` is the frame rate assumed when the stream says none.
    pub(crate) fn open(
        path: &Path,
        kind: threading::Type,
        threads: usize,
        fallback_fps: u32,
    ) -> Result<Self, MediaError> {
        let input = open_input(path)?;
        let err = |kind| MediaError::new(path, kind);
        let container = input.format().name().to_owned();
        let has_audio = input
            .streams()
            .any(|s| s.parameters().medium() == ffmpeg::media::Type::Audio);
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Video)
            .filter(|s| {
                !s.disposition()
                    .contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
            })
            .ok_or_else(|| {
                err(if has_audio {
                    MediaErrorKind::AudioOnly
                } else {
                    MediaErrorKind::NoVideo
                })
            })?;
        let info = video_info(&stream, &container);
        if info.still_image {
            return Err(err(MediaErrorKind::StillImage));
        }
        let stream_index = stream.index();
        let time_base = stream.time_base();

        let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(ff(path, "reading the codec parameters"))?;
        // SAFETY: setting a plain field of a codec context we own, before it is opened; the CLI
        // does the same so that decoders see packet timestamps in the stream's time base.
        unsafe {
            (*ctx.as_mut_ptr()).pkt_timebase = time_base.into();
        }
        ctx.set_threading(threading::Config {
            kind,
            count: threads,
            ..Default::default()
        });
        let decoder = ctx.decoder().video().map_err(|e| match e {
            ffmpeg::Error::DecoderNotFound => {
                err(MediaErrorKind::UnsupportedCodec(info.codec.clone()))
            }
            e => err(MediaErrorKind::Ffmpeg {
                op: "opening the video decoder",
                source: e,
            }),
        })?;

        let start_time = start_time(&input);
        let ts_offset = if start_time == ffmpeg::ffi::AV_NOPTS_VALUE {
            0
        } else {
            rescale(
                start_time,
                Rational::new(1, ffmpeg::ffi::AV_TIME_BASE),
                time_base,
            )
        };
        let frame_rate = rate(stream.avg_frame_rate())
            .or_else(|| rate(stream.rate()))
            .unwrap_or(f64::from(fallback_fps));
        let default_duration = ((f64::from(time_base.denominator())
            / (f64::from(time_base.numerator()) * frame_rate))
            .round() as i64)
            .max(1);
        // SAFETY: reading a plain enum field of the live format context.
        let estimated = unsafe {
            (*input.as_ptr()).duration_estimation_method
                == ffmpeg::ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE
        };
        let container_duration_s = (input.duration() > 0 && !estimated)
            .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
        Ok(Self {
            input,
            info,
            container_duration_s,
            stream_index,
            time_base,
            ts_offset,
            default_duration,
            decoder,
        })
    }
}

enum State {
    Reading,
    Done,
}

/// A streaming decoder that yields [`Clip`]s. See the module docs.
///
/// Errors that end decoding are returned once from [`Iterator::next`]; damage that can be skipped
/// (corrupt packets, a cut-off end) is recorded in [`ClipDecoder::report`] instead.
pub struct ClipDecoder {
    path: PathBuf,
    opts: DecodeOptions,
    input: Input,
    info: VideoInfo,
    container_duration_s: Option<f64>,
    stream_index: usize,
    time_base: Rational,
    /// Timestamp of the container's start in the stream's time base (the CLI shifts it to 0).
    ts_offset: i64,
    /// Fallback frame duration in stream time base, for frames without one.
    default_duration: i64,
    decoder: ffmpeg::decoder::Video,
    graph: Option<ffmpeg::filter::Graph>,
    /// Timestamp and duration of the last frame sent to the graph.
    last_pts: Option<i64>,
    last_duration: i64,
    current: Vec<u8>,
    current_frames: usize,
    ready: VecDeque<Clip>,
    next_index: usize,
    report: DecodeReport,
    state: State,
    frame: VideoFrame,
    filtered: VideoFrame,
}

impl std::fmt::Debug for ClipDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipDecoder")
            .field("path", &self.path)
            .field("opts", &self.opts)
            .field("info", &self.info)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl ClipDecoder {
    /// Opens `path` and prepares its best video stream for decoding.
    pub fn open(path: &Path, opts: DecodeOptions) -> Result<Self, MediaError> {
        let VideoInput {
            input,
            info,
            container_duration_s,
            stream_index,
            time_base,
            ts_offset,
            default_duration,
            decoder,
        } = VideoInput::open(path, threading::Type::Frame, opts.threads, opts.fps)?;

        let clip_bytes = opts.clip_frames * opts.size as usize * opts.size as usize * 3;
        Ok(Self {
            path: path.to_path_buf(),
            input,
            info,
            container_duration_s,
            stream_index,
            time_base,
            ts_offset,
            default_duration,
            decoder,
            graph: None,
            last_pts: None,
            last_duration: default_duration,
            current: Vec::with_capacity(clip_bytes),
            current_frames: 0,
            ready: VecDeque::new(),
            next_index: 0,
            report: DecodeReport::default(),
            state: State::Reading,
            frame: VideoFrame::empty(),
            filtered: VideoFrame::empty(),
            opts,
        })
    }

    /// The video stream being decoded.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// The number of clips the container's duration promises (the decoder may yield fewer when the
    /// file is truncated), for progress bars.
    pub fn expected_clips(&self) -> Option<u64> {
        let frames_per_s = f64::from(self.opts.fps);
        self.container_duration_s
            .map(|d| ((d * frames_per_s).round() / self.opts.clip_frames as f64).ceil() as u64)
    }

    /// What happened so far; complete once the iterator has returned `None`.
    pub fn report(&self) -> &DecodeReport {
        &self.report
    }

    fn err(&self, kind: MediaErrorKind) -> MediaError {
        MediaError::new(&self.path, kind)
    }

    /// Reads packets until at least one clip is ready or the file ends.
    fn pump(&mut self) -> Result<(), MediaError> {
        let mut read_errors = 0usize;
        while self.ready.is_empty() {
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    read_errors = 0;
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    if self.decoder.send_packet(&packet).is_err() {
                        // A damaged packet: skip it like ffmpeg's CLI does and keep going.
                        self.report.corrupt_packets += 1;
                        continue;
                    }
                    self.drain_decoder()?;
                }
                Err(ffmpeg::Error::Eof) => return self.finish(),
                Err(ffmpeg::Error::InvalidData) if read_errors < MAX_CONSECUTIVE_READ_ERRORS => {
                    read_errors += 1;
                    self.report.corrupt_packets += 1;
                }
                Err(e) => {
                    // An I/O error or repeated damage: keep what was decoded and end here.
                    self.report.truncated = true;
                    self.report
                        .warnings
                        .push(format!("reading stopped early: {e}"));
                    return self.finish();
                }
            }
        }
        Ok(())
    }

    /// Flushes the codec and the filter graph, pads the last clip, and checks for truncation.
    fn finish(&mut self) -> Result<(), MediaError> {
        self.state = State::Done;
        // Errors while flushing mean no more frames; whatever was decoded stays valid.
        let _ = self.decoder.send_eof();
        self.drain_decoder()?;
        if let (Some(graph), Some(last)) = (self.graph.as_mut(), self.last_pts) {
            let end = last + self.last_duration;
            if let Some(mut src) = graph.get("in") {
                src.source()
                    .close(end)
                    .map_err(ff(&self.path, "flushing the filter graph"))?;
            }
            self.drain_graph()?;
        }
        if self.current_frames > 0 {
            let valid = self.current_frames;
            self.current.resize(self.current.capacity(), 0);
            self.emit_clip(valid);
        }
        let end = self.last_pts.map(|last| last + self.last_duration);
        close_report(
            &mut self.report,
            end,
            self.time_base,
            self.container_duration_s,
            self.default_duration,
        );
        if self.report.decoded_frames == 0 {
            return Err(self.err(no_frames_kind(&self.report, &self.input)));
        }
        Ok(())
    }

    fn drain_decoder(&mut self) -> Result<(), MediaError> {
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => {
                    self.report.decoded_frames += 1;
                    self.push_frame()?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(_) => {
                    // A frame the codec could not reconstruct: skip it.
                    self.report.corrupt_packets += 1;
                }
            }
        }
    }

    /// Timestamps the decoded frame (CLI semantics: best-effort timestamp, shifted so the file
    /// starts at 0) and sends it through the filter graph.
    fn push_frame(&mut self) -> Result<(), MediaError> {
        stamp_frame(
            &mut self.frame,
            (self.ts_offset, self.default_duration),
            &mut self.last_pts,
            &mut self.last_duration,
            &mut self.report.missing_timestamps,
        );
        if self.graph.is_none() {
            self.graph = Some(self.build_graph()?);
        }
        if let Some(graph) = self.graph.as_mut() {
            if let Some(mut src) = graph.get("in") {
                src.source()
                    .add(&self.frame)
                    .map_err(ff(&self.path, "filtering a frame"))?;
            }
        }
        self.drain_graph()
    }

    fn build_graph(&self) -> Result<ffmpeg::filter::Graph, MediaError> {
        let f = &self.frame;
        let (w, h) = if self.info.rotation == 90 || self.info.rotation == 270 {
            (f.height(), f.width())
        } else {
            (f.width(), f.height())
        };
        let spec = filter_spec(self.info.rotation, w, h, &self.opts);
        video_graph(f, self.time_base, &spec).map_err(ff(&self.path, "building the filter graph"))
    }

    fn drain_graph(&mut self) -> Result<(), MediaError> {
        let Some(graph) = self.graph.as_mut() else {
            return Ok(());
        };
        let Some(mut sink) = graph.get("out") else {
            return Ok(());
        };
        let size = self.opts.size as usize;
        loop {
            match sink.sink().frame(&mut self.filtered) {
                Ok(()) => {
                    let stride = self.filtered.stride(0);
                    let data = self.filtered.data(0);
                    for y in 0..size {
                        let row = &data[y * stride..y * stride + size * 3];
                        self.current.extend_from_slice(row);
                    }
                    self.current_frames += 1;
                    self.report.output_frames += 1;
                    if self.current_frames == self.opts.clip_frames {
                        self.emit_clip(self.opts.clip_frames);
                    }
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(e) => {
                    return Err(self.err(MediaErrorKind::Ffmpeg {
                        op: "reading filtered frames",
                        source: e,
                    }))
                }
            }
        }
    }

    fn emit_clip(&mut self, valid_frames: usize) {
        let capacity = self.current.capacity();
        let frames = std::mem::replace(&mut self.current, Vec::with_capacity(capacity));
        self.ready.push_back(Clip {
            index: self.next_index,
            frames,
            valid_frames,
            size: self.opts.size,
            fps: self.opts.fps,
        });
        self.next_index += 1;
        self.current_frames = 0;
        self.report.clips += 1;
    }
}

impl Iterator for ClipDecoder {
    type Item = Result<Clip, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            if let State::Done = self.state {
                return None;
            }
            if let Err(e) = self.pump() {
                self.state = State::Done;
                return Some(Err(e));
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

/// The filter chain: autorotate as the ffmpeg CLI does, then exactly the reference extractor's
/// `fps`, `scale`, `crop`, and conversion to RGB24. `w`×`h` is the size after rotation.
pub fn filter_spec(rotation: i32, w: u32, h: u32, opts: &DecodeOptions) -> String {
    let rotate = rotate_filter(rotation);
    let s = scaled_size(w, h, opts.size);
    format!(
        "{rotate}fps={},scale={}:{}:flags=bicubic,crop={size}:{size}:{}:{},format=rgb24",
        opts.fps,
        s.width,
        s.height,
        s.crop_x,
        s.crop_y,
        size = opts.size
    )
}

/// Completes a report at the end of the file: the decoded length (`end`: the last frame's time
/// plus its duration, in `time_base`), truncation against the container's declared duration, and
/// the warnings a user sees.
pub(crate) fn close_report(
    report: &mut DecodeReport,
    end: Option<i64>,
    time_base: Rational,
    container_duration_s: Option<f64>,
    default_duration: i64,
) {
    if let Some(end) = end {
        report.decoded_s = seconds(end, time_base);
    }
    if let Some(declared) = container_duration_s {
        let tolerance = 0.5f64.max(2.0 * seconds(default_duration, time_base));
        if report.decoded_s + tolerance < declared {
            report.truncated = true;
        }
    }
    if report.truncated {
        let msg = match container_duration_s {
            Some(d) => format!(
                "the file is truncated: decoded {:.1} s of {:.1} s",
                report.decoded_s, d
            ),
            None => format!("the file is truncated: decoded {:.1} s", report.decoded_s),
        };
        report.warnings.push(msg);
    }
    if report.corrupt_packets > 0 {
        report.warnings.push(format!(
            "skipped {} damaged packet(s)",
            report.corrupt_packets
        ));
    }
}

/// The error for a file that gave no frame at all.
pub(crate) fn no_frames_kind(report: &DecodeReport, input: &Input) -> MediaErrorKind {
    if report.truncated {
        MediaErrorKind::Damaged {
            container: input.format().name().to_owned(),
            detail: "no frame could be decoded".into(),
        }
    } else {
        MediaErrorKind::NoFrames
    }
}

fn rescale(ts: i64, from: Rational, to: Rational) -> i64 {
    // SAFETY: pure arithmetic function.
    unsafe { ffmpeg::ffi::av_rescale_q(ts, from.into(), to.into()) }
}
