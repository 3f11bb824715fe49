//! The import job: files and folders in, searchable videos out.
//!
//! For each video file found under the given paths (see [`crate::discover`]):
//! content hash → skip if already imported with the active model → decode on a CPU thread
//! while S3D-G encodes on the model's device ([`crate::encode`]) → feature cache (f16) →
//! window vectors and per-second token states from the video tower → thumbnail at a
//! representative second → subtitle cues, file name, folder names and title into the text
//! index → one catalogue transaction marks it `ready` with its windows → vectors into HNSW.
//! See [`crate::store`] for why a kill at any point leaves a consistent library.
//!
//! A video that is already `ready` with features for the active model's backbone but windows of
//! another model version is re-embedded from its cached features without decoding.
//!
//! Videos left `queued` or `importing` by an interrupted import are resumed by the next import,
//! whatever paths it is given. A file that fails is recorded as `failed` with its reason and the
//! job carries on; importing it again retries it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::Serialize;
use vclip_index::{
    read_features, write_features, Cue, CueOrigin, FinishedImport, NewVideo, Status, TextDoc,
    TextKind, Video,
};

use crate::discover::{content_hash, discover};
use crate::encode::library_windows;
use crate::encode::{encode_features_of, representative_second, EncodeError, EncodeOptions};
use crate::progress::{CancelToken, ProgressEvent, ProgressSink, Tracker};
use crate::store::{Engine, EngineError, Result};

/// Save the HNSW index at least this often during a long import.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Longest side of a thumbnail, pixels.
pub(crate) const THUMBNAIL_SIDE: u32 = 480;

/// Settings of an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub encode: EncodeOptions,
}

/// A file the import could not take, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Videos decoded and indexed.
    pub imported: Vec<PathBuf>,
    /// Videos re-embedded from cached features (a model change), without decoding.
    pub reembedded: Vec<PathBuf>,
    /// Videos already in the library with the active model.
    pub skipped: Vec<PathBuf>,
    /// Files that could not be imported.
    pub failed: Vec<ImportFailure>,
    /// Video-seconds decoded and encoded.
    pub video_s: f64,
    /// Wall-clock seconds of the whole job.
    pub wall_s: f64,
    pub cancelled: bool,
}

/// A file to import, after hashing.
struct Planned {
    path: PathBuf,
    video: Video,
    /// Expected seconds (for progress), from the container.
    duration_s: f64,
    /// Features for this backbone exist and the video was ready: re-embed only.
    reembed: bool,
}

