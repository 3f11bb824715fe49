//! The commands the webview may call (each granted in `capabilities/default.json`) and the
//! events it hears. Each is a thin wrapper over an [`AppCore`] function; anything that touches
//! the disk or the model runs on a blocking thread so the window stays responsive.
//!
//! `export_chapters` and `add_videos_dialog` open native file dialogs from Rust (the
//! dialog plugin's Rust API, on a blocking thread): the webview is granted no `dialog:`
//! permission, so it can neither open a dialog of its own nor choose where a file is written.
//!
//! Events: `app-status` ([`AppStatus`], when the library has been opened or failed to open)
//! and `import` ([`ImportEvent`], the import thread's progress and outcome).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tauri::{AppHandle, Emitter as _, Manager as _, State};
use tauri_plugin_dialog::{DialogExt as _, FileDialogBuilder, FilePath};
use vclip_engine::chapters::{ChapterFormat, ChapterStep};

use crate::family::{EmitFamily, FamiliesView, FamilyChoice, FamilyEstimate, SwitchStarted};
use crate::finetune::{
    EmitFinetune, EmitVersionSwitch, FinetuneInfo, FinetuneSettings, VersionsView,
};
use crate::jobs::{Emit, JobEvent};
use crate::settings::{EmitDownload, SettingsChange, SettingsView};
use crate::{
    AppCore, AppStatus, CommandError, EmitImport, ExportedChapters, ExportedMoments, ImportStarted,
    LinkTarget, ModelChoice, Moment, MomentSpan, ProbeResult, RemovedVideo, RetryStarted,
    SavedClip, TimelineFormat, VideoRow,
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

/// The import's events go to the window.
fn emit_import(app: AppHandle) -> EmitImport {
    Arc::new(move |event| {
        // The window may be gone while an import ends; nothing to tell then.
        let _ = app.emit(IMPORT_EVENT, event);
    })
}

/// Keeps the library current with its watched folders while the app runs (rescans go
/// through the import thread and its `import` events).
pub fn start_watching(app: AppHandle) {
    let core = Arc::clone(app.state::<Arc<AppCore>>().inner());
    if let Err(e) = core.start_watching(emit_import(app)) {
        eprintln!("vclip-app: {e:?}");
    }
}

/// The moment link the app was started with (`vclip-app LINK`, `vclip open LINK`), resolved:
/// the window opens the player there. `None` when there was none (or it was taken).
#[tauri::command]
pub async fn take_pending_link(
    core: State<'_, Arc<AppCore>>,
) -> Result<Option<LinkTarget>, CommandError> {
    blocking(&core, |c| c.take_pending_link()).await
}

/// *Copy link*: the `vclip://` link to second `at_s` of video `id`.
#[tauri::command]
pub async fn moment_link(
    core: State<'_, Arc<AppCore>>,
    id: i64,
    at_s: f64,
) -> Result<String, CommandError> {
    blocking(&core, move |c| c.moment_link(id, at_s)).await
}

/// Paths as the window shows them.
fn texts(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// The library's watched folders.
#[tauri::command]
pub async fn watched_folders(core: State<'_, Arc<AppCore>>) -> Result<Vec<String>, CommandError> {
    let list = blocking(&core, |c| c.watched_folders()).await?;
    Ok(texts(&list))
}

/// "Watch a folder…": a native folder picker; the folder picked is watched (and rescanned
/// at once). The new list; `None` when the dialog was cancelled.
#[tauri::command]
pub async fn add_watched_folder_dialog(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<Option<Vec<String>>, CommandError> {
    let dialog = file_dialog(&app).set_title("Watch a folder");
    let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the folder dialog stopped: {e}"),
        })?;
    let Some(folder) = picked_paths(chosen.map(|f| vec![f])).and_then(|p| p.into_iter().next())
    else {
        return Ok(None);
    };
    let list = blocking(&core, move |c| c.change_watched_folder(&folder, true)).await?;
    core.watch_now();
    Ok(Some(texts(&list)))
}

/// Stops watching `folder` (its videos stay in the library). The new list.
#[tauri::command]
pub async fn remove_watched_folder(
    core: State<'_, Arc<AppCore>>,
    folder: String,
) -> Result<Vec<String>, CommandError> {
    let list = blocking(&core, move |c| {
        c.change_watched_folder(std::path::Path::new(&folder), false)
    })
    .await?;
    Ok(texts(&list))
}

/// A job's events go to the window as the Tauri event `name`; its end also sends the app's
/// status when `status` (the model or the library may have changed).
fn emit_job<T: serde::Serialize + Clone + Send + 'static>(
    app: AppHandle,
    name: &'static str,
    status: Option<Arc<AppCore>>,
) -> Emit<T> {
    Arc::new(move |event: JobEvent<T>| {
        let end = event.is_end();
        let _ = app.emit(name, event);
        if let (true, Some(core)) = (end, &status) {
            let _ = app.emit(STATUS_EVENT, core.status());
        }
    })
}

