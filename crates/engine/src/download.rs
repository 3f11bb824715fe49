//! Resumable downloads (model weights): sources tried in order, resume from a `.part` file with
//! an HTTP `Range` request, SHA-256 check, atomic rename into place, progress events, cancel.
//!
//! Nothing is ever left half-written under the final name: the bytes go to `<dest>.part`, which is
//! renamed only after the checksum matched. A cancelled or broken download keeps its `.part` so
//! the next attempt resumes where it stopped; a file whose checksum does not match is deleted, so
//! the next attempt starts from the first byte.
//!
//! The expected SHA-256 is the caller's pinned one ([`Download::sha256`]) or, without one, the one
//! the server declares, as `huggingface_hub` reads it: Hugging Face answers `resolve/<rev>/<file>`
//! of a large (LFS) file with a redirect carrying `X-Linked-Etag: "<sha256>"`, and the CDN it
//! redirects to does not repeat it. So redirects are followed here, hop by hop (at most
//! [`MAX_REDIRECTS`], the `Range` header on each), and the first `X-Linked-Etag` of 64 hex digits
//! (after `W/` and the quotes are stripped) is the declared hash. A plain `ETag` is not used: HTTP
//! leaves its meaning to the server (a git blob's 40-hex SHA-1, S3's MD5, a web server's
//! `mtime-size`, a CDN's own 64-hex hash of something else), so a mirror's tag could fail a good
//! download. The whole file is hashed once complete, resumed or not.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::progress::{CancelToken, ProgressSink, Tracker};

/// Reconnects per source when a transfer breaks off mid-way.
const RESUME_ATTEMPTS: usize = 3;
const CHUNK: usize = 1 << 20;
/// Redirects followed per request (Hugging Face uses one or two: a renamed repository, then the
/// CDN).
pub const MAX_REDIRECTS: usize = 10;

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Download {
    /// URLs of the same file, tried in order (mirrors first if the user gave any).
    pub urls: Vec<String>,
    /// Pinned SHA-256 (hex): when given it is the expected one, whatever a server declares.
    /// Without it, the SHA-256 the server declares (see the module's doc) is checked.
    pub sha256: Option<String>,
    pub dest: PathBuf,
}

/// What the SHA-256 of a downloaded file was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The caller's [`Download::sha256`].
    Pinned,
    /// The hash `host` declared in the `header` (`X-Linked-Etag` or `ETag`) of its answer.
    Declared { host: String, header: String },
    /// No hash was known: the file's SHA-256 was only computed.
    NotVerified,
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        !matches!(self, Verification::NotVerified)
    }
}

impl std::fmt::Display for Verification {
    /// `pinned`, `declared by <host>` or `not verified`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verification::Pinned => f.write_str("pinned"),
            Verification::Declared { host, .. } => write!(f, "declared by {host}"),
            Verification::NotVerified => f.write_str("not verified"),
        }
    }
}

/// A SHA-256 a server declared for the file it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredHash {
    /// Lower-case hex.
    pub sha256: String,
    /// The host whose answer carried it (the redirecting one, for Hugging Face).
    pub host: String,
    /// The header that carried it (`X-Linked-Etag`).
    pub header: String,
}

/// A file [`download`] put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// What `sha256` was checked against. A file already in place before the call is checked
    /// only against a pinned hash (no request is made for it).
    pub verified: Verification,
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
    /// The finished file's SHA-256 is not the expected one; the file was deleted.
    #[error(transparent)]
    Checksum(Box<ChecksumMismatch>),
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects { url: String },
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

/// A downloaded file whose SHA-256 is not the expected one (it was deleted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}: checksum mismatch: expected sha256 {expected} ({}), got {actual}{}; the bad file \
     was deleted, so the next attempt downloads it again — try again or use another mirror",
    path.display(), expected_from_text(.expected_from), declared_text(.declared)
)]
pub struct ChecksumMismatch {
    /// The file's final name.
    pub path: PathBuf,
    pub expected: String,
    /// [`Verification::Pinned`] or [`Verification::Declared`].
    pub expected_from: Verification,
    pub actual: String,
    /// What the server declared when it disagreed with the pinned hash (which wins).
    pub declared: Option<DeclaredHash>,
}

fn expected_from_text(from: &Verification) -> String {
    match from {
        Verification::Declared { host, header } => format!("declared by {host} in {header}"),
        other => other.to_string(),
    }
}

fn declared_text(declared: &Option<DeclaredHash>) -> String {
    declared.as_ref().map_or_else(String::new, |d| {
        format!(
            "; {} declared {} in {}, but the pinned hash wins",
            d.host, d.sha256, d.header
        )
    })
}

