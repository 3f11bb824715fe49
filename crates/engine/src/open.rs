//! The one way a face opens a library.
//!
//! The command line and the window both describe what they were asked for in an
//! [`OpenRequest`] — their flags, the settings file's choices ([`Preferences`]) and the
//! environment ([`Environment`], read once, here) — and call [`open`]. It resolves, in this
//! order of precedence:
//!
//! | choice | flag | environment | library | settings | default |
//! |---|---|---|---|---|---|
//! | library folder | `--library` | `VCLIP_LIBRARY` | | settings | per-user data folder |
//! | model folder | `--model` | `VCLIP_MODEL` | active version (`models.json`) | settings | `videoclip` in the models folder, or `clip-vit-b32` when only it holds a model |
//! | device | `--gpu` | | | settings | the GPU when the build has a usable one |
//! | text precision | `--text-precision` | `VCLIP_TEXT_PRECISION` | | settings | q8 on the CPU, f32 on a GPU |
//! | image precision | `--image-precision` | `VCLIP_IMAGE_PRECISION` | | settings | q8 on the CPU, f32 on a GPU |
//! | sentence encoder | `--sentence-model` | `VCLIP_SENTENCE_MODEL` | | | `all-minilm-l6-v2` in the models folder, when there |
//! | CPU kernels | | `VCLIP_CPU_LEVEL` | | | what the CPU has |
//!
//! and returns the [`Engine`] with a [`Provenance`]: every choice with the [`Source`] that made
//! it, so a face can say why it runs what it runs (the settings screen, `vclip models
//! versions`). The engine remembers its model folder, so an import registers the model it
//! imported with ([`Engine::import`]) and later commands open the library with it.
//!
//! [`ModelNeed::Required`] (the command line) turns any problem with the model or the sentence
//! encoder into an [`OpenError`]; [`ModelNeed::Optional`] (the window) opens the library
//! without them and records why in [`Provenance::model_error`] / [`Provenance::sentence_error`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use vclip_model::{CpuLevel, Device, Family, Model, Precision, SentenceEncoder};

use crate::library::{default_library_dir, default_models_dir, LibraryDirError, LIBRARY_ENV};
use crate::store::{Engine, EngineError, Reconciled};

/// Names the model folder (`--model` wins over it).
pub const MODEL_ENV: &str = "VCLIP_MODEL";
/// Names the sentence encoder's folder.
pub const SENTENCE_MODEL_ENV: &str = "VCLIP_SENTENCE_MODEL";
/// `f32` or `q8`: the text tower's dense layers (queries, steps).
pub const TEXT_PRECISION_ENV: &str = "VCLIP_TEXT_PRECISION";
/// `f32` or `q8`: CLIP's image tower (import).
pub const IMAGE_PRECISION_ENV: &str = "VCLIP_IMAGE_PRECISION";
/// `portable`, `avx2`, `avx512` or `avx512-vnni`: the widest CPU kernels to use (lower than
/// what the CPU has: the paths of older CPUs, for tests and comparisons).
pub const CPU_LEVEL_ENV: &str = "VCLIP_CPU_LEVEL";

/// The folder name of each default model inside the models folder.
pub const SENTENCE_DIR_NAME: &str = "all-minilm-l6-v2";

/// Why a library could not be opened as asked.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    LibraryDir(#[from] LibraryDirError),
    /// An environment variable holds a value that means nothing.
    #[error("{var}={value:?}: {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
    /// The library's active model version names a folder that holds no model.
    #[error(
        "the library's active model version {version} is in {}, which holds no model: \
         `vclip models rollback`, `vclip models use VERSION|DIR`, or pass --model",
        dir.display()
    )]
    ActiveVersionGone { version: String, dir: PathBuf },
    /// The model could not be loaded.
    #[error(
        "loading the model in {} (get one with `vclip models pull` or `vclip models pull clip`, \
         or pass --model): {error}",
        dir.display()
    )]
    Model {
        dir: PathBuf,
        /// In the message, not the error chain (printed once).
        error: Box<vclip_model::Error>,
    },
    /// The sentence encoder could not be loaded or indexed.
    #[error("loading the sentence encoder in {}: {reason}", dir.display())]
    Sentences { dir: PathBuf, reason: String },
    /// The device asked for is not there.
    #[error("{0}")]
    Device(Box<vclip_model::Error>),
    /// The library itself (locked by another process, unreadable, `models.json` damaged…).
    #[error("opening the library {}: {error}", root.display())]
    Library {
        root: PathBuf,
        /// In the message, not the error chain (printed once).
        error: Box<EngineError>,
    },
}

