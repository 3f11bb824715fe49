//! Still images out of decoded frames (PNG for `vclip frames`, JPEG for thumbnails), encoded with
//! ffmpeg's own image encoders so no extra codec library is needed.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg_next as ffmpeg;

use crate::error::{MediaError, MediaErrorKind};
use crate::ffmpeg_util::init;

/// Encodes one frame (already in a pixel format the codec takes) into a single image.
/// `quality` is ffmpeg's qscale (2 = best … 31) for JPEG, ignored for PNG.
pub(crate) fn encode_frame(
    frame: &mut VideoFrame,
    codec_id: ffmpeg::codec::Id,
    quality: Option<i32>,
) -> Result<Vec<u8>, ffmpeg::Error> {
    init();
    let codec = ffmpeg::encoder::find(codec_id).ok_or(ffmpeg::Error::EncoderNotFound)?;
    let ctx = ffmpeg::codec::context::Context::new_with_codec(codec);
    let mut enc = ctx.encoder().video()?;
    enc.set_width(frame.width());
    enc.set_height(frame.height());
    enc.set_format(frame.format());
    enc.set_time_base(ffmpeg::Rational::new(1, 25));
    if let Some(q) = quality {
        enc.set_flags(ffmpeg::codec::Flags::QSCALE);
        // SAFETY: plain fields of the encoder context and of a frame we own.
        unsafe {
            (*enc.as_mut_ptr()).global_quality = q * ffmpeg::ffi::FF_QP2LAMBDA;
            (*frame.as_mut_ptr()).quality = q * ffmpeg::ffi::FF_QP2LAMBDA;
        }
    }
    let mut enc = enc.open_as(codec)?;
    frame.set_pts(Some(0));
    enc.send_frame(frame)?;
    enc.send_eof()?;
    let mut out = Vec::new();
    let mut packet = ffmpeg::Packet::empty();
    while enc.receive_packet(&mut packet).is_ok() {
        if let Some(data) = packet.data() {
            out.extend_from_slice(data);
        }
    }
    if out.is_empty() {
        return Err(ffmpeg::Error::InvalidData);
    }
    Ok(out)
}

/// Writes `rgb` (`width`×`height`, RGB24, tightly packed) to `path` as a PNG.
pub fn write_png_rgb(path: &Path, rgb: &[u8], width: u32, height: u32) -> Result<(), MediaError> {
    let png = png_rgb(rgb, width, height).map_err(|e| {
        MediaError::new(
            path,
            MediaErrorKind::Ffmpeg {
                op: "encoding a PNG",
                source: e,
            },
        )
    })?;
    std::fs::write(path, png).map_err(|source| {
        MediaError::new(
            path,
            MediaErrorKind::Write {
                path: path.to_path_buf(),
                source,
            },
        )
    })
}

/// PNG bytes of a tightly packed RGB24 image.
pub fn png_rgb(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ffmpeg::Error> {
    let row = width as usize * 3;
    if rgb.len() != row * height as usize {
        return Err(ffmpeg::Error::InvalidData);
    }
    let mut frame = VideoFrame::new(Pixel::RGB24, width, height);
    let stride = frame.stride(0);
    let data = frame.data_mut(0);
    for (y, src) in rgb.chunks_exact(row).enumerate() {
        data[y * stride..y * stride + row].copy_from_slice(src);
    }
    encode_frame(&mut frame, ffmpeg::codec::Id::PNG, None)
}
