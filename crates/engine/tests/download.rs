//! Downloads against a real HTTP server on loopback (`vclip_testkit::http`): resume after a broken
//! transfer, checksum failure, fallback to the next source, the offline message, cancellation,
//! and the SHA-256 a server declares (Hugging Face's `X-Linked-Etag` on a redirect hop) checked
//! over the whole file.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;

use vclip_engine::download::{
    download, part_path, sha256_of_etag, Download, DownloadError, Downloaded, Verification,
};
use vclip_engine::{CancelToken, NoProgress, ProgressEvent};
use vclip_testkit::http::{serve, sha256_hex, Server};

/// `body` as `weights.bin`; the first `break_first` bodies cut off after `cut` bytes.
fn serve_one(body: Vec<u8>, break_first: usize, cut: usize) -> Server {
    let server = serve(HashMap::from([("weights.bin".to_owned(), body)]));
    server.break_next("weights.bin", break_first, cut);
    server
}

fn payload() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect()
}

/// [`payload`] and a server with it as `weights.bin`, no connection broken.
fn served() -> (Vec<u8>, Server) {
    let body = payload();
    let server = serve_one(body.clone(), 0, 0);
    (body, server)
}

fn sha(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

#[test]
fn resumes_a_broken_transfer_with_a_range_request() {
    let body = payload();
    let server = serve_one(body.clone(), 1, 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("models/weights.bin");
    let d = get(&server, &dest, Some(sha(&body)));
    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    download(&d, &sink, &CancelToken::new()).expect("download");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
    assert!(!part_path(&dest).exists());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs[1].ends_with("range=Some(1000000)"), "{reqs:?}");
    let events = events.into_inner().expect("lock");
    assert!(events
        .iter()
        .any(|e| matches!(e, ProgressEvent::Finished(p) if p.done == body.len() as u64)));

    // Already there with the right checksum: nothing is fetched again.
    download(&d, &NoProgress, &CancelToken::new()).expect("again");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn resumes_from_a_part_file_left_by_an_earlier_run() {
    let (body, server) = served();
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    std::fs::write(part_path(&dest), &body[..123_456]).expect("write part");
    let d = get(&server, &dest, Some(sha(&body)));
    download(&d, &NoProgress, &CancelToken::new()).expect("download");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
    assert_eq!(server.requests(), vec!["weights.bin range=Some(123456)"]);
}

#[test]
fn a_checksum_mismatch_deletes_the_file_and_says_so() {
    let server = serve_one(payload(), 0, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let d = get(&server, &dest, Some("00".repeat(32)));
    let e = download(&d, &NoProgress, &CancelToken::new()).expect_err("bad checksum");
    assert!(matches!(e, DownloadError::Checksum(_)), "{e}");
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

    let (body, server) = served();
    let d = Download {
        urls: vec![dead, server.url_of("weights.bin")],
        sha256: Some(sha(&body)),
        dest: dest.clone(),
    };
    download(&d, &NoProgress, &CancelToken::new()).expect("falls back to the mirror");
    assert_eq!(std::fs::read(&dest).expect("read").len(), body.len());
}

#[test]
fn cancelling_keeps_the_part_file() {
    let server = serve_one(payload(), 0, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let d = get(&server, &dest, None);
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

fn get(server: &Server, dest: &std::path::Path, pinned: Option<String>) -> Download {
    Download {
        urls: vec![server.url_of("weights.bin")],
        sha256: pinned,
        dest: dest.to_owned(),
    }
}

/// `weights.bin` from `server` into `dest`, with no pinned hash, no progress, no cancel.
fn fetch(server: &Server, dest: &std::path::Path) -> Result<Downloaded, DownloadError> {
    download(&get(server, dest, None), &NoProgress, &CancelToken::new())
}

fn declared_by_loopback(header: &str) -> Verification {
    Verification::Declared {
        host: "127.0.0.1".into(),
        header: header.into(),
    }
}

#[test]
fn the_hash_a_redirect_declares_is_checked() {
    let (body, server) = served();
    server.like_hugging_face("weights.bin", &sha(&body));
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let got = fetch(&server, &dest).expect("download");
    assert_eq!(
        got,
        Downloaded {
            path: dest.clone(),
            sha256: sha(&body),
            verified: declared_by_loopback("X-Linked-Etag"),
        }
    );
    assert_eq!(got.verified.to_string(), "declared by 127.0.0.1");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
    // The redirect was followed by hand: both hops were seen.
    assert_eq!(
        server.requests(),
        vec!["weights.bin range=None", "/cdn/weights.bin range=None"]
    );
}

#[test]
fn a_wrong_declared_hash_deletes_the_file_and_the_retry_starts_clean() {
    let (body, server) = served();
    let wrong = "ab".repeat(32);
    // Upper case and a weak `W/` prefix are still the same hash.
    server.redirect(
        "/models/weights.bin",
        302,
        &format!("{}/cdn/weights.bin", server.origin),
        &[("X-Linked-Etag", &format!("W/\"{}\"", wrong.to_uppercase()))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let e = fetch(&server, &dest).expect_err("the declared hash is not the file's");
    let msg = e.to_string();
    match &e {
        DownloadError::Checksum(m) => {
            assert_eq!(m.path, dest);
            assert_eq!(m.expected, wrong);
            assert_eq!(m.actual, sha(&body));
            assert_eq!(m.expected_from, declared_by_loopback("X-Linked-Etag"));
            assert_eq!(m.declared, None);
        }
        other => panic!("not a checksum error: {other}"),
    }
    assert!(e.is_checksum_mismatch());
    for part in [
        "weights.bin",
        &wrong,
        &sha(&body),
        "declared by 127.0.0.1 in X-Linked-Etag",
        "deleted",
        "downloads it again",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    assert!(!dest.exists() && !part_path(&dest).exists());

    // The server fixed: the next attempt downloads from the first byte and verifies.
    server.like_hugging_face("weights.bin", &sha(&body));
    let before = server.requests().len();
    let got = fetch(&server, &dest).expect("download");
    assert!(got.verified.is_verified());
    assert_eq!(server.requests()[before], "weights.bin range=None");
}

#[test]
fn a_resumed_download_is_verified_over_the_whole_file() {
    let body = payload();
    // The connection drops after 1 MB the first time; the second request resumes with `Range`,
    // sent on the redirect hop and on the CDN alike.
    let server = serve_one(body.clone(), 1, 1_000_000);
    server.like_hugging_face("weights.bin", &sha(&body));
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let got = fetch(&server, &dest).expect("download");
    assert_eq!(got.verified, declared_by_loopback("X-Linked-Etag"));
    assert_eq!(got.sha256, sha(&body));
    assert_eq!(
        server.requests(),
        vec![
            "weights.bin range=None",
            "/cdn/weights.bin range=None",
            "weights.bin range=Some(1000000)",
            "/cdn/weights.bin range=Some(1000000)",
        ]
    );

    // A `.part` left by an earlier run whose bytes are not the file's: the resumed tail is
    // right, the whole is not, and the whole is what is checked.
    let dest = dir.path().join("again/weights.bin");
    std::fs::create_dir_all(dir.path().join("again")).expect("mkdir");
    let mut stale = body[..500_000].to_vec();
    stale[1234] ^= 0xff;
    std::fs::write(part_path(&dest), &stale).expect("part");
    let e = fetch(&server, &dest).expect_err("the stale bytes are caught");
    assert!(matches!(e, DownloadError::Checksum(_)), "{e}");
    assert!(!part_path(&dest).exists() && !dest.exists());
    // ... and the retry starts clean.
    fetch(&server, &dest).expect("retry");
    assert_eq!(std::fs::read(&dest).expect("read"), body);
}

#[test]
fn a_40_hex_etag_is_not_a_sha256() {
    assert_eq!(
        sha256_of_etag(&format!("\"{}\"", "Ab".repeat(32))),
        Some("ab".repeat(32))
    );
    assert_eq!(
        sha256_of_etag(&format!("W/\"{}\"", "0f".repeat(32))),
        Some("0f".repeat(32))
    );
    assert_eq!(sha256_of_etag(&format!("W/\"{}\"", "0f".repeat(20))), None);
    assert_eq!(sha256_of_etag("\"65f1a2b3-2dc6c0\""), None);
    assert_eq!(sha256_of_etag(&format!("\"{}\"", "g".repeat(64))), None);

    let (body, server) = served();
    // A git blob's SHA-1 (what Hugging Face sends for a small file), on a redirect and on the
    // answer itself: neither is taken for a SHA-256.
    let sha1 = "\"4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2\"";
    server.redirect(
        "/models/weights.bin",
        307,
        "/cdn/weights.bin",
        &[("X-Linked-Etag", sha1), ("ETag", sha1)],
    );
    server.header("weights.bin", "ETag", &format!("W/{sha1}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let got = fetch(&server, &dest).expect("a 40-hex tag is no reason to fail");
    assert_eq!(got.verified, Verification::NotVerified);
    assert_eq!(got.verified.to_string(), "not verified");
    assert_eq!(got.sha256, sha(&body));
    assert_eq!(
        server.requests(),
        vec!["weights.bin range=None", "/cdn/weights.bin range=None"]
    );
}

#[test]
fn the_first_x_linked_etag_wins_and_a_plain_etag_is_never_taken() {
    let (body, server) = served();
    // A renamed repository (relative 307), then the LFS redirect, then a CDN whose own 64-hex
    // ETag is something else: the X-Linked-Etag of the second hop is the expected hash.
    server.redirect("/models/weights.bin", 307, "/hop/weights.bin", &[]);
    server.redirect(
        "/hop/weights.bin",
        302,
        &format!("{}/cdn/weights.bin", server.origin),
        &[("X-Linked-Etag", &format!("\"{}\"", sha(&body)))],
    );
    server.header("weights.bin", "ETag", &format!("\"{}\"", "cd".repeat(32)));
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let got = fetch(&server, &dest).expect("download");
    assert_eq!(got.verified, declared_by_loopback("X-Linked-Etag"));
    assert_eq!(
        server.requests(),
        vec![
            "weights.bin range=None",
            "/hop/weights.bin range=None",
            "/cdn/weights.bin range=None"
        ]
    );

    // Without an X-Linked-Etag, a 64-hex ETag is not taken for a SHA-256 (HTTP leaves its
    // meaning to the server): the file is downloaded, hashed and reported as not verified.
    let plain = serve_one(body.clone(), 0, 0);
    plain.header("weights.bin", "ETag", &format!("\"{}\"", "cd".repeat(32)));
    let dest = dir.path().join("other.bin");
    let got = fetch(&plain, &dest).expect("download");
    assert_eq!(got.verified, Verification::NotVerified);
    assert_eq!(got.sha256, sha(&body));
    assert_eq!(std::fs::read(&dest).expect("read"), body);
}

#[test]
fn a_pinned_hash_wins_over_a_declared_one() {
    let (body, server) = served();
    let other = "ee".repeat(32);
    server.like_hugging_face("weights.bin", &other);
    let dir = tempfile::tempdir().expect("tempdir");

    // The file matches the pinned hash: verified as pinned, whatever the server said.
    let dest = dir.path().join("a.bin");
    let got = download(
        &get(&server, &dest, Some(sha(&body).to_uppercase())),
        &NoProgress,
        &CancelToken::new(),
    )
    .expect("pinned hash matches");
    assert_eq!(got.verified, Verification::Pinned);
    assert_eq!(got.verified.to_string(), "pinned");

    // It matches neither: the error says the pinned one was expected and what the server said.
    let dest = dir.path().join("b.bin");
    let pinned = "11".repeat(32);
    let e = download(
        &get(&server, &dest, Some(pinned.clone())),
        &NoProgress,
        &CancelToken::new(),
    )
    .expect_err("matches neither");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("expected sha256 {pinned} (pinned)"))
            && msg.contains(&format!("127.0.0.1 declared {other} in X-Linked-Etag"))
            && msg.contains("the pinned hash wins")
            && msg.contains(&sha(&body)),
        "{msg}"
    );
    assert!(!dest.exists() && !part_path(&dest).exists());
}

#[test]
fn a_redirect_loop_is_an_error() {
    let server = serve_one(payload(), 0, 0);
    server.redirect("/models/weights.bin", 302, "/models/weights.bin", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("weights.bin");
    let e = fetch(&server, &dest).expect_err("loop");
    assert!(matches!(e, DownloadError::TooManyRedirects { .. }), "{e}");
    assert!(e.to_string().contains("redirects"), "{e}");
    assert_eq!(server.requests().len(), 11);
}
