//! Cutting a moment out of a video into a file of its own, as an editor would want it:
//!
//! - **copy**: the packets of the video and its audio from the keyframe at or before the start
//!   to the end, untouched (fast, lossless); the output starts at that keyframe, which the
//!   report declares (and, in the rare stream where a frame before the end refers to a later
//!   picture, ends with that picture);
//! - **re-encode**: the picture decoded from that keyframe and encoded again (H.264, or MPEG-4
//!   where the build has no H.264 encoder) from the frame nearest the start to the last frame
//!   before the end, so the cut is exact to a frame; the audio packets of the span are copied;
//! - **auto**: copy when a keyframe lies within one frame of the start (nothing is lost and
//!   nothing extra included), re-encode otherwise.
//!
//! The output is written to a temporary file beside it and renamed into place when complete: a
//! full disk or a killed process leaves no partial file, and an existing file is replaced only
//! when asked.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::{codec, encoder, format, frame, media, Packet, Rational};
use serde::Serialize;

use crate::error::{ff, MediaError, MediaErrorKind};
use crate::ffmpeg_util::open_input;

/// How [`cut`] makes the clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutMode {
    /// Copy when the start falls on a keyframe, re-encode otherwise.
    Auto,
    /// Packets copied from the keyframe at or before the start.
    Copy,
    /// Exact to a frame: the picture encoded again.
    Reencode,
}

/// What [`cut`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct CutReport {
    pub out: PathBuf,
    /// How it was made (never `Auto`).
    pub mode: CutMode,
    /// Where the clip starts and ends in the source, in seconds: for a copy, the keyframe at or
    /// before the start asked for; for a re-encode, the first and after the last frame kept.
    pub start_s: f64,
    pub end_s: f64,
    /// Video frames written.
    pub frames: u64,
}

fn seconds(ts: i64, tb: Rational) -> f64 {
    ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator())
}

fn to_ts(seconds: f64, tb: Rational) -> i64 {
    (seconds * f64::from(tb.denominator()) / f64::from(tb.numerator())).round() as i64
}

/// A temporary path beside `out` with the same extension (the muxer is chosen by it).
fn temp_beside(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.vclip-partial-{}", std::process::id()))
        .with_extension(out.extension().unwrap_or_default())
}

/// Cuts `start_s..end_s` of `input` into `out` (its container from the extension: mp4, mov,
/// mkv…); see the module docs. Refuses a span outside the video and an existing `out` unless
/// `overwrite`.
pub fn cut(
    input: &Path,
    out: &Path,
    start_s: f64,
    end_s: f64,
    mode: CutMode,
    overwrite: bool,
) -> Result<CutReport, MediaError> {
    let probe = crate::probe(input)?;
    let video = probe.video.as_ref().ok_or_else(|| {
        let kind = if probe.has_audio {
            MediaErrorKind::AudioOnly
        } else {
            MediaErrorKind::NoVideo
        };
        MediaError::new(input, kind)
    })?;
    let duration_s = probe.duration_s.unwrap_or(f64::INFINITY);
    let frame_s = 1.0 / video.avg_frame_rate.filter(|r| *r > 0.0).unwrap_or(30.0);
    for at_s in [start_s, end_s] {
        if !at_s.is_finite() || at_s < 0.0 || at_s > duration_s + frame_s {
            return Err(MediaError::new(
                input,
                MediaErrorKind::OutOfRange { at_s, duration_s },
            ));
        }
    }
    if end_s - start_s < frame_s / 2.0 {
        return Err(MediaError::new(
            input,
            MediaErrorKind::EmptySpan { start_s, end_s },
        ));
    }
    if !overwrite && out.symlink_metadata().is_ok() {
        return Err(MediaError::new(out, MediaErrorKind::Exists));
    }
    let stream = video.stream_index;
    let keyframe_s = keyframe_at_or_before(input, stream, start_s)?;
    let mode = match mode {
        CutMode::Auto if start_s - keyframe_s <= frame_s => CutMode::Copy,
        CutMode::Auto => CutMode::Reencode,
        m => m,
    };
    let tmp = temp_beside(out);
    let result = match mode {
        CutMode::Copy => write_copy(input, &tmp, stream, keyframe_s, end_s),
        _ => write_reencode(input, &tmp, stream, keyframe_s, start_s, end_s, frame_s),
    }
    .and_then(|(start_s, end_s, frames)| {
        let written = std::fs::File::open(&tmp).and_then(|f| f.sync_all());
        written
            .and_then(|()| std::fs::rename(&tmp, out))
            .map_err(|source| {
                MediaError::new(
                    out,
                    MediaErrorKind::Write {
                        path: out.to_path_buf(),
                        source,
                    },
                )
            })?;
        Ok(CutReport {
            out: out.to_path_buf(),
            mode,
            start_s,
            end_s,
            frames,
        })
    });
    result.map_err(|mut e| {
        let _ = std::fs::remove_file(&tmp);
        // The user named `out`, not the temporary file.
        if e.path == tmp {
            e.path = out.to_path_buf();
        }
        e
    })
}

