//! Small pieces shared by the media modules: one-time ffmpeg setup, opening an input with checks
//! that turn ffmpeg's terse failures into errors a user understands, rotation, rationals.

use std::ffi::CString;
use std::io::Read;
use std::path::Path;
use std::sync::Once;

use ffmpeg::format::context::Input;
use ffmpeg::Rational;
use ffmpeg_next as ffmpeg;

use crate::error::{MediaError, MediaErrorKind};

static INIT: Once = Once::new();

/// Initialises ffmpeg once per process and silences its log (we report errors ourselves).
/// `VCLIP_FFMPEG_LOG=debug|info|warning|error` turns ffmpeg's own log back on for debugging.
pub(crate) fn init() {
    INIT.call_once(|| {
        // `init` only registers devices and sets up logging; it cannot fail in a way we can act on.
        let _ = ffmpeg::init();
        use ffmpeg::util::log::Level;
        let level = match std::env::var("VCLIP_FFMPEG_LOG").as_deref() {
            Ok("debug") => Level::Debug,
            Ok("info") => Level::Info,
            Ok("warning") => Level::Warning,
            Ok("error") => Level::Error,
            _ => Level::Quiet,
        };
        ffmpeg::util::log::set_level(level);
    });
}

/// Opens `path` for demuxing, with stream info read.
///
/// Checks first what ffmpeg would report vaguely (missing, unreadable, empty, a directory), and
/// opens through the raw API because `ffmpeg-next` panics on paths that are not UTF-8.
pub(crate) fn open_input(path: &Path) -> Result<Input, MediaError> {
    init();
    let err = |kind| MediaError::new(path, kind);
    let meta = std::fs::metadata(path).map_err(|e| err(io_kind(e)))?;
    if !meta.is_file() {
        return Err(err(MediaErrorKind::NotAFile));
    }
    if meta.len() == 0 {
        return Err(err(MediaErrorKind::Empty));
    }
    // Reading the first bytes ourselves gives a precise permission error, and lets us name the
    // container when ffmpeg rejects a damaged one.
    let mut head = [0u8; 16];
    let head_len = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| err(io_kind(e)))?;
    let head = &head[..head_len];

    let c_path = path_to_cstring(path).ok_or_else(|| {
        err(MediaErrorKind::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path contains a NUL byte",
        )))
    })?;
    // SAFETY: `ps` starts null as avformat_open_input requires; on success it owns a context that
    // we hand to `Input::wrap`, which closes it on drop; on failure ffmpeg frees it and nulls `ps`.
    unsafe {
        let mut ps = std::ptr::null_mut();
        let ret = ffmpeg::ffi::avformat_open_input(
            &mut ps,
            c_path.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        if ret < 0 {
            return Err(err(open_failure(head, ffmpeg::Error::from(ret))));
        }
        let ret = ffmpeg::ffi::avformat_find_stream_info(ps, std::ptr::null_mut());
        if ret < 0 {
            ffmpeg::ffi::avformat_close_input(&mut ps);
            return Err(err(open_failure(head, ffmpeg::Error::from(ret))));
        }
        Ok(Input::wrap(ps))
    }
}

fn io_kind(e: std::io::Error) -> MediaErrorKind {
    match e.kind() {
        std::io::ErrorKind::NotFound => MediaErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => MediaErrorKind::PermissionDenied,
        _ => MediaErrorKind::Io(e),
    }
}

/// Names a container ffmpeg refused to open when its first bytes say what it should have been:
/// an MP4 whose index (`moov`) is missing, typically because the file was cut short.
fn open_failure(head: &[u8], e: ffmpeg::Error) -> MediaErrorKind {
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return MediaErrorKind::Damaged {
            container: "MP4/MOV".into(),
            detail: format!("its index (moov atom) is missing or unreadable, the file was probably cut short ({e})"),
        };
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return MediaErrorKind::Damaged {
            container: "Matroska/WebM".into(),
            detail: e.to_string(),
        };
    }
    MediaErrorKind::NotMedia(e)
}

#[cfg(unix)]
fn path_to_cstring(path: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).ok()
}

#[cfg(not(unix))]
fn path_to_cstring(path: &Path) -> Option<CString> {
    // ffmpeg expects UTF-8 paths on Windows.
    CString::new(path.to_string_lossy().as_bytes()).ok()
}

