//! The UI's TypeScript types (`ui/src/bindings/`, committed) are generated from the Rust types
//! that cross the IPC boundary, with ts-rs: this crate's (`#[cfg_attr(test, derive(TS))]`) and
//! the engine's and media layer's (their `ts` feature, on only in this crate's test build).
//!
//! `bindings_are_up_to_date` regenerates them into a temporary folder and fails when the
//! committed files differ, so a changed Rust type cannot leave the UI's types behind unnoticed.
//! `VCLIP_UPDATE_BINDINGS=1` (what `scripts/gen-bindings.sh` sets) rewrites them instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, ExportError, TS};
use vclip_engine::chapters::{ChapterFormat, ChapterStep};
use vclip_engine::localize::StepsReport;

use crate::jobs::JobEvent;
use crate::{
    AppStatus, CommandError, ExportedChapters, ImportStarted, ImportSummary, Moment, ProbeResult,
    RemovedVideo, RetryStarted, VideoRow,
};

/// The committed bindings.
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
}

/// Writes the bindings of every type a command returns or takes, or an event carries (and of
/// the types they are made of) into `dir`. Ids and counts are `number`, not `bigint`: serde_json
/// sends them as JSON numbers, and none comes near 2^53.
fn export(dir: &Path) -> Result<(), ExportError> {
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    // Answers of commands.
    AppStatus::export_all(&cfg)?;
    ImportStarted::export_all(&cfg)?;
    RetryStarted::export_all(&cfg)?;
    VideoRow::export_all(&cfg)?;
    Moment::export_all(&cfg)?;
    RemovedVideo::export_all(&cfg)?;
    ProbeResult::export_all(&cfg)?;
    StepsReport::export_all(&cfg)?;
    vclip_engine::step_sources::FoundSteps::export_all(&cfg)?;
    crate::settings::SettingsView::export_all(&cfg)?;
    crate::settings::SettingsChange::export_all(&cfg)?;
    crate::settings::Downloaded::export_all(&cfg)?;
    ExportedChapters::export_all(&cfg)?;
    crate::finetune::FinetuneInfo::export_all(&cfg)?;
    crate::finetune::VersionsView::export_all(&cfg)?;
    crate::family::FamiliesView::export_all(&cfg)?;
    crate::family::FamilyEstimate::export_all(&cfg)?;
    crate::family::SwitchStarted::export_all(&cfg)?;
    // What the UI sends.
    crate::family::FamilyChoice::export_all(&cfg)?;
    crate::finetune::FinetuneSettings::export_all(&cfg)?;
    ChapterStep::export_all(&cfg)?;
    ChapterFormat::export_all(&cfg)?;
    // Every command's error, and the one event shape of the background jobs (`import`,
    // `finetune`, `version-switch`, `family-switch`, `model-download`, `family-download`; the
    // results above and `ImportSummary`, `FinetuneResult`, `SwitchSummary`, `Downloaded`).
    // `app-status` carries `AppStatus`.
    CommandError::export_all(&cfg)?;
    JobEvent::<ImportSummary>::export_all(&cfg)?;
    crate::finetune::FinetuneResult::export_all(&cfg)?;
    crate::family::SwitchSummary::export_all(&cfg)?;
    Ok(())
}

/// The files of `dir` (no subfolders are written) by name.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.expect("read a bindings folder entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&p).expect("read a binding");
            (name, bytes)
        })
        .collect()
}

#[test]
fn bindings_are_up_to_date() {
    let fresh_dir = tempfile::tempdir().expect("temporary folder");
    export(fresh_dir.path()).expect("export the TypeScript bindings");
    let fresh = read_dir(fresh_dir.path());
    assert!(fresh.contains_key("CommandError.ts"), "{:?}", fresh.keys());

    let committed_dir = committed_dir();
    if std::env::var_os("VCLIP_UPDATE_BINDINGS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&committed_dir).expect("create ui/src/bindings");
        for name in read_dir(&committed_dir).keys() {
            if !fresh.contains_key(name) {
                std::fs::remove_file(committed_dir.join(name)).expect("remove a stale binding");
            }
        }
        for (name, bytes) in &fresh {
            std::fs::write(committed_dir.join(name), bytes).expect("write a binding");
        }
        return;
    }

    let committed = read_dir(&committed_dir);
    let mut problems = Vec::new();
    for (name, bytes) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("{name}: missing")),
            Some(old) if old != bytes => problems.push(format!("{name}: differs")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|n| !fresh.contains_key(*n)) {
        problems.push(format!("{name}: no longer generated"));
    }
    assert!(
        problems.is_empty(),
        "ui/src/bindings/ is out of date with the Rust types ({}); regenerate it with \
         scripts/gen-bindings.sh (VCLIP_UPDATE_BINDINGS=1 cargo test -p vclip-app --lib \
         bindings_are_up_to_date) and commit the result",
        problems.join(", ")
    );
}