/// The time of the last keyframe of `stream` at or before `at_s` (the first keyframe when none
/// is before it).
fn keyframe_at_or_before(input: &Path, stream: usize, at_s: f64) -> Result<f64, MediaError> {
    let mut ictx = open_input(input)?;
    let tb = ictx
        .stream(stream)
        .map(|s| s.time_base())
        .ok_or_else(|| MediaError::new(input, MediaErrorKind::NoVideo))?;
    let target = to_ts(at_s, Rational(1, ffmpeg::ffi::AV_TIME_BASE));
    // Land on a keyframe at or before the start; a failed seek reads from the beginning.
    if ictx.seek(target, ..target).is_err() {
        ictx = open_input(input)?;
    }
    let mut best: Option<f64> = None;
    for (s, packet) in ictx.packets() {
        if s.index() != stream {
            continue;
        }
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let t = seconds(pts, tb);
        if packet.is_key() {
            if t <= at_s + 1e-6 || best.is_none() {
                best = Some(t);
            }
            if t > at_s + 1e-6 {
                break;
            }
        }
        // Past the start by more than a typical GOP: no later keyframe can be at or before it.
        if t > at_s + 60.0 {
            break;
        }
    }
    best.ok_or_else(|| MediaError::new(input, MediaErrorKind::NoFrames))
}

/// The best audio stream, if any.
fn audio_stream(ictx: &format::context::Input) -> Option<usize> {
    ictx.streams().best(media::Type::Audio).map(|s| s.index())
}

/// Adds to `octx` a stream that takes `ist`'s packets as they are; its output index. `op` names
/// the step in errors.
fn add_copy_stream(
    octx: &mut format::context::Output,
    ist: &format::stream::Stream<'_>,
    tmp: &Path,
    op: &'static str,
) -> Result<usize, MediaError> {
    let mut ost = octx
        .add_stream(encoder::find(codec::Id::None))
        .map_err(ff(tmp, op))?;
    ost.set_parameters(ist.parameters());
    // SAFETY: a plain field of the stream's codec parameters, which we own now: the tag of the
    // input container may not fit the output one.
    unsafe {
        (*ost.parameters().as_mut_ptr()).codec_tag = 0;
    }
    Ok(ost.index())
}

/// A copied audio stream: its input index, input time base and output index.
type AudioCopy = (usize, Rational, usize);

/// Opens the output at `tmp` with a copy of the input's audio stream `audio` (when given).
fn output_with_audio(
    tmp: &Path,
    ictx: &format::context::Input,
    audio: Option<usize>,
) -> Result<(format::context::Output, Option<AudioCopy>), MediaError> {
    let mut octx = format::output(&tmp).map_err(ff(tmp, "creating the output"))?;
    let mapped = match audio.and_then(|a| ictx.stream(a)) {
        Some(ist) => {
            let out = add_copy_stream(&mut octx, &ist, tmp, "adding the audio stream")?;
            Some((ist.index(), ist.time_base(), out))
        }
        None => None,
    };
    Ok((octx, mapped))
}

