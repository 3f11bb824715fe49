//! Where a library lives on disk.

use std::path::PathBuf;

/// Environment variable that overrides the default library location.
pub const LIBRARY_ENV: &str = "VCLIP_LIBRARY";

#[derive(Debug, thiserror::Error)]
pub enum LibraryDirError {
    #[error("cannot find a home directory for the default library; pass --library DIR or set {LIBRARY_ENV}")]
    NoHome,
}

/// The default library folder: `$VCLIP_LIBRARY` if set, else the platform's per-user data folder
/// (`$XDG_DATA_HOME/vclip/library` or `~/.local/share/vclip/library` on Linux,
/// `~/Library/Application Support/VClip/library` on macOS, `%APPDATA%\VClip\library` on Windows).
pub fn default_library_dir() -> Result<PathBuf, LibraryDirError> {
    if let Some(dir) = std::env::var_os(LIBRARY_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    data_dir().map(|d| d.join("library"))
}

/// Where model directories live by default: `$VCLIP_MODELS` if set, else `models/` in the
/// platform's per-user data folder (beside the default library).
pub fn default_models_dir() -> Result<PathBuf, LibraryDirError> {
    if let Some(dir) = std::env::var_os("VCLIP_MODELS").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    data_dir().map(|d| d.join("models"))
}

fn data_dir() -> Result<PathBuf, LibraryDirError> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(target_os = "windows") {
        return std::env::var_os("APPDATA")
            .map(|d| PathBuf::from(d).join("VClip"))
            .ok_or(LibraryDirError::NoHome);
    }
    if cfg!(target_os = "macos") {
        return home()
            .map(|h| h.join("Library/Application Support/VClip"))
            .ok_or(LibraryDirError::NoHome);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("vclip"));
    }
    home()
        .map(|h| h.join(".local/share/vclip"))
        .ok_or(LibraryDirError::NoHome)
}
