//! Checkpoints of a fine-tuning run, so that a crash or a cancel loses at most a few steps and
//! a resumed run continues exactly where it stopped (same batches, same random draws, same
//! optimizer moments).
//!
//! On disk, in `<out_dir>/checkpoint/`:
//! - `step-<N>.safetensors`: the trained variables (`w.<name>`), Adam's moments (`m.<name>`,
//!   `v.<name>`) and the best epoch's weights so far (`best.<name>`);
//! - `checkpoint.json` ([`State`]): where the run stands, naming its tensor file.
//!
//! Both are written atomically, the tensors first; an older tensor file is deleted only after
//! the new `checkpoint.json` is in place. So a kill at any moment leaves a complete checkpoint
//! (the new one or the previous one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::train::{EpochReport, RecallMetrics};
use crate::store::{EngineError, Result};

/// The folder inside a fine-tune's output folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
const STATE_FILE: &str = "checkpoint.json";
const FORMAT: u32 = 1;

/// Where a run stands after its last completed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// The model the run started from (`family/version`).
    pub base_version: String,
    /// The options and the training data the run was started with; a resume must match.
    pub options: String,
    pub data: String,
    /// Steps done in all.
    pub step: usize,
    /// The epoch under way (from 1) and the next batch of it.
    pub epoch: usize,
    pub batch_in_epoch: usize,
    /// The epoch's batches (video indices); empty before they are drawn.
    pub batches: Vec<Vec<usize>>,
    /// This epoch's losses so far.
    pub losses: Vec<f64>,
    /// The random generator's state and Adam's step count.
    pub rng: u64,
    pub adam_t: u64,
    pub pairs: u64,
    pub before: RecallMetrics,
    pub epochs: Vec<EpochReport>,
    /// The best epoch so far and its metrics (its weights are `best.*`).
    pub best: Option<(usize, RecallMetrics)>,
    pub tensors: String,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid(format!("fine-tune checkpoint {}: {e}", path.display()))
}

/// The checkpoint folder of `out_dir`.
pub fn dir_of(out_dir: &Path) -> PathBuf {
    out_dir.join(CHECKPOINT_DIR)
}

/// Whether `out_dir` holds an unfinished run.
pub fn exists(out_dir: &Path) -> bool {
    dir_of(out_dir).join(STATE_FILE).is_file()
}

/// Writes a checkpoint: `tensors` (already prefixed `w.`, `m.`, `v.`, `best.`) and `state`.
pub fn save(out_dir: &Path, mut state: State, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let dir = dir_of(out_dir);
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let name = format!("step-{}.safetensors", state.step);
    let path = dir.join(&name);
    let tmp = vclip_index::atomic::temp_path_for(&path)?;
    candle_core::safetensors::save(tensors, &tmp).map_err(|e| io_err(&path, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(&path, e))?;
    vclip_index::atomic::commit_temp(&tmp, &path)?;
    state.tensors = name.clone();
    state.format = FORMAT;
    let json = serde_json::to_vec_pretty(&state).map_err(|e| io_err(&path, e))?;
    let state_path = dir.join(STATE_FILE);
    vclip_index::atomic::write_atomically(&state_path, |w| std::io::Write::write_all(w, &json))?;
    // The previous tensor files are no longer referenced.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("step-") && n.ends_with(".safetensors") && n != name {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Reads the checkpoint of `out_dir`.
pub fn load(out_dir: &Path) -> Result<(State, HashMap<String, Tensor>)> {
    let dir = dir_of(out_dir);
    let state_path = dir.join(STATE_FILE);
    let bytes = std::fs::read(&state_path).map_err(|e| io_err(&state_path, e))?;
    let state: State = serde_json::from_slice(&bytes).map_err(|e| io_err(&state_path, e))?;
    if state.format != FORMAT {
        return Err(io_err(
            &state_path,
            format!(
                "format {} is not supported (expected {FORMAT})",
                state.format
            ),
        ));
    }
    if state.tensors.contains('/') || state.tensors.contains('\\') {
        return Err(io_err(
            &state_path,
            "names a tensor file outside its folder",
        ));
    }
    let path = dir.join(&state.tensors);
    let tensors =
        candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| io_err(&path, e))?;
    Ok((state, tensors))
}

/// Deletes the checkpoint of a finished run.
pub fn remove(out_dir: &Path) -> Result<()> {
    let dir = dir_of(out_dir);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&dir, e)),
    }
}
