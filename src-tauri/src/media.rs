//! Serving a library video to the player: HTTP byte ranges (see `media_server`).
//!
//! The webview's `<video>` element asks for `Range: bytes=START-` and seeks by asking for other
//! ranges, so a seek in a 4 GB file reads a few megabytes, never the whole file. Answers follow
//! RFC 9110: `206 Partial Content` with `Content-Range`, `416` with `Content-Range: bytes */LEN`
//! for a range past the end, `200` with the whole file when no range is asked. An open-ended or
//! very long range is answered with at most [`MAX_CHUNK`] bytes (allowed: the client asks again
//! from where the answer stopped), so memory stays bounded whatever the file size.
//!
//! Which file is served is decided by the caller ([`crate::AppCore::media`]): a request names a
//! video id of the catalogue, never a path.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::Served;

/// The most bytes one answer carries.
pub const MAX_CHUNK: u64 = 4 << 20;

/// A satisfiable request, as an inclusive byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or one this server ignores (another unit than bytes, or malformed, as RFC
    /// 9110 §14.2 allows): the whole file.
    Whole,
    /// The first range of the header (later ones are ignored), clamped to the file.
    Part(ByteRange),
    /// A range starting at or past the end (or an empty file): `416`.
    Unsatisfiable,
}

/// Parses `header` (e.g. `bytes=0-`, `bytes=100-199`, `bytes=-500`) for a file of `len` bytes.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    let first = spec.split(',').next().unwrap_or("").trim();
    let Some((a, b)) = first.split_once('-') else {
        return RangeRequest::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let range = match (a.is_empty(), b.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match num(b) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) if len > 0 => ByteRange {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => return RangeRequest::Unsatisfiable,
            None => return RangeRequest::Whole,
        },
        // `A-`: from A to the end.
        (false, true) => match num(a) {
            Some(start) if start < len => ByteRange {
                start,
                end: len - 1,
            },
            Some(_) => return RangeRequest::Unsatisfiable,
            None => return RangeRequest::Whole,
        },
        // `A-B`.
        (false, false) => match (num(a), num(b)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= len {
                    return RangeRequest::Unsatisfiable;
                }
                ByteRange {
                    start,
                    end: end.min(len - 1),
                }
            }
            _ => return RangeRequest::Whole,
        },
        (true, true) => return RangeRequest::Whole,
    };
    RangeRequest::Part(range)
}

/// The `Content-Type` of a video file, from its extension (the player sniffs the rest).
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "ogv" | "ogg" => "video/ogg",
        "ts" | "mts" | "m2ts" => "video/mp2t",
        "mpg" | "mpeg" => "video/mpeg",
        "3gp" => "video/3gpp",
        "flv" => "video/x-flv",
        "wmv" => "video/x-ms-wmv",
        _ => "application/octet-stream",
    }
}

/// Answers a request for `path` with the given `Range` header.
pub fn serve_file(path: &Path, range: Option<&str>) -> Served {
    let Ok(mut file) = File::open(path) else {
        return Served::error(404);
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return Served::error(404);
    };
    let content_type = content_type(path);
    let (status, part) = match parse_range(range, len) {
        RangeRequest::Unsatisfiable => {
            return Served {
                status: 416,
                content_type: "text/plain",
                body: Vec::new(),
                headers: vec![("Content-Range", format!("bytes */{len}"))],
            };
        }
        RangeRequest::Whole if len <= MAX_CHUNK => (
            200,
            ByteRange {
                start: 0,
                end: len.saturating_sub(1),
            },
        ),
        // A whole large file is answered as a range from 0: WebKit's player always asks
        // with `Range`, and reading gigabytes into memory for one answer is never right.
        RangeRequest::Whole => (
            206,
            ByteRange {
                start: 0,
                end: len - 1,
            },
        ),
        RangeRequest::Part(r) => (206, r),
    };
    let end = part.end.min(part.start + MAX_CHUNK - 1);
    let count = if len == 0 { 0 } else { end - part.start + 1 };
    let mut body = Vec::with_capacity(count as usize);
    if file.seek(SeekFrom::Start(part.start)).is_err()
        || file.by_ref().take(count).read_to_end(&mut body).is_err()
        || body.len() as u64 != count
    {
        // The file shrank or became unreadable since its length was read.
        return Served::error(500);
    }
    let mut headers = vec![("Accept-Ranges", "bytes".to_owned())];
    if status == 206 {
        headers.push((
            "Content-Range",
            format!("bytes {}-{}/{len}", part.start, end),
        ));
    }
    Served {
        status,
        content_type,
        body,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Part(ByteRange { start, end })
    }

    #[test]
    fn ranges_are_parsed_and_clamped_to_the_file() {
        assert_eq!(parse_range(None, 100), RangeRequest::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 100), part(0, 99));
        assert_eq!(parse_range(Some("bytes=10-19"), 100), part(10, 19));
        assert_eq!(parse_range(Some("bytes=90-500"), 100), part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), part(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), part(0, 99));
        assert_eq!(parse_range(Some(" bytes=5-5, 7-9"), 100), part(5, 5));
        assert_eq!(parse_range(Some("bytes=99-"), 100), part(99, 99));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_and_junk_is_ignored() {
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=200-300"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            RangeRequest::Unsatisfiable
        );
        for junk in [
            "items=0-1",
            "bytes=",
            "bytes=-",
            "bytes=abc-",
            "bytes=5-2",
            "bytes=1-x",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(Some(junk), 100), RangeRequest::Whole, "{junk}");
        }
    }

    #[test]
    fn files_are_served_whole_or_by_range_with_bounded_answers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let small = dir.path().join("clip.MP4");
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&small, &bytes).expect("write");

        let whole = serve_file(&small, None);
        assert_eq!((whole.status, whole.content_type), (200, "video/mp4"));
        assert_eq!(whole.body, bytes);
        assert!(whole.headers.contains(&("Accept-Ranges", "bytes".into())));

        let r = serve_file(&small, Some("bytes=100-199"));
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &bytes[100..200]);
        assert!(r
            .headers
            .contains(&("Content-Range", "bytes 100-199/1000".into())));

        let tail = serve_file(&small, Some("bytes=-1"));
        assert_eq!((tail.status, tail.body.as_slice()), (206, &bytes[999..]));

        let past = serve_file(&small, Some("bytes=1000-"));
        assert_eq!(past.status, 416);
        assert!(past
            .headers
            .contains(&("Content-Range", "bytes */1000".into())));

        // A large file: an open range and no range both come back as one bounded chunk.
        let big = dir.path().join("long.mkv");
        let len = MAX_CHUNK * 2 + 10;
        File::create(&big)
            .and_then(|f| f.set_len(len))
            .expect("sparse file");
        for header in [None, Some("bytes=0-")] {
            let r = serve_file(&big, header);
            assert_eq!((r.status, r.content_type), (206, "video/x-matroska"));
            assert_eq!(r.body.len() as u64, MAX_CHUNK);
            let expected = format!("bytes 0-{}/{len}", MAX_CHUNK - 1);
            assert!(
                r.headers.contains(&("Content-Range", expected)),
                "{header:?}"
            );
        }
        let last = serve_file(&big, Some(&format!("bytes={}-", len - 5)));
        assert_eq!(last.body.len(), 5);

        assert_eq!(serve_file(&dir.path().join("gone.mp4"), None).status, 404);
    }
}