#[tauri::command]
pub async fn import_paths(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    paths: Vec<PathBuf>,
) -> Result<ImportStarted, CommandError> {
    core.import_paths(paths, emit_import(app))
}

/// A file dialog over the main window (as the dialog plugin's own commands do: a parent on
/// Windows and macOS only).
fn file_dialog(app: &AppHandle) -> FileDialogBuilder<tauri::Wry> {
    #[allow(unused_mut)]
    let mut builder = app.dialog().file();
    #[cfg(any(windows, target_os = "macos"))]
    if let Some(window) = app.get_webview_window("main") {
        builder = builder.set_parent(&window);
    }
    builder
}

/// The local paths among what a dialog returned (`None`: cancelled). A URI that is not a
/// local file (only mobile platforms give those) is left out.
pub(crate) fn picked_paths(picked: Option<Vec<FilePath>>) -> Option<Vec<PathBuf>> {
    picked.map(|files| {
        files
            .into_iter()
            .filter_map(|f| f.into_path().ok())
            .collect()
    })
}

/// "Add videos…" (`folder: false`: several files, filtered on video extensions, "All files"
/// as the other choice) or "Add folder…" (`folder: true`), then the import of dropped paths.
/// `None` when the dialog was cancelled.
#[tauri::command]
pub async fn add_videos_dialog(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    folder: bool,
) -> Result<Option<ImportStarted>, CommandError> {
    core.can_import()?;
    let dialog = file_dialog(&app);
    let picked = tauri::async_runtime::spawn_blocking(move || {
        if folder {
            dialog
                .set_title("Add a folder of videos")
                .blocking_pick_folder()
                .map(|f| vec![f])
        } else {
            // GTK's patterns are case-sensitive: CLIP.MP4 needs its own.
            let upper: Vec<String> = vclip_media::VIDEO_EXTENSIONS
                .iter()
                .map(|e| e.to_ascii_uppercase())
                .collect();
            let extensions: Vec<&str> = vclip_media::VIDEO_EXTENSIONS
                .iter()
                .copied()
                .chain(upper.iter().map(String::as_str))
                .collect();
            dialog
                .set_title("Add videos")
                .add_filter("Videos", &extensions)
                .add_filter("All files", &["*"])
                .blocking_pick_files()
        }
    })
    .await
    .map_err(|e| CommandError::Internal {
        message: format!("the file dialog stopped: {e}"),
    })?;
    core.import_picked(picked_paths(picked), emit_import(app))
}

/// Imports the library's failed videos again (`ids`: those of them; `None`: all), by their
/// paths, as a drop would. Unknown ids are refused; videos that have not failed are left alone.
#[tauri::command]
pub async fn retry_failed(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    ids: Option<Vec<i64>>,
) -> Result<RetryStarted, CommandError> {
    let core = Arc::clone(core.inner());
    let emit = emit_import(app);
    tauri::async_runtime::spawn_blocking(move || core.retry_failed(ids, emit))
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the command stopped: {e}"),
        })?
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
pub async fn search_like(
    core: State<'_, Arc<AppCore>>,
    video_id: i64,
    at_s: f64,
    duration_s: f64,
    limit: Option<usize>,
) -> Result<Vec<Moment>, CommandError> {
    blocking(&core, move |c| {
        c.search_like(video_id, at_s, duration_s, limit)
    })
    .await
}

#[tauri::command]
pub async fn search_image(
    core: State<'_, Arc<AppCore>>,
    path: String,
    limit: Option<usize>,
) -> Result<Vec<Moment>, CommandError> {
    blocking(&core, move |c| c.search_image(Path::new(&path), limit)).await
}

