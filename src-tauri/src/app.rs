//! The window's state and the plain functions behind its commands.
//!
//! [`AppCore`] holds the open library ([`vclip_engine::Engine`], shared through an `Arc`), the
//! active model's description and the one background import job. No Tauri type appears here:
//! `commands.rs` wraps these functions for the webview, and `tests.rs` calls them directly on a
//! real temporary library.
//!
//! # Import jobs
//! One import thread at a time. [`AppCore::import_paths`] starts it, or, when it already runs,
//! queues the paths as another batch that the same thread imports next. Every batch has its own
//! id; its progress arrives as [`JobEvent::Progress`] (the engine's own [`ProgressEvent`]) and
//! it ends with exactly one [`JobEvent::Finished`] or [`JobEvent::Failed`], whose `last`
//! says whether the thread is done. The engine locks only what it touches, so searches, listing
//! and removal run while an import is in progress; nothing here holds a lock across an import.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use vclip_engine::chapters::{self, ChapterFormat, ChapterStep};
use vclip_engine::duplicates::{DuplicateOptions, DuplicatesReport, SharedFootage};
use vclip_engine::example::Example;
use vclip_engine::open::Environment;
use vclip_engine::search::{SearchOptions, SearchResult, Signal};
use vclip_engine::{
    CancelToken, Engine, EngineError, ImportOptions, ImportReport, ProgressEvent, VideoSummary,
};
use vclip_index::{Status, Video};

use crate::jobs::{Emit, JobEvent};
use crate::{probe_paths, CommandError, FileError, ProbeResult};

/// Most moments one search returns.
pub const MAX_SEARCH_LIMIT: usize = 100;
/// Moments a search returns when the UI does not say.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;

/// Which model the library is opened with.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// `$VCLIP_MODEL`, else the models folder's ([`default_model_dir`]); no model
    /// (without an error) when that folder holds none.
    Default,
    /// This model directory; a load failure is reported in [`ModelStatus::error`].
    Dir(PathBuf),
    /// No model: search uses subtitles and names only, import is refused.
    None,
}

/// The model folder the app uses by default: `$VCLIP_MODEL`, else `videoclip` in
/// [`vclip_engine::default_models_dir`] — or `clip-vit-b32` when only that one holds a model —
/// (as the engine's [`vclip_engine::open`] chooses for both faces). `None` without a home
/// folder.
pub fn default_model_dir() -> Option<PathBuf> {
    match Environment::from_process().model {
        Some(dir) => Some(dir),
        None => vclip_engine::default_models_dir()
            .ok()
            .map(|d| vclip_engine::open::default_model_in(&d)),
    }
}

/// What the window shows about the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ModelStatus {
    /// A model is loaded: visual search and import work.
    pub present: bool,
    /// Its weights are random (a test model): visual results mean nothing.
    pub random: bool,
    /// The folder it was (or would be) loaded from.
    pub dir: Option<String>,
    /// `family/version` of the loaded model.
    pub version: Option<String>,
    /// Why a model that exists could not be loaded.
    pub error: Option<String>,
}

/// Whether the library is open, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LibraryState {
    /// Being opened (the model is loading, the index being checked).
    Opening,
    Ready,
    /// It could not be opened; `in_use`: another VClip process has it.
    Unavailable {
        message: String,
        in_use: bool,
    },
}

/// Everything the window needs to know to draw its chrome (`app_status`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppStatus {
    /// Absolute path of the library folder.
    pub library: String,
    pub library_state: LibraryState,
    pub model: ModelStatus,
    /// Id of the import batch in progress, if any.
    pub job: Option<u64>,
    /// Batches waiting behind it.
    pub queued_jobs: usize,
    /// Where the player fetches library videos: `<media_base>/<video id>` (the loopback file
    /// server); `None` if it could not start.
    pub media_base: Option<String>,
}

impl AppStatus {
    pub fn job_running(&self) -> bool {
        self.job.is_some()
    }
}

/// The answer to `import_paths`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ImportStarted {
    /// The batch's id, carried by each of its events.
    pub job: u64,
    /// Another batch was running: this one starts after it.
    pub queued: bool,
}

/// Where a save dialog starts: the file name it proposes and its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveTarget {
    pub file_name: String,
    pub directory: Option<PathBuf>,
}

/// The answer to `export_chapters` (`None` in the UI when the dialog was cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ExportedChapters {
    pub path: String,
    pub chapters: usize,
}

/// A moment of a library video that the window hands out: a search result, the player's
/// moment.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MomentSpan {
    pub video_id: i64,
    pub start_s: f64,
    pub end_s: f64,
}

/// The editor formats *Export results…* writes (see `vclip_timeline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum TimelineFormat {
    /// CMX 3600 EDL: Premiere, Resolve, Avid.
    Edl,
    /// FCPXML 1.10: Final Cut Pro.
    Fcpxml,
    /// Marker list.
    Csv,
}

impl TimelineFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Edl => "edl",
            Self::Fcpxml => "fcpxml",
            Self::Csv => "csv",
        }
    }

    /// The save dialog's filter name.
    pub fn description(self) -> &'static str {
        match self {
            Self::Edl => "CMX 3600 EDL (Premiere, Resolve, Avid)",
            Self::Fcpxml => "Final Cut Pro XML",
            Self::Csv => "Markers (CSV)",
        }
    }
}

/// The answer to `export_results` (`None` in the UI when the dialog was cancelled).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ExportedMoments {
    pub path: String,
    /// Moments written.
    pub moments: usize,
    /// Moments left out: `file: why`.
    pub skipped: Vec<String>,
}

/// Where a moment link leads in this library (`take_pending_link`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LinkTarget {
    pub video_id: i64,
    pub path: String,
    pub at_s: f64,
}

/// The answer to `save_clip` (`None` in the UI when the dialog was cancelled).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SavedClip {
    pub path: String,
    /// Copied from a keyframe (else re-encoded, exact to the frame).
    pub copied: bool,
    /// Where the clip starts and ends in the video.
    pub start_s: f64,
    pub end_s: f64,
    pub frames: u64,
}

