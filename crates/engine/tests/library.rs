//! The library end to end through the engine's API, on generated videos with subtitles and a
//! tiny random-weight model (named as such: it proves the plumbing, not model quality).
#![cfg(feature = "media")]

#[path = "common/setup.rs"]
mod setup;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use vclip_engine::search::{SearchOptions, Signal};
use vclip_engine::{
    model_version, model_version_of, CancelToken, Engine, ImportOptions, ImportReport, NoProgress,
    ProgressEvent,
};
use vclip_index::{read_features, Library};
use vclip_model::{Device, VClipModel};
use vclip_testkit::{lavfi, lavfi_srt};

use setup::{import, other_towers, tiny_videoclip};

fn model(dir: &Path) -> VClipModel {
    VClipModel::load(&tiny_videoclip(dir, "model", 7), &Device::Cpu).expect("load tiny model")
}

/// The library at `lib` opened with the tiny model in `dir`.
fn open(dir: &Path, lib: &Path) -> Engine {
    Engine::open(lib, Some(model(dir).into())).expect("open").0
}

const EGG_CUES: &str = "1\n00:00:20,000 --> 00:00:23,000\nwhisk the eggs until fluffy\n\n\
                        2\n00:00:30,000 --> 00:00:32,000\nserve on a warm plate\n";
const FOX_CUES: &str = "1\n00:00:02,000 --> 00:00:04,000\nthe quick brown fox jumps\n";

/// A folder with two good videos (with subtitles), a corrupt one and a text file.
fn folder(dir: &Path) -> PathBuf {
    let v = dir.join("videos");
    lavfi_srt(
        &v,
        "kitchen.mp4",
        "testsrc2=size=160x120:rate=25",
        40,
        EGG_CUES,
    );
    lavfi_srt(
        &v.join("nested"),
        "forest.mkv",
        "mandelbrot=size=160x120:rate=25",
        10,
        FOX_CUES,
    );
    std::fs::write(v.join("broken.mp4"), vec![7u8; 40_000]).expect("write junk");
    std::fs::write(v.join("notes.txt"), "not a video").expect("write txt");
    v
}

/// A temporary folder with [`folder`]'s videos, and its library (`library`) opened with the tiny
/// model: `(tmp, videos, lib, engine)`.
fn setup() -> (TempDir, PathBuf, PathBuf, Engine) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let videos = folder(tmp.path());
    let lib = tmp.path().join("library");
    let engine = open(tmp.path(), &lib);
    (tmp, videos, lib, engine)
}

/// Imports `paths`, cancelled at the first progress event `stop` picks.
fn import_cancelled_at(
    engine: &Engine,
    paths: &[PathBuf],
    stop: fn(&ProgressEvent) -> bool,
) -> ImportReport {
    let cancel = CancelToken::new();
    let c = cancel.clone();
    let sink = move |e: ProgressEvent| {
        if stop(&e) {
            c.cancel();
        }
    };
    engine
        .import(paths, ImportOptions::default(), &sink, &cancel)
        .expect("import")
}

/// Every hit for `query` (default options) is in `forest.mkv`.
fn only_forest(engine: &Engine, query: &str) {
    let hits = engine
        .search(query, &SearchOptions::default())
        .expect("search");
    assert!(
        hits.iter().all(|h| h.path.ends_with("forest.mkv")),
        "{hits:?}"
    );
}

