//! Semantic search over subtitle lines: every cue embedded with a sentence encoder
//! (all-MiniLM-L6-v2), the query too, nearest cues by cosine similarity. A third signal beside
//! the visual and the BM25 ones: it finds "how to beat eggs" in a cue saying "whisk them until
//! fluffy", which shares no word with the query.
//!
//! The engine does not care which encoder it is: anything implementing [`SentenceEmbedder`].
//! Vectors are stored like window vectors ([`crate::keyed`]): one `.f16` file per video (rows =
//! its cues in catalogue order) under `families/sentences/models/<encoder id>/`, and an HNSW
//! index keyed by `cues.id` that is reconciled with the catalogue on open.

use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

use vclip_index::{write_features, ModelVersion, VectorIndex};

use crate::keyed::{self, Keyed, RowFiles};
use crate::store::{Engine, EngineError, Reconciled, Result};

/// Cues embedded per call.
const BATCH: usize = 64;

/// A sentence encoder: unit-length vectors, so inner product = cosine similarity.
pub trait SentenceEmbedder: Send + Sync + std::fmt::Debug {
    /// A stable identity of the weights, usable as a folder name (`[a-z0-9._-]`, ≤ 64).
    fn id(&self) -> &str;
    /// Vector size.
    fn dim(&self) -> usize;
    /// One unit vector per text.
    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, String>;
}

impl SentenceEmbedder for vclip_model::SentenceEncoder {
    fn id(&self) -> &str {
        vclip_model::SentenceEncoder::id(self)
    }

    fn dim(&self) -> usize {
        vclip_model::SentenceEncoder::dim(self)
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, String> {
        vclip_model::SentenceEncoder::embed(self, texts)
            .and_then(|t| Ok(t.to_vec2::<f32>()?))
            .map_err(|e| e.to_string())
    }
}

/// The active sentence encoder and its cue index.
#[derive(Debug)]
pub(crate) struct Sentences {
    pub embedder: Box<dyn SentenceEmbedder>,
    pub version: ModelVersion,
    pub index_path: PathBuf,
    pub vectors: RwLock<VectorIndex>,
    pub unsaved: Mutex<usize>,
}

/// The cue vector files of one encoder ([`keyed::RowFiles`]).
struct CueFiles<'a> {
    engine: &'a Engine,
    version: &'a ModelVersion,
}

impl RowFiles for CueFiles<'_> {
    fn keys_of(&self, video_id: i64) -> Result<Vec<i64>> {
        let rows = self.engine.library().catalogue().cue_rows(video_id)?;
        Ok(rows.into_iter().map(|(id, _)| id).collect())
    }

    fn path_of(&self, hash: &str) -> Result<PathBuf> {
        Ok(self.engine.library().cue_vectors_path(self.version, hash)?)
    }
}

fn embed_err(e: String) -> EngineError {
    EngineError::Invalid(format!("sentence encoder: {e}"))
}

impl Engine {
    /// Turns on semantic subtitle search with `embedder`. Cues of videos imported before (or
    /// with another encoder) are embedded now, once; the index is reconciled with the catalogue.
    pub fn enable_sentences(&mut self, embedder: Box<dyn SentenceEmbedder>) -> Result<Reconciled> {
        let version = ModelVersion::new("sentences", embedder.id())?;
        let index_path = self.library().cue_index_path(&version)?;
        let keys = self.library().catalogue().ready_cue_keys()?;
        let expected: Vec<Keyed> = keys
            .into_iter()
            .map(|(key, video_id, hash)| Keyed {
                key,
                video_id,
                hash,
            })
            .collect();
        // Embed the videos that have no vector file for this encoder yet.
        let mut missing: Vec<i64> = Vec::new();
        for k in &expected {
            let path = self.library().cue_vectors_path(&version, &k.hash)?;
            if !path.exists() && !missing.contains(&k.video_id) {
                missing.push(k.video_id);
            }
        }
        for video_id in missing {
            let hash = self.library().catalogue().video(video_id)?.map(|v| v.hash);
            if let Some(hash) = hash {
                write_cue_vectors(self, embedder.as_ref(), &version, video_id, &hash)?;
            }
        }
        let mut report = Reconciled::default();
        let files = CueFiles {
            engine: self,
            version: &version,
        };
        let vectors =
            keyed::reconcile(&index_path, embedder.dim(), &expected, &files, &mut report)?;
        self.sentences = Some(Sentences {
            embedder,
            version,
            index_path,
            vectors: RwLock::new(vectors),
            unsaved: Mutex::new(0),
        });
        if report.added > 0 || report.rebuilt {
            self.save_sentence_index()?;
        }
        Ok(report)
    }

