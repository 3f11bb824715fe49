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
    /// The disk holding the library has no space left (or the user's quota is spent). Whatever
    /// was stored before stays intact: every write is atomic or transactional.
    #[error(
        "the disk holding {path} is full: free some space and try again (nothing already stored was lost)"
    )]
    DiskFull {
        /// The file or folder that could not be written.
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
            io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge => Error::DiskFull { path, source },
            _ => Error::Io { path, source },
        }
    }

    /// A tantivy failure on the text index in `dir` ([`Error::DiskFull`] when the disk is).
    pub fn text_index(dir: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Self::store(dir.into(), reason.to_string(), |path, reason| {
            Error::TextIndex { path, reason }
        })
    }

    /// A usearch failure on the vector index `path` ([`Error::DiskFull`] when the disk is).
    pub fn vector_index(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Self::store(path.into(), reason.to_string(), |path, reason| {
            Error::VectorIndex { path, reason }
        })
    }

    /// A store's error that only says what went wrong in words: [`Error::DiskFull`] when the
    /// disk holding `path` is (nearly) full, else `other`.
    fn store(path: PathBuf, reason: String, other: fn(PathBuf, String) -> Self) -> Self {
        if crate::disk::is_nearly_full(&path) {
            let source = io::Error::new(io::ErrorKind::StorageFull, reason);
            return Error::DiskFull { path, source };
        }
        other(path, reason)
    }

    /// Wraps a catalogue (SQLite) error on the database `path`. SQLite reports a full disk as
    /// `SQLITE_FULL`, but also as a plain I/O error when it cannot grow its shared-memory or
    /// WAL file; both become [`Error::DiskFull`] when the disk is indeed (nearly) full.
    pub fn catalogue(path: impl Into<PathBuf>, source: rusqlite::Error) -> Self {
        let path = path.into();
        let code = source.sqlite_error_code();
        let full = code == Some(rusqlite::ErrorCode::DiskFull)
            || (matches!(
                code,
                Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen)
            ) && crate::disk::is_nearly_full(&path));
        if full {
            let source = io::Error::new(io::ErrorKind::StorageFull, source.to_string());
            return Error::DiskFull { path, source };
        }
        match code {
            Some(rusqlite::ErrorCode::ReadOnly) => Error::ReadOnly {
                path,
                source: io::Error::new(io::ErrorKind::ReadOnlyFilesystem, source.to_string()),
            },
            _ => Error::Catalogue { path, source },
        }
    }
}