#[test]
fn import_then_search_by_subtitle_and_by_stored_vector() {
    let (_tmp, videos, lib, engine) = setup();

    let report = import(&engine, std::slice::from_ref(&videos));
    assert_eq!(report.imported.len(), 2, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].path.ends_with("broken.mp4"));
    assert!(!report.failed[0].reason.is_empty());
    assert_eq!(report.video_s, 50.0);

    // Importing again changes nothing: no duplicates.
    let again = import(&engine, std::slice::from_ref(&videos));
    assert_eq!(
        (again.imported.len(), again.skipped.len()),
        (0, 2),
        "{again:?}"
    );
    let list = engine.list().expect("list");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|v| v.status == "ready"));
    assert!(list
        .iter()
        .all(|v| v.thumbnail.as_ref().is_some_and(|t| t.exists())));

    // A subtitle phrase: the right video first, covering the cue's time range, highlighted.
    let hits = engine
        .search("whisk the eggs", &SearchOptions::default())
        .expect("search");
    let top = &hits[0];
    assert!(top.path.ends_with("kitchen.mp4"), "{hits:?}");
    assert!(top.start_s <= 20.0 && top.end_s >= 23.0, "{top:?}");
    assert!(top.signals.contains(&Signal::Subtitle));
    let snippet = top.snippet.as_deref().expect("snippet");
    assert_eq!(snippet, "whisk the eggs until fluffy");
    let words: Vec<&str> = top
        .highlights
        .iter()
        .map(|&(a, b)| &snippet[a..b])
        .collect();
    assert!(words.contains(&"eggs"), "{words:?}");
    // The other video's cue is found too, in its own time range.
    let fox = engine
        .search("brown fox", &SearchOptions::default())
        .expect("search");
    assert!(fox[0].path.ends_with("forest.mkv"));
    assert!(fox[0].start_s <= 2.0 && fox[0].end_s >= 4.0, "{:?}", fox[0]);
    // Filters.
    let short_only = SearchOptions {
        max_duration_s: Some(20.0),
        ..SearchOptions::default()
    };
    let hits = engine
        .search("whisk the eggs", &short_only)
        .expect("search");
    assert!(
        hits.iter().all(|h| h.path.ends_with("forest.mkv")),
        "{hits:?}"
    );
    let nested = SearchOptions {
        folder: Some(videos.join("nested").to_string_lossy().into_owned()),
        ..SearchOptions::default()
    };
    let hits = engine.search("fox eggs", &nested).expect("search");
    assert!(!hits.is_empty() && hits.iter().all(|h| h.path.ends_with("forest.mkv")));

    // The visual signal: query with a stored window vector. The first moment is in the video of
    // the window with the highest inner product over every stored window (computed here by
    // brute force from the vector files), inside that window's span.
    let m = engine.model().expect("model");
    let version = model_version_of(m).expect("version");
    let mut stored: Vec<(String, usize, Vec<f32>)> = Vec::new();
    for v in engine.list().expect("list") {
        let hash = engine.find(&v.path).expect("find").hash;
        let path = setup::vector_file(&lib, &version, "windows", &hash);
        let f = read_features(&path).expect("window vectors");
        for r in 0..f.rows {
            stored.push((v.path.clone(), r, f.row(r).to_vec()));
        }
    }
    assert_eq!(
        stored.len(),
        2 + 1,
        "kitchen: windows 0-32 and 16-40 s, forest: 0-10 s"
    );
    let query = stored[1].2.clone();
    let dot = |a: &[f32]| a.iter().zip(&query).map(|(x, y)| x * y).sum::<f32>();
    let best = stored
        .iter()
        .max_by(|a, b| dot(&a.2).total_cmp(&dot(&b.2)))
        .expect("best");
    let hits = engine
        .search_vector(&query, &SearchOptions::default())
        .expect("search");
    assert_eq!(hits[0].path, best.0, "{hits:?}");
    assert_eq!(hits[0].signals, vec![Signal::Visual]);
    let (ws, we) = (
        best.1 as f64 * 16.0,
        (best.1 as f64 * 16.0 + 32.0).min(40.0),
    );
    assert!(
        hits[0].start_s >= ws && hits[0].end_s <= we,
        "{:?}",
        hits[0]
    );
}