impl OpenError {
    /// The library is held by another process.
    pub fn in_use(&self) -> bool {
        matches!(
            self,
            OpenError::Library { error, .. }
                if matches!(**error, EngineError::Index(vclip_index::Error::LibraryInUse { .. }))
        )
    }
}

/// What made a choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Source {
    /// A command-line flag (its name) or the window's explicit request.
    Flag(String),
    /// An environment variable (its name).
    Env(String),
    /// The library's active model version (`models.json`).
    Library,
    /// The settings file.
    Settings,
    /// Nothing asked: the default.
    Default,
}

impl Source {
    /// A flag, the environment or the command line fix the choice: the settings screen cannot
    /// change it.
    pub fn locks(&self) -> Option<&str> {
        match self {
            Source::Flag(name) | Source::Env(name) => Some(name),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(n) | Source::Env(n) => f.write_str(n),
            Source::Library => f.write_str("models.json"),
            Source::Settings => f.write_str("settings"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A choice and what made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chosen<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Chosen<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// The opening variables of the environment, read once ([`Environment::from_process`]). Faces
/// never read them themselves; tests build one by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub library: Option<PathBuf>,
    pub model: Option<PathBuf>,
    pub sentence_model: Option<PathBuf>,
    pub text_precision: Option<String>,
    pub image_precision: Option<String>,
    pub cpu_level: Option<String>,
}

impl Environment {
    /// This process's variables (unset and empty are the same).
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let text = |k: &str| var(k).map(|v| v.to_string_lossy().into_owned());
        Self {
            library: var(LIBRARY_ENV).map(PathBuf::from),
            model: var(MODEL_ENV).map(PathBuf::from),
            sentence_model: var(SENTENCE_MODEL_ENV).map(PathBuf::from),
            text_precision: text(TEXT_PRECISION_ENV),
            image_precision: text(IMAGE_PRECISION_ENV),
            cpu_level: text(CPU_LEVEL_ENV),
        }
    }

    fn parse<T: std::str::FromStr>(
        var: &'static str,
        value: Option<&String>,
    ) -> Result<Option<T>, OpenError>
    where
        T::Err: std::fmt::Display,
    {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.parse::<T>().map_err(|e| OpenError::Env {
                    var,
                    value: v.clone(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// `VCLIP_TEXT_PRECISION`, if set; an error when it is not a precision.
    pub fn text_precision(&self) -> Result<Option<Precision>, OpenError> {
        Self::parse(TEXT_PRECISION_ENV, self.text_precision.as_ref())
    }

    /// `VCLIP_IMAGE_PRECISION`, if set; an error when it is not a precision.
    pub fn image_precision(&self) -> Result<Option<Precision>, OpenError> {
        Self::parse(IMAGE_PRECISION_ENV, self.image_precision.as_ref())
    }

    /// `VCLIP_CPU_LEVEL`, if set; an error when it is not a level.
    pub fn cpu_level(&self) -> Result<Option<CpuLevel>, OpenError> {
        Self::parse(CPU_LEVEL_ENV, self.cpu_level.as_ref())
    }

    /// Caps the CPU kernels as `VCLIP_CPU_LEVEL` says (nothing when unset); what runs now.
    pub fn apply_cpu_level(&self) -> Result<Chosen<CpuLevel>, OpenError> {
        Ok(match self.cpu_level()? {
            Some(level) => {
                vclip_model::set_cpu_level_cap(Some(level));
                Chosen::new(vclip_model::cpu_level(), Source::Env(CPU_LEVEL_ENV.into()))
            }
            None => Chosen::new(vclip_model::cpu_level(), Source::Default),
        })
    }
}

/// The choices a settings file holds (the window's); the command line has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub library: Option<PathBuf>,
    pub model: Option<PathBuf>,
    /// `Some(true)`: the GPU; `Some(false)`: the CPU; `None`: automatic.
    pub gpu: Option<bool>,
    pub text_precision: Option<Precision>,
    pub image_precision: Option<Precision>,
}

/// Which model to open with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ModelRequest {
    /// Resolve it (environment, the library's active version, settings, default).
    #[default]
    Auto,
    /// This folder, asked for explicitly (`--model`, a version switch).
    Dir(PathBuf),
    /// No model: listing, removing, keyword search.
    None,
}

/// Whether a model problem stops the open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModelNeed {
    /// Any problem with the model or sentence encoder is an error (the command line).
    #[default]
    Required,
    /// The library opens without them; [`Provenance`] says why (the window).
    Optional,
}

/// Everything a face was asked for. `Default`: the library and model the environment and
/// defaults name, required.
#[derive(Debug, Clone, Default)]
pub struct OpenRequest {
    /// `--library`.
    pub library: Option<PathBuf>,
    pub model: ModelRequest,
    pub need: ModelNeed,
    /// `--gpu` (`Some(true)`), or the window's explicit device.
    pub gpu: Option<bool>,
    /// `--text-precision`.
    pub text_precision: Option<Precision>,
    /// `--image-precision`.
    pub image_precision: Option<Precision>,
    /// `--sentence-model`.
    pub sentence_model: Option<PathBuf>,
    /// Where the default models are (`None`: [`default_models_dir`]).
    pub models_dir: Option<PathBuf>,
    pub preferences: Preferences,
    pub env: Environment,
}

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Gpu,
}

/// Every choice [`open`] made, with what made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub library: Chosen<PathBuf>,
    /// The model folder chosen (`None`: none was asked for, or the default folder holds none).
    pub model: Option<Chosen<PathBuf>>,
    /// Why the chosen model is not loaded ([`ModelNeed::Optional`]).
    pub model_error: Option<String>,
    /// The loaded model has random weights: visual results mean nothing.
    pub random_weights: bool,
    pub device: Chosen<DeviceKind>,
    pub text_precision: Chosen<Precision>,
    pub image_precision: Chosen<Precision>,
    /// The sentence encoder folder, when one is used.
    pub sentence_model: Option<Chosen<PathBuf>>,
    /// Why the sentence encoder is not used ([`ModelNeed::Optional`]).
    pub sentence_error: Option<String>,
    pub cpu_level: Chosen<CpuLevel>,
}

/// An open library and how it was opened.
#[derive(Debug)]
pub struct Opened {
    pub engine: Engine,
    pub provenance: Provenance,
    /// What opening repaired in the vector indexes.
    pub reconciled: Reconciled,
}

/// The default VideoCLIP folder inside `models`.
pub fn videoclip_dir_in(models: &Path) -> PathBuf {
    models.join(Family::VideoClip.name())
}

/// The default CLIP folder inside `models`.
pub fn clip_dir_in(models: &Path) -> PathBuf {
    models.join(Family::Clip.name())
}

/// The default sentence encoder folder inside `models`.
pub fn sentence_dir_in(models: &Path) -> PathBuf {
    models.join(SENTENCE_DIR_NAME)
}

/// The model folder used when nothing names one: `videoclip` in `models`, or `clip-vit-b32`
/// when only that one holds a model.
pub fn default_model_in(models: &Path) -> PathBuf {
    let videoclip = videoclip_dir_in(models);
    let clip = clip_dir_in(models);
    if !has_model(&videoclip) && has_model(&clip) {
        clip
    } else {
        videoclip
    }
}

/// A model folder is complete once it has its `config.json` (written last).
fn has_model(dir: &Path) -> bool {
    dir.join("config.json").is_file()
}

impl OpenRequest {
    /// The models folder the defaults come from.
    pub fn models_dir(&self) -> Result<PathBuf, OpenError> {
        match &self.models_dir {
            Some(d) => Ok(d.clone()),
            None => Ok(default_models_dir()?),
        }
    }

