//! An open library with its active model: the one object the faces (CLI, window) drive.
//!
//! [`Engine`] owns the library (catalogue, text index, files) and, when a model is active, that
//! model's vector index. Every method takes `&self` and locks only what it touches for as long
//! as it touches it, so a search runs while an import is in progress in another thread.
//!
//! # Crash safety
//! The catalogue is the source of truth. An import writes every derived file first (features,
//! window vectors, token states, thumbnail, text documents), then commits the catalogue row as
//! `ready` with its windows in one transaction, then adds the vectors to the in-memory HNSW
//! index, which is saved atomically now and then. After a kill, [`Engine::open`] reconciles the
//! HNSW index with the catalogue (adds missing windows from their vector files, rebuilds it if
//! it holds windows the catalogue no longer has), and search ignores anything whose video is not
//! `ready`: no duplicate, no half-written entry is ever visible.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use serde::Serialize;
use vclip_index::{Catalogue, Library, ModelVersion, Status, TextIndex, VectorIndex, Video};
use vclip_model::{ClipModelConfig, Family, Model, ModelConfig};

use crate::keyed::{self, Keyed, RowFiles};
use crate::progress::Cancelled;

/// Errors of the engine's jobs.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Index(#[from] vclip_index::Error),
    #[error("{context}: {source}")]
    Model {
        context: String,
        #[source]
        source: vclip_model::Error,
    },
    #[error(
        "no model is active: import or download one (`vclip models pull`, `vclip models import`) \
         or pass --model DIR"
    )]
    NoModel,
    #[error("no video in the library matches {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Steps(#[from] crate::steps::StepsError),
    /// A video that cannot be used (yet) for what was asked, and what to do about it.
    #[error("{video}: {reason}")]
    NotReady { video: String, reason: String },
    /// A dataset file that cannot be read as what it should be.
    #[error("{}: {reason}", path.display())]
    Dataset { path: PathBuf, reason: String },
    /// The library's model versions (`models.json`) cannot be read as what they should be.
    #[error("{}: {reason}", path.display())]
    Registry { path: PathBuf, reason: String },
    /// An export that cannot be written, or none of whose moments can be used.
    #[error("{}: {reason}", path.display())]
    Export { path: PathBuf, reason: String },
    #[error("cancelled")]
    Cancelled,
}

