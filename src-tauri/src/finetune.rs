//! Fine-tuning from the window and the library's model versions (issue #8, item 7).
//!
//! The dialog asks [`AppCore::finetune_info`] what there is to train on (videos with subtitles
//! and cached features, training captions, held-out queries), how long it should take here
//! (the engine times a few real steps: `Engine::finetune_plan`) and where it runs (the model's
//! device). [`AppCore::start_finetune`] runs `Engine::finetune` on a
//! thread; its progress (step, loss, learning rate, pairs/s, and held-out recall after each
//! epoch) arrives as [`JobEvent::Progress`] with the engine's own event, then one
//! `Finished`, `Cancelled` or `Failed`. The new model is written beside the active one
//! (`<model>-ft-<unix time>`) and recorded as a version of the library (its parent the model it
//! was trained from: `vclip_engine::versions`), but not used until the user says so:
//! [`AppCore::use_version`] switches (re-embedding the library from the feature cache only
//! when that version's windows are missing; its own [`VersionSwitchEvent`]s) and
//! [`AppCore::rollback_version`] goes back to the version active before.
//!
//! While a fine-tune or a switch runs the library is not reopened (settings changes are
//! refused as busy); imports may run beside a fine-tune (it trains on what was there when it
//! started), not beside a switch's re-embedding.

use std::panic::{catch_unwind, AssertUnwindSafe};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vclip_engine::finetune::{FinetuneOptions, FinetunePlan, FinetuneReport, RecallMetrics};
use vclip_engine::versions::{self, VersionEntry};
use vclip_engine::{CancelToken, Engine, EngineError, ProgressEvent};

use crate::jobs::{Emit, JobEvent, JobSlot};
use crate::{AppCore, CommandError, ModelChoice};

/// What the user may set in the dialog; everything else is the paper's recipe
/// ([`FinetuneOptions::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FinetuneSettings {
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Videos per batch (the paper's 32; at most the library's).
    pub batch_videos: usize,
    /// Overlapped pairs drawn from each video of a batch.
    pub pairs_per_video: usize,
    /// Fraction of each video's captions held out to measure recall.
    pub holdout: f64,
    /// Train only the video side.
    #[serde(default)]
    pub freeze_text: bool,
}

impl FinetuneSettings {
    /// Defaults for a library of `videos` videos with subtitles: the paper's learning rate and
    /// pairs, batches of the whole library up to 32 videos, 5 epochs.
    pub fn suggested(videos: usize) -> Self {
        Self {
            epochs: 5,
            lr: 5e-5,
            batch_videos: videos.clamp(2, 32),
            pairs_per_video: 16,
            holdout: 0.1,
            freeze_text: false,
        }
    }

    /// The engine's options for a library of `videos` videos: warm-up over a tenth of the
    /// steps (the engine's 100 steps would be the whole run of a small library).
    pub fn options(&self, videos: usize) -> FinetuneOptions {
        let mut o = FinetuneOptions {
            epochs: self.epochs,
            lr: self.lr,
            batch_videos: self.batch_videos,
            pairs_per_video: self.pairs_per_video,
            holdout: self.holdout,
            freeze_text: self.freeze_text,
            ..FinetuneOptions::default()
        };
        let steps = o.batches_per_epoch(videos).max(1) * self.epochs.max(1);
        o.warmup_steps = (steps / 10).max(1);
        o
    }
}

/// What the fine-tune dialog shows before it starts (`finetune_plan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FinetuneInfo {
    /// The data, steps and the time estimate for `settings`; `None` when it cannot run.
    pub plan: Option<FinetunePlan>,
    /// Why it cannot run (no model, too few videos with subtitles, …).
    pub problem: Option<String>,
    pub settings: FinetuneSettings,
    /// Ready videos in the library (with or without subtitles).
    pub library_videos: usize,
    /// Where training runs, in words, and why not elsewhere.
    pub device: String,
    pub device_note: String,
    /// The model it starts from.
    pub base_version: Option<String>,
    pub base_dir: Option<String>,
    /// Its weights are random (a test model): the numbers mean little.
    pub random_weights: bool,
    /// A fine-tune is running now.
    pub running: bool,
}

