//! `vclip bench rescan`: how long a watched-folder rescan of a large, unchanged library takes
//! (`vclip_engine::watch`: a `stat` per file, no hashing, no decoding), against walking the same
//! folders alone (the least any rescan must do) in the same run. The library is generated: `n`
//! empty `.mp4` files in folders of 1,000, and a catalogue row for each with the file's size
//! and modification time, marked ready.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;
use vclip_engine::progress::{CancelToken, NoProgress};
use vclip_engine::watch::WatchOptions;
use vclip_engine::Engine;
use vclip_index::{NewVideo, Status};

#[derive(Debug, Clone, Serialize)]
pub struct RescanBench {
    pub files: usize,
    /// Seconds to write the files and the catalogue rows (not timed against anything).
    pub setup_s: f64,
    /// Median seconds to walk the folders (the baseline).
    pub walk_s: f64,
    /// Median seconds of a rescan.
    pub rescan_s: f64,
    /// `rescan_s / walk_s`.
    pub ratio: f64,
    /// Files the rescan found unchanged (must be all of them).
    pub unchanged: usize,
    pub runs: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// [`run`] in a temporary folder, removed afterwards.
pub fn run_in_temp(files: usize, runs: usize) -> anyhow::Result<RescanBench> {
    let tmp = tempfile::tempdir()?;
    run(tmp.path(), files, runs)
}

/// Builds the library in `dir` and times `runs` walks and rescans.
pub fn run(dir: &Path, files: usize, runs: usize) -> anyhow::Result<RescanBench> {
    let runs = runs.max(1);
    let started = Instant::now();
    let videos = dir.join("videos");
    let (engine, _) = Engine::open(&dir.join("library"), None)?;
    for i in 0..files {
        let folder = videos.join(format!("{:04}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("creating {}", folder.display()))?;
        }
        let path = folder.join(format!("clip {i:06}.mp4"));
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    let videos = std::fs::canonicalize(&videos)?;
    let (found, _) = vclip_engine::discover::discover(std::slice::from_ref(&videos));
    anyhow::ensure!(
        found.len() == files,
        "{} files found of {files}",
        found.len()
    );
    engine.with_catalogue(|c| -> anyhow::Result<()> {
        for (i, path) in found.iter().enumerate() {
            let meta = std::fs::metadata(path)?;
            let mtime = meta
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            let v = c.upsert_video(&NewVideo {
                hash: format!("{i:064x}"),
                path: path.to_string_lossy().into_owned(),
                folder: path
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                title: None,
                size: meta.len(),
                mtime,
            })?;
            c.set_status(v.id, Status::Ready, None)?;
        }
        Ok(())
    })?;
    let setup_s = started.elapsed().as_secs_f64();
    let mut walks = Vec::new();
    let mut rescans = Vec::new();
    let mut unchanged = 0;
    let opts = WatchOptions::default();
    for _ in 0..runs {
        let t = Instant::now();
        let (found, _) = vclip_engine::discover::discover(std::slice::from_ref(&videos));
        walks.push(t.elapsed().as_secs_f64());
        std::hint::black_box(found);
        let t = Instant::now();
        let r = engine.rescan(
            std::slice::from_ref(&videos),
            &opts,
            &NoProgress,
            &CancelToken::new(),
        )?;
        rescans.push(t.elapsed().as_secs_f64());
        unchanged = r.unchanged;
        anyhow::ensure!(
            !r.changed() && r.failed.is_empty(),
            "the rescan of an unchanged library changed it: {r:?}"
        );
    }
    let (walk_s, rescan_s) = (median(walks), median(rescans));
    Ok(RescanBench {
        files,
        setup_s,
        walk_s,
        rescan_s,
        ratio: rescan_s / walk_s.max(1e-9),
        unchanged,
        runs,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_unchanged_library_rescans_without_changes() {
        let dir = tempfile::tempdir().unwrap();
        let r = super::run(dir.path(), 2500, 1).unwrap();
        assert_eq!(r.unchanged, 2500);
        assert!(r.rescan_s > 0.0 && r.walk_s > 0.0);
    }
}
