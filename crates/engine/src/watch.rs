//! Keeping the library current with the folders people point it at.
//!
//! [`Engine::rescan`] compares watched folders with the catalogue:
//! - a file whose path, size and modification time the catalogue already has is left alone
//!   after a `stat` (no hashing, no decoding): an unchanged library rescans in seconds;
//! - a new file is imported once it has stopped changing (modified more than `settle_s` ago, so
//!   a copy in progress is never imported half-way; it is *deferred* to a later round);
//! - a moved or renamed file is recognised by its content hash and *relinked*: the catalogue
//!   row takes the new path and keeps its windows, without decoding again;
//! - a file changed in place (new content at the same path) is imported again and its old
//!   entry removed;
//! - a catalogued file under a watched folder that is gone is marked *missing*: kept in the
//!   library and listed, not searched; when it (or a file with its content) reappears it is
//!   *restored*. An unplugged drive marks its videos missing, and they come back with it.
//!
//! [`Engine::watch`] rescans, then waits for a change the OS reports under the folders (the
//! `notify` crate; events are debounced), or for a periodic poll that catches what a watcher
//! cannot see (a folder that disappeared and came back, files still settling), and rescans
//! again, until cancelled. Cancelling lets the current file's import finish its step cleanly
//! (an interrupted import resumes on the next run).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::discover::discover;
use crate::import::{ImportFailure, ImportOptions};
use crate::progress::{CancelToken, ProgressSink};
use crate::store::{EngineError, Result};
use crate::Engine;
use vclip_index::Status;

/// How a rescan or a watch behaves.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub import: ImportOptions,
    /// A file modified less than this long ago is still being written: left for later.
    pub settle: Duration,
    /// How long the OS must stay quiet after a change before the rescan starts.
    pub debounce: Duration,
    /// Rescan at least this often even without events (folders that came back).
    pub poll: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            import: ImportOptions::default(),
            settle: Duration::from_secs(2),
            debounce: Duration::from_millis(500),
            poll: Duration::from_secs(10),
        }
    }
}

/// A video found under a new path by its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relinked {
    pub from: PathBuf,
    pub to: PathBuf,
}

/// What one rescan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RescanReport {
    /// Files the catalogue already had as they are (a `stat` each, nothing else).
    pub unchanged: usize,
    /// New files imported (decoded and indexed).
    pub imported: Vec<PathBuf>,
    /// Files changed in place, imported again (their old entries removed).
    pub reimported: Vec<PathBuf>,
    /// Videos found under a new path by their content: no decoding.
    pub relinked: Vec<Relinked>,
    /// Catalogued files found gone: kept, not searched.
    pub missing: Vec<PathBuf>,
    /// Files marked missing earlier and found again.
    pub restored: Vec<PathBuf>,
    /// Files still being written: imported once they settle.
    pub deferred: Vec<PathBuf>,
    pub failed: Vec<ImportFailure>,
    /// Video-seconds decoded (0 when nothing needed decoding).
    pub decoded_s: f64,
    pub cancelled: bool,
}

