//! Model versions of a library (issue #8): the model directories this library has been used
//! with (a base model, the models fine-tuned from it), which one is active, and the one that
//! was active before it, so that one action rolls back.
//!
//! # `models.json`
//! In the library folder, written atomically ([`vclip_index::atomic::write_atomically`]):
//!
//! ```json
//! {"format": 1, "active": "videoclip-…/…", "previous": "videoclip-…/…" | null,
//!  "versions": [{"version": "videoclip-<backbone>/<towers>", "dir": "/abs/model/folder",
//!                "parent": "videoclip-…/…" | null, "created_unix": 1700000000,
//!                "description": "…", "random_weights": false,
//!                "finetune": null | {"before": {"r1", "r5", "r10", "median_rank"}, "after": {…},
//!                             "best_epoch", "epochs", "videos", "heldout_queries"}}]}
//! ```
//!
//! `version` is [`crate::model_version`]`(config).key()`: the folder under
//! `families/<family>/models/<version>/` where the library keeps that version's windows, so a
//! version the library was already embedded with is switched to without re-embedding. A file
//! that cannot be read as this shape (or names an active version it does not list) is an
//! [`EngineError::Registry`] naming it, and is never overwritten: nothing is lost until the
//! user repairs or removes it. A missing file is an empty registry.
//!
//! Which model a face opens: `--model DIR` / `$VCLIP_MODEL` (explicit) win, then the active
//! version's folder ([`active`]), then `videoclip` in the models folder. Writers hold the
//! library open (its lock), which serialises them between processes; a mutex serialises them
//! within one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::finetune::{FinetuneReport, RecallMetrics};
use crate::store::{dir_model, Engine, EngineError, Result};

/// The registry's file name, in the library folder.
pub const REGISTRY_FILE: &str = "models.json";
/// The format this code writes and reads.
pub const FORMAT: u32 = 1;

/// `models.json`: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Registry {
    pub format: u32,
    /// The version the library opens with (unless `--model` / `$VCLIP_MODEL` say otherwise).
    pub active: Option<String>,
    /// The version active before it: what [`rollback_target`] goes back to.
    pub previous: Option<String>,
    pub versions: Vec<VersionEntry>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            format: FORMAT,
            active: None,
            previous: None,
            versions: Vec::new(),
        }
    }
}

/// One model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionEntry {
    /// `family/version` ([`crate::model_version`]).
    pub version: String,
    /// The model folder (absolute).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub dir: PathBuf,
    /// The version it was fine-tuned from.
    pub parent: Option<String>,
    /// When it was registered (Unix seconds).
    pub created_unix: u64,
    /// `config.json`'s description.
    pub description: String,
    /// Its weights are random (a test model).
    #[serde(default)]
    pub random_weights: bool,
    /// How it was made, when it was fine-tuned here.
    #[serde(default)]
    pub finetune: Option<FinetuneMetrics>,
}

/// What a fine-tune achieved (held-out text→video recall on the library's own captions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FinetuneMetrics {
    pub before: RecallMetrics,
    pub after: RecallMetrics,
    pub best_epoch: usize,
    pub epochs: usize,
    pub videos: usize,
    pub heldout_queries: usize,
}

impl From<&FinetuneReport> for FinetuneMetrics {
    fn from(r: &FinetuneReport) -> Self {
        Self {
            before: r.before,
            after: r.after,
            best_epoch: r.best_epoch,
            epochs: r.epochs.len(),
            videos: r.videos,
            heldout_queries: r.heldout_queries,
        }
    }
}

/// A change of active version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Switched {
    /// The version active before (`None`: none was).
    pub from: Option<String>,
    pub to: VersionEntry,
}

/// Serialises read-modify-write cycles within this process.
static WRITING: Mutex<()> = Mutex::new(());

/// Where `library`'s registry is.
pub fn registry_path(library: &Path) -> PathBuf {
    library.join(REGISTRY_FILE)
}

fn damaged(path: &Path, reason: impl std::fmt::Display) -> EngineError {
    EngineError::Registry {
        path: path.to_owned(),
        reason: format!(
            "{reason} (the model versions of this library; repair or remove the file: \
             nothing rewrites it while it is damaged)"
        ),
    }
}

