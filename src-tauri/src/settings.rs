//! Models and settings (issue #5): the settings file, the device and text precision the model
//! loads with, the library location, and getting weights (import of the released files, the
//! download, or a clearly labelled random test model). The halves that need no window live
//! here as [`AppCore`] functions; `commands.rs` opens the native dialogs and forwards events.
//!
//! # The settings file
//! `settings.json` in the per-user config folder ([`settings_path`]; `$VCLIP_SETTINGS` names
//! another file), written atomically:
//! `{"version":1,"library":null|"DIR","model":null|"DIR","device":"auto|cpu|gpu",
//! "text_precision":"auto|q8|f32"}`. Missing fields take their defaults and unknown ones are
//! ignored; a file that cannot be read or parsed gives the defaults and a warning on the
//! settings screen (it is rewritten only when a setting is changed). The command line and the
//! environment win over the file: `--library` / `$VCLIP_LIBRARY`, `$VCLIP_MODEL`,
//! `$VCLIP_TEXT_PRECISION`; the screen says which one is in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vclip_engine::open::{
    Environment, ModelNeed, ModelRequest, OpenRequest, Preferences, Provenance,
};
use vclip_engine::ProgressEvent;
use vclip_model::{Precision, Preset};

use crate::jobs::{Emit, JobEvent, JobSlot};
use crate::{AppCore, CommandError, ModelChoice, ModelStatus};

/// Environment variable naming the settings file (tests, portable setups).
pub const SETTINGS_ENV: &str = "VCLIP_SETTINGS";

/// How long a reopen waits for searches still holding the old library.
pub(crate) const REOPEN_WAIT: Duration = Duration::from_secs(5);

/// Where the model runs: the GPU when the build has one (`auto`), or as chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Gpu,
}

/// The text tower's precision for queries: `auto` is the CPU's default (q8 where VClip has an
/// 8-bit kernel for the CPU, see [`CpuKernels`]), f32 on a GPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum PrecisionChoice {
    #[default]
    Auto,
    Q8,
    F32,
}

/// The settings file's content. Every field has a default, so a partial file is fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Format version (1).
    pub version: u32,
    /// The library folder; `None`: the default one.
    pub library: Option<PathBuf>,
    /// The model folder; `None`: `videoclip` in the models folder.
    pub model: Option<PathBuf>,
    pub device: DeviceChoice,
    pub text_precision: PrecisionChoice,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: 1,
            library: None,
            model: None,
            device: DeviceChoice::Auto,
            text_precision: PrecisionChoice::Auto,
        }
    }
}

impl Settings {
    /// Reads `path`: a missing file is the defaults; one that cannot be read or parsed is the
    /// defaults and a warning saying why. Never fails.
    pub fn load(path: &Path) -> (Settings, Option<String>) {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "the settings file {} cannot be read ({e}): using the defaults",
                        path.display()
                    )),
                )
            }
        };
        // An object only (serde would also take a JSON array as the fields in order).
        let parsed = serde_json::from_slice::<serde_json::Value>(&bytes).and_then(|v| {
            if v.is_object() {
                serde_json::from_value::<Settings>(v)
            } else {
                Err(serde::de::Error::custom("not a JSON object"))
            }
        });
        match parsed {
            Ok(s) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "the settings file {} is damaged ({e}): using the defaults; changing a \
                     setting rewrites it",
                    path.display()
                )),
            ),
        }
    }

    /// Writes the settings to `path` atomically (the folder is created if missing).
    pub fn save(&self, path: &Path) -> Result<(), CommandError> {
        let file_error = |message: String| CommandError::File { message };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                file_error(format!(
                    "cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| file_error(format!("cannot encode the settings: {e}")))?;
        vclip_index::atomic::write_atomically(path, |w| {
            std::io::Write::write_all(w, &json)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|e| file_error(format!("cannot save the settings: {e}")))
    }
}

/// The settings file's default place: `$VCLIP_SETTINGS`, else `settings.json` in the per-user
/// config folder (`$XDG_CONFIG_HOME/vclip` or `~/.config/vclip` on Linux, `~/Library/Application
/// Support/VClip` on macOS, `%APPDATA%\VClip` on Windows). `None` without a home folder.
pub fn settings_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SETTINGS_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = if cfg!(target_os = "windows") {
        env("APPDATA").map(|d| d.join("VClip"))
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Application Support/VClip"))
    } else {
        env("XDG_CONFIG_HOME")
            .map(|d| d.join("vclip"))
            .or_else(|| env("HOME").map(|h| h.join(".config/vclip")))
    };
    dir.map(|d| d.join("settings.json"))
}

/// How the model is loaded: on the GPU or not, at which text precision (`None`: the device's
/// default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    pub gpu: bool,
    pub precision: Option<Precision>,
}