impl RescanReport {
    /// Whether the library changed.
    pub fn changed(&self) -> bool {
        !(self.imported.is_empty()
            && self.reimported.is_empty()
            && self.relinked.is_empty()
            && self.missing.is_empty()
            && self.restored.is_empty())
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether `path` is `folder` or inside it.
fn under(path: &str, folder: &Path) -> bool {
    Path::new(path).starts_with(folder)
}

/// What a rescan would do, found without changing anything: a walk and a `stat` per file.
struct Survey {
    /// The catalogue before the rescan.
    before: Vec<vclip_index::Video>,
    /// Files the catalogue has as they are.
    unchanged: usize,
    /// Files to import: new, changed, moved, or left unfinished.
    candidates: Vec<PathBuf>,
    /// Rows whose file changed in place: replaced by the new content's row after the import.
    changed: Vec<(i64, PathBuf)>,
    /// Rows marked missing whose file is back as it was.
    restore: Vec<(i64, PathBuf)>,
    /// Rows under the folders whose file is gone.
    gone: Vec<(i64, PathBuf)>,
    /// Files still being written.
    deferred: Vec<PathBuf>,
    failed: Vec<ImportFailure>,
}

impl Survey {
    /// Whether a rescan would import, relink, restore or mark something missing.
    fn needed(&self) -> bool {
        !(self.candidates.is_empty() && self.restore.is_empty() && self.gone.is_empty())
    }
}

impl Engine {
    /// Compares `folders` with the catalogue (see the module docs), changing nothing.
    fn survey(&self, folders: &[PathBuf], settle: Duration) -> Result<Survey> {
        let folders: Vec<PathBuf> = folders
            .iter()
            .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
            .collect();
        let (files, errors) = discover(&folders);
        let mut s = Survey {
            before: self.with_catalogue(|c| c.list_videos())?,
            unchanged: 0,
            candidates: Vec::new(),
            changed: Vec::new(),
            restore: Vec::new(),
            gone: Vec::new(),
            deferred: Vec::new(),
            // A folder that cannot be read (unplugged, permissions) is reported; its videos
            // are gone below.
            failed: errors
                .into_iter()
                .map(|e| ImportFailure {
                    path: e.path,
                    reason: e.source.to_string(),
                })
                .collect(),
        };
        let by_path: HashMap<&str, &vclip_index::Video> =
            s.before.iter().map(|v| (v.path.as_str(), v)).collect();
        let now = SystemTime::now();
        let mut found: HashSet<&str> = HashSet::new();
        for path in &files {
            let fail = |reason: String| ImportFailure {
                path: path.clone(),
                reason,
            };
            let Some(text) = path.to_str() else {
                s.failed.push(fail(
                    "the path is not valid UTF-8, which the catalogue cannot store".into(),
                ));
                continue;
            };
            let meta = match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) => {
                    s.failed.push(fail(e.to_string()));
                    continue;
                }
            };
            let known = by_path.get(text).copied();
            if let Some(v) = known {
                found.insert(text);
                if v.size == meta.len() && v.mtime == mtime_of(&meta) {
                    if v.missing_since.is_some() {
                        s.restore.push((v.id, path.clone()));
                    }
                    match v.status {
                        // Unfinished: the import resumes it.
                        Status::Queued | Status::Importing => s.candidates.push(path.clone()),
                        // A failed file is retried by the user (`Retry`), not every round.
                        Status::Ready | Status::Failed => s.unchanged += 1,
                    }
                    continue;
                }
            }
            let settling = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_none_or(|age| age < settle);
            if settling {
                s.deferred.push(path.clone());
                continue;
            }
            if let Some(v) = known {
                s.changed.push((v.id, path.clone()));
            }
            s.candidates.push(path.clone());
        }
        s.gone = s
            .before
            .iter()
            .filter(|v| {
                v.missing_since.is_none()
                    && !found.contains(v.path.as_str())
                    && folders.iter().any(|f| under(&v.path, f))
                    && !Path::new(&v.path).exists()
            })
            .map(|v| (v.id, PathBuf::from(&v.path)))
            .collect();
        Ok(s)
    }