#[tauri::command]
pub async fn search_image_data(
    core: State<'_, Arc<AppCore>>,
    data: Vec<u8>,
    limit: Option<usize>,
) -> Result<Vec<Moment>, CommandError> {
    blocking(&core, move |c| c.search_image_data(&data, limit)).await
}

#[tauri::command]
pub async fn duplicates(
    core: State<'_, Arc<AppCore>>,
) -> Result<vclip_engine::duplicates::DuplicatesReport, CommandError> {
    blocking(&core, |c| c.duplicates(true).map(|r| (*r).clone())).await
}

#[tauri::command]
pub async fn footage_elsewhere(
    core: State<'_, Arc<AppCore>>,
    id: i64,
) -> Result<Vec<vclip_engine::duplicates::SharedFootage>, CommandError> {
    blocking(&core, move |c| c.footage_elsewhere(id)).await
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

/// The steps video `id` lists itself, and where they were found.
#[tauri::command]
pub async fn steps_from_video(
    core: State<'_, Arc<AppCore>>,
    id: i64,
) -> Result<vclip_engine::step_sources::FoundSteps, CommandError> {
    blocking(&core, move |c| c.steps_from_video(id)).await
}

/// Asks where to save with the native save dialog, starting at `target`, offering files of
/// `filter` (`extension`). `None` when the user cancelled.
async fn ask_save_path(
    app: &AppHandle,
    title: &str,
    target: crate::SaveTarget,
    filter: &str,
    extension: &str,
) -> Result<Option<PathBuf>, CommandError> {
    let mut dialog = file_dialog(app)
        .set_title(title)
        .set_file_name(target.file_name)
        .add_filter(filter, &[extension]);
    if let Some(dir) = target.directory.filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the save dialog stopped: {e}"),
        })?;
    Ok(picked_paths(chosen.map(|f| vec![f])).and_then(|p| p.into_iter().next()))
}

/// Saves the Steps panel's steps of video `id` as chapters (`format`: `vtt` or `ffmetadata`)
/// where the user says in a native save dialog. `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_chapters(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    id: i64,
    steps: Vec<ChapterStep>,
    format: ChapterFormat,
) -> Result<Option<ExportedChapters>, CommandError> {
    let target = core.chapters_target(id, &steps, format)?;
    let filter = match format {
        ChapterFormat::Vtt => "WebVTT chapters",
        ChapterFormat::Ffmetadata => "ffmpeg metadata",
    };
    let chosen = ask_save_path(&app, "Export chapters", target, filter, format.extension());
    let Some(path) = chosen.await? else {
        return Ok(None);
    };
    blocking(&core, move |c| {
        c.export_chapters(id, &steps, format, &path).map(Some)
    })
    .await
}

/// *Save clip…*: `start_s..end_s` of video `id` as a video file where the user says in a
/// native save dialog (a stream copy when a keyframe is at the start, else an exact
/// re-encode). `None` when the dialog was cancelled.
#[tauri::command]
pub async fn save_clip(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    id: i64,
    start_s: f64,
    end_s: f64,
) -> Result<Option<SavedClip>, CommandError> {
    let target = core.clip_target(id, start_s)?;
    let ext = target
        .file_name
        .rsplit('.')
        .next()
        .unwrap_or("mp4")
        .to_string();
    let Some(path) = ask_save_path(&app, "Save clip", target, "Video", &ext).await? else {
        return Ok(None);
    };
    blocking(&core, move |c| {
        c.save_clip(id, start_s, end_s, &path).map(Some)
    })
    .await
}

/// *Export results…*: the moments found for `query` as an editor timeline (`format`) where
/// the user says in a native save dialog. `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_results(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    query: String,
    moments: Vec<MomentSpan>,
    format: TimelineFormat,
) -> Result<Option<ExportedMoments>, CommandError> {
    if moments.is_empty() {
        return Err(CommandError::Invalid {
            message: "no moments to export".into(),
        });
    }
    let target = crate::SaveTarget {
        file_name: format!("VClip moments.{}", format.extension()),
        directory: None,
    };
    let chosen = ask_save_path(
        &app,
        "Export results",
        target,
        format.description(),
        format.extension(),
    );
    let Some(path) = chosen.await? else {
        return Ok(None);
    };
    blocking(&core, move |c| {
        c.export_moments(&query, &moments, format, &path).map(Some)
    })
    .await
}