/// Seeks `ictx` to the keyframe at `keyframe_s` (its exact time, so no earlier one).
fn seek_to(ictx: &mut format::context::Input, keyframe_s: f64) {
    let ts = to_ts(keyframe_s, Rational(1, ffmpeg::ffi::AV_TIME_BASE));
    // A seek that fails leaves the reader at the start; packets before the keyframe are skipped.
    let _ = ictx.seek(ts, ..ts);
}

/// Packets of the video (from the keyframe) and of the audio, shifted so the clip starts at 0.
fn write_copy(
    input: &Path,
    tmp: &Path,
    stream: usize,
    keyframe_s: f64,
    end_s: f64,
) -> Result<(f64, f64, u64), MediaError> {
    let mut ictx = open_input(input)?;
    let audio = audio_stream(&ictx);
    let ist = ictx
        .stream(stream)
        .ok_or_else(|| MediaError::new(input, MediaErrorKind::NoVideo))?;
    let vtb = ist.time_base();
    let (mut octx, amap) = output_with_audio(tmp, &ictx, audio)?;
    let vout = add_copy_stream(&mut octx, &ist, tmp, "adding the video stream")?;
    octx.write_header().map_err(ff(tmp, "writing the header"))?;
    seek_to(&mut ictx, keyframe_s);
    let mut started = false;
    let mut frames = 0u64;
    let mut last_end = keyframe_s;
    // Video packets whose picture is at or after the end, held until a packet before the end
    // shows they are needed (a B-frame refers to them) or the decode time passes the end.
    let mut pending: Vec<(Packet, f64)> = Vec::new();
    let write = |mut packet: Packet,
                 itb: Rational,
                 out_index: usize,
                 octx: &mut format::context::Output|
     -> Result<(), MediaError> {
        let shift = to_ts(keyframe_s, itb);
        packet.set_pts(packet.pts().map(|p| p - shift));
        packet.set_dts(packet.dts().map(|d| d - shift));
        packet.set_position(-1);
        packet.set_stream(out_index);
        let otb = octx.stream(out_index).map(|o| o.time_base()).unwrap_or(itb);
        packet.rescale_ts(itb, otb);
        packet
            .write_interleaved(octx)
            .map_err(ff(tmp, "writing a packet"))
    };
    for (s, packet) in ictx.packets() {
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        if s.index() == stream {
            let t = seconds(pts, vtb);
            if !started {
                if !(packet.is_key() && t >= keyframe_s - 1e-6) {
                    continue;
                }
                started = true;
            }
            if packet.dts().map_or(t, |d| seconds(d, vtb)) >= end_s - 1e-6 {
                break;
            }
            let end = t + seconds(packet.duration(), vtb);
            if t >= end_s - 1e-6 {
                pending.push((packet, end));
                continue;
            }
            for (held, held_end) in pending.drain(..) {
                frames += 1;
                last_end = last_end.max(held_end);
                write(held, vtb, vout, &mut octx)?;
            }
            frames += 1;
            last_end = last_end.max(end);
            write(packet, vtb, vout, &mut octx)?;
        } else if let Some((_, atb, aout)) = amap.filter(|(a, ..)| *a == s.index()) {
            let t = seconds(pts, atb);
            if started && t >= keyframe_s - 1e-6 && t < end_s - 1e-6 {
                write(packet, atb, aout, &mut octx)?;
            }
        }
    }
    if frames == 0 {
        return Err(MediaError::new(input, MediaErrorKind::NoFrames));
    }
    octx.write_trailer()
        .map_err(ff(tmp, "finishing the file"))?;
    Ok((keyframe_s, last_end, frames))
}

