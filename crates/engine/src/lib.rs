//! The VClip engine: the jobs that turn media into a searchable library (import, search, steps,
//! fine-tune), the one progress/event type they all report through, and where the library lives.
//!
//! Faces (the `vclip` CLI and the Tauri window) only call into this crate and the crates below it;
//! nothing here knows about terminals or windows.

pub mod chapters;
pub mod crosstask;
#[cfg(feature = "media")]
pub mod discover;
pub mod download;
pub mod duplicates;
#[cfg(feature = "media")]
pub mod encode;
pub mod estimate;
pub mod example;
#[cfg(feature = "media")]
pub mod export;
pub mod finetune;
pub mod fingerprint;
#[cfg(feature = "media")]
pub mod import;
mod keyed;
pub mod library;
pub mod links;
pub mod localize;
pub mod models;
pub mod moments;
pub mod open;
pub mod progress;
#[cfg(feature = "ocr")]
pub mod screen;
pub mod search;
pub mod sentences;
pub mod step_sources;
pub mod steps;
pub mod store;
pub mod versions;
#[cfg(feature = "media")]
pub mod watch;

#[cfg(feature = "media")]
pub use import::{ImportFailure, ImportOptions, ImportReport, ReindexReport};
pub use library::{default_library_dir, default_models_dir, LibraryDirError};
pub use localize::{StepEmbedder, StepOptions, StepSpan, StepsReport};
pub use progress::{
    CancelToken, Cancelled, NoProgress, Progress, ProgressEvent, ProgressSink, Tracker, TrainStatus,
};
pub use store::{
    clip_version, dir_model, model_version, model_version_of, DirModel, Engine, EngineError,
    Reconciled, VideoSummary,
};