#[test]
fn remove_reindex_and_reopen_keep_everything_consistent() {
    let (tmp, videos, lib, engine) = setup();
    import(&engine, std::slice::from_ref(&videos));
    assert_eq!(engine.indexed_windows(), 3);

    let kitchen = videos.join("kitchen.mp4");
    let removed = engine
        .remove(kitchen.to_str().expect("utf-8"))
        .expect("remove");
    assert!(removed.path.ends_with("kitchen.mp4"));
    assert!(kitchen.exists(), "the user's file is never touched");
    assert_eq!(engine.indexed_windows(), 1);
    only_forest(&engine, "whisk the eggs");
    assert!(engine.remove("no-such-video").is_err());

    // Reindex from the feature cache (no decoding): same windows, fresh keys.
    let r = engine
        .reindex(&NoProgress, &CancelToken::new())
        .expect("reindex");
    assert_eq!((r.reembedded, r.windows), (1, 1), "{r:?}");
    assert!(r.need_import.is_empty());
    drop(engine);

    // Lose the vector index file: reopening rebuilds it from the vector files.
    let version = model_version(&model(tmp.path()).config).expect("version");
    let ix = Library::open(&lib)
        .and_then(|l| l.vector_index_path(&version))
        .expect("path");
    std::fs::remove_file(&ix).expect("remove index");
    let (engine, rec) = Engine::open(&lib, Some(model(tmp.path()).into())).expect("reopen");
    assert!(rec.rebuilt, "{rec:?}");
    assert_eq!(engine.indexed_windows(), 1);
    let fox = engine
        .search("brown fox", &SearchOptions::default())
        .expect("search");
    assert!(fox[0].path.ends_with("forest.mkv"));

    // A second engine on the same library is refused while the first is open.
    let err = Engine::open(&lib, None).expect_err("library in use");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn a_new_model_version_reembeds_from_cached_features_without_decoding() {
    let (tmp, videos, lib, engine) = setup();
    import(&engine, std::slice::from_ref(&videos));
    drop(engine);
    // Same S3D (same family, cached features reused), other towers: copy the model directory
    // and replace its towers with another seed's.
    let other = other_towers(&tmp.path().join("model"), &tmp.path().join("other-model"));
    let m2 = VClipModel::load(&other, &Device::Cpu).expect("load");
    let (engine, _) = Engine::open(&lib, Some(m2.into())).expect("open");
    // The corrupt file is gone from the folder, and one source video too: a re-embed must not
    // need the video file at all.
    std::fs::remove_file(videos.join("broken.mp4")).expect("rm");
    std::fs::rename(videos.join("kitchen.mp4"), tmp.path().join("moved.mp4")).expect("mv");
    let r = engine
        .reindex(&NoProgress, &CancelToken::new())
        .expect("reindex");
    assert_eq!((r.reembedded, r.windows), (2, 3), "{r:?}");
    let hits = engine
        .search("whisk the eggs", &SearchOptions::default())
        .expect("search");
    assert!(hits[0].path.ends_with("kitchen.mp4"));
}

#[test]
fn search_answers_while_an_import_runs() {
    let (_tmp, videos, _, engine) = setup();
    import(&engine, &[videos.join("nested")]);
    for i in 0..3 {
        // Distinct contents (the same content under two names is one video).
        lavfi(
            &videos,
            &format!("long{i}.mp4"),
            "testsrc2=size=160x120:rate=25",
            30 + i,
        );
    }
    let engine = Arc::new(engine);
    let worker = {
        let engine = Arc::clone(&engine);
        let videos = videos.clone();
        std::thread::spawn(move || import(&engine, &[videos]))
    };
    let mut answered = 0;
    while !worker.is_finished() {
        let hits = engine
            .search("brown fox", &SearchOptions::default())
            .expect("search during import");
        assert!(hits[0].path.ends_with("forest.mkv"));
        answered += 1;
    }
    let report = worker.join().expect("import thread");
    assert_eq!(report.imported.len(), 4, "{report:?}");
    assert!(answered > 0);
    assert_eq!(engine.list().expect("list").len(), 5);
}

#[test]
fn cancel_leaves_a_resumable_library() {
    let (_tmp, videos, _, engine) = setup();
    // Cancel at the first progress report of the encoder (inside the first video).
    let report = import_cancelled_at(&engine, std::slice::from_ref(&videos), |e| {
        matches!(e, ProgressEvent::Progress(_))
    });
    assert!(report.cancelled);
    assert!(report.imported.len() < 2);
    // The next import, given no paths at all, resumes what was left.
    let resumed = import(&engine, &[]);
    let done = report.imported.len() + resumed.imported.len();
    assert!(done >= 1, "{resumed:?}");
    let again = import(&engine, std::slice::from_ref(&videos));
    assert_eq!(
        report.imported.len() + resumed.imported.len() + again.imported.len(),
        2
    );
    let list = engine.list().expect("list");
    assert_eq!(list.iter().filter(|v| v.status == "ready").count(), 2);
}

/// The tiny random model's text tower used as a sentence encoder (unit vectors): not a good
/// one, but a real network, enough to prove the semantic signal's plumbing exactly.
#[derive(Debug)]
struct TowerSentences(VClipModel);

impl vclip_engine::sentences::SentenceEmbedder for TowerSentences {
    fn id(&self) -> &str {
        "tiny-tower-test"
    }

    fn dim(&self) -> usize {
        self.0.config.videoclip.hidden_size
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let t = self.0.embed_texts(texts).map_err(|e| e.to_string())?;
        let rows = t.to_vec2::<f32>().map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                r.into_iter().map(|x| x / n).collect()
            })
            .collect())
    }
}