/// What one fine-tune did, for the dialog.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FinetuneResult {
    pub before: RecallMetrics,
    /// The best epoch's (the new model's) held-out recall.
    pub after: RecallMetrics,
    pub best_epoch: usize,
    pub epochs: usize,
    /// The new model version and its folder (recorded, not active yet).
    pub model_version: String,
    pub model_dir: String,
    pub steps: usize,
    pub pairs_per_s: f64,
}

impl From<&FinetuneReport> for FinetuneResult {
    fn from(r: &FinetuneReport) -> Self {
        Self {
            before: r.before,
            after: r.after,
            best_epoch: r.best_epoch,
            epochs: r.epochs.len(),
            model_version: r.model_version.clone(),
            model_dir: r.model_dir.to_string_lossy().into_owned(),
            steps: r.steps,
            pairs_per_s: r.pairs_per_s,
        }
    }
}

/// What the fine-tune thread tells the window (the Tauri event `finetune`): the engine's
/// events (`started`, `progress` with `train`: epoch, loss, learning rate, pairs/s, the step
/// `done` of `total`; `epoch`: held-out recall, epoch 0 being the model before training;
/// `warning`), then the result; a cancel changes nothing and keeps the run's checkpoint.
pub type FinetuneEvent = JobEvent<FinetuneResult>;

/// Where the fine-tune's events go.
pub type EmitFinetune = Emit<FinetuneResult>;

/// What a switch of model version tells the window (the Tauri event `version-switch`): the
/// re-embedding's progress when that version's windows are missing, then the versions as they
/// are after it.
pub type VersionSwitchEvent = JobEvent<VersionsView>;

/// Where a version switch's events go.
pub type EmitVersionSwitch = Emit<VersionsView>;

/// The library's model versions, for the settings screen and the dialog (`model_versions`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct VersionsView {
    /// The version the library opens with (`None`: none recorded; the settings' or the default
    /// model is used).
    pub active: Option<String>,
    /// The version of the model loaded now.
    pub in_use: Option<String>,
    /// Where "Roll back" goes (the version active before, else the active one's parent).
    pub rollback_to: Option<String>,
    pub versions: Vec<VersionEntry>,
    /// `models.json` cannot be read (it names the file).
    pub error: Option<String>,
    /// What decides the model instead (`VCLIP_MODEL=…`): switching is refused.
    pub locked_by: Option<String>,
    /// A fine-tune or a switch is running.
    pub busy: bool,
}

/// The fine-tune thread and switches of this window.
#[derive(Debug, Default)]
pub(crate) struct Training {
    /// The running fine-tune.
    running: JobSlot,
    /// A switch of version is re-embedding the library.
    switching: AtomicBool,
}

impl Training {
    /// A fine-tune or a switch is running.
    pub(crate) fn busy(&self) -> bool {
        self.running.running() || self.switching.load(Ordering::SeqCst)
    }

    pub(crate) fn switching(&self) -> bool {
        self.switching.load(Ordering::SeqCst)
    }

    /// Asks a running fine-tune to stop; false when none runs.
    pub(crate) fn cancel(&self) -> bool {
        self.running.cancel()
    }
}

/// Clears the switching flag when a switch ends, however it ends.
struct SwitchGuard<'a>(&'a AtomicBool);

impl Drop for SwitchGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn busy(message: &str) -> CommandError {
    CommandError::Busy {
        message: message.to_owned(),
    }
}