impl DownloadError {
    /// Whether a file was fetched but its checksum did not match (here or in one of the
    /// sources of [`DownloadError::AllFailed`]), as opposed to no source having it.
    pub fn is_checksum_mismatch(&self) -> bool {
        match self {
            DownloadError::Checksum(_) => true,
            DownloadError::AllFailed(all) => all.iter().any(DownloadError::is_checksum_mismatch),
            _ => false,
        }
    }
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

/// Fetches `d.dest` unless it already exists (with the pinned checksum, when one is pinned).
/// The finished file's SHA-256 must match the pinned one, else the one the server declared;
/// with neither it is only computed. See [`Downloaded`].
pub fn download(
    d: &Download,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<Downloaded, DownloadError> {
    if d.dest.is_file() {
        let sha256 = sha256_file(&d.dest)?;
        let verified = match &d.sha256 {
            Some(want) if sha256 != want.to_ascii_lowercase() => None,
            Some(_) => Some(Verification::Pinned),
            None => Some(Verification::NotVerified),
        };
        if let Some(verified) = verified {
            return Ok(Downloaded {
                path: d.dest.clone(),
                sha256,
                verified,
            });
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
    // Redirects are followed by `get`, which sees the headers of every hop.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut failures = Vec::new();
    for url in &d.urls {
        match fetch_one(&agent, url, d, sink, cancel) {
            Ok(done) => return Ok(done),
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

/// The SHA-256 in an `ETag`-style header value: 64 hex digits once a `W/` prefix and the quotes
/// are stripped (lower-cased), else `None` (a git blob's 40-hex SHA-1, a web server's own tag).
pub fn sha256_of_etag(value: &str) -> Option<String> {
    let v = value.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v.trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// The hash the hops of one request declared: the first `X-Linked-Etag` of 64 hex digits.
#[derive(Default)]
struct Declarations {
    linked: Option<DeclaredHash>,
}

impl Declarations {
    fn note(&mut self, url: &str, headers: &ureq::http::HeaderMap) {
        const HEADER: &str = "X-Linked-Etag";
        if self.linked.is_some() {
            return;
        }
        let host = url
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned());
        self.linked = headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(sha256_of_etag)
            .map(|sha256| DeclaredHash {
                sha256,
                host,
                header: HEADER.to_owned(),
            });
    }

    fn declared(self) -> Option<DeclaredHash> {
        self.linked
    }
}

/// `location` (a redirect's `Location`) resolved against `base`: absolute, scheme-relative
/// (`//host/...`), host-relative (`/path`) or relative to `base`'s folder.
fn resolve(base: &str, location: &str) -> Option<String> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_owned());
    }
    let uri = base.parse::<ureq::http::Uri>().ok()?;
    let scheme = uri.scheme_str()?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let authority = uri.authority()?.as_str();
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = uri.path();
    let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{scheme}://{authority}{folder}{location}"))
}

/// GET `url` from byte `from` on (`Range: bytes=<from>-`, sent on every hop), following up to
/// [`MAX_REDIRECTS`] redirects by hand so that the hash a redirect declares is seen (noted in
/// `declared`). Returns the first answer that is not a redirect.
fn get(
    agent: &ureq::Agent,
    url: &str,
    from: u64,
    declared: &mut Declarations,
) -> Result<ureq::http::Response<ureq::Body>, DownloadError> {
    let mut at = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = agent.get(&at);
        if from > 0 {
            req = req.header("Range", &format!("bytes={from}-"));
        }
        let resp = req.call().map_err(|e| DownloadError::Offline {
            url: at.clone(),
            reason: e.to_string(),
        })?;
        declared.note(&at, resp.headers());
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .filter(|_| resp.status().is_redirection());
        let Some(next) = location.and_then(|l| resolve(&at, l)) else {
            return Ok(resp);
        };
        at = next;
    }
    Err(DownloadError::TooManyRedirects {
        url: url.to_owned(),
    })
}

fn fetch_one(
    agent: &ureq::Agent,
    url: &str,
    d: &Download,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<Downloaded, DownloadError> {
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
    // What the latest request that declared a hash declared.
    let mut declared = None;
    loop {
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut hops = Declarations::default();
        let resp = get(agent, url, have, &mut hops)?;
        if let Some(hash) = hops.declared() {
            declared = Some(hash);
        }
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
                return finish(&part, d, declared);
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
                return finish(&part, d, declared);
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

/// Hashes the whole finished `.part` (resumed or not), checks it against the pinned hash, else
/// the declared one, and renames it into place. A mismatch deletes the `.part`.
fn finish(
    part: &Path,
    d: &Download,
    declared: Option<DeclaredHash>,
) -> Result<Downloaded, DownloadError> {
    let actual = sha256_file(part)?;
    let pinned = d.sha256.as_ref().map(|s| s.to_ascii_lowercase());
    let (expected, verified, overruled) = match (pinned, declared) {
        (Some(pinned), declared) => {
            let overruled = declared.filter(|h| h.sha256 != pinned);
            (Some(pinned), Verification::Pinned, overruled)
        }
        (None, Some(h)) => (
            Some(h.sha256),
            Verification::Declared {
                host: h.host,
                header: h.header,
            },
            None,
        ),
        (None, None) => (None, Verification::NotVerified, None),
    };
    if let Some(expected) = expected.filter(|e| *e != actual) {
        let _ = std::fs::remove_file(part);
        return Err(DownloadError::Checksum(Box::new(ChecksumMismatch {
            path: d.dest.clone(),
            expected,
            expected_from: verified,
            actual,
            declared: overruled,
        })));
    }
    std::fs::rename(part, &d.dest).map_err(|source| DownloadError::Io {
        path: d.dest.clone(),
        source,
    })?;
    Ok(Downloaded {
        path: d.dest.clone(),
        sha256: actual,
        verified,
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
