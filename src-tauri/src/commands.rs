//! The commands the webview may call (each granted in `capabilities/default.json`) and the
//! events it hears. Each is a thin wrapper over an [`AppCore`] function; anything that touches
//! the disk or the model runs on a blocking thread so the window stays responsive.
//!
//! Events: `app-status` ([`AppStatus`], when the library has been opened or failed to open)
//! and `import` ([`ImportEvent`], the import thread's progress and outcome).

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{AppHandle, Emitter as _, Manager as _, State};

use crate::{
    AppCore, AppStatus, CommandError, EmitImport, ImportStarted, ModelChoice, Moment, ProbeResult,
    RemovedVideo, VideoRow,
};

/// Event carrying [`AppStatus`] once the library is open (or could not be opened).
pub const STATUS_EVENT: &str = "app-status";
/// Event carrying every [`crate::ImportEvent`].
pub const IMPORT_EVENT: &str = "import";

/// Runs `f` on a blocking thread with the shared state.
async fn blocking<T: Send + 'static>(
    core: &State<'_, Arc<AppCore>>,
    f: impl FnOnce(&AppCore) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let core = Arc::clone(core.inner());
    tauri::async_runtime::spawn_blocking(move || f(&core))
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the command stopped: {e}"),
        })?
}

/// Opens the library with the default model on a thread, then tells the window.
pub fn open_in_background(app: AppHandle) {
    std::thread::spawn(move || {
        let core = Arc::clone(app.state::<Arc<AppCore>>().inner());
        core.open(&ModelChoice::Default);
        let _ = app.emit(STATUS_EVENT, core.status());
    });
}

#[tauri::command]
pub async fn app_status(core: State<'_, Arc<AppCore>>) -> Result<AppStatus, CommandError> {
    Ok(core.status())
}

/// Tries again to open a library that could not be opened (e.g. it was in use).
#[tauri::command]
pub async fn reopen_library(app: AppHandle) -> Result<(), CommandError> {
    open_in_background(app);
    Ok(())
}

#[tauri::command]
pub async fn import_paths(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    paths: Vec<PathBuf>,
) -> Result<ImportStarted, CommandError> {
    let emit: EmitImport = Arc::new(move |event| {
        // The window may be gone while an import ends; nothing to tell then.
        let _ = app.emit(IMPORT_EVENT, event);
    });
    core.import_paths(paths, emit)
}

#[tauri::command]
pub async fn cancel_import(core: State<'_, Arc<AppCore>>) -> Result<bool, CommandError> {
    Ok(core.cancel_import())
}

#[tauri::command]
pub async fn list_videos(core: State<'_, Arc<AppCore>>) -> Result<Vec<VideoRow>, CommandError> {
    blocking(&core, AppCore::list_videos).await
}

#[tauri::command]
pub async fn search(
    core: State<'_, Arc<AppCore>>,
    query: String,
    limit: Option<usize>,
) -> Result<Vec<Moment>, CommandError> {
    blocking(&core, move |c| c.search(&query, limit)).await
}

#[tauri::command]
pub async fn remove_video(
    core: State<'_, Arc<AppCore>>,
    id: i64,
) -> Result<RemovedVideo, CommandError> {
    blocking(&core, move |c| c.remove_video(id)).await
}

#[tauri::command]
pub async fn video_details(
    core: State<'_, Arc<AppCore>>,
    id: i64,
) -> Result<ProbeResult, CommandError> {
    blocking(&core, move |c| c.video_details(id)).await
}

#[tauri::command]
pub async fn open_video(core: State<'_, Arc<AppCore>>, id: i64) -> Result<(), CommandError> {
    blocking(&core, move |c| {
        c.open_externally(id, crate::desktop::Open::Player)
    })
    .await
}

#[tauri::command]
pub async fn reveal_video(core: State<'_, Arc<AppCore>>, id: i64) -> Result<(), CommandError> {
    blocking(&core, move |c| {
        c.open_externally(id, crate::desktop::Open::Folder)
    })
    .await
}

#[tauri::command]
pub async fn locate_steps(
    core: State<'_, Arc<AppCore>>,
    id: i64,
    text: String,
    ordered: bool,
) -> Result<vclip_engine::localize::StepsReport, CommandError> {
    blocking(&core, move |c| c.locate_steps(id, &text, ordered)).await
}