/// The library at `lib` opened with the tiny model in `dir`, its text tower as the sentence
/// encoder: the engine and what enabling the encoder reconciled.
fn with_sentences(dir: &Path, lib: &Path) -> (Engine, vclip_engine::Reconciled) {
    let mut engine = open(dir, lib);
    let rec = engine
        .enable_sentences(Box::new(TowerSentences(model(dir))))
        .expect("enable");
    (engine, rec)
}

#[test]
fn semantic_signal_finds_the_cue_whose_meaning_matches() {
    // Import first without an encoder: enabling it later embeds the existing cues once.
    let (tmp, videos, lib, engine) = setup();
    import(&engine, &[videos.join("kitchen.mp4")]);
    drop(engine);
    let (engine, rec) = with_sentences(tmp.path(), &lib);
    assert!(rec.unreadable.is_empty(), "{rec:?}");
    assert!(engine.sentences_enabled());
    // A video imported with the encoder on is indexed as it is imported.
    import(&engine, &[videos.join("nested")]);
    for (query, file, start) in [
        ("serve on a warm plate", "kitchen.mp4", 30.0),
        ("the quick brown fox jumps", "forest.mkv", 2.0),
    ] {
        let hits = engine
            .search(query, &SearchOptions::default())
            .expect("search");
        let h = hits
            .iter()
            .find(|h| h.signals.contains(&Signal::Semantic))
            .unwrap_or_else(|| panic!("no semantic hit: {hits:?}"));
        assert!(h.path.ends_with(file), "{hits:?}");
        assert!(h.start_s <= start && h.end_s >= start + 2.0, "{h:?}");
    }
    // Removing a video drops its cues from the sentence index; reopening reconciles.
    engine
        .remove(videos.join("kitchen.mp4").to_str().expect("utf-8"))
        .expect("remove");
    only_forest(&engine, "serve on a warm plate");
    drop(engine);
    let (_engine, rec) = with_sentences(tmp.path(), &lib);
    assert!(!rec.rebuilt && rec.added == 0, "{rec:?}");
}

#[test]
fn an_unfinished_video_whose_file_disappeared_is_marked_failed() {
    let (_tmp, videos, _, engine) = setup();
    let r = import_cancelled_at(
        &engine,
        &[videos.join("kitchen.mp4")],
        |e| matches!(e, ProgressEvent::Progress(p) if p.done > 0),
    );
    assert!(r.cancelled && r.imported.is_empty(), "{r:?}");
    assert_eq!(engine.list().expect("list")[0].status, "importing");
    std::fs::remove_file(videos.join("kitchen.mp4")).expect("rm");
    let r = import(&engine, &[]);
    assert!(r.imported.is_empty());
    let v = &engine.list().expect("list")[0];
    assert_eq!(v.status, "failed", "{v:?}");
    assert!(
        v.error.as_deref().is_some_and(|e| e.contains("missing")),
        "{v:?}"
    );
}