    /// The library folder and what chose it.
    pub fn library(&self) -> Result<Chosen<PathBuf>, OpenError> {
        if let Some(d) = &self.library {
            return Ok(Chosen::new(d.clone(), Source::Flag("--library".into())));
        }
        if let Some(d) = &self.env.library {
            return Ok(Chosen::new(d.clone(), Source::Env(LIBRARY_ENV.into())));
        }
        if let Some(d) = &self.preferences.library {
            return Ok(Chosen::new(d.clone(), Source::Settings));
        }
        Ok(Chosen::new(default_library_dir()?, Source::Default))
    }

    /// The model folder for the library at `root` and what chose it; `None` when no model is
    /// asked for. Reads the library's `models.json` (never writes it).
    pub fn model_dir(&self, root: &Path) -> Result<Option<Chosen<PathBuf>>, OpenError> {
        match &self.model {
            ModelRequest::None => return Ok(None),
            ModelRequest::Dir(d) => {
                return Ok(Some(Chosen::new(d.clone(), Source::Flag("--model".into()))))
            }
            ModelRequest::Auto => {}
        }
        if let Some(d) = &self.env.model {
            return Ok(Some(Chosen::new(d.clone(), Source::Env(MODEL_ENV.into()))));
        }
        let active = crate::versions::active(root).map_err(|source| OpenError::Library {
            root: root.to_owned(),
            error: Box::new(source),
        })?;
        if let Some(active) = active {
            if !has_model(&active.dir) {
                return Err(OpenError::ActiveVersionGone {
                    version: active.version,
                    dir: active.dir,
                });
            }
            return Ok(Some(Chosen::new(active.dir, Source::Library)));
        }
        if let Some(d) = &self.preferences.model {
            return Ok(Some(Chosen::new(d.clone(), Source::Settings)));
        }
        Ok(Some(Chosen::new(
            default_model_in(&self.models_dir()?),
            Source::Default,
        )))
    }