/// What wins over the settings file: `--library`, and the environment the library opens with
/// (read by the engine's [`Environment::from_process`], never here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--library` or `VCLIP_LIBRARY`.
    pub library: Option<String>,
    pub env: Environment,
}

impl Overrides {
    /// The overrides in force for this process (`explicit_library`: `--library` was given).
    pub fn from_environment(explicit_library: bool) -> Self {
        Self::from_env(Environment::from_process(), explicit_library)
    }

    /// The overrides `env` makes (`explicit_library`: `--library` was given).
    pub fn from_env(env: Environment, explicit_library: bool) -> Self {
        Self {
            library: if explicit_library {
                Some("--library".into())
            } else {
                env.library
                    .as_ref()
                    .map(|_| vclip_engine::library::LIBRARY_ENV.into())
            },
            env,
        }
    }

    /// `VCLIP_MODEL=<dir>` when the environment fixes the model folder.
    pub fn model_locked_by(&self) -> Option<String> {
        let var = vclip_engine::open::MODEL_ENV;
        self.env
            .model
            .as_ref()
            .map(|d| format!("{var}={}", d.display()))
    }

    /// `VCLIP_TEXT_PRECISION` when the environment fixes the query precision.
    pub fn precision_locked_by(&self) -> Option<String> {
        self.env
            .text_precision
            .as_ref()
            .map(|_| vclip_engine::open::TEXT_PRECISION_ENV.into())
    }
}

/// The settings state an [`AppCore`] carries. `Setup::default()` (tests, `AppCore::new`) has
/// no file: changes stay in memory, and the models folder is the default one.
#[derive(Debug, Default)]
pub struct Setup {
    /// The settings file; `None`: nothing is persisted.
    file: Option<PathBuf>,
    /// Where weights are written (`videoclip`, `random-test`, `downloads` inside it); `None`:
    /// [`vclip_engine::default_models_dir`].
    models_dir: Option<PathBuf>,
    pub(crate) overrides: Overrides,
    state: Mutex<State>,
    /// The window's one weight download at a time. The settings' VideoCLIP download and the
    /// family screen's download (either family) both claim it, so two downloads never write the
    /// same `downloads/` part files or model folder at once.
    pub(crate) download: JobSlot,
}

#[derive(Debug, Default)]
struct State {
    settings: Settings,
    warning: Option<String>,
    opened: Option<Provenance>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether this build can use a GPU (`vclip_model::device(true)`), and if not, why. Asked once.
pub fn gpu_support() -> &'static Result<(), String> {
    vclip_engine::open::gpu_support()
}

impl Setup {
    /// Settings read from `file` (see [`Settings::load`]), weights written under `models_dir`.
    pub fn new(file: Option<PathBuf>, models_dir: Option<PathBuf>, overrides: Overrides) -> Self {
        let (settings, warning) = match &file {
            Some(f) => Settings::load(f),
            None => (Settings::default(), None),
        };
        Self {
            file,
            models_dir,
            overrides,
            state: Mutex::new(State {
                settings,
                warning,
                opened: None,
            }),
            download: JobSlot::default(),
        }
    }

    /// The app's setup: [`settings_path`], the environment's overrides.
    pub fn from_environment(explicit_library: bool) -> Self {
        Self::new(
            settings_path(),
            None,
            Overrides::from_environment(explicit_library),
        )
    }

    /// The settings as they are now.
    pub fn settings(&self) -> Settings {
        lock(&self.state).settings.clone()
    }

    /// The library folder the settings name, unless `--library` / `$VCLIP_LIBRARY` win.
    pub fn library(&self) -> Option<PathBuf> {
        if self.overrides.library.is_some() {
            return None;
        }
        lock(&self.state).settings.library.clone()
    }

