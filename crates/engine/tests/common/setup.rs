//! What most of the engine's tests start from (`#[path]` module): tiny **random-weight** models
//! (they prove the plumbing, not model quality), made once per folder, and a plain import.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vclip_engine::{CancelToken, Engine, ImportOptions, ImportReport, NoProgress};
use vclip_index::ModelVersion;
use vclip_model::{init_random, init_random_clip, Device, Model, Preset};

/// A tiny random VideoCLIP of `seed` in `dir/name`, made unless it is there already.
pub fn tiny_videoclip(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let m = dir.join(name);
    if !m.join("config.json").exists() {
        init_random(Preset::Tiny, seed, &m, None).expect("init tiny videoclip");
    }
    m
}

/// A tiny random CLIP of `seed` in `dir/name`, made unless it is there already.
pub fn tiny_clip(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let m = dir.join(name);
    if !m.join("config.json").exists() {
        init_random_clip(Preset::Tiny, seed, &m, None).expect("init tiny clip");
    }
    m
}

/// Where a library keeps a video's vectors of `kind`, from the on-disk layout (not asked of
/// the engine): `features` per feature family, `windows` and `tokens` per model version.
pub fn vector_file(lib: &Path, version: &ModelVersion, kind: &str, hash: &str) -> PathBuf {
    let family = lib.join("families").join(version.family());
    let dir = match kind {
        "features" => family.join(kind),
        _ => family.join("models").join(version.version()).join(kind),
    };
    dir.join(&hash[..2]).join(format!("{hash}.f16"))
}

/// The model in `dir`, on the CPU.
pub fn load(dir: &Path) -> Model {
    Model::load(dir, &Device::Cpu).expect("load model")
}

/// The library at `lib` opened with the model in `model_dir`.
pub fn open(lib: &Path, model_dir: &Path) -> Engine {
    Engine::open(lib, Some(load(model_dir))).expect("open").0
}

/// `dir/base` (tiny VideoCLIP, seed 7) and `dir/other`: the same S3D-G (same feature family,
/// cached features reused) with another seed's towers (a new model version).
pub fn two_versions(dir: &Path) -> (PathBuf, PathBuf) {
    let base = tiny_videoclip(dir, "base", 7);
    let other = other_towers(&base, &dir.join("other"));
    (base, other)
}

/// `other`: a copy of the VideoCLIP in `base` whose towers are another seed's (8), with
/// `base`'s S3D-G.
pub fn other_towers(base: &Path, other: &Path) -> PathBuf {
    init_random(Preset::Tiny, 8, other, None).expect("init");
    std::fs::copy(base.join("s3d.safetensors"), other.join("s3d.safetensors")).expect("copy");
    let read = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("read"))
            .expect("json")
    };
    let mut config = read(base);
    config["towers_id"] = read(other)["towers_id"].clone();
    std::fs::write(other.join("config.json"), config.to_string()).expect("write");
    other.to_owned()
}

/// `dir/videos/pattern.mp4` (10 s of `testsrc2`, 192×108) and `dir/videos/fractal.mp4` (6 s
/// of `mandelbrot`, 160×120), both at 25 fps.
pub fn two_videos(dir: &Path) -> Vec<PathBuf> {
    let v = dir.join("videos");
    vec![
        vclip_testkit::lavfi(&v, "pattern.mp4", "testsrc2=size=192x108:rate=25", 10),
        vclip_testkit::lavfi(&v, "fractal.mp4", "mandelbrot=size=160x120:rate=25", 6),
    ]
}

/// Imports `paths` with the default options, no progress, no cancel.
pub fn import(engine: &Engine, paths: &[PathBuf]) -> ImportReport {
    engine
        .import(
            paths,
            ImportOptions::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .expect("import")
}
