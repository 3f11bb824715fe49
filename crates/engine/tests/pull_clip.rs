//! `models::pull_clip_from` against a real HTTP server on loopback serving a tiny HF-layout CLIP
//! folder (the fixture `crates/model/tests/fixtures/clip/`): resume from a `.part` file with a
//! `Range` request, the `pytorch_model.bin` fallback, a bad file named in the error with no model
//! folder left behind, and the pulled folder loads with `ClipModel::load`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vclip_engine::download::part_path;
use vclip_engine::models::{clip_downloads_dir, import_clip_dir, pull_clip_from, PullError};
use vclip_engine::{CancelToken, NoProgress, ProgressEvent};
use vclip_model::{ClipModel, Device, Family};

/// An HTTP/1.1 server for a folder of files (`/models/<name>`), with `Range` support; unknown
/// names get 404. Every request is logged as `<name> range=<start>`.
struct Server {
    url: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// The server's folder, as the one source to pull from.
    fn sources(&self) -> Vec<String> {
        vec![self.url.clone()]
    }

    fn set(&self, name: &str, body: Vec<u8>) {
        self.files.lock().expect("lock").insert(name.into(), body);
    }
}

fn serve(files: HashMap<String, Vec<u8>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/models", listener.local_addr().expect("addr"));
    let files = Arc::new(Mutex::new(files));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (served, seen) = (files.clone(), requests.clone());
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
            let name = path.rsplit('/').next().unwrap_or("").to_owned();
            seen.lock()
                .expect("lock")
                .push(format!("{name} range={range_start:?}"));
            let body = served.lock().expect("lock").get(&name).cloned();
            let Some(body) = body.filter(|_| path.starts_with("/models/")) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let start = range_start.unwrap_or(0).min(body.len());
            let head = if range_start.is_some() {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len() - start,
                    body.len().saturating_sub(1),
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            };
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[start..]);
            let _ = stream.flush();
        }
    });
    Server {
        url,
        files,
        requests,
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/clip")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture's HF folder as served: `config.json`, `tokenizer.json`, `model.safetensors`.
fn hf_files() -> HashMap<String, Vec<u8>> {
    let hf = fixtures().join("hf");
    ["config.json", "tokenizer.json", "model.safetensors"]
        .into_iter()
        .map(|n| (n.to_owned(), read(&hf.join(n))))
        .collect()
}

/// Text embeddings of a model folder (what a search computes for a query).
fn text_embeddings(dir: &Path) -> Vec<Vec<f32>> {
    let model = ClipModel::load(dir, &Device::Cpu).expect("the pulled folder loads");
    model
        .embed_texts(&["whisking eggs", "a diagram of a bicycle"])
        .expect("embed")
        .to_vec2::<f32>()
        .expect("vec")
}

/// The fixture imported directly, for comparison.
fn reference(tmp: &Path) -> Vec<Vec<f32>> {
    let dir = tmp.join("reference");
    vclip_model::import_clip(&fixtures().join("hf"), &dir).expect("import the fixture");
    text_embeddings(&dir)
}

fn leftovers(models: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(models)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn resumes_a_part_file_imports_and_loads() {
    let server = serve(hf_files());
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = tmp.path().join("models");
    let out = models.join("clip-vit-b32");
    // An earlier attempt stopped a third of the way into the weights.
    let weights = read(&fixtures().join("hf/model.safetensors"));
    let staging = clip_downloads_dir(&out);
    assert_eq!(staging, models.join("downloads/clip-vit-b32"));
    std::fs::create_dir_all(&staging).expect("mkdir");
    let cut = weights.len() / 3;
    std::fs::write(
        part_path(&staging.join("model.safetensors")),
        &weights[..cut],
    )
    .expect("part");

    let events = Mutex::new(Vec::new());
    let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
    let summary =
        pull_clip_from(&out, &server.sources(), &sink, &CancelToken::new()).expect("pull");

    assert_eq!(
        server.requests(),
        vec![
            "config.json range=None".to_owned(),
            "tokenizer.json range=None".to_owned(),
            format!("model.safetensors range=Some({cut})"),
        ]
    );
    assert_eq!(summary.dir, out);
    assert_eq!(Family::of_dir(&out).expect("family"), Family::Clip);
    assert!(!summary.config.random_weights);
    assert!(summary
        .config
        .description
        .contains("openai/clip-vit-base-patch32"));
    // Progress of the resumed file counts from the bytes already there to the whole file.
    let events = events.into_inner().expect("lock");
    assert!(
        events.iter().any(|e| matches!(e,
        ProgressEvent::Finished(p) if p.current.as_deref() == Some("model.safetensors")
            && p.done == weights.len() as u64)),
        "{events:?}"
    );
    // The staging folder is gone, nothing half-made is left beside the model.
    assert_eq!(leftovers(&models), vec!["clip-vit-b32".to_owned()]);
    assert_eq!(text_embeddings(&out), reference(tmp.path()));
}

#[test]
fn falls_back_to_pytorch_model_bin() {
    let mut files = hf_files();
    files.remove("model.safetensors");
    files.insert(
        "pytorch_model.bin".into(),
        read(&fixtures().join("bin/pytorch_model.bin")),
    );
    let server = serve(files);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    let reqs = server.requests();
    assert_eq!(
        reqs[2..],
        [
            "model.safetensors range=None".to_owned(),
            "pytorch_model.bin range=None".to_owned()
        ],
        "{reqs:?}"
    );
    assert_eq!(text_embeddings(&out), reference(tmp.path()));
}

#[test]
fn a_bad_file_is_named_and_no_model_folder_is_left() {
    let server = serve(hf_files());
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = tmp.path().join("models");
    let out = models.join("clip-vit-b32");

    // Damaged weights: the error names the file, and nothing is left behind.
    let mut bad = read(&fixtures().join("hf/model.safetensors"));
    bad.truncate(bad.len() - 1000);
    server.set("model.safetensors", bad);
    let err = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("a truncated safetensors file does not import");
    assert!(matches!(err, PullError::BadDownload(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("next pull downloads them again"),
        "{msg}"
    );
    assert!(!out.exists());
    assert_eq!(leftovers(&models), Vec::<String>::new());

    // Weights of another shape (the config says 32-wide, these are 48-wide): named by tensor.
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&read(&fixtures().join("hf/config.json"))).expect("json");
    cfg["vision_config"]["hidden_size"] = 48.into();
    server.set(
        "model.safetensors",
        read(&fixtures().join("hf/model.safetensors")),
    );
    server.set("config.json", serde_json::to_vec(&cfg).expect("json"));
    let msg = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("shapes disagree")
        .to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("shape"),
        "{msg}"
    );
    assert!(!out.exists());

    // The files repaired on the server: the next pull fetches them again and succeeds.
    server.set("config.json", read(&fixtures().join("hf/config.json")));
    pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    let good = text_embeddings(&out);

    // A bad pull over an existing model leaves that model as it was.
    server.set("tokenizer.json", b"{ not json".to_vec());
    let msg = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("bad tokenizer")
        .to_string();
    assert!(msg.contains("tokenizer.json"), "{msg}");
    assert_eq!(text_embeddings(&out), good);
    assert_eq!(leftovers(&models), vec!["clip-vit-b32".to_owned()]);

    // No source has a file: the error names it and the sources tried.
    server.files.lock().expect("lock").clear();
    let msg = pull_clip_from(
        &models.join("other"),
        &server.sources(),
        &NoProgress,
        &CancelToken::new(),
    )
    .expect_err("nothing served")
    .to_string();
    assert!(msg.contains("config.json") && msg.contains("404"), "{msg}");
    assert!(!models.join("other").exists());
}

#[test]
fn no_weights_anywhere_names_both_files() {
    let mut files = hf_files();
    files.remove("model.safetensors");
    let server = serve(files);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("clip");
    let err = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("no weights");
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("pytorch_model.bin"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn a_folder_that_is_not_a_model_is_refused_before_downloading() {
    let server = serve(hf_files());
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("notes.txt"), "mine").expect("write");
    let err = pull_clip_from(
        tmp.path(),
        &server.sources(),
        &NoProgress,
        &CancelToken::new(),
    )
    .expect_err("not a model folder");
    assert!(err.to_string().contains("not a model folder"), "{err}");
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(leftovers(tmp.path()), vec!["notes.txt".to_owned()]);
}

#[test]
fn a_cancelled_pull_keeps_nothing_but_what_resumes() {
    let server = serve(hf_files());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = pull_clip_from(&out, &server.sources(), &NoProgress, &cancel).expect_err("cancelled");
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(!out.exists());
}

#[test]
fn import_clip_dir_replaces_a_model_only_when_the_new_one_is_complete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let random =
        vclip_model::init_random_clip(vclip_model::Preset::Tiny, 5, &out, None).expect("init");
    assert!(random.random_weights);

    // A folder without a tokenizer: refused, the random model untouched.
    let src = tmp.path().join("hf");
    std::fs::create_dir_all(&src).expect("mkdir");
    for n in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("hf").join(n), src.join(n)).expect("copy");
    }
    let err = import_clip_dir(&src, &out)
        .expect_err("no tokenizer")
        .to_string();
    assert!(err.contains("tokenizer"), "{err}");
    let cfg = std::fs::read_to_string(out.join("config.json")).expect("config");
    assert!(cfg.contains("\"random_weights\": true"), "{cfg}");

    // A folder that is not a model is never replaced.
    let mine = tmp.path().join("models/my-files");
    std::fs::create_dir_all(&mine).expect("mkdir");
    std::fs::write(mine.join("notes.txt"), "mine").expect("write");
    let err = import_clip_dir(&fixtures().join("hf"), &mine)
        .expect_err("not a model folder")
        .to_string();
    assert!(err.contains("not a model folder"), "{err}");
    assert_eq!(leftovers(&mine), vec!["notes.txt".to_owned()]);
    std::fs::remove_dir_all(&mine).expect("rm");

    // The complete folder replaces it, and nothing else is left in the models folder.
    let summary = import_clip_dir(&fixtures().join("hf"), &out).expect("import");
    assert_eq!(summary.dir, out);
    assert!(!summary.config.random_weights);
    assert_eq!(
        leftovers(&tmp.path().join("models")),
        vec!["clip-vit-b32".to_owned()]
    );
    assert_eq!(text_embeddings(&out), reference(tmp.path()));
}