/// What one import batch did, for the UI (paths as text even when they are not UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ImportSummary {
    pub imported: Vec<String>,
    pub reembedded: Vec<String>,
    pub skipped: Vec<String>,
    /// Files that could not be imported, each with its reason.
    pub failed: Vec<FileError>,
    /// Video-seconds decoded and encoded.
    pub video_s: f64,
    pub wall_s: f64,
    pub cancelled: bool,
    /// A watched-folder rescan: files found gone (kept, not searched), found again, and
    /// moved or renamed (the new paths; relinked without decoding).
    pub missing: Vec<String>,
    pub restored: Vec<String>,
    pub relinked: Vec<String>,
}

impl From<vclip_engine::watch::RescanReport> for ImportSummary {
    fn from(r: vclip_engine::watch::RescanReport) -> Self {
        let text = |paths: &[PathBuf]| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        };
        Self {
            imported: text(&[r.imported, r.reimported].concat()),
            reembedded: Vec::new(),
            skipped: Vec::new(),
            failed: r.failed.into_iter().map(FileError::from).collect(),
            video_s: r.decoded_s,
            wall_s: 0.0,
            cancelled: r.cancelled,
            missing: text(&r.missing),
            restored: text(&r.restored),
            relinked: r
                .relinked
                .iter()
                .map(|m| m.to.to_string_lossy().into_owned())
                .collect(),
        }
    }
}

impl From<ImportReport> for ImportSummary {
    fn from(r: ImportReport) -> Self {
        let text = |paths: Vec<PathBuf>| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        };
        Self {
            imported: text(r.imported),
            reembedded: text(r.reembedded),
            skipped: text(r.skipped),
            failed: r.failed.into_iter().map(FileError::from).collect(),
            video_s: r.video_s,
            wall_s: r.wall_s,
            cancelled: r.cancelled,
            missing: Vec::new(),
            restored: Vec::new(),
            relinked: Vec::new(),
        }
    }
}

/// What the import thread tells the window (the Tauri event `import`): a [`JobEvent`] per batch,
/// whose result is the batch's summary.
pub type ImportEvent = JobEvent<ImportSummary>;

/// Where the import thread sends its events (the window, or a test's channel).
pub type EmitImport = Emit<ImportSummary>;

/// A video of the library list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct VideoRow {
    pub id: i64,
    pub path: String,
    /// `queued`, `importing`, `ready` or `failed`.
    #[cfg_attr(test, ts(type = r#""queued" | "importing" | "ready" | "failed""#))]
    pub status: &'static str,
    pub duration_s: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
    /// A thumbnail is served for it at `thumb://localhost/<id>`.
    pub thumbnail: bool,
    /// A watched-folder rescan found its file gone: kept in the library, not searched.
    pub missing: bool,
}

impl From<VideoSummary> for VideoRow {
    fn from(v: VideoSummary) -> Self {
        Self {
            id: v.id,
            path: v.path,
            status: v.status,
            duration_s: v.duration_s,
            error: v.error,
            thumbnail: v.thumbnail.is_some(),
            missing: v.missing,
        }
    }
}

/// A piece of a subtitle snippet: matched words have `hit` set. The UI renders each piece as
/// text, so a snippet is never parsed as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SnippetPart {
    pub text: String,
    pub hit: bool,
}

/// One search result: a moment of a video.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Moment {
    pub video_id: i64,
    pub path: String,
    pub start_s: f64,
    pub end_s: f64,
    pub score: f64,
    /// `visual`, `subtitle`, `name`; strongest first.
    pub signals: Vec<Signal>,
    /// The subtitle text at the moment split at the matched words; empty when there is none.
    pub snippet: Vec<SnippetPart>,
}

/// A shared-footage report and what it was made from.
struct CachedDuplicates {
    /// The ready videos compared: (id, content hash).
    ready: Vec<(i64, String)>,
    /// Whether videos without fingerprints were decoded for it.
    made_missing: bool,
    report: Arc<DuplicatesReport>,
}

/// The engine's results as the window shows them.
fn moments(results: Vec<SearchResult>) -> Vec<Moment> {
    results
        .into_iter()
        .map(|r| Moment {
            snippet: r
                .snippet
                .as_deref()
                .map(|s| snippet_parts(s, &r.highlights))
                .unwrap_or_default(),
            video_id: r.video_id,
            path: r.path,
            start_s: r.start_s,
            end_s: r.end_s,
            score: r.score,
            signals: r.signals,
        })
        .collect()
}

/// The largest pasted picture `search_image_data` takes.
pub const MAX_PASTED_IMAGE_BYTES: usize = 64 << 20;

/// A pasted picture's bytes in a new file of the system's temporary folder, removed on drop.
struct PastedFile(PathBuf);

