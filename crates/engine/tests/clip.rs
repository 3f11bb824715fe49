//! The CLIP family through the engine (issue #7): import at one frame per second, search, steps,
//! and switching between families, on generated videos with tiny **random-weight** models (named
//! as such: they prove the plumbing exactly, not model quality).
#![cfg(feature = "media")]

#[path = "common/contrast_clip.rs"]
mod contrast_clip;
#[path = "common/setup.rs"]
mod setup;

use std::path::Path;

use vclip_engine::encode::EncodeOptions;
use vclip_engine::search::{SearchOptions, Signal};
use vclip_engine::{model_version_of, CancelToken, Engine, ImportOptions, NoProgress, StepOptions};
use vclip_index::read_features;
use vclip_media::{decode_per_second, SampleOptions};
use vclip_model::{Device, Model, Tensor};
use vclip_testkit::lavfi_with;

use setup::{import, load, tiny_clip, tiny_videoclip, two_videos, vector_file};

fn clip_model(dir: &Path) -> Model {
    load(&tiny_clip(dir, "clip", 5))
}

fn videoclip_model(dir: &Path) -> Model {
    load(&tiny_videoclip(dir, "videoclip", 7))
}

/// The image tower's embedding of each frame the per-second sampler gives for `path` with
/// `sample`, computed here independently of the import.
fn tower_on_sampled(
    clip: &vclip_model::ClipModel,
    path: &Path,
    sample: SampleOptions,
) -> Vec<Vec<f32>> {
    let frames: Vec<_> = decode_per_second(path, sample)
        .expect("sampler")
        .collect::<Result<_, _>>()
        .expect("frames");
    let size = clip.image_size();
    let data: Vec<u8> = frames.iter().flat_map(|f| f.rgb.clone()).collect();
    let t = Tensor::from_vec(data, (frames.len(), size, size, 3), &Device::Cpu).expect("t");
    clip.embed_rgb(&t)
        .and_then(|e| Ok(e.to_vec2::<f32>()?))
        .expect("embed")
}

fn rows(f: &vclip_index::Features) -> Vec<Vec<f32>> {
    (0..f.rows).map(|r| f.row(r).to_vec()).collect()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn clip_import_stores_frame_embeddings_mean_windows_and_searches_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = two_videos(tmp.path());
    let lib = tmp.path().join("library");
    let (engine, _) = Engine::open(&lib, Some(clip_model(tmp.path()))).expect("open");
    let report = import(&engine, &paths);
    assert_eq!(report.imported.len(), 2, "{report:?}");
    assert_eq!(report.video_s, 16.0, "one feature per second");

    let model = engine.model().expect("model");
    let clip = model.as_clip().expect("a CLIP model");
    let version = model_version_of(model).expect("version");
    assert!(version.family().starts_with("clip-vit-b32-"), "{version:?}");
    let path_in = |kind: &str, hash: &str| vector_file(&lib, &version, kind, hash);

    let mut stored_windows: Vec<(String, Vec<f32>)> = Vec::new();
    for path in &paths {
        let v = engine.find(&path.to_string_lossy()).expect("find");
        // Features: the image tower on each second's frame (the import's sampling: a keyframe
        // inside the second, else the frame at k + 0.5 s), computed here independently.
        let want = tower_on_sampled(clip, path, EncodeOptions::default().clip_sampling(clip));
        let features = read_features(&path_in("features", &v.hash)).expect("features");
        assert_eq!(features.rows, want.len(), "{}", path.display());
        assert_eq!(features.cols, clip.embedding_dim());
        let got = rows(&features);
        for (s, (g, w)) in got.iter().zip(&want).enumerate() {
            // f16 storage: 1e-3 on unit vectors.
            assert!(close(g, w, 2e-3), "second {s}: {g:?} vs {w:?}");
        }
        // Per-second states are the frame embeddings themselves.
        let tokens = read_features(&path_in("tokens", &v.hash)).expect("tokens");
        assert_eq!(rows(&tokens), got);
        // Windows: meanP over 32 s windows every 16 s (one window for these short videos).
        let windows = read_features(&path_in("windows", &v.hash)).expect("windows");
        assert_eq!(windows.rows, 1);
        let n = got.len() as f32;
        let mean: Vec<f32> = (0..features.cols)
            .map(|j| got.iter().map(|r| r[j]).sum::<f32>() / n)
            .collect();
        let norm = dot(&mean, &mean).sqrt();
        let mean: Vec<f32> = mean.iter().map(|x| x / norm).collect();
        assert!(close(windows.row(0), &mean, 2e-3), "window is the mean");
        stored_windows.push((v.path.clone(), windows.row(0).to_vec()));
    }

    // A typed query that no subtitle or file name contains: the visual signal alone, through
    // CLIP's text tower. The first hit is the video whose window has the highest dot product
    // with the query's embedding (brute force over the stored vectors).
    let query = "a xylophone concert at dawn";
    let q = model
        .embed_texts(&[query])
        .and_then(|t| Ok(t.to_vec2::<f32>()?))
        .expect("query")
        .remove(0);
    let best = stored_windows
        .iter()
        .max_by(|a, b| dot(&a.1, &q).total_cmp(&dot(&b.1, &q)))
        .expect("best");
    let hits = engine
        .search(query, &SearchOptions::default())
        .expect("search");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].path, best.0, "{hits:?}");
    assert_eq!(hits[0].signals, vec![Signal::Visual]);

    // Steps score the per-second embeddings: every step is placed, in order, inside the video.
    let steps: Vec<String> = ["open the box", "lift the lid", "close it"]
        .map(String::from)
        .to_vec();
    let placed = engine
        .steps(&paths[0].to_string_lossy(), &steps, StepOptions::default())
        .expect("steps");
    assert_eq!(placed.seconds, 10);
    assert_eq!(placed.steps.len(), 3);
    assert!(placed.steps.windows(2).all(|w| w[0].start_s < w[1].start_s));
    assert!(placed.steps.iter().all(|s| s.end_s <= 10.0));
}