impl From<Cancelled> for EngineError {
    fn from(_: Cancelled) -> Self {
        EngineError::Cancelled
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The family and version under which a model's derived data is stored.
///
/// The family fixes the per-second features: `videoclip-<backbone fingerprint>` (features are
/// shared by every tower version on the same S3D weights); the version is the towers'
/// fingerprint. Directories written before fingerprints existed map to `videoclip/unversioned`.
pub fn model_version(config: &ModelConfig) -> Result<ModelVersion> {
    let family = match &config.backbone_id {
        Some(id) => format!("videoclip-{id}"),
        None => "videoclip".to_owned(),
    };
    let version = config.towers_id.as_deref().unwrap_or("unversioned");
    Ok(ModelVersion::new(&family, version)?)
}

/// [`model_version`] for a model of any family. A CLIP model's per-second features are its
/// image embeddings, so its family folder is `clip-vit-b32-<image tower fingerprint>` and its
/// version the whole model's fingerprint (`unversioned` for folders without one).
pub fn model_version_of(model: &Model) -> Result<ModelVersion> {
    match model {
        Model::VideoClip(m) => model_version(&m.config),
        Model::Clip(m) => clip_version(&m.config),
    }
}

/// [`model_version_of`] for a CLIP model's configuration: the family folder is named by the
/// image tower's fingerprint (`vision_id`; folders without one by `model_id`), so a fine-tuned
/// model (same image tower, a temporal tower on top) shares the per-second features.
pub fn clip_version(config: &ClipModelConfig) -> Result<ModelVersion> {
    let name = Family::Clip.name();
    let id = config.model_id.as_deref();
    let features = config.vision_id.as_deref().or(id);
    let hex = features.map(|id| id.split_once('-').map_or(id, |(_, hex)| hex));
    let family = hex.map_or_else(|| name.to_owned(), |h| format!("{name}-{h}"));
    Ok(ModelVersion::new(&family, id.unwrap_or("unversioned"))?)
}

/// What a model folder is, from its `config.json` alone (no weights are read).
#[derive(Debug, Clone, PartialEq)]
pub struct DirModel {
    pub family: Family,
    pub version: ModelVersion,
    pub description: String,
    pub random_weights: bool,
}

/// Reads `model_dir/config.json` of either family (see [`DirModel`]).
pub fn dir_model(model_dir: &Path) -> Result<DirModel> {
    let config_path = model_dir.join(vclip_model::model_dir::CONFIG_FILE);
    let err = |source| EngineError::Model {
        context: format!("{} is not a model folder", model_dir.display()),
        source,
    };
    let family = Family::of_dir(model_dir).map_err(err)?;
    Ok(match family {
        Family::VideoClip => {
            let c = ModelConfig::load(&config_path).map_err(err)?;
            DirModel {
                family,
                version: model_version(&c)?,
                description: c.description,
                random_weights: c.random_weights,
            }
        }
        Family::Clip => {
            let c = ClipModelConfig::load(&config_path).map_err(err)?;
            DirModel {
                family,
                version: clip_version(&c)?,
                description: c.description,
                random_weights: c.random_weights,
            }
        }
    })
}

/// The active model and its window index.
#[derive(Debug)]
pub(crate) struct Active {
    pub model: Model,
    pub version: ModelVersion,
    pub key: String,
    pub index_path: PathBuf,
    pub vectors: RwLock<VectorIndex>,
    /// Windows added since the index was last saved.
    pub unsaved: Mutex<(usize, Instant)>,
}

/// The window vector files of one model version ([`keyed::RowFiles`]).
pub(crate) struct WindowFiles<'a> {
    engine: &'a Engine,
    version: &'a ModelVersion,
}

impl RowFiles for WindowFiles<'_> {
    fn keys_of(&self, video_id: i64) -> Result<Vec<i64>> {
        let lib = self.engine.library();
        let windows = lib.catalogue().windows_of(video_id, &self.version.key())?;
        Ok(windows.into_iter().map(|w| w.id).collect())
    }

    fn path_of(&self, hash: &str) -> Result<PathBuf> {
        Ok(self
            .engine
            .library()
            .window_vectors_path(self.version, hash)?)
    }
}

/// An open library. See the module docs.
#[derive(Debug)]
pub struct Engine {
    root: PathBuf,
    lib: Mutex<Library>,
    text: RwLock<TextIndex>,
    pub(crate) active: Option<Active>,
    pub(crate) sentences: Option<crate::sentences::Sentences>,
    /// The active model's folder, when the engine was opened through [`crate::open`]: an
    /// import registers it as the library's model ([`Engine::import`]).
    pub(crate) model_dir: Option<PathBuf>,
}

/// A row of `vclip list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoSummary {
    pub id: i64,
    pub path: String,
    pub status: &'static str,
    pub duration_s: Option<f64>,
    pub error: Option<String>,
    pub model_version: Option<String>,
    /// Absolute path of the thumbnail, when there is one.
    pub thumbnail: Option<PathBuf>,
    /// The file was found gone by a rescan (`vclip watch`): kept, not searched.
    pub missing: bool,
}

/// What [`Engine::open`] had to repair.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciled {
    /// Windows the saved vector index lacked (added from their vector files).
    pub added: usize,
    /// The index was rebuilt from the vector files (missing, unreadable, or holding stale keys).
    pub rebuilt: bool,
    /// Videos whose window vectors could not be read (`vclip reindex` recomputes them).
    pub unreadable: Vec<String>,
}