    /// Notes a warning for the settings screen (e.g. the saved library could not be opened).
    pub fn warn(&self, warning: String) {
        lock(&self.state).warning = Some(warning);
    }

    /// What the engine is asked for when the window opens `library` with `choice`
    /// ([`vclip_engine::open`]): [`ModelChoice::Default`] is, unless `$VCLIP_MODEL` is set, the
    /// library's active model version (`models.json`), else the settings' model, else the
    /// default folder; the device and precision as the settings say, unless the environment
    /// says otherwise. The window opens without a model rather than not at all.
    pub(crate) fn open_request(&self, library: &Path, choice: &ModelChoice) -> OpenRequest {
        let settings = self.settings();
        OpenRequest {
            library: Some(library.to_owned()),
            model: match choice {
                ModelChoice::Default => ModelRequest::Auto,
                ModelChoice::Dir(d) => ModelRequest::Dir(d.clone()),
                ModelChoice::None => ModelRequest::None,
            },
            need: ModelNeed::Optional,
            models_dir: self.models_dir.clone(),
            preferences: Preferences {
                model: settings.model,
                gpu: match settings.device {
                    DeviceChoice::Cpu => Some(false),
                    DeviceChoice::Gpu => Some(true),
                    DeviceChoice::Auto => None,
                },
                text_precision: self.load_options().precision,
                ..Preferences::default()
            },
            env: self.overrides.env.clone(),
            ..OpenRequest::default()
        }
    }

    /// Loads the model in `dir` as opening `library` with it would (device, precisions, the
    /// environment first): the family screen's estimate of a model the library does not use.
    pub(crate) fn load_model(
        &self,
        library: &Path,
        dir: &Path,
    ) -> Result<vclip_model::Model, vclip_engine::open::OpenError> {
        let request = self.open_request(library, &ModelChoice::Dir(dir.to_owned()));
        let device = request.device().value;
        let text = request.text_precision(device)?;
        let image = request.image_precision(device)?;
        vclip_engine::open::load_model(dir, device, &text, &image)
    }

    /// Keeps what the last open chose, for the settings screen.
    pub(crate) fn note_opened(&self, provenance: &Provenance) {
        lock(&self.state).opened = Some(provenance.clone());
    }

    /// What the last open chose.
    pub fn opened(&self) -> Option<Provenance> {
        lock(&self.state).opened.clone()
    }

    /// How the model loads under these settings.
    pub(crate) fn load_options(&self) -> LoadOptions {
        let s = self.settings();
        LoadOptions {
            gpu: match s.device {
                DeviceChoice::Cpu => false,
                DeviceChoice::Gpu => true,
                DeviceChoice::Auto => gpu_support().is_ok(),
            },
            precision: match s.text_precision {
                PrecisionChoice::Auto => None,
                PrecisionChoice::Q8 => Some(Precision::Q8),
                PrecisionChoice::F32 => Some(Precision::F32),
            },
        }
    }

    /// Changes the settings and saves them (when there is a file). The in-memory settings
    /// change even if saving fails; the error says so.
    fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<(), CommandError> {
        let mut state = lock(&self.state);
        change(&mut state.settings);
        let Some(file) = &self.file else {
            return Ok(());
        };
        state.settings.save(file)?;
        state.warning = None;
        Ok(())
    }

    /// The folder weights are written to.
    pub(crate) fn models_dir(&self) -> Result<PathBuf, CommandError> {
        match &self.models_dir {
            Some(d) => Ok(d.clone()),
            None => vclip_engine::default_models_dir().map_err(|e| CommandError::Invalid {
                message: e.to_string(),
            }),
        }
    }
}

/// The settings screen's content (`get_settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsView {
    /// The settings file (`None`: not saved anywhere).
    pub file: Option<String>,
    /// Why the file was not used (damaged, unreadable), if so.
    pub warning: Option<String>,
    pub library: String,
    /// What fixes the library location instead (`--library`, `VCLIP_LIBRARY`).
    pub library_locked_by: Option<String>,
    pub model: ModelStatus,
    /// What fixes the model folder instead (`VCLIP_MODEL`).
    pub model_locked_by: Option<String>,
    /// Where downloaded or imported official weights go.
    pub official_model_dir: Option<String>,
    pub device: DeviceChoice,
    /// Where the model runs now: `cpu` or `gpu`.
    #[cfg_attr(test, ts(type = r#""cpu" | "gpu""#))]
    pub device_in_use: &'static str,
    /// This build can use a GPU.
    pub gpu_available: bool,
    /// Why not, when it cannot.
    pub gpu_reason: Option<String>,
    pub text_precision: PrecisionChoice,
    /// What fixes the precision instead (`VCLIP_TEXT_PRECISION`).
    pub precision_locked_by: Option<String>,
    /// The CPU kernels in use and the precision `auto` means on this CPU.
    pub cpu: CpuKernels,
    /// A download of the weights is running.
    pub downloading: bool,
}