    /// The device and what chose it. Automatic: the GPU when this build has a usable one.
    pub fn device(&self) -> Chosen<DeviceKind> {
        let kind = |gpu: bool| {
            if gpu {
                DeviceKind::Gpu
            } else {
                DeviceKind::Cpu
            }
        };
        if let Some(gpu) = self.gpu {
            return Chosen::new(kind(gpu), Source::Flag("--gpu".into()));
        }
        if let Some(gpu) = self.preferences.gpu {
            return Chosen::new(kind(gpu), Source::Settings);
        }
        Chosen::new(kind(gpu_usable()), Source::Default)
    }

    /// The text tower's precision on `device` and what chose it.
    pub fn text_precision(&self, device: DeviceKind) -> Result<Chosen<Precision>, OpenError> {
        Self::precision(
            self.text_precision,
            "--text-precision",
            self.env.text_precision()?,
            TEXT_PRECISION_ENV,
            self.preferences.text_precision,
            device,
        )
    }

    /// CLIP's image-tower precision on `device` and what chose it.
    pub fn image_precision(&self, device: DeviceKind) -> Result<Chosen<Precision>, OpenError> {
        Self::precision(
            self.image_precision,
            "--image-precision",
            self.env.image_precision()?,
            IMAGE_PRECISION_ENV,
            self.preferences.image_precision,
            device,
        )
    }

    fn precision(
        flag: Option<Precision>,
        flag_name: &str,
        env: Option<Precision>,
        var: &str,
        settings: Option<Precision>,
        device: DeviceKind,
    ) -> Result<Chosen<Precision>, OpenError> {
        Ok(if let Some(p) = flag {
            Chosen::new(p, Source::Flag(flag_name.into()))
        } else if let Some(p) = env {
            Chosen::new(p, Source::Env(var.into()))
        } else if let Some(p) = settings {
            Chosen::new(p, Source::Settings)
        } else {
            Chosen::new(default_precision(device), Source::Default)
        })
    }

