//! The player's file server: HTTP/1.1 on the loopback interface, byte ranges, library videos by
//! id only.
//!
//! Why not a custom URI scheme like `thumb:`: WebKitGTK plays `<video>` through GStreamer,
//! which has no source element for an app's own scheme ("No URI handler implemented"), so on
//! Linux a video can only be played from http(s), file or blob URLs. A loopback server works
//! the same on every platform and lets the player seek with ordinary range requests.
//!
//! Who may read through it: the server listens on 127.0.0.1 only, on a port the OS picks; every
//! URL carries a 128-bit random token made at start (`/<token>/<video id>`), so another local
//! process or a web page cannot guess a URL; the `Host` header must name the server itself
//! (no DNS rebinding); only GET and HEAD; and what is served is decided by [`Handler`], which
//! for the app is [`crate::AppCore::media`]: catalogue ids, never paths.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::Served;

/// Answers a request: the path after the token (`/<id>`) and the `Range` header.
pub type Handler = Arc<dyn Fn(&str, Option<&str>) -> Served + Send + Sync>;

/// Connections served at once; more wait in the OS's accept queue.
const MAX_CONNECTIONS: usize = 32;
/// Longest request head accepted (request line plus headers).
const MAX_HEAD: usize = 16 * 1024;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(30);

/// A running server; it stops when dropped.
pub struct MediaServer {
    addr: SocketAddr,
    token: String,
    stop: Arc<AtomicBool>,
}