/// The picture decoded from the keyframe and encoded again from the frame nearest `start_s`
/// to the last frame that starts before `end_s`; the audio packets of that span copied.
fn write_reencode(
    input: &Path,
    tmp: &Path,
    stream: usize,
    keyframe_s: f64,
    start_s: f64,
    end_s: f64,
    frame_s: f64,
) -> Result<(f64, f64, u64), MediaError> {
    let mut ictx = open_input(input)?;
    let audio = audio_stream(&ictx);
    let ist = ictx
        .stream(stream)
        .ok_or_else(|| MediaError::new(input, MediaErrorKind::NoVideo))?;
    let vtb = ist.time_base();
    let rate = ist.avg_frame_rate();
    let mut decoder = codec::context::Context::from_parameters(ist.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ff(input, "opening the decoder"))?;
    let (mut octx, amap) = output_with_audio(tmp, &ictx, audio)?;
    let codec = encoder::find(codec::Id::H264)
        .or_else(|| encoder::find(codec::Id::MPEG4))
        .ok_or_else(|| {
            MediaError::new(
                tmp,
                MediaErrorKind::Ffmpeg {
                    op: "finding an H.264 or MPEG-4 encoder",
                    source: ffmpeg::Error::EncoderNotFound,
                },
            )
        })?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let mut ost = octx
        .add_stream(codec)
        .map_err(ff(tmp, "adding the video stream"))?;
    let vout = ost.index();
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(ff(tmp, "creating the encoder"))?;
    let (w, h) = (decoder.width(), decoder.height());
    enc.set_width(w);
    enc.set_height(h);
    enc.set_aspect_ratio(decoder.aspect_ratio());
    enc.set_format(format::Pixel::YUV420P);
    if rate.numerator() > 0 && rate.denominator() > 0 {
        enc.set_frame_rate(Some(rate));
    }
    enc.set_time_base(vtb);
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = ffmpeg::Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("crf", "18");
    let mut enc = enc
        .open_as_with(codec, opts)
        .map_err(ff(tmp, "opening the encoder"))?;
    ost.set_parameters(&enc);
    // The audio stream is added first: its output index precedes the video's.
    octx.write_header().map_err(ff(tmp, "writing the header"))?;
    let otb_video = octx.stream(vout).map(|o| o.time_base()).unwrap_or(vtb);
    let mut scaler: Option<ffmpeg::software::scaling::Context> = None;
    let mut first_t: Option<f64> = None;
    let mut kept = (f64::INFINITY, f64::NEG_INFINITY, 0u64);
    let write_encoded =
        |enc: &mut encoder::Video, octx: &mut format::context::Output| -> Result<(), MediaError> {
            let mut packet = Packet::empty();
            while enc.receive_packet(&mut packet).is_ok() {
                // Without a duration the muxer's edit list ends at the last frame's start and
                // players drop that frame.
                if packet.duration() <= 0 {
                    packet.set_duration(to_ts(frame_s, vtb).max(1));
                }
                packet.set_stream(vout);
                packet.rescale_ts(vtb, otb_video);
                packet
                    .write_interleaved(octx)
                    .map_err(ff(tmp, "writing a packet"))?;
            }
            Ok(())
        };
    let mut decoded = frame::Video::empty();
    let mut receive = |decoder: &mut ffmpeg::decoder::Video,
                       enc: &mut encoder::Video,
                       octx: &mut format::context::Output,
                       kept: &mut (f64, f64, u64)|
     -> Result<(), MediaError> {
        while decoder.receive_frame(&mut decoded).is_ok() {
            let Some(pts) = decoded.timestamp() else {
                continue;
            };
            let t = seconds(pts, vtb);
            // The frame nearest the start (the later one on a tie) is the first kept; frames
            // starting at or after the end are not.
            if t < start_s - frame_s / 2.0 + 1e-6 || t >= end_s - 1e-6 {
                continue;
            }
            let first = *first_t.get_or_insert(t);
            kept.0 = kept.0.min(t);
            kept.1 = kept.1.max(t + frame_s);
            kept.2 += 1;
            let mut out = if decoded.format() == format::Pixel::YUV420P
                && decoded.width() == w
                && decoded.height() == h
            {
                decoded.clone()
            } else {
                let sc = match &mut scaler {
                    Some(sc) => sc,
                    None => scaler.insert(
                        ffmpeg::software::scaling::Context::get(
                            decoded.format(),
                            decoded.width(),
                            decoded.height(),
                            format::Pixel::YUV420P,
                            w,
                            h,
                            ffmpeg::software::scaling::Flags::BILINEAR,
                        )
                        .map_err(ff(input, "converting the picture"))?,
                    ),
                };
                let mut o = frame::Video::empty();
                sc.run(&decoded, &mut o)
                    .map_err(ff(input, "converting the picture"))?;
                o
            };
            out.set_pts(Some(pts - to_ts(first, vtb)));
            out.set_kind(ffmpeg::picture::Type::None);
            enc.send_frame(&out).map_err(ff(tmp, "encoding a frame"))?;
            write_encoded(enc, octx)?;
        }
        Ok(())
    };
    seek_to(&mut ictx, keyframe_s);
    let mut started = false;
    for (s, mut packet) in ictx.packets() {
        if s.index() == stream {
            let t = packet.pts().or(packet.dts()).map(|p| seconds(p, vtb));
            if !started {
                if !(packet.is_key() && t.is_some_and(|t| t >= keyframe_s - 1e-6)) {
                    continue;
                }
                started = true;
            }
            // Decoding order: a packet whose decode time is well past the end holds no frame
            // that is kept.
            if packet.dts().is_some_and(|d| seconds(d, vtb) > end_s + 1.0) {
                break;
            }
            decoder
                .send_packet(&packet)
                .map_err(ff(input, "decoding"))?;
            receive(&mut decoder, &mut enc, &mut octx, &mut kept)?;
        } else if let Some((_, _, aout)) = amap.filter(|(a, ..)| *a == s.index()) {
            let atb = s.time_base();
            let Some(pts) = packet.pts() else { continue };
            let t = seconds(pts, atb);
            if t < start_s - 1e-6 || t >= end_s - 1e-6 {
                continue;
            }
            let shift = to_ts(start_s, atb);
            packet.set_pts(Some(pts - shift));
            packet.set_dts(packet.dts().map(|d| d - shift));
            packet.set_position(-1);
            packet.set_stream(aout);
            let otb = octx.stream(aout).map(|o| o.time_base()).unwrap_or(atb);
            packet.rescale_ts(atb, otb);
            packet
                .write_interleaved(&mut octx)
                .map_err(ff(tmp, "writing a packet"))?;
        }
    }
    decoder.send_eof().map_err(ff(input, "decoding"))?;
    receive(&mut decoder, &mut enc, &mut octx, &mut kept)?;
    enc.send_eof().map_err(ff(tmp, "encoding"))?;
    write_encoded(&mut enc, &mut octx)?;
    if kept.2 == 0 {
        return Err(MediaError::new(input, MediaErrorKind::NoFrames));
    }
    octx.write_trailer()
        .map_err(ff(tmp, "finishing the file"))?;
    Ok(kept)
}

