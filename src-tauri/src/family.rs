//! The model family from the window (issue #7, item 4): which family the library uses, the
//! other one on offer ("Fast (CLIP)" / "VideoCLIP (GPU)"), an import-time estimate measured on
//! this computer before a switch, and the switch itself.
//!
//! [`AppCore::families_view`] says which family is active (the loaded model's) and where the
//! other one's weights are ([`candidates`]: the version the library used before, the official
//! folder in the models folder, other recorded versions, the random test model), and what a
//! switch would do here (`vclip_engine::estimate::LibraryWork`: videos without that family's
//! features are decoded, the others re-embedded from the feature cache). Nothing is loaded.
//!
//! [`AppCore::estimate_family`] loads the other family's model (on the settings' device) and
//! runs `Engine::import_estimate`: a few seconds of real backbone calls and of the family's
//! decoder on the library's own videos. Refused while an import or fine-tune runs (it would
//! measure a busy machine).
//!
//! [`AppCore::switch_family`] reopens the library with the other family's model (as a version
//! switch does), then `Engine::ensure_embedded` runs on a thread: only videos without that
//! family's features are decoded. Progress arrives as [`JobEvent::Progress`]; at the end the
//! model is recorded as the library's active version (`models.json`), so the library opens with
//! it from then on. Cancel (or a failure) opens the library again with the model it had; the
//! features decoded so far stay cached, so a later switch does not decode them again.
//!
//! The other family's weights: [`AppCore::download_family`] (`pull_clip`, or the VideoCLIP
//! download) installs them without switching (events `family-download`), and
//! [`AppCore::use_test_clip_model`] writes a tiny random CLIP model for tests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use vclip_engine::estimate::{EstimateOptions, ImportEstimate, LibraryWork};
use vclip_engine::versions;
use vclip_engine::ProgressEvent;
use vclip_model::{Family, Preset};

use crate::jobs::{Emit, JobEvent, JobSlot};
use crate::settings::{Downloaded, EmitDownload};
use crate::{AppCore, CommandError, FileError, ModelChoice};

/// The random CLIP test model's folder in the models folder.
pub const TEST_CLIP_DIR: &str = "random-test-clip";
/// The random VideoCLIP test model's folder (`use_test_model`).
pub const TEST_VIDEOCLIP_DIR: &str = "random-test";

/// A family as the window names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum FamilyChoice {
    #[serde(rename = "videoclip")]
    VideoClip,
    #[serde(rename = "clip-vit-b32")]
    Clip,
}

impl From<Family> for FamilyChoice {
    fn from(f: Family) -> Self {
        match f {
            Family::VideoClip => Self::VideoClip,
            Family::Clip => Self::Clip,
        }
    }
}

impl FamilyChoice {
    pub fn family(self) -> Family {
        match self {
            Self::VideoClip => Family::VideoClip,
            Self::Clip => Family::Clip,
        }
    }

    /// What the window calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::VideoClip => "VideoCLIP (GPU)",
            Self::Clip => "Fast (CLIP)",
        }
    }

    /// The folder official weights are downloaded to, in the models folder.
    pub fn official_dir_name(self) -> &'static str {
        self.family().name()
    }

    fn test_dir_name(self) -> &'static str {
        match self {
            Self::VideoClip => TEST_VIDEOCLIP_DIR,
            Self::Clip => TEST_CLIP_DIR,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::VideoClip => Self::Clip,
            Self::Clip => Self::VideoClip,
        }
    }
}

/// One family on the settings screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FamilyOption {
    pub family: FamilyChoice,
    /// "Fast (CLIP)" or "VideoCLIP (GPU)".
    pub label: String,
    /// Where its weights are (`None`: not on this computer).
    pub dir: Option<String>,
    /// `family/version` of those weights.
    pub version: Option<String>,
    /// They are random (a test model): visual matches mean nothing.
    pub random: bool,
    /// Where a download puts the official weights.
    pub download_dir: Option<String>,
    /// What switching to it does in this library (`None` for the active family, or when the
    /// weights are absent or the library is not open).
    pub work: Option<LibraryWork>,
    /// A caveat in words (VideoCLIP without a GPU: slow here).
    pub note: Option<String>,
}