/// Which vector instructions the model's CPU kernels use, which 8-bit kernel runs, and what
/// `auto` precision picks on this CPU and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CpuKernels {
    /// The level in use (`avx2`, `avx-vnni`, `avx512-vnni`, `neon-dot`, `portable`, …).
    pub level: String,
    /// The widest level this CPU has (`VCLIP_CPU_LEVEL` may cap `level` below it).
    pub detected: String,
    /// VClip's 8-bit kernel at `level`, if it has one.
    pub q8_kernel: Option<String>,
    /// What `auto` precision is on this CPU.
    #[cfg_attr(test, ts(type = r#""q8" | "f32""#))]
    pub auto_precision: &'static str,
    /// Why, in a sentence.
    pub why: String,
}

impl CpuKernels {
    /// The kernels of this process now.
    pub fn now() -> Self {
        CpuKernels {
            level: vclip_model::cpu_level().name().to_owned(),
            detected: vclip_model::detected_level().name().to_owned(),
            q8_kernel: vclip_model::q8_path().map(|p| p.name().to_owned()),
            auto_precision: Precision::cpu_default().name(),
            why: Precision::cpu_default_reason(),
        }
    }
}

/// What the UI may change directly (`update_settings`); `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsChange {
    #[cfg_attr(test, ts(optional))]
    pub device: Option<DeviceChoice>,
    #[cfg_attr(test, ts(optional))]
    pub text_precision: Option<PrecisionChoice>,
}

/// Installed weights: the end of a download job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Downloaded {
    /// The model folder they are in.
    pub dir: String,
    /// The library now uses them (false while an import runs: they are used at the next start
    /// or settings change; always false for the family screen's download, which only offers
    /// the switch).
    pub reopened: bool,
    /// The weights file's SHA-256 and what it was checked against, as `vclip models pull`
    /// prints it (`model.safetensors sha256 … (verified: declared by huggingface.co)`, or
    /// `(not verified)`); none for the VideoCLIP download.
    pub checked: Option<String>,
}

/// What a download tells the window (the Tauri events `model-download` and
/// `family-download`): the engine's progress in bytes, one file at a time, then the weights.
pub type DownloadEvent = JobEvent<Downloaded>;

/// Where the download's events go.
pub type EmitDownload = Emit<Downloaded>;

/// What a second download is told.
pub(crate) const DOWNLOAD_BUSY: &str = "the weights are already being downloaded";

/// A failed pull as the window's error: a cancel is `Cancelled`, the rest `Download` with the
/// engine's words (they name the file or address and the reason).
pub(crate) fn pull_error(e: vclip_engine::models::PullError) -> CommandError {
    match e {
        vclip_engine::models::PullError::Download(
            vclip_engine::download::DownloadError::Cancelled,
        ) => CommandError::Cancelled {
            message: "cancelled".into(),
        },
        e => CommandError::Download {
            message: e.to_string(),
        },
    }
}

/// What a cancelled download says.
pub(crate) fn download_cancelled() -> String {
    "Download cancelled: it resumes where it stopped next time.".into()
}

/// The three files an official import takes, recognised by name among what the user picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightFiles {
    pub videoclip: PathBuf,
    pub s3d: PathBuf,
    pub vocab: PathBuf,
}