    /// The sentence encoder folder and what chose it; `None` when none is asked for and the
    /// default folder holds none.
    pub fn sentence_dir(&self) -> Result<Option<Chosen<PathBuf>>, OpenError> {
        if let Some(d) = &self.sentence_model {
            return Ok(Some(Chosen::new(
                d.clone(),
                Source::Flag("--sentence-model".into()),
            )));
        }
        if let Some(d) = &self.env.sentence_model {
            return Ok(Some(Chosen::new(
                d.clone(),
                Source::Env(SENTENCE_MODEL_ENV.into()),
            )));
        }
        let d = sentence_dir_in(&self.models_dir()?);
        Ok(has_model(&d).then(|| Chosen::new(d, Source::Default)))
    }
}

/// On the CPU, q8 where the CPU's level has one of VClip's 8-bit kernels, else f32
/// ([`Precision::cpu_default`]; `vclip bench encode --kernels` measures both); f32 on a GPU.
pub fn default_precision(device: DeviceKind) -> Precision {
    match device {
        DeviceKind::Cpu => Precision::cpu_default(),
        DeviceKind::Gpu => Precision::F32,
    }
}

/// Whether this build can run the model on a GPU (asked once).
pub fn gpu_usable() -> bool {
    gpu_support().is_ok()
}

/// Whether this build can use a GPU, and if not, why (asked once).
pub fn gpu_support() -> &'static Result<(), String> {
    static GPU: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        vclip_model::device(true)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

fn candle_device(kind: DeviceKind) -> Result<Device, OpenError> {
    vclip_model::device(kind == DeviceKind::Gpu).map_err(|e| OpenError::Device(Box::new(e)))
}

/// Opens the library as `request` asks: see the module docs.
pub fn open(request: &OpenRequest) -> Result<Opened, OpenError> {
    let optional = request.need == ModelNeed::Optional;
    let cpu_level = request.env.apply_cpu_level()?;
    let library = request.library()?;
    let root = library.value.clone();
    let device = request.device();
    // Precisions are resolved even without a model, so the settings screen can show them; a
    // bad environment value is an error, or (window) the reason no model is loaded.
    let mut model_error = None;
    let text_precision = request
        .text_precision(device.value)
        .or_else(|e| excuse(optional, &mut model_error, e, fallback(device.value)))?;
    let image_precision = request
        .image_precision(device.value)
        .or_else(|e| excuse(optional, &mut model_error, e, fallback(device.value)))?;
    let model_dir = request
        .model_dir(&root)
        .or_else(|e| excuse(optional, &mut model_error, e, None))?;
    let mut model = None;
    let mut random_weights = false;
    if let (Some(dir), None) = (&model_dir, &model_error) {
        // A default folder without a model is no model, not an error, for the window.
        let skip = optional && dir.source == Source::Default && !has_model(&dir.value);
        if !skip {
            match load_model(&dir.value, device.value, &text_precision, &image_precision) {
                Ok(m) => {
                    random_weights = m.is_random();
                    model = Some(m);
                }
                Err(e) => excuse(optional, &mut model_error, e, ())?,
            }
        }
    }
    let (mut engine, reconciled) =
        Engine::open(&root, model).map_err(|source| OpenError::Library {
            root: root.clone(),
            error: Box::new(source),
        })?;
    if engine.model().is_some() {
        engine.model_dir = model_dir.as_ref().map(|d| d.value.clone());
    }
    let mut sentence_error = None;
    let sentence_model = if engine.model().is_some() {
        match enable_sentences(&mut engine, request, device.value) {
            Ok(dir) => dir,
            Err(e) if optional => {
                sentence_error = Some(e.to_string());
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(Opened {
        engine,
        provenance: Provenance {
            library,
            model: model_dir,
            model_error,
            random_weights,
            device,
            text_precision,
            image_precision,
            sentence_model,
            sentence_error,
            cpu_level,
        },
        reconciled,
    })
}

fn fallback(device: DeviceKind) -> Chosen<Precision> {
    Chosen::new(default_precision(device), Source::Default)
}

/// `Ok(instead)` with the error noted in `slot` (the first one wins) when a model problem is
/// `optional`, else the error.
fn excuse<T>(
    optional: bool,
    slot: &mut Option<String>,
    e: OpenError,
    instead: T,
) -> Result<T, OpenError> {
    if optional {
        slot.get_or_insert(e.to_string());
        Ok(instead)
    } else {
        Err(e)
    }
}

/// Loads the model in `dir` on `device` with the towers' precisions.
pub fn load_model(
    dir: &Path,
    device: DeviceKind,
    text: &Chosen<Precision>,
    image: &Chosen<Precision>,
) -> Result<Model, OpenError> {
    let err = |source| OpenError::Model {
        dir: dir.to_owned(),
        error: Box::new(source),
    };
    let device = candle_device(device)?;
    let mut model = Model::load(dir, &device).map_err(err)?;
    model.set_text_precision(text.value).map_err(err)?;
    model.set_image_precision(image.value).map_err(err)?;
    Ok(model)
}

fn enable_sentences(
    engine: &mut Engine,
    request: &OpenRequest,
    device: DeviceKind,
) -> Result<Option<Chosen<PathBuf>>, OpenError> {
    let Some(dir) = request.sentence_dir()? else {
        return Ok(None);
    };
    let fail = |reason: String| OpenError::Sentences {
        dir: dir.value.clone(),
        reason,
    };
    let device = candle_device(device)?;
    let encoder = SentenceEncoder::load(&dir.value, &device).map_err(|e| fail(e.to_string()))?;
    engine
        .enable_sentences(Box::new(encoder))
        .map_err(|e| fail(format!("indexing subtitles by meaning: {e}")))?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(env: Environment) -> OpenRequest {
        OpenRequest {
            env,
            models_dir: Some(PathBuf::from("/nonexistent/models")),
            ..OpenRequest::default()
        }
    }

    #[test]
    fn flags_win_over_environment_over_settings_over_defaults() -> Result<(), OpenError> {
        let env = Environment {
            library: Some("/env/lib".into()),
            text_precision: Some("f32".into()),
            ..Environment::default()
        };
        let mut r = request(env);
        r.preferences.library = Some("/settings/lib".into());
        r.preferences.text_precision = Some(Precision::Q8);
        r.preferences.image_precision = Some(Precision::F32);
        assert_eq!(r.library()?.source, Source::Env(LIBRARY_ENV.into()));
        let p = r.text_precision(DeviceKind::Cpu)?;
        assert_eq!(
            (p.value, p.source),
            (Precision::F32, Source::Env(TEXT_PRECISION_ENV.into()))
        );
        let p = r.image_precision(DeviceKind::Cpu)?;
        assert_eq!((p.value, p.source), (Precision::F32, Source::Settings));
        r.library = Some("/flag/lib".into());
        r.text_precision = Some(Precision::Q8);
        assert_eq!(r.library()?.value, PathBuf::from("/flag/lib"));
        assert_eq!(r.text_precision(DeviceKind::Cpu)?.value, Precision::Q8);
        r.preferences = Preferences::default();
        r.image_precision = None;
        let p = r.image_precision(DeviceKind::Gpu)?;
        assert_eq!((p.value, p.source), (Precision::F32, Source::Default));
        assert_eq!(r.image_precision(DeviceKind::Cpu)?.value, Precision::Q8);
        Ok(())
    }

    #[test]
    fn a_bad_environment_value_is_named() {
        let r = request(Environment {
            text_precision: Some("int4".into()),
            cpu_level: Some("sse9".into()),
            ..Environment::default()
        });
        let e = r
            .text_precision(DeviceKind::Cpu)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains(TEXT_PRECISION_ENV) && e.contains("int4")));
        let e = r.env.cpu_level().err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains(CPU_LEVEL_ENV) && e.contains("sse9")));
    }