/// The family part of the settings screen (`model_families`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FamiliesView {
    /// The family of the loaded model, with its folder (`None`: no model is loaded).
    pub active: Option<FamilyOption>,
    /// The one on offer.
    pub other: FamilyOption,
    /// Models run on the GPU here.
    pub gpu: bool,
    /// What decides the model instead (`VCLIP_MODEL=…`): switching is refused.
    pub locked_by: Option<String>,
    /// A switch is running.
    pub switching: bool,
    /// A download of the other family's weights is running.
    pub downloading: bool,
}

/// A measured estimate for a family (`estimate_family`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FamilyEstimate {
    pub family: FamilyChoice,
    pub label: String,
    /// The model folder measured.
    pub dir: String,
    pub estimate: ImportEstimate,
    /// Seconds it took to load that model first (`None`: it was the loaded one).
    pub load_s: Option<f64>,
}

/// The answer to `switch_family`: the switch runs; this is what it will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SwitchStarted {
    pub family: FamilyChoice,
    pub dir: String,
    pub version: String,
    pub work: LibraryWork,
}

/// What a finished switch did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SwitchSummary {
    pub family: FamilyChoice,
    pub label: String,
    pub version: String,
    /// Videos decoded with the family's frame sampling (they had no features of it).
    pub decoded: usize,
    /// Videos re-embedded from cached features, without decoding.
    pub reembedded: usize,
    /// Videos that could not be done, with the reason.
    pub failed: Vec<FileError>,
    pub wall_s: f64,
}

/// What a switch tells the window (the Tauri event `family-switch`): progress (`reindex`,
/// re-embedding from cached features, in videos; then `import`, decoding, in video-seconds,
/// when some videos have no features of the family), then the summary; a cancel leaves the
/// library on the model it had, with what was decoded kept in the cache.
pub type FamilyEvent = JobEvent<SwitchSummary>;

/// Where a switch's events go.
pub type EmitFamily = Emit<SwitchSummary>;

/// The family jobs of this window: the estimate, the switch, the download.
#[derive(Debug, Default)]
pub(crate) struct Families {
    /// The running estimate.
    estimate: JobSlot,
    /// The running switch.
    switch: JobSlot,
    /// A switch holds the library (set before it reopens it, cleared when it has let go).
    switching: AtomicBool,
}

impl Families {
    /// A family switch is running.
    pub(crate) fn switching(&self) -> bool {
        self.switching.load(Ordering::SeqCst)
    }

    /// An estimate is measuring (it holds the library).
    pub(crate) fn measuring(&self) -> bool {
        self.estimate.running()
    }

    /// Asks the estimate and the switch to stop; false when neither runs.
    pub(crate) fn cancel(&self) -> bool {
        // Both are asked, whatever the first answers.
        let estimate = self.estimate.cancel();
        self.switch.cancel() || estimate
    }
}

/// Clears a job's slot (and the switching flag) when it ends, however it ends.
struct Clear<'a> {
    slot: &'a JobSlot,
    flag: Option<&'a AtomicBool>,
}

impl Drop for Clear<'_> {
    fn drop(&mut self) {
        self.slot.release();
        if let Some(f) = self.flag {
            f.store(false, Ordering::SeqCst);
        }
    }
}

fn busy(message: &str) -> CommandError {
    CommandError::Busy {
        message: message.to_owned(),
    }
}

fn invalid(message: String) -> CommandError {
    CommandError::Invalid { message }
}

fn has_model(dir: &Path) -> bool {
    dir.join(vclip_model::model_dir::CONFIG_FILE).is_file()
}

/// The model folders of `family` this library could switch to, best first: the version it
/// used before (its `previous` in `models.json`), the official weights (`<family name>` in the
/// models folder), other recorded versions of the family (newest first), the random test model.
pub fn candidates(family: Family, library: &Path, models_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |dir: PathBuf| {
        let is_family = vclip_model::Family::of_dir(&dir).is_ok_and(|f| f == family);
        if has_model(&dir) && is_family && !out.contains(&dir) {
            out.push(dir);
        }
    };
    let registry = versions::load(library).ok();
    if let Some(r) = &registry {
        if let Some(prev) = r.previous.as_deref().and_then(|p| r.get(p)) {
            push(prev.dir.clone());
        }
    }
    let choice = FamilyChoice::from(family);
    if let Some(m) = models_dir {
        push(m.join(choice.official_dir_name()));
    }
    if let Some(r) = &registry {
        let mut entries: Vec<_> = r.versions.iter().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.created_unix));
        for e in entries {
            push(e.dir.clone());
        }
    }
    if let Some(m) = models_dir {
        push(m.join(choice.test_dir_name()));
    }
    out
}

