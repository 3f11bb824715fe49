//! Fine-tuning on the user's own library (issue #8), the paper's recipe (`docs/model-notes.md` §4):
//! training text from subtitle cues with rolling captions merged ([`captions`]), and the
//! overlapped video–text pair sampler ([`sampler`]). Deterministic under a seed ([`rng`]).
//! Either family: VideoCLIP's towers, or the CLIP family's temporal tower (`towers`).

pub mod adam;
pub mod bench;
pub mod captions;
pub mod checkpoint;
pub mod retrieval;
pub mod rng;
pub mod sampler;
mod towers;
pub mod train;

pub use towers::{default_tau, CLIP_TAU, VIDEOCLIP_TAU};
pub use train::{
    Batching, EpochReport, FinetuneOptions, FinetunePlan, FinetuneReport, RecallMetrics,
};

use std::path::{Path, PathBuf};

/// The folder name of `base` (`model` when it has none).
fn base_name(base: &Path) -> String {
    base.file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned())
}

/// Where a new fine-tune of the model folder `base` goes: `<name>-ft-<unix seconds>` beside it
/// (`-2`, `-3`… added when taken). The one naming rule of both faces.
pub fn output_dir(base: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = base_name(base);
    let mut out = base.with_file_name(format!("{name}-ft-{secs}"));
    let mut n = 2;
    while out.exists() {
        out = base.with_file_name(format!("{name}-ft-{secs}-{n}"));
        n += 1;
    }
    out
}

/// The most recently checkpointed unfinished fine-tune of `base` beside it (a folder named as
/// [`output_dir`] names them), to resume; `None` when there is none.
pub fn unfinished_beside(base: &Path) -> std::io::Result<Option<PathBuf>> {
    let prefix = format!("{}-ft-", base_name(base));
    let parent = base.parent().unwrap_or(Path::new("."));
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(parent)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .filter(|p| checkpoint::exists(p))
        .map(|p| {
            let t = std::fs::metadata(checkpoint::dir_of(&p))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    found.sort();
    Ok(found.pop().map(|(_, p)| p))
}
