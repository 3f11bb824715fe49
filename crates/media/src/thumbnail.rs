//! Thumbnails: a JPEG of the frame shown at a given time, rotated for display, scaled to fit.

use std::path::Path;

use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg_next as ffmpeg;

use crate::error::{ff, MediaError, MediaErrorKind};
use crate::ffmpeg_util::{open_input, rotate_filter, seconds, start_time, video_graph};
use crate::image::encode_frame;
use crate::probe::{video_info, VideoInfo};
use crate::sample::frame_filter_spec;

/// JPEG quality as ffmpeg's qscale (2 best … 31 worst).
const JPEG_QSCALE: i32 = 3;

/// A JPEG of the frame displayed at `at_s` seconds (the last frame starting at or before it),
/// scaled so its longer side is at most `max_side` pixels (never upscaled).
pub fn thumbnail_jpeg(path: &Path, at_s: f64, max_side: u32) -> Result<Vec<u8>, MediaError> {
    let (mut src, info, time_base) = frame_at(path, at_s)?;
    let (w, h) = (info.display_width.max(1), info.display_height.max(1));
    let scale = (f64::from(max_side) / f64::from(w.max(h))).min(1.0);
    // Even sizes keep the 4:2:0 JPEG encoder happy.
    let even = |v: f64| ((v.round() as u32).max(2) + 1) & !1;
    let (tw, th) = (even(f64::from(w) * scale), even(f64::from(h) * scale));
    let spec = format!(
        "{}scale={tw}:{th}:flags=bicubic,format=yuvj420p",
        rotate_filter(info.rotation)
    );
    let fail = ff(path, "making the thumbnail");
    let mut out = filter_one(&mut src, time_base, &spec).map_err(&fail)?;
    encode_frame(&mut out, ffmpeg::codec::Id::MJPEG, Some(JPEG_QSCALE)).map_err(&fail)
}

/// The picture of an image file (PNG, JPEG, WebP, … or a video's first frame) as the models see
/// a frame: rotated upright, the short side scaled to `size` (bicubic), the centre cropped to
/// `size`×`size`, RGB24 packed — the filters of the clip decoder and the frame sampler, so an
/// image and a video frame of the same picture give the same pixels.
pub fn still_rgb(path: &Path, size: u32) -> Result<Vec<u8>, MediaError> {
    let (mut src, info, time_base) = frame_at(path, 0.0)?;
    let (w, h) = if info.rotation == 90 || info.rotation == 270 {
        (src.height(), src.width())
    } else {
        (src.width(), src.height())
    };
    let spec = frame_filter_spec(info.rotation, w.max(1), h.max(1), size);
    let out = filter_one(&mut src, time_base, &spec).map_err(ff(path, "scaling the picture"))?;
    let size = size as usize;
    let stride = out.stride(0);
    let data = out.data(0);
    let mut rgb = Vec::with_capacity(size * size * 3);
    for y in 0..size {
        rgb.extend_from_slice(&data[y * stride..y * stride + size * 3]);
    }
    Ok(rgb)
}

/// One frame through the filter chain `spec`.
fn filter_one(
    src: &mut VideoFrame,
    time_base: ffmpeg::Rational,
    spec: &str,
) -> Result<VideoFrame, ffmpeg::Error> {
    let mut graph = video_graph(src, time_base, spec)?;
    src.set_pts(Some(0));
    let mut out = VideoFrame::empty();
    {
        let mut input_ctx = graph.get("in").ok_or(ffmpeg::Error::FilterNotFound)?;
        input_ctx.source().add(src)?;
        input_ctx.source().flush()?;
    }
    let mut sink = graph.get("out").ok_or(ffmpeg::Error::FilterNotFound)?;
    sink.sink().frame(&mut out)?;
    Ok(out)
}

/// The decoded frame displayed at `at_s` seconds, with the stream's description and time base.
fn frame_at(
    path: &Path,
    at_s: f64,
) -> Result<(VideoFrame, VideoInfo, ffmpeg::Rational), MediaError> {
    let mut input = open_input(path)?;
    let err = |kind| MediaError::new(path, kind);
    let container = input.format().name().to_owned();
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| err(MediaErrorKind::NoVideo))?;
    let info = video_info(&stream, &container);
    let index = stream.index();
    let time_base = stream.time_base();
    let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ff(path, "opening the video decoder"))?;

    let offset_us = match start_time(&input) {
        t if t == ffmpeg::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let duration_s = (input.duration() > 0)
        .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    if at_s < 0.0 || duration_s.is_some_and(|d| at_s > d) {
        return Err(err(MediaErrorKind::OutOfRange {
            at_s,
            duration_s: duration_s.unwrap_or(0.0),
        }));
    }
    let target_us = offset_us + (at_s * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
    // Seek to the keyframe at or before the target; if the container cannot seek, decode from 0.
    if at_s > 0.0 && input.seek(target_us, ..target_us).is_err() {
        input
            .seek(0, ..)
            .map_err(ff(path, "seeking to the start"))?;
    }
    let target_s = target_us as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE);

    let mut best: Option<VideoFrame> = None;
    let mut frame = VideoFrame::empty();
    let mut take = |decoder: &mut ffmpeg::decoder::Video, best: &mut Option<VideoFrame>| -> bool {
        while decoder.receive_frame(&mut frame).is_ok() {
            let t = frame.timestamp().map(|ts| seconds(ts, time_base));
            let is_after = t.is_some_and(|t| t > target_s + 1e-6);
            if is_after && best.is_some() {
                return true;
            }
            *best = Some(frame.clone());
            if is_after {
                return true;
            }
        }
        false
    };
    let mut done = false;
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            continue;
        }
        if take(&mut decoder, &mut best) {
            done = true;
            break;
        }
    }
    if !done {
        let _ = decoder.send_eof();
        take(&mut decoder, &mut best);
    }
    let src = best.ok_or_else(|| err(MediaErrorKind::NoFrames))?;
    Ok((src, info, time_base))
}