impl AppCore {
    /// The family on offer: the other one than the loaded model's (CLIP when none is loaded).
    fn other_family(&self) -> FamilyChoice {
        match self
            .engine()
            .ok()
            .and_then(|e| e.model().map(|m| m.family()))
        {
            Some(f) => FamilyChoice::from(f).other(),
            None => FamilyChoice::Clip,
        }
    }

    /// The folder the other family's model would come from, if it is on this computer.
    fn other_dir(&self, family: FamilyChoice) -> Option<PathBuf> {
        let models = self.setup.models_dir().ok();
        candidates(family.family(), &self.library(), models.as_deref())
            .into_iter()
            .next()
    }

    /// `model_families`: the active family and the other one (see the module docs).
    pub fn families_view(&self) -> FamiliesView {
        let gpu = self.setup.load_options().gpu;
        let engine = self.engine().ok();
        let loaded = engine.as_ref().and_then(|e| e.model());
        let active = loaded.map(|m| {
            let family = FamilyChoice::from(m.family());
            FamilyOption {
                family,
                label: family.label().to_owned(),
                dir: Some(m.dir().to_string_lossy().into_owned()),
                version: engine
                    .as_ref()
                    .and_then(|e| e.model_key())
                    .map(str::to_owned),
                random: m.is_random(),
                download_dir: None,
                work: None,
                note: None,
            }
        });
        let family = self.other_family();
        let dir = self.other_dir(family);
        let described = dir.as_deref().and_then(|d| vclip_engine::dir_model(d).ok());
        let work = match (&engine, &described) {
            (Some(e), Some(d)) => e.embed_work(&d.version).ok(),
            _ => None,
        };
        let note = (family == FamilyChoice::VideoClip && !gpu).then(|| {
            "This computer runs the models on its CPU (no GPU in this build or not chosen): \
             VideoCLIP decodes every frame and runs S3D-G on each second of video, so importing \
             with it is slow here."
                .to_owned()
        });
        let other = FamilyOption {
            family,
            label: family.label().to_owned(),
            dir: dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            version: described.as_ref().map(|d| d.version.key()),
            random: described.as_ref().is_some_and(|d| d.random_weights),
            download_dir: self.setup.models_dir().ok().map(|m| {
                m.join(family.official_dir_name())
                    .to_string_lossy()
                    .into_owned()
            }),
            work,
            note,
        };
        FamiliesView {
            active,
            other,
            gpu,
            locked_by: self.model_locked_by(),
            switching: self.families.switching(),
            downloading: self.setup.download.running(),
        }
    }

    fn model_locked_by(&self) -> Option<String> {
        self.setup.overrides.model_locked_by()
    }

    /// `estimate_family`: how long importing with `family` would take on this computer,
    /// measured now (loads its model unless it is the loaded one). Takes a few seconds;
    /// [`AppCore::cancel_family`] stops it.
    pub fn estimate_family(
        &self,
        family: FamilyChoice,
        opts: &EstimateOptions,
    ) -> Result<FamilyEstimate, CommandError> {
        let engine = self.engine()?;
        if self.job_running() || self.training_running() || self.families.switching() {
            return Err(busy(
                "an import, a fine-tune or a switch is running: measuring now would time a busy \
                 computer; try again when it is done",
            ));
        }
        let cancel = self
            .families
            .estimate
            .claim("a measurement is already running")?;
        let _clear = Clear {
            slot: &self.families.estimate,
            flag: None,
        };
        let loaded_here = engine
            .model()
            .filter(|m| FamilyChoice::from(m.family()) == family);
        let (estimate, dir, load_s) = match loaded_here {
            Some(m) => (
                engine.import_estimate(Some(m), opts, &cancel)?,
                m.dir().to_path_buf(),
                None,
            ),
            None => {
                let dir = self.other_dir(family).ok_or_else(|| {
                    invalid(format!(
                        "the {} weights are not on this computer: download them first",
                        family.label()
                    ))
                })?;
                let t = Instant::now();
                let model = self.setup.load_model(&self.library(), &dir).map_err(|e| {
                    invalid(format!(
                        "the model in {} cannot be loaded: {e}",
                        dir.display()
                    ))
                })?;
                let load_s = t.elapsed().as_secs_f64();
                let e = engine.import_estimate(Some(&model), opts, &cancel)?;
                (e, dir, Some(load_s))
            }
        };
        Ok(FamilyEstimate {
            family,
            label: family.label().to_owned(),
            dir: dir.to_string_lossy().into_owned(),
            estimate,
            load_s,
        })
    }

