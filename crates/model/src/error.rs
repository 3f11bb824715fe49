//! Errors of the model crate (S3D-G + VideoCLIP, arXiv 2109.14084; reference
//! `fairseq/examples/MMPT`). Each variant that concerns a file (config.json, the safetensors
//! weights, the released `.pt`/`.pth` checkpoints, vocab.txt) names the file and the reason.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when loading, importing or running the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is missing fields or describes an impossible model.
    #[error("{path}: invalid model config: {reason}")]
    Config { path: PathBuf, reason: String },
    /// A weights file lacks a tensor the model needs.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor { path: PathBuf, name: String },
    /// A tensor has the wrong shape for the configured model.
    #[error("{path}: tensor `{name}` has shape {got:?}, the config needs {expected:?}")]
    TensorShape {
        path: PathBuf,
        name: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    /// A weights file (safetensors) could not be parsed.
    #[error("{path}: cannot read weights: {reason}")]
    Weights { path: PathBuf, reason: String },
    /// A PyTorch file (`.pt`/`.pth`, zip or legacy format) could not be parsed.
    #[error("{path}: cannot read PyTorch file: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// The vocabulary could not be loaded into a WordPiece tokenizer, or tokenizing failed.
    #[error("{path}: tokenizer: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// A caller passed tensors of the wrong shape or type.
    #[error("invalid input: {0}")]
    Input(String),
    /// A GPU was requested but this build has neither the `cuda` nor the `metal` feature.
    #[error("this build has no GPU support (rebuild with `--features cuda` or `metal`)")]
    NoGpu,
    /// A tensor operation failed (out of memory, device error, internal shape bug).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Config {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