impl Engine {
    /// Opens (creating if needed) the library at `root`, with `model` active if given. The
    /// model's vector index is loaded and reconciled with the catalogue (see module docs).
    pub fn open(root: &Path, model: Option<Model>) -> Result<(Self, Reconciled)> {
        let lib = Library::create(root)?;
        let text = TextIndex::open(&lib.text_dir())?;
        let mut engine = Self {
            root: lib.root().to_path_buf(),
            lib: Mutex::new(lib),
            text: RwLock::new(text),
            active: None,
            sentences: None,
            model_dir: None,
        };
        let report = match model {
            Some(m) => engine.activate(m)?,
            None => Reconciled::default(),
        };
        Ok((engine, report))
    }

    fn activate(&mut self, model: Model) -> Result<Reconciled> {
        let version = model_version_of(&model)?;
        let key = version.key();
        let dims = model.embedding_dim();
        let index_path = self.library().vector_index_path(&version)?;
        let mut report = Reconciled::default();
        let expected = self.expected_windows(&key)?;
        let vectors = keyed::reconcile(
            &index_path,
            dims,
            &expected,
            &self.window_files(&version),
            &mut report,
        )?;
        self.active = Some(Active {
            model,
            version,
            key,
            index_path,
            vectors: RwLock::new(vectors),
            unsaved: Mutex::new((0, Instant::now())),
        });
        if report.added > 0 || report.rebuilt {
            self.save_index()?;
        }
        Ok(report)
    }

    /// Every window of a model version in the catalogue, as index keys.
    pub(crate) fn expected_windows(&self, key: &str) -> Result<Vec<Keyed>> {
        let windows = self.library().catalogue().windows_of_model(key)?;
        Ok(windows
            .into_iter()
            .map(|(w, hash)| Keyed {
                key: w.id,
                video_id: w.video_id,
                hash,
            })
            .collect())
    }

    /// Where the window vectors of a model version are.
    pub(crate) fn window_files<'a>(&'a self, version: &'a ModelVersion) -> WindowFiles<'a> {
        WindowFiles {
            engine: self,
            version,
        }
    }

    /// The library folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The active model, if any.
    pub fn model(&self) -> Option<&Model> {
        self.active.as_ref().map(|a| &a.model)
    }

    /// The active model, to fine-tune (either family: `finetune::towers`).
    pub(crate) fn trainable_model(&self) -> Result<&Model> {
        self.model().ok_or(EngineError::NoModel)
    }

    /// Closes the library (its lock is released) and hands back the active model, e.g. to open
    /// another library with it without loading it again. Saves the vector index first.
    pub fn into_model(self) -> Result<Option<Model>> {
        self.save_index()?;
        Ok(self.active.map(|a| a.model))
    }

    /// Windows in the active model's vector index (0 without a model).
    pub fn vector_count(&self) -> usize {
        self.active.as_ref().map_or(0, |a| {
            a.vectors.read().unwrap_or_else(|e| e.into_inner()).len()
        })
    }

    /// `family/version` of the active model.
    pub fn model_key(&self) -> Option<&str> {
        self.active.as_ref().map(|a| a.key.as_str())
    }

    #[cfg(feature = "media")]
    pub(crate) fn active(&self) -> Result<&Active> {
        self.active.as_ref().ok_or(EngineError::NoModel)
    }

    pub(crate) fn library(&self) -> MutexGuard<'_, Library> {
        // A panic while holding the lock cannot leave the catalogue inconsistent (SQLite
        // transactions), so a poisoned lock is still usable.
        self.lib.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn text_read(&self) -> RwLockReadGuard<'_, TextIndex> {
        self.text.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn text_write(&self) -> RwLockWriteGuard<'_, TextIndex> {
        self.text.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the catalogue.
    pub fn with_catalogue<T>(&self, f: impl FnOnce(&Catalogue) -> T) -> T {
        f(self.library().catalogue())
    }