impl MediaServer {
    /// Starts serving on 127.0.0.1 (a free port) on background threads.
    pub fn start(handler: Handler) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let token = format!("{:032x}", rand::random::<u128>());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            handler,
            token: token.clone(),
            host: addr.to_string(),
            alt_host: format!("localhost:{}", addr.port()),
            open: AtomicUsize::new(0),
        });
        let stopping = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("vclip-media-server".into())
            .spawn(move || accept_loop(listener, shared, stopping))?;
        Ok(Self { addr, token, stop })
    }

    /// `http://127.0.0.1:<port>/<token>`: a video's URL is this plus `/<id>`.
    pub fn base_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.token)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl std::fmt::Debug for MediaServer {
    // Not the token: it is what keeps other local processes out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

struct Shared {
    handler: Handler,
    token: String,
    host: String,
    alt_host: String,
    open: AtomicUsize,
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if shared.open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.open.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: the client retries
        }
        let conn = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("vclip-media-conn".into())
            .spawn(move || {
                let _ = serve_connection(stream, &conn);
                conn.open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The connection is dropped unserved: give its slot back.
            shared.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One parsed request head.
struct Request {
    method: String,
    target: String,
    host: Option<String>,
    range: Option<String>,
    keep_alive: bool,
}

/// Reads a request head; `None` at a clean end of the connection.
fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    let mut total = 0;
    let mut read_line = |line: &mut String| -> io::Result<usize> {
        line.clear();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - total) as u64 + 1)
            .read_line(line)?;
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        Ok(n)
    };
    if read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let mut req = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        host: None,
        range: None,
        keep_alive: version == "HTTP/1.1",
    };
    loop {
        if read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated request",
            ));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            return Ok(Some(req));
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => req.host = Some(value.to_owned()),
            "range" => req.range = Some(value.to_owned()),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    req.keep_alive = false;
                } else if v.contains("keep-alive") {
                    req.keep_alive = true;
                }
            }
            _ => {}
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_head(&mut reader)? {
        let head = req.method == "HEAD";
        let served = if req.method != "GET" && !head {
            Served::error(405)
        } else if !req
            .host
            .as_deref()
            .is_some_and(|h| h == shared.host || h == shared.alt_host)
        {
            Served::error(403)
        } else {
            match req
                .target
                .strip_prefix('/')
                .and_then(|t| t.strip_prefix(shared.token.as_str()))
                .filter(|rest| rest.starts_with('/'))
            {
                Some(rest) => (shared.handler)(rest, req.range.as_deref()),
                None => Served::error(404),
            }
        };
        write_response(&mut writer, &served, head, req.keep_alive)?;
        if !req.keep_alive {
            break;
        }
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn write_response(w: &mut impl Write, s: &Served, head: bool, keep_alive: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: {}\r\n",
        s.status,
        reason(s.status),
        s.content_type,
        s.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    if s.status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    for (name, value) in &s.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    w.write_all(out.as_bytes())?;
    if !head {
        w.write_all(&s.body)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `request` on `stream` and reads one response: (status, headers, body).
    fn exchange(stream: &mut TcpStream, request: &str) -> (u16, String, Vec<u8>) {
        stream.write_all(request.as_bytes()).expect("send");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let status: u16 = head[9..12].parse().expect("status");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("length");
        let mut body = vec![0; if request.starts_with("HEAD") { 0 } else { len }];
        reader.read_exact(&mut body).expect("body");
        (status, head, body)
    }

    #[test]
    fn serves_ranges_with_the_token_on_loopback_and_refuses_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("v.webm");
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&file, &bytes).expect("write");
        let served = file.clone();
        let handler: Handler = Arc::new(move |path, range| {
            if path == "/7" {
                crate::media::serve_file(&served, range)
            } else {
                Served::error(404)
            }
        });
        let server = MediaServer::start(handler).expect("start");
        let base = server.base_url();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        let token = base.rsplit('/').next().expect("token").to_owned();
        assert_eq!(token.len(), 32);
        let host = server.addr().to_string();
        let mut conn = TcpStream::connect(server.addr()).expect("connect");

        // Two requests on one keep-alive connection, as a player seeking.
        let (status, head, body) = exchange(
            &mut conn,
            &format!("GET /{token}/7 HTTP/1.1\r\nHost: {host}\r\nRange: bytes=100-199\r\n\r\n"),
        );
        assert_eq!(status, 206, "{head}");
        assert_eq!(body, &bytes[100..200]);
        assert!(head.contains("Content-Range: bytes 100-199/5000"), "{head}");
        assert!(head.contains("Content-Type: video/webm"), "{head}");
        let (status, _, body) = exchange(
            &mut conn,
            &format!("GET /{token}/7 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        );
        assert_eq!((status, body.len()), (200, 5000));
        let (status, head, body) = exchange(
            &mut conn,
            &format!("HEAD /{token}/7 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        );
        assert_eq!((status, body.len()), (200, 0));
        assert!(head.contains("Content-Length: 5000"), "{head}");

        // Refused: no or a wrong token, a path, another Host (DNS rebinding), other methods.
        let cases = [
            (format!("GET /7 HTTP/1.1\r\nHost: {host}\r\n\r\n"), 404),
            (
                format!("GET /{}/7 HTTP/1.1\r\nHost: {host}\r\n\r\n", "0".repeat(32)),
                404,
            ),
            (
                format!("GET /{token}7 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
                404,
            ),
            (
                format!(
                    "GET /{token}{} HTTP/1.1\r\nHost: {host}\r\n\r\n",
                    file.display()
                ),
                404,
            ),
            (
                format!("GET /{token}/7 HTTP/1.1\r\nHost: evil.example:80\r\n\r\n"),
                403,
            ),
            (format!("GET /{token}/7 HTTP/1.1\r\n\r\n"), 403),
            (
                format!("POST /{token}/7 HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"),
                405,
            ),
        ];
        for (request, expected) in cases {
            let (status, _, body) = exchange(&mut conn, &request);
            assert_eq!((status, body.len()), (expected, 0), "{request}");
        }

        // `Connection: close` is honoured.
        let (status, head, _) = exchange(
            &mut conn,
            &format!("GET /{token}/7 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nRange: bytes=0-0\r\n\r\n"),
        );
        assert_eq!(status, 206);
        assert!(head.contains("Connection: close"), "{head}");
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).expect("closed");
        assert!(rest.is_empty());

        // A head that never ends is cut off, not buffered without limit.
        let mut flood = TcpStream::connect(server.addr()).expect("connect");
        let _ = flood.write_all(
            format!("GET /{token}/7 HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD)).as_bytes(),
        );
        let mut out = Vec::new();
        let _ = flood.read_to_end(&mut out);
        assert!(out.is_empty(), "no answer to an oversized head");
    }
}