impl Registry {
    /// The entry of `version` (a `family/version` key).
    pub fn get(&self, version: &str) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The active version's entry.
    pub fn active_entry(&self) -> Option<&VersionEntry> {
        self.active.as_deref().and_then(|a| self.get(a))
    }

    /// The entry `what` names: a `family/version` key, the version part alone (the towers'
    /// fingerprint) or a unique prefix of it (4 characters at least), or a registered folder.
    pub fn find(&self, what: &str) -> Result<&VersionEntry> {
        let what = what.trim();
        if let Some(v) = self.get(what) {
            return Ok(v);
        }
        let tail = |v: &VersionEntry| v.version.rsplit('/').next().unwrap_or("").to_owned();
        if let Some(v) = self.versions.iter().find(|v| tail(v) == what) {
            return Ok(v);
        }
        let dir = std::fs::canonicalize(what).ok();
        if let Some(v) = self
            .versions
            .iter()
            .find(|v| dir.as_ref().is_some_and(|d| *d == v.dir))
        {
            return Ok(v);
        }
        if what.len() >= 4 {
            let hits: Vec<&VersionEntry> = self
                .versions
                .iter()
                .filter(|v| tail(v).starts_with(what) || v.version.starts_with(what))
                .collect();
            match hits.as_slice() {
                [one] => return Ok(one),
                [] => {}
                many => {
                    return Err(EngineError::Invalid(format!(
                        "{what:?} matches {} model versions ({}): give more of it",
                        many.len(),
                        many.iter()
                            .map(|v| v.version.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
        Err(EngineError::Invalid(format!(
            "no model version {what:?} in this library (`vclip models versions` lists them; \
             a model folder works too)"
        )))
    }

    /// The checks a file must pass to be trusted.
    fn validate(&self) -> std::result::Result<(), String> {
        if self.format > FORMAT {
            return Err(format!(
                "format {} was written by a newer VClip (this one reads format {FORMAT})",
                self.format
            ));
        }
        for (i, v) in self.versions.iter().enumerate() {
            if self.versions[..i].iter().any(|w| w.version == v.version) {
                return Err(format!("version {} is listed twice", v.version));
            }
        }
        for (what, key) in [("active", &self.active), ("previous", &self.previous)] {
            if let Some(k) = key {
                if self.get(k).is_none() {
                    return Err(format!("the {what} version {k} is not listed"));
                }
            }
        }
        Ok(())
    }

    /// Makes `version` (registered) the active one; the old one becomes `previous`.
    fn activate(&mut self, version: &str) -> Result<Switched> {
        let to = self
            .get(version)
            .cloned()
            .ok_or_else(|| EngineError::Invalid(format!("no model version {version}")))?;
        let from = self.active.clone();
        if from.as_deref() != Some(version) {
            self.previous = from.clone();
            self.active = Some(version.to_owned());
        }
        Ok(Switched { from, to })
    }
}

/// Reads `library`'s registry; a missing file is an empty one.
pub fn load(library: &Path) -> Result<Registry> {
    let path = registry_path(library);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
        Err(e) => return Err(damaged(&path, format!("cannot be read: {e}"))),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| damaged(&path, format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(damaged(&path, "not a JSON object"));
    }
    let registry: Registry = serde_json::from_value(value)
        .map_err(|e| damaged(&path, format!("not a model registry: {e}")))?;
    registry.validate().map_err(|e| damaged(&path, e))?;
    Ok(registry)
}

/// Writes `registry` as `library`'s `models.json` atomically.
pub fn save(library: &Path, registry: &Registry) -> Result<()> {
    let path = registry_path(library);
    let json = serde_json::to_vec_pretty(registry)
        .map_err(|e| EngineError::Invalid(format!("cannot encode the model versions: {e}")))?;
    vclip_index::atomic::write_atomically(&path, |w| {
        std::io::Write::write_all(w, &json)?;
        std::io::Write::write_all(w, b"\n")
    })?;
    Ok(())
}

/// Loads, changes and saves the registry, one change at a time in this process. Nothing is
/// written when `change` fails or the file is damaged.
fn update<T>(library: &Path, change: impl FnOnce(&mut Registry) -> Result<T>) -> Result<T> {
    let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut registry = load(library)?;
    let out = change(&mut registry)?;
    save(library, &registry)?;
    Ok(out)
}

/// The active version, if the library has one (for the faces' model resolution).
pub fn active(library: &Path) -> Result<Option<VersionEntry>> {
    Ok(load(library)?.active_entry().cloned())
}

/// The entry a model folder would have: its version key and description from `config.json`.
fn entry_for(model_dir: &Path, parent: Option<&str>) -> Result<VersionEntry> {
    let config = dir_model(model_dir)?;
    let dir = std::fs::canonicalize(model_dir)
        .map_err(|e| EngineError::Invalid(format!("{}: {e}", model_dir.display())))?;
    let created_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(VersionEntry {
        version: config.version.key(),
        dir,
        parent: parent.map(str::to_owned),
        created_unix,
        description: config.description,
        random_weights: config.random_weights,
        finetune: None,
    })
}

/// Adds the model in `model_dir` to `library`'s versions (its key from its `config.json`).
/// Registering a version again keeps its entry, but takes the new folder (the old one may be
/// gone), and the parent and metrics when given. The active version does not change.
pub fn register(
    library: &Path,
    model_dir: &Path,
    parent: Option<&str>,
    metrics: Option<FinetuneMetrics>,
) -> Result<VersionEntry> {
    let mut entry = entry_for(model_dir, parent)?;
    entry.finetune = metrics;
    update(library, |r| {
        if let Some(p) = parent {
            if r.get(p).is_none() {
                return Err(EngineError::Invalid(format!(
                    "the parent version {p} is not registered"
                )));
            }
        }
        Ok(upsert(r, entry))
    })
}

fn upsert(r: &mut Registry, entry: VersionEntry) -> VersionEntry {
    match r.versions.iter_mut().find(|v| v.version == entry.version) {
        Some(old) => {
            old.dir = entry.dir;
            old.description = entry.description;
            old.random_weights = entry.random_weights;
            if entry.parent.is_some() {
                old.parent = entry.parent;
            }
            if entry.finetune.is_some() {
                old.finetune = entry.finetune;
            }
            old.clone()
        }
        None => {
            r.versions.push(entry.clone());
            entry
        }
    }
}

/// Makes the registered version `what` names ([`Registry::find`]) the active one; the one
/// active before becomes `previous`. Switch only once the library has that version's windows
/// ([`Engine::ensure_embedded`]).
pub fn set_active(library: &Path, what: &str) -> Result<Switched> {
    update(library, |r| {
        let key = r.find(what)?.version.clone();
        r.activate(&key)
    })
}

/// Registers `model_dir` (if needed) and makes it active in one write.
pub fn register_and_activate(library: &Path, model_dir: &Path) -> Result<Switched> {
    let entry = entry_for(model_dir, None)?;
    update(library, |r| {
        let key = upsert(r, entry).version;
        r.activate(&key)
    })
}

/// After a fine-tune of `base_dir` into `new_dir`: both are registered (the base first, if it
/// is not; the new one with the base as its parent and the run's metrics), and the new one is
/// made active when `activate` (after the library was re-embedded with it).
pub fn record_finetune(
    library: &Path,
    base_dir: &Path,
    new_dir: &Path,
    metrics: Option<FinetuneMetrics>,
    activate: bool,
) -> Result<VersionEntry> {
    let base = entry_for(base_dir, None)?;
    let mut new = entry_for(new_dir, Some(&base.version))?;
    new.finetune = metrics;
    update(library, |r| {
        if r.get(&base.version).is_none() {
            r.versions.push(base);
        }
        let new = upsert(r, new);
        if activate {
            r.activate(&new.version)?;
        }
        Ok(new)
    })
}

/// What a rollback goes back to: the version active before the current one, else the current
/// one's parent.
pub fn rollback_target(library: &Path) -> Result<VersionEntry> {
    let r = load(library)?;
    let active = r.active.as_deref();
    let pick = r
        .previous
        .as_deref()
        .filter(|p| Some(*p) != active)
        .and_then(|p| r.get(p))
        .or_else(|| {
            r.active_entry()
                .and_then(|a| a.parent.as_deref())
                .and_then(|p| r.get(p))
        });
    pick.cloned().ok_or_else(|| {
        EngineError::Invalid(match active {
            Some(a) => format!("nothing to roll back to: {a} has no previous or parent version"),
            None => "nothing to roll back to: this library has no active model version".into(),
        })
    })
}

impl Engine {
    /// Ready videos (their paths) that lack the active model's windows: no window rows for its
    /// version in the catalogue, or a missing window-vector or token-state file.
    pub fn embedding_gaps(&self) -> Result<Vec<String>> {
        let active = self.active.as_ref().ok_or(EngineError::NoModel)?;
        let mut gaps = Vec::new();
        for v in self.videos_with_status(vclip_index::Status::Ready)? {
            let lib = self.library();
            let windows = lib.catalogue().windows_of(v.id, &active.key)?;
            let files_there = lib.window_vectors_path(&active.version, &v.hash)?.is_file()
                && lib.tokens_path(&active.version, &v.hash)?.is_file();
            if windows.is_empty() || !files_there {
                gaps.push(v.path.clone());
            }
        }
        Ok(gaps)
    }

    /// Makes sure every ready video has the active model's windows: when some lack them
    /// ([`Engine::embedding_gaps`]), re-embeds the library from the feature cache
    /// ([`Engine::reindex`], no decoding), then imports the videos that have no features of the
    /// active model's family yet (a switch to the other family): only those are decoded, with
    /// that family's frame sampling. `None` when nothing was missing.
    #[cfg(feature = "media")]
    pub fn ensure_embedded(
        &self,
        sink: &dyn crate::ProgressSink,
        cancel: &crate::CancelToken,
    ) -> Result<Option<crate::ReindexReport>> {
        if self.embedding_gaps()?.is_empty() {
            return Ok(None);
        }
        let mut report = self.reindex(sink, cancel)?;
        if report.cancelled {
            return Err(EngineError::Cancelled);
        }
        if !report.need_import.is_empty() {
            let paths: Vec<PathBuf> = report.need_import.iter().map(PathBuf::from).collect();
            let ready: Vec<i64> = self
                .videos_with_status(vclip_index::Status::Ready)?
                .into_iter()
                .filter(|v| report.need_import.contains(&v.path))
                .map(|v| v.id)
                .collect();
            let done = self.import_files(&paths, crate::ImportOptions::default(), sink, cancel)?;
            if done.cancelled {
                // The video the cancel stopped mid-decode was ready (with the windows of the
                // versions it had) and still is: it is not left `importing` for the next import
                // to decode again with whatever model is active then.
                for id in ready {
                    let lib = self.library();
                    let status = lib.catalogue().video(id)?.map(|v| v.status);
                    if matches!(
                        status,
                        Some(vclip_index::Status::Importing | vclip_index::Status::Queued)
                    ) {
                        lib.catalogue()
                            .set_status(id, vclip_index::Status::Ready, None)?;
                    }
                }
                return Err(EngineError::Cancelled);
            }
            report.decoded = done.imported.len();
            report.windows = self.vector_count();
            let imported: Vec<String> = done
                .imported
                .iter()
                .chain(&done.reembedded)
                .chain(&done.skipped)
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            report.need_import.retain(|p| !imported.contains(p));
            report.failed.extend(done.failed);
        }
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(dir: &Path, seed: u64) -> PathBuf {
        vclip_model::init_random(vclip_model::Preset::Tiny, seed, dir, None).expect("init");
        dir.to_owned()
    }

    fn metrics(r1: f64) -> FinetuneMetrics {
        let m = |r1| RecallMetrics {
            r1,
            r5: 1.0,
            r10: 1.0,
            median_rank: 1.0,
        };
        FinetuneMetrics {
            before: m(0.1),
            after: m(r1),
            best_epoch: 2,
            epochs: 2,
            videos: 3,
            heldout_queries: 3,
        }
    }

    #[test]
    fn a_missing_file_is_an_empty_registry() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(tmp.path()).expect("load"), Registry::default());
        assert!(active(tmp.path()).expect("active").is_none());
        assert!(rollback_target(tmp.path()).is_err());
    }

    #[test]
    fn finetune_registers_both_then_rollback_and_use_switch_back_and_forth() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = tmp.path().join("lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        let base = model(&tmp.path().join("base"), 1);
        let tuned = model(&tmp.path().join("tuned"), 2);
        let entry = record_finetune(&lib, &base, &tuned, Some(metrics(0.7)), true).expect("record");
        let r = load(&lib).expect("load");
        assert_eq!(r.versions.len(), 2);
        let base_key = r.versions[0].version.clone();
        assert_eq!(entry.parent.as_deref(), Some(base_key.as_str()));
        assert_eq!(r.active.as_deref(), Some(entry.version.as_str()));
        // The base was not active before (no registry): rollback goes to the parent.
        assert_eq!(r.previous, None);
        assert_eq!(rollback_target(&lib).expect("target").version, base_key);
        assert_eq!(
            active(&lib).expect("active").map(|e| e.dir),
            Some(std::fs::canonicalize(&tuned).expect("canonical"))
        );
        assert_eq!(
            r.get(&entry.version)
                .and_then(|e| e.finetune.as_ref())
                .map(|m| m.after.r1),
            Some(0.7)
        );

        let s = set_active(&lib, &base_key).expect("use base");
        assert_eq!(s.from.as_deref(), Some(entry.version.as_str()));
        assert_eq!(s.to.version, base_key);
        // Now the previous version is the fine-tuned one: rollback toggles.
        assert_eq!(
            rollback_target(&lib).expect("target").version,
            entry.version
        );
        // By towers id, by prefix, by folder.
        let towers = entry.version.rsplit('/').next().expect("towers");
        set_active(&lib, towers).expect("by towers id");
        set_active(&lib, &towers[..6]).expect("by prefix");
        assert_eq!(
            load(&lib).expect("load").active.as_deref(),
            Some(&*entry.version)
        );
        set_active(&lib, base.to_str().expect("utf-8")).expect("by folder");
        assert_eq!(
            load(&lib).expect("load").active.as_deref(),
            Some(&*base_key)
        );
        // Using the active one again changes nothing.
        let before = load(&lib).expect("load");
        set_active(&lib, &base_key).expect("again");
        assert_eq!(load(&lib).expect("load"), before);
        // Unknown versions are clear errors; nothing is written.
        let err = set_active(&lib, "nope-nope").expect_err("unknown");
        assert!(err.to_string().contains("no model version"), "{err}");
        assert_eq!(load(&lib).expect("load"), before);
        // No temporaries left beside it.
        let names: Vec<_> = std::fs::read_dir(&lib)
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [REGISTRY_FILE]);
    }

    #[test]
    fn registering_again_keeps_one_entry_with_the_new_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = tmp.path();
        let a = model(&tmp.path().join("a"), 1);
        let first = register(lib, &a, None, None).expect("register");
        let moved = tmp.path().join("moved");
        std::fs::rename(&a, &moved).expect("mv");
        let again = register(lib, &moved, None, Some(metrics(0.5))).expect("again");
        assert_eq!(first.version, again.version);
        let r = load(lib).expect("load");
        assert_eq!(r.versions.len(), 1);
        assert_eq!(
            r.versions[0].dir,
            std::fs::canonicalize(&moved).expect("canonical")
        );
        assert!(r.versions[0].finetune.is_some());
        assert_eq!(r.active, None, "registering does not activate");
        let err = register(lib, &moved, Some("videoclip-x/y"), None).expect_err("parent");
        assert!(err.to_string().contains("not registered"), "{err}");
        let err = register(lib, &tmp.path().join("nothing"), None, None).expect_err("no model");
        assert!(err.to_string().contains("is not a model folder"), "{err}");
        let s = register_and_activate(lib, &moved).expect("activate");
        assert_eq!((s.from, s.to.version), (None, first.version));
    }

    #[test]
    fn a_damaged_file_is_named_and_never_overwritten() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = tmp.path();
        let a = model(&tmp.path().join("a"), 1);
        let path = registry_path(lib);
        for (content, says) in [
            (&b"{\"format\": 1, \"versions\": [tru"[..], "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b"{\"format\": 1, \"versions\": 3}", "not a model registry"),
            (b"{\"format\": 9, \"versions\": []}", "newer VClip"),
            (
                b"{\"format\": 1, \"active\": \"videoclip/x\", \"versions\": []}",
                "not listed",
            ),
        ] {
            std::fs::write(&path, content).expect("write");
            let err = load(lib).expect_err("damaged");
            let text = err.to_string();
            assert!(text.contains(&*path.to_string_lossy()), "{text}");
            assert!(text.contains(says), "{says}: {text}");
            assert!(active(lib).is_err());
            assert!(register(lib, &a, None, None).is_err());
            assert!(set_active(lib, "x").is_err());
            assert_eq!(std::fs::read(&path).expect("read"), content, "untouched");
        }
        // Unknown fields (a later minor version) are fine.
        std::fs::write(&path, b"{\"format\": 1, \"versions\": [], \"extra\": true}")
            .expect("write");
        assert_eq!(load(lib).expect("load"), Registry::default());
    }

    #[test]
    fn ambiguous_prefixes_are_refused() {
        let mut r = Registry::default();
        for v in ["videoclip-a/abcd1111", "videoclip-a/abcd2222"] {
            r.versions.push(VersionEntry {
                version: v.into(),
                dir: PathBuf::from("/nowhere"),
                parent: None,
                created_unix: 0,
                description: String::new(),
                random_weights: true,
                finetune: None,
            });
        }
        let err = r.find("abcd").expect_err("ambiguous");
        assert!(err.to_string().contains("matches 2"), "{err}");
        assert_eq!(
            r.find("abcd2").expect("unique").version,
            "videoclip-a/abcd2222"
        );
        assert!(r.find("abc").is_err(), "too short to be a prefix");
    }
}

impl Engine {
    /// The active model's folder, when the engine was opened through [`crate::open::open`].
    pub fn model_dir(&self) -> Option<&Path> {
        self.model_dir.as_deref()
    }

    /// Registers the active model as one of the library's versions and, when that keeps the
    /// library whole, makes it the active one: the library had no active version, or every
    /// ready video has this model's windows. Otherwise the version is registered, stays
    /// inactive, and a warning says how to switch (`vclip models use`, which re-embeds). Does
    /// nothing for an engine that does not know its model's folder, or whose model is already
    /// the active version. `Some` when the active version changed.
    pub fn remember_model(&self, sink: &dyn crate::ProgressSink) -> Result<Option<Switched>> {
        let (Some(dir), Some(key)) = (self.model_dir(), self.model_key()) else {
            return Ok(None);
        };
        let root = self.root();
        let registry = load(root)?;
        if registry.active.as_deref() == Some(key) {
            return Ok(None);
        }
        if registry.active.is_none() || self.embedding_gaps()?.is_empty() {
            return register_and_activate(root, dir).map(Some);
        }
        register(root, dir, None, None)?;
        let active = registry.active.unwrap_or_default();
        sink.emit(crate::ProgressEvent::Warning {
            item: key.to_owned(),
            message: format!(
                "the library still opens with {active}: other videos lack {key}'s windows \
                 (`vclip models use {key}` re-embeds them and switches)"
            ),
        });
        Ok(None)
    }
}

/// What [`Engine::switch_to_its_model`] did.
#[cfg(feature = "media")]
#[derive(Debug, Clone, Serialize)]
pub struct VersionSwitch {
    pub switched: Switched,
    /// The re-embedding it needed (`None`: the library already had the version's windows).
    pub reindex: Option<crate::ReindexReport>,
}

#[cfg(feature = "media")]
impl Engine {
    /// Makes the model this engine was opened with the library's active version: re-embeds
    /// the library first when it lacks that version's windows ([`Engine::ensure_embedded`]),
    /// then registers and activates it. A cancel leaves the old version active. The one way
    /// both faces switch versions (`vclip models use|rollback`, the window's family switch and
    /// fine-tune).
    pub fn switch_to_its_model(
        &self,
        sink: &dyn crate::ProgressSink,
        cancel: &crate::CancelToken,
    ) -> Result<VersionSwitch> {
        let dir = self.model_dir().ok_or(EngineError::NoModel)?.to_owned();
        let reindex = self.ensure_embedded(sink, cancel)?;
        // Recorded while the library is still open (its lock serialises writers).
        let switched = register_and_activate(self.root(), &dir)?;
        Ok(VersionSwitch { switched, reindex })
    }
}