    /// `cancel_family`: stops a running estimate or switch (a switch then opens the library
    /// with the model it had). False when neither runs.
    pub fn cancel_family(&self) -> bool {
        self.families.cancel()
    }

    /// `switch_family`: makes `family` the library's model (see the module docs). Returns what
    /// the switch will do once it has started; its progress and end arrive as [`FamilyEvent`]s.
    pub fn switch_family(
        self: &Arc<Self>,
        family: FamilyChoice,
        emit: EmitFamily,
    ) -> Result<SwitchStarted, CommandError> {
        if let Some(by) = self.model_locked_by() {
            return Err(invalid(format!(
                "{by} decides the model of this window: unset it to switch families"
            )));
        }
        if self.families.switching() {
            return Err(busy("a switch is already running"));
        }
        if self.families.measuring() {
            return Err(busy("a measurement is running: wait for it or cancel it"));
        }
        let engine = self.engine()?;
        if engine
            .model()
            .is_some_and(|m| FamilyChoice::from(m.family()) == family)
        {
            return Err(invalid(format!(
                "the library already uses {}",
                family.label()
            )));
        }
        let dir = self.other_dir(family).ok_or_else(|| {
            invalid(format!(
                "the {} weights are not on this computer: download them first",
                family.label()
            ))
        })?;
        let target = vclip_engine::dir_model(&dir)?;
        let work = engine.embed_work(&target.version)?;
        let root = self.library();
        // The model in use now is recorded first, so that the library keeps it (and a cancel
        // or failure returns to it, and a rollback knows it) even if it recorded no versions.
        if let Some(m) = engine.model() {
            if versions::load(&root)?.active.is_none() {
                versions::register_and_activate(&root, m.dir())?;
            }
        }
        drop(engine);
        let cancel = self.families.switch.claim("a switch is already running")?;
        if self.families.switching.swap(true, Ordering::SeqCst) {
            self.families.switch.release();
            return Err(busy("a switch is already running"));
        }
        let clear = Clear {
            slot: &self.families.switch,
            flag: Some(&self.families.switching),
        };
        // Imports and other reopenings are refused from here on; this switch reopens itself.
        let key = target.version.key();
        let opened = self
            .reopen(
                None,
                &ModelChoice::Dir(dir.clone()),
                crate::settings::REOPEN_WAIT,
                true,
            )
            .and_then(|()| match self.engine() {
                Ok(e) if e.model_key() == Some(key.as_str()) => Ok(e),
                other => {
                    let why = match other {
                        Err(e) => e.to_string(),
                        Ok(_) => self.status().model.error.unwrap_or_else(|| {
                            format!("the model in {} is not version {key}", dir.display())
                        }),
                    };
                    let _ = self.reopen(
                        None,
                        &ModelChoice::Default,
                        crate::settings::REOPEN_WAIT,
                        true,
                    );
                    Err(invalid(format!("cannot use {}: {why}", family.label())))
                }
            });
        let engine = match opened {
            Ok(e) => e,
            Err(e) => {
                drop(clear);
                return Err(e);
            }
        };
        // From here the thread owns the job's slot and flag.
        std::mem::forget(clear);
        let started = SwitchStarted {
            family,
            dir: dir.to_string_lossy().into_owned(),
            version: key.clone(),
            work: work.clone(),
        };
        let core = Arc::clone(self);
        let job = crate::jobs::next_job_id();
        let spawned = std::thread::Builder::new()
            .name("vclip-family".into())
            .spawn(move || {
                let t = Instant::now();
                let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    engine
                        .switch_to_its_model(&sink, &cancel)
                        .map(|s| s.reindex)
                        .map_err(CommandError::from)
                }))
                .unwrap_or_else(|_| {
                    Err(CommandError::Internal {
                        message: "the switch stopped unexpectedly".into(),
                    })
                });
                // The thread lets go of the library before anything reopens it.
                drop(engine);
                let summary = |report: Option<vclip_engine::ReindexReport>| {
                    let r = report.unwrap_or_default();
                    SwitchSummary {
                        family,
                        label: family.label().to_owned(),
                        version: key,
                        decoded: r.decoded,
                        reembedded: r.reembedded,
                        failed: r.failed.into_iter().map(FileError::from).collect(),
                        wall_s: t.elapsed().as_secs_f64(),
                    }
                };
                let event = JobEvent::end(job, outcome.map(summary), || {
                    format!(
                        "Switching to {} was cancelled: the library uses the model it had. \
                         What was decoded so far is kept, so switching again carries on from \
                         there.",
                        family.label()
                    )
                });
                let done = matches!(event, JobEvent::Finished { .. });
                if !done {
                    // Back to the model the library opens with (its active version), before
                    // imports are allowed again.
                    if let Err(e) = core.reopen(
                        None,
                        &ModelChoice::Default,
                        crate::settings::REOPEN_WAIT,
                        true,
                    ) {
                        eprintln!("vclip-app: reopening the library after the switch: {e}");
                    }
                }
                drop(Clear {
                    slot: &core.families.switch,
                    flag: Some(&core.families.switching),
                });
                emit(event);
            });
        if let Err(e) = spawned {
            let _ = self.reopen(
                None,
                &ModelChoice::Default,
                crate::settings::REOPEN_WAIT,
                true,
            );
            self.families.switch.release();
            self.families.switching.store(false, Ordering::SeqCst);
            return Err(CommandError::Internal {
                message: format!("cannot start the switch thread: {e}"),
            });
        }
        Ok(started)
    }

    /// `use_test_clip_model`: writes a tiny random-weight CLIP model (`random-test-clip` in
    /// the models folder) to try the switch with. It is offered, not used: its visual matches
    /// mean nothing.
    pub fn use_test_clip_model(&self) -> Result<FamiliesView, CommandError> {
        let out = self.setup.models_dir()?.join(TEST_CLIP_DIR);
        if !has_model(&out) {
            vclip_model::init_random_clip(Preset::Tiny, 7, &out, None).map_err(|e| {
                CommandError::File {
                    message: format!("cannot write the test model in {}: {e}", out.display()),
                }
            })?;
        }
        Ok(self.families_view())
    }

    /// `download_family`: downloads the official weights of `family` into the models folder
    /// (`pull_clip`, or the VideoCLIP download), on a thread, without switching: the screen
    /// then offers the switch with its estimate. `mirrors` are tried first (tests).
    pub fn download_family(
        self: &Arc<Self>,
        family: FamilyChoice,
        mirrors: Vec<String>,
        preset: Preset,
        emit: EmitDownload,
    ) -> Result<(), CommandError> {
        let models = self.setup.models_dir()?;
        // The settings' download shares the slot: both may write `videoclip` and `downloads/`.
        let cancel = self.setup.download.claim(crate::settings::DOWNLOAD_BUSY)?;
        let out = models.join(family.official_dir_name());
        let core = Arc::clone(self);
        let job = crate::jobs::next_job_id();
        let spawned = std::thread::Builder::new()
            .name("vclip-download".into())
            .spawn(move || {
                let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
                let pulled = match family {
                    FamilyChoice::Clip => {
                        vclip_engine::models::pull_clip(&out, &mirrors, &sink, &cancel)
                            .map(|s| Some(s.weights_line()))
                    }
                    FamilyChoice::VideoClip => {
                        let opts = vclip_engine::models::PullOptions {
                            downloads: models.join("downloads"),
                            out_dir: out.clone(),
                            mirrors,
                            preset,
                        };
                        vclip_engine::models::pull(&opts, &sink, &cancel).map(|_| None)
                    }
                };
                core.setup.download.release();
                let outcome = pulled
                    .map(|checked| Downloaded {
                        dir: out.to_string_lossy().into_owned(),
                        reopened: false,
                        checked,
                    })
                    .map_err(crate::settings::pull_error);
                emit(JobEvent::end(
                    job,
                    outcome,
                    crate::settings::download_cancelled,
                ));
            });
        if let Err(e) = spawned {
            self.setup.download.release();
            return Err(CommandError::Internal {
                message: format!("cannot start the download thread: {e}"),
            });
        }
        Ok(())
    }

    /// `cancel_family_download`: stops the download at its next checkpoint (it resumes next
    /// time). False when none runs.
    pub fn cancel_family_download(&self) -> bool {
        self.setup.download.cancel()
    }
}