    /// Embeds a freshly committed video's cues and adds them to the cue index. Problems are
    /// warnings: the video stays searchable by its other signals.
    #[cfg(feature = "media")]
    pub(crate) fn index_cues(
        &self,
        video: &vclip_index::Video,
        sink: &dyn crate::progress::ProgressSink,
    ) {
        let Some(s) = &self.sentences else {
            return;
        };
        let result = (|| -> Result<usize> {
            let keys =
                write_cue_vectors(self, s.embedder.as_ref(), &s.version, video.id, &video.hash)?;
            let files = CueFiles {
                engine: self,
                version: &s.version,
            };
            let items: Vec<Keyed> = keys
                .into_iter()
                .map(|key| Keyed {
                    key,
                    video_id: video.id,
                    hash: video.hash.clone(),
                })
                .collect();
            let mut ix = s.vectors.write().unwrap_or_else(|e| e.into_inner());
            let mut report = Reconciled::default();
            keyed::fill(&mut ix, &items, &files, &mut report)
        })();
        match result {
            Ok(n) => *s.unsaved.lock().unwrap_or_else(|e| e.into_inner()) += n,
            Err(e) => sink.emit(crate::progress::ProgressEvent::Warning {
                item: video.path.clone(),
                message: format!("subtitle meaning search: {e}"),
            }),
        }
    }

    /// Drops cue keys from the cue index (before their rows are deleted).
    pub(crate) fn unindex_cues(&self, keys: &[i64]) -> Result<()> {
        if let Some(s) = &self.sentences {
            let mut ix = s.vectors.write().unwrap_or_else(|e| e.into_inner());
            for k in keys {
                ix.remove(*k as u64)?;
            }
            *s.unsaved.lock().unwrap_or_else(|e| e.into_inner()) += keys.len();
        }
        Ok(())
    }

    /// Saves the cue index atomically (no-op without an encoder or unsaved changes).
    pub fn save_sentence_index(&self) -> Result<()> {
        if let Some(s) = &self.sentences {
            let mut ix = s.vectors.write().unwrap_or_else(|e| e.into_inner());
            ix.save(&s.index_path)?;
            *s.unsaved.lock().unwrap_or_else(|e| e.into_inner()) = 0;
        }
        Ok(())
    }

    /// The `k` cues nearest to `query` in meaning: `(cue key, similarity)`, best first.
    pub(crate) fn semantic_hits(&self, query: &str, k: usize) -> Result<Vec<(i64, f32)>> {
        let Some(s) = &self.sentences else {
            return Ok(Vec::new());
        };
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let q = s.embedder.embed(&[query]).map_err(embed_err)?;
        let Some(q) = q.into_iter().next() else {
            return Ok(Vec::new());
        };
        let ix = s.vectors.read().unwrap_or_else(|e| e.into_inner());
        if ix.is_empty() {
            return Ok(Vec::new());
        }
        let hits = ix.search(&q, k)?;
        Ok(hits.into_iter().map(|h| (h.key as i64, h.score)).collect())
    }

    /// Whether semantic subtitle search is on.
    pub fn sentences_enabled(&self) -> bool {
        self.sentences.is_some()
    }
}

/// Embeds a video's cues (catalogue order) and writes its vector file; returns the cue keys in
/// row order.
fn write_cue_vectors(
    engine: &Engine,
    embedder: &dyn SentenceEmbedder,
    version: &ModelVersion,
    video_id: i64,
    hash: &str,
) -> Result<Vec<i64>> {
    let rows = engine.library().catalogue().cue_rows(video_id)?;
    let dim = embedder.dim();
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for chunk in rows.chunks(BATCH) {
        let texts: Vec<&str> = chunk.iter().map(|(_, c)| c.text.as_str()).collect();
        let vecs = embedder.embed(&texts).map_err(embed_err)?;
        if vecs.len() != texts.len() || vecs.iter().any(|v| v.len() != dim) {
            return Err(embed_err(format!(
                "{} vectors of size {dim} expected for {} texts",
                vecs.len(),
                texts.len()
            )));
        }
        flat.extend(vecs.into_iter().flatten());
    }
    let path = engine.library().cue_vectors_path(version, hash)?;
    write_features(&path, rows.len(), dim, &flat)?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}