impl WeightFiles {
    /// Sorts picked files: `*.txt` is the vocabulary, a name with `s3d` the S3D-G weights, any
    /// other `.pt`/`.pth` the VideoCLIP checkpoint. Says which file is missing or repeated.
    pub fn recognise(files: &[PathBuf]) -> Result<Self, CommandError> {
        let (mut videoclip, mut s3d, mut vocab) = (None, None, None);
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let slot = if name.ends_with(".txt") {
                &mut vocab
            } else if name.contains("s3d") {
                &mut s3d
            } else if name.ends_with(".pt") || name.ends_with(".pth") {
                &mut videoclip
            } else {
                return Err(CommandError::Invalid {
                    message: format!(
                        "{}: not one of the weight files (checkpoint_best.pt, \
                         s3d_howto100m.pth, vocab.txt)",
                        f.display()
                    ),
                });
            };
            if slot.replace(f.clone()).is_some() {
                return Err(CommandError::Invalid {
                    message: format!("two files of the same kind were chosen ({name})"),
                });
            }
        }
        let missing = |what: &str| CommandError::Invalid {
            message: format!(
                "choose the three files together: {what} is missing (checkpoint_best.pt, \
                 s3d_howto100m.pth and bert-base-uncased's vocab.txt)"
            ),
        };
        Ok(Self {
            videoclip: videoclip.ok_or_else(|| missing("the VideoCLIP checkpoint (.pt)"))?,
            s3d: s3d.ok_or_else(|| missing("the S3D-G weights (s3d_….pth)"))?,
            vocab: vocab.ok_or_else(|| missing("the vocabulary (vocab.txt)"))?,
        })
    }
}

impl AppCore {
    /// `get_settings`: what the settings screen shows.
    pub fn settings_view(&self) -> SettingsView {
        let setup = &self.setup;
        // Before the state's lock: both read it.
        let options = setup.load_options();
        let model = self.status().model;
        let gpu = gpu_support();
        let state = lock(&setup.state);
        SettingsView {
            file: setup
                .file
                .as_ref()
                .map(|f| f.to_string_lossy().into_owned()),
            warning: state.warning.clone(),
            library: self.library().to_string_lossy().into_owned(),
            library_locked_by: setup.overrides.library.clone(),
            model,
            model_locked_by: setup.overrides.model_locked_by(),
            official_model_dir: setup
                .models_dir()
                .ok()
                .map(|d| d.join("videoclip").to_string_lossy().into_owned()),
            device: state.settings.device,
            device_in_use: if options.gpu { "gpu" } else { "cpu" },
            gpu_available: gpu.is_ok(),
            gpu_reason: gpu.as_ref().err().cloned(),
            text_precision: state.settings.text_precision,
            precision_locked_by: setup.overrides.precision_locked_by(),
            cpu: CpuKernels::now(),
            downloading: setup.download.running(),
        }
    }

    /// Reopens the library with the settings' model (after a change of model or device).
    fn reload(&self) -> Result<(), CommandError> {
        self.reopen_with(None, &ModelChoice::Default, REOPEN_WAIT)
    }

    /// `update_settings`: device and text precision; the model is loaded again with them. A
    /// GPU this build does not have is refused with the reason.
    pub fn update_settings(&self, change: SettingsChange) -> Result<SettingsView, CommandError> {
        if change.device == Some(DeviceChoice::Gpu) {
            if let Err(why) = gpu_support() {
                return Err(CommandError::Invalid {
                    message: format!("this build cannot use a GPU: {why}"),
                });
            }
        }
        if self.job_running() {
            return Err(busy());
        }
        self.setup.update(|s| {
            if let Some(d) = change.device {
                s.device = d;
            }
            if let Some(p) = change.text_precision {
                s.text_precision = p;
            }
        })?;
        self.reload()?;
        Ok(self.settings_view())
    }

    /// `choose_library_dialog`, after the dialog: moves the window to the library in `dir`
    /// (created if missing) and remembers it. Refused while an import runs or when
    /// `--library` / `$VCLIP_LIBRARY` fix the location.
    pub fn change_library(&self, dir: &Path) -> Result<SettingsView, CommandError> {
        if let Some(by) = &self.setup.overrides.library {
            return Err(CommandError::Invalid {
                message: format!("the library location is set by {by}"),
            });
        }
        if self.job_running() {
            return Err(busy());
        }
        let dir =
            crate::resolve_library(Some(dir.to_path_buf())).map_err(|e| CommandError::File {
                message: e.to_string(),
            })?;
        self.reopen_with(Some(dir.clone()), &ModelChoice::Default, REOPEN_WAIT)?;
        self.setup.update(|s| s.library = Some(dir))?;
        Ok(self.settings_view())
    }

