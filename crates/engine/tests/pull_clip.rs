//! `models::pull_clip_from` against a real HTTP server on loopback serving a tiny HF-layout CLIP
//! folder (the fixture `crates/model/tests/fixtures/clip/`): resume from a `.part` file with a
//! `Range` request, the `pytorch_model.bin` fallback, a bad file named in the error with no model
//! folder left behind, and the pulled folder loads with `ClipModel::load`; the weights checked
//! against the SHA-256 a Hugging Face-like server declares on its redirect (a wrong one fails
//! and deletes the file, a resumed download is checked whole), a 40-hex ETag ignored, and a
//! plain mirror's weights reported as not verified, with their computed SHA-256.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vclip_engine::download::{part_path, DownloadError, Verification};
use vclip_engine::models::{clip_downloads_dir, import_clip_dir, pull_clip_from, PullError};
use vclip_engine::{CancelToken, NoProgress, ProgressEvent};
use vclip_model::{ClipModel, Device, Family};
use vclip_testkit::http::{serve, sha256_hex};

fn fixtures() -> PathBuf {
    vclip_testkit::model_fixtures().join("clip")
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

/// `dir/models` and the CLIP folder in it, `dir/models/clip-vit-b32` (neither created).
fn models_in(dir: &Path) -> (PathBuf, PathBuf) {
    let models = dir.join("models");
    let out = models.join("clip-vit-b32");
    (models, out)
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
    let (server, tmp) = (serve(hf_files()), tempfile::tempdir().expect("tempdir"));
    let (models, out) = models_in(tmp.path());
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
    assert_eq!(summary.import.dir, out);
    assert_eq!(Family::of_dir(&out).expect("family"), Family::Clip);
    assert!(!summary.import.config.random_weights);
    assert!(summary
        .import
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
    let (server, tmp) = (serve(hf_files()), tempfile::tempdir().expect("tempdir"));
    let (models, out) = models_in(tmp.path());

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
    server.clear();
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

/// The `description` of a model folder's `config.json`.
fn description(dir: &Path) -> String {
    let cfg: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("config.json"))).expect("config json");
    cfg["description"].as_str().expect("description").to_owned()
}

fn fixture_weights() -> Vec<u8> {
    read(&fixtures().join("hf/model.safetensors"))
}

#[test]
fn weights_are_checked_against_the_hash_a_hugging_face_like_server_declares() {
    let server = serve(hf_files());
    let sha = sha256_hex(&fixture_weights());
    server.like_hugging_face("model.safetensors", &sha);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let summary =
        pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    assert_eq!(summary.weights_file, "model.safetensors");
    assert_eq!(summary.weights_sha256, sha);
    assert_eq!(
        summary.weights_verified,
        Verification::Declared {
            host: "127.0.0.1".into(),
            header: "X-Linked-Etag".into()
        }
    );
    let line = format!("model.safetensors sha256 {sha} (verified: declared by 127.0.0.1)");
    assert_eq!(summary.weights_line(), line);
    // The model folder says so too.
    assert!(description(&out).ends_with(&line), "{}", description(&out));
    assert_eq!(
        server.requests(),
        vec![
            "config.json range=None",
            "tokenizer.json range=None",
            "model.safetensors range=None",
            "/cdn/model.safetensors range=None",
        ]
    );
    assert_eq!(text_embeddings(&out), reference(tmp.path()));
}

#[test]
fn a_wrong_declared_hash_fails_the_pull_and_leaves_no_model_and_no_weights() {
    let mut files = hf_files();
    // A fallback that would import: a checksum mismatch must not fall back to it.
    files.insert(
        "pytorch_model.bin".into(),
        read(&fixtures().join("bin/pytorch_model.bin")),
    );
    let server = serve(files);
    let sha = sha256_hex(&fixture_weights());
    let wrong = "5a".repeat(32);
    server.like_hugging_face("model.safetensors", &wrong);
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = tmp.path().join("models");
    let out = models.join("clip-vit-b32");
    let staging = clip_downloads_dir(&out);

    let err = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("the weights are not what the server declared");
    assert!(
        matches!(err, PullError::Download(DownloadError::Checksum(_))),
        "{err:?}"
    );
    let msg = err.to_string();
    for part in [
        "model.safetensors",
        "checksum mismatch",
        &wrong,
        &sha,
        "declared by 127.0.0.1",
        "downloads it again",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    assert!(!out.exists());
    assert!(!staging.join("model.safetensors").exists());
    assert!(!part_path(&staging.join("model.safetensors")).exists());
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.contains("pytorch_model")),
        "{:?}",
        server.requests()
    );
    assert_eq!(leftovers(&models), vec!["downloads".to_owned()]);

    // The server fixed: the next pull fetches the weights from the first byte and succeeds.
    server.like_hugging_face("model.safetensors", &sha);
    let before = server.requests().len();
    let summary =
        pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    assert!(summary.weights_verified.is_verified());
    assert_eq!(
        server.requests()[before..],
        [
            "model.safetensors range=None".to_owned(),
            "/cdn/model.safetensors range=None".to_owned()
        ]
    );
    assert_eq!(leftovers(&models), vec!["clip-vit-b32".to_owned()]);
}

