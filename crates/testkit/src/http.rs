//! A loopback HTTP/1.1 file server for download tests (a model mirror): a folder of files at
//! `/models/<name>` with `Range` support (unknown names get 404), connections that can be
//! dropped mid-body, bodies that dribble out slowly, extra headers on a file's answer, and
//! Hugging Face's way of serving a large file — a redirect whose answer declares the file's
//! SHA-256 (`X-Linked-Etag`), then the body from another path (`/cdn/<name>`) without it.
//!
//! Every request is logged as `<name> range=<start>` for `/models/<name>`, and as
//! `<path> range=<start>` for any other path (`/cdn/model.safetensors range=None`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A redirect the server answers a path with.
#[derive(Clone, Debug)]
struct Hop {
    status: u16,
    location: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    /// Redirects by request path, checked before the files.
    hops: HashMap<String, Hop>,
    /// Extra headers on the answer that carries a file's body, by name.
    headers: HashMap<String, Vec<(String, String)>>,
    /// Per name: how many more of its bodies are cut off, and after how many bytes (the
    /// connection closes).
    breaks: HashMap<String, (usize, usize)>,
    /// Every body written in pieces of this many bytes with this pause after each.
    slow: Option<(usize, Duration)>,
}

/// A running server (its thread serves until the test process ends) and what it was asked.
#[derive(Debug)]
pub struct Server {
    /// The folder URL: `http://127.0.0.1:<port>/models`.
    pub url: String,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    state: Arc<Mutex<State>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Every request so far, in order: `<name> range=<start>` (see the [module](self)).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// The server's folder, as the one source to pull from.
    pub fn sources(&self) -> Vec<String> {
        vec![self.url.clone()]
    }

    /// The URL of `name` in the folder.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    /// Serves `body` as `name` (replacing what was there).
    pub fn set(&self, name: &str, body: Vec<u8>) {
        self.state().files.insert(name.into(), body);
    }

    /// Removes every file (redirects and headers stay).
    pub fn clear(&self) {
        self.state().files.clear();
    }

    /// The next `n` bodies of `name` are cut off after `cut` bytes, like a dropped connection.
    pub fn break_next(&self, name: &str, n: usize, cut: usize) {
        self.state().breaks.insert(name.into(), (n, cut));
    }

    /// Every body from now on dribbles out in pieces of `piece` bytes, `pause` apart, so that a
    /// cancel lands mid-file.
    pub fn slow(&self, piece: usize, pause: Duration) {
        self.state().slow = Some((piece, pause));
    }

    /// Adds `header: value` to the answer that carries `name`'s body.
    pub fn header(&self, name: &str, header: &str, value: &str) {
        self.state()
            .headers
            .entry(name.into())
            .or_default()
            .push((header.into(), value.into()));
    }

    /// `path` answers `status` with `Location: location` and `headers`.
    pub fn redirect(&self, path: &str, status: u16, location: &str, headers: &[(&str, &str)]) {
        let hop = Hop {
            status,
            location: location.into(),
            headers: headers
                .iter()
                .map(|(h, v)| ((*h).to_owned(), (*v).to_owned()))
                .collect(),
        };
        self.state().hops.insert(path.into(), hop);
    }

    /// `name` answered as Hugging Face answers an LFS file: `/models/<name>` redirects (302,
    /// absolute `Location`) to `/cdn/<name>`, and the redirect carries `X-Linked-Etag:
    /// "<declared>"`, `X-Linked-Size` and a git-style `ETag` of the same value; the CDN's answer
    /// carries no hash.
    pub fn like_hugging_face(&self, name: &str, declared: &str) {
        let size = self.state().files.get(name).map_or(0, Vec::len).to_string();
        let quoted = format!("\"{declared}\"");
        self.redirect(
            &format!("/models/{name}"),
            302,
            &format!("{}/cdn/{name}", self.origin),
            &[
                ("X-Linked-Etag", &quoted),
                ("X-Linked-Size", &size),
                ("ETag", &quoted),
            ],
        );
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("lock")
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves every file directly in `dir`, by file name, at `/models/<name>`.
pub fn serve_folder(dir: &Path) -> Server {
    let files = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let body = std::fs::read(e.path()).expect("read a served file");
            (e.file_name().to_string_lossy().into_owned(), body)
        })
        .collect();
    serve(files)
}

/// Serves `files` (name → body) at `/models/<name>`.
pub fn serve(files: HashMap<String, Vec<u8>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let state = Arc::new(Mutex::new(State {
        files,
        ..State::default()
    }));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (served, seen) = (state.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut range_start = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("range: bytes=") {
                    range_start = v.trim().trim_end_matches('-').parse::<usize>().ok();
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
            let logged = path.strip_prefix("/models/").unwrap_or(&path);
            seen.lock()
                .expect("lock")
                .push(format!("{logged} range={range_start:?}"));
            let mut state = served.lock().expect("lock");
            if let Some(hop) = state.hops.get(&path).cloned() {
                drop(state);
                let mut head = format!(
                    "HTTP/1.1 {} Found\r\nLocation: {}\r\nContent-Length: 0\r\n",
                    hop.status, hop.location
                );
                for (h, v) in &hop.headers {
                    head.push_str(&format!("{h}: {v}\r\n"));
                }
                head.push_str("Connection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                continue;
            }
            let name = path
                .strip_prefix("/models/")
                .or_else(|| path.strip_prefix("/cdn/"))
                .unwrap_or("")
                .to_owned();
            let Some(body) = state.files.get(&name).cloned() else {
                drop(state);
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let extra = state.headers.get(&name).cloned().unwrap_or_default();
            let cut = match state.breaks.get_mut(&name) {
                Some((left, cut)) if *left > 0 => {
                    *left -= 1;
                    Some(*cut)
                }
                _ => None,
            };
            let slow = state.slow;
            drop(state);
            let start = range_start.unwrap_or(0).min(body.len());
            let mut head = if range_start.is_some() {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n",
                    body.len() - start,
                    body.len().saturating_sub(1),
                    body.len()
                )
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", body.len())
            };
            for (h, v) in &extra {
                head.push_str(&format!("{h}: {v}\r\n"));
            }
            head.push_str("Connection: close\r\n\r\n");
            let end = cut.map_or(body.len(), |cut| (start + cut).min(body.len()));
            let _ = stream.write_all(head.as_bytes());
            match slow {
                Some((piece, pause)) => {
                    for part in body[start..end].chunks(piece.max(1)) {
                        if stream.write_all(part).is_err() {
                            break;
                        }
                        let _ = stream.flush();
                        std::thread::sleep(pause);
                    }
                }
                None => {
                    let _ = stream.write_all(&body[start..end]);
                }
            }
            let _ = stream.flush();
        }
    });
    Server {
        url: format!("{origin}/models"),
        origin,
        state,
        requests,
    }
}
