//! Model versions through the engine's API: a library embedded with two tower versions on the
//! same backbone keeps both versions' windows, so switching back needs no re-embedding, and
//! steps use the active version's token states (tiny random-weight models: plumbing only).
#![cfg(feature = "media")]

#[path = "common/setup.rs"]
mod setup;

use std::path::Path;

use vclip_engine::localize::StepOptions;
use vclip_engine::search::SearchOptions;
use vclip_engine::{versions, CancelToken, Engine, ImportOptions, NoProgress};
use vclip_testkit::lavfi_srt;

use setup::{import, open, two_versions as models};

#[test]
fn switching_back_to_an_embedded_version_needs_no_reembedding() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (base, other) = models(tmp.path());
    let videos = tmp.path().join("videos");
    let cues = "1\n00:00:02,000 --> 00:00:04,000\nwhisk the eggs\n\n\
                2\n00:00:07,000 --> 00:00:09,000\nserve on a warm plate\n";
    let pattern = "testsrc2=size=160x120:rate=25";
    lavfi_srt(&videos, "kitchen.mp4", pattern, 12, cues);
    let lib = tmp.path().join("library");

    let engine = open(&lib, &base);
    let r = import(&engine, std::slice::from_ref(&videos));
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert!(engine.embedding_gaps().expect("gaps").is_empty());
    assert_eq!(
        engine
            .ensure_embedded(&NoProgress, &CancelToken::new())
            .expect("ensure"),
        None
    );
    drop(engine);

    // The other towers: nothing embedded yet, so the switch re-embeds from the cache.
    let engine = open(&lib, &other);
    assert_eq!(engine.embedding_gaps().expect("gaps").len(), 1);
    let reindexed = engine
        .ensure_embedded(&NoProgress, &CancelToken::new())
        .expect("ensure")
        .expect("re-embedded");
    assert_eq!(reindexed.reembedded, 1, "{reindexed:?}");
    assert!(engine.embedding_gaps().expect("gaps").is_empty());
    versions::register_and_activate(&lib, &other).expect("activate");
    drop(engine);

    // Back to the base: its windows and token states are still there.
    let engine = open(&lib, &base);
    assert!(engine.embedding_gaps().expect("gaps").is_empty());
    let hits = engine
        .search("whisk the eggs", &SearchOptions::default())
        .expect("search");
    assert!(hits[0].path.ends_with("kitchen.mp4"));
    // The video was embedded last with the other version; its base token states still serve.
    let id = engine.list().expect("list")[0].id;
    let steps = engine
        .steps(
            &id.to_string(),
            &["whisk the eggs".to_owned(), "serve".to_owned()],
            StepOptions::default(),
        )
        .expect("steps with the base's token states");
    assert_eq!(steps.steps.len(), 2);
    let other_key = versions::load(&lib).expect("load").active.expect("active");
    let s = versions::register_and_activate(&lib, &base).expect("activate");
    assert_eq!(s.from.as_deref(), Some(other_key.as_str()));
    assert_eq!(Some(s.to.version.as_str()), engine.model_key());

    // A token file that disappeared is a gap.
    let version = vclip_engine::model_version_of(engine.model().expect("model")).expect("version");
    let tokens = lib
        .join("families")
        .join(version.family())
        .join("models")
        .join(version.version())
        .join("tokens");
    std::fs::remove_dir_all(&tokens).expect("rm tokens");
    assert_eq!(engine.embedding_gaps().expect("gaps").len(), 1);
}

/// The engine opened as the faces open it (`open::open`), on the CPU, with no environment.
fn open_as_a_face(lib: &Path, model: &Path) -> Engine {
    use vclip_engine::open::{Environment, ModelRequest, OpenRequest};
    let request = OpenRequest {
        library: Some(lib.to_owned()),
        model: ModelRequest::Dir(model.to_owned()),
        gpu: Some(false),
        models_dir: Some(lib.join("no-models-here")),
        env: Environment::default(),
        ..OpenRequest::default()
    };
    vclip_engine::open::open(&request).expect("open").engine
}

/// Issue "One way in": an import records its model as the library's version; a second model
/// that would leave other videos without windows is registered but not activated, with a
/// warning that says how to switch; once every video has its windows, importing with it makes
/// it active.
#[test]
fn an_import_remembers_its_model_without_breaking_the_library() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (base, other) = models(tmp.path());
    let videos = tmp.path().join("videos");
    let cue = "1\n00:00:01,000 --> 00:00:02,000\nhello\n";
    let first = lavfi_srt(&videos, "a.mp4", "testsrc2=size=160x120:rate=25", 4, cue);
    let lib = tmp.path().join("library");
    let import = |engine: &Engine, path: &Path| {
        let warnings = std::sync::Mutex::new(Vec::new());
        let sink = |e: vclip_engine::ProgressEvent| {
            if let vclip_engine::ProgressEvent::Warning { message, .. } = e {
                warnings.lock().expect("lock").push(message);
            }
        };
        let r = engine
            .import(
                &[path.to_owned()],
                ImportOptions::default(),
                &sink,
                &CancelToken::new(),
            )
            .expect("import");
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        warnings.into_inner().expect("lock")
    };
    let engine = open_as_a_face(&lib, &base);
    let base_key = engine.model_key().expect("key").to_owned();
    assert!(import(&engine, &first).is_empty());
    drop(engine);
    let active = versions::active(&lib)
        .expect("registry")
        .expect("an active version");
    assert_eq!(active.version, base_key);

    // Another model imports a new video: a.mp4 has no windows of it, so the base stays.
    let second = lavfi_srt(&videos, "b.mp4", "mandelbrot=size=160x120:rate=25", 4, cue);
    let engine = open_as_a_face(&lib, &other);
    let other_key = engine.model_key().expect("key").to_owned();
    let warnings = import(&engine, &second);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("vclip models use") && w.contains(&base_key)),
        "{warnings:?}"
    );
    let registry = versions::load(&lib).expect("registry");
    assert_eq!(registry.active.as_deref(), Some(base_key.as_str()));
    assert!(
        registry.get(&other_key).is_some(),
        "registered: {registry:?}"
    );

    // Importing the whole folder gives every video its windows: now it becomes active.
    assert!(import(&engine, &videos).is_empty());
    drop(engine);
    let registry = versions::load(&lib).expect("registry");
    assert_eq!(registry.active.as_deref(), Some(other_key.as_str()));
    assert_eq!(registry.previous.as_deref(), Some(base_key.as_str()));
}
