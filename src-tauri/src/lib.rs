//! The VClip desktop window: a thin Tauri 2 face over the headless crates.
//!
//! Everything the window knows comes from `vclip-engine` (the library: import, search, list,
//! remove) and `vclip-media` (what a file holds). This crate resolves the library folder, keeps
//! the open library and the import job ([`AppCore`], `app.rs`), exposes them to the webview as
//! commands and events (`commands.rs`), serves thumbnails from inside the library only
//! (`thumb:` protocol) and library videos to the player (`media_server.rs`: loopback HTTP
//! with byte ranges), and starts the window. The plain functions behind the commands are
//! tested without a window (`tests.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// A file the UI asked about that could not be handled, with the reason in words.
/// Sent to the UI as `{ path, message }`; the path is not repeated inside `message`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FileError {
    pub path: String,
    pub message: String,
}

impl From<vclip_engine::ImportFailure> for FileError {
    fn from(f: vclip_engine::ImportFailure) -> Self {
        Self {
            path: f.path.to_string_lossy().into_owned(),
            message: f.reason,
        }
    }
}

/// What probing one file gave: `{ status: "ok", path, info }` or
/// `{ status: "error", path, message }` in the UI.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// An error of a command as a whole (not of one file), as the UI receives it:
/// `{ kind, message }` (plus `in_use` for `libraryUnavailable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CommandError {
    /// The background task doing the work stopped unexpectedly.
    #[error("internal error: {message}")]
    Internal { message: String },
    /// The library is still being opened (the model loading); try again in a moment.
    #[error("{message}")]
    Opening { message: String },
    /// The library could not be opened; `in_use`: another VClip process has it.
    #[error("{message}")]
    LibraryUnavailable { message: String, in_use: bool },
    /// The command needs a model and none is loaded.
    #[error("{message}")]
    NoModel { message: String },
    /// No such video in the library.
    #[error("{message}")]
    NotFound { message: String },
    /// The import in progress holds what the command would change.
    #[error("{message}")]
    Busy { message: String },
    /// The job was cancelled.
    #[error("{message}")]
    Cancelled { message: String },
    /// The library itself failed (I/O, a damaged index, …).
    #[error("{message}")]
    Engine { message: String },
    /// What the UI sent cannot be used (e.g. a step whose end is before its start).
    #[error("{message}")]
    Invalid { message: String },
    /// A video cannot be used for this yet (not imported, no subtitles…); the message says
    /// what to do.
    #[error("{message}")]
    NotReady { message: String },
    /// The disk holding the library is full: nothing was lost, free space and try again.
    #[error("{message}")]
    DiskFull { message: String },
    /// Weights could not be downloaded or did not check out (the message names the address or
    /// file and why); a later download resumes.
    #[error("{message}")]
    Download { message: String },
    /// A file the user chose could not be written; the message names it.
    #[error("{message}")]
    File { message: String },
}

impl CommandError {
    fn no_model() -> Self {
        CommandError::NoModel {
            message: "no model is installed, so videos cannot be imported yet: get the weights \
                      with `vclip models pull` (or `vclip models import`), then restart VClip"
                .into(),
        }
    }
}

mod app;
mod commands;
pub mod desktop;
pub mod family;
pub mod finetune;
pub mod jobs;
pub mod media;
pub mod media_server;
mod retry;
pub mod settings;
pub mod watching;

pub use app::{
    default_model_dir, inside_library, snippet_parts, AppCore, AppStatus, EmitImport,
    ExportedChapters, ExportedMoments, ImportEvent, ImportStarted, ImportSummary, LibraryState,
    LinkTarget, ModelChoice, ModelStatus, Moment, MomentSpan, RemovedVideo, SaveTarget, SavedClip,
    Served, SnippetPart, TimelineFormat, VideoRow, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT,
};
pub use retry::RetryStarted;

/// The custom URI scheme that serves thumbnails: `thumb://localhost/<video id>` (Linux, macOS),
/// `http://thumb.localhost/<video id>` (Windows).
pub const THUMB_SCHEME: &str = "thumb";