/// Ready videos with at least one subtitle cue (what fine-tuning can use, features aside).
fn videos_with_subtitles(engine: &Engine) -> Result<(usize, usize), CommandError> {
    let ready = engine.videos_with_status(vclip_index::Status::Ready)?;
    let mut with = 0;
    for v in &ready {
        let cues = engine
            .with_catalogue(|c| c.cues_of(v.id))
            .map_err(EngineError::from)?;
        if !cues.is_empty() {
            with += 1;
        }
    }
    Ok((ready.len(), with))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

impl AppCore {
    /// `finetune_plan`: what a fine-tune with `settings` (default: [`FinetuneSettings::suggested`])
    /// would train on and how long it should take on this computer (a few real steps are
    /// timed, so this takes a moment). Never fails for want of data: `problem` says why not.
    pub fn finetune_info(
        &self,
        settings: Option<FinetuneSettings>,
    ) -> Result<FinetuneInfo, CommandError> {
        let engine = self.engine()?;
        let (library_videos, with_subtitles) = videos_with_subtitles(&engine)?;
        let settings = settings.unwrap_or_else(|| FinetuneSettings::suggested(with_subtitles));
        let mut info = FinetuneInfo {
            plan: None,
            problem: None,
            settings,
            library_videos,
            device: match engine.model().map(|m| m.device().is_cpu()) {
                Some(false) => "GPU".into(),
                _ => "CPU".into(),
            },
            device_note: "Training runs where the model runs (Models and settings: device), \
                          in full precision."
                .into(),
            base_version: engine.model_key().map(str::to_owned),
            base_dir: engine
                .model()
                .map(|m| m.dir().to_string_lossy().into_owned()),
            random_weights: engine.model().is_some_and(|m| m.is_random()),
            running: self.training.busy(),
        };
        if engine.model().is_none() {
            info.problem =
                Some("No model is loaded: get the weights first (Models and settings).".to_owned());
            return Ok(info);
        }
        match engine.finetune_plan(&settings.options(with_subtitles)) {
            Ok(plan) => {
                if plan.videos < 2 {
                    info.problem = Some(format!(
                        "Fine-tuning needs at least two imported videos with subtitles or text \
                         on screen (their lines are the training text); this library has {}.",
                        plan.videos
                    ));
                } else if plan.heldout_queries == 0 {
                    info.problem = Some(
                        "No subtitle line can be held out to measure recall: the videos need \
                         at least two subtitle lines each, or a larger held-out fraction."
                            .to_owned(),
                    );
                }
                info.plan = Some(plan);
            }
            Err(e) => info.problem = Some(e.to_string()),
        }
        Ok(info)
    }

    /// `start_finetune`: trains the active model on this library on a thread (one at a time);
    /// see the module docs for the events.
    pub fn start_finetune(
        self: &Arc<Self>,
        settings: FinetuneSettings,
        emit: EmitFinetune,
    ) -> Result<(), CommandError> {
        let engine = self.engine()?;
        let base = engine
            .model()
            .map(|m| m.dir().to_path_buf())
            .ok_or_else(CommandError::no_model)?;
        let (_, with_subtitles) = videos_with_subtitles(&engine)?;
        let opts = settings.options(with_subtitles);
        if self.training.switching() {
            return Err(busy("a fine-tune is already running"));
        }
        let cancel = self
            .training
            .running
            .claim("a fine-tune is already running")?;
        let out = vclip_engine::finetune::output_dir(&base);
        let library = self.library();
        let core = Arc::clone(self);
        let job = crate::jobs::next_job_id();
        let spawned = std::thread::Builder::new()
            .name("vclip-finetune".into())
            .spawn(move || {
                let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
                let outcome = catch_unwind(AssertUnwindSafe(
                    || -> Result<FinetuneResult, CommandError> {
                        let report = engine.finetune(&out, &opts, &sink, &cancel)?;
                        let metrics = versions::FinetuneMetrics::from(&report);
                        versions::record_finetune(&library, &base, &out, Some(metrics), false)?;
                        Ok(FinetuneResult::from(&report))
                    },
                ))
                .unwrap_or_else(|panic| {
                    Err(CommandError::Internal {
                        message: format!(
                            "the fine-tune stopped unexpectedly: {}",
                            panic_message(panic.as_ref())
                        ),
                    })
                });
                // The thread lets go of the library before it says it is done.
                drop(engine);
                core.training.running.release();
                emit(JobEvent::end(job, outcome, || {
                    let dir = out.display();
                    format!(
                        "Cancelled: nothing changed. The unfinished run is kept in {dir} \
                         (`vclip finetune --resume --out {dir}` continues it)."
                    )
                }));
            });
        if let Err(e) = spawned {
            self.training.running.release();
            return Err(CommandError::Internal {
                message: format!("cannot start the fine-tune thread: {e}"),
            });
        }
        Ok(())
    }

    /// `cancel_finetune`: stops the fine-tune after its current step. False when none runs.
    pub fn cancel_finetune(&self) -> bool {
        self.training.cancel()
    }

    /// Whether a fine-tune or a version switch runs.
    pub fn training_running(&self) -> bool {
        self.training.busy()
    }

    /// `model_versions`: the library's versions, the active one and where a rollback goes.
    pub fn versions_view(&self) -> VersionsView {
        let root = self.library();
        let in_use = self.status().model.version;
        let locked_by = self.setup.overrides.model_locked_by();
        let busy = self.training.busy();
        match versions::load(&root) {
            Ok(r) => VersionsView {
                rollback_to: versions::rollback_target(&root).ok().map(|v| v.version),
                active: r.active,
                in_use,
                versions: r.versions,
                error: None,
                locked_by,
                busy,
            },
            Err(e) => VersionsView {
                active: None,
                in_use,
                rollback_to: None,
                versions: Vec::new(),
                error: Some(e.to_string()),
                locked_by,
                busy,
            },
        }
    }

    /// `use_model_version`: makes the version `what` names (a `family/version` key, its last
    /// part or a unique start of it) the library's model.
    pub fn use_version(
        &self,
        what: &str,
        emit: EmitVersionSwitch,
    ) -> Result<VersionsView, CommandError> {
        let root = self.library();
        let entry = versions::load(&root)?.find(what)?.clone();
        self.switch_to(&entry, emit)
    }

    /// `rollback_model`: back to the version active before (else the active one's parent).
    pub fn rollback_version(&self, emit: EmitVersionSwitch) -> Result<VersionsView, CommandError> {
        let root = self.library();
        let entry = versions::rollback_target(&root)?;
        self.switch_to(&entry, emit)
    }

    /// Reopens the library with `entry`'s model, re-embeds it from the feature cache if that
    /// version's windows are missing, then records it as active. On failure the library is
    /// opened again as it was.
    fn switch_to(
        &self,
        entry: &VersionEntry,
        emit: EmitVersionSwitch,
    ) -> Result<VersionsView, CommandError> {
        if let Some(by) = self.setup.overrides.model_locked_by() {
            return Err(CommandError::Invalid {
                message: format!(
                    "{by} decides the model of this window: unset it to switch versions"
                ),
            });
        }
        if self.training.busy() {
            return Err(busy(
                "a fine-tune or a model switch is running: wait for it, then try again",
            ));
        }
        if !entry.dir.join("config.json").is_file() {
            return Err(CommandError::Invalid {
                message: format!(
                    "the model of version {} was in {}, which holds no model any more",
                    entry.version,
                    entry.dir.display()
                ),
            });
        }
        self.reopen_with(
            None,
            &ModelChoice::Dir(entry.dir.clone()),
            crate::settings::REOPEN_WAIT,
        )?;
        if self.training.switching.swap(true, Ordering::SeqCst) {
            return Err(busy("a model switch is running: wait for it"));
        }
        let guard = SwitchGuard(&self.training.switching);
        let job = crate::jobs::next_job_id();
        let switched = (|| {
            let engine = self.engine()?;
            if engine.model_key() != Some(entry.version.as_str()) {
                let why = self.status().model.error.unwrap_or_else(|| {
                    format!(
                        "the model in {} is not version {}",
                        entry.dir.display(),
                        entry.version
                    )
                });
                return Err(CommandError::Invalid {
                    message: format!("cannot use {}: {why}", entry.version),
                });
            }
            let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
            engine.switch_to_its_model(&sink, &CancelToken::new())?;
            Ok(())
        })();
        drop(guard);
        if let Err(e) = switched {
            // Back to what the library opens with.
            let _ = self.reopen_with(None, &ModelChoice::Default, crate::settings::REOPEN_WAIT);
            emit(JobEvent::Failed {
                job,
                error: e.clone(),
                last: true,
            });
            return Err(e);
        }
        let view = self.versions_view();
        emit(JobEvent::Finished {
            job,
            result: view.clone(),
            last: true,
        });
        Ok(view)
    }
}
