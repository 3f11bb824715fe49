//! The one error type of the crate. Every variant that comes from a file names the file.

use std::io;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with a library on disk.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process (or another `Library` in this process) holds the library's lock.
    #[error("the library at {path} is in use by another VClip process")]
    LibraryInUse {
        /// The library folder.
        path: PathBuf,
    },
    /// The library folder (or a file in it) cannot be written: permissions or a read-only disk.
    #[error("the library at {path} is read-only: {source}")]
    ReadOnly {
        /// The folder or file that could not be written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `Library::open` on a folder that is not a library.
    #[error("{path} is not a VClip library (no catalogue.sqlite); create it first")]
    NotALibrary {
        /// The folder.
        path: PathBuf,
    },
    /// Any other I/O failure, with the file it happened on.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file that exists but whose content is damaged (torn write, bit rot, wrong format).
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What check failed.
        reason: String,
    },
    /// The catalogue database reported an error.
    #[error("catalogue {path}: {source}")]
    Catalogue {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The catalogue was written by a newer VClip.
    #[error("catalogue {path} has schema version {found}; this VClip knows up to {known}")]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The vector index (usearch) reported an error.
    #[error("vector index {path}: {reason}")]
    VectorIndex {
        /// The index file (or `<memory>` for an index not yet saved).
        path: PathBuf,
        /// usearch's message.
        reason: String,
    },
    /// The text index (tantivy) reported an error.
    #[error("text index {path}: {reason}")]
    TextIndex {
        /// The index folder.
        path: PathBuf,
        /// tantivy's message.
        reason: String,
    },
    /// A caller passed a value the library cannot store (e.g. wrong vector size).
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl Error {
    /// Wraps an I/O error on `path`, turning permission and read-only-disk failures into
    /// [`Error::ReadOnly`] so that the user reads the real reason.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                Error::ReadOnly { path, source }
            }
            _ => Error::Io { path, source },
        }
    }
}