    #[test]
    fn the_default_model_is_clip_only_when_videoclip_is_missing() -> std::io::Result<()> {
        let models = tempfile::tempdir()?;
        assert_eq!(
            default_model_in(models.path()),
            videoclip_dir_in(models.path())
        );
        std::fs::create_dir_all(clip_dir_in(models.path()))?;
        std::fs::write(clip_dir_in(models.path()).join("config.json"), "{}")?;
        assert_eq!(default_model_in(models.path()), clip_dir_in(models.path()));
        std::fs::create_dir_all(videoclip_dir_in(models.path()))?;
        std::fs::write(videoclip_dir_in(models.path()).join("config.json"), "{}")?;
        assert_eq!(
            default_model_in(models.path()),
            videoclip_dir_in(models.path())
        );
        Ok(())
    }

    #[test]
    fn the_window_opens_without_a_model_and_says_why() -> Result<(), OpenError> {
        let lib = tempfile::tempdir().map_err(|e| OpenError::Sentences {
            dir: PathBuf::new(),
            reason: e.to_string(),
        })?;
        let mut r = request(Environment {
            model: Some(lib.path().join("no-model-here")),
            ..Environment::default()
        });
        r.library = Some(lib.path().join("library"));
        r.need = ModelNeed::Optional;
        r.gpu = Some(false);
        let opened = open(&r)?;
        assert!(opened.engine.model().is_none());
        let p = &opened.provenance;
        assert_eq!(
            p.model.as_ref().map(|m| &m.source),
            Some(&Source::Env(MODEL_ENV.into()))
        );
        assert!(p
            .model_error
            .as_deref()
            .is_some_and(|e| e.contains("no-model-here")));
        drop(opened);
        // The command line gets the error instead.
        r.need = ModelNeed::Required;
        assert!(matches!(open(&r), Err(OpenError::Model { .. })));
        Ok(())
    }
}
