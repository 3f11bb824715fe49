//! Generates Tauri's context and the permissions of the app's own commands. Declaring the commands
//! in the app manifest means the webview may call only those granted in `capabilities/`.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_status",
        "reopen_library",
        "import_paths",
        "cancel_import",
        "list_videos",
        "search",
        "search_like",
        "search_image",
        "search_image_data",
        "duplicates",
        "footage_elsewhere",
        "remove_video",
        "video_details",
        "open_video",
        "reveal_video",
        "locate_steps",
        "steps_from_video",
        "export_chapters",
        "add_videos_dialog",
        "retry_failed",
        "get_settings",
        "update_settings",
        "choose_library_dialog",
        "import_weights_dialog",
        "download_weights",
        "cancel_download",
        "use_test_model",
        "finetune_plan",
        "start_finetune",
        "cancel_finetune",
        "model_versions",
        "use_model_version",
        "rollback_model",
        "model_families",
        "estimate_family",
        "switch_family",
        "cancel_family",
        "download_family",
        "cancel_family_download",
        "use_test_clip_model",
        "save_clip",
        "export_results",
        "watched_folders",
        "add_watched_folder_dialog",
        "remove_watched_folder",
        "take_pending_link",
        "moment_link",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        // A build script reports failure by panicking; the message is what cargo shows.
        panic!("tauri-build failed: {e:#}");
    }
}
