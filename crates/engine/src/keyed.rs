//! Vector indexes derived from per-video row files, kept equal to the catalogue.
//!
//! Both the window index (keys = `windows.id`) and the subtitle sentence index (keys =
//! `cues.id`) follow one pattern: a video's vectors live in one `.f16` file whose rows are the
//! video's keys in catalogue order, and the HNSW index is a cache of those files. Keys are never
//! reused (`AUTOINCREMENT`), so an index entry can be stale but never wrong; [`reconcile`] makes
//! a loaded index hold exactly the catalogue's keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vclip_index::{read_features, VectorIndex};

use crate::store::{Reconciled, Result};

/// A key the catalogue expects in an index, with its video.
#[derive(Debug, Clone)]
pub(crate) struct Keyed {
    pub key: i64,
    pub video_id: i64,
    pub hash: String,
}

/// Where the rows of a video are: all its keys in row order, and its row file.
pub(crate) trait RowFiles {
    fn keys_of(&self, video_id: i64) -> Result<Vec<i64>>;
    fn path_of(&self, hash: &str) -> Result<PathBuf>;
}

/// Loads the index saved at `path` (if readable and of the right size) and brings it to exactly
/// `expected`: missing keys are added from the row files; an index with keys the catalogue no
/// longer has (a crash during a removal) is rebuilt.
pub(crate) fn reconcile(
    path: &Path,
    dims: usize,
    expected: &[Keyed],
    files: &dyn RowFiles,
    report: &mut Reconciled,
) -> Result<VectorIndex> {
    let loaded = match VectorIndex::load(path) {
        Ok(ix) if ix.dims() == dims => Some(ix),
        _ => None,
    };
    match loaded {
        Some(mut ix) => {
            let missing: Vec<Keyed> = expected
                .iter()
                .filter(|k| !ix.contains(k.key as u64))
                .cloned()
                .collect();
            if ix.len() + missing.len() == expected.len() {
                report.added += fill(&mut ix, &missing, files, report)?;
                return Ok(ix);
            }
            report.rebuilt = true;
        }
        None => report.rebuilt |= !expected.is_empty() || path.exists(),
    }
    build(dims, expected, files, report)
}

/// A fresh index of `items`.
pub(crate) fn build(
    dims: usize,
    items: &[Keyed],
    files: &dyn RowFiles,
    report: &mut Reconciled,
) -> Result<VectorIndex> {
    let mut ix = VectorIndex::new(dims)?;
    fill(&mut ix, items, files, report)?;
    Ok(ix)
}

/// Adds `items` to `ix` from their row files; returns how many were added. Videos whose file is
/// missing or does not match the catalogue are listed in `report.unreadable`.
pub(crate) fn fill(
    ix: &mut VectorIndex,
    items: &[Keyed],
    files: &dyn RowFiles,
    report: &mut Reconciled,
) -> Result<usize> {
    let mut by_video: HashMap<(i64, &str), Vec<i64>> = HashMap::new();
    for k in items {
        by_video
            .entry((k.video_id, k.hash.as_str()))
            .or_default()
            .push(k.key);
    }
    let mut added = 0;
    for ((video_id, hash), wanted) in by_video {
        let all = files.keys_of(video_id)?;
        let rows = match read_features(&files.path_of(hash)?) {
            Ok(v) if v.rows == all.len() => v,
            _ => {
                report.unreadable.push(hash.to_owned());
                continue;
            }
        };
        for key in wanted {
            if let Some(row) = all.iter().position(|a| *a == key) {
                ix.add(key as u64, rows.row(row))?;
                added += 1;
            }
        }
    }
    Ok(added)
}
