//! Resumable downloads (model weights): sources tried in order, resume from a `.part` file with
//! an HTTP `Range` request, SHA-256 check, atomic rename into place, progress events, cancel.
//!
//! Nothing is ever left half-written under the final name: the bytes go to `<dest>.part`, which is
//! renamed only after the checksum matched. A cancelled or broken download keeps its `.part` so
//! the next attempt resumes where it stopped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::progress::{CancelToken, ProgressSink, Tracker};

/// Reconnects per source when a transfer breaks off mid-way.
const RESUME_ATTEMPTS: usize = 3;
const CHUNK: usize = 1 << 20;

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Download {
    /// URLs of the same file, tried in order (mirrors first if the user gave any).
    pub urls: Vec<String>,
    /// Expected SHA-256 (lower-case hex), checked when known.
    pub sha256: Option<String>,
    pub dest: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "cannot reach {url} ({reason}). You seem to be offline or the server is down: download \
         the file yourself and import it with `vclip models import`, or pass --mirror URL"
    )]
    Offline { url: String, reason: String },
    #[error("{url}: the server answered HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{url}: the transfer broke off: {reason}")]
    Broken { url: String, reason: String },
    #[error(
        "{}: checksum mismatch (expected sha256 {expected}, got {actual}); the bad file was \
         deleted — try again or use another mirror", path.display()
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no URL to download {} from", .0.display())]
    NoSource(PathBuf),
    #[error("download cancelled (the partial file is kept and the next attempt resumes)")]
    Cancelled,
    #[error("every source failed:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    AllFailed(Vec<DownloadError>),
}

/// `base/file_name`, for a user's mirror folder URL.
pub fn mirror_url(base: &str, file_name: &str) -> String {
    format!("{}/{file_name}", base.trim_end_matches('/'))
}

/// The `.part` file a download of `dest` writes to.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Fetches `d.dest` unless it already exists with the right checksum. Returns the destination.
pub fn download(
    d: &Download,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<PathBuf, DownloadError> {
    if d.dest.is_file() {
        match &d.sha256 {
            Some(want) if sha256_file(&d.dest)? != *want => {}
            _ => return Ok(d.dest.clone()),
        }
    }
    if d.urls.is_empty() {
        return Err(DownloadError::NoSource(d.dest.clone()));
    }
    if let Some(dir) = d.dest.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DownloadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut failures = Vec::new();
    for url in &d.urls {
        match fetch_one(&agent, url, d, sink, cancel) {
            Ok(()) => return Ok(d.dest.clone()),
            Err(DownloadError::Cancelled) => return Err(DownloadError::Cancelled),
            Err(e) => failures.push(e),
        }
    }
    Err(if failures.len() == 1 {
        failures.remove(0)
    } else {
        DownloadError::AllFailed(failures)
    })
}

fn fetch_one(
    agent: &ureq::Agent,
    url: &str,
    d: &Download,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<(), DownloadError> {
    let part = part_path(&d.dest);
    let io = |source| DownloadError::Io {
        path: part.clone(),
        source,
    };
    let name = d
        .dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tracker = Tracker::new("downloading", "bytes", None);
    tracker.set_current(Some(name));
    tracker.start(sink);
    let mut attempt = 0;
    loop {
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut req = agent.get(url);
        if have > 0 {
            req = req.header("Range", &format!("bytes={have}-"));
        }
        let resp = req.call().map_err(|e| DownloadError::Offline {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let header = |h: &str| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (mut file, start, total) = match status {
            206 => {
                // Content-Range: bytes START-END/TOTAL
                let total = header("content-range")
                    .and_then(|r| r.rsplit('/').next().and_then(|t| t.parse::<u64>().ok()));
                let file = OpenOptions::new().append(true).open(&part).map_err(io)?;
                (file, have, total)
            }
            200 => {
                let total = header("content-length").and_then(|l| l.parse::<u64>().ok());
                (File::create(&part).map_err(io)?, 0, total)
            }
            416 if have > 0 => {
                // Nothing left to fetch: the part file is complete (the checksum decides).
                return finish(&part, d);
            }
            s => {
                return Err(DownloadError::Http {
                    url: url.to_owned(),
                    status: s,
                })
            }
        };
        tracker.set_total(total);
        let counted = tracker.snapshot().done;
        if start > counted {
            // Bytes resumed from the part file count as done.
            tracker.advance(start - counted, sink);
        }
        let mut body = resp.into_body().into_reader();
        let mut buf = vec![0u8; CHUNK];
        let broke = loop {
            if cancel.is_cancelled() {
                file.flush().map_err(io)?;
                tracker.cancelled(sink);
                return Err(DownloadError::Cancelled);
            }
            match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    file.write_all(&buf[..n]).map_err(io)?;
                    tracker.advance(n as u64, sink);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e.to_string()),
            }
        };
        file.sync_all().map_err(io)?;
        drop(file);
        let now = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let short = total.is_some_and(|t| now < t);
        match broke {
            None if !short => {
                tracker.finish(sink);
                return finish(&part, d);
            }
            reason => {
                attempt += 1;
                if attempt > RESUME_ATTEMPTS {
                    return Err(DownloadError::Broken {
                        url: url.to_owned(),
                        reason: reason.unwrap_or_else(|| "the connection closed early".into()),
                    });
                }
            }
        }
    }
}

/// Verifies the checksum of the finished `.part` and renames it into place.
fn finish(part: &Path, d: &Download) -> Result<(), DownloadError> {
    if let Some(expected) = &d.sha256 {
        let actual = sha256_file(part)?;
        if actual != expected.to_ascii_lowercase() {
            let _ = std::fs::remove_file(part);
            return Err(DownloadError::Checksum {
                path: d.dest.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    std::fs::rename(part, &d.dest).map_err(|source| DownloadError::Io {
        path: d.dest.clone(),
        source,
    })
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, DownloadError> {
    let io = |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
