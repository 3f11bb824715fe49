//! Downloads against a real HTTP server on loopback: resume after a broken transfer, checksum
//! failure, fallback to the next source, the offline message, cancellation.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vclip_engine::download::{download, part_path, sha256_file, Download, DownloadError};
use vclip_engine::{CancelToken, NoProgress, ProgressEvent};

/// A one-file HTTP/1.1 server with `Range` support. The first `break_first` responses are cut
/// off after `cut` bytes of body, to imitate a dropped connection.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn serve(body: Vec<u8>, break_first: usize, cut: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/weights.bin",
        listener.local_addr().expect("addr")
    );
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let served = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut range_start = None;
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
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
            seen.lock()
                .expect("lock")
                .push(format!("{} range={range_start:?}", first.trim()));
            let start = range_start.unwrap_or(0).min(body.len());
            let head = if range_start.is_some() {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len() - start,
                    body.len() - 1,
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            };
            let n = served.fetch_add(1, Ordering::SeqCst);
            let end = if n < break_first {
                (start + cut).min(body.len())
            } else {
                body.len()
            };
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[start..end]);
            let _ = stream.flush();
        }
    });
    Server { url, requests }
}

fn payload() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("x");
    std::fs::write(&p, bytes).expect("write");
    sha256_file(&p).expect("hash")
}

#[test]
fn resumes_a_broken_transfer_with_a_range_request() {
    let body = payload();
    let server = serve(body.clone(), 1, 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("models/weights.bin");
    let d = Download {
        urls: vec![server.url.clone()],
        sha256: Some(sha(&body)),
        dest: dest.clone(),
    };
    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    download(&d, &sink, &CancelToken::new()).expect("download");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
    assert!(!part_path(&dest).exists());
    let reqs = server.requests.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs[1].ends_with("range=Some(1000000)"), "{reqs:?}");
    let events = events.into_inner().expect("lock");
    assert!(events
        .iter()
        .any(|e| matches!(e, ProgressEvent::Finished(p) if p.done == body.len() as u64)));

    // Already there with the right checksum: nothing is fetched again.
    download(&d, &NoProgress, &CancelToken::new()).expect("again");
    assert_eq!(server.requests.lock().expect("lock").len(), 2);
}

#[test]
fn resumes_from_a_part_file_left_by_an_earlier_run() {
    let body = payload();
    let server = serve(body.clone(), 0, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    std::fs::write(part_path(&dest), &body[..123_456]).expect("write part");
    let d = Download {
        urls: vec![server.url.clone()],
        sha256: Some(sha(&body)),
        dest: dest.clone(),
    };
    download(&d, &NoProgress, &CancelToken::new()).expect("download");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
    let reqs = server.requests.lock().expect("lock").clone();
    assert_eq!(
        reqs,
        vec![format!("GET /weights.bin HTTP/1.1 range=Some(123456)")]
    );
}

#[test]
fn a_checksum_mismatch_deletes_the_file_and_says_so() {
    let body = payload();
    let server = serve(body, 0, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let d = Download {
        urls: vec![server.url.clone()],
        sha256: Some("00".repeat(32)),
        dest: dest.clone(),
    };
    let e = download(&d, &NoProgress, &CancelToken::new()).expect_err("bad checksum");
    assert!(matches!(e, DownloadError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("weights.bin") && e.to_string().contains("checksum mismatch"));
    assert!(!dest.exists() && !part_path(&dest).exists());
}

#[test]
fn offline_gives_a_clear_message_and_the_next_source_is_tried() {
    // A port nobody listens on: bind, take the address, close.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/weights.bin", l.local_addr().expect("addr"))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let d = Download {
        urls: vec![dead.clone()],
        sha256: None,
        dest: dest.clone(),
    };
    let e = download(&d, &NoProgress, &CancelToken::new()).expect_err("offline");
    let msg = e.to_string();
    assert!(matches!(e, DownloadError::Offline { .. }), "{msg}");
    assert!(
        msg.contains("offline") && msg.contains("vclip models import"),
        "{msg}"
    );

    let body = payload();
    let server = serve(body.clone(), 0, 0);
    let d = Download {
        urls: vec![dead, server.url.clone()],
        sha256: Some(sha(&body)),
        dest: dest.clone(),
    };
    download(&d, &NoProgress, &CancelToken::new()).expect("falls back to the mirror");
    assert_eq!(std::fs::read(&dest).expect("read").len(), body.len());
}

#[test]
fn cancelling_keeps_the_part_file() {
    let body = payload();
    let server = serve(body, 0, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let d = Download {
        urls: vec![server.url.clone()],
        sha256: None,
        dest: dest.clone(),
    };
    let cancel = CancelToken::new();
    let c = cancel.clone();
    // Cancel as soon as the first bytes arrive.
    let sink = move |e: ProgressEvent| {
        if matches!(e, ProgressEvent::Progress(_)) {
            c.cancel();
        }
    };
    let e = download(&d, &sink, &cancel).expect_err("cancelled");
    assert!(matches!(e, DownloadError::Cancelled));
    assert!(!dest.exists());
    assert!(part_path(&dest).exists());
}