#[test]
fn a_resumed_pull_is_verified_over_the_whole_file() {
    let server = serve(hf_files());
    let weights = fixture_weights();
    let sha = sha256_hex(&weights);
    server.like_hugging_face("model.safetensors", &sha);
    // The connection drops a third of the way into the weights the first time.
    let cut = weights.len() / 3;
    server.break_next("model.safetensors", 1, cut);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let summary =
        pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    assert_eq!(
        server.requests()[2..],
        [
            "model.safetensors range=None".to_owned(),
            "/cdn/model.safetensors range=None".to_owned(),
            format!("model.safetensors range=Some({cut})"),
            format!("/cdn/model.safetensors range=Some({cut})"),
        ]
    );
    assert_eq!(summary.weights_sha256, sha);
    assert!(matches!(
        summary.weights_verified,
        Verification::Declared { .. }
    ));
    assert_eq!(text_embeddings(&out), reference(tmp.path()));

    // A `.part` from an earlier run with a damaged byte: the resumed whole does not match.
    let out = tmp.path().join("models/second");
    let staging = clip_downloads_dir(&out);
    std::fs::create_dir_all(&staging).expect("mkdir");
    let mut stale = weights[..cut].to_vec();
    stale[cut / 2] ^= 0x01;
    let part = part_path(&staging.join("model.safetensors"));
    std::fs::write(&part, &stale).expect("part");
    let msg = pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new())
        .expect_err("the damaged prefix is caught")
        .to_string();
    assert!(
        msg.contains("checksum mismatch") && msg.contains(&sha),
        "{msg}"
    );
    assert!(!part.exists() && !out.exists());
}

#[test]
fn a_40_hex_etag_is_not_taken_for_a_sha256() {
    let server = serve(hf_files());
    // What Hugging Face sends for a small (non-LFS) file: the git blob's SHA-1.
    let sha1 = "\"8c1f3a2b4d5e6f708192a3b4c5d6e7f801234567\"";
    server.redirect(
        "/models/model.safetensors",
        307,
        "/cdn/model.safetensors",
        &[("X-Linked-Etag", sha1)],
    );
    server.header("model.safetensors", "ETag", &format!("W/{sha1}"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let summary =
        pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    assert_eq!(summary.weights_verified, Verification::NotVerified);
    assert_eq!(summary.weights_sha256, sha256_hex(&fixture_weights()));
}

#[test]
fn a_plain_mirror_reports_not_verified_with_the_computed_sha256() {
    let server = serve(hf_files());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("models/clip-vit-b32");
    let summary =
        pull_clip_from(&out, &server.sources(), &NoProgress, &CancelToken::new()).expect("pull");
    let sha = sha256_hex(&fixture_weights());
    assert_eq!(summary.weights_verified, Verification::NotVerified);
    assert_eq!(summary.weights_sha256, sha);
    let line = format!("model.safetensors sha256 {sha} (not verified)");
    assert_eq!(summary.weights_line(), line);
    assert!(description(&out).ends_with(&line), "{}", description(&out));
}