impl PastedFile {
    fn write(data: &[u8]) -> std::io::Result<Self> {
        use std::io::Write;
        let dir = std::env::temp_dir();
        let mut last = None;
        for _ in 0..8 {
            let path = dir.join(format!(
                "vclip-pasted-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let file = PastedFile(path);
                    f.write_all(data)?;
                    return Ok(file);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
    }
}

impl Drop for PastedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Splits `snippet` at the byte ranges `highlights`. Ranges out of bounds, empty, overlapping
/// an earlier one or not on character boundaries are ignored, so any input gives valid text.
pub fn snippet_parts(snippet: &str, highlights: &[(usize, usize)]) -> Vec<SnippetPart> {
    let mut ranges: Vec<(usize, usize)> = highlights
        .iter()
        .copied()
        .filter(|&(a, b)| {
            a < b
                && b <= snippet.len()
                && snippet.is_char_boundary(a)
                && snippet.is_char_boundary(b)
        })
        .collect();
    ranges.sort_unstable();
    let mut parts = Vec::new();
    let mut at = 0;
    for (a, b) in ranges {
        if a < at {
            continue;
        }
        if a > at {
            parts.push(SnippetPart {
                text: snippet[at..a].to_owned(),
                hit: false,
            });
        }
        parts.push(SnippetPart {
            text: snippet[a..b].to_owned(),
            hit: true,
        });
        at = b;
    }
    if at < snippet.len() {
        parts.push(SnippetPart {
            text: snippet[at..].to_owned(),
            hit: false,
        });
    }
    parts
}

/// The video that was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RemovedVideo {
    pub id: i64,
    pub path: String,
}

/// An answer of the `thumb:` protocol or the player's file server, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// More response headers (`Content-Range`, `Accept-Ranges`).
    pub headers: Vec<(&'static str, String)>,
}

impl Served {
    pub(crate) fn error(status: u16) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// The video id a `thumb:` or file-server request names (`/<id>`), if it names one.
fn requested_id(request_path: &str) -> Option<i64> {
    request_path
        .strip_prefix('/')
        .filter(|s| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<i64>().ok())
}

/// `candidate` resolved (symbolic links and `..` followed), if it is a file inside `root`;
/// `None` for anything else. The only gate through which the window reads a file from disk.
pub fn inside_library(root: &Path, candidate: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let resolved = candidate.canonicalize().ok()?;
    (resolved.starts_with(&root) && resolved.is_file()).then_some(resolved)
}

/// The open library, as the engine's error left it.
enum Opened {
    Opening,
    Ready(Arc<Engine>),
    Unavailable { message: String, in_use: bool },
}

/// A batch for the import thread.
#[derive(Debug)]
struct Batch {
    job: u64,
    work: Work,
}

/// What a batch does.
#[derive(Debug, PartialEq)]
enum Work {
    /// Import these paths (none: resume what an interrupted import left).
    Import(Vec<PathBuf>),
    /// Rescan the library's watched folders (`vclip_engine::watch`).
    Rescan,
}

/// The import thread's batch in progress and those queued behind it.
#[derive(Debug)]
struct Running {
    job: u64,
    cancel: CancelToken,
    queue: VecDeque<Batch>,
}

/// The window's state: see the module docs.
pub struct AppCore {
    library: RwLock<PathBuf>,
    opened: RwLock<Opened>,
    model: RwLock<ModelStatus>,
    /// Held while opening, so two opens (a retry clicked twice) never race.
    opening: Mutex<()>,
    running: Mutex<Option<Running>>,
    /// The watched-folders thread, once started (`watching.rs`).
    watching: Mutex<Option<crate::watching::Watching>>,
    /// The moment link the app was started with, until the window takes it.
    pending_link: Mutex<Option<vclip_engine::links::MomentLink>>,
    /// The last shared-footage report, reused while the library holds the same videos.
    duplicates: Mutex<Option<CachedDuplicates>>,
    media_base: std::sync::OnceLock<String>,
    /// The settings file, the overrides and the model download (`settings.rs`).
    pub(crate) setup: crate::settings::Setup,
    /// The fine-tune thread and model version switches (`finetune.rs`).
    pub(crate) training: crate::finetune::Training,
    /// The model family's estimate, switch and download (`family.rs`).
    pub(crate) families: crate::family::Families,
}

impl std::fmt::Debug for AppCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCore")
            .field("library", &self.library())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent whatever panicked while holding them.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppCore {
    /// The state of a window on `library`, not opened yet ([`AppCore::open`] opens it).
    pub fn new(library: PathBuf) -> Arc<Self> {
        Self::with_setup(library, crate::settings::Setup::default())
    }

    /// [`AppCore::new`] with settings (the app's: [`crate::settings::Setup::from_environment`]).
    pub fn with_setup(library: PathBuf, setup: crate::settings::Setup) -> Arc<Self> {
        Arc::new(Self {
            library: RwLock::new(library),
            setup,
            opened: RwLock::new(Opened::Opening),
            model: RwLock::new(ModelStatus::default()),
            opening: Mutex::new(()),
            running: Mutex::new(None),
            watching: Mutex::new(None),
            pending_link: Mutex::new(None),
            duplicates: Mutex::new(None),
            media_base: std::sync::OnceLock::new(),
            training: crate::finetune::Training::default(),
            families: crate::family::Families::default(),
        })
    }

    /// Loads the model and opens the library (blocking: the app calls it on a thread). A
    /// library in use by another process, or one that cannot be read, leaves the state
    /// `Unavailable` with the reason; calling `open` again retries.
    pub fn open(&self, model: &ModelChoice) {
        let _opening = lock(&self.opening);
        if matches!(*self.read_opened(), Opened::Ready(_)) {
            return;
        }
        *self.opened.write().unwrap_or_else(|e| e.into_inner()) = Opened::Opening;
        let request = self.setup.open_request(&self.library(), model);
        let (opened, status) = match vclip_engine::open::open(&request) {
            Ok(o) => {
                let p = &o.provenance;
                let status = ModelStatus {
                    present: o.engine.model().is_some(),
                    random: p.random_weights,
                    dir: p
                        .model
                        .as_ref()
                        .map(|d| d.value.to_string_lossy().into_owned()),
                    version: None,
                    error: p.model_error.clone(),
                };
                self.setup.note_opened(p);
                (Opened::Ready(Arc::new(o.engine)), status)
            }
            Err(e) => (
                Opened::Unavailable {
                    in_use: e.in_use(),
                    message: e.to_string(),
                },
                ModelStatus::default(),
            ),
        };
        *self.model.write().unwrap_or_else(|e| e.into_inner()) = status;
        *self.opened.write().unwrap_or_else(|e| e.into_inner()) = opened;
    }

    /// [`AppCore::new`] then [`AppCore::open`].
    pub fn open_now(library: PathBuf, model: &ModelChoice) -> Arc<Self> {
        let core = Self::new(library);
        core.open(model);
        core
    }

    /// The library folder.
    pub fn library(&self) -> PathBuf {
        self.library
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Closes the library (no import may run: `Busy`), waits up to `wait` for the searches
    /// still holding it to let go, optionally moves to another folder, then opens it again
    /// with `model` (the settings' model for [`ModelChoice::Default`]).
    pub(crate) fn reopen_with(
        &self,
        library: Option<PathBuf>,
        model: &ModelChoice,
        wait: Duration,
    ) -> Result<(), CommandError> {
        self.reopen(library, model, wait, false)
    }

    /// [`Self::reopen_with`]; `by_switch`: the model family switch reopening the library it
    /// holds (`family.rs`), which other callers are refused while it runs.
    pub(crate) fn reopen(
        &self,
        library: Option<PathBuf>,
        model: &ModelChoice,
        wait: Duration,
        by_switch: bool,
    ) -> Result<(), CommandError> {
        {
            let running = lock(&self.running);
            if !by_switch && self.families.switching() {
                return Err(CommandError::Busy {
                    message: "the library is switching to another model family: cancel it or \
                              wait for it, then try again"
                        .into(),
                });
            }
            if self.families.measuring() {
                return Err(CommandError::Busy {
                    message: "an import-time measurement is running: wait a moment or cancel it"
                        .into(),
                });
            }
            if running.is_some() {
                return Err(CommandError::Busy {
                    message: "an import is running: cancel it or wait for it, then try again"
                        .into(),
                });
            }
            if self.training.busy() {
                return Err(CommandError::Busy {
                    message: "a fine-tune or a model switch is running: cancel it or wait for \
                              it, then try again"
                        .into(),
                });
            }
            let _opening = lock(&self.opening);
            let old = std::mem::replace(
                &mut *self.opened.write().unwrap_or_else(|e| e.into_inner()),
                Opened::Opening,
            );
            if let Opened::Ready(engine) = old {
                let until = Instant::now() + wait;
                while Arc::strong_count(&engine) > 1 && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                drop(engine);
            }
            if let Some(dir) = library {
                *self.library.write().unwrap_or_else(|e| e.into_inner()) = dir;
            }
        }
        self.open(model);
        Ok(())
    }

    fn read_opened(&self) -> std::sync::RwLockReadGuard<'_, Opened> {
        self.opened.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The open engine, or why there is none.
    pub fn engine(&self) -> Result<Arc<Engine>, CommandError> {
        match &*self.read_opened() {
            Opened::Ready(engine) => Ok(Arc::clone(engine)),
            Opened::Opening => Err(CommandError::Opening {
                message: "the library is still being opened".into(),
            }),
            Opened::Unavailable { message, in_use } => Err(CommandError::LibraryUnavailable {
                message: message.clone(),
                in_use: *in_use,
            }),
        }
    }

    /// `app_status`: library, model and import job.
    pub fn status(&self) -> AppStatus {
        let library_state = match &*self.read_opened() {
            Opened::Opening => LibraryState::Opening,
            Opened::Ready(_) => LibraryState::Ready,
            Opened::Unavailable { message, in_use } => LibraryState::Unavailable {
                message: message.clone(),
                in_use: *in_use,
            },
        };
        let mut model = self.model.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Opened::Ready(engine) = &*self.read_opened() {
            model.version = engine.model_key().map(str::to_owned);
        }
        let running = lock(&self.running);
        AppStatus {
            library: self.library().to_string_lossy().into_owned(),
            library_state,
            model,
            job: running.as_ref().map(|r| r.job),
            queued_jobs: running.as_ref().map_or(0, |r| r.queue.len()),
            media_base: self.media_base.get().cloned(),
        }
    }

    /// Records the player's file server address (once, at start).
    pub fn set_media_base(&self, base: String) {
        let _ = self.media_base.set(base);
    }

    /// `import_paths`: imports files and folders (recursively) on the import thread, or queues
    /// them behind the batch in progress. No paths: resume what an interrupted import left.
    pub fn import_paths(
        self: &Arc<Self>,
        paths: Vec<PathBuf>,
        emit: EmitImport,
    ) -> Result<ImportStarted, CommandError> {
        self.start_batch(Work::Import(paths), emit)
    }

    /// Queues a rescan of the library's watched folders on the import thread (new files
    /// imported, moved ones relinked, gone ones marked missing: `vclip_engine::watch`). `None`
    /// when there is nothing to do: no watched folder, no model, a rescan already waiting, or
    /// the library being re-embedded.
    pub fn rescan_watched(
        self: &Arc<Self>,
        emit: EmitImport,
    ) -> Result<Option<ImportStarted>, CommandError> {
        let engine = self.engine()?;
        let folders = engine.watched_folders()?;
        if engine.model().is_none() || folders.is_empty() {
            return Ok(None);
        }
        let settle = vclip_engine::watch::WatchOptions::default().settle;
        let (needed, settling) = engine.rescan_needed(&folders, settle)?;
        drop(engine);
        if !needed {
            // A file still being written: look again soon.
            if settling {
                if let Some(w) = lock(&self.watching).as_ref() {
                    w.rescan_now();
                }
            }
            return Ok(None);
        }
        if lock(&self.running)
            .as_ref()
            .is_some_and(|r| r.queue.iter().any(|b| b.work == Work::Rescan))
        {
            return Ok(None);
        }
        match self.start_batch(Work::Rescan, emit) {
            Ok(started) => Ok(Some(started)),
            Err(CommandError::Busy { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Remembers the moment link the app was started with, for the window to open.
    pub fn set_pending_link(&self, link: Option<vclip_engine::links::MomentLink>) {
        *lock(&self.pending_link) = link;
    }

    /// The moment link the app was started with, resolved in the library (once: a second
    /// call gives `None`). An unknown video is `notFound`.
    pub fn take_pending_link(&self) -> Result<Option<LinkTarget>, CommandError> {
        let Some(link) = lock(&self.pending_link).take() else {
            return Ok(None);
        };
        let engine = self.engine()?;
        let (video, at_s) = engine
            .resolve_link(&link)
            .map_err(|_| CommandError::NotFound {
                message: format!(
                    "the link {} names a video this library does not have",
                    link.to_url()
                ),
            })?;
        Ok(Some(LinkTarget {
            video_id: video.id,
            path: video.path,
            at_s,
        }))
    }

    /// *Copy link*: the `vclip://` link to second `at_s` of video `id`.
    pub fn moment_link(&self, id: i64, at_s: f64) -> Result<String, CommandError> {
        let engine = self.engine()?;
        self.video(&engine, id)?;
        Ok(engine.moment_link(&id.to_string(), at_s)?.to_url())
    }

    /// Starts keeping the library current with its watched folders while the app runs (see
    /// `watching.rs`); a second call does nothing.
    pub fn start_watching(self: &Arc<Self>, emit: EmitImport) -> Result<(), CommandError> {
        let mut slot = lock(&self.watching);
        if slot.is_none() {
            let w = crate::watching::Watching::start(Arc::clone(self), emit).map_err(|e| {
                CommandError::Internal {
                    message: format!("cannot start watching folders: {e}"),
                }
            })?;
            *slot = Some(w);
        }
        Ok(())
    }

    /// Rescans the watched folders soon (one was added).
    pub fn watch_now(&self) {
        if let Some(w) = lock(&self.watching).as_ref() {
            w.rescan_now();
        }
    }

    /// The library's watched folders.
    pub fn watched_folders(&self) -> Result<Vec<PathBuf>, CommandError> {
        Ok(self.engine()?.watched_folders()?)
    }

    /// Adds (`add`) or removes a watched folder; the library keeps the list. The videos of a
    /// removed folder stay in the library.
    pub fn change_watched_folder(
        &self,
        folder: &Path,
        add: bool,
    ) -> Result<Vec<PathBuf>, CommandError> {
        let engine = self.engine()?;
        let mut list = engine.watched_folders()?;
        if add {
            if !folder.is_dir() {
                return Err(CommandError::Invalid {
                    message: format!("{}: not a folder", folder.display()),
                });
            }
            list.push(folder.to_path_buf());
        } else {
            let canonical = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
            list.retain(|f| f != folder && *f != canonical);
        }
        Ok(engine.set_watched_folders(&list)?)
    }

    fn start_batch(
        self: &Arc<Self>,
        work: Work,
        emit: EmitImport,
    ) -> Result<ImportStarted, CommandError> {
        // The engine is taken under `running`'s lock, as `reopen_with` closes it: an import
        // never starts on a library that a settings change is closing.
        let mut running = lock(&self.running);
        let engine = self.engine()?;
        if engine.model().is_none() {
            return Err(CommandError::no_model());
        }
        if self.training.switching() || self.families.switching() {
            return Err(CommandError::Busy {
                message: "the library is being re-embedded for another model version: import \
                          again when it is done"
                    .into(),
            });
        }
        let job = crate::jobs::next_job_id();
        if let Some(r) = running.as_mut() {
            r.queue.push_back(Batch { job, work });
            return Ok(ImportStarted { job, queued: true });
        }
        let cancel = CancelToken::new();
        *running = Some(Running {
            job,
            cancel: cancel.clone(),
            queue: VecDeque::new(),
        });
        drop(running);
        let core = Arc::clone(self);
        let batch = Batch { job, work };
        let spawned = std::thread::Builder::new()
            .name("vclip-import".into())
            .spawn(move || core.run_batches(engine, batch, cancel, &emit));
        if let Err(e) = spawned {
            *lock(&self.running) = None;
            return Err(CommandError::Internal {
                message: format!("cannot start the import thread: {e}"),
            });
        }
        Ok(ImportStarted { job, queued: false })
    }

    /// Whether an import could start now (library open, a model loaded), so that "Add videos…"
    /// says why not before a file dialog is opened for nothing.
    pub fn can_import(&self) -> Result<(), CommandError> {
        if self.engine()?.model().is_none() {
            return Err(CommandError::no_model());
        }
        Ok(())
    }

    /// `add_videos_dialog`, after the dialog: imports what was picked as [`Self::import_paths`]
    /// imports dropped paths. A cancelled dialog (`None`) or an empty pick does nothing; it must
    /// not reach `import_paths`, where no paths means "resume".
    pub fn import_picked(
        self: &Arc<Self>,
        picked: Option<Vec<PathBuf>>,
        emit: EmitImport,
    ) -> Result<Option<ImportStarted>, CommandError> {
        match picked {
            Some(paths) if !paths.is_empty() => self.import_paths(paths, emit).map(Some),
            _ => Ok(None),
        }
    }

    /// The import thread: runs batches until none is queued.
    fn run_batches(
        &self,
        engine: Arc<Engine>,
        mut batch: Batch,
        mut cancel: CancelToken,
        emit: &EmitImport,
    ) {
        let mut engine = Some(engine);
        loop {
            let Some(engine_ref) = engine.as_deref() else {
                return;
            };
            let job = batch.job;
            let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
            let outcome = catch_unwind(AssertUnwindSafe(|| match &batch.work {
                Work::Import(paths) => engine_ref
                    .import(paths, ImportOptions::default(), &sink, &cancel)
                    .map(ImportSummary::from)
                    .map_err(CommandError::from),
                Work::Rescan => {
                    let folders = engine_ref.watched_folders()?;
                    let opts = vclip_engine::watch::WatchOptions::default();
                    engine_ref
                        .rescan(&folders, &opts, &sink, &cancel)
                        .map(ImportSummary::from)
                        .map_err(CommandError::from)
                }
            }));
            // Decide what comes next and publish it before telling the window, so that the
            // window's `app_status` after a `last` event says no job runs.
            let next = {
                let mut running = lock(&self.running);
                let next = running.as_mut().and_then(|r| r.queue.pop_front());
                match (&next, running.as_mut()) {
                    (Some(b), Some(r)) => {
                        r.job = b.job;
                        r.cancel = CancelToken::new();
                        cancel = r.cancel.clone();
                    }
                    _ => *running = None,
                }
                next
            };
            let last = next.is_none();
            if last {
                // The thread lets go of the library before it says it is done.
                engine = None;
            }
            emit(match outcome {
                Ok(Ok(summary)) => JobEvent::Finished {
                    job,
                    result: summary,
                    last,
                },
                Ok(Err(error)) => JobEvent::Failed { job, error, last },
                Err(panic) => JobEvent::Failed {
                    job,
                    error: CommandError::Internal {
                        message: format!(
                            "the import stopped unexpectedly: {}",
                            panic_message(panic.as_ref())
                        ),
                    },
                    last,
                },
            });
            match next {
                Some(b) => batch = b,
                None => return,
            }
        }
    }

    /// `cancel_import`: stops the batch in progress at its next checkpoint (what it finished
    /// stays; an unfinished video resumes at the next import) and drops the queued batches.
    /// False when no import runs.
    pub fn cancel_import(&self) -> bool {
        let mut running = lock(&self.running);
        match running.as_mut() {
            Some(r) => {
                r.queue.clear();
                r.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Whether the import thread runs.
    pub fn job_running(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Cancels any import and waits up to `wait` for its thread to stop (the app calls this
    /// when the window closes, so the library is left at a checkpoint). True when it stopped.
    pub fn shutdown(&self, wait: Duration) -> bool {
        // No new rescan is queued while the jobs stop.
        drop(lock(&self.watching).take());
        self.cancel_import();
        self.cancel_finetune();
        self.cancel_family();
        self.cancel_family_download();
        let until = Instant::now() + wait;
        while self.job_running() || self.training_running() || self.families.switching() {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// `list_videos`: every video, oldest first, with its status.
    pub fn list_videos(&self) -> Result<Vec<VideoRow>, CommandError> {
        let engine = self.engine()?;
        Ok(engine.list()?.into_iter().map(VideoRow::from).collect())
    }

    /// `search`: moments for `query`, best first; an empty query finds nothing.
    pub fn search(&self, query: &str, limit: Option<usize>) -> Result<Vec<Moment>, CommandError> {
        let engine = self.engine()?;
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let opts = SearchOptions {
            limit: limit
                .unwrap_or(DEFAULT_SEARCH_LIMIT)
                .clamp(1, MAX_SEARCH_LIMIT),
            ..SearchOptions::default()
        };
        Ok(moments(engine.search(query, &opts)?))
    }

    /// `search_like` ("More like this"): moments that look like `duration_s` seconds of video
    /// `video_id` from `at_s`, that moment first.
    pub fn search_like(
        &self,
        video_id: i64,
        at_s: f64,
        duration_s: f64,
        limit: Option<usize>,
    ) -> Result<Vec<Moment>, CommandError> {
        let example = Example::Moment {
            video: video_id.to_string(),
            at_s,
            duration_s,
        };
        self.search_example(&example, limit)
    }

    /// `search_image`: moments that look like the picture file at `path` (dropped on the
    /// window).
    pub fn search_image(
        &self,
        path: &Path,
        limit: Option<usize>,
    ) -> Result<Vec<Moment>, CommandError> {
        self.search_example(&Example::Image(path.to_owned()), limit)
    }

    /// `search_image_data`: moments that look like a pasted picture (the bytes of a PNG, JPEG,
    /// … file). The bytes go through a file of their own in the system's temporary folder,
    /// removed when the search ends.
    pub fn search_image_data(
        &self,
        data: &[u8],
        limit: Option<usize>,
    ) -> Result<Vec<Moment>, CommandError> {
        if data.is_empty() || data.len() > MAX_PASTED_IMAGE_BYTES {
            return Err(CommandError::Invalid {
                message: format!(
                    "a pasted picture must have between 1 byte and {} MB, not {} bytes",
                    MAX_PASTED_IMAGE_BYTES >> 20,
                    data.len()
                ),
            });
        }
        let file = PastedFile::write(data).map_err(|e| CommandError::File {
            message: format!("cannot keep the pasted picture in a temporary file: {e}"),
        })?;
        self.search_example(&Example::Image(file.0.clone()), limit)
            .map_err(|e| match e {
                // The temporary file's name means nothing to the user.
                CommandError::Invalid { .. } => CommandError::Invalid {
                    message: "the pasted data is not a picture VClip can read".to_owned(),
                },
                other => other,
            })
    }

    /// `duplicates`: the videos that share footage and where (see
    /// `vclip_engine::duplicates`); `make_missing`: decode the videos imported before
    /// fingerprints existed (else they are skipped). Made again only when the library's ready
    /// videos changed (or fingerprints are asked for that the last report skipped).
    pub fn duplicates(&self, make_missing: bool) -> Result<Arc<DuplicatesReport>, CommandError> {
        let engine = self.engine()?;
        let ready: Vec<(i64, String)> = engine
            .videos_with_status(Status::Ready)?
            .into_iter()
            .filter(|v| v.missing_since.is_none())
            .map(|v| (v.id, v.hash))
            .collect();
        if let Some(cached) = &*lock(&self.duplicates) {
            if cached.ready == ready && (cached.made_missing || !make_missing) {
                return Ok(Arc::clone(&cached.report));
            }
        }
        let opts = DuplicateOptions {
            make_missing,
            ..DuplicateOptions::default()
        };
        let report =
            Arc::new(engine.duplicates(&opts, &vclip_engine::NoProgress, &CancelToken::new())?);
        *lock(&self.duplicates) = Some(CachedDuplicates {
            ready,
            made_missing: make_missing,
            report: Arc::clone(&report),
        });
        Ok(report)
    }

    /// `footage_elsewhere`: where the footage of video `id` also appears (the player's "also
    /// in …"), each run with this video as `a`, in the order of its start here.
    /// Videos without fingerprints are not decoded for this (see [`Self::duplicates`]).
    pub fn footage_elsewhere(&self, id: i64) -> Result<Vec<SharedFootage>, CommandError> {
        let report = self.duplicates(false)?;
        let mut out: Vec<SharedFootage> = report
            .groups
            .iter()
            .flat_map(|g| &g.shared)
            .filter_map(|s| {
                if s.a.video_id == id {
                    Some(s.clone())
                } else if s.b.video_id == id {
                    Some(SharedFootage {
                        a: s.b.clone(),
                        b: s.a.clone(),
                        similarity: s.similarity,
                    })
                } else {
                    None
                }
            })
            .collect();
        out.sort_by(|x, y| x.a.start_s.total_cmp(&y.a.start_s));
        Ok(out)
    }

    fn search_example(
        &self,
        example: &Example,
        limit: Option<usize>,
    ) -> Result<Vec<Moment>, CommandError> {
        let engine = self.engine()?;
        let opts = SearchOptions {
            limit: limit
                .unwrap_or(DEFAULT_SEARCH_LIMIT)
                .clamp(1, MAX_SEARCH_LIMIT),
            ..SearchOptions::default()
        };
        Ok(moments(engine.search_example(example, &opts)?))
    }

    fn video(&self, engine: &Engine, id: i64) -> Result<Video, CommandError> {
        engine
            .with_catalogue(|c| c.video(id))
            .map_err(EngineError::from)?
            .ok_or_else(|| CommandError::NotFound {
                message: format!("no video with id {id} in the library"),
            })
    }

    /// `remove_video`: takes a video out of the library (its index entries and derived files).
    /// The user's file is never touched. A video the running import is about to import (or is
    /// importing) cannot be removed until the import ends or is cancelled.
    pub fn remove_video(&self, id: i64) -> Result<RemovedVideo, CommandError> {
        let engine = self.engine()?;
        // Held across the check and the removal, so no import starts in between.
        let running = lock(&self.running);
        let video = self.video(&engine, id)?;
        if running.is_some() && matches!(video.status, Status::Queued | Status::Importing) {
            return Err(CommandError::Busy {
                message: "this video is being imported: cancel the import or wait for it".into(),
            });
        }
        let removed = engine.remove(&video.id.to_string())?;
        drop(running);
        Ok(RemovedVideo {
            id: removed.id,
            path: removed.path,
        })
    }

    /// `video_details`: what the file of a library video holds (container, streams, subtitles).
    pub fn video_details(&self, id: i64) -> Result<ProbeResult, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        let mut results = probe_paths(&[PathBuf::from(video.path)]);
        results.pop().ok_or_else(|| CommandError::Internal {
            message: "probing returned nothing".into(),
        })
    }

    /// The `thumb:` protocol: `/<video id>` → that video's thumbnail (JPEG). Only a file inside
    /// the library folder is ever read: the request names a video id, never a path, and the
    /// catalogue's path is checked to resolve inside the library (404 when it does not).
    pub fn thumbnail(&self, request_path: &str) -> Served {
        let (engine, video) = match self.requested_video(request_path) {
            Ok(found) => found,
            Err(status) => return Served::error(status),
        };
        let Some(file) = video
            .thumbnail_path
            .as_deref()
            .and_then(|rel| inside_library(engine.root(), &engine.root().join(rel)))
        else {
            return Served::error(404);
        };
        match std::fs::read(file) {
            Ok(body) => Served {
                status: 200,
                content_type: "image/jpeg",
                body,
                headers: Vec::new(),
            },
            Err(_) => Served::error(404),
        }
    }

    /// `locate_steps`: places pasted steps (one per line; numbering and bullets are stripped)
    /// on a ready library video, in the given order or each where it fits best (see
    /// `vclip_engine::steps`).
    pub fn locate_steps(
        &self,
        id: i64,
        text: &str,
        ordered: bool,
    ) -> Result<vclip_engine::localize::StepsReport, CommandError> {
        let engine = self.engine()?;
        let steps = vclip_engine::steps::parse_step_list(text);
        let opts = vclip_engine::localize::StepOptions {
            ordered,
            ..Default::default()
        };
        Ok(engine.steps(&id.to_string(), &steps, opts)?)
    }

    /// `steps_from_video`: the steps video `id` lists itself (its `.description` file or tag,
    /// or "Step 1 …" in its subtitles), and where they were found.
    pub fn steps_from_video(
        &self,
        id: i64,
    ) -> Result<vclip_engine::step_sources::FoundSteps, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        Ok(engine.steps_from_video(&video.id.to_string())?)
    }

    /// The chapters of video `id` for `steps` (the Steps panel's list, possibly corrected by
    /// hand) and where the save dialog should start: the video's folder, `<name>.chapters.<ext>`.
    /// Checked before the dialog opens, so a bad list is reported without asking for a file.
    pub fn chapters_target(
        &self,
        id: i64,
        steps: &[ChapterStep],
        format: ChapterFormat,
    ) -> Result<SaveTarget, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        chapters::chapters(steps, video.duration_s).map_err(|e| CommandError::Invalid {
            message: e.to_string(),
        })?;
        let path = Path::new(&video.path);
        let stem = path
            .file_stem()
            .map_or_else(|| "video".into(), |s| s.to_string_lossy());
        Ok(SaveTarget {
            file_name: format!("{stem}.chapters.{}", format.extension()),
            directory: path.parent().map(Path::to_path_buf),
        })
    }

    /// `export_chapters`, once the user chose `path`: writes the chapters of video `id` for
    /// `steps` atomically in `format` (see `vclip_engine::chapters`).
    pub fn export_chapters(
        &self,
        id: i64,
        steps: &[ChapterStep],
        format: ChapterFormat,
        path: &Path,
    ) -> Result<ExportedChapters, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        let list =
            chapters::chapters(steps, video.duration_s).map_err(|e| CommandError::Invalid {
                message: e.to_string(),
            })?;
        chapters::write(path, format, &list).map_err(|e| CommandError::File {
            message: e.to_string(),
        })?;
        Ok(ExportedChapters {
            path: path.to_string_lossy().into_owned(),
            chapters: list.len(),
        })
    }

    /// Where *Save clip…* starts: the video's folder, `<name> <m>m<ss>s.<ext>` (the video's
    /// container where it is a common one, else mp4).
    pub fn clip_target(&self, id: i64, start_s: f64) -> Result<SaveTarget, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        let path = Path::new(&video.path);
        let stem = path
            .file_stem()
            .map_or_else(|| "video".into(), |s| s.to_string_lossy());
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .filter(|e| ["mp4", "m4v", "mov", "mkv", "webm"].contains(&e.as_str()))
            .unwrap_or_else(|| "mp4".into());
        let secs = start_s.max(0.0).round() as u64;
        Ok(SaveTarget {
            file_name: format!("{stem} {}m{:02}s.{ext}", secs / 60, secs % 60),
            directory: path.parent().map(Path::to_path_buf),
        })
    }

    /// `save_clip`, once the user chose `path` (the dialog asked before replacing a file):
    /// `start_s..end_s` of video `id` as a clip of its own (`vclip_media::cut`, copy when a
    /// keyframe is at the start, else an exact re-encode).
    pub fn save_clip(
        &self,
        id: i64,
        start_s: f64,
        end_s: f64,
        path: &Path,
    ) -> Result<SavedClip, CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        let r = vclip_media::cut(
            Path::new(&video.path),
            path,
            start_s,
            end_s,
            vclip_media::CutMode::Auto,
            true,
        )
        .map_err(|e| CommandError::File {
            message: e.to_string(),
        })?;
        Ok(SavedClip {
            path: r.out.to_string_lossy().into_owned(),
            copied: r.mode == vclip_media::CutMode::Copy,
            start_s: r.start_s,
            end_s: r.end_s,
            frames: r.frames,
        })
    }

    /// `export_results`, once the user chose `path`: `moments` (library videos only) written
    /// for an editor in `format`, the query as each moment's note (`vclip_engine::export`).
    pub fn export_moments(
        &self,
        query: &str,
        moments: &[MomentSpan],
        format: TimelineFormat,
        path: &Path,
    ) -> Result<ExportedMoments, CommandError> {
        let engine = self.engine()?;
        let mut list = Vec::with_capacity(moments.len());
        for m in moments {
            let video = self.video(&engine, m.video_id)?;
            list.push(vclip_engine::export::ExportMoment {
                path: PathBuf::from(video.path),
                start_s: m.start_s,
                end_s: m.end_s,
                note: query.trim().to_string(),
            });
        }
        let title = format!("VClip: {}", query.trim());
        let r =
            vclip_engine::export::export_moments(&list, format.extension(), &title, path, true)?;
        Ok(ExportedMoments {
            path: r.out.to_string_lossy().into_owned(),
            moments: r.moments,
            skipped: r
                .skipped
                .iter()
                .map(|s| format!("{}: {}", s.path.display(), s.reason))
                .collect(),
        })
    }

    /// `open_video` / `reveal_video`: hands a library video's file to the desktop: its default
    /// player, or its folder in the file manager (with the file selected where the platform
    /// can). Only files the catalogue lists are ever opened: the UI names a video id.
    pub fn open_externally(&self, id: i64, how: crate::desktop::Open) -> Result<(), CommandError> {
        let engine = self.engine()?;
        let video = self.video(&engine, id)?;
        let path = PathBuf::from(&video.path);
        if !path.is_file() {
            return Err(CommandError::NotFound {
                message: format!("{}: the file is no longer there", video.path),
            });
        }
        crate::desktop::open(&path, how).map_err(|e| CommandError::Internal {
            message: format!("{}: cannot open it: {e}", video.path),
        })
    }

    /// The library video a `thumb:` or file-server request names (`/<id>`), or the HTTP status
    /// to answer: 400 (not an id), 503 (library not open), 404 (no such video).
    fn requested_video(&self, request_path: &str) -> Result<(Arc<Engine>, Video), u16> {
        let id = requested_id(request_path).ok_or(400u16)?;
        let engine = self.engine().map_err(|_| 503u16)?;
        let video = self.video(&engine, id).map_err(|_| 404u16)?;
        Ok((engine, video))
    }

    /// The player's file server (`media_server`): `/<video id>` with the request's `Range`
    /// header → bytes of that library video (see [`crate::media`]). The request names a video
    /// id, never a path: a file the catalogue does not list cannot be asked for. A video that
    /// failed to import is not served (it may not be a video at all), nor one whose file is
    /// gone (404).
    pub fn media(&self, request_path: &str, range: Option<&str>) -> Served {
        let video = match self.requested_video(request_path) {
            Ok((_, video)) => video,
            Err(status) => return Served::error(status),
        };
        if video.status == Status::Failed {
            return Served::error(404);
        }
        crate::media::serve_file(Path::new(&video.path), range)
    }
}

fn is_in_use(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Index(vclip_index::Error::LibraryInUse { .. })
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NoModel => CommandError::no_model(),
            EngineError::NotFound(_) => CommandError::NotFound {
                message: e.to_string(),
            },
            EngineError::Cancelled => CommandError::Cancelled {
                message: e.to_string(),
            },
            e if is_in_use(&e) => CommandError::LibraryUnavailable {
                message: e.to_string(),
                in_use: true,
            },
            EngineError::Index(vclip_index::Error::DiskFull { .. }) => CommandError::DiskFull {
                message: e.to_string(),
            },
            EngineError::NotReady { .. } => CommandError::NotReady {
                message: e.to_string(),
            },
            EngineError::Invalid(_) | EngineError::Steps(_) | EngineError::Dataset { .. } => {
                CommandError::Invalid {
                    message: e.to_string(),
                }
            }
            e => CommandError::Engine {
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod default_tests {
    use vclip_engine::open::default_model_in as default_in;

    #[test]
    fn the_clip_folder_is_the_default_only_when_it_is_the_only_model() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = tmp.path();
        let config = |name: &str| {
            std::fs::create_dir_all(m.join(name)).expect("mkdir");
            std::fs::write(m.join(name).join("config.json"), "{}").expect("write");
        };
        assert_eq!(default_in(m), m.join("videoclip"), "nothing there");
        config("clip-vit-b32");
        assert_eq!(default_in(m), m.join("clip-vit-b32"));
        config("videoclip");
        assert_eq!(default_in(m), m.join("videoclip"));
    }
}