/// The features of `path` as stored by an import with `keyframe_tolerance_ms`, and as the image
/// tower computes them here on the sampler's frames with the same tolerance, with a tiny random
/// CLIP that tells frames apart.
fn keyframe_import(dir: &Path, path: &Path, tolerance_ms: u32) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let lib = dir.join(format!("library-{tolerance_ms}"));
    let model_dir = dir.join("clip");
    if !model_dir.exists() {
        contrast_clip::contrast_clip(dir);
    }
    let (engine, _) = Engine::open(&lib, Some(load(&model_dir))).expect("open");
    let opts = ImportOptions {
        encode: EncodeOptions {
            keyframe_tolerance_ms: tolerance_ms,
            ..Default::default()
        },
    };
    let report = engine
        .import(&[path.to_owned()], opts, &NoProgress, &CancelToken::new())
        .expect("import");
    assert_eq!(report.imported.len(), 1, "{report:?}");
    let model = engine.model().expect("model");
    let clip = model.as_clip().expect("a CLIP model");
    let version = model_version_of(model).expect("version");
    let hash = &engine.find(&path.to_string_lossy()).expect("find").hash;
    let stored = vector_file(&lib, &version, "features", hash);
    let sample = SampleOptions {
        size: clip.image_size() as u32,
        keyframe_tolerance_ms: tolerance_ms,
        ..SampleOptions::default()
    };
    let want = tower_on_sampled(clip, path, sample);
    (rows(&read_features(&stored).expect("features")), want)
}

#[test]
fn a_keyframe_import_embeds_the_keyframe_inside_each_second() {
    // A keyframe every 25 frames (1 s at 25 fps), on moving content: with the tolerance each
    // second is represented by its keyframe, not by the frame at k + 0.5 s.
    let tmp = tempfile::tempdir().expect("tempdir");
    let gop = ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"];
    let source = "testsrc2=size=192x108:rate=25";
    let path = lavfi_with(tmp.path(), "gop25.mp4", source, 6.0, &gop);
    let (exact, exact_want) = keyframe_import(tmp.path(), &path, 0);
    let (keyframes, keyframes_want) = keyframe_import(tmp.path(), &path, 500);
    assert_eq!(keyframes.len(), 6);
    for (s, (g, w)) in keyframes.iter().zip(&keyframes_want).enumerate() {
        assert!(close(g, w, 2e-3), "second {s}: {g:?} vs {w:?}");
    }
    for (s, (g, w)) in exact.iter().zip(&exact_want).enumerate() {
        assert!(close(g, w, 2e-3), "second {s}: {g:?} vs {w:?}");
    }
    // The option reached the sampler: the keyframes are other frames than the middles.
    let differ = exact
        .iter()
        .zip(&keyframes)
        .filter(|(e, k)| !close(e, k, 1e-2))
        .count();
    assert!(differ >= 3, "only {differ} of 6 seconds changed");
}

#[test]
fn switching_family_decodes_only_videos_without_that_familys_features() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = two_videos(tmp.path());
    let lib = tmp.path().join("library");
    let reopen = |model: Model| Engine::open(&lib, Some(model)).expect("open").0;
    let ensure = |engine: &Engine| {
        engine
            .ensure_embedded(&NoProgress, &CancelToken::new())
            .expect("ensure")
    };

    let engine = reopen(videoclip_model(tmp.path()));
    assert_eq!(import(&engine, &paths).imported.len(), 2);
    let videoclip_key = engine.model_key().map(str::to_owned);
    drop(engine);

    // VideoCLIP -> CLIP: no CLIP features yet, so both videos are decoded at 1 frame/s.
    let engine = reopen(clip_model(tmp.path()));
    let r = ensure(&engine).expect("gaps");
    assert_eq!((r.decoded, r.reembedded), (2, 0), "{r:?}");
    assert!(r.need_import.is_empty() && r.failed.is_empty(), "{r:?}");
    assert_eq!(engine.vector_count(), 2);
    assert!(engine.embedding_gaps().expect("gaps").is_empty());
    let clip_version = model_version_of(engine.model().expect("model")).expect("version");
    let hits = engine
        .search("anything at all", &SearchOptions::default())
        .expect("search");
    assert_eq!(hits.len(), 2);
    drop(engine);

    // Back to VideoCLIP: its windows are still there, nothing to do.
    let engine = reopen(videoclip_model(tmp.path()));
    assert_eq!(engine.model_key().map(str::to_owned), videoclip_key);
    assert!(ensure(&engine).is_none());
    assert_eq!(engine.vector_count(), 2);
    drop(engine);

    // A CLIP window file lost: re-embedded from the cached CLIP features, never decoded.
    let v_hash = {
        let engine = reopen(clip_model(tmp.path()));
        let hash = engine.find(&paths[1].to_string_lossy()).expect("find").hash;
        drop(engine);
        hash
    };
    let windows = vector_file(&lib, &clip_version, "windows", &v_hash);
    std::fs::remove_file(&windows).expect("remove window file");
    let engine = reopen(clip_model(tmp.path()));
    let r = ensure(&engine).expect("gap");
    assert_eq!((r.decoded, r.reembedded), (0, 2), "{r:?}");
    assert!(windows.exists());
}