/// `num/den` as f64, `None` for 0/x, x/0 and negative rates.
pub(crate) fn rate(r: Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

/// Seconds of `ts` in `time_base`.
pub(crate) fn seconds(ts: i64, time_base: Rational) -> f64 {
    ts as f64 * f64::from(time_base.numerator()) / f64::from(time_base.denominator().max(1))
}

/// Clockwise rotation in degrees (0, 90, 180, 270, or other) to apply for display, read from a
/// stream's display matrix (as ffmpeg's `av_display_rotation_get`, negated and normalised the
/// way the ffmpeg CLI's autorotate does), or from the legacy `rotate` metadata tag.
pub(crate) fn display_rotation(stream: &ffmpeg::format::stream::Stream<'_>) -> i32 {
    for sd in stream.side_data() {
        if sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix {
            if let Some(deg) = rotation_from_matrix(sd.data()) {
                return deg;
            }
        }
    }
    stream
        .metadata()
        .get("rotate")
        .and_then(|r| r.trim().parse::<f64>().ok())
        .map(|d| normalise_degrees(d.round() as i64))
        .unwrap_or(0)
}

/// The clockwise display rotation encoded in a 3×3 display matrix (9 native-endian i32, 16.16).
pub(crate) fn rotation_from_matrix(data: &[u8]) -> Option<i32> {
    if data.len() < 36 {
        return None;
    }
    let m = |i: usize| -> f64 {
        let b = [
            data[4 * i],
            data[4 * i + 1],
            data[4 * i + 2],
            data[4 * i + 3],
        ];
        f64::from(i32::from_ne_bytes(b)) / 65536.0
    };
    let scale0 = m(0).hypot(m(3));
    let scale1 = m(1).hypot(m(4));
    if scale0 == 0.0 || scale1 == 0.0 {
        return None;
    }
    // av_display_rotation_get returns minus this angle (counter-clockwise); the CLI's autorotate
    // negates it again to get the clockwise turn it applies with `transpose`/`hflip,vflip`.
    let clockwise = (m(1) / scale1).atan2(m(0) / scale0).to_degrees();
    Some(normalise_degrees(clockwise.round() as i64))
}

fn normalise_degrees(d: i64) -> i32 {
    (d.rem_euclid(360)) as i32
}

/// The container's start time in `AV_TIME_BASE` units, or `AV_NOPTS_VALUE`.
pub(crate) fn start_time(input: &Input) -> i64 {
    // SAFETY: reading a plain field of the live format context.
    unsafe { (*input.as_ptr()).start_time }
}

/// The filters the ffmpeg CLI's autorotate inserts for a clockwise `rotation`, with a trailing
/// comma, or nothing.
pub(crate) fn rotate_filter(rotation: i32) -> String {
    match rotation {
        0 => String::new(),
        90 => "transpose=clock,".to_owned(),
        180 => "hflip,vflip,".to_owned(),
        270 => "transpose=cclock,".to_owned(),
        d => format!("rotate={d}*PI/180,"),
    }
}

/// A filter graph `buffer (named "in") → spec → buffersink (named "out")` for frames like `frame`
/// with timestamps in `time_base`.
pub(crate) fn video_graph(
    frame: &ffmpeg::util::frame::video::Video,
    time_base: Rational,
    spec: &str,
) -> Result<ffmpeg::filter::Graph, ffmpeg::Error> {
    let sar = frame.aspect_ratio();
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
        sar
    } else {
        Rational::new(1, 1)
    };
    let pix: ffmpeg::ffi::AVPixelFormat = frame.format().into();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        frame.width(),
        frame.height(),
        pix as i32,
        time_base.numerator(),
        time_base.denominator().max(1),
        sar.numerator(),
        sar.denominator()
    );
    let mut graph = ffmpeg::filter::Graph::new();
    let buffer = ffmpeg::filter::find("buffer").ok_or(ffmpeg::Error::FilterNotFound)?;
    let sink = ffmpeg::filter::find("buffersink").ok_or(ffmpeg::Error::FilterNotFound)?;
    graph.add(&buffer, "in", &args)?;
    graph.add(&sink, "out", "")?;
    graph.output("in", 0)?.input("out", 0)?.parse(spec)?;
    graph.validate()?;
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(a: i32, b: i32, c: i32, d: i32) -> Vec<u8> {
        // [a b 0; c d 0; 0 0 1<<30] as ffmpeg stores it.
        [a, b, 0, c, d, 0, 0, 0, 1 << 30]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect()
    }

    #[test]
    fn identity_matrix_means_no_rotation() {
        assert_eq!(rotation_from_matrix(&matrix(65536, 0, 0, 65536)), Some(0));
    }

    #[test]
    fn quarter_turn_matrix_is_90_clockwise() {
        // What the MP4 muxer writes for `rotate=90`.
        assert_eq!(rotation_from_matrix(&matrix(0, 65536, -65536, 0)), Some(90));
        assert_eq!(
            rotation_from_matrix(&matrix(0, -65536, 65536, 0)),
            Some(270)
        );
        assert_eq!(
            rotation_from_matrix(&matrix(-65536, 0, 0, -65536)),
            Some(180)
        );
    }

    #[test]
    fn too_short_side_data_is_ignored() {
        assert_eq!(rotation_from_matrix(&[0u8; 8]), None);
    }
}