/// The cues of `cues` that overlap `start_s..end_s`, as SubRip text timed from the clip's start
/// (`start_s` becomes 0) and clipped to the clip: the subtitles to write beside a cut.
pub fn span_srt(cues: &[crate::Cue], start_s: f64, end_s: f64) -> String {
    let stamp = |s: f64| {
        let ms = (s.max(0.0) * 1000.0).round() as u64;
        format!(
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let mut out = String::new();
    let mut n = 0;
    for c in cues {
        let (a, b) = (c.start_s.max(start_s), c.end_s.min(end_s));
        if b <= a || c.text.trim().is_empty() {
            continue;
        }
        n += 1;
        out.push_str(&format!(
            "{n}\n{} --> {}\n{}\n\n",
            stamp(a - start_s),
            stamp(b - start_s),
            c.text.trim()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_srt_keeps_the_overlapping_cues_timed_from_the_clip() {
        let cue = |a, b, t: &str| crate::Cue {
            start_s: a,
            end_s: b,
            text: t.into(),
        };
        let cues = [
            cue(1.0, 2.0, "before"),
            cue(4.5, 5.5, "across the start"),
            cue(6.0, 7.25, "inside\ntwo lines"),
            cue(9.5, 11.0, "across the end"),
            cue(12.0, 13.0, "after"),
        ];
        assert_eq!(
            span_srt(&cues, 5.0, 10.0),
            "1\n00:00:00,000 --> 00:00:00,500\nacross the start\n\n\
             2\n00:00:01,000 --> 00:00:02,250\ninside\ntwo lines\n\n\
             3\n00:00:04,500 --> 00:00:05,000\nacross the end\n\n"
        );
        assert_eq!(span_srt(&cues, 2.5, 4.0), "");
    }
}
