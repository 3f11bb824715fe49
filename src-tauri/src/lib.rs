//! The VClip desktop window: a thin Tauri 2 face over the headless crates.
//!
//! Everything the window knows comes from `vclip-engine` (where the library lives) and
//! `vclip-media` (what a file holds). This crate only resolves the library folder, exposes a few
//! commands to the webview and starts the window; the plain functions behind the commands
//! ([`resolve_library`], [`probe_paths`]) are tested without a window.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vclip_media::MediaInfo;

/// Why the library folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// No folder was given and there is no default location (no home directory).
    #[error(transparent)]
    Location(#[from] vclip_engine::LibraryDirError),
    /// The folder does not exist and could not be created (or is not a folder).
    #[error("cannot create the library folder {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The library folder the window works on: `explicit` (the `--library DIR` argument) if given,
/// else [`vclip_engine::default_library_dir`] (`$VCLIP_LIBRARY` or the per-user data folder).
/// The folder is created if missing and returned as an absolute path, so the UI shows where the
/// library really is.
pub fn resolve_library(explicit: Option<PathBuf>) -> Result<PathBuf, LibraryError> {
    let dir = match explicit {
        Some(dir) => dir,
        None => vclip_engine::default_library_dir()?,
    };
    let create = |source| LibraryError::Create {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(create)?;
    dir.canonicalize().map_err(create)
}

/// What the window shows about its library.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryInfo {
    /// Absolute path of the library folder.
    pub path: String,
}

/// A file the UI asked about that could not be handled, with the reason in words.
/// Sent to the UI as `{ path, message }`; the path is not repeated inside `message`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileError {
    pub path: String,
    pub message: String,
}

/// What probing one file gave: `{ status: "ok", path, info }` or
/// `{ status: "error", path, message }` in the UI.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ProbeResult {
    Ok { path: String, info: Box<MediaInfo> },
    Error(FileError),
}

impl ProbeResult {
    /// The path this result is about, as the UI sent it.
    pub fn path(&self) -> &str {
        match self {
            ProbeResult::Ok { path, .. } => path,
            ProbeResult::Error(e) => &e.path,
        }
    }
}

/// Probes each path in order; one unreadable file never stops the others.
pub fn probe_paths(paths: &[PathBuf]) -> Vec<ProbeResult> {
    paths.iter().map(|p| probe_one(p)).collect()
}

fn probe_one(path: &Path) -> ProbeResult {
    let shown = path.to_string_lossy().into_owned();
    match vclip_media::probe(path) {
        Ok(info) => ProbeResult::Ok {
            path: shown,
            info: Box::new(info),
        },
        // `MediaError`'s Display starts with the path; the UI shows the path already, so send
        // only the reason.
        Err(e) => ProbeResult::Error(FileError {
            path: shown,
            message: e.kind.to_string(),
        }),
    }
}

/// An error of a command as a whole (not of one file), as the UI receives it.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CommandError {
    /// The background task doing the work stopped unexpectedly.
    #[error("internal error: {message}")]
    Internal { message: String },
}

/// The commands the webview may call (granted in `capabilities/default.json`).
mod commands {
    use std::path::PathBuf;

    use super::{probe_paths, CommandError, LibraryInfo, ProbeResult};

    /// State shared by the commands.
    #[derive(Debug)]
    pub struct AppState {
        pub library: PathBuf,
    }

    #[tauri::command]
    pub fn library_info(state: tauri::State<'_, AppState>) -> LibraryInfo {
        LibraryInfo {
            path: state.library.to_string_lossy().into_owned(),
        }
    }

    /// Probing opens and parses files: it runs on a blocking thread so the window stays
    /// responsive while a large batch is probed.
    #[tauri::command]
    pub async fn probe_files(paths: Vec<PathBuf>) -> Result<Vec<ProbeResult>, CommandError> {
        tauri::async_runtime::spawn_blocking(move || probe_paths(&paths))
            .await
            .map_err(|e| CommandError::Internal {
                message: format!("probing stopped: {e}"),
            })
    }
}

/// Opens the main window on `library` and runs until it is closed.
pub fn run(library: PathBuf) -> Result<(), tauri::Error> {
    tauri::Builder::default()
        .manage(commands::AppState { library })
        .invoke_handler(tauri::generate_handler![
            commands::library_info,
            commands::probe_files
        ])
        .run(tauri::generate_context!())
}

#[cfg(test)]
mod tests;