impl Engine {
    /// Imports `paths` (files or folders, recursively) plus any video an interrupted import
    /// left unfinished. Per-file problems are collected in the report; an `Err` means the
    /// library itself could not be written (e.g. read-only or full disk).
    ///
    /// The library then remembers the model it imported with ([`Engine::remember_model`]), so
    /// every later command opens it with that model unless told otherwise.
    pub fn import(
        &self,
        paths: &[PathBuf],
        opts: ImportOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<ImportReport> {
        let report = self.import_files(paths, opts, sink, cancel);
        // The job's peak (tensors, decoded frames) goes back to the system, whatever the outcome.
        vclip_model::memory::release_freed_memory();
        let report = report?;
        let used = !(report.imported.is_empty()
            && report.reembedded.is_empty()
            && report.skipped.is_empty());
        if used {
            self.remember_model(sink)?;
        }
        Ok(report)
    }

    /// [`Engine::import`] without touching the library's model versions (a version switch
    /// importing what the new family lacks activates only once everything is embedded).
    pub(crate) fn import_files(
        &self,
        paths: &[PathBuf],
        opts: ImportOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<ImportReport> {
        let started = Instant::now();
        self.active()?;
        let mut report = ImportReport::default();
        let (mut files, errors) = discover(paths);
        for e in errors {
            report.failed.push(ImportFailure {
                path: e.path.clone(),
                reason: e.source.to_string(),
            });
        }
        // Resume what an earlier run left behind.
        let mut unfinished: Vec<Video> = Vec::new();
        for status in [Status::Queued, Status::Importing] {
            for v in self.videos_with_status(status)? {
                files.push(PathBuf::from(&v.path));
                unfinished.push(v);
            }
        }
        files.sort();
        files.dedup();

        let mut tracker = Tracker::new("import", "s", None);
        tracker.start(sink);
        let plan = self.plan(&files, &mut report, sink, cancel)?;
        if !cancel.is_cancelled() {
            // An unfinished video whose file is gone, unreadable or changed (another hash) is
            // not in the plan: say so instead of leaving it `importing` for ever.
            for v in unfinished {
                if !plan.iter().any(|p| p.video.id == v.id) {
                    let reason = "the file is missing, unreadable or changed since the import \
                                  started; import it again";
                    self.library()
                        .catalogue()
                        .set_status(v.id, Status::Failed, Some(reason))?;
                }
            }
        }
        let total: f64 = plan.iter().map(|p| p.duration_s).sum();
        tracker.set_total(Some(total.ceil() as u64));
        tracker.set_items(0, Some(plan.len() as u64));
        // The plan is known: show totals before the first file's first batch.
        sink.emit(ProgressEvent::Progress(tracker.snapshot()));

        for (i, item) in plan.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            tracker.set_current(
                item.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
            );
            let before = tracker.snapshot().done;
            let outcome = if item.reembed {
                self.reembed_one(&item.video).map(|_| false)
            } else {
                self.import_one(item, opts, &mut tracker, sink, cancel)
                    .map(|secs| {
                        report.video_s += secs;
                        true
                    })
            };
            match outcome {
                Ok(true) => report.imported.push(item.path.clone()),
                Ok(false) => report.reembedded.push(item.path.clone()),
                Err(ItemError::Cancelled) => {
                    // Left `importing`: the next import resumes it.
                    break;
                }
                Err(ItemError::Library(e)) => {
                    let _ = self.save_index();
                    return Err(*e);
                }
                Err(ItemError::File(reason)) => {
                    self.library().catalogue().set_status(
                        item.video.id,
                        Status::Failed,
                        Some(&reason),
                    )?;
                    sink.emit(ProgressEvent::Warning {
                        item: item.path.display().to_string(),
                        message: reason.clone(),
                    });
                    report.failed.push(ImportFailure {
                        path: item.path.clone(),
                        reason,
                    });
                }
            }
            // Count the file's expected seconds even if it decoded shorter or failed.
            let after = tracker.snapshot().done;
            let expected = before + item.duration_s.ceil() as u64;
            if after < expected {
                tracker.advance(expected - after, sink);
            }
            tracker.set_items(i as u64 + 1, Some(plan.len() as u64));
            self.maybe_save()?;
        }
        self.save_index()?;
        self.save_sentence_index()?;
        report.cancelled = cancel.is_cancelled();
        report.wall_s = started.elapsed().as_secs_f64();
        if report.cancelled {
            tracker.cancelled(sink);
        } else {
            tracker.finish(sink);
        }
        Ok(report)
    }

    /// Hashes the files and decides what to do with each.
    fn plan(
        &self,
        files: &[PathBuf],
        report: &mut ImportReport,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<Vec<Planned>> {
        let active = self.active()?;
        let mut plan: Vec<Planned> = Vec::new();
        for path in files {
            if cancel.is_cancelled() {
                break;
            }
            let fail = |report: &mut ImportReport, reason: String| {
                sink.emit(ProgressEvent::Warning {
                    item: path.display().to_string(),
                    message: reason.clone(),
                });
                report.failed.push(ImportFailure {
                    path: path.clone(),
                    reason,
                });
            };
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let new = match describe(&path) {
                Ok(n) => n,
                Err(reason) => {
                    fail(report, reason);
                    continue;
                }
            };
            let info = match vclip_media::probe(&path) {
                Ok(info) if info.video.as_ref().is_some_and(|v| !v.still_image) => info,
                Ok(_) => {
                    fail(report, "not a video: it has no video stream".into());
                    continue;
                }
                Err(e) => {
                    // The report names the file; the reason is what went wrong with it.
                    fail(report, e.kind.to_string());
                    continue;
                }
            };
            let new = NewVideo {
                title: info.title.clone().filter(|t| !t.trim().is_empty()),
                ..new
            };
            let video = self.library().catalogue().upsert_video(&new)?;
            if plan.iter().any(|p| p.video.id == video.id) {
                // The same content twice in this job (a copy under another name).
                report.skipped.push(path.clone());
                continue;
            }
            let has_windows = !self
                .library()
                .catalogue()
                .windows_of(video.id, &active.key)?
                .is_empty();
            if video.status == Status::Ready && has_windows {
                report.skipped.push(path.clone());
                continue;
            }
            let features = self
                .library()
                .features_path(active.version.family(), &video.hash)?;
            let reembed = video.status == Status::Ready && features.exists();
            plan.push(Planned {
                path,
                duration_s: info.duration_s.unwrap_or(0.0).max(0.0),
                video,
                reembed,
            });
        }
        Ok(plan)
    }

    /// Decodes, encodes and indexes one video. Returns the video-seconds encoded.
    fn import_one(
        &self,
        item: &Planned,
        opts: ImportOptions,
        tracker: &mut Tracker,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<f64, ItemError> {
        let active = self.active()?;
        let v = &item.video;
        self.library()
            .catalogue()
            .set_status(v.id, Status::Importing, None)?;
        let pass = encode_features_of(
            &item.path,
            &active.model,
            opts.encode,
            &mut |n| tracker.advance(n, sink),
            cancel,
        )
        .map_err(|e| match e {
            EncodeError::Cancelled => ItemError::Cancelled,
            EncodeError::Media(m) => ItemError::File(m.kind.to_string()),
            EncodeError::Model { source, .. } => ItemError::File(source.to_string()),
        })?;
        for w in &pass.decode.warnings {
            sink.emit(ProgressEvent::Warning {
                item: item.path.display().to_string(),
                message: w.clone(),
            });
        }
        if pass.features.is_empty() {
            return Err(ItemError::File("no frames could be decoded".into()));
        }
        let seconds = pass.features.len();
        let dim = pass.features[0].len();
        let flat: Vec<f32> = pass.features.iter().flatten().copied().collect();
        let features_path = self
            .library()
            .features_path(active.version.family(), &v.hash)?;
        write_features(&features_path, seconds, dim, &flat)?;
        crate::fingerprint::store(&self.library(), &v.hash, &pass.fingerprints)?;

        let thumbnail = representative_second(&pass).and_then(|s| {
            let at = (s as f64 + 0.5).min(pass.decode.decoded_s.max(0.0));
            let jpeg = vclip_media::thumbnail_jpeg(&item.path, at, THUMBNAIL_SIDE).ok()?;
            let path = self.library().thumbnail_path(&v.hash).ok()?;
            vclip_index::atomic::write_atomically(&path, |f| std::io::Write::write_all(f, &jpeg))
                .ok()?;
            Some(path)
        });

        let cues = read_cues(&item.path, sink);
        let duration_s = pass.decode.decoded_s.max(seconds as f64 - 1.0);
        let mut docs: Vec<TextDoc> = name_docs(&item.path, v.title.as_deref(), duration_s);
        docs.extend(cues.iter().map(cue_doc));
        self.text_write().replace_video(v.id, &docs)?;

        let lib_rel = |p: &Path| self.library().relative(p);
        let features_rel = lib_rel(&features_path);
        let thumb_rel = thumbnail.as_deref().and_then(lib_rel);
        let facts = Facts {
            duration_s,
            features_path: features_rel.as_deref(),
            thumbnail_path: thumb_rel.as_deref(),
            cues: Some(&cues),
        };
        self.embed_and_commit(v, &flat, dim, &facts)?;
        self.index_cues(v, sink);
        Ok(seconds as f64)
    }

    /// Re-embeds a ready video from its cached features with the active model.
    pub(crate) fn reembed_one(&self, v: &Video) -> Result<(), ItemError> {
        let active = self.active()?;
        let path = self
            .library()
            .features_path(active.version.family(), &v.hash)?;
        let f = read_features(&path)?;
        let duration_s = v.duration_s.unwrap_or(f.rows as f64);
        let features_rel = self.library().relative(&path);
        let facts = Facts {
            duration_s,
            features_path: features_rel.as_deref(),
            thumbnail_path: v.thumbnail_path.as_deref(),
            cues: None,
        };
        self.embed_and_commit(v, &f.data, f.cols, &facts)
    }

    /// Video tower over the windows of `features` (`rows × dim`): writes the window vectors and
    /// token states, commits the catalogue, then adds the vectors to the HNSW index.
    fn embed_and_commit(
        &self,
        v: &Video,
        features: &[f32],
        dim: usize,
        facts: &Facts<'_>,
    ) -> Result<(), ItemError> {
        let active = self.active()?;
        let model = &active.model;
        let rows = features.len() / dim.max(1);
        let model_err = |e| ItemError::from(model_error(v, e));
        let t = vclip_model::Tensor::from_vec(features.to_vec(), (rows, dim), model.device())
            .map_err(|e| model_err(e.into()))?;
        let states = library_windows(model, &t).map_err(model_err)?;
        let flat: Vec<f32> = states.pooled.iter().flatten().copied().collect();
        let vectors_path = self
            .library()
            .window_vectors_path(&active.version, &v.hash)?;
        write_features(&vectors_path, states.pooled.len(), states.dim, &flat)?;
        let tokens_path = self.library().tokens_path(&active.version, &v.hash)?;
        write_features(&tokens_path, rows, states.dim, &states.tokens)?;
        let spans: Vec<(f64, f64)> = states
            .spans
            .iter()
            .map(|&(a, b)| (a as f64, b as f64))
            .collect();
        let done = FinishedImport {
            duration_s: facts.duration_s,
            features_path: facts.features_path,
            thumbnail_path: facts.thumbnail_path,
            model_version: &active.key,
            spans: &spans,
            cues: facts.cues,
        };
        let (windows, old) = self.library().catalogue_mut().finish_import(v.id, &done)?;
        let mut ix = active.vectors.write().unwrap_or_else(|e| e.into_inner());
        for key in old {
            ix.remove(key as u64).map_err(EngineError::from)?;
        }
        for (w, vec) in windows.iter().zip(&states.pooled) {
            ix.add(w.id as u64, vec).map_err(EngineError::from)?;
        }
        drop(ix);
        active.unsaved.lock().unwrap_or_else(|e| e.into_inner()).0 += windows.len();
        Ok(())
    }

    /// Saves the HNSW index when enough time has passed since the last save.
    fn maybe_save(&self) -> Result<()> {
        let active = self.active()?;
        let (n, since) = *active.unsaved.lock().unwrap_or_else(|e| e.into_inner());
        if n > 0 && since.elapsed() >= SAVE_EVERY {
            self.save_index()?;
            self.save_sentence_index()?;
        }
        Ok(())
    }
}

/// What [`Engine::reindex`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReindexReport {
    /// Videos re-embedded from their cached features.
    pub reembedded: usize,
    /// Videos without cached features for the active model's backbone: `vclip import` them
    /// again (that decodes them).
    pub need_import: Vec<String>,
    /// Videos decoded by [`Engine::ensure_embedded`] because their features for the active
    /// model's family did not exist (0 for [`Engine::reindex`], which never decodes).
    pub decoded: usize,
    /// Videos whose cached features could not be read, with the reason.
    pub failed: Vec<ImportFailure>,
    /// Windows in the rebuilt vector index.
    pub windows: usize,
    /// Documents re-added to the text index.
    pub text_docs: usize,
    pub cancelled: bool,
}

impl Engine {
    /// Rebuilds the derived indexes from the catalogue and the feature cache, without decoding
    /// any video: window vectors and token states with the active model, the HNSW index, and
    /// the text index. Use after a model change or if an index file was lost.
    pub fn reindex(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<ReindexReport> {
        let active = self.active()?;
        let mut report = ReindexReport::default();
        let videos = self.videos_with_status(Status::Ready)?;
        let mut tracker = Tracker::new("reindex", "videos", Some(videos.len() as u64));
        tracker.start(sink);
        for v in &videos {
            if cancel.is_cancelled() {
                break;
            }
            tracker.set_current(
                Path::new(&v.path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
            );
            let features = self
                .library()
                .features_path(active.version.family(), &v.hash)?;
            if !features.exists() {
                report.need_import.push(v.path.clone());
            } else {
                match self.reembed_one(v) {
                    Ok(()) => report.reembedded += 1,
                    Err(ItemError::Library(e))
                        if matches!(*e, EngineError::Index(vclip_index::Error::Corrupt { .. })) =>
                    {
                        report.failed.push(ImportFailure {
                            path: PathBuf::from(&v.path),
                            reason: format!("cached features are damaged: {e}"),
                        })
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            tracker.advance(1, sink);
        }
        // The HNSW index from scratch, from the vector files.
        let expected = self.expected_windows(&active.key)?;
        let mut rec = crate::Reconciled::default();
        let fresh = crate::keyed::build(
            active.model.embedding_dim(),
            &expected,
            &self.window_files(&active.version),
            &mut rec,
        )?;
        report.windows = fresh.len();
        *active.vectors.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.save_index()?;
        // The text index from the catalogue.
        let all = self.library().catalogue().list_videos()?;
        let mut text = self.text_write();
        text.delete_all()?;
        for v in all.iter().filter(|v| v.status == Status::Ready) {
            let docs = text_docs(self, v)?;
            report.text_docs += docs.len();
            text.replace_video(v.id, &docs)?;
        }
        drop(text);
        report.cancelled = cancel.is_cancelled();
        if report.cancelled {
            tracker.cancelled(sink);
        } else {
            tracker.finish(sink);
        }
        Ok(report)
    }
}

/// What the catalogue records beside the windows when a video is (re-)embedded.
struct Facts<'a> {
    duration_s: f64,
    features_path: Option<&'a str>,
    thumbnail_path: Option<&'a str>,
    /// `None` keeps the stored cues.
    cues: Option<&'a [Cue]>,
}

/// Why one item of a job stopped.
#[derive(Debug)]
pub(crate) enum ItemError {
    /// This file is the problem: record it and go on.
    File(String),
    /// The library could not be written: stop the job.
    Library(Box<EngineError>),
    Cancelled,
}

impl From<EngineError> for ItemError {
    fn from(e: EngineError) -> Self {
        ItemError::Library(Box::new(e))
    }
}

impl From<vclip_index::Error> for ItemError {
    fn from(e: vclip_index::Error) -> Self {
        ItemError::Library(Box::new(e.into()))
    }
}

impl From<ItemError> for EngineError {
    fn from(e: ItemError) -> Self {
        match e {
            ItemError::File(reason) => EngineError::Invalid(reason),
            ItemError::Library(e) => *e,
            ItemError::Cancelled => EngineError::Cancelled,
        }
    }
}

fn model_error(v: &Video, source: vclip_model::Error) -> EngineError {
    EngineError::Model {
        context: v.path.clone(),
        source,
    }
}

/// Hash, size, mtime and folder of a file.
fn describe(path: &Path) -> std::result::Result<NewVideo, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let hash = content_hash(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let Some(path_str) = path.to_str() else {
        return Err("the path is not valid UTF-8, which the catalogue cannot store".into());
    };
    Ok(NewVideo {
        hash,
        path: path_str.to_owned(),
        folder: path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        title: None,
        size: meta.len(),
        mtime,
    })
}

/// Every subtitle cue of the file (embedded tracks and sidecars), in time order, without exact
/// duplicates (the same track embedded and beside the file).
fn read_cues(path: &Path, sink: &dyn ProgressSink) -> Vec<Cue> {
    let (tracks, errors) = match vclip_media::subtitles::read_all(path) {
        Ok(r) => r,
        Err(e) => {
            sink.emit(ProgressEvent::Warning {
                item: path.display().to_string(),
                message: format!("subtitles: {e}"),
            });
            return Vec::new();
        }
    };
    for e in errors {
        sink.emit(ProgressEvent::Warning {
            item: path.display().to_string(),
            message: format!("subtitles: {e}"),
        });
    }
    let mut cues: Vec<Cue> = tracks
        .into_iter()
        .flat_map(|t| t.cues)
        .filter(|c| !c.text.trim().is_empty())
        .map(|c| Cue {
            start_s: c.start_s,
            end_s: c.end_s,
            text: c.text,
            origin: CueOrigin::Subtitle,
        })
        .collect();
    cues.sort_by(|a, b| {
        a.start_s
            .total_cmp(&b.start_s)
            .then(a.end_s.total_cmp(&b.end_s))
            .then(a.text.cmp(&b.text))
    });
    cues.dedup();
    cues
}

/// Text documents for the file name, its two nearest folder names and the container title,
/// spanning the whole video. Separators in names become spaces so `egg_fried-rice.mp4` matches
/// "fried rice".
/// A cue as a text document: a subtitle, or text read off the screen.
pub(crate) fn cue_doc(c: &Cue) -> TextDoc {
    TextDoc {
        start_s: c.start_s,
        end_s: c.end_s,
        kind: match c.origin {
            CueOrigin::Subtitle => TextKind::Subtitle,
            CueOrigin::Screen => TextKind::Screen,
        },
        text: c.text.clone(),
    }
}

/// The text documents of a ready video: its names and every cue the catalogue has.
pub(crate) fn text_docs(engine: &Engine, v: &Video) -> Result<Vec<TextDoc>> {
    let cues = engine.library().catalogue().cues_of(v.id)?;
    let mut docs = name_docs(
        Path::new(&v.path),
        v.title.as_deref(),
        v.duration_s.unwrap_or(0.0),
    );
    docs.extend(cues.iter().map(cue_doc));
    Ok(docs)
}

fn name_docs(path: &Path, title: Option<&str>, duration_s: f64) -> Vec<TextDoc> {
    let words = |s: &str| {
        s.chars()
            .map(|c| if "_-.+".contains(c) { ' ' } else { c })
            .collect::<String>()
    };
    let doc = |kind, text: String| TextDoc {
        start_s: 0.0,
        end_s: duration_s,
        kind,
        text,
    };
    let mut docs = Vec::new();
    if let Some(stem) = path.file_stem() {
        docs.push(doc(TextKind::Name, words(&stem.to_string_lossy())));
    }
    let folders = path.parent().into_iter().flat_map(Path::ancestors).take(2);
    for f in folders {
        if let Some(name) = f.file_name() {
            docs.push(doc(TextKind::Folder, words(&name.to_string_lossy())));
        }
    }
    if let Some(t) = title {
        docs.push(doc(TextKind::Title, t.to_owned()));
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_words() {
        let docs = name_docs(
            Path::new("/home/a/Trips/2024_Rome/egg_fried-rice.mp4"),
            None,
            9.0,
        );
        let texts: Vec<_> = docs.iter().map(|d| (d.kind, d.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (TextKind::Name, "egg fried rice"),
                (TextKind::Folder, "2024 Rome"),
                (TextKind::Folder, "Trips"),
            ]
        );
        assert!(docs.iter().all(|d| d.end_s == 9.0));
    }
}