/// How long closing the window waits for a running import to reach a checkpoint.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Answers a `thumb:` request off the main thread: only the main window may ask,
/// only with GET (or HEAD, answered without a body).
fn serve<R: tauri::Runtime>(
    ctx: tauri::UriSchemeContext<'_, R>,
    request: tauri::http::Request<Vec<u8>>,
    responder: tauri::UriSchemeResponder,
    answer: impl FnOnce(&AppCore, &str, Option<&str>) -> Served + Send + 'static,
) {
    use tauri::http::{header, Method, Response, StatusCode};
    use tauri::Manager as _;

    let core = Arc::clone(ctx.app_handle().state::<Arc<AppCore>>().inner());
    let head = request.method() == Method::HEAD;
    let allowed = ctx.webview_label() == "main" && (request.method() == Method::GET || head);
    let path = request.uri().path().to_owned();
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    tauri::async_runtime::spawn_blocking(move || {
        let served = if allowed {
            answer(&core, &path, range.as_deref())
        } else {
            Served::error(405)
        };
        let status =
            StatusCode::from_u16(served.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, served.content_type)
            .header(header::CONTENT_LENGTH, served.body.len())
            .header(header::CACHE_CONTROL, "no-cache")
            .header("X-Content-Type-Options", "nosniff");
        for (name, value) in &served.headers {
            builder = builder.header(*name, value);
        }
        let body = if head { Vec::new() } else { served.body };
        let response = builder.body(body).unwrap_or_else(|_| {
            let mut r = Response::new(Vec::new());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        });
        responder.respond(response);
    });
}

/// The library folder at start: `explicit` (`--library`), else `$VCLIP_LIBRARY`, else the
/// settings' library, else the default one. A saved library that cannot be opened any more
/// (its disk is gone) falls back to the default with a warning on the settings screen.
pub fn start_library(
    explicit: Option<PathBuf>,
    setup: &settings::Setup,
) -> Result<PathBuf, LibraryError> {
    if explicit.is_some() {
        return resolve_library(explicit);
    }
    if let Some(saved) = setup.library() {
        match resolve_library(Some(saved.clone())) {
            Ok(dir) => return Ok(dir),
            Err(e) => setup.warn(format!(
                "the library saved in the settings cannot be opened ({e}): using the default one"
            )),
        }
    }
    resolve_library(None)
}

/// Opens the main window on `library` and runs until it is closed. The library (and the model)
/// are opened on a background thread while the window appears; the UI hears `app-status` when
/// that is done.
pub fn run(
    library: PathBuf,
    setup: settings::Setup,
    link: Option<vclip_engine::links::MomentLink>,
) -> Result<(), tauri::Error> {
    let core = AppCore::with_setup(library, setup);
    core.set_pending_link(link);
    // The player's file server (see `media_server`: why not a URI scheme). Without it the
    // window still works; the player says it cannot play.
    let serving = Arc::clone(&core);
    let server =
        media_server::MediaServer::start(Arc::new(move |path, range| serving.media(path, range)));
    match &server {
        Ok(server) => core.set_media_base(server.base_url()),
        Err(e) => eprintln!("vclip-app: the player's file server did not start: {e}"),
    }
    let app = tauri::Builder::default()
        // Native dialogs, opened only by the app's own commands (`export_chapters`,
        // `add_videos_dialog`): the window's capability grants no `dialog:` permission.
        .plugin(tauri_plugin_dialog::init())
        .manage(Arc::clone(&core))
        .register_asynchronous_uri_scheme_protocol(THUMB_SCHEME, |ctx, request, responder| {
            serve(ctx, request, responder, |core, path, _| {
                core.thumbnail(path)
            });
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::reopen_library,
            commands::import_paths,
            commands::cancel_import,
            commands::list_videos,
            commands::search,
            commands::search_like,
            commands::search_image,
            commands::search_image_data,
            commands::duplicates,
            commands::footage_elsewhere,
            commands::remove_video,
            commands::video_details,
            commands::open_video,
            commands::reveal_video,
            commands::locate_steps,
            commands::steps_from_video,
            commands::export_chapters,
            commands::save_clip,
            commands::export_results,
            commands::watched_folders,
            commands::take_pending_link,
            commands::moment_link,
            commands::add_watched_folder_dialog,
            commands::remove_watched_folder,
            commands::add_videos_dialog,
            commands::retry_failed,
            commands::get_settings,
            commands::update_settings,
            commands::choose_library_dialog,
            commands::import_weights_dialog,
            commands::download_weights,
            commands::cancel_download,
            commands::use_test_model,
            commands::finetune_plan,
            commands::start_finetune,
            commands::cancel_finetune,
            commands::model_versions,
            commands::use_model_version,
            commands::rollback_model,
            commands::model_families,
            commands::estimate_family,
            commands::switch_family,
            commands::cancel_family,
            commands::download_family,
            commands::cancel_family_download,
            commands::use_test_clip_model,
        ])
        .setup(|app| {
            commands::open_in_background(app.handle().clone());
            commands::start_watching(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(move |_, event| {
        if let tauri::RunEvent::Exit = event {
            let _ = &server; // serves until the window closes
            if !core.shutdown(SHUTDOWN_WAIT) {
                eprintln!("vclip-app: the import did not stop in time; it resumes next time");
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod tests;