// ---- models and settings (`settings.rs`) ----

/// Event carrying every [`crate::settings::DownloadEvent`] of the model download.
pub const DOWNLOAD_EVENT: &str = "model-download";

/// Runs a settings change on a blocking thread, then tells the window the new status (the
/// library may have been reopened).
async fn reconfigure<T: Send + 'static>(
    app: AppHandle,
    core: &State<'_, Arc<AppCore>>,
    f: impl FnOnce(&AppCore) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let out = blocking(core, f).await;
    let _ = app.emit(STATUS_EVENT, core.status());
    out
}

#[tauri::command]
pub async fn get_settings(core: State<'_, Arc<AppCore>>) -> Result<SettingsView, CommandError> {
    Ok(core.settings_view())
}

/// Device and text precision; the model is loaded again with them.
#[tauri::command]
pub async fn update_settings(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    change: SettingsChange,
) -> Result<SettingsView, CommandError> {
    reconfigure(app, &core, move |c| c.update_settings(change)).await
}

/// "Change…": a native folder dialog, then the library there. `None` when cancelled.
#[tauri::command]
pub async fn choose_library_dialog(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<Option<SettingsView>, CommandError> {
    let mut dialog = file_dialog(&app).set_title("Choose the library folder");
    if let Some(parent) = core.library().parent().filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(parent);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the folder dialog stopped: {e}"),
        })?;
    let Some(dir) = picked_paths(picked.map(|f| vec![f])).and_then(|p| p.into_iter().next()) else {
        return Ok(None);
    };
    reconfigure(app, &core, move |c| c.change_library(&dir).map(Some)).await
}

/// "Import official weights…": a native dialog for the three released files, then the same
/// import as `vclip models import`. `None` when cancelled.
#[tauri::command]
pub async fn import_weights_dialog(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<Option<SettingsView>, CommandError> {
    let dialog = file_dialog(&app)
        .set_title("Choose checkpoint_best.pt, s3d_howto100m.pth and vocab.txt")
        .add_filter("Weights and vocabulary", &["pt", "pth", "txt"])
        .add_filter("All files", &["*"]);
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_files())
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the file dialog stopped: {e}"),
        })?;
    let Some(files) = picked_paths(picked).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    reconfigure(app, &core, move |c| {
        c.import_weights(&files, vclip_model::Preset::Full)
            .map(Some)
    })
    .await
}