    /// Every video, oldest first.
    pub fn list(&self) -> Result<Vec<VideoSummary>> {
        let videos = self.library().catalogue().list_videos()?;
        Ok(videos.into_iter().map(|v| self.summary(v)).collect())
    }

    pub(crate) fn summary(&self, v: Video) -> VideoSummary {
        VideoSummary {
            id: v.id,
            path: v.path,
            status: v.status.as_str(),
            duration_s: v.duration_s,
            error: v.error,
            model_version: v.model_version,
            thumbnail: v.thumbnail_path.map(|p| self.root.join(p)),
            missing: v.missing_since.is_some(),
        }
    }

    /// Finds a video by id, content hash, or path (as given or canonical).
    pub fn find(&self, what: &str) -> Result<Video> {
        let lib = self.library();
        let cat = lib.catalogue();
        if let Ok(id) = what.parse::<i64>() {
            if let Some(v) = cat.video(id)? {
                return Ok(v);
            }
        }
        if let Some(v) = cat.video_by_hash(what)? {
            return Ok(v);
        }
        let canonical = std::fs::canonicalize(what)
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned));
        for p in std::iter::once(what.to_owned()).chain(canonical) {
            if let Some(v) = cat.videos_by_path(&p)?.into_iter().next() {
                return Ok(v);
            }
        }
        Err(EngineError::NotFound(what.to_owned()))
    }

    /// Removes a video from the library: its catalogue rows, text documents, window vectors and
    /// derived files. The user's file is never touched.
    pub fn remove(&self, what: &str) -> Result<Video> {
        let video = self.find(what)?;
        let cue_keys: Vec<i64> = self
            .library()
            .catalogue()
            .cue_rows(video.id)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let removed = self.library().catalogue_mut().remove_video(video.id)?;
        let Some(removed) = removed else {
            return Err(EngineError::NotFound(what.to_owned()));
        };
        if let Some(active) = &self.active {
            let mut ix = active.vectors.write().unwrap_or_else(|e| e.into_inner());
            for key in &removed.window_ids {
                ix.remove(*key as u64)?;
            }
            drop(ix);
            self.save_index()?;
        }
        self.unindex_cues(&cue_keys)?;
        self.save_sentence_index()?;
        self.text_write().delete_video(video.id)?;
        // Derived files last: if this fails half-way, the catalogue no longer refers to them.
        let hash = &removed.video.hash;
        let lib = self.library();
        let mut files = vec![lib.thumbnail_path(hash)?];
        if let Some(active) = &self.active {
            files.push(lib.tokens_path(&active.version, hash)?);
            files.push(lib.window_vectors_path(&active.version, hash)?);
        }
        if let Some(s) = &self.sentences {
            files.push(lib.cue_vectors_path(&s.version, hash)?);
        }
        drop(lib);
        for f in files {
            let _ = std::fs::remove_file(f);
        }
        Ok(removed.video)
    }

    /// Saves the active model's vector index atomically (no-op without a model).
    pub fn save_index(&self) -> Result<()> {
        let Some(active) = &self.active else {
            return Ok(());
        };
        let mut ix = active.vectors.write().unwrap_or_else(|e| e.into_inner());
        ix.save(&active.index_path)?;
        *active.unsaved.lock().unwrap_or_else(|e| e.into_inner()) = (0, Instant::now());
        Ok(())
    }

    /// Number of windows in the active model's vector index.
    pub fn indexed_windows(&self) -> usize {
        self.active.as_ref().map_or(0, |a| {
            a.vectors.read().unwrap_or_else(|e| e.into_inner()).len()
        })
    }

    /// Videos with the given status.
    pub fn videos_with_status(&self, status: Status) -> Result<Vec<Video>> {
        Ok(self.library().catalogue().videos_with_status(status)?)
    }
}
