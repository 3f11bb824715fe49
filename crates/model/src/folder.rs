//! The one writer of model folders, for every family: VideoCLIP (`videoclip::model_dir`), CLIP
//! and its fine-tuned temporal tower (`clip`, `clip::temporal`) and the sentence encoder
//! (`text::minilm`).
//!
//! A folder is complete once it has its `config.json`, so the config is written last
//! ([`FolderWriter::finish`]); every file goes to a temporary name in the folder first, is
//! flushed to disk and renamed over its place, so a reader (or a crash) never meets half a
//! weights file under its real name.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::Tensor;

use crate::error::{Error, Result};

/// Writes the files of one model folder; see the module docs.
#[derive(Debug)]
pub(crate) struct FolderWriter {
    dir: PathBuf,
}

impl FolderWriter {
    /// Creates `dir` (and its parents) if needed.
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// `dir/name` written through a temporary file, synced, then renamed into place.
    fn put(&self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".tmp-{}-{name}", std::process::id()));
        let written = write(&tmp).and_then(|()| {
            let file = std::fs::File::open(&tmp).map_err(|e| Error::io(&tmp, e))?;
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// `name` as safetensors.
    pub(crate) fn weights(&self, name: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let path = self.dir.join(name);
        self.put(name, |tmp| {
            candle_core::safetensors::save(tensors, tmp).map_err(|e| Error::Weights {
                path: path.clone(),
                reason: e.to_string(),
            })
        })
    }

    /// `name` with `text` (vocabularies, tokenizers).
    pub(crate) fn text(&self, name: &str, text: &str) -> Result<()> {
        self.put(name, |tmp| {
            let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
            f.write_all(text.as_bytes()).map_err(|e| Error::io(tmp, e))
        })
    }

    /// `name`, a copy of the file `from` (what a derived model shares with its base).
    pub(crate) fn copy(&self, from: &Path, name: &str) -> Result<()> {
        self.put(name, |tmp| {
            std::fs::copy(from, tmp)
                .map(|_| ())
                .map_err(|e| Error::io(from, e))
        })
    }

    /// `config.json` last, as `to_json` gives it: the folder is complete from here on.
    pub(crate) fn finish(self, config_name: &str, json: &str) -> Result<()> {
        let mut text = json.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.text(config_name, &text)
    }
}

/// `value` as the pretty JSON of a `config.json`; `path` names the file in errors.
pub(crate) fn config_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::config(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn files_land_whole_and_the_config_last() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let out = dir.path().join("a/b");
        let w = FolderWriter::create(&out)?;
        let t = Tensor::new(&[1f32, 2.0, 3.0], &Device::Cpu)?;
        w.weights("w.safetensors", &HashMap::from([("x".to_owned(), t)]))?;
        w.text("vocab.txt", "[PAD]\n")?;
        w.copy(&out.join("vocab.txt"), "copy.txt")?;
        assert!(
            !out.join("config.json").exists(),
            "not complete before finish"
        );
        w.finish("config.json", "{}")?;
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .map_err(|e| Error::io(&out, e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["config.json", "copy.txt", "vocab.txt", "w.safetensors"]
        );
        assert_eq!(
            std::fs::read_to_string(out.join("config.json")).map_err(|e| Error::io("c", e))?,
            "{}\n"
        );
        let back = candle_core::safetensors::load(out.join("w.safetensors"), &Device::Cpu)?;
        assert_eq!(back["x"].to_vec1::<f32>()?, [1.0, 2.0, 3.0]);
        Ok(())
    }
}