/// Downloads and imports the official weights (progress on `model-download`); the only thing
/// the app ever sends over the network.
#[tauri::command]
pub async fn download_weights(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<(), CommandError> {
    let emit: EmitDownload = emit_job(app, DOWNLOAD_EVENT, Some(Arc::clone(core.inner())));
    core.download_weights(Vec::new(), vclip_model::Preset::Full, emit)
}

#[tauri::command]
pub async fn cancel_download(core: State<'_, Arc<AppCore>>) -> Result<bool, CommandError> {
    Ok(core.cancel_download())
}

/// "Try with a random test model": meaningless for visual search, and labelled so.
#[tauri::command]
pub async fn use_test_model(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<SettingsView, CommandError> {
    reconfigure(app, &core, AppCore::use_test_model).await
}

// ---- fine-tuning and model versions (`finetune.rs`) ----

/// Event carrying every [`crate::finetune::FinetuneEvent`] of the fine-tune.
pub const FINETUNE_EVENT: &str = "finetune";
/// Event carrying every [`crate::finetune::VersionSwitchEvent`] of a version switch.
pub const VERSION_SWITCH_EVENT: &str = "version-switch";

/// What a fine-tune would train on, how long it should take here and where it runs
/// (`settings`: `null` for the suggested ones). Times a few real steps: takes a moment.
#[tauri::command]
pub async fn finetune_plan(
    core: State<'_, Arc<AppCore>>,
    settings: Option<FinetuneSettings>,
) -> Result<FinetuneInfo, CommandError> {
    blocking(&core, move |c| c.finetune_info(settings)).await
}

/// Starts a fine-tune of the active model on this library (events on `finetune`).
#[tauri::command]
pub async fn start_finetune(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    settings: FinetuneSettings,
) -> Result<(), CommandError> {
    let core = Arc::clone(core.inner());
    let emit: EmitFinetune = emit_job(app, FINETUNE_EVENT, Some(Arc::clone(&core)));
    tauri::async_runtime::spawn_blocking(move || core.start_finetune(settings, emit))
        .await
        .map_err(|e| CommandError::Internal {
            message: format!("the command stopped: {e}"),
        })?
}

#[tauri::command]
pub async fn cancel_finetune(core: State<'_, Arc<AppCore>>) -> Result<bool, CommandError> {
    Ok(core.cancel_finetune())
}

#[tauri::command]
pub async fn model_versions(core: State<'_, Arc<AppCore>>) -> Result<VersionsView, CommandError> {
    blocking(&core, |c| Ok(c.versions_view())).await
}

/// Switches the library to a model version (re-embedding it from the feature cache when that
/// version's windows are missing; progress on `version-switch`).
#[tauri::command]
pub async fn use_model_version(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    version: String,
) -> Result<VersionsView, CommandError> {
    let emit: EmitVersionSwitch = emit_job(app.clone(), VERSION_SWITCH_EVENT, None);
    reconfigure(app, &core, move |c| c.use_version(&version, emit)).await
}

/// Back to the model version active before.
#[tauri::command]
pub async fn rollback_model(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
) -> Result<VersionsView, CommandError> {
    let emit: EmitVersionSwitch = emit_job(app.clone(), VERSION_SWITCH_EVENT, None);
    reconfigure(app, &core, move |c| c.rollback_version(emit)).await
}

// ---- the model family (`family.rs`) ----

/// Event carrying every [`crate::family::FamilyEvent`] of a family switch.
pub const FAMILY_EVENT: &str = "family-switch";
/// Event carrying every [`crate::settings::DownloadEvent`] of the other family's download.
pub const FAMILY_DOWNLOAD_EVENT: &str = "family-download";

/// The active family and the other one on offer, with what a switch would do here.
#[tauri::command]
pub async fn model_families(core: State<'_, Arc<AppCore>>) -> Result<FamiliesView, CommandError> {
    blocking(&core, |c| Ok(c.families_view())).await
}

/// How long importing with `family` would take here, measured now (a few seconds).
#[tauri::command]
pub async fn estimate_family(
    core: State<'_, Arc<AppCore>>,
    family: FamilyChoice,
) -> Result<FamilyEstimate, CommandError> {
    blocking(&core, move |c| {
        c.estimate_family(family, &vclip_engine::estimate::EstimateOptions::default())
    })
    .await
}

/// Switches the library to `family` (events on `family-switch`; the end also sends the app's
/// status: the model changed, or the old one is back).
#[tauri::command]
pub async fn switch_family(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    family: FamilyChoice,
) -> Result<SwitchStarted, CommandError> {
    let core = Arc::clone(core.inner());
    let emit: EmitFamily = emit_job(app.clone(), FAMILY_EVENT, Some(Arc::clone(&core)));
    let started = tauri::async_runtime::spawn_blocking(move || {
        let started = core.switch_family(family, emit);
        (started, core)
    })
    .await
    .map_err(|e| CommandError::Internal {
        message: format!("the command stopped: {e}"),
    })?;
    // The library was reopened with the family's model.
    let _ = app.emit(STATUS_EVENT, started.1.status());
    started.0
}

/// Stops a running estimate or switch.
#[tauri::command]
pub async fn cancel_family(core: State<'_, Arc<AppCore>>) -> Result<bool, CommandError> {
    Ok(core.cancel_family())
}

/// Downloads the official weights of `family` (events on `family-download`); no switch.
#[tauri::command]
pub async fn download_family(
    app: AppHandle,
    core: State<'_, Arc<AppCore>>,
    family: FamilyChoice,
) -> Result<(), CommandError> {
    let emit: EmitDownload = emit_job(app, FAMILY_DOWNLOAD_EVENT, None);
    core.download_family(family, Vec::new(), vclip_model::Preset::Full, emit)
}

#[tauri::command]
pub async fn cancel_family_download(core: State<'_, Arc<AppCore>>) -> Result<bool, CommandError> {
    Ok(core.cancel_family_download())
}

/// Writes a tiny random CLIP model to try the switch with (offered, not used).
#[tauri::command]
pub async fn use_test_clip_model(
    core: State<'_, Arc<AppCore>>,
) -> Result<FamiliesView, CommandError> {
    blocking(&core, AppCore::use_test_clip_model).await
}