    /// Makes the model in `dir` the active one (remembered; in a library that records model
    /// versions, recorded there as its active version too) and reloads.
    fn use_model(&self, dir: PathBuf) -> Result<bool, CommandError> {
        let library = self.library();
        let versions = vclip_engine::versions::load(&library)?;
        if versions.active.is_some() {
            vclip_engine::versions::register_and_activate(&library, &dir)?;
        }
        self.setup.update(|s| s.model = Some(dir))?;
        match self.reload() {
            Ok(()) => Ok(true),
            Err(CommandError::Busy { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `import_weights_dialog`, after the dialog: imports the released files (see
    /// [`WeightFiles::recognise`]) into `videoclip` in the models folder, as `vclip models
    /// import` does, then uses them. `preset`: `Full` for the released files (`Tiny` in tests).
    pub fn import_weights(
        &self,
        files: &[PathBuf],
        preset: Preset,
    ) -> Result<SettingsView, CommandError> {
        let files = WeightFiles::recognise(files)?;
        if self.job_running() {
            return Err(busy());
        }
        let out = self.setup.models_dir()?.join("videoclip");
        vclip_engine::models::import(&files.videoclip, &files.s3d, &files.vocab, &out, preset)
            .map_err(|e| CommandError::Invalid {
                message: format!("the weights could not be imported: {e}"),
            })?;
        self.use_model(out)?;
        Ok(self.settings_view())
    }

    /// `use_test_model`: writes a tiny random-weight model (`random-test` in the models folder)
    /// and uses it. Its visual matches mean nothing (the window says so); it lets a user try
    /// import and subtitle search without the weights.
    pub fn use_test_model(&self) -> Result<SettingsView, CommandError> {
        if self.job_running() {
            return Err(busy());
        }
        let out = self.setup.models_dir()?.join("random-test");
        vclip_model::init_random(Preset::Tiny, 7, &out, None).map_err(|e| CommandError::File {
            message: format!("cannot write the test model in {}: {e}", out.display()),
        })?;
        self.use_model(out)?;
        Ok(self.settings_view())
    }

    /// `download_weights`: downloads and imports the official weights on a thread, as `vclip
    /// models pull` does (`mirrors` first, then `$VCLIP_MODEL_MIRROR`, then the official
    /// addresses; resumable; checked), then uses them. Progress, the end and errors arrive as
    /// [`DownloadEvent`]s; one download at a time.
    pub fn download_weights(
        self: &Arc<Self>,
        mirrors: Vec<String>,
        preset: Preset,
        emit: EmitDownload,
    ) -> Result<(), CommandError> {
        let models = self.setup.models_dir()?;
        let cancel = self.setup.download.claim(DOWNLOAD_BUSY)?;
        let opts = vclip_engine::models::PullOptions {
            downloads: models.join("downloads"),
            out_dir: models.join("videoclip"),
            mirrors,
            preset,
        };
        let core = Arc::clone(self);
        let job = crate::jobs::next_job_id();
        let spawned = std::thread::Builder::new()
            .name("vclip-download".into())
            .spawn(move || {
                let sink = |event: ProgressEvent| emit(JobEvent::Progress { job, event });
                let pulled = vclip_engine::models::pull(&opts, &sink, &cancel);
                core.setup.download.release();
                let outcome = pulled.map_err(pull_error).and_then(|_| {
                    let reopened = core.use_model(opts.out_dir.clone())?;
                    Ok(Downloaded {
                        dir: opts.out_dir.to_string_lossy().into_owned(),
                        reopened,
                        checked: None,
                    })
                });
                emit(JobEvent::end(job, outcome, download_cancelled));
            });
        if let Err(e) = spawned {
            self.setup.download.release();
            return Err(CommandError::Internal {
                message: format!("cannot start the download thread: {e}"),
            });
        }
        Ok(())
    }

    /// `cancel_download`: stops the download at its next checkpoint (the part file stays, so a
    /// later download resumes). False when none runs.
    pub fn cancel_download(&self) -> bool {
        self.setup.download.cancel()
    }
}

fn busy() -> CommandError {
    CommandError::Busy {
        message: "an import is running: cancel it or wait for it, then try again".into(),
    }
}