    /// Brings the catalogue in line with `folders` (see the module docs).
    pub fn rescan(
        &self,
        folders: &[PathBuf],
        opts: &WatchOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<RescanReport> {
        let s = self.survey(folders, opts.settle)?;
        let mut report = RescanReport {
            unchanged: s.unchanged,
            deferred: s.deferred.clone(),
            failed: s.failed.clone(),
            ..RescanReport::default()
        };
        for (id, path) in &s.restore {
            self.with_catalogue(|c| c.set_missing(*id, None))?;
            report.restored.push(path.clone());
        }
        for (id, path) in &s.gone {
            self.with_catalogue(|c| c.set_missing(*id, Some(unix_now())))?;
            report.missing.push(path.clone());
        }
        let candidates = &s.candidates;
        if candidates.is_empty() || cancel.is_cancelled() {
            report.cancelled = cancel.is_cancelled();
            return Ok(report);
        }
        let imported = self.import(candidates, opts.import, sink, cancel)?;
        report.decoded_s = imported.video_s;
        report.cancelled = imported.cancelled;
        report.failed.extend(imported.failed);
        let after = self.with_catalogue(|c| c.list_videos())?;
        let was: HashMap<i64, &vclip_index::Video> = s.before.iter().map(|v| (v.id, v)).collect();
        let decoded: HashSet<&PathBuf> = imported.imported.iter().collect();
        for (old_id, path) in &s.changed {
            let replaced = after
                .iter()
                .any(|v| v.id != *old_id && Path::new(&v.path) == path.as_path());
            if replaced {
                self.remove(&old_id.to_string())?;
                report.reimported.push(path.clone());
            }
        }
        for v in &after {
            let path = PathBuf::from(&v.path);
            if !candidates.contains(&path) || report.reimported.contains(&path) {
                continue;
            }
            match was.get(&v.id) {
                Some(old) if old.path != v.path => {
                    // Its old path was marked missing above: it is not missing, it moved.
                    report
                        .missing
                        .retain(|m| m.as_path() != Path::new(&old.path));
                    report.relinked.push(Relinked {
                        from: PathBuf::from(&old.path),
                        to: path,
                    });
                }
                _ if decoded.contains(&path) => report.imported.push(path),
                _ => {}
            }
        }
        Ok(report)
    }

    /// What a rescan of `folders` would find, without changing anything: `(needed, settling)`,
    /// whether it would import, relink, restore or mark something missing, and whether some
    /// file is still being written (a rescan after `settle` will take it). The window asks this
    /// before it queues a rescan, so an unchanged library is not rescanned for nothing.
    pub fn rescan_needed(&self, folders: &[PathBuf], settle: Duration) -> Result<(bool, bool)> {
        let s = self.survey(folders, settle)?;
        Ok((s.needed(), !s.deferred.is_empty()))
    }

    /// Rescans `folders` now and after every change under them until `cancel` (see the module
    /// docs); `on_rescan` hears each rescan's report. A folder that cannot be watched (gone,
    /// no permission) is polled until it can.
    pub fn watch(
        &self,
        folders: &[PathBuf],
        opts: &WatchOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
        on_rescan: &mut dyn FnMut(&RescanReport),
    ) -> Result<()> {
        use notify::Watcher as _;
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Access events (reads, closes without writing) change nothing.
                let relevant = event.is_ok_and(|e| !e.kind.is_access());
                if relevant {
                    let _ = tx.send(());
                }
            })
            .map_err(|e| EngineError::Invalid(format!("cannot watch folders: {e}")))?;
        let mut watched: HashSet<PathBuf> = HashSet::new();
        loop {
            for f in folders {
                if !watched.contains(f)
                    && watcher.watch(f, notify::RecursiveMode::Recursive).is_ok()
                {
                    watched.insert(f.clone());
                }
            }
            let report = self.rescan(folders, opts, sink, cancel)?;
            on_rescan(&report);
            // A folder that went away stops being watched; it is watched again once back.
            watched.retain(|f| f.is_dir());
            if cancel.is_cancelled() {
                return Ok(());
            }
            let wait = if report.deferred.is_empty() {
                opts.poll
            } else {
                opts.settle.min(opts.poll)
            };
            if !wait_for_change(&rx, wait, opts.debounce, cancel) {
                return Ok(());
            }
        }
    }
}

/// Waits until an event arrives and the events then stay quiet for `debounce`, or `timeout`
/// passes; `false` when cancelled meanwhile.
fn wait_for_change(
    rx: &mpsc::Receiver<()>,
    timeout: Duration,
    debounce: Duration,
    cancel: &CancelToken,
) -> bool {
    let tick = Duration::from_millis(100);
    let start = std::time::Instant::now();
    let mut last_event: Option<std::time::Instant> = None;
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        match rx.recv_timeout(tick) {
            Ok(()) => last_event = Some(std::time::Instant::now()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The watcher is gone: poll.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(tick),
        }
        match last_event {
            Some(t) if t.elapsed() >= debounce => return true,
            Some(_) => {}
            None if start.elapsed() >= timeout => return true,
            None => {}
        }
    }
}

/// The library's list of watched folders, in its root folder.
const WATCHED_FILE: &str = "watched.json";

impl Engine {
    /// The folders this library watches (`vclip watch`, the window's settings), as added.
    pub fn watched_folders(&self) -> Result<Vec<PathBuf>> {
        let path = self.library().root().join(WATCHED_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| EngineError::Registry {
                path,
                reason: format!("not a list of folders: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(EngineError::Registry {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Replaces the watched folders (absolute, without duplicates), written atomically.
    pub fn set_watched_folders(&self, folders: &[PathBuf]) -> Result<Vec<PathBuf>> {
        let mut list: Vec<PathBuf> = Vec::new();
        for f in folders {
            let f = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            if !f.is_absolute() {
                return Err(EngineError::Invalid(format!(
                    "{}: not an absolute path",
                    f.display()
                )));
            }
            if !list.contains(&f) {
                list.push(f);
            }
        }
        let path = self.library().root().join(WATCHED_FILE);
        let text =
            serde_json::to_vec_pretty(&list).map_err(|e| EngineError::Invalid(e.to_string()))?;
        vclip_index::atomic::write_atomically(&path, |w| std::io::Write::write_all(w, &text))?;
        Ok(list)
    }
}
